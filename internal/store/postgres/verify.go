package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crowdrun/crowdrun/internal/store"
)

// The verification methods record what internal/verify decides; none of
// them compares results. Lock order, as everywhere in this driver: replicas,
// then the task, then the job (TaskSettle, TaskReopen; JobCancel takes the
// job's replicas, the job, then its tasks), so settlements, cancellations
// and leases queue behind each other instead of deadlocking.

// read runs fn in a read-only transaction on one snapshot, so that what it
// reads with several queries is consistent.
func (db *DB) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return interpretError(pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

func (db *DB) TaskEvidence(ctx context.Context, taskID int64) (*store.TaskEvidence, error) {
	evs, err := db.TaskEvidenceBatch(ctx, []int64{taskID})
	if err != nil {
		return nil, err
	}
	return store.EvidenceFound(evs[0], taskID)
}

// TaskEvidenceBatch reads tasks on one snapshot with one round trip: its
// queries go in one pipeline (pgx.Batch) between BEGIN and COMMIT, each
// for every task at once. The verifier reads a task's evidence for every
// result, so each round trip and statement here is paid per task or per
// batch. A query that fails leaves the transaction aborted: the pool then
// closes that connection rather than reuse it.
func (db *DB) TaskEvidenceBatch(ctx context.Context, ids []int64) ([]*store.TaskEvidence, error) {
	out := make([]*store.TaskEvidence, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	byTask := map[int64]*store.TaskEvidence{}
	byID := map[int64]*store.ReplicaInfo{}
	// The accounts that computed part of a replica: its checkpoints'
	// (by sequence, so an audit's copies first), then its segments'.
	seen := map[int64]map[string]bool{}
	addAccount := func(ri *store.ReplicaInfo, a string) {
		if seen[ri.ID] == nil {
			seen[ri.ID] = map[string]bool{}
		}
		if a != "" && !seen[ri.ID][a] {
			seen[ri.ID][a] = true
			ri.Accounts = append(ri.Accounts, a)
		}
	}
	each := func(scan func(pgx.Rows) error) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	// Generic plans (a statement with an array parameter is otherwise
	// planned afresh at every call: about as much server time as running
	// it). They were worse once, planned on a young table's counts; with
	// JobInsert's ANALYZE (analyzeAfter) they read what the custom plans
	// read (docs/store.md).
	b.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
	// Each task with its job: one statement (its job's columns follow the
	// task's and its grid).
	b.Queue(`SELECT t.*, j.* FROM (SELECT `+taskCols+`, coalesce(grid, 0) FROM tasks WHERE id = ANY($1)) t
		CROSS JOIN LATERAL (SELECT `+jobCols+` FROM jobs WHERE jobs.id = t.job_id) j`, ids).Query(each(func(rows pgx.Rows) error {
		var grid int64
		var j *store.Job
		t, err := scanTask(thenJob{rows, &j}, &grid)
		if err != nil {
			return err
		}
		byTask[t.ID] = &store.TaskEvidence{Task: t, Job: j, Grid: uint64(grid), Accounts: map[string]*store.Account{}}
		return nil
	}))
	// Who holds or ran it last: the holder, or the last segment's; and
	// the accounts of its segments, in order (added to its accounts after
	// its checkpoints'), each replica's by a lookup of its own (replica_id
	// leads an index), not a join: planned on a young table's statistics,
	// the join scanned every segment for each task. One lookup gives both
	// (an aggregate: one row, NULLs when the replica has no segment).
	segAccounts := map[int64][]string{}
	b.Queue(`SELECT r.task_id, r.id, r.role, r.state, r.verdict, coalesce(r.audit_of, 0), r.audit_seq,
			coalesce(r.worker, g.worker, ''), coalesce(r.account, g.account, ''),
			coalesce((SELECT site FROM sessions s WHERE s.id = coalesce(r.session_id, g.session_id)), ''),
			r.status, coalesce(r.exit_code, 0), coalesce(r.message, ''), coalesce(r.stdout_hash, ''), coalesce(r.stderr_hash, ''), coalesce(r.fuel, 0),
			coalesce(g.accounts, '{}')
		FROM replicas r CROSS JOIN LATERAL (
			SELECT (array_agg(worker ORDER BY seq DESC, id DESC))[1] AS worker, (array_agg(account ORDER BY seq DESC, id DESC))[1] AS account,
			       (array_agg(session_id ORDER BY seq DESC, id DESC))[1] AS session_id, array_agg(account ORDER BY seq, id) AS accounts
			FROM segments WHERE replica_id = r.id) g
		WHERE r.task_id = ANY($1) ORDER BY r.id`, ids).Query(each(func(rows pgx.Rows) error {
		var task int64
		var ri store.ReplicaInfo
		var status *string
		var res store.Result
		var segs []string
		if err := rows.Scan(&task, &ri.ID, &ri.Role, &ri.State, &ri.Verdict, &ri.AuditOf, &ri.AuditSeq, &ri.Worker, &ri.Account, &ri.Site,
			&status, &res.ExitCode, &res.Message, &res.StdoutHash, &res.StderrHash, &res.Fuel, &segs); err != nil {
			return err
		}
		if ri.State == store.ReplicaDone && status != nil {
			res.Status = *status
			ri.Result = &res
		}
		if ev := byTask[task]; ev != nil {
			byID[ri.ID] = &ri
			ev.Replicas = append(ev.Replicas, &ri)
			segAccounts[ri.ID] = segs
		}
		return nil
	}))
	b.Queue(`SELECT `+ckptCols+` FROM checkpoints WHERE task_id = ANY($1) ORDER BY replica_id, seq`, ids).Query(each(func(rows pgx.Rows) error {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return err
		}
		if ri := byID[c.ReplicaID]; ri != nil {
			ri.Checkpoints = append(ri.Checkpoints, c)
			addAccount(ri, c.Account)
		}
		return nil
	}))
	// The records of the accounts each task names (replicas', checkpoints',
	// segments'), each looked up by its key.
	b.Queue(`SELECT n.task_id, `+prefixed("a.", accountCols)+` FROM (
			SELECT task_id, account FROM replicas WHERE task_id = ANY($1) AND account IS NOT NULL
			UNION SELECT task_id, account FROM checkpoints WHERE task_id = ANY($1)
			UNION SELECT r.task_id, g.account FROM replicas r CROSS JOIN LATERAL (SELECT account FROM segments WHERE replica_id = r.id) g
				WHERE r.task_id = ANY($1) AND g.account IS NOT NULL) n
		CROSS JOIN LATERAL (SELECT * FROM accounts WHERE id = n.account) a`, ids).Query(each(func(rows pgx.Rows) error {
		var task int64
		rec, err := scanAccount(prefixRow{rows, []any{&task}})
		if err != nil {
			return err
		}
		if ev := byTask[task]; ev != nil {
			ev.Accounts[rec.ID] = rec
		}
		return nil
	}))
	b.Queue(`COMMIT`)
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(err)
	}
	for id, segs := range segAccounts {
		for _, a := range segs {
			addAccount(byID[id], a)
		}
	}
	for _, ev := range byTask {
		ev.CompleteAccounts()
	}
	for i, id := range ids {
		out[i] = byTask[id]
	}
	return out, nil
}

// prefixed qualifies each of a list of columns with a table's alias.
func prefixed(alias, cols string) string {
	return alias + strings.ReplaceAll(cols, ", ", ", "+alias)
}

// thenJob is a row whose columns after those its scanner asks for are a
// job's (jobCols), scanned into *job.
type thenJob struct {
	row pgx.Row
	job **store.Job
}

func (r thenJob) Scan(dest ...any) error {
	j, err := scanJob(prefixRow{r.row, dest})
	*r.job = j
	return err
}

// prefixRow is a row whose first columns go to extra, the rest to the
// scanner it is given to.
type prefixRow struct {
	row   pgx.Row
	extra []any
}

func (r prefixRow) Scan(dest ...any) error {
	return r.row.Scan(append(slices.Clone(r.extra), dest...)...)
}

func (db *DB) ReplicaAdd(ctx context.Context, p *store.ReplicaAddParams) (int64, error) {
	role := p.Role
	switch role {
	case store.RoleRun:
	case store.RoleAudit:
		if p.AuditOf == 0 || p.AuditSeq < 1 || p.AuditSeq >= 1<<62 {
			return 0, fmt.Errorf("postgres: an audit replica needs the replica it audits and a link ≥ 1 (got replica %d, link %d)", p.AuditOf, p.AuditSeq)
		}
	default:
		return 0, fmt.Errorf("postgres: unknown replica role %q", p.Role)
	}
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var state string
		var jobID, prio int64
		// The task's row lock keeps TaskSettle out until the replica is in.
		if err := tx.QueryRow(ctx, `SELECT t.state, t.job_id, j.priority FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = $1 FOR UPDATE OF t`, p.TaskID).
			Scan(&state, &jobID, &prio); err != nil {
			return interpretError(err)
		}
		if state != string(store.TaskPending) {
			return fmt.Errorf("%w: task %d is %s", store.ErrTaskSettled, p.TaskID, state)
		}
		var start *store.Checkpoint // where the audit resumes
		if role == store.RoleAudit {
			var of int64
			if err := tx.QueryRow(ctx, `SELECT task_id FROM replicas WHERE id = $1`, p.AuditOf).Scan(&of); err != nil || of != p.TaskID {
				if err == nil || errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("postgres: replica %d to audit is not a replica of task %d: %w", p.AuditOf, p.TaskID, store.ErrNotFound)
				}
				return interpretError(err)
			}
			if p.AuditSeq > 1 {
				c, err := scanCheckpoint(tx.QueryRow(ctx, `SELECT `+ckptCols+` FROM checkpoints WHERE replica_id = $1 AND seq = $2`, p.AuditOf, int64(p.AuditSeq-1)))
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("postgres: replica %d has no checkpoint %d to audit link %d from: %w", p.AuditOf, p.AuditSeq-1, p.AuditSeq, store.ErrNotFound)
				}
				if err != nil {
					return err
				}
				start = c
			}
		}
		var auditOf *int64
		if role == store.RoleAudit {
			auditOf = &p.AuditOf
		}
		if err := tx.QueryRow(ctx, `INSERT INTO replicas(task_id, job_id, idx, priority, state, role, audit_of, audit_seq)
			VALUES($1, $2, (SELECT coalesce(max(idx), -1) + 1 FROM replicas WHERE task_id = $1), $3, 'queued', $4, $5, $6) RETURNING id`,
			p.TaskID, jobID, prio+1, string(role), auditOf, int64(p.AuditSeq)).Scan(&id); err != nil { // ahead of the job's new work
			return interpretError(err)
		}
		if err := notifyWork(ctx, tx); err != nil {
			return err
		}
		if start == nil {
			return nil
		}
		// The audited replica's chain up to the link, same blobs, same
		// accounts: the audit's lease resumes from its end.
		if _, err := tx.Exec(ctx, `INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash,
				worker, account, session_id, cost_ms, created_at)
			SELECT $1, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account, session_id, cost_ms, created_at
			FROM checkpoints WHERE replica_id = $2 AND seq < $3 ORDER BY seq`, id, p.AuditOf, int64(p.AuditSeq)); err != nil {
			return interpretError(err)
		}
		_, err := tx.Exec(ctx, `UPDATE replicas SET ckpt_seq = $1, ckpt_fuel = $2, ckpt_hash = $3, ckpt_blob = $4 WHERE id = $5`,
			int64(start.Seq), int64(start.Fuel), start.StateHash, start.SnapshotHash, id)
		return interpretError(err)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// cancelReplicas cancels the queued and leased replicas among ids (locked by
// the caller): the leased ones' segments end revoked. It returns the leases
// taken back.
func cancelReplicas(ctx context.Context, tx pgx.Tx, now int64, ids []int64) ([]store.RevokedLease, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	leased, revoked, err := lockLeased(ctx, tx, `id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	if _, err := endSegments(ctx, tx, store.SegmentRevoked, now, nil, leased); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE replicas SET state = 'cancelled', lease_id = NULL, session_id = NULL, lease_deadline = NULL
		WHERE id = ANY($1) AND state IN ('queued','leased')`, ids); err != nil {
		return nil, interpretError(err)
	}
	return revoked, nil
}

// lockLive locks a task's replicas still queued or leased, by id.
func lockLive(ctx context.Context, tx pgx.Tx, taskID int64) ([]int64, error) {
	var ids []int64
	err := collect(ctx, tx, `SELECT id FROM replicas WHERE task_id = $1 AND state IN ('queued','leased') ORDER BY id FOR UPDATE`,
		func(r pgx.Rows) error { var id int64; ids = append(ids, id); return r.Scan(&ids[len(ids)-1]) }, taskID)
	return ids, err
}

func (db *DB) ReplicaVerdict(ctx context.Context, p *store.ReplicaVerdictParams) ([]store.RevokedLease, error) {
	switch p.Verdict {
	case store.VerdictNone, store.VerdictAgreed, store.VerdictLied, store.VerdictVoid:
	default:
		return nil, fmt.Errorf("postgres: unknown verdict %q", p.Verdict)
	}
	var revoked []store.RevokedLease
	err := db.tx(ctx, func(tx pgx.Tx) error {
		revoked = nil
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM replicas WHERE id = $1 FOR UPDATE`, p.ReplicaID).Scan(&state); err != nil {
			return interpretError(err)
		}
		var err error
		if revoked, err = cancelReplicas(ctx, tx, ms(p.Now), []int64{p.ReplicaID}); err != nil {
			return err
		}
		// An account on probation whose claim this settles may lease again.
		if err := notifyWork(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE replicas SET verdict = $1 WHERE id = $2`, string(p.Verdict), p.ReplicaID)
		return interpretError(err)
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

func knownVerification(v string) bool {
	switch v {
	case store.VerifyNone, store.VerifyAudit, store.VerifyQuorum, store.VerifyTrusted:
		return true
	}
	return false
}

func (db *DB) TaskSettle(ctx context.Context, p *store.TaskSettleParams) (*store.TaskSettled, error) {
	out, err := db.TaskSettleBatch(ctx, []*store.TaskSettleParams{p})
	if err != nil {
		return nil, err
	}
	return out[0].Settled, out[0].Err
}

// checkSettle is what TaskSettle refuses before it looks at the database.
func checkSettle(p *store.TaskSettleParams) error {
	if p.State != store.TaskDone && p.State != store.TaskDisputed {
		return fmt.Errorf("postgres: a task settles done or disputed, not %q", p.State)
	}
	if !knownVerification(p.Verification) {
		return fmt.Errorf("postgres: unknown verification method %q", p.Verification)
	}
	if p.Result.Fuel >= 1<<63 {
		return fmt.Errorf("postgres: result fuel %d beyond any limit", p.Result.Fuel)
	}
	for _, a := range p.Accounts {
		if a.ID == "" {
			return fmt.Errorf("postgres: an account needs an ID")
		}
	}
	return checkLedger(p.Ledger)
}

func copyErrs(out []store.TaskSettleOutcome, errs []error) {
	for i := range out {
		out[i] = store.TaskSettleOutcome{Err: errs[i]}
	}
}

// mergeAccounts sums additions to the same account (Ban ignored), in the
// order of their IDs, each keeping the first one's Now: a batch's
// settlements update each account's row once, and two batches lock the
// rows they share in one order.
func mergeAccounts(accts []store.AccountAddParams) []store.AccountAddParams {
	var out []store.AccountAddParams
	at := map[string]int{}
	for _, a := range accts {
		i, ok := at[a.ID]
		if !ok {
			at[a.ID] = len(out)
			a.Ban = false
			out = append(out, a)
			continue
		}
		o := &out[i]
		o.Verified += a.Verified
		o.AuditsPassed += a.AuditsPassed
		o.AuditsRun += a.AuditsRun
		o.LiesCaught += a.LiesCaught
		o.AuditLies += a.AuditLies
	}
	slices.SortFunc(out, func(a, b store.AccountAddParams) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// TaskSettleBatch settles its tasks in one transaction of three round trips
// (a batch of one is TaskSettle): the tasks and their live replicas are
// locked in one pipeline (pgx.Batch) with the BEGIN; the replicas still
// running are cancelled (rare: a quorum's or audit's leftovers); and each
// job's row, which every settlement of the job updates (it numbers the
// results), is locked and updated once for the whole batch, last, in one
// pipeline with the accounts' records and the COMMIT, so that settlements
// wait for each other only for the server's work, and a batch of n takes
// the row once instead of n times (docs/store.md).
func (db *DB) TaskSettleBatch(ctx context.Context, ps []*store.TaskSettleParams) ([]store.TaskSettleOutcome, error) {
	out := make([]store.TaskSettleOutcome, len(ps))
	invalid := make([]error, len(ps))
	var ids []int64 // the tasks asked for, valid params
	for i, p := range ps {
		if invalid[i] = checkSettle(p); invalid[i] == nil {
			ids = append(ids, p.TaskID)
		}
	}
	if len(ids) == 0 {
		copyErrs(out, invalid)
		return out, nil
	}
	// fast: the tasks are locked first and their live replicas after,
	// NOWAIT, in one statement where the lock order (replicas, then tasks)
	// takes two. Most settlements find none live (a task without
	// verification settles on its one replica, done), and the statement
	// saved was the most called of the driver. A live replica that another
	// transaction holds — a lease about to fix the task's grid holds its
	// replica and waits for the task — fails the transaction at once
	// (55P03) instead of waiting with the task held: it is rolled back and
	// run again in the lock order. Holding the tasks, this one waits for
	// nothing but the jobs' rows, which it takes last either way.
	err := db.settle(ctx, ps, ids, invalid, out, true)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
		err = db.settle(ctx, ps, ids, invalid, out, false)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// settle is TaskSettleBatch's transaction: in the lock order, or fast.
func (db *DB) settle(ctx context.Context, ps []*store.TaskSettleParams, ids []int64, invalid []error, out []store.TaskSettleOutcome, fast bool) error {
	return db.txCommitting(ctx, func(tx pgx.Tx) (*pgx.Batch, error) {
		// Afresh for each attempt (a deadlock's loser runs this again).
		copyErrs(out, invalid)
		type task struct {
			job   int64
			state string
			live  []int64
		}
		tasks := map[int64]*task{}
		// The state is a filter on the task's replicas ("IS TRUE" keeps it
		// one): as an index condition, the generic plan ANDed the task
		// index with a scan of replicas_job for the live states, which
		// walks that whole index (its state is a second column) at every
		// settlement, and cost more than the rest of the transaction.
		const lockLiveSQL = `SELECT id, task_id FROM replicas WHERE task_id = ANY($1) AND (state IN ('queued','leased')) IS TRUE ORDER BY id FOR UPDATE`
		var live [][2]int64
		b := &pgx.Batch{}
		// Replicas, then tasks, each in id order: the lock order of every
		// transaction here (fast: the tasks first, see TaskSettleBatch).
		if !fast {
			b.Queue(lockLiveSQL, ids).Exec(func(pgconn.CommandTag) error { return nil })
		}
		b.Queue(`SELECT id, job_id, state FROM tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var id int64
				t := &task{}
				if err := rows.Scan(&id, &t.job, &t.state); err != nil {
					return err
				}
				tasks[id] = t
			}
			return rows.Err()
		})
		// Again: a replica added before the task's lock was ours is in now
		// (none can be added any more).
		again := lockLiveSQL
		if fast {
			again += ` NOWAIT`
		}
		b.Queue(again, ids).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var r [2]int64
				if err := rows.Scan(&r[0], &r[1]); err != nil {
					return err
				}
				live = append(live, r)
			}
			return rows.Err()
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, interpretError(err)
		}
		for _, r := range live {
			if t := tasks[r[1]]; t != nil {
				t.live = append(t.live, r[0])
			}
		}
		// Which settle: valid, pending, and the first of the batch for
		// their task.
		type jobBatch struct {
			id              int64
			items           []int // indexes into ps
			disputed, fuel  int64
			was             string
			finished, total int64
			now             int64
		}
		jobs := map[int64]*jobBatch{}
		var order []int64 // jobs, by id
		taken := map[int64]bool{}
		var accts []store.AccountAddParams
		var ledger []store.LedgerEntry
		for i, p := range ps {
			if out[i].Err != nil {
				continue
			}
			t := tasks[p.TaskID]
			if t == nil {
				out[i].Err = fmt.Errorf("%w: task %d", store.ErrNotFound, p.TaskID)
				continue
			}
			if t.state != string(store.TaskPending) || taken[p.TaskID] {
				state := t.state
				if taken[p.TaskID] {
					state = "settled earlier in this batch"
				}
				out[i].Err = fmt.Errorf("%w: task %d is %s", store.ErrTaskSettled, p.TaskID, state)
				continue
			}
			taken[p.TaskID] = true
			out[i].Settled = &store.TaskSettled{JobID: t.job}
			if len(t.live) > 0 {
				var err error
				if out[i].Settled.Revoked, err = cancelReplicas(ctx, tx, ms(p.Now), t.live); err != nil {
					return nil, err
				}
				// The task settled without them.
				if _, err := tx.Exec(ctx, `UPDATE replicas SET verdict = 'void' WHERE id = ANY($1) AND verdict = ''`, t.live); err != nil {
					return nil, interpretError(err)
				}
			}
			j := jobs[t.job]
			if j == nil {
				j = &jobBatch{id: t.job}
				jobs[t.job] = j
				order = append(order, t.job)
			}
			j.items = append(j.items, i)
			j.now = max(j.now, ms(p.Now))
			if p.State == store.TaskDisputed {
				j.disputed++
			} else {
				j.fuel += int64(p.Result.Fuel)
			}
			for _, a := range p.Accounts {
				a.Now = p.Now
				accts = append(accts, a)
			}
			ledger = append(ledger, p.Ledger...)
		}
		// Failed settlements' rows stay as they were: tasks locked for
		// nothing are released at the commit.
		if len(order) == 0 {
			return nil, nil
		}
		slices.Sort(order)
		b = &pgx.Batch{}
		// The jobs' rows are locked by a statement of their own before they
		// are updated, so that "was" is each one's state under the lock:
		// the batch that finishes a running job is the one that sees it
		// running and counts its last task. (The lock and the update in
		// one statement deadlocked: its update, planned on an older
		// snapshot, queued for the row behind a waiter of the lock it held.)
		// FOR NO KEY UPDATE, not FOR UPDATE: the segments that
		// cancelReplicas inserted above hold the job's row FOR KEY SHARE
		// (their foreign key), which FOR UPDATE would wait on in the other
		// settlements of the job, and they on it.
		b.Queue(`SELECT id, state FROM jobs WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, order).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var id int64
				var was string
				if err := rows.Scan(&id, &was); err != nil {
					return err
				}
				if j := jobs[id]; j != nil {
					j.was = was
				}
			}
			return rows.Err()
		})
		// Each job's update (j) numbers its tasks of the batch in the
		// batch's order and notifies the other coordinators' dispatchers
		// when the job verifies (n): accounts on probation whose claims it
		// settles may lease again. A job that does not verify has no such
		// claims, and its settlement sends nothing: a NOTIFY per task cost
		// the server and every coordinator more than anything else in a
		// settlement (docs/store.md); followers of results on other
		// coordinators look again every FollowPoll.
		for _, id := range order {
			j := jobs[id]
			k := int64(len(j.items))
			cols := struct {
				id, exit, fuel, finished                                       []int64
				state, status, message, stdout, stderr, verification, by, note []string
			}{}
			for _, i := range j.items {
				p := ps[i]
				r := p.Result
				cols.id = append(cols.id, p.TaskID)
				cols.state = append(cols.state, string(p.State))
				cols.status = append(cols.status, r.Status)
				cols.exit = append(cols.exit, int64(r.ExitCode))
				cols.message = append(cols.message, r.Message)
				cols.stdout = append(cols.stdout, r.StdoutHash)
				cols.stderr = append(cols.stderr, r.StderrHash)
				cols.fuel = append(cols.fuel, int64(r.Fuel))
				cols.finished = append(cols.finished, ms(p.Now))
				cols.verification = append(cols.verification, p.Verification)
				cols.by = append(cols.by, jsonText(nonNil(p.VerifiedBy)))
				cols.note = append(cols.note, p.Note)
			}
			b.Queue(`WITH j AS (UPDATE jobs SET results_numbered = results_numbered + $1, tasks_finished = tasks_finished + $1,
					tasks_disputed = tasks_disputed + $2, fuel_done = fuel_done + $3,
					state = CASE WHEN state = 'running' AND tasks_finished + $1 >= task_count THEN 'done' ELSE state END,
					finished_at = CASE WHEN state = 'running' AND tasks_finished + $1 >= task_count THEN $4 ELSE finished_at END
				WHERE id = $5 RETURNING results_numbered, tasks_finished, task_count, max_error),
				n AS (SELECT count(*) FROM (SELECT `+notifyWorkCall+` FROM j WHERE j.max_error < 1) x),
				u AS (SELECT * FROM unnest($6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[],
					$13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::text[])
					WITH ORDINALITY AS u(id, state, status, exit_code, message, stdout_hash, stderr_hash, fuel, finished_at, verification, verified_by, note, ord))
				UPDATE tasks SET state = u.state, status = u.status, exit_code = u.exit_code, message = u.message,
					stdout_hash = u.stdout_hash, stderr_hash = u.stderr_hash, fuel = u.fuel, finished_at = u.finished_at,
					result_seq = j.results_numbered - $1 + u.ord, verification = u.verification, verified_by = u.verified_by, note = u.note
				FROM j, n, u WHERE tasks.id = u.id RETURNING j.tasks_finished, j.task_count`,
				k, j.disputed, j.fuel, j.now, j.id,
				cols.id, cols.state, cols.status, cols.exit, cols.message, cols.stdout, cols.stderr,
				cols.fuel, cols.finished, cols.verification, cols.by, cols.note).Query(func(rows pgx.Rows) error {
				defer rows.Close()
				n := int64(0)
				for rows.Next() {
					if err := rows.Scan(&j.finished, &j.total); err != nil {
						return err
					}
					n++
				}
				if err := rows.Err(); err != nil {
					return err
				}
				if n != k {
					return fmt.Errorf("postgres: settled %d of job %d's %d tasks", n, j.id, k)
				}
				if j.was == string(store.JobRunning) && j.finished >= j.total {
					out[j.items[k-1]].Settled.JobFinished = true
				}
				return nil
			})
		}
		// The evidence the settlements earn, after the jobs' rows (the
		// accounts' rows in the order of their IDs, each once) and before
		// the ledger's lock.
		for _, a := range mergeAccounts(accts) {
			b.Queue(qAccountAdd, a.ID, a.Verified, a.AuditsPassed, a.AuditsRun, a.LiesCaught, a.AuditLies, nil, ms(a.Now))
		}
		if len(ledger) > 0 {
			// The ledger's lock comes last (appendLedger), after the jobs'.
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return nil, interpretError(err)
			}
			if _, err := appendLedger(ctx, tx, ledger); err != nil {
				return nil, err
			}
			return nil, nil
		}
		return b, nil
	})
}

func (db *DB) TaskReopen(ctx context.Context, p *store.TaskReopenParams) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		// The task, then its job: the order TaskSettle and JobCancel take
		// them in.
		var jobID int64
		var state string
		var fuel int64
		if err := tx.QueryRow(ctx, `SELECT job_id, state, coalesce(fuel, 0) FROM tasks WHERE id = $1 FOR UPDATE`, p.TaskID).Scan(&jobID, &state, &fuel); err != nil {
			return interpretError(err)
		}
		var jobState string
		var prio int64
		if err := tx.QueryRow(ctx, `SELECT state, priority FROM jobs WHERE id = $1 FOR NO KEY UPDATE`, jobID).Scan(&jobState, &prio); err != nil {
			return interpretError(err)
		}
		if jobState == string(store.JobCancelled) {
			return fmt.Errorf("%w: task %d's job %d is cancelled", store.ErrJobFinished, p.TaskID, jobID)
		}
		if state != string(store.TaskDone) {
			return fmt.Errorf("postgres: task %d is %s: only a done task is reopened", p.TaskID, state)
		}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE tasks SET state = 'pending', status = NULL, exit_code = NULL, message = NULL, stdout_hash = NULL, stderr_hash = NULL, fuel = NULL,
				result_seq = NULL, finished_at = NULL, verification = NULL, verified_by = NULL WHERE id = $1`, []any{p.TaskID}},
			{`UPDATE jobs SET tasks_finished = tasks_finished - 1, fuel_done = fuel_done - $1, state = 'running', finished_at = NULL WHERE id = $2`,
				[]any{fuel, jobID}},
			{`INSERT INTO replicas(task_id, job_id, idx, priority, state, role)
				VALUES($1, $2, (SELECT coalesce(max(idx), -1) + 1 FROM replicas WHERE task_id = $1), $3, 'queued', 'run')`, []any{p.TaskID, jobID, prio}},
		} {
			if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
				return interpretError(err)
			}
		}
		return notifyWork(ctx, tx)
	})
}

func (db *DB) JobNote(ctx context.Context, p *store.JobNoteParams) error {
	tag, err := db.pool.Exec(ctx, `UPDATE jobs SET mismatches = mismatches + $1, audits = audits + $2, disputes = disputes + $3,
		lies_caught = lies_caught + $4, reopened = reopened + $5, unsettled = unsettled + $6, replicas_run = replicas_run + $7 WHERE id = $8`,
		p.Mismatches, p.Audits, p.Disputes, p.LiesCaught, p.Reopened, p.Unsettled, p.ReplicasRun, p.JobID)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

const accountCols = `id, verified, audits_passed, audits_run, lies_caught, audit_lies, banned_at, created_at`

func scanAccount(row pgx.Row) (*store.Account, error) {
	var a store.Account
	var banned *int64
	var created int64
	if err := row.Scan(&a.ID, &a.Verified, &a.AuditsPassed, &a.AuditsRun, &a.LiesCaught, &a.AuditLies, &banned, &created); err != nil {
		return nil, interpretError(err)
	}
	a.BannedAt, a.CreatedAt = fromMS(banned), time.UnixMilli(created)
	return &a, nil
}

func (db *DB) AccountGet(ctx context.Context, id string) (*store.Account, error) {
	return scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
}

func (db *DB) AccountAdd(ctx context.Context, p *store.AccountAddParams) (*store.Account, error) {
	if p.ID == "" {
		return nil, fmt.Errorf("postgres: an account needs an ID")
	}
	var banned *int64
	if p.Ban {
		t := ms(p.Now)
		banned = &t
	}
	// One statement: concurrent additions to one account all count.
	return scanAccount(db.pool.QueryRow(ctx, qAccountAdd+` RETURNING `+accountCols, p.ID, p.Verified, p.AuditsPassed, p.AuditsRun, p.LiesCaught, p.AuditLies, banned, ms(p.Now)))
}

// qAccountAdd adds to an account's record, creating it if new.
const qAccountAdd = `INSERT INTO accounts AS a (id, verified, audits_passed, audits_run, lies_caught, audit_lies, banned_at, created_at)
	VALUES($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (id) DO UPDATE SET verified = a.verified + excluded.verified, audits_passed = a.audits_passed + excluded.audits_passed,
		audits_run = a.audits_run + excluded.audits_run, lies_caught = a.lies_caught + excluded.lies_caught,
		audit_lies = a.audit_lies + excluded.audit_lies, banned_at = coalesce(a.banned_at, excluded.banned_at)`

// limitOrAll is a LIMIT parameter: n, or NULL (no limit) when n ≤ 0.
func limitOrAll(n int) *int64 {
	if n <= 0 {
		return nil
	}
	v := int64(n)
	return &v
}

func (db *DB) AccountList(ctx context.Context, p *store.AccountListParams) ([]*store.Account, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id COLLATE "C" LIMIT $1`, limitOrAll(p.Limit))
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, id)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) TaskListUnsettled(ctx context.Context, limit int) ([]int64, error) {
	return db.ids(ctx, `SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
		WHERE t.state = 'pending' AND j.state = 'running'
		  AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.task_id = t.id AND r.state IN ('queued','leased'))
		ORDER BY t.id LIMIT $1`, limitOrAll(limit))
}

// TasksRestingOn finds the account's work by its segments and checkpoints
// (both indexed by account).
func (db *DB) TasksRestingOn(ctx context.Context, account string) ([]int64, error) {
	return db.ids(ctx, `SELECT t.id FROM tasks t
		WHERE t.state = 'done'
		  AND t.id IN (SELECT r.task_id FROM segments g JOIN replicas r ON r.id = g.replica_id WHERE g.account = $1
		               UNION SELECT c.task_id FROM checkpoints c WHERE c.account = $1)
		ORDER BY t.id`, account)
}

func (db *DB) LedgerAppend(ctx context.Context, p *store.LedgerAppendParams) ([]store.LedgerEntry, error) {
	if err := checkLedger(p.Entries); err != nil {
		return nil, err
	}
	var out []store.LedgerEntry
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = appendLedger(ctx, tx, p.Entries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkLedger(entries []store.LedgerEntry) error {
	for i, e := range entries {
		switch {
		case e.Kind != store.LedgerGrant && e.Kind != store.LedgerRevoke && e.Kind != store.LedgerBan:
			return fmt.Errorf("postgres: ledger entry %d: unknown kind %q", i, e.Kind)
		case e.Account == "":
			return fmt.Errorf("postgres: ledger entry %d: no account", i)
		case e.Fuel > math.MaxInt64 || e.Link > math.MaxInt64:
			return fmt.Errorf("postgres: ledger entry %d: fuel %d or link %d beyond any limit", i, e.Fuel, e.Link)
		}
	}
	return nil
}

// appendLedger numbers and inserts entries in tx (checked by checkLedger).
// The ledger's advisory lock is taken last in any transaction: it is held
// to the commit, and every row lock is taken before it.
func appendLedger(ctx context.Context, tx pgx.Tx, entries []store.LedgerEntry) ([]store.LedgerEntry, error) {
	out := slices.Clone(entries)
	err := func() error {
		// Coordinators append in turn: numbers never collide nor skip.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, lockLedger); err != nil {
			return interpretError(err)
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM ledger`).Scan(&last); err != nil {
			return interpretError(err)
		}
		type grant struct {
			account, site string
			day, fuel     int64
			revoked       bool
		}
		batch := map[int64]*grant{} // this batch's grants, and grants revoked in it
		n := len(out)
		cols := struct {
			seq, job, task, replica, link, fuel, ref, day, at []int64
			kind, account, site, reason                       []string
		}{}
		for i := range out {
			e := &out[i]
			e.Seq = last + int64(i) + 1
			if e.Kind == store.LedgerRevoke {
				// A revocation takes back one standing grant of the same
				// account, on that grant's day and for its site, all of
				// its fuel.
				g := batch[e.Ref]
				if g == nil {
					g = &grant{}
					var kind string
					err := tx.QueryRow(ctx, `SELECT kind, account, site, day, fuel, EXISTS (SELECT 1 FROM ledger WHERE kind = 'revoke' AND ref = $1)
						FROM ledger WHERE seq = $1`, e.Ref).Scan(&kind, &g.account, &g.site, &g.day, &g.fuel, &g.revoked)
					if errors.Is(err, pgx.ErrNoRows) || (err == nil && kind != string(store.LedgerGrant)) {
						return fmt.Errorf("postgres: ledger entry %d revokes %d, which is no grant", i, e.Ref)
					}
					if err != nil {
						return interpretError(err)
					}
					batch[e.Ref] = g
				}
				if g.account != e.Account {
					return fmt.Errorf("postgres: ledger entry %d revokes grant %d of %q for %q", i, e.Ref, g.account, e.Account)
				}
				if g.revoked {
					return fmt.Errorf("postgres: ledger entry %d revokes grant %d again", i, e.Ref)
				}
				g.revoked = true
				e.Day, e.Fuel, e.Site = g.day, uint64(g.fuel), g.site
			}
			if e.Kind == store.LedgerGrant {
				batch[e.Seq] = &grant{account: e.Account, site: e.Site, day: e.Day, fuel: int64(e.Fuel)}
			}
			cols.seq = append(cols.seq, e.Seq)
			cols.job, cols.task, cols.replica = append(cols.job, e.JobID), append(cols.task, e.TaskID), append(cols.replica, e.ReplicaID)
			cols.link, cols.fuel, cols.ref = append(cols.link, int64(e.Link)), append(cols.fuel, int64(e.Fuel)), append(cols.ref, e.Ref)
			cols.day, cols.at = append(cols.day, e.Day), append(cols.at, ms(e.At))
			cols.kind, cols.account, cols.reason = append(cols.kind, string(e.Kind)), append(cols.account, e.Account), append(cols.reason, e.Reason)
			cols.site = append(cols.site, e.Site)
		}
		if n == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO ledger(seq, kind, account, job_id, task_id, replica_id, link, fuel, ref, day, at, reason, site)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
				$9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])`,
			cols.seq, cols.kind, cols.account, cols.job, cols.task, cols.replica, cols.link, cols.fuel, cols.ref, cols.day, cols.at, cols.reason, cols.site)
		return interpretError(err)
	}()
	if err != nil {
		return nil, err
	}
	for i := range out {
		at := ms(out[i].At) // as stored: milliseconds
		out[i].At = fromMS(&at)
	}
	return out, nil
}

func (db *DB) LedgerList(ctx context.Context, p *store.LedgerListParams) ([]store.LedgerEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, kind, account, site, job_id, task_id, replica_id, link, fuel, ref, day, at, reason
		FROM ledger WHERE ($1::text = '' OR account = $1) AND seq > $2 AND ($4::bigint = 0 OR task_id = $4) ORDER BY seq LIMIT $3`, p.Account, p.AfterSeq, limitOrAll(p.Limit), p.TaskID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var e store.LedgerEntry
		var link, fuel, at int64
		if err := rows.Scan(&e.Seq, &e.Kind, &e.Account, &e.Site, &e.JobID, &e.TaskID, &e.ReplicaID, &link, &fuel, &e.Ref, &e.Day, &at, &e.Reason); err != nil {
			return nil, interpretError(err)
		}
		e.Link, e.Fuel, e.At = uint64(link), uint64(fuel), fromMS(&at)
		out = append(out, e)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) CreditList(ctx context.Context, p *store.CreditListParams) ([]store.CreditRow, error) {
	// A revocation counts against its grant's day, whatever day it was
	// written; a day whose credit was all revoked has no row.
	rows, err := db.pool.Query(ctx, `SELECT account, day, sum(f)::bigint FROM (
			SELECT account, day, fuel AS f FROM ledger WHERE kind = 'grant'
			UNION ALL
			SELECT g.account, g.day, -v.fuel FROM ledger v JOIN ledger g ON g.seq = v.ref WHERE v.kind = 'revoke'
		) AS x
		WHERE ($1::text = '' OR account = $1) AND day >= $2
		GROUP BY account, day HAVING sum(f) > 0 ORDER BY account COLLATE "C", day`, p.Account, p.SinceDay)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.CreditRow
	for rows.Next() {
		var c store.CreditRow
		var f int64
		if err := rows.Scan(&c.Account, &c.Day, &f); err != nil {
			return nil, interpretError(err)
		}
		c.Fuel = uint64(max(f, 0))
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}

func (db *DB) SiteCreditList(ctx context.Context, p *store.SiteCreditListParams) ([]store.SiteCreditRow, error) {
	// As CreditList, over the grants attributed to a site.
	rows, err := db.pool.Query(ctx, `SELECT site, account, day, sum(f)::bigint FROM (
			SELECT site, account, day, fuel AS f FROM ledger WHERE kind = 'grant' AND site <> ''
			UNION ALL
			SELECT g.site, g.account, g.day, -v.fuel FROM ledger v JOIN ledger g ON g.seq = v.ref WHERE v.kind = 'revoke' AND g.site <> ''
		) AS x
		WHERE ($1::text = '' OR site = $1) AND day >= $2
		GROUP BY site, account, day HAVING sum(f) > 0 ORDER BY site COLLATE "C", account COLLATE "C", day`, p.Site, p.SinceDay)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.SiteCreditRow
	for rows.Next() {
		var c store.SiteCreditRow
		var f int64
		if err := rows.Scan(&c.Site, &c.Account, &c.Day, &f); err != nil {
			return nil, interpretError(err)
		}
		c.Fuel = uint64(max(f, 0))
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}
