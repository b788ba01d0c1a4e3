// Package sqlite is the embedded store driver: SQLite in WAL mode through a
// pure-Go driver (no cgo, so the binary stays static). One connection writes,
// a small pool reads; writers take the lock up front (BEGIN IMMEDIATE) and
// wait on a busy timeout, so `crowdrun token create` can run beside a live
// coordinator.
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crowdrun/crowdrun/internal/store"
)

//go:embed schema.sql
var schema string

// DB is a store.Store on one SQLite file.
type DB struct {
	w *sql.DB // the one writer
	r *sql.DB // readers

	// Hot write statements, prepared once on the writer's one connection
	// and bound to each transaction with tx.StmtContext: parsing SQL was a
	// large share of the cost of recording a result.
	stmts map[string]*sql.Stmt

	// Hot read statements (readQueries), prepared on the readers' pool at
	// open (database/sql then prepares each once per reader connection, on
	// the connection that runs it): the verifier reads a task's evidence
	// — seven statements — for every task, and parsing them was a quarter
	// of a coordinator's CPU. Not lazily: preparing a statement inside a
	// read transaction takes a second connection, and with every reader
	// in a transaction that waits forever.
	rstmts map[string]*sql.Stmt
}

// Hot statements (keys of DB.stmts).
const (
	qPutBlob        = `INSERT INTO blobs(hash, data, size, created_at) VALUES(?,?,?,?) ON CONFLICT(hash) DO NOTHING`
	qReplicaByLease = `SELECT id, task_id, job_id, state, session_id, coalesce(worker,''), coalesce(account,''), role, attempts, seg_resume_seq, seg_fuel_start, coalesce(seg_started_at, 0) FROM replicas WHERE lease_id = ?`
	qReplicaDone    = `UPDATE replicas SET state = 'done', lease_id = NULL, lease_deadline = NULL, status = ?, exit_code = ?, message = ?, stdout_hash = ?, stderr_hash = ?, fuel = ?, wall_ms = ?, finished_at = ? WHERE id = ?`
	qSegment        = `INSERT INTO segments(replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at) VALUES(?,?,?,'done',?,?,?,?,?,?,?,?,?)`
	// Settling a task (TaskSettle) is on the hot path too: once per task.
	// The task settles only if pending, numbered with its job's next
	// result (qJobSettled then moves the counter on to that number), and
	// says which job and how many replicas were still running.
	qTaskSettled = `UPDATE tasks SET state = ?, status = ?, exit_code = ?, message = ?, stdout_hash = ?, stderr_hash = ?, fuel = ?, finished_at = ?,
			result_seq = (SELECT j.results_numbered + 1 FROM jobs j WHERE j.id = tasks.job_id), verification = ?, verified_by = ?, note = ?
		WHERE id = ? AND state = 'pending'
		RETURNING job_id, (SELECT count(*) FROM replicas r WHERE r.task_id = tasks.id AND r.state IN ('queued','leased'))`
	qJobSettled = `UPDATE jobs SET tasks_finished = tasks_finished + 1, results_numbered = results_numbered + 1, tasks_disputed = tasks_disputed + ?, fuel_done = fuel_done + ? WHERE id = ? RETURNING tasks_finished, task_count`
	// The session must be open and its account not banned.
	qSessionOpen = `SELECT (SELECT count(*) FROM sessions WHERE id = ? AND ended_at IS NULL), (SELECT count(*) FROM accounts WHERE id = ? AND banned_at IS NOT NULL)`
	qQueued      = `
			SELECT r.id, r.task_id, r.job_id, t.idx, j.module_hash, t.stdin_hash, b.data, t.args, t.env, t.files, t.seed,
			       j.fuel, j.memory, j.max_output, j.timeout_ms, r.attempts,
			       j.suspendable, coalesce(t.grid, 0), r.ckpt_seq, r.ckpt_fuel, coalesce(r.ckpt_hash, ''), coalesce(r.ckpt_blob, ''), j.max_error < 1
			FROM replicas r JOIN tasks t ON t.id = r.task_id JOIN jobs j ON j.id = r.job_id JOIN blobs b ON b.hash = t.stdin_hash
			WHERE r.state = 'queued'
			  -- Never a replica to a worker or an account whose own work it
			  -- would check. An audit of link k checks one claim: the audited
			  -- replica's checkpoint k (the first at or past k), or for the final
			  -- link its result: not to whoever uploaded or reported that. A run
			  -- replica is compared with every other run replica of the task:
			  -- not to any worker or account that holds one, finished one, or
			  -- uploaded a checkpoint of one (its claims; a segment lost before
			  -- its first checkpoint claimed nothing). A requeued replica
			  -- forgets its worker, its checkpoints do not. Replicas proved wrong or
			  -- voided count for nothing. A worker may resume its own replica.
			  AND CASE WHEN r.role = 'audit' THEN NOT EXISTS (
			        SELECT 1 FROM replicas o WHERE o.id = r.audit_of AND o.verdict NOT IN ('lied', 'void') AND (
			          EXISTS (SELECT 1 FROM checkpoints c WHERE c.replica_id = o.id AND (c.worker = ?1 OR c.account = ?2)
			                  AND c.seq = (SELECT min(c2.seq) FROM checkpoints c2 WHERE c2.replica_id = o.id AND c2.seq >= r.audit_seq))
			          OR (NOT EXISTS (SELECT 1 FROM checkpoints c2 WHERE c2.replica_id = o.id AND c2.seq >= r.audit_seq)
			              AND (o.worker = ?1 OR o.account = ?2))))
			      ELSE NOT EXISTS (SELECT 1 FROM replicas o WHERE o.task_id = r.task_id AND o.id != r.id AND o.role = 'run' AND o.verdict NOT IN ('lied', 'void')
			        AND (o.worker = ?1 OR o.account = ?2
			             OR EXISTS (SELECT 1 FROM checkpoints c WHERE c.replica_id = o.id AND (c.worker = ?1 OR c.account = ?2)))) END
			  -- An account on probation (LeaseProbation.Mode).
			  AND (?4 = 0 OR j.max_error >= 1 OR (?4 = 1 AND (r.role = 'audit' OR r.idx > 0)))
			ORDER BY r.priority DESC, r.id
			LIMIT ?3`
	qLeaseReplica = `UPDATE replicas SET state = 'leased', worker = ?, account = ?, session_id = ?, lease_id = ?, lease_deadline = ?, attempts = attempts + 1,
			seg_resume_seq = ?, seg_fuel_start = ?, seg_fuel_end = ?, seg_progress = ?, seg_started_at = ? WHERE id = ?`
)

// Leasing many replicas, and fixing their tasks' grid, one statement each
// (ids: a JSON array, idList).
const (
	qLeaseFresh = `UPDATE replicas SET state = 'leased', worker = ?1, account = ?2, session_id = ?3, lease_id = id || '.' || (attempts + 1),
			lease_deadline = ?4, attempts = attempts + 1, seg_resume_seq = 0, seg_fuel_start = 0, seg_fuel_end = 0, seg_progress = 0, seg_started_at = ?5
		WHERE id IN (SELECT value FROM json_each(?6)) AND state = 'queued'`
	qTaskGrid = `UPDATE tasks SET grid = ?1 WHERE grid IS NULL AND id IN (SELECT value FROM json_each(?2))`
)

// queueScan is the LIMIT ReplicaLease binds for any batch of up to
// queueScan/2 leases.
const queueScan = 64

// idList is ids as a JSON array.
func idList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func (db *DB) prepare(ctx context.Context) error {
	db.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{qPutBlob, qReplicaByLease, qReplicaDone, qSegment, qJobSettled, qTaskSettled, qLeaseReplica, qSessionOpen, qQueued,
		qLedgerInsert, qAccountAdd, qLeaseFresh, qTaskGrid, qReplicaDoneFresh} {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return interpretError(err)
		}
		db.stmts[q] = st
	}
	db.rstmts = map[string]*sql.Stmt{}
	for _, q := range readQueries {
		st, err := db.r.PrepareContext(ctx, q)
		if err != nil {
			return interpretError(err)
		}
		db.rstmts[q] = st
	}
	return nil
}

// st binds a prepared statement to tx.
func (db *DB) st(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	return tx.StmtContext(ctx, db.stmts[q])
}

// rst binds q, prepared on the readers' pool once, to tx, a transaction
// of db.r.
func (db *DB) rst(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	st, err := db.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// rstmt returns q, one of readQueries, prepared on the readers' pool.
func (db *DB) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	st := db.rstmts[q]
	if st == nil {
		return nil, fmt.Errorf("sqlite: statement not prepared for the readers: %.60s", q)
	}
	return st, nil
}

var _ store.Store = (*DB)(nil)

// FileName is the database's name inside a data directory.
const FileName = "crowdrun.db"

// OpenDir opens (creating if needed) the store in directory dir.
func OpenDir(ctx context.Context, dir string) (*DB, error) {
	return Open(ctx, filepath.Join(dir, FileName))
}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// Options are the settings of OpenWith.
type Options struct {
	// MaxBytes caps the database's size (0: none but the disk's): a write
	// that would grow it beyond fails with store.ErrFull, exactly as on a
	// full disk, and succeeds again once rows are deleted (their pages are
	// reused) or the store is opened with a larger cap. SQLite's
	// max_page_count, in pages of the database's page size; the WAL file is
	// not counted.
	MaxBytes int64
}

// OpenDirWith is OpenDir with options.
func OpenDirWith(ctx context.Context, dir string, o Options) (*DB, error) {
	return OpenWith(ctx, filepath.Join(dir, FileName), o)
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, o Options) (*DB, error) {
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("sqlite: a size limit of %d bytes", o.MaxBytes)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	if o.MaxBytes > 0 {
		// The default page size (4096) is the size of every database this
		// package creates (the schema sets none).
		q.Add("_pragma", fmt.Sprintf("max_page_count(%d)", max(1, o.MaxBytes/4096)))
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	// Readers stay open: each reopened connection parses the schema and
	// prepares its statements again (database/sql keeps 2 idle by default).
	r.SetMaxIdleConns(4)
	db := &DB{w: w, r: r}
	if _, err := w.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: creating the schema in %s: %w", path, interpretError(err))
	}
	if err := migrate(ctx, w); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) Close() error {
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.rstmts {
		st.Close()
	}
	return errors.Join(db.r.Close(), db.w.Close())
}

// interpretError translates driver errors into store sentinels at the seam.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		if se.Code()&0xff == sqlite3.SQLITE_FULL {
			return fmt.Errorf("sqlite: %w: %s (code %d)", store.ErrFull, se.Error(), se.Code())
		}
		return fmt.Errorf("sqlite: %s (code %d)", se.Error(), se.Code())
	}
	return err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}

// jsonList decodes a task's JSON list (args, env, files). Most tasks have
// none: "[]" is the empty, non-nil slice the decoder would make, without it.
func jsonList[T any](s string, dst *[]T) {
	if s == "[]" {
		*dst = []T{}
		return
	}
	json.Unmarshal([]byte(s), dst)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// quick is the context of a short statement on the hot path: ctx's values
// without its cancellation. With a context that can end, the driver starts
// a goroutine per statement to interrupt it (and database/sql one per rows
// outside a transaction), a few per task on the dispatch, result and
// verification paths; these statements take well under a millisecond, so
// nothing is lost by letting one finish. Waiting for the writer or a reader
// (BeginTx) still ends with ctx.
func quick(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// tx runs fn in a write transaction.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return interpretError(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return interpretError(tx.Commit())
}

const jobCols = `id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at, finished_at, suspendable, max_error`

func scanJob(sc interface{ Scan(...any) error }) (*store.Job, error) {
	var j store.Job
	var created int64
	var finished sql.NullInt64
	err := sc.Scan(&j.ID, &j.Owner, &j.Name, &j.ModuleHash, &j.State, &j.Priority, &j.Replicas,
		&j.Limits.Fuel, &j.Limits.MemoryBytes, &j.Limits.MaxOutput, &j.Limits.TimeoutMS, &j.TaskCount, &created, &finished, &j.Suspendable, &j.MaxError)
	if err != nil {
		return nil, interpretError(err)
	}
	j.CreatedAt = time.UnixMilli(created)
	j.FinishedAt = fromMS(finished)
	return &j, nil
}

func (db *DB) JobInsert(ctx context.Context, p *store.JobInsertParams) (*store.Job, error) {
	if p.Replicas < 1 {
		return nil, fmt.Errorf("sqlite: job needs at least one replica per task")
	}
	maxErr := p.MaxError
	if maxErr == 0 {
		maxErr = store.DefaultMaxError
	}
	if !(maxErr > 0 && maxErr <= 1) {
		return nil, fmt.Errorf("sqlite: max error %v is not a probability in (0, 1]", p.MaxError)
	}
	now := ms(p.Now)
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// Writers take turns (BEGIN IMMEDIATE on one connection): the usage
		// read here cannot change before this transaction commits.
		if p.Admit != nil {
			u, err := ownerUsage(ctx, tx, p.Owner)
			if err != nil {
				return err
			}
			if err := p.Admit(u); err != nil {
				return err
			}
		}
		for _, b := range p.Blobs {
			if _, err := db.putBlob(ctx, tx, b, now); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs(owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at, suspendable, max_error, input_bytes)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, p.Owner, p.Name, p.ModuleHash, store.JobRunning, p.Priority, p.Replicas,
			p.Limits.Fuel, p.Limits.MemoryBytes, p.Limits.MaxOutput, p.Limits.TimeoutMS, len(p.Tasks), now, p.Suspendable, maxErr, p.InputBytes)
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		insTask, err := tx.PrepareContext(ctx, `INSERT INTO tasks(job_id, idx, state, stdin_hash, args, env, files, seed) VALUES(?,?,?,?,?,?,?,?)`)
		if err != nil {
			return interpretError(err)
		}
		defer insTask.Close()
		insRep, err := tx.PrepareContext(ctx, `INSERT INTO replicas(task_id, job_id, idx, priority, state) VALUES(?,?,?,?,?)`)
		if err != nil {
			return interpretError(err)
		}
		defer insRep.Close()
		for i, t := range p.Tasks {
			res, err := insTask.ExecContext(ctx, id, i, store.TaskPending, t.StdinHash, jsonText(nonNil(t.Args)), jsonText(nonNil(t.Env)), jsonText(nonNilF(t.Files)), int64(t.Seed))
			if err != nil {
				return interpretError(err)
			}
			tid, _ := res.LastInsertId()
			for r := 0; r < p.Replicas; r++ {
				if _, err := insRep.ExecContext(ctx, tid, id, r, p.Priority, store.ReplicaQueued); err != nil {
					return interpretError(err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.JobGet(ctx, &store.JobGetParams{ID: id})
}

// ownerUsage sums what an owner's running jobs hold (store.OwnerUsage).
func ownerUsage(ctx context.Context, tx *sql.Tx, owner string) (*store.OwnerUsage, error) {
	rows, err := tx.QueryContext(ctx, `SELECT task_count, tasks_finished, tasks_cancelled, replicas, fuel, input_bytes
		FROM jobs WHERE owner = ? AND state = 'running'`, owner)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	u := &store.OwnerUsage{}
	for rows.Next() {
		var n, fin, canc, in int64
		var reps int
		var fuel uint64
		if err := rows.Scan(&n, &fin, &canc, &reps, &fuel, &in); err != nil {
			return nil, interpretError(err)
		}
		u.AddJob(n, fin, canc, reps, fuel, in)
	}
	return u, interpretError(rows.Err())
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilF(s []store.File) []store.File {
	if s == nil {
		return []store.File{}
	}
	return s
}

func (db *DB) JobGet(ctx context.Context, p *store.JobGetParams) (*store.Job, error) {
	return getJob(ctx, db.r, p)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const qJobGet = `SELECT ` + jobCols + ` FROM jobs WHERE id = ? AND (? = '' OR owner = ?)`

func getJob(ctx context.Context, q querier, p *store.JobGetParams) (*store.Job, error) {
	return scanJob(q.QueryRowContext(ctx, qJobGet, p.ID, p.Owner, p.Owner))
}

func (db *DB) JobList(ctx context.Context, p *store.JobListParams) ([]*store.Job, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE owner = ? ORDER BY id DESC LIMIT ?`, p.Owner, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, interpretError(rows.Err())
}

// JobCounts reads the job's counters and counts its queued and leased
// replicas through the (job_id, state) index, and its verifying tasks
// through the index of pending tasks: no scan of the job's finished tasks.
func (db *DB) JobCounts(ctx context.Context, jobID int64) (*store.JobCounts, error) {
	var c store.JobCounts
	var total, finished int
	err := db.r.QueryRowContext(ctx, `SELECT task_count, tasks_finished, tasks_disputed, tasks_cancelled, fuel_done,
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'queued'),
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'leased'),
		checkpoints, resumes, lost_segments, fuel_lost, mismatches,
		audits, disputes, lies_caught, reopened, unsettled, replicas_run,
		(SELECT count(*) FROM tasks t WHERE t.job_id = jobs.id AND t.state = 'pending'
		    AND EXISTS (SELECT 1 FROM replicas r WHERE r.task_id = t.id AND r.state = 'done'))
		FROM jobs WHERE id = ?`, jobID).Scan(&total, &finished, &c.TasksDisputed, &c.TasksCancelled, &c.Fuel, &c.ReplicasQueued, &c.ReplicasLeased,
		&c.Checkpoints, &c.Resumes, &c.LostSegments, &c.FuelLost, &c.Mismatches,
		&c.Audits, &c.Disputes, &c.LiesCaught, &c.Reopened, &c.Unsettled, &c.ReplicasRun, &c.TasksVerifying)
	if err != nil {
		return nil, interpretError(err)
	}
	c.TasksDone = finished - c.TasksDisputed
	c.TasksPending = total - finished - c.TasksCancelled
	return &c, nil
}

func (db *DB) JobCancel(ctx context.Context, p *store.JobCancelParams) (*store.Job, []store.RevokedLease, error) {
	var revoked []store.RevokedLease
	var job *store.Job
	err := db.tx(ctx, func(tx *sql.Tx) error {
		j, err := getJob(ctx, tx, &store.JobGetParams{ID: p.ID, Owner: p.Owner})
		if err != nil {
			return err
		}
		if j.State != store.JobRunning {
			job = j
			return store.ErrJobFinished
		}
		revoked, err = takeLeases(ctx, tx, `job_id = ?`, p.ID)
		if err != nil {
			return err
		}
		now := ms(p.Now)
		if _, err := endSegments(ctx, tx, store.SegmentRevoked, now, nil, `job_id = ?`, p.ID); err != nil {
			return err
		}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE replicas SET state = 'cancelled', lease_id = NULL, session_id = NULL, lease_deadline = NULL WHERE job_id = ? AND state IN ('queued','leased')`, []any{p.ID}},
			{`UPDATE tasks SET state = 'cancelled', finished_at = ? WHERE job_id = ? AND state = 'pending'`, []any{now, p.ID}},
			{`UPDATE jobs SET state = 'cancelled', finished_at = ?, tasks_cancelled = task_count - tasks_finished WHERE id = ?`, []any{now, p.ID}},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return interpretError(err)
			}
		}
		job, err = getJob(ctx, tx, &store.JobGetParams{ID: p.ID})
		return err
	})
	if errors.Is(err, store.ErrJobFinished) {
		return job, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	return job, revoked, nil
}

// takeLeases lists the leases held on replicas matching where.
func takeLeases(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]store.RevokedLease, error) {
	rows, err := tx.QueryContext(ctx, `SELECT session_id, lease_id FROM replicas WHERE state = 'leased' AND `+where, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.RevokedLease
	for rows.Next() {
		var r store.RevokedLease
		if err := rows.Scan(&r.SessionID, &r.LeaseID); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, r)
	}
	return out, interpretError(rows.Err())
}

const taskCols = `id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at,
	coalesce(verification, ''), coalesce(verified_by, ''), coalesce(note, '')`

func scanTask(sc interface{ Scan(...any) error }) (*store.Task, error) {
	var t store.Task
	var args, env, files, by string
	var status, msg, outH, errH sql.NullString
	var exit, fuel, seq, fin sql.NullInt64
	if err := sc.Scan(&t.ID, &t.JobID, &t.Index, &t.State, &t.StdinHash, &args, &env, &files, bits64{&t.Seed},
		&status, &exit, &msg, &outH, &errH, &fuel, &seq, &fin, &t.Verification, &by, &t.Note); err != nil {
		return nil, interpretError(err)
	}
	if by != "" {
		json.Unmarshal([]byte(by), &t.VerifiedBy)
	}
	jsonList(args, &t.Args)
	jsonList(env, &t.Env)
	jsonList(files, &t.Files)
	t.Result = store.Result{Status: status.String, ExitCode: uint32(exit.Int64), Message: msg.String,
		StdoutHash: outH.String, StderrHash: errH.String, Fuel: uint64(fuel.Int64)}
	t.ResultSeq = seq.Int64
	t.FinishedAt = fromMS(fin)
	return &t, nil
}

func (db *DB) TaskListResults(ctx context.Context, p *store.TaskListResultsParams) ([]*store.Task, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 500
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = ? AND result_seq > ? ORDER BY result_seq LIMIT ?`,
		p.JobID, p.AfterSeq, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, interpretError(rows.Err())
}

// account is the account a worker's work is credited to and checked
// against.
func account(account, worker string) string {
	if account == "" {
		return "anon:" + worker
	}
	return account
}

func (db *DB) SessionStart(ctx context.Context, p *store.SessionStartParams) (*store.Session, error) {
	var id int64
	acct := account(p.Account, p.Worker)
	var coord sql.NullString
	if p.Coordinator != "" {
		coord = sql.NullString{String: p.Coordinator, Valid: true}
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if coord.Valid {
			var live int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM coordinators WHERE id = ? AND ended_at IS NULL`, p.Coordinator).Scan(&live); err != nil {
				return interpretError(err)
			}
			if live == 0 {
				return store.ErrNotFound
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions(worker, account, site, slots, remote, started_at, coordinator) VALUES(?,?,?,?,?,?,?)`, p.Worker, acct, p.Site, p.Slots, p.Remote, ms(p.Now), coord)
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &store.Session{ID: id, Coordinator: p.Coordinator, Worker: p.Worker, Account: acct, Site: p.Site, Slots: p.Slots, Remote: p.Remote, StartedAt: time.UnixMilli(ms(p.Now))}, nil
}

const requeueSQL = `UPDATE replicas SET state = 'queued', worker = NULL, account = NULL, session_id = NULL, lease_id = NULL, lease_deadline = NULL WHERE state = 'leased' AND `

// endSegments ends the segments of the leased replicas matching where (a
// condition on replicas' columns) and requeues those replicas. progress
// (lease id → fuel reached) is recorded first. A lost segment adds to its
// job's churn counters: the fuel it reached beyond its last accepted
// checkpoint is the work lost.
func endSegments(ctx context.Context, tx *sql.Tx, state store.SegmentState, now int64, progress map[string]uint64, where string, args ...any) (int64, error) {
	for id, f := range progress {
		if _, err := tx.ExecContext(ctx, `UPDATE replicas SET seg_progress = max(seg_progress, ?) WHERE lease_id = ? AND state = 'leased'`, int64(min(f, 1<<62)), id); err != nil {
			return 0, interpretError(err)
		}
	}
	a := append([]any{state, now}, args...)
	if _, err := tx.ExecContext(ctx, `INSERT INTO segments(replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at)
		SELECT id, job_id, attempts, ?, coalesce(worker, ''), coalesce(account, ''), session_id, seg_resume_seq, seg_fuel_start, seg_fuel_end, max(seg_progress, seg_fuel_end), seg_started_at, ?
		FROM replicas WHERE state = 'leased' AND `+where, a...); err != nil {
		return 0, interpretError(err)
	}
	if state == store.SegmentLost {
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET lost_segments = lost_segments + x.n, fuel_lost = fuel_lost + x.f
			FROM (SELECT job_id, count(*) AS n, sum(max(seg_progress, seg_fuel_end) - seg_fuel_end) AS f FROM replicas WHERE state = 'leased' AND `+where+` GROUP BY job_id) AS x
			WHERE jobs.id = x.job_id`, args...); err != nil {
			return 0, interpretError(err)
		}
	}
	res, err := tx.ExecContext(ctx, requeueSQL+where, args...)
	if err != nil {
		return 0, interpretError(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func (db *DB) SessionEnd(ctx context.Context, p *store.SessionEndParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`, ms(p.Now), p.Reason, p.ID)
		if err != nil {
			return interpretError(err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrNotFound
		}
		state := store.SegmentLost
		if p.Graceful {
			state = store.SegmentReleased
		}
		n, err = endSegments(ctx, tx, state, ms(p.Now), p.Progress, `session_id = ?`, p.ID)
		return err
	})
	return int(n), err
}

func (db *DB) SessionEndAll(ctx context.Context, p *store.SessionEndAllParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL`, ms(p.Now), p.Reason); err != nil {
			return interpretError(err)
		}
		var err error
		n, err = endSegments(ctx, tx, store.SegmentLost, ms(p.Now), nil, `1`)
		return err
	})
	return int(n), err
}

func (db *DB) SessionList(ctx context.Context, p *store.SessionListParams) ([]*store.Session, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, worker, coalesce(account, ''), site, slots, remote, started_at, ended_at, coalesce(end_reason,''), coalesce(coordinator, '') FROM sessions ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		var s store.Session
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&s.ID, &s.Worker, &s.Account, &s.Site, &s.Slots, &s.Remote, &start, &end, &s.EndReason, &s.Coordinator); err != nil {
			return nil, interpretError(err)
		}
		s.StartedAt = time.UnixMilli(start)
		s.EndedAt = fromMS(end)
		out = append(out, &s)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) ReplicaLease(ctx context.Context, p *store.ReplicaLeaseParams) ([]*store.Lease, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	var out []*store.Lease
	acct := account(p.Account, p.Worker)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ctx := quick(ctx)
		out = out[:0]
		var open, banned int
		if err := db.st(ctx, tx, qSessionOpen).QueryRowContext(ctx, p.SessionID, acct).Scan(&open, &banned); err != nil {
			return interpretError(err)
		}
		if open == 0 {
			return store.ErrNotFound
		}
		if banned > 0 {
			return nil // caught lying: no more work
		}
		// Replicas of one task are adjacent in the queue; twice Max rows
		// leave room for skipping a second replica of a task in this batch.
		// The LIMIT bound is the same for every batch up to queueScan/2
		// (the loop stops at 2 × Max rows): SQLite's planner reads a bound
		// LIMIT, and a statement run with another value than last time is
		// compiled again, which was a tenth of the coordinator's CPU with
		// real workers asking for one or two leases at a time.
		scan := p.Max * 2
		rows, err := db.st(ctx, tx, qQueued).QueryContext(ctx, p.Worker, acct, max(scan, queueScan), p.Probation.Mode())
		if err != nil {
			return interpretError(err)
		}
		seen := map[int64]bool{} // one replica per task per worker, within this batch too
		verifying := 0           // leases of verifying jobs (p.Probation)
		var newGrid []*store.Lease
		for scanned := 0; scanned < scan && len(out) < p.Max && rows.Next(); scanned++ {
			var l store.Lease
			var args, env, files string
			var att int
			var suspendable bool
			var grid int64
			var ck store.Checkpoint
			if err := rows.Scan(&l.ReplicaID, &l.TaskID, &l.JobID, &l.TaskIndex, &l.ModuleHash, &l.StdinHash, &l.Stdin, &args, &env, &files, bits64{&l.Seed},
				&l.Limits.Fuel, &l.Limits.MemoryBytes, &l.Limits.MaxOutput, &l.Limits.TimeoutMS, &att,
				&suspendable, &grid, &ck.Seq, &ck.Fuel, &ck.StateHash, &ck.SnapshotHash, &l.Verifies); err != nil {
				rows.Close()
				return interpretError(err)
			}
			if seen[l.TaskID] {
				continue
			}
			if p.Probation != nil && l.Verifies {
				if verifying == p.Probation.Max {
					continue
				}
				verifying++
			}
			seen[l.TaskID] = true
			jsonList(args, &l.Args)
			jsonList(env, &l.Env)
			jsonList(files, &l.Files)
			l.LeaseID = fmt.Sprintf("%d.%d", l.ReplicaID, att+1)
			l.Deadline = time.UnixMilli(ms(p.Deadline))
			if suspendable && grid == 0 && p.CheckpointEvery > 0 {
				grid = int64(p.CheckpointEvery)
				newGrid = append(newGrid, &l)
			}
			if p.Resume && suspendable {
				l.CheckpointEvery = uint64(grid)
				if ck.Seq > 0 {
					ck.ReplicaID = l.ReplicaID
					l.Resume = &ck
				}
			}
			out = append(out, &l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpretError(err)
		}
		now := ms(p.Now)
		// The leases that start afresh are taken in one statement (their
		// lease IDs are "replica.attempt", as above); a resumed one on its
		// own, with its checkpoint.
		var fresh []int64
		for _, l := range out {
			if l.Resume == nil {
				fresh = append(fresh, l.ReplicaID)
				continue
			}
			seq, fuel := l.Resume.Seq, l.Resume.Fuel
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET resumes = resumes + 1 WHERE id = ?`, l.JobID); err != nil {
				return interpretError(err)
			}
			if _, err := db.st(ctx, tx, qLeaseReplica).ExecContext(ctx, p.Worker, acct, p.SessionID, l.LeaseID, ms(p.Deadline), seq, fuel, fuel, fuel, now, l.ReplicaID); err != nil {
				return interpretError(err)
			}
		}
		if len(fresh) > 0 {
			res, err := db.st(ctx, tx, qLeaseFresh).ExecContext(ctx, p.Worker, acct, p.SessionID, ms(p.Deadline), now, idList(fresh))
			if err != nil {
				return interpretError(err)
			}
			if k, _ := res.RowsAffected(); k != int64(len(fresh)) {
				return fmt.Errorf("sqlite: leased %d of %d queued replicas", k, len(fresh))
			}
		}
		if len(newGrid) > 0 {
			ids := make([]int64, len(newGrid))
			for i, l := range newGrid {
				ids[i] = l.TaskID
			}
			if _, err := db.st(ctx, tx, qTaskGrid).ExecContext(ctx, p.CheckpointEvery, idList(ids)); err != nil {
				return interpretError(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (db *DB) ReplicaRenew(ctx context.Context, p *store.ReplicaRenewParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE replicas SET lease_deadline = ? WHERE state = 'leased' AND session_id = ?`, ms(p.Deadline), p.SessionID)
		if err != nil {
			return interpretError(err)
		}
		for id, f := range p.Progress {
			if _, err := tx.ExecContext(ctx, `UPDATE replicas SET seg_progress = max(seg_progress, ?) WHERE lease_id = ? AND session_id = ? AND state = 'leased'`,
				int64(min(f, 1<<62)), id, p.SessionID); err != nil {
				return interpretError(err)
			}
		}
		return nil
	})
}

func (db *DB) ReplicaComplete(ctx context.Context, p *store.ReplicaCompleteParams) ([]store.ReplicaOutcome, error) {
	out := make([]store.ReplicaOutcome, len(p.Results))
	now := ms(p.Now)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ctx := quick(ctx)
		for i := range p.Results {
			o, err := db.complete(ctx, tx, &p.Results[i], now)
			if err != nil {
				return err
			}
			out[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// complete records one result: the replica done with its output, its
// segment. Whether the task is settled is the verifier's decision
// (TaskSettle).
func (db *DB) complete(ctx context.Context, tx *sql.Tx, r *store.ReplicaResult, now int64) (store.ReplicaOutcome, error) {
	if o, ok, err := db.completeFresh(ctx, tx, r, now); err != nil || ok {
		return o, err
	}
	var o store.ReplicaOutcome
	var sess sql.NullInt64
	var state, worker, acct string
	var attempts int
	var resumeSeq, fuelStart uint64
	var started int64
	err := db.st(ctx, tx, qReplicaByLease).QueryRowContext(ctx, r.LeaseID).Scan(&o.ReplicaID, &o.TaskID, &o.JobID, &state, &sess, &worker, &acct, &o.Role,
		&attempts, &resumeSeq, &fuelStart, &started)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (state != string(store.ReplicaLeased) || sess.Int64 != r.SessionID)) {
		return store.ReplicaOutcome{Err: store.ErrLeaseNotHeld}, nil
	}
	if err != nil {
		return o, interpretError(err)
	}
	stdout, stderr := r.Stdout, r.Stderr
	if resumeSeq > 0 {
		// The segment's output follows the output up to the checkpoint it
		// resumed from (for an audit, the audited replica's, copied).
		pre, pre2, err := db.outputUpTo(ctx, tx, o.ReplicaID, resumeSeq)
		if err != nil {
			return o, err
		}
		stdout, stderr = append(pre, stdout...), append(pre2, stderr...)
	}
	outH, err := db.putBlob(ctx, tx, stdout, now)
	if err != nil {
		return o, err
	}
	errH, err := db.putBlob(ctx, tx, stderr, now)
	if err != nil {
		return o, err
	}
	if _, err := db.st(ctx, tx, qReplicaDone).ExecContext(ctx, r.Status, r.ExitCode, r.Message, outH, errH, int64(min(r.Fuel, 1<<62)), r.WallMS, now, o.ReplicaID); err != nil {
		return o, interpretError(err)
	}
	if _, err := db.st(ctx, tx, qSegment).ExecContext(ctx, o.ReplicaID, o.JobID, attempts, worker, acct, r.SessionID, resumeSeq, fuelStart,
		int64(min(r.Fuel, 1<<62)), int64(min(r.Fuel, 1<<62)), started, now); err != nil {
		return o, interpretError(err)
	}
	return o, nil
}

// completeFresh is complete for the usual result: of a lease held by the
// session, on a segment that did not resume from a checkpoint (its output
// is the whole output). The replica is found and marked done in one
// statement; ok is false, with nothing written, for any other result.
func (db *DB) completeFresh(ctx context.Context, tx *sql.Tx, r *store.ReplicaResult, now int64) (o store.ReplicaOutcome, ok bool, err error) {
	outH, errH := blobHash(r.Stdout), blobHash(r.Stderr)
	fuel := int64(min(r.Fuel, 1<<62))
	var worker, acct string
	var attempts int
	var fuelStart uint64
	var started int64
	err = db.st(ctx, tx, qReplicaDoneFresh).QueryRowContext(ctx, r.Status, r.ExitCode, r.Message, outH, errH, fuel, r.WallMS, now, r.LeaseID, r.SessionID).
		Scan(&o.ReplicaID, &o.TaskID, &o.JobID, &worker, &acct, &o.Role, &attempts, &fuelStart, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ReplicaOutcome{}, false, nil
	}
	if err != nil {
		return o, false, interpretError(err)
	}
	if err := db.putBlobHashed(ctx, tx, outH, r.Stdout, now); err != nil {
		return o, false, err
	}
	if err := db.putBlobHashed(ctx, tx, errH, r.Stderr, now); err != nil {
		return o, false, err
	}
	if _, err := db.st(ctx, tx, qSegment).ExecContext(ctx, o.ReplicaID, o.JobID, attempts, worker, acct, r.SessionID, 0, fuelStart,
		fuel, fuel, started, now); err != nil {
		return o, false, interpretError(err)
	}
	return o, true, nil
}

// qReplicaDoneFresh is qReplicaByLease and qReplicaDone in one, for
// completeFresh.
const qReplicaDoneFresh = `UPDATE replicas SET state = 'done', lease_id = NULL, lease_deadline = NULL, status = ?, exit_code = ?, message = ?,
		stdout_hash = ?, stderr_hash = ?, fuel = ?, wall_ms = ?, finished_at = ?
	WHERE lease_id = ? AND state = 'leased' AND session_id = ? AND seg_resume_seq = 0
	RETURNING id, task_id, job_id, coalesce(worker, ''), coalesce(account, ''), role, attempts, seg_fuel_start, coalesce(seg_started_at, 0)`

func (db *DB) ReplicaRequeueExpired(ctx context.Context, p *store.ReplicaRequeueExpiredParams) ([]store.RevokedLease, error) {
	var revoked []store.RevokedLease
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		revoked, err = takeLeases(ctx, tx, `lease_deadline < ?`, ms(p.Now))
		if err != nil || len(revoked) == 0 {
			return err
		}
		_, err = endSegments(ctx, tx, store.SegmentLost, ms(p.Now), nil, `lease_deadline < ?`, ms(p.Now))
		return err
	})
	return revoked, err
}

func (db *DB) TokenInsert(ctx context.Context, p *store.TokenInsertParams) (*store.Token, error) {
	kind := p.Kind
	switch kind {
	case "":
		kind = store.TokenOwner
	case store.TokenOwner, store.TokenVolunteer, store.TokenTrusted:
	default:
		return nil, fmt.Errorf("sqlite: unknown token kind %q (want %s, %s or %s)", p.Kind, store.TokenOwner, store.TokenVolunteer, store.TokenTrusted)
	}
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens(kind, owner, name, hash, created_at) VALUES(?,?,?,?,?)`, kind, p.Owner, p.Name, p.Hash, ms(p.Now))
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &store.Token{ID: id, Kind: kind, Owner: p.Owner, Name: p.Name, CreatedAt: time.UnixMilli(ms(p.Now))}, nil
}

func (db *DB) TokenLookup(ctx context.Context, p *store.TokenLookupParams) (*store.Token, error) {
	var t store.Token
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT id, kind, owner, name, created_at FROM tokens WHERE hash = ? AND revoked_at IS NULL`, p.Hash).
		Scan(&t.ID, &t.Kind, &t.Owner, &t.Name, &created)
	if err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt = time.UnixMilli(created)
	return &t, nil
}

func (db *DB) TokenList(ctx context.Context, p *store.TokenListParams) ([]*store.Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, kind, owner, name, created_at, revoked_at FROM tokens WHERE ? = '' OR owner = ? ORDER BY id`, p.Owner, p.Owner)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) TokenRevoke(ctx context.Context, p *store.TokenRevokeParams) (*store.Token, error) {
	var t *store.Token
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ms(p.Now), p.ID); err != nil {
			return interpretError(err)
		}
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT id, kind, owner, name, created_at, revoked_at FROM tokens WHERE id = ?`, p.ID))
		return err
	})
	return t, err
}

func scanToken(row interface{ Scan(...any) error }) (*store.Token, error) {
	var t store.Token
	var created int64
	var revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Kind, &t.Owner, &t.Name, &created, &revoked); err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt = time.UnixMilli(created)
	if revoked.Valid {
		t.RevokedAt = time.UnixMilli(revoked.Int64)
	}
	return &t, nil
}

func (db *DB) ReplicaRelease(ctx context.Context, p *store.ReplicaReleaseParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range p.LeaseIDs {
			var prog map[string]uint64
			if f, ok := p.Progress[id]; ok {
				prog = map[string]uint64{id: f}
			}
			k, err := endSegments(ctx, tx, store.SegmentReleased, ms(p.Now), prog, `session_id = ? AND lease_id = ?`, p.SessionID, id)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return int(n), err
}

func (db *DB) AccountPending(ctx context.Context, account string) (store.Pending, error) {
	var p store.Pending
	// Only pending tasks of jobs that verify count: with none (every job
	// at max error 1) the account's segments, its whole history, are not
	// read at all. The dispatcher asks this before every lease of an
	// account on probation; reading the history each time halved SQLite's
	// rate between 5,000 and 20,000 tasks (docs/store.md).
	var verifying bool
	ctx = quick(ctx)
	st, err := db.rstmt(ctx, qAnyVerifying) // asked before every lease on probation
	if err != nil {
		return p, err
	}
	if err := st.QueryRowContext(ctx).Scan(&verifying); err != nil {
		return p, interpretError(err)
	}
	if !verifying {
		return p, nil
	}
	err = db.r.QueryRowContext(ctx, `
		SELECT coalesce(sum(r.role = 'run' AND r.idx = 0), 0), coalesce(sum(NOT (r.role = 'run' AND r.idx = 0)), 0)
		FROM segments g JOIN replicas r ON r.id = g.replica_id JOIN tasks t ON t.id = r.task_id JOIN jobs j ON j.id = t.job_id
		WHERE g.account = ? AND g.state = 'done' AND r.verdict NOT IN ('lied', 'void', 'agreed') AND t.state = 'pending' AND j.max_error < 1`, account).
		Scan(&p.Own, &p.Verification)
	return p, interpretError(err)
}

func (db *DB) ReplicaCountQueued(ctx context.Context) (int, error) {
	ctx = quick(ctx)
	st, err := db.rstmt(ctx, qCountQueued)
	if err != nil {
		return 0, err
	}
	var n int
	err = st.QueryRowContext(ctx).Scan(&n)
	return n, interpretError(err)
}

// Asked by the dispatcher (prepared on the readers, readQueries).
const (
	qAnyVerifying = `SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.max_error < 1
		AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state = 'pending'))`
	qCountQueued = `SELECT count(*) FROM replicas WHERE state = 'queued'`
)

func (db *DB) WorkerStats(ctx context.Context) ([]*store.WorkerStat, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT s.worker, count(*), sum(s.ended_at IS NULL),
		       coalesce((SELECT count(*) FROM segments g WHERE g.worker = s.worker AND (g.state = 'done' OR g.fuel_end > g.fuel_start)), 0),
		       coalesce((SELECT sum(max(coalesce(fuel_end, 0) - fuel_start, 0)) FROM segments g WHERE g.worker = s.worker), 0)
		FROM sessions s GROUP BY s.worker ORDER BY s.worker`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.WorkerStat
	for rows.Next() {
		var w store.WorkerStat
		if err := rows.Scan(&w.Worker, &w.Sessions, &w.Open, &w.Segments, &w.Fuel); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, &w)
	}
	return out, interpretError(rows.Err())
}

// outputUpTo concatenates the output chunks of a replica's checkpoints up to
// seq: its whole output up to that checkpoint.
func (db *DB) outputUpTo(ctx context.Context, tx *sql.Tx, replica int64, seq uint64) (stdout, stderr []byte, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT o.data, e.data FROM checkpoints c JOIN blobs o ON o.hash = c.stdout_hash JOIN blobs e ON e.hash = c.stderr_hash
		WHERE c.replica_id = ? AND c.seq <= ? ORDER BY c.seq`, replica, seq)
	if err != nil {
		return nil, nil, interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var o, e []byte
		if err := rows.Scan(&o, &e); err != nil {
			return nil, nil, interpretError(err)
		}
		stdout, stderr = append(stdout, o...), append(stderr, e...)
	}
	return stdout, stderr, interpretError(rows.Err())
}

func (db *DB) CheckpointAdd(ctx context.Context, p *store.CheckpointAddParams) (*store.CheckpointAdded, error) {
	var out store.CheckpointAdded
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var state, worker, acct string
		var sess sql.NullInt64
		var seq, fuel uint64
		err := tx.QueryRowContext(ctx, `SELECT id, task_id, job_id, role, state, session_id, coalesce(worker, ''), coalesce(account, ''), ckpt_seq, ckpt_fuel FROM replicas WHERE lease_id = ?`, p.LeaseID).
			Scan(&out.ReplicaID, &out.TaskID, &out.JobID, &out.Role, &state, &sess, &worker, &acct, &seq, &fuel)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (state != string(store.ReplicaLeased) || sess.Int64 != p.SessionID)) {
			return store.ErrLeaseNotHeld
		}
		if err != nil {
			return interpretError(err)
		}
		if p.Seq <= seq || p.Fuel <= fuel || p.Seq >= 1<<62 || p.Fuel >= 1<<62 {
			return fmt.Errorf("%w: checkpoint %d at fuel %d after %d at fuel %d", store.ErrCheckpointOrder, p.Seq, p.Fuel, seq, fuel)
		}
		now := ms(p.Now)
		snapH, err := db.putBlob(ctx, tx, p.Snapshot, now)
		if err != nil {
			return err
		}
		outH, err := db.putBlob(ctx, tx, p.Stdout, now)
		if err != nil {
			return err
		}
		errH, err := db.putBlob(ctx, tx, p.Stderr, now)
		if err != nil {
			return err
		}
		// The account is the lease holder's: the session's, recorded at
		// lease time.
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account, session_id, cost_ms, created_at)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`, out.ReplicaID, out.TaskID, p.Seq, p.Fuel, p.StateHash, snapH, outH, errH, worker, acct, p.SessionID, p.CostMS, now); err != nil {
			return interpretError(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE replicas SET ckpt_seq = ?, ckpt_fuel = ?, ckpt_hash = ?, ckpt_blob = ?, seg_fuel_end = ?, seg_progress = max(seg_progress, ?) WHERE id = ?`,
			p.Seq, p.Fuel, p.StateHash, snapH, p.Fuel, p.Fuel, out.ReplicaID); err != nil {
			return interpretError(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET checkpoints = checkpoints + 1 WHERE id = ?`, out.JobID); err != nil {
			return interpretError(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (db *DB) CheckpointList(ctx context.Context, p *store.CheckpointListParams) ([]*store.Checkpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+checkpointCols+` FROM checkpoints WHERE replica_id = ? ORDER BY seq`, p.ReplicaID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}

// checkpointCols: the site is the uploading session's (sessions are never
// deleted).
const checkpointCols = `replica_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, coalesce(account, ''),
	coalesce((SELECT site FROM sessions s WHERE s.id = checkpoints.session_id), ''), cost_ms, created_at`

func scanCheckpoint(sc interface{ Scan(...any) error }) (*store.Checkpoint, error) {
	var c store.Checkpoint
	var created int64
	if err := sc.Scan(&c.ReplicaID, &c.Seq, &c.Fuel, &c.StateHash, &c.SnapshotHash, &c.StdoutHash, &c.StderrHash, &c.Worker, &c.Account, &c.Site, &c.CostMS, &created); err != nil {
		return nil, interpretError(err)
	}
	c.CreatedAt = time.UnixMilli(created)
	return &c, nil
}

func (db *DB) SegmentList(ctx context.Context, p *store.SegmentListParams) ([]*store.Segment, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 10000
	}
	rows, err := db.r.QueryContext(ctx, `SELECT g.replica_id, t.idx, g.worker, coalesce(g.account, ''), g.state, g.resume_seq, g.fuel_start, coalesce(g.fuel_end, 0),
		coalesce(g.fuel_reached, g.fuel_end, 0), g.started_at, g.finished_at
		FROM replicas r JOIN tasks t ON t.id = r.task_id JOIN segments g ON g.replica_id = r.id
		WHERE r.job_id = ? ORDER BY g.id LIMIT ?`, p.JobID, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Segment
	for rows.Next() {
		var g store.Segment
		var start, end sql.NullInt64
		if err := rows.Scan(&g.ReplicaID, &g.TaskIndex, &g.Worker, &g.Account, &g.State, &g.ResumeSeq, &g.FuelStart, &g.FuelEnd, &g.FuelReached, &start, &end); err != nil {
			return nil, interpretError(err)
		}
		g.StartedAt, g.EndedAt = fromMS(start), fromMS(end)
		out = append(out, &g)
	}
	return out, interpretError(rows.Err())
}

// bits64 scans an INTEGER column holding a uint64 stored bit for bit as
// SQLite's signed 64-bit integer (seeds are the submitter's 64 bits; the
// driver refuses uint64 values at or above 2^63).
type bits64 struct{ p *uint64 }

func (b bits64) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*b.p = uint64(x)
		return nil
	case nil:
		*b.p = 0
		return nil
	}
	return fmt.Errorf("sqlite: cannot scan %T into a 64-bit unsigned value", v)
}
