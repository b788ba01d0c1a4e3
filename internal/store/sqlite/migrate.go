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
