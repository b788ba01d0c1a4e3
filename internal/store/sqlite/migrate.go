package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations upgrade the schema one version at a time; PRAGMA user_version
// records how many were applied. schema.sql is version 1 as it shipped
// first (CREATE ... IF NOT EXISTS, so it is a no-op on an existing file);
// everything later is an entry here, never an edit of schema.sql, so a data
// directory written by an older coordinator opens and upgrades in place.
var migrations = []string{
	// 2: continuations — checkpoints, segments with how they ended, the
	// task's fuel grid, per-job churn counters.
	`
	ALTER TABLE jobs ADD COLUMN suspendable INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN checkpoints INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN lost_segments INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN fuel_lost INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN mismatches INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE tasks ADD COLUMN grid INTEGER;                       -- fuel grid, fixed when the first replica is leased
	ALTER TABLE replicas ADD COLUMN ckpt_seq INTEGER NOT NULL DEFAULT 0;  -- latest accepted checkpoint (0: none)
	ALTER TABLE replicas ADD COLUMN ckpt_fuel INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE replicas ADD COLUMN ckpt_hash TEXT;
	ALTER TABLE replicas ADD COLUMN ckpt_blob TEXT;
	ALTER TABLE replicas ADD COLUMN seg_resume_seq INTEGER NOT NULL DEFAULT 0; -- the current lease's segment:
	ALTER TABLE replicas ADD COLUMN seg_fuel_start INTEGER NOT NULL DEFAULT 0; --   where it started,
	ALTER TABLE replicas ADD COLUMN seg_fuel_end INTEGER NOT NULL DEFAULT 0;   --   its last accepted checkpoint,
	ALTER TABLE replicas ADD COLUMN seg_progress INTEGER NOT NULL DEFAULT 0;   --   the fuel it reported reaching,
	ALTER TABLE replicas ADD COLUMN seg_started_at INTEGER;                    --   when it was leased
	ALTER TABLE segments ADD COLUMN job_id INTEGER;
	ALTER TABLE segments ADD COLUMN resume_seq INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE segments ADD COLUMN fuel_reached INTEGER;
	ALTER TABLE segments ADD COLUMN started_at INTEGER;
	CREATE INDEX IF NOT EXISTS segments_replica_worker ON segments(replica_id, worker);
	CREATE TABLE IF NOT EXISTS checkpoints (
		replica_id    INTEGER NOT NULL REFERENCES replicas(id),
		task_id       INTEGER NOT NULL,
		seq           INTEGER NOT NULL,
		fuel          INTEGER NOT NULL,
		state_hash    TEXT NOT NULL,      -- hex; compared across the task's replicas
		snapshot_hash TEXT NOT NULL,      -- blob: the full encoded snapshot
		stdout_hash   TEXT NOT NULL,      -- blob: output since the previous checkpoint
		stderr_hash   TEXT NOT NULL,
		worker        TEXT NOT NULL,
		session_id    INTEGER,
		cost_ms       REAL NOT NULL,
		mismatch      INTEGER NOT NULL DEFAULT 0,
		created_at    INTEGER NOT NULL,
		PRIMARY KEY (replica_id, seq)
	);
	CREATE INDEX IF NOT EXISTS checkpoints_task ON checkpoints(task_id, seq);
	`,
	// 3: verification (docs/trust.md) — who computed what (accounts on
	// sessions, replicas, segments and checkpoints), replica roles and
	// verdicts, how each task was verified, accounts' records and the
	// credit ledger. Results are no longer settled by the store, so tasks
	// that the old rules left disputed (replicas disagreed, nothing
	// re-ran) are reopened: pending with their replicas' results kept,
	// for the verifier to settle at start-up (TaskListUnsettled).
	`
	ALTER TABLE sessions ADD COLUMN account TEXT;
	ALTER TABLE replicas ADD COLUMN account TEXT;                         -- the holder's account, like worker
	ALTER TABLE replicas ADD COLUMN role TEXT NOT NULL DEFAULT 'run';     -- run | audit
	ALTER TABLE replicas ADD COLUMN audit_of INTEGER;                     -- audit: the replica audited
	ALTER TABLE replicas ADD COLUMN audit_seq INTEGER NOT NULL DEFAULT 0; -- audit: the link; its checkpoints below it are copies
	ALTER TABLE replicas ADD COLUMN verdict TEXT NOT NULL DEFAULT '';
	ALTER TABLE segments ADD COLUMN account TEXT;
	ALTER TABLE checkpoints ADD COLUMN account TEXT;
	ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'owner';
	ALTER TABLE jobs ADD COLUMN max_error REAL NOT NULL DEFAULT 1;        -- old jobs accepted results unchecked
	ALTER TABLE jobs ADD COLUMN audits INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN disputes INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN lies_caught INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN replicas_run INTEGER NOT NULL DEFAULT 0;
	-- The last result sequence number given: a reopened task leaves
	-- tasks_finished, and its next result must not reuse a number.
	ALTER TABLE jobs ADD COLUMN results_numbered INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE tasks ADD COLUMN verification TEXT;                       -- none | audit | quorum | trusted
	ALTER TABLE tasks ADD COLUMN verified_by TEXT;                        -- JSON array of accounts
	ALTER TABLE tasks ADD COLUMN note TEXT;
	CREATE TABLE IF NOT EXISTS accounts (
		id            TEXT PRIMARY KEY,
		verified      INTEGER NOT NULL DEFAULT 0,
		audits_passed INTEGER NOT NULL DEFAULT 0,
		lies_caught   INTEGER NOT NULL DEFAULT 0,
		banned_at     INTEGER,
		created_at    INTEGER NOT NULL
	);
	CREATE TABLE IF NOT EXISTS ledger (
		seq        INTEGER PRIMARY KEY,   -- 1, 2, ... without gaps
		kind       TEXT NOT NULL,         -- grant | revoke | ban
		account    TEXT NOT NULL,
		job_id     INTEGER NOT NULL,
		task_id    INTEGER NOT NULL,
		replica_id INTEGER NOT NULL,
		link       INTEGER NOT NULL,
		fuel       INTEGER NOT NULL,
		ref        INTEGER NOT NULL,      -- revoke: the grant's seq
		day        INTEGER NOT NULL,      -- Unix day earned (a revoke: its grant's)
		at         INTEGER NOT NULL,
		reason     TEXT NOT NULL
	);
	CREATE INDEX IF NOT EXISTS ledger_account ON ledger(account, seq);
	CREATE UNIQUE INDEX IF NOT EXISTS ledger_revoked ON ledger(ref) WHERE kind = 'revoke';
	-- Dispatch (the queued query's NOT EXISTS) looks an account's
	-- checkpoints of a task up, TasksRestingOn all of an account's work.
	CREATE INDEX IF NOT EXISTS checkpoints_account ON checkpoints(account, task_id);
	CREATE INDEX IF NOT EXISTS segments_account ON segments(account, replica_id);
	CREATE INDEX IF NOT EXISTS tasks_pending ON tasks(job_id) WHERE state = 'pending';

	UPDATE sessions SET account = 'anon:' || worker;
	UPDATE replicas SET account = 'anon:' || worker WHERE worker IS NOT NULL;
	UPDATE segments SET account = 'anon:' || worker;
	UPDATE checkpoints SET account = 'anon:' || worker;
	UPDATE jobs SET results_numbered = coalesce((SELECT max(result_seq) FROM tasks WHERE job_id = jobs.id), 0);
	UPDATE tasks SET verification = 'none' WHERE state = 'done';
	-- Reopen disputed tasks (a cancelled job's stay as they were).
	UPDATE jobs SET tasks_finished = tasks_finished - x.n, tasks_disputed = tasks_disputed - x.n,
		state = 'running', finished_at = NULL
		FROM (SELECT job_id, count(*) AS n FROM tasks WHERE state = 'disputed' GROUP BY job_id) AS x
		WHERE jobs.id = x.job_id AND jobs.state != 'cancelled';
	UPDATE tasks SET state = 'pending', status = NULL, exit_code = NULL, message = NULL, stdout_hash = NULL, stderr_hash = NULL,
		fuel = NULL, result_seq = NULL, finished_at = NULL,
		note = 'reopened by schema migration 3: replicas disagreed under the old rules; re-verified'
		WHERE state = 'disputed' AND job_id IN (SELECT id FROM jobs WHERE state != 'cancelled');
	`,
	// 4: coordinators (PostgreSQL's version 3, kept in step): each
	// coordinator process is a row with a heartbeat, and a session belongs
	// to the coordinator holding its connection. SQLite has one
	// coordinator at a time (the data directory's lock), which at start-up
	// ends whatever an earlier one left.
	`
	CREATE TABLE IF NOT EXISTS coordinators (
		id           TEXT PRIMARY KEY,
		started_at   INTEGER NOT NULL,
		heartbeat_at INTEGER NOT NULL,
		ended_at     INTEGER,
		end_reason   TEXT
	);
	ALTER TABLE sessions ADD COLUMN coordinator TEXT;
	CREATE INDEX IF NOT EXISTS sessions_open ON sessions(coordinator) WHERE ended_at IS NULL;
	`,
	// 5: (PostgreSQL's version 4) an account's record tells its work as
	// an auditor from the work accepted on its word: the lie rate is
	// measured on the latter only (docs/trust.md §7).
	`
	ALTER TABLE accounts ADD COLUMN audits_run INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE accounts ADD COLUMN audit_lies INTEGER NOT NULL DEFAULT 0;
	`,
	// 6: (PostgreSQL's version 5) sites: the web site a session named in
	// hello, and the site each grant of credit is attributed to (its
	// link's computing session's; a revoke: its grant's). Attribution
	// only: verification never reads them (docs/trust.md §8).
	`
	ALTER TABLE sessions ADD COLUMN site TEXT NOT NULL DEFAULT '';
	ALTER TABLE ledger ADD COLUMN site TEXT NOT NULL DEFAULT '';
	CREATE INDEX IF NOT EXISTS ledger_site ON ledger(site, seq) WHERE site != '';
	`,
	// 7: (PostgreSQL's version 6) quotas (docs/abuse.md): the bytes each
	// job's submission brought, summed over an owner's running jobs, which
	// are found by owner and state.
	`
	ALTER TABLE jobs ADD COLUMN input_bytes INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX IF NOT EXISTS jobs_owner_running ON jobs(owner) WHERE state = 'running';
	`,
}

// migrate applies the migrations the database has not seen, each in its own
// transaction with the version bump.
func migrate(ctx context.Context, w *sql.DB) error {
	var v int
	if err := w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return interpretError(err)
	}
	if v == 0 {
		v = 1 // schema.sql
	}
	if v > len(migrations)+1 {
		return fmt.Errorf("sqlite: the database is at schema version %d; this coordinator knows up to %d (a newer coordinator wrote it)", v, len(migrations)+1)
	}
	for i := v - 1; i < len(migrations); i++ {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return interpretError(err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrating to schema version %d: %w", i+2, interpretError(err))
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+2)); err != nil {
			tx.Rollback()
			return interpretError(err)
		}
		if err := tx.Commit(); err != nil {
			return interpretError(err)
		}
	}
	return nil
}
