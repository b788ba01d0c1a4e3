// Package postgres is the store driver for a crowd that outgrows one
// coordinator machine: PostgreSQL through pgx's connection pool, with the
// same semantics as internal/store/sqlite (both pass internal/store/storetest).
//
// SQLite has one writer, so its transactions never overlap; here they do,
// within one coordinator (the pool) and across coordinators sharing the
// database. Transactions run at READ COMMITTED and lock what they decide on:
//
//   - a lease takes queued replicas with FOR UPDATE SKIP LOCKED, so two
//     dispatchers never wait on each other nor lease one replica twice, and
//     holds its session's row FOR SHARE so the session cannot end under it;
//     sessions of one worker name, or of one account, lease in turn (an
//     advisory lock each), so none gets two replicas of one task;
//   - a result or checkpoint locks its replica (by lease id) and only
//     records: comparing replicas and settling tasks is the verifier's;
//   - whatever ends leases (session end, expiry, release, cancel,
//     settlement, verdict) first locks the replicas it will end, then works
//     on exactly those rows; replicas are locked before their tasks, and
//     tasks before their job (whose row every settlement of the job
//     updates, so it is taken last and held the shortest);
//   - the credit ledger is numbered under an advisory lock, so appenders on
//     several coordinators never collide nor leave a gap.
//
// A transaction chosen as a deadlock victim, or failing a serialization
// check, is retried from the start.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdrun/crowdrun/internal/store"
)

// DB is a store.Store on one PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	// node names this handle in the notifications its transactions send
	// (the session setting crowdrun.node of every pooled connection), so
	// that its own listener ignores them: the coordinator has already
	// woken what it changed itself.
	node string
}

var _ store.Store = (*DB)(nil)

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://), as `crowdrun serve --store` takes it.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL without its password, for logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects to the database named by dsn (a postgres:// URL or a
// libpq key=value string; pgxpool's pool_* parameters size the pool) and
// migrates its schema.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	node := fmt.Sprintf("%016x", rand.Uint64())
	cfg.ConnConfig.RuntimeParams["crowdrun.node"] = node
	// No JIT compilation, unless the DSN asks for it: it is for long
	// analytical queries, and this driver's are short. PostgreSQL compiles
	// any plan whose estimate passes jit_above_cost, and the counts that
	// read a job's tasks (JobCounts, TaskListOrphaned) pass it from a few
	// thousand tasks on: JobCounts spent more than half its server time
	// compiling (docs/store.md).
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, node: node}, nil
}

func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// interpretError translates driver errors into store sentinels at the seam.
// A PostgreSQL error stays wrapped (tx tells retryable ones by their code).
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53100" && !errors.Is(err, store.ErrFull) { // disk_full
		return fmt.Errorf("postgres: %w: %w", store.ErrFull, err)
	}
	if errors.As(err, &pe) && !strings.HasPrefix(err.Error(), "postgres: ") {
		return fmt.Errorf("postgres: %w", err)
	}
	return err
}

// retryable: the transaction lost a deadlock or a serialization check;
// running it again from the start may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// tx runs fn in a transaction, again from the start if it was a deadlock's
// victim. fn must reset whatever it accumulates outside the transaction.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.retry(ctx, func() error { return pgx.BeginFunc(ctx, db.pool, fn) })
}

// retry runs fn again while it fails with a retryable error, a bounded
// number of times.
func (db *DB) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) || attempt == 20 {
			return interpretError(err)
		}
		// Let the winner finish before trying again.
		t := time.NewTimer(time.Duration(rand.N(attempt*2000)) * time.Microsecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// txCommitting is tx for a transaction whose last statements take a lock
// that many transactions wait for (a job's row): fn returns them as a
// batch, and they go in one pipeline with the COMMIT, so that the lock is
// held for the server's work alone, never across a round trip. Its BEGIN
// rides with fn's first statements (lazyTx), not in a round trip of its
// own: a transaction of two pipelines costs two round trips, not three.
func (db *DB) txCommitting(ctx context.Context, fn func(tx pgx.Tx) (*pgx.Batch, error)) error {
	return db.retry(ctx, func() error {
		c, err := db.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// Released idle after the COMMIT or the rollback; a connection left
		// in a transaction (a failed rollback) is closed by the pool.
		defer c.Release()
		tx := &lazyTx{conn: c.Conn(), generic: true}
		b, err := fn(tx)
		if err == nil {
			if b == nil {
				b = &pgx.Batch{}
			}
			var tag pgconn.CommandTag
			b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
			err = tx.SendBatch(ctx, b).Close()
			if err == nil && tag.String() != "COMMIT" {
				err = pgx.ErrTxCommitRollback // the server rolled it back
			}
			if err == nil {
				return nil // committed: tx is not to be used again
			}
		}
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	})
}

// lazyTx is a transaction whose BEGIN is sent with its first statement
// or batch, in one pipeline, not in a round trip of its own. It implements
// what txCommitting's callers use (Exec, Query, QueryRow, SendBatch,
// Rollback); the rest of pgx.Tx is not there (calling it panics).
type lazyTx struct {
	pgx.Tx
	conn  *pgx.Conn
	begun bool
	// generic: the transaction's statements use their generic plans
	// (SET LOCAL plan_cache_mode, sent with the BEGIN). Without it, a
	// statement whose parameters include an array is planned afresh at
	// every execution: its custom plan, costed for the array at hand,
	// always looks cheaper than the generic one, so PostgreSQL never
	// settles on the latter. For the lease, result and settlement batches
	// that planning cost more server CPU than running them
	// (docs/store.md).
	generic bool
}

// first sends the transaction's first statement after its BEGIN.
func (t *lazyTx) first(ctx context.Context, sql string, args ...any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return t.firstBatch(ctx, b)
}

// firstBatch sends the transaction's first statements after its BEGIN, in
// one pipeline, and returns their results (the BEGIN's read). The caller
// reads them in order (Exec, Query, QueryRow) and closes them.
func (t *lazyTx) firstBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if t.begun {
		return t.conn.SendBatch(ctx, b), nil
	}
	generic := t.generic
	br := t.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil { // the BEGIN
		br.Close()
		return nil, err
	}
	if generic {
		if _, err := br.Exec(); err != nil { // the SET LOCAL
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// batchRows are a batch's rows that close the batch with them.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// batchRow is a batch's row that closes the batch once scanned.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a Row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if !t.begun {
		// BEGIN first, in the same pipeline. Marked begun before the
		// results are read: if the pipeline fails, Rollback ends whatever
		// the server began.
		nb := &pgx.Batch{}
		nb.Queue(`BEGIN`)
		if t.generic {
			nb.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
		}
		nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
		b = nb
		t.begun = true
	}
	return t.conn.SendBatch(ctx, b)
}

func (t *lazyTx) Rollback(ctx context.Context) error {
	if !t.begun {
		return nil
	}
	_, err := t.conn.Exec(ctx, `ROLLBACK`)
	return err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v *int64) time.Time {
	if v == nil || *v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*v)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const jobCols = `id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at, finished_at, suspendable, max_error`

func scanJob(sc pgx.Row) (*store.Job, error) {
	var j store.Job
	var created int64
	var finished *int64
	err := sc.Scan(&j.ID, &j.Owner, &j.Name, &j.ModuleHash, &j.State, &j.Priority, &j.Replicas,
		&j.Limits.Fuel, &j.Limits.MemoryBytes, &j.Limits.MaxOutput, &j.Limits.TimeoutMS, &j.TaskCount, &created, &finished, &j.Suspendable, &j.MaxError)
	if err != nil {
		return nil, interpretError(err)
	}
	j.CreatedAt = time.UnixMilli(created)
	j.FinishedAt = fromMS(finished)
	return &j, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getJob(ctx context.Context, q querier, p *store.JobGetParams) (*store.Job, error) {
	return scanJob(q.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1 AND ($2::text = '' OR owner = $2)`, p.ID, p.Owner))
}

func (db *DB) JobInsert(ctx context.Context, p *store.JobInsertParams) (*store.Job, error) {
	if p.Replicas < 1 {
		return nil, fmt.Errorf("postgres: job needs at least one replica per task")
	}
	maxErr := p.MaxError
	if maxErr == 0 {
		maxErr = store.DefaultMaxError
	}
	if !(maxErr > 0 && maxErr <= 1) { // NaN too
		return nil, fmt.Errorf("postgres: a job's max error must be in (0, 1], not %v", p.MaxError)
	}
	now := ms(p.Now)
	n := len(p.Tasks)
	stdin, args, env, files := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seed := make([]int64, n)
	for i, t := range p.Tasks {
		stdin[i], args[i], env[i], files[i] = t.StdinHash, jsonText(nonNil(t.Args)), jsonText(nonNil(t.Env)), jsonText(nonNilF(t.Files))
		seed[i] = int64(t.Seed) // the bits: a seed may use all 64
	}
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if p.Admit != nil {
			// An owner's admissions take turns on a lock held to the
			// commit, on every coordinator sharing the database: the
			// usage read here cannot change before this job is in.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSpace+lockOwner, p.Owner); err != nil {
				return interpretError(err)
			}
			u, err := ownerUsage(ctx, tx, p.Owner)
			if err != nil {
				return err
			}
			if err := p.Admit(u); err != nil {
				return err
			}
		}
		if err := putBlobs(ctx, tx, now, p.Blobs...); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO jobs(owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, created_at, suspendable, max_error, input_bytes)
			VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id`, p.Owner, p.Name, p.ModuleHash, string(store.JobRunning), p.Priority, p.Replicas,
			p.Limits.Fuel, p.Limits.MemoryBytes, p.Limits.MaxOutput, p.Limits.TimeoutMS, n, now, p.Suspendable, maxErr, p.InputBytes).Scan(&id)
		if err != nil {
			return interpretError(err)
		}
		if n == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tasks(job_id, idx, state, stdin_hash, args, env, files, seed)
			SELECT $1, u.i - 1, 'pending', u.stdin, u.args, u.env, u.files, u.seed
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS u(stdin, args, env, files, seed, i)
			ORDER BY u.i`, id, stdin, args, env, files, seed); err != nil {
			return interpretError(err)
		}
		// A task's replicas get adjacent ids: the queue's order keeps them together.
		if _, err := tx.Exec(ctx, `INSERT INTO replicas(task_id, job_id, idx, priority, state)
			SELECT t.id, t.job_id, r, $2, 'queued' FROM tasks t CROSS JOIN generate_series(0, $3::bigint - 1) AS r
			WHERE t.job_id = $1 ORDER BY t.idx, r`, id, p.Priority, p.Replicas); err != nil {
			return interpretError(err)
		}
		return notifyWork(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	db.analyzeAfter(ctx, n)
	return db.JobGet(ctx, &store.JobGetParams{ID: id})
}

// analyzeMin is the smallest job after whose insertion analyzeAfter may
// refresh the statistics of tasks and replicas.
const analyzeMin = 1000

// analyzeAfter refreshes the planner's statistics of tasks and replicas
// after a job of n tasks went in, when the job is at least a tenth of what
// the statistics last counted in replicas (autovacuum's own threshold for
// an ANALYZE) or they were never taken: a young table, or one that a job
// has just made several times larger. Without it, until autovacuum comes
// round (a minute or more later), every statement planned on these tables
// is planned on counts that say they are empty or small: a generic plan
// (the lease, result and settlement transactions use them) made then is
// kept for the connection's life, and a settlement's lookup of its tasks'
// live replicas, planned so, read the whole of replicas at every call
// (docs/store.md). An ANALYZE invalidates the plans made before it.
//
// Best effort: its failure (a role that does not own the tables only gets
// a warning) changes nothing but the plans.
func (db *DB) analyzeAfter(ctx context.Context, n int) {
	if n < analyzeMin {
		return
	}
	var counted float64
	if err := db.pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'replicas'::regclass`).Scan(&counted); err != nil {
		return
	}
	if counted >= 0 && float64(n) < counted/10 {
		return
	}
	db.pool.Exec(ctx, `ANALYZE tasks, replicas`)
}

// ownerUsage sums what an owner's running jobs hold (store.OwnerUsage).
func ownerUsage(ctx context.Context, tx pgx.Tx, owner string) (*store.OwnerUsage, error) {
	rows, err := tx.Query(ctx, `SELECT task_count, tasks_finished, tasks_cancelled, replicas, fuel, input_bytes
		FROM jobs WHERE owner = $1 AND state = 'running'`, owner)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	u := &store.OwnerUsage{}
	for rows.Next() {
		var n, fin, canc, fuel, in int64
		var reps int
		if err := rows.Scan(&n, &fin, &canc, &reps, &fuel, &in); err != nil {
			return nil, interpretError(err)
		}
		u.AddJob(n, fin, canc, reps, uint64(fuel), in)
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
	return getJob(ctx, db.pool, p)
}

func (db *DB) JobList(ctx context.Context, p *store.JobListParams) ([]*store.Job, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+jobCols+` FROM jobs WHERE owner = $1 ORDER BY id DESC LIMIT $2`, p.Owner, limit)
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

func (db *DB) JobCounts(ctx context.Context, jobID int64) (*store.JobCounts, error) {
	var c store.JobCounts
	var total, finished int
	// The tasks being verified (pending, with a replica done) are found
	// from whichever side is smaller: the job's pending tasks, each
	// looking up its replicas, or its done replicas (at least one per
	// finished task), each looking up its task. The first alone looked up
	// every task of a job just started, the second would every replica of
	// one nearly finished; by the job's own counts (the CASE evaluates the
	// branch it takes only) a call reads at most about half the job.
	// Lookups are scalar subqueries with LIMIT 1, not EXISTS: a semi join,
	// planned on a young table's statistics, read every done replica of
	// the job for each pending task.
	err := db.pool.QueryRow(ctx, `SELECT task_count, tasks_finished, tasks_disputed, tasks_cancelled, fuel_done,
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'queued'),
		(SELECT count(*) FROM replicas WHERE job_id = jobs.id AND state = 'leased'),
		checkpoints, resumes, lost_segments, fuel_lost, mismatches,
		audits, disputes, lies_caught, reopened, unsettled, replicas_run,
		CASE WHEN task_count - tasks_finished - tasks_cancelled <= tasks_finished THEN
		  (SELECT count(*) FROM tasks t WHERE t.job_id = jobs.id AND t.state = 'pending'
		     AND coalesce((SELECT true FROM replicas r WHERE r.task_id = t.id AND r.state = 'done' LIMIT 1), false))
		ELSE
		  (SELECT count(DISTINCT r.task_id) FROM replicas r WHERE r.job_id = jobs.id AND r.state = 'done'
		     AND coalesce((SELECT true FROM tasks t WHERE t.id = r.task_id AND t.state = 'pending' LIMIT 1), false))
		END
		FROM jobs WHERE id = $1`, jobID).Scan(&total, &finished, &c.TasksDisputed, &c.TasksCancelled, &c.Fuel, &c.ReplicasQueued, &c.ReplicasLeased,
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		revoked, job = nil, nil
		j, err := getJob(ctx, tx, &store.JobGetParams{ID: p.ID, Owner: p.Owner})
		if err != nil {
			return err
		}
		if j.State != store.JobRunning {
			job = j
			return store.ErrJobFinished
		}
		// Replicas first, as every other transaction locks them: the
		// unfinished ones, so that no lease nor result slips in meanwhile.
		var ids []int64
		if err := collect(ctx, tx, `SELECT id FROM replicas WHERE job_id = $1 AND state IN ('queued','leased') ORDER BY id FOR UPDATE`,
			func(r pgx.Rows) error { var id int64; ids = append(ids, id); return r.Scan(&ids[len(ids)-1]) }, p.ID); err != nil {
			return err
		}
		now := ms(p.Now)
		// The tasks next (before the job, as TaskSettle takes them): once
		// they are cancelled no replica can be added to them (ReplicaAdd
		// and TaskReopen hold their task's lock until their replica is in),
		// so the replicas locked again below are all there are.
		if _, err := tx.Exec(ctx, `UPDATE tasks SET state = 'cancelled', finished_at = $1 WHERE job_id = $2 AND state = 'pending'`, now, p.ID); err != nil {
			return interpretError(err)
		}
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM jobs WHERE id = $1 FOR NO KEY UPDATE`, p.ID).Scan(&state); err != nil {
			return interpretError(err)
		}
		if state != string(store.JobRunning) { // its last result came in meanwhile
			job, err = getJob(ctx, tx, &store.JobGetParams{ID: p.ID})
			if err == nil {
				err = store.ErrJobFinished // and the transaction, tasks and all, is rolled back
			}
			return err
		}
		ids = ids[:0]
		if err := collect(ctx, tx, `SELECT id FROM replicas WHERE job_id = $1 AND state IN ('queued','leased') ORDER BY id FOR UPDATE`,
			func(r pgx.Rows) error { var id int64; ids = append(ids, id); return r.Scan(&ids[len(ids)-1]) }, p.ID); err != nil {
			return err
		}
		if revoked, err = cancelReplicas(ctx, tx, now, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = 'cancelled', finished_at = $1, tasks_cancelled = task_count - tasks_finished WHERE id = $2`, now, p.ID); err != nil {
			return interpretError(err)
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

// collect runs a query and calls scan on each row.
func collect(ctx context.Context, tx pgx.Tx, q string, scan func(pgx.Rows) error, args ...any) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return interpretError(err)
		}
	}
	return interpretError(rows.Err())
}

// lockLeased locks the leased replicas matching where (a condition on
// replicas' columns, its parameters from $1) and returns their ids and
// leases: the rows that endSegments then ends, and nothing else.
func lockLeased(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]int64, []store.RevokedLease, error) {
	var ids []int64
	var out []store.RevokedLease
	err := collect(ctx, tx, `SELECT id, session_id, lease_id FROM replicas WHERE state = 'leased' AND `+where+` ORDER BY id FOR UPDATE`,
		func(r pgx.Rows) error {
			var id int64
			var l store.RevokedLease
			if err := r.Scan(&id, &l.SessionID, &l.LeaseID); err != nil {
				return err
			}
			ids, out = append(ids, id), append(out, l)
			return nil
		}, args...)
	return ids, out, err
}

const taskCols = `id, job_id, idx, state, stdin_hash, args, env, files, seed, coalesce(status, ''), coalesce(exit_code, 0), coalesce(message, ''),
	coalesce(stdout_hash, ''), coalesce(stderr_hash, ''), coalesce(fuel, 0), coalesce(result_seq, 0), finished_at,
	coalesce(verification, ''), coalesce(verified_by, '[]'), note`

// scanTask scans taskCols, then the extra columns after them into extra.
func scanTask(sc pgx.Row, extra ...any) (*store.Task, error) {
	var t store.Task
	var args, env, files, by string
	var seed int64
	var fin *int64
	if err := sc.Scan(append([]any{&t.ID, &t.JobID, &t.Index, &t.State, &t.StdinHash, &args, &env, &files, &seed,
		&t.Result.Status, &t.Result.ExitCode, &t.Result.Message, &t.Result.StdoutHash, &t.Result.StderrHash, &t.Result.Fuel, &t.ResultSeq, &fin,
		&t.Verification, &by, &t.Note}, extra...)...); err != nil {
		return nil, interpretError(err)
	}
	if json.Unmarshal([]byte(by), &t.VerifiedBy); len(t.VerifiedBy) == 0 {
		t.VerifiedBy = nil
	}
	t.Seed = uint64(seed)
	json.Unmarshal([]byte(args), &t.Args)
	json.Unmarshal([]byte(env), &t.Env)
	json.Unmarshal([]byte(files), &t.Files)
	t.FinishedAt = fromMS(fin)
	return &t, nil
}

func (db *DB) TaskListResults(ctx context.Context, p *store.TaskListResultsParams) ([]*store.Task, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 500
	}
	rows, err := db.pool.Query(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = $1 AND result_seq > $2 ORDER BY result_seq LIMIT $3`,
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

// account is whom a worker's work is credited to: its token's owner, or
// the anonymous account of its name.
func account(acct, worker string) string {
	if acct == "" {
		return "anon:" + worker
	}
	return acct
}

func (db *DB) SessionStart(ctx context.Context, p *store.SessionStartParams) (*store.Session, error) {
	var id int64
	acct := account(p.Account, p.Worker)
	var coord *string
	if p.Coordinator != "" {
		coord = &p.Coordinator
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if coord != nil {
			// Its coordinator must be live, and stay so until this commits
			// (CoordinatorReap ends it, then its sessions).
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM coordinators WHERE id = $1 AND ended_at IS NULL FOR SHARE`, p.Coordinator).Scan(&one); err != nil {
				return interpretError(err)
			}
		}
		return interpretError(tx.QueryRow(ctx, `INSERT INTO sessions(worker, account, site, slots, remote, started_at, coordinator) VALUES($1,$2,$3,$4,$5,$6,$7) RETURNING id`,
			p.Worker, acct, p.Site, p.Slots, p.Remote, ms(p.Now), coord).Scan(&id))
	})
	if err != nil {
		return nil, err
	}
	return &store.Session{ID: id, Coordinator: p.Coordinator, Worker: p.Worker, Account: acct, Site: p.Site, Slots: p.Slots, Remote: p.Remote, StartedAt: time.UnixMilli(ms(p.Now))}, nil
}

// endSegments ends the segments of the leased replicas ids (locked by
// lockLeased) and requeues those replicas. progress (lease id → fuel
// reached) is recorded first. A lost segment adds to its job's churn
// counters: the fuel it reached beyond its last accepted checkpoint is the
// work lost.
func endSegments(ctx context.Context, tx pgx.Tx, state store.SegmentState, now int64, progress map[string]uint64, ids []int64) (int64, error) {
	for id, f := range progress {
		if _, err := tx.Exec(ctx, `UPDATE replicas SET seg_progress = greatest(seg_progress, $1) WHERE lease_id = $2 AND state = 'leased'`, int64(min(f, 1<<62)), id); err != nil {
			return 0, interpretError(err)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO segments(replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at)
		SELECT id, job_id, attempts, $1, coalesce(worker, ''), coalesce(account, 'anon:' || coalesce(worker, '')), session_id, seg_resume_seq, seg_fuel_start, seg_fuel_end, greatest(seg_progress, seg_fuel_end), seg_started_at, $2
		FROM replicas WHERE state = 'leased' AND id = ANY($3) ORDER BY id`, string(state), now, ids); err != nil {
		return 0, interpretError(err)
	}
	if state == store.SegmentLost {
		if _, err := tx.Exec(ctx, `UPDATE jobs SET lost_segments = lost_segments + x.n, fuel_lost = fuel_lost + x.f
			FROM (SELECT job_id, count(*) AS n, sum(greatest(seg_progress, seg_fuel_end) - seg_fuel_end)::bigint AS f
			      FROM replicas WHERE state = 'leased' AND id = ANY($1) GROUP BY job_id) AS x
			WHERE jobs.id = x.job_id`, ids); err != nil {
			return 0, interpretError(err)
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE replicas SET state = 'queued', worker = NULL, account = NULL, session_id = NULL, lease_id = NULL, lease_deadline = NULL
		WHERE state = 'leased' AND id = ANY($1)`, ids)
	if err != nil {
		return 0, interpretError(err)
	}
	if tag.RowsAffected() > 0 {
		if err := notifyWork(ctx, tx); err != nil {
			return 0, err
		}
	}
	return tag.RowsAffected(), nil
}

func (db *DB) SessionEnd(ctx context.Context, p *store.SessionEndParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		tag, err := tx.Exec(ctx, `UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL`, ms(p.Now), p.Reason, p.ID)
		if err != nil {
			return interpretError(err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		state := store.SegmentLost
		if p.Graceful {
			state = store.SegmentReleased
		}
		ids, _, err := lockLeased(ctx, tx, `session_id = $1`, p.ID)
		if err != nil {
			return err
		}
		n, err = endSegments(ctx, tx, state, ms(p.Now), p.Progress, ids)
		return err
	})
	return int(n), err
}

func (db *DB) SessionEndAll(ctx context.Context, p *store.SessionEndAllParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		if _, err := tx.Exec(ctx, `UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE ended_at IS NULL`, ms(p.Now), p.Reason); err != nil {
			return interpretError(err)
		}
		ids, _, err := lockLeased(ctx, tx, `true`)
		if err != nil {
			return err
		}
		n, err = endSegments(ctx, tx, store.SegmentLost, ms(p.Now), nil, ids)
		return err
	})
	return int(n), err
}

func (db *DB) SessionList(ctx context.Context, p *store.SessionListParams) ([]*store.Session, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.pool.Query(ctx, `SELECT id, worker, account, site, slots, remote, started_at, ended_at, coalesce(end_reason,''), coalesce(coordinator, '') FROM sessions ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		var s store.Session
		var start int64
		var end *int64
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
	acct := account(p.Account, p.Worker)
	var out, newGrid []*store.Lease
	var grids map[int64]int64
	// Two round trips: the session's check and the pick (with the BEGIN),
	// and the updates with the COMMIT.
	err := db.txCommitting(ctx, func(tx pgx.Tx) (*pgx.Batch, error) {
		out, newGrid, grids = out[:0], newGrid[:0], map[int64]int64{}
		b := &pgx.Batch{}
		// The session must stay open until this commits: SessionEnd waits
		// for this lock, then finds the leases granted here. Two sessions of
		// one worker name, or of one account, leasing at once would not see
		// each other's picks: they take turns (worker lock first, always).
		// The pick follows in the same pipeline: the server runs it after
		// this statement, so under these locks and on a snapshot taken after
		// them, as when it waited for this one's answer; when the session
		// has ended or its account is banned, what it locked is released
		// unused at the rollback or the commit.
		b.Queue(`SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $2 AND banned_at IS NOT NULL),
				pg_advisory_xact_lock($3, hashtext($4)), pg_advisory_xact_lock($5, hashtext($2))
			FROM sessions WHERE id = $1 AND ended_at IS NULL FOR SHARE`,
			p.SessionID, acct, lockSpace+lockWorker, p.Worker, lockSpace+lockAccount)
		// Replicas of one task are adjacent in the queue; twice Max rows
		// leave room for skipping a second replica of a task in this batch.
		//
		// The replicas are picked, in queue order and locked, by a query on
		// replicas alone, and joined to their tasks, jobs and stdins after:
		// in one query with the joins the planner (above all on a young
		// table, whose statistics say it is nearly empty) sorts every
		// queued replica, running the checks below on each, to return a few.
		// The joins are lateral lookups by key (LIMIT 1: the planner keeps
		// each a lookup per picked replica), and the pick's LIMIT is written
		// into the statement (one statement per batch size, a few): a
		// generic plan does not know a parameter's LIMIT and reckons with a
		// tenth of the queue, for which it hashed the whole of tasks at
		// every lease, and with 20,000 tasks queued and counted (JobInsert's
		// ANALYZE) ran the checks below on every queued replica (40 ms a
		// lease) instead of walking the queue index to the first few.
		b.Queue(`
			WITH pick AS (
			SELECT r.id, r.task_id, r.job_id, r.attempts, r.priority, r.ckpt_seq, r.ckpt_fuel, r.ckpt_hash, r.ckpt_blob
			FROM replicas r
			WHERE r.state = 'queued'
			  -- Never a replica to a worker or an account whose own work it
			  -- would check. An audit of link k checks one claim: the audited
			  -- replica's checkpoint k (the first at or past k), or for the
			  -- final link its result: not to whoever uploaded or reported
			  -- that. A run replica is compared with every other run replica of
			  -- the task: not to any worker or account that holds one, finished
			  -- one, or uploaded a checkpoint of one (its claims; a segment lost
			  -- before its first checkpoint claimed nothing). A requeued replica
			  -- forgets its worker, its checkpoints do not.
			  -- Replicas proved wrong or voided count for nothing. A worker may
			  -- resume its own replica.
			  --
			  -- Scalar subqueries with LIMIT 1, not NOT EXISTS: the planner
			  -- neither turns them into anti joins over the whole tables nor
			  -- hashes every segment of the worker; it walks the queue index
			  -- and looks up a few rows of each candidate's task.
			  AND CASE WHEN r.role = 'audit' THEN NOT coalesce((
			        SELECT true FROM replicas o WHERE o.id = r.audit_of AND o.verdict NOT IN ('lied', 'void') AND (
			          coalesce((SELECT true FROM checkpoints c WHERE c.replica_id = o.id AND (c.worker = $1 OR c.account = $2)
			                    AND c.seq = (SELECT min(c2.seq) FROM checkpoints c2 WHERE c2.replica_id = o.id AND c2.seq >= r.audit_seq) LIMIT 1), false)
			          OR (NOT coalesce((SELECT true FROM checkpoints c2 WHERE c2.replica_id = o.id AND c2.seq >= r.audit_seq LIMIT 1), false)
			              AND (o.worker = $1 OR o.account = $2)))), false)
			      ELSE NOT coalesce((SELECT true FROM replicas o WHERE o.task_id = r.task_id AND o.id <> r.id AND o.role = 'run' AND o.verdict NOT IN ('lied', 'void')
			        AND (o.worker = $1 OR o.account = $2
			             OR coalesce((SELECT true FROM checkpoints c WHERE c.replica_id = o.id AND (c.worker = $1 OR c.account = $2) LIMIT 1), false))
			        LIMIT 1), false) END
			  -- An account on probation (LeaseProbation.Mode).
			  AND ($3 = 0 OR (SELECT j.max_error >= 1 FROM jobs j WHERE j.id = r.job_id) OR ($3 = 1 AND (r.role = 'audit' OR r.idx > 0)))
			ORDER BY r.priority DESC, r.id
			LIMIT `+strconv.Itoa(p.Max*2)+`
			FOR UPDATE OF r SKIP LOCKED)
			SELECT r.id, r.task_id, r.job_id, t.idx, j.module_hash, t.stdin_hash, b.data, t.args, t.env, t.files, t.seed,
			       j.fuel, j.memory, j.max_output, j.timeout_ms, r.attempts,
			       j.suspendable, coalesce(t.grid, 0), r.ckpt_seq, r.ckpt_fuel, coalesce(r.ckpt_hash, ''), coalesce(r.ckpt_blob, ''), j.max_error < 1
			FROM pick r
			CROSS JOIN LATERAL (SELECT * FROM tasks t WHERE t.id = r.task_id LIMIT 1) t
			CROSS JOIN LATERAL (SELECT * FROM jobs j WHERE j.id = r.job_id LIMIT 1) j
			CROSS JOIN LATERAL (SELECT data FROM blobs b WHERE b.hash = t.stdin_hash LIMIT 1) b
			ORDER BY r.priority DESC, r.id`, p.Worker, acct, p.Probation.Mode())
		br, err := tx.(*lazyTx).firstBatch(ctx, b)
		if err != nil {
			return nil, interpretError(err)
		}
		defer br.Close()
		var banned bool
		if err := br.QueryRow().Scan(&banned, nil, nil); err != nil {
			return nil, interpretError(err)
		}
		if banned {
			return nil, nil // caught lying: no more work
		}
		rows, err := br.Query()
		if err != nil {
			return nil, interpretError(err)
		}
		seen := map[int64]bool{} // one replica per task per worker, within this batch too
		verifying := 0           // leases of verifying jobs (p.Probation)
		for rows.Next() {
			var l store.Lease
			var args, env, files string
			var seed int64
			var att int
			var suspendable bool
			var grid int64
			var ck store.Checkpoint
			if err := rows.Scan(&l.ReplicaID, &l.TaskID, &l.JobID, &l.TaskIndex, &l.ModuleHash, &l.StdinHash, &l.Stdin, &args, &env, &files, &seed,
				&l.Limits.Fuel, &l.Limits.MemoryBytes, &l.Limits.MaxOutput, &l.Limits.TimeoutMS, &att,
				&suspendable, &grid, &ck.Seq, &ck.Fuel, &ck.StateHash, &ck.SnapshotHash, &l.Verifies); err != nil {
				rows.Close()
				return nil, interpretError(err)
			}
			if seen[l.TaskID] || len(out) == p.Max {
				continue
			}
			if p.Probation != nil && l.Verifies {
				if verifying == p.Probation.Max {
					continue
				}
				verifying++
			}
			seen[l.TaskID] = true
			if l.Stdin == nil {
				l.Stdin = []byte{}
			}
			l.Seed = uint64(seed)
			json.Unmarshal([]byte(args), &l.Args)
			json.Unmarshal([]byte(env), &l.Env)
			json.Unmarshal([]byte(files), &l.Files)
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
			return nil, interpretError(err)
		}
		if err := br.Close(); err != nil {
			return nil, interpretError(err)
		}
		if len(out) == 0 {
			return nil, nil
		}
		n := len(out)
		ids, leaseIDs, seqs, fuels := make([]int64, n), make([]string, n), make([]int64, n), make([]int64, n)
		var resumed []int64 // job of each resumed lease
		for i, l := range out {
			ids[i], leaseIDs[i] = l.ReplicaID, l.LeaseID
			if l.Resume != nil {
				seqs[i], fuels[i] = int64(l.Resume.Seq), int64(l.Resume.Fuel)
				resumed = append(resumed, l.JobID)
			}
		}
		b = &pgx.Batch{}
		b.Queue(`UPDATE replicas r SET state = 'leased', worker = $1, account = $9, session_id = $2, lease_id = u.lease, lease_deadline = $3,
				attempts = r.attempts + 1, seg_resume_seq = u.seq, seg_fuel_start = u.fuel, seg_fuel_end = u.fuel, seg_progress = u.fuel, seg_started_at = $4
			FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::bigint[]) AS u(id, lease, seq, fuel) WHERE r.id = u.id`,
			p.Worker, p.SessionID, ms(p.Deadline), ms(p.Now), ids, leaseIDs, seqs, fuels, acct)
		if len(newGrid) > 0 {
			// A task keeps the grid its first lease gave it: another
			// dispatcher may have given it one since this one looked.
			tids := make([]int64, len(newGrid))
			for i, l := range newGrid {
				tids[i] = l.TaskID
			}
			b.Queue(`UPDATE tasks SET grid = coalesce(grid, $1) WHERE id = ANY($2) RETURNING id, grid`, int64(p.CheckpointEvery), tids).Query(func(rows pgx.Rows) error {
				defer rows.Close()
				for rows.Next() {
					var id, g int64
					if err := rows.Scan(&id, &g); err != nil {
						return err
					}
					grids[id] = g
				}
				return rows.Err()
			})
		}
		// Tasks before jobs: the order TaskSettle takes them in.
		if len(resumed) > 0 {
			b.Queue(`UPDATE jobs SET resumes = resumes + x.n
				FROM (SELECT job_id, count(*) AS n FROM unnest($1::bigint[]) AS u(job_id) GROUP BY job_id) AS x WHERE jobs.id = x.job_id`, resumed)
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Resume {
		for _, l := range newGrid {
			l.CheckpointEvery = uint64(grids[l.TaskID])
		}
	}
	return out, nil
}

func (db *DB) ReplicaRenew(ctx context.Context, p *store.ReplicaRenewParams) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		// The session's replicas locked in id order, as every other locker
		// of several replicas takes them (a result batch, a settlement):
		// an UPDATE alone would take them in the order it finds them, and
		// deadlock with those.
		if _, err := tx.Exec(ctx, `UPDATE replicas SET lease_deadline = $1 WHERE state = 'leased' AND session_id = $2
			AND id IN (SELECT id FROM replicas WHERE state = 'leased' AND session_id = $2 ORDER BY id FOR UPDATE)`, ms(p.Deadline), p.SessionID); err != nil {
			return interpretError(err)
		}
		for id, f := range p.Progress {
			if _, err := tx.Exec(ctx, `UPDATE replicas SET seg_progress = greatest(seg_progress, $1) WHERE lease_id = $2 AND session_id = $3 AND state = 'leased'`,
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
	err := db.txCommitting(ctx, func(tx pgx.Tx) (*pgx.Batch, error) {
		return complete(ctx, tx, p.Results, now, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// completing is a leased replica as complete reads it.
type completing struct {
	id, task, job        int64
	role, state          string
	session              int64
	worker, account      string
	attempts             int64
	resumeSeq, fuelStart int64
	started              int64
}

// complete records a batch of results: each replica is done, its segment
// ends done. Whether the task is settled is the verifier's to decide.
//
// The committer hands over every result that arrived while it wrote the
// previous batch, so the statements are per batch, not per result: one
// locks every replica named (in id order, as every other locker of
// several replicas does, so that a renewal or a settlement cannot
// deadlock with it), one stores the outputs, one updates the replicas and
// one inserts the segments. Only a resumed replica's earlier output is
// read per result.
func complete(ctx context.Context, tx pgx.Tx, results []store.ReplicaResult, now int64, out []store.ReplicaOutcome) (*pgx.Batch, error) {
	leaseIDs := make([]string, len(results))
	for i := range results {
		out[i] = store.ReplicaOutcome{}
		leaseIDs[i] = results[i].LeaseID
	}
	held := map[string]*completing{}
	if err := collect(ctx, tx, `SELECT lease_id, id, task_id, job_id, role, state, coalesce(session_id, 0), coalesce(worker, ''), coalesce(account, ''), attempts,
			seg_resume_seq, seg_fuel_start, coalesce(seg_started_at, 0)
		FROM replicas WHERE lease_id = ANY($1) ORDER BY id FOR UPDATE`, func(r pgx.Rows) error {
		var lease string
		var c completing
		if err := r.Scan(&lease, &c.id, &c.task, &c.job, &c.role, &c.state, &c.session, &c.worker, &c.account, &c.attempts,
			&c.resumeSeq, &c.fuelStart, &c.started); err != nil {
			return err
		}
		held[lease] = &c
		return nil
	}, leaseIDs); err != nil {
		return nil, err
	}
	var blobs [][]byte
	var u struct {
		id, exit, fuel, wall, job, seq, session, resume, start, end, started []int64
		status, message, stdout, stderr, worker, account                     []string
	}
	for i := range results {
		r := &results[i]
		c := held[r.LeaseID]
		if c == nil || c.state != string(store.ReplicaLeased) || c.session != r.SessionID {
			out[i] = store.ReplicaOutcome{Err: store.ErrLeaseNotHeld}
			continue
		}
		if r.Fuel >= 1<<63 {
			return nil, fmt.Errorf("postgres: result of lease %s reports fuel %d, beyond any limit", r.LeaseID, r.Fuel)
		}
		delete(held, r.LeaseID) // a second result of the lease in this batch finds it done
		out[i] = store.ReplicaOutcome{ReplicaID: c.id, TaskID: c.task, JobID: c.job, Role: store.ReplicaRole(c.role)}
		stdout, stderr := r.Stdout, r.Stderr
		if c.resumeSeq > 0 {
			// The segment's output follows the output up to the checkpoint it
			// resumed from (for an audit, the audited replica's, copied).
			pre, pre2, err := outputUpTo(ctx, tx, c.id, uint64(c.resumeSeq))
			if err != nil {
				return nil, err
			}
			stdout, stderr = append(pre, stdout...), append(pre2, stderr...)
		}
		blobs = append(blobs, stdout, stderr)
		u.id, u.exit, u.fuel, u.wall = append(u.id, c.id), append(u.exit, int64(r.ExitCode)), append(u.fuel, int64(r.Fuel)), append(u.wall, r.WallMS)
		u.status, u.message = append(u.status, r.Status), append(u.message, r.Message)
		u.stdout, u.stderr = append(u.stdout, store.Hash(stdout)), append(u.stderr, store.Hash(stderr))
		u.job, u.seq, u.session = append(u.job, c.job), append(u.seq, c.attempts), append(u.session, r.SessionID)
		u.worker, u.account = append(u.worker, c.worker), append(u.account, account(c.account, c.worker))
		u.resume, u.start, u.end = append(u.resume, c.resumeSeq), append(u.start, c.fuelStart), append(u.end, int64(min(r.Fuel, 1<<62)))
		u.started = append(u.started, c.started)
	}
	if len(u.id) == 0 {
		return nil, nil
	}
	if err := putBlobs(ctx, tx, now, blobs...); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE replicas r SET state = 'done', lease_id = NULL, lease_deadline = NULL, status = u.status, exit_code = u.exit,
			message = u.message, stdout_hash = u.stdout, stderr_hash = u.stderr, fuel = u.fuel, wall_ms = u.wall, finished_at = $1
		FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])
			AS u(id, status, exit, message, stdout, stderr, fuel, wall)
		WHERE r.id = u.id`, now, u.id, u.status, u.exit, u.message, u.stdout, u.stderr, u.fuel, u.wall)
	b.Queue(`INSERT INTO segments(replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at)
		SELECT u.id, u.job, u.seq, 'done', u.worker, u.account, u.session, u.resume, u.start, u.fuel_end, u.fuel_end, u.started, $1
		FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
			WITH ORDINALITY AS u(id, job, seq, worker, account, session, resume, start, fuel_end, started, n)
		ORDER BY u.n`, now, u.id, u.job, u.seq, u.worker, u.account, u.session, u.resume, u.start, u.end, u.started)
	return b, nil
}

func (db *DB) ReplicaRequeueExpired(ctx context.Context, p *store.ReplicaRequeueExpiredParams) ([]store.RevokedLease, error) {
	var revoked []store.RevokedLease
	err := db.tx(ctx, func(tx pgx.Tx) error {
		ids, rv, err := lockLeased(ctx, tx, `lease_deadline < $1`, ms(p.Now))
		revoked = rv
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = endSegments(ctx, tx, store.SegmentLost, ms(p.Now), nil, ids)
		return err
	})
	return revoked, err
}

func (db *DB) ReplicaRelease(ctx context.Context, p *store.ReplicaReleaseParams) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, id := range p.LeaseIDs {
			var prog map[string]uint64
			if f, ok := p.Progress[id]; ok {
				prog = map[string]uint64{id: f}
			}
			ids, _, err := lockLeased(ctx, tx, `session_id = $1 AND lease_id = $2`, p.SessionID, id)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				continue // not this session's: its progress is not ours to record
			}
			k, err := endSegments(ctx, tx, store.SegmentReleased, ms(p.Now), prog, ids)
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
	// Only jobs that verify count, and only their pending tasks: those jobs
	// are found first, so that with none running (every job at max error
	// 1) the account's segments, its whole history, are not read at all.
	// The dispatcher asks this before every lease of an account on
	// probation: its generic plan (one round trip all the same: BEGIN,
	// SET LOCAL, the query and COMMIT in one pipeline), which the
	// materialized CTE's one-time filter keeps as cheap to run, saves
	// planning it at every call.
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	b.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
	b.Queue(`
		WITH v AS MATERIALIZED (SELECT j.id FROM jobs j WHERE j.max_error < 1
			AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state = 'pending'))
		SELECT count(*) FILTER (WHERE r.role = 'run' AND r.idx = 0), count(*) FILTER (WHERE NOT (r.role = 'run' AND r.idx = 0))
		FROM segments g JOIN replicas r ON r.id = g.replica_id JOIN tasks t ON t.id = r.task_id
		WHERE EXISTS (SELECT 1 FROM v) AND t.job_id IN (SELECT id FROM v)
		  AND g.account = $1 AND g.state = 'done' AND r.verdict NOT IN ('lied', 'void', 'agreed') AND t.state = 'pending'`, account).
		QueryRow(func(row pgx.Row) error { return row.Scan(&p.Own, &p.Verification) })
	b.Queue(`COMMIT`)
	return p, interpretError(db.pool.SendBatch(ctx, b).Close())
}

func (db *DB) ReplicaCountQueued(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM replicas WHERE state = 'queued'`).Scan(&n)
	return n, interpretError(err)
}

func (db *DB) WorkerStats(ctx context.Context) ([]*store.WorkerStat, error) {
	// COLLATE "C": names in byte order, as SQLite sorts them, whatever the
	// database's collation.
	rows, err := db.pool.Query(ctx, `
		SELECT s.worker, count(*), count(*) FILTER (WHERE s.ended_at IS NULL),
		       (SELECT count(*) FROM segments g WHERE g.worker = s.worker AND (g.state = 'done' OR g.fuel_end > g.fuel_start)),
		       coalesce((SELECT sum(greatest(coalesce(fuel_end, 0) - fuel_start, 0)) FROM segments g WHERE g.worker = s.worker), 0)::bigint
		FROM sessions s GROUP BY s.worker ORDER BY s.worker COLLATE "C"`)
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
func outputUpTo(ctx context.Context, tx pgx.Tx, replica int64, seq uint64) (stdout, stderr []byte, err error) {
	err = collect(ctx, tx, `SELECT o.data, e.data FROM checkpoints c JOIN blobs o ON o.hash = c.stdout_hash JOIN blobs e ON e.hash = c.stderr_hash
		WHERE c.replica_id = $1 AND c.seq <= $2 ORDER BY c.seq`, func(r pgx.Rows) error {
		var o, e []byte
		if err := r.Scan(&o, &e); err != nil {
			return err
		}
		stdout, stderr = append(stdout, o...), append(stderr, e...)
		return nil
	}, replica, int64(seq))
	return stdout, stderr, err
}

func (db *DB) CheckpointAdd(ctx context.Context, p *store.CheckpointAddParams) (*store.CheckpointAdded, error) {
	var out store.CheckpointAdded
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = store.CheckpointAdded{}
		var state, worker, acct string
		var sess int64
		var seq, fuel uint64
		err := tx.QueryRow(ctx, `SELECT r.id, r.task_id, r.job_id, r.role, r.state, coalesce(r.session_id, 0), coalesce(r.worker, ''), s.account, r.ckpt_seq, r.ckpt_fuel
			FROM replicas r JOIN sessions s ON s.id = r.session_id WHERE r.lease_id = $1 FOR UPDATE OF r`, p.LeaseID).
			Scan(&out.ReplicaID, &out.TaskID, &out.JobID, &out.Role, &state, &sess, &worker, &acct, &seq, &fuel)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (state != string(store.ReplicaLeased) || sess != p.SessionID)) {
			return store.ErrLeaseNotHeld
		}
		if err != nil {
			return interpretError(err)
		}
		if p.Seq <= seq || p.Fuel <= fuel || p.Seq >= 1<<62 || p.Fuel >= 1<<62 {
			return fmt.Errorf("%w: checkpoint %d at fuel %d after %d at fuel %d", store.ErrCheckpointOrder, p.Seq, p.Fuel, seq, fuel)
		}
		now := ms(p.Now)
		if err := putBlobs(ctx, tx, now, p.Snapshot, p.Stdout, p.Stderr); err != nil {
			return err
		}
		snapH, outH, errH := store.Hash(p.Snapshot), store.Hash(p.Stdout), store.Hash(p.Stderr)
		if _, err := tx.Exec(ctx, `INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account, session_id, cost_ms, created_at)
			VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`, out.ReplicaID, out.TaskID, int64(p.Seq), int64(p.Fuel), p.StateHash, snapH, outH, errH,
			worker, acct, p.SessionID, p.CostMS, now); err != nil {
			return interpretError(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE replicas SET ckpt_seq = $1, ckpt_fuel = $2, ckpt_hash = $3, ckpt_blob = $4, seg_fuel_end = $2,
			seg_progress = greatest(seg_progress, $2) WHERE id = $5`, int64(p.Seq), int64(p.Fuel), p.StateHash, snapH, out.ReplicaID); err != nil {
			return interpretError(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET checkpoints = checkpoints + 1 WHERE id = $1`, out.JobID); err != nil {
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
	rows, err := db.pool.Query(ctx, `SELECT `+ckptCols+` FROM checkpoints WHERE replica_id = $1 ORDER BY seq`, p.ReplicaID)
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

// ckptCols: the site is the uploading session's (sessions are never
// deleted).
const ckptCols = `replica_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account,
	coalesce((SELECT site FROM sessions s WHERE s.id = checkpoints.session_id), ''), cost_ms, created_at`

func scanCheckpoint(row pgx.Row) (*store.Checkpoint, error) {
	var c store.Checkpoint
	var created int64
	if err := row.Scan(&c.ReplicaID, &c.Seq, &c.Fuel, &c.StateHash, &c.SnapshotHash, &c.StdoutHash, &c.StderrHash, &c.Worker, &c.Account, &c.Site, &c.CostMS, &created); err != nil {
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
	rows, err := db.pool.Query(ctx, `SELECT g.replica_id, t.idx, g.worker, g.account, g.state, g.resume_seq, g.fuel_start, coalesce(g.fuel_end, 0),
		coalesce(g.fuel_reached, g.fuel_end, 0), g.started_at, g.finished_at
		FROM replicas r JOIN tasks t ON t.id = r.task_id JOIN segments g ON g.replica_id = r.id
		WHERE r.job_id = $1 ORDER BY g.id LIMIT $2`, p.JobID, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Segment
	for rows.Next() {
		var g store.Segment
		var start, end *int64
		if err := rows.Scan(&g.ReplicaID, &g.TaskIndex, &g.Worker, &g.Account, &g.State, &g.ResumeSeq, &g.FuelStart, &g.FuelEnd, &g.FuelReached, &start, &end); err != nil {
			return nil, interpretError(err)
		}
		g.StartedAt, g.EndedAt = fromMS(start), fromMS(end)
		out = append(out, &g)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) TokenInsert(ctx context.Context, p *store.TokenInsertParams) (*store.Token, error) {
	kind := p.Kind
	switch kind {
	case "":
		kind = store.TokenOwner
	case store.TokenOwner, store.TokenVolunteer, store.TokenTrusted:
	default:
		return nil, fmt.Errorf("postgres: unknown token kind %q", p.Kind)
	}
	var id int64
	err := db.pool.QueryRow(ctx, `INSERT INTO tokens(kind, owner, name, hash, created_at) VALUES($1,$2,$3,$4,$5) RETURNING id`,
		kind, p.Owner, p.Name, p.Hash, ms(p.Now)).Scan(&id)
	if err != nil {
		return nil, interpretError(err)
	}
	return &store.Token{ID: id, Kind: kind, Owner: p.Owner, Name: p.Name, CreatedAt: time.UnixMilli(ms(p.Now))}, nil
}

func (db *DB) TokenLookup(ctx context.Context, p *store.TokenLookupParams) (*store.Token, error) {
	return scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1 AND revoked_at IS NULL`, p.Hash))
}

func (db *DB) TokenList(ctx context.Context, p *store.TokenListParams) ([]*store.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens WHERE $1::text = '' OR owner = $1 ORDER BY id`, p.Owner)
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ms(p.Now), p.ID); err != nil {
			return interpretError(err)
		}
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1`, p.ID))
		return err
	})
	return t, err
}

const tokenCols = `id, kind, owner, name, created_at, revoked_at`

func scanToken(row pgx.Row) (*store.Token, error) {
	var t store.Token
	var created int64
	var revoked *int64
	if err := row.Scan(&t.ID, &t.Kind, &t.Owner, &t.Name, &created, &revoked); err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt = time.UnixMilli(created)
	if revoked != nil {
		t.RevokedAt = time.UnixMilli(*revoked)
	}
	return &t, nil
}
