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
	"time"

	msqlite "modernc.org/sqlite"

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
}

// Hot statements (keys of DB.stmts).
const (
	qPutBlob        = `INSERT INTO blobs(hash, data, size, created_at) VALUES(?,?,?,?) ON CONFLICT(hash) DO NOTHING`
	qReplicaByLease = `SELECT r.id, r.task_id, r.job_id, r.state, r.session_id, coalesce(r.worker,''), j.replicas FROM replicas r JOIN jobs j ON j.id = r.job_id WHERE r.lease_id = ?`
	qReplicaDone    = `UPDATE replicas SET state = 'done', lease_id = NULL, lease_deadline = NULL, status = ?, exit_code = ?, message = ?, stdout_hash = ?, stderr_hash = ?, fuel = ?, wall_ms = ?, finished_at = ? WHERE id = ?`
	qSegment        = `INSERT INTO segments(replica_id, seq, state, worker, session_id, fuel_start, fuel_end, finished_at) VALUES(?,0,'done',?,?,0,?,?)`
	qTaskReplicas   = `SELECT state, coalesce(status,''), coalesce(exit_code,0), coalesce(message,''), coalesce(stdout_hash,''), coalesce(stderr_hash,''), coalesce(fuel,0) FROM replicas WHERE task_id = ? ORDER BY idx`
	qJobFinished    = `UPDATE jobs SET tasks_finished = tasks_finished + 1, tasks_disputed = tasks_disputed + ?, fuel_done = fuel_done + ? WHERE id = ? RETURNING tasks_finished, task_count`
	qTaskDone       = `UPDATE tasks SET state = ?, status = ?, exit_code = ?, message = ?, stdout_hash = ?, stderr_hash = ?, fuel = ?, finished_at = ?, result_seq = ? WHERE id = ?`
	qSessionOpen    = `SELECT count(*) FROM sessions WHERE id = ? AND ended_at IS NULL`
	qQueued         = `
			SELECT r.id, r.task_id, r.job_id, t.idx, j.module_hash, t.stdin_hash, b.data, t.args, t.env, t.files, t.seed,
			       j.fuel, j.memory, j.max_output, j.timeout_ms, r.attempts
			FROM replicas r JOIN tasks t ON t.id = r.task_id JOIN jobs j ON j.id = r.job_id JOIN blobs b ON b.hash = t.stdin_hash
			WHERE r.state = 'queued'
			  AND NOT EXISTS (SELECT 1 FROM replicas o WHERE o.task_id = r.task_id AND o.worker = ?)
			ORDER BY r.priority DESC, r.id
			LIMIT ?`
	qLeaseReplica = `UPDATE replicas SET state = 'leased', worker = ?, session_id = ?, lease_id = ?, lease_deadline = ?, attempts = attempts + 1 WHERE id = ?`
)

func (db *DB) prepare(ctx context.Context) error {
	db.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{qPutBlob, qReplicaByLease, qReplicaDone, qSegment, qTaskReplicas, qJobFinished, qTaskDone, qLeaseReplica, qSessionOpen, qQueued} {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return interpretError(err)
		}
		db.stmts[q] = st
	}
	return nil
}

// st binds a prepared statement to tx.
func (db *DB) st(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	return tx.StmtContext(ctx, db.stmts[q])
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
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
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
	db := &DB{w: w, r: r}
	if _, err := w.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: creating the schema in %s: %w", path, interpretError(err))
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

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

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

var emptyHash = store.Hash(nil)

func (db *DB) putBlob(ctx context.Context, tx *sql.Tx, data []byte, now int64) (string, error) {
	if len(data) == 0 {
		return emptyHash, nil // inserted with the schema
	}
	h := store.Hash(data)
	_, err := db.st(ctx, tx, qPutBlob).ExecContext(ctx, h, data, len(data), now)
	return h, interpretError(err)
}

func (db *DB) BlobPut(ctx context.Context, p *store.BlobPutParams) (string, error) {
	var h string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		h, err = db.putBlob(ctx, tx, p.Data, time.Now().UnixMilli())
		return err
	})
	return h, err
}

func (db *DB) BlobGet(ctx context.Context, hash string) ([]byte, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE hash = ?`, hash).Scan(&data)
	if data == nil && err == nil {
		data = []byte{}
	}
	return data, interpretError(err)
}

const jobCols = `id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at, finished_at`

func scanJob(sc interface{ Scan(...any) error }) (*store.Job, error) {
	var j store.Job
	var created int64
	var finished sql.NullInt64
	err := sc.Scan(&j.ID, &j.Owner, &j.Name, &j.ModuleHash, &j.State, &j.Priority, &j.Replicas,
		&j.Limits.Fuel, &j.Limits.MemoryBytes, &j.Limits.MaxOutput, &j.Limits.TimeoutMS, &j.TaskCount, &created, &finished)
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
	now := ms(p.Now)
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, b := range p.Blobs {
			if _, err := db.putBlob(ctx, tx, b, now); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs(owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`, p.Owner, p.Name, p.ModuleHash, store.JobRunning, p.Priority, p.Replicas,
			p.Limits.Fuel, p.Limits.MemoryBytes, p.Limits.MaxOutput, p.Limits.TimeoutMS, len(p.Tasks), now)
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
			res, err := insTask.ExecContext(ctx, id, i, store.TaskPending, t.StdinHash, jsonText(nonNil(t.Args)), jsonText(nonNil(t.Env)), jsonText(nonNilF(t.Files)), t.Seed)
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

func getJob(ctx context.Context, q querier, p *store.JobGetParams) (*store.Job, error) {
	return scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ? AND (? = '' OR owner = ?)`, p.ID, p.Owner, p.Owner))
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
// replicas through the (job_id, state) index: no scan of the job's tasks.
func (db *DB) JobCounts(ctx context.Context, jobID int64) (*store.JobCounts, error) {
	var c store.JobCounts
	var total, finished int
	err := db.r.QueryRowContext(ctx, `SELECT task_count, tasks_finished, tasks_disputed, tasks_cancelled, fuel_done,
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'queued'),
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'leased')
		FROM jobs WHERE id = ?`, jobID).Scan(&total, &finished, &c.TasksDisputed, &c.TasksCancelled, &c.Fuel, &c.ReplicasQueued, &c.ReplicasLeased)
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

const taskCols = `id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at`

func scanTask(sc interface{ Scan(...any) error }) (*store.Task, error) {
	var t store.Task
	var args, env, files string
	var status, msg, outH, errH sql.NullString
	var exit, fuel, seq, fin sql.NullInt64
	if err := sc.Scan(&t.ID, &t.JobID, &t.Index, &t.State, &t.StdinHash, &args, &env, &files, &t.Seed,
		&status, &exit, &msg, &outH, &errH, &fuel, &seq, &fin); err != nil {
		return nil, interpretError(err)
	}
	json.Unmarshal([]byte(args), &t.Args)
	json.Unmarshal([]byte(env), &t.Env)
	json.Unmarshal([]byte(files), &t.Files)
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

func (db *DB) SessionStart(ctx context.Context, p *store.SessionStartParams) (*store.Session, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions(worker, slots, remote, started_at) VALUES(?,?,?,?)`, p.Worker, p.Slots, p.Remote, ms(p.Now))
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &store.Session{ID: id, Worker: p.Worker, Slots: p.Slots, Remote: p.Remote, StartedAt: time.UnixMilli(ms(p.Now))}, nil
}

const requeueSQL = `UPDATE replicas SET state = 'queued', worker = NULL, session_id = NULL, lease_id = NULL, lease_deadline = NULL WHERE state = 'leased' AND `

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
		res, err = tx.ExecContext(ctx, requeueSQL+`session_id = ?`, p.ID)
		if err != nil {
			return interpretError(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

func (db *DB) SessionEndAll(ctx context.Context, p *store.SessionEndAllParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL`, ms(p.Now), p.Reason); err != nil {
			return interpretError(err)
		}
		res, err := tx.ExecContext(ctx, requeueSQL+`1`)
		if err != nil {
			return interpretError(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

func (db *DB) SessionList(ctx context.Context, p *store.SessionListParams) ([]*store.Session, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, worker, slots, remote, started_at, ended_at, coalesce(end_reason,'') FROM sessions ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		var s store.Session
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&s.ID, &s.Worker, &s.Slots, &s.Remote, &start, &end, &s.EndReason); err != nil {
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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		var open int
		if err := db.st(ctx, tx, qSessionOpen).QueryRowContext(ctx, p.SessionID).Scan(&open); err != nil {
			return interpretError(err)
		}
		if open == 0 {
			return store.ErrNotFound
		}
		// Replicas of one task are adjacent in the queue; twice Max rows
		// leave room for skipping a second replica of a task in this batch.
		rows, err := db.st(ctx, tx, qQueued).QueryContext(ctx, p.Worker, p.Max*2)
		if err != nil {
			return interpretError(err)
		}
		seen := map[int64]bool{} // one replica per task per worker, within this batch too
		var attempts []int
		for rows.Next() {
			var l store.Lease
			var args, env, files string
			var att int
			if err := rows.Scan(&l.ReplicaID, &l.TaskID, &l.JobID, &l.TaskIndex, &l.ModuleHash, &l.StdinHash, &l.Stdin, &args, &env, &files, &l.Seed,
				&l.Limits.Fuel, &l.Limits.MemoryBytes, &l.Limits.MaxOutput, &l.Limits.TimeoutMS, &att); err != nil {
				rows.Close()
				return interpretError(err)
			}
			if seen[l.TaskID] || len(out) == p.Max {
				continue
			}
			seen[l.TaskID] = true
			json.Unmarshal([]byte(args), &l.Args)
			json.Unmarshal([]byte(env), &l.Env)
			json.Unmarshal([]byte(files), &l.Files)
			l.LeaseID = fmt.Sprintf("%d.%d", l.ReplicaID, att+1)
			l.Deadline = time.UnixMilli(ms(p.Deadline))
			out = append(out, &l)
			attempts = append(attempts, att)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpretError(err)
		}
		upd := db.st(ctx, tx, qLeaseReplica)
		for _, l := range out {
			if _, err := upd.ExecContext(ctx, p.Worker, p.SessionID, l.LeaseID, ms(p.Deadline), l.ReplicaID); err != nil {
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
		return interpretError(err)
	})
}

func (db *DB) ReplicaComplete(ctx context.Context, p *store.ReplicaCompleteParams) ([]store.ReplicaOutcome, error) {
	out := make([]store.ReplicaOutcome, len(p.Results))
	now := ms(p.Now)
	err := db.tx(ctx, func(tx *sql.Tx) error {
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

func (db *DB) complete(ctx context.Context, tx *sql.Tx, r *store.ReplicaResult, now int64) (store.ReplicaOutcome, error) {
	var o store.ReplicaOutcome
	var repID, sess sql.NullInt64
	var state, worker string
	var replicas int
	err := db.st(ctx, tx, qReplicaByLease).QueryRowContext(ctx, r.LeaseID).Scan(&repID, &o.TaskID, &o.JobID, &state, &sess, &worker, &replicas)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (state != string(store.ReplicaLeased) || sess.Int64 != r.SessionID)) {
		return store.ReplicaOutcome{Err: store.ErrLeaseNotHeld}, nil
	}
	if err != nil {
		return o, interpretError(err)
	}
	outH, err := db.putBlob(ctx, tx, r.Stdout, now)
	if err != nil {
		return o, err
	}
	errH, err := db.putBlob(ctx, tx, r.Stderr, now)
	if err != nil {
		return o, err
	}
	if _, err := db.st(ctx, tx, qReplicaDone).ExecContext(ctx, r.Status, r.ExitCode, r.Message, outH, errH, r.Fuel, r.WallMS, now, repID.Int64); err != nil {
		return o, interpretError(err)
	}
	// One segment per replica until continuations split replicas.
	if _, err := db.st(ctx, tx, qSegment).ExecContext(ctx, repID.Int64, worker, r.SessionID, r.Fuel, now); err != nil {
		return o, interpretError(err)
	}
	this := store.Result{Status: r.Status, ExitCode: r.ExitCode, Message: r.Message, StdoutHash: outH, StderrHash: errH, Fuel: r.Fuel}
	results := []store.Result{this}
	if replicas > 1 {
		// Is every replica of the task in?
		rows, err := db.st(ctx, tx, qTaskReplicas).QueryContext(ctx, o.TaskID)
		if err != nil {
			return o, interpretError(err)
		}
		results = results[:0]
		all := true
		for rows.Next() {
			var st string
			var res store.Result
			if err := rows.Scan(&st, &res.Status, &res.ExitCode, &res.Message, &res.StdoutHash, &res.StderrHash, &res.Fuel); err != nil {
				rows.Close()
				return o, interpretError(err)
			}
			if st != string(store.ReplicaDone) {
				all = false
			}
			results = append(results, res)
		}
		rows.Close()
		if !all {
			return o, nil
		}
	}
	final := store.TaskDone
	for _, res := range results[1:] {
		if !res.Agrees(results[0]) {
			final = store.TaskDisputed
		}
	}
	first := results[0]
	// The job's finished-task counter numbers results in finishing order.
	var seq, total int64
	disputed, fuelDone := 0, first.Fuel
	if final == store.TaskDisputed {
		disputed, fuelDone = 1, 0
	}
	if err := db.st(ctx, tx, qJobFinished).QueryRowContext(ctx, disputed, fuelDone, o.JobID).Scan(&seq, &total); err != nil {
		return o, interpretError(err)
	}
	if _, err := db.st(ctx, tx, qTaskDone).ExecContext(ctx, final, first.Status, first.ExitCode, first.Message, first.StdoutHash, first.StderrHash, first.Fuel, now, seq, o.TaskID); err != nil {
		return o, interpretError(err)
	}
	o.TaskFinished = final
	if seq < total {
		return o, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', finished_at = ? WHERE id = ? AND state = 'running'`, now, o.JobID)
	if err != nil {
		return o, interpretError(err)
	}
	if k, _ := res.RowsAffected(); k == 1 {
		o.JobFinished = true
	}
	return o, nil
}

func (db *DB) ReplicaRequeueExpired(ctx context.Context, p *store.ReplicaRequeueExpiredParams) ([]store.RevokedLease, error) {
	var revoked []store.RevokedLease
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		revoked, err = takeLeases(ctx, tx, `lease_deadline < ?`, ms(p.Now))
		if err != nil || len(revoked) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, requeueSQL+`lease_deadline < ?`, ms(p.Now))
		return interpretError(err)
	})
	return revoked, err
}

func (db *DB) TokenInsert(ctx context.Context, p *store.TokenInsertParams) (*store.Token, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens(owner, name, hash, created_at) VALUES(?,?,?,?)`, p.Owner, p.Name, p.Hash, ms(p.Now))
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &store.Token{ID: id, Owner: p.Owner, Name: p.Name, CreatedAt: time.UnixMilli(ms(p.Now))}, nil
}

func (db *DB) TokenLookup(ctx context.Context, p *store.TokenLookupParams) (*store.Token, error) {
	var t store.Token
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT id, owner, name, created_at FROM tokens WHERE hash = ? AND revoked_at IS NULL`, p.Hash).
		Scan(&t.ID, &t.Owner, &t.Name, &created)
	if err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt = time.UnixMilli(created)
	return &t, nil
}

func (db *DB) ReplicaRelease(ctx context.Context, p *store.ReplicaReleaseParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range p.LeaseIDs {
			res, err := tx.ExecContext(ctx, requeueSQL+`session_id = ? AND lease_id = ?`, p.SessionID, id)
			if err != nil {
				return interpretError(err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return int(n), err
}

func (db *DB) ReplicaCountQueued(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM replicas WHERE state = 'queued'`).Scan(&n)
	return n, interpretError(err)
}

func (db *DB) WorkerStats(ctx context.Context) ([]*store.WorkerStat, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT s.worker, count(*), sum(s.ended_at IS NULL),
		       coalesce((SELECT count(*) FROM segments g WHERE g.worker = s.worker), 0),
		       coalesce((SELECT sum(fuel_end) FROM segments g WHERE g.worker = s.worker), 0)
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
