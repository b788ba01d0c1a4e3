package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// The verification half of the store: it records what the verifier
// (internal/verify) reads and decides, and decides nothing itself.

// readQueries are the statements prepared on the readers' pool
// (DB.rstmts): TaskEvidence's, AccountGet's and the dispatcher's.
var readQueries = append(evidenceQueries[:], qEvidenceOne, qAccountGet, qAnyVerifying, qCountQueued)

// A task's evidence: the task with its job and whether it has checkpoints
// (evTaskJob), and each replica with the accounts of its ended segments
// and its account's record (evReplica, NULL-safe for the LEFT JOIN of
// qEvidenceOne).
const (
	evTaskJob = `t.id, t.job_id, t.idx, t.state, t.stdin_hash, t.args, t.env, t.files, t.seed, t.status, t.exit_code, t.message,
		t.stdout_hash, t.stderr_hash, t.fuel, t.result_seq, t.finished_at, coalesce(t.verification, ''), coalesce(t.verified_by, ''), coalesce(t.note, ''),
		coalesce(t.grid, 0), EXISTS (SELECT 1 FROM checkpoints c WHERE c.task_id = t.id),
		j.id, j.owner, j.name, j.module_hash, j.state, j.priority, j.replicas, j.fuel, j.memory, j.max_output, j.timeout_ms, j.task_count,
		j.created_at, j.finished_at, j.suspendable, j.max_error`
	evReplica = `coalesce(r.id, 0), coalesce(r.role, ''), coalesce(r.state, ''), coalesce(r.verdict, ''), coalesce(r.audit_of, 0), coalesce(r.audit_seq, 0),
		coalesce(r.worker, ''), coalesce(r.account, ''), coalesce((SELECT site FROM sessions s WHERE s.id = r.session_id), ''),
		r.status, r.exit_code, r.message, r.stdout_hash, r.stderr_hash, r.fuel,
		(SELECT json_group_array(g.account ORDER BY g.id) FROM segments g WHERE g.replica_id = r.id AND coalesce(g.account, '') != ''),
		a.id IS NOT NULL, coalesce(a.id, ''), coalesce(a.verified, 0), coalesce(a.audits_passed, 0), coalesce(a.audits_run, 0),
		coalesce(a.lies_caught, 0), coalesce(a.audit_lies, 0), a.banned_at, coalesce(a.created_at, 0)`
)

// evidenceQueries are TaskEvidence's statements in a read transaction:
// the task with its job; its replicas; its checkpoints (only read when it
// has any); an account (one named only by checkpoints or segments). On
// SQLite the cost of a read is mostly the statement's, not the rows'.
var evidenceQueries = [...]string{
	`SELECT ` + evTaskJob + ` FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = ?`,
	`SELECT ` + evReplica + ` FROM replicas r LEFT JOIN accounts a ON a.id = r.account WHERE r.task_id = ? ORDER BY r.id`,
	`SELECT ` + checkpointCols + ` FROM checkpoints WHERE task_id = ? ORDER BY replica_id, seq`,
	qAccountGet,
}

// qEvidenceOne is the usual task's whole evidence in one statement, so in
// one snapshot without a transaction: every row is one of its replicas
// (none: one row, its replica columns NULL) with the task and job beside
// it. The usual task has no checkpoints, and its segments were computed
// by its replicas' own accounts; any other is read by evidenceQueries.
const qEvidenceOne = `SELECT ` + evTaskJob + `, r.id IS NOT NULL, ` + evReplica + `
	FROM tasks t JOIN jobs j ON j.id = t.job_id LEFT JOIN replicas r ON r.task_id = t.id LEFT JOIN accounts a ON a.id = r.account
	WHERE t.id = ? ORDER BY r.id`

// scanFunc is a function as a row scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

func (db *DB) TaskEvidence(ctx context.Context, taskID int64) (*store.TaskEvidence, error) {
	evs, err := db.TaskEvidenceBatch(ctx, []int64{taskID})
	if err != nil {
		return nil, err
	}
	return store.EvidenceFound(evs[0], taskID)
}

// TaskEvidenceBatch reads each task as TaskEvidence would, in one read
// transaction: the tasks, their replicas and their checkpoints as of one
// moment. A single task is read in one statement when it can be
// (evidenceOne), which needs no transaction.
func (db *DB) TaskEvidenceBatch(ctx context.Context, ids []int64) ([]*store.TaskEvidence, error) {
	out := make([]*store.TaskEvidence, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) == 1 {
		ev, ok, err := db.evidenceOne(quick(ctx), ids[0])
		if errors.Is(err, store.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if ok {
			out[0] = ev
			return out, nil
		}
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, interpretError(err)
	}
	defer tx.Rollback()
	ctx = quick(ctx)
	// Its statements, prepared once (DB.rst).
	var sts [len(evidenceQueries)]*sql.Stmt
	for i, q := range evidenceQueries {
		if sts[i], err = db.rst(ctx, tx, q); err != nil {
			return nil, err
		}
	}
	read := map[int64]*store.TaskEvidence{}
	for i, id := range ids {
		if ev, ok := read[id]; ok {
			out[i] = ev
			continue
		}
		ev, err := evidence(ctx, &sts, id)
		if errors.Is(err, store.ErrNotFound) {
			ev, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		read[id], out[i] = ev, ev
	}
	return out, nil
}

// scanTaskJob scans evTaskJob's columns, then extra ones.
func scanTaskJob(sc interface{ Scan(...any) error }, ev *store.TaskEvidence, hasCheckpoints *bool, extra ...any) error {
	// scanJob does the row's Scan inside scanTask's.
	var grid int64
	var err error
	ev.Task, err = scanTask(scanFunc(func(td ...any) error {
		var err error
		ev.Job, err = scanJob(scanFunc(func(jd ...any) error {
			return sc.Scan(append(append(append(td, &grid, hasCheckpoints), jd...), extra...)...)
		}))
		return err
	}))
	ev.Grid = uint64(grid)
	return err
}

// scanReplica scans evReplica's columns after prefix: the replica, its
// account's record (nil: none) and its ended segments' accounts in order.
func scanReplica(sc interface{ Scan(...any) error }, prefix ...any) (*store.ReplicaInfo, *store.Account, []string, error) {
	var r store.ReplicaInfo
	var status, msg, outH, errH sql.NullString
	var exit, fuel sql.NullInt64
	var segs []byte
	var hasAccount bool
	// The row's Scan inside scanAccount's, as the task's.
	acc, err := scanAccount(scanFunc(func(ad ...any) error {
		return sc.Scan(append(append(prefix, &r.ID, &r.Role, &r.State, &r.Verdict, &r.AuditOf, &r.AuditSeq, &r.Worker, &r.Account, &r.Site,
			&status, &exit, &msg, &outH, &errH, &fuel, &segs, &hasAccount), ad...)...)
	}))
	if err != nil {
		return nil, nil, nil, err
	}
	if !hasAccount {
		acc = nil
	}
	if r.State == store.ReplicaDone {
		r.Result = &store.Result{Status: status.String, ExitCode: uint32(exit.Int64), Message: msg.String,
			StdoutHash: outH.String, StderrHash: errH.String, Fuel: uint64(fuel.Int64)}
	}
	var segAccounts []string
	if len(segs) > 2 { // not []
		if err := json.Unmarshal(segs, &segAccounts); err != nil {
			return nil, nil, nil, fmt.Errorf("sqlite: the segments' accounts of replica %d: %w", r.ID, err)
		}
	}
	return &r, acc, segAccounts, nil
}

// addReplica adds a replica read by scanReplica to ev, with its account's
// record.
func addReplica(ev *store.TaskEvidence, r *store.ReplicaInfo, acc *store.Account) {
	ev.Replicas = append(ev.Replicas, r)
	if r.Account != "" {
		ev.Accounts[r.Account] = acc
	}
}

// addAccount adds an account that computed part of r (its checkpoints' by
// sequence, then its ended segments' in the order they ended), each once.
func addAccount(r *store.ReplicaInfo, a string) {
	if a != "" && !slices.Contains(r.Accounts, a) {
		r.Accounts = append(r.Accounts, a)
	}
}

// evidenceOne reads a task's evidence with qEvidenceOne: ok is false, with
// nothing read, for a task it cannot read whole (checkpoints, or accounts
// other than its replicas').
func (db *DB) evidenceOne(ctx context.Context, taskID int64) (*store.TaskEvidence, bool, error) {
	st, err := db.rstmt(ctx, qEvidenceOne)
	if err != nil {
		return nil, false, err
	}
	rows, err := st.QueryContext(ctx, taskID)
	if err != nil {
		return nil, false, interpretError(err)
	}
	defer rows.Close()
	ev := &store.TaskEvidence{Accounts: map[string]*store.Account{}}
	found := false
	var hasCheckpoints bool
	for rows.Next() {
		var row store.TaskEvidence // the task and job, the same on every row
		var present bool
		r, acc, segAccounts, err := scanReplica(scanFunc(func(rd ...any) error {
			return scanTaskJob(rows, &row, &hasCheckpoints, append([]any{&present}, rd...)...)
		}))
		if err != nil {
			return nil, false, err
		}
		if !found {
			found = true
			ev.Task, ev.Job, ev.Grid = row.Task, row.Job, row.Grid
		}
		if hasCheckpoints {
			return nil, false, nil
		}
		if !present {
			continue
		}
		addReplica(ev, r, acc)
		for _, a := range segAccounts {
			addAccount(r, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, interpretError(err)
	}
	if !found {
		return nil, false, store.ErrNotFound
	}
	for _, a := range ev.AccountNames() {
		if _, ok := ev.Accounts[a]; !ok {
			return nil, false, nil // an account no replica holds: read it in the transaction
		}
	}
	ev.CompleteAccounts()
	return ev, true, nil
}

// evidence reads one task's evidence with sts, evidenceQueries bound to
// one read transaction (ErrNotFound: no such task).
func evidence(ctx context.Context, sts *[len(evidenceQueries)]*sql.Stmt, taskID int64) (*store.TaskEvidence, error) {
	ev := &store.TaskEvidence{Accounts: map[string]*store.Account{}}
	var hasCheckpoints bool
	if err := scanTaskJob(sts[0].QueryRowContext(ctx, taskID), ev, &hasCheckpoints); err != nil {
		return nil, err
	}
	rows, err := sts[1].QueryContext(ctx, taskID)
	if err != nil {
		return nil, interpretError(err)
	}
	byID := map[int64]*store.ReplicaInfo{}
	segAccounts := map[int64][]string{}
	for rows.Next() {
		r, acc, segs, err := scanReplica(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		addReplica(ev, r, acc)
		byID[r.ID] = r
		segAccounts[r.ID] = segs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, interpretError(err)
	}
	// Accounts: its checkpoints' by sequence, then its ended segments' in
	// the order they ended, each once.
	if hasCheckpoints {
		rows, err = sts[2].QueryContext(ctx, taskID)
		if err != nil {
			return nil, interpretError(err)
		}
		for rows.Next() {
			c, err := scanCheckpoint(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if r := byID[c.ReplicaID]; r != nil {
				r.Checkpoints = append(r.Checkpoints, c)
				addAccount(r, c.Account)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, interpretError(err)
		}
	}
	for _, r := range ev.Replicas {
		for _, a := range segAccounts[r.ID] {
			addAccount(r, a)
		}
	}
	// The other accounts it names, in the same read transaction.
	for _, a := range ev.AccountNames() {
		if _, ok := ev.Accounts[a]; ok {
			continue
		}
		rec, err := scanAccount(sts[3].QueryRowContext(ctx, a))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ev.Accounts[a] = rec
	}
	ev.CompleteAccounts()
	return ev, nil
}

func (db *DB) ReplicaAdd(ctx context.Context, p *store.ReplicaAddParams) (int64, error) {
	switch p.Role {
	case store.RoleRun, store.RoleAudit:
	default:
		return 0, fmt.Errorf("sqlite: unknown replica role %q", p.Role)
	}
	if p.Role == store.RoleAudit && p.AuditSeq < 1 {
		return 0, fmt.Errorf("sqlite: an audit re-executes link 1 or later, not %d", p.AuditSeq)
	}
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var state string
		var jobID int64
		var prio int
		if err := tx.QueryRowContext(ctx, `SELECT t.state, t.job_id, j.priority FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = ?`, p.TaskID).
			Scan(&state, &jobID, &prio); err != nil {
			return interpretError(err)
		}
		if state != string(store.TaskPending) {
			return fmt.Errorf("%w: task %d is %s", store.ErrTaskSettled, p.TaskID, state)
		}
		// An audit starts at the audited replica's checkpoint AuditSeq−1.
		var ck struct {
			seq, fuel  uint64
			hash, blob sql.NullString
			auditOf    sql.NullInt64
			auditSeq   uint64
		}
		if p.Role == store.RoleAudit {
			var task int64
			err := tx.QueryRowContext(ctx, `SELECT task_id FROM replicas WHERE id = ?`, p.AuditOf).Scan(&task)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && task != p.TaskID) {
				return fmt.Errorf("sqlite: replica %d to audit is not a replica of task %d: %w", p.AuditOf, p.TaskID, store.ErrNotFound)
			}
			if err != nil {
				return interpretError(err)
			}
			var last uint64
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM checkpoints WHERE replica_id = ?`, p.AuditOf).Scan(&last); err != nil {
				return interpretError(err)
			}
			if p.AuditSeq > last+1 {
				return fmt.Errorf("sqlite: replica %d has checkpoints up to %d: no link %d to audit", p.AuditOf, last, p.AuditSeq)
			}
			if p.AuditSeq > 1 {
				err := tx.QueryRowContext(ctx, `SELECT seq, fuel, state_hash, snapshot_hash FROM checkpoints WHERE replica_id = ? AND seq = ?`, p.AuditOf, p.AuditSeq-1).
					Scan(&ck.seq, &ck.fuel, &ck.hash, &ck.blob)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("sqlite: replica %d has no checkpoint %d to start the audit of link %d from", p.AuditOf, p.AuditSeq-1, p.AuditSeq)
				}
				if err != nil {
					return interpretError(err)
				}
			}
			ck.auditOf = sql.NullInt64{Int64: p.AuditOf, Valid: true}
			ck.auditSeq = p.AuditSeq
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO replicas(task_id, job_id, idx, priority, state, role, audit_of, audit_seq, ckpt_seq, ckpt_fuel, ckpt_hash, ckpt_blob)
			VALUES(?, ?, (SELECT coalesce(max(idx), -1) + 1 FROM replicas WHERE task_id = ?), ?, 'queued', ?, ?, ?, ?, ?, ?, ?)`,
			p.TaskID, jobID, p.TaskID, prio+1, p.Role, ck.auditOf, ck.auditSeq, ck.seq, ck.fuel, ck.hash, ck.blob) // ahead of the job's new work
		if err != nil {
			return interpretError(err)
		}
		id, _ = res.LastInsertId()
		if p.Role == store.RoleAudit && p.AuditSeq > 1 {
			// The audit starts where the audited replica stood: its
			// checkpoints (blobs, workers and accounts) are the audit's own
			// up to the link.
			if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account, session_id, cost_ms, created_at)
				SELECT ?, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, account, session_id, cost_ms, created_at
				FROM checkpoints WHERE replica_id = ? AND seq < ?`, id, p.AuditOf, p.AuditSeq); err != nil {
				return interpretError(err)
			}
		}
		return nil
	})
	return id, err
}

func validVerdict(v store.Verdict) bool {
	switch v {
	case store.VerdictNone, store.VerdictAgreed, store.VerdictLied, store.VerdictVoid:
		return true
	}
	return false
}

// cancelReplicas takes back the leases of the replicas matching where
// (their segments end revoked) and cancels them with those still queued.
// voidVerdict: those without a verdict get VerdictVoid.
func cancelReplicas(ctx context.Context, tx *sql.Tx, now int64, voidVerdict bool, where string, args ...any) ([]store.RevokedLease, error) {
	revoked, err := takeLeases(ctx, tx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(revoked) > 0 {
		if _, err := endSegments(ctx, tx, store.SegmentRevoked, now, nil, where, args...); err != nil {
			return nil, err
		}
	}
	set := ``
	if voidVerdict {
		set = `, verdict = CASE WHEN verdict = '' THEN 'void' ELSE verdict END`
	}
	if _, err := tx.ExecContext(ctx, `UPDATE replicas SET state = 'cancelled', lease_id = NULL, session_id = NULL, lease_deadline = NULL`+set+`
		WHERE state IN ('queued','leased') AND `+where, args...); err != nil {
		return nil, interpretError(err)
	}
	return revoked, nil
}

func (db *DB) ReplicaVerdict(ctx context.Context, p *store.ReplicaVerdictParams) ([]store.RevokedLease, error) {
	if !validVerdict(p.Verdict) {
		return nil, fmt.Errorf("sqlite: unknown verdict %q", p.Verdict)
	}
	var revoked []store.RevokedLease
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE replicas SET verdict = ? WHERE id = ?`, p.Verdict, p.ReplicaID)
		if err != nil {
			return interpretError(err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrNotFound
		}
		revoked, err = cancelReplicas(ctx, tx, ms(p.Now), false, `id = ?`, p.ReplicaID)
		return err
	})
	return revoked, err
}

func validVerification(v string) bool {
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
		return fmt.Errorf("sqlite: a task settles done or disputed, not %q", p.State)
	}
	if !validVerification(p.Verification) {
		return fmt.Errorf("sqlite: unknown verification method %q", p.Verification)
	}
	for _, a := range p.Accounts {
		if a.ID == "" {
			return fmt.Errorf("sqlite: an account needs an id")
		}
	}
	for i, e := range p.Ledger {
		switch {
		case e.Kind != store.LedgerGrant && e.Kind != store.LedgerRevoke && e.Kind != store.LedgerBan:
			return fmt.Errorf("sqlite: ledger entry %d has unknown kind %q", i, e.Kind)
		case e.Account == "":
			return fmt.Errorf("sqlite: ledger entry %d names no account", i)
		case e.Fuel >= 1<<63 || e.Link >= 1<<63:
			return fmt.Errorf("sqlite: ledger entry %d: fuel %d or link %d out of range", i, e.Fuel, e.Link)
		}
	}
	return nil
}

// TaskSettleBatch settles its tasks one after another in one transaction:
// one commit for the batch. A settlement refused for its task's state
// (ErrTaskSettled, ErrNotFound) is refused before it writes anything.
func (db *DB) TaskSettleBatch(ctx context.Context, ps []*store.TaskSettleParams) ([]store.TaskSettleOutcome, error) {
	out := make([]store.TaskSettleOutcome, len(ps))
	invalid := make([]error, len(ps))
	valid := 0
	for i, p := range ps {
		if invalid[i] = checkSettle(p); invalid[i] == nil {
			valid++
		}
	}
	for i := range out {
		out[i].Err = invalid[i]
	}
	if valid == 0 {
		return out, nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ctx := quick(ctx)
		for i, p := range ps {
			if invalid[i] != nil {
				continue
			}
			st, err := db.settle(ctx, tx, p)
			if errors.Is(err, store.ErrTaskSettled) || errors.Is(err, store.ErrNotFound) {
				out[i].Err = err
				continue
			}
			if err != nil {
				return err
			}
			out[i].Settled = st
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// settle is one settlement of TaskSettleBatch, in its transaction: it
// returns ErrTaskSettled or ErrNotFound before it writes anything.
func (db *DB) settle(ctx context.Context, tx *sql.Tx, p *store.TaskSettleParams) (*store.TaskSettled, error) {
	out := &store.TaskSettled{}
	now := ms(p.Now)
	fuel := int64(min(p.Result.Fuel, 1<<62))
	disputed, fuelDone := 0, fuel
	if p.State == store.TaskDisputed {
		disputed, fuelDone = 1, 0
	}
	var by any
	if len(p.VerifiedBy) > 0 {
		by = jsonText(p.VerifiedBy)
	}
	// The task first, only if pending: numbered next in its job's results
	// (the job's counter is moved on just below, in the same transaction).
	r := p.Result
	var running int
	err := db.st(ctx, tx, qTaskSettled).QueryRowContext(ctx, p.State, r.Status, r.ExitCode, r.Message, r.StdoutHash, r.StderrHash, fuel, now,
		p.Verification, by, p.Note, p.TaskID).Scan(&out.JobID, &running)
	if errors.Is(err, sql.ErrNoRows) {
		// Nothing written: no such task, or not pending.
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM tasks WHERE id = ?`, p.TaskID).Scan(&state); err != nil {
			return nil, interpretError(err)
		}
		return nil, fmt.Errorf("%w: task %d is %s", store.ErrTaskSettled, p.TaskID, state)
	}
	if err != nil {
		return nil, interpretError(err)
	}
	var finished, total int64
	if err := db.st(ctx, tx, qJobSettled).QueryRowContext(ctx, disputed, fuelDone, out.JobID).Scan(&finished, &total); err != nil {
		return nil, interpretError(err)
	}
	if running > 0 {
		var err error
		if out.Revoked, err = cancelReplicas(ctx, tx, now, true, `task_id = ?`, p.TaskID); err != nil {
			return nil, err
		}
	}
	if len(p.Ledger) > 0 {
		if _, err := db.appendLedger(ctx, tx, p.Ledger); err != nil {
			return nil, err
		}
	}
	if err := db.addAccounts(ctx, tx, p.Accounts, now); err != nil {
		return nil, err
	}
	if finished < total {
		return out, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', finished_at = ? WHERE id = ? AND state = 'running'`, now, out.JobID)
	if err != nil {
		return nil, interpretError(err)
	}
	k, _ := res.RowsAffected()
	out.JobFinished = k == 1
	return out, nil
}

func (db *DB) TaskReopen(ctx context.Context, p *store.TaskReopenParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var state, jobState string
		var jobID, fuel int64
		var prio int
		if err := tx.QueryRowContext(ctx, `SELECT t.state, t.job_id, coalesce(t.fuel, 0), j.state, j.priority FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = ?`, p.TaskID).
			Scan(&state, &jobID, &fuel, &jobState, &prio); err != nil {
			return interpretError(err)
		}
		if jobState == string(store.JobCancelled) {
			return fmt.Errorf("%w: job %d of task %d is cancelled", store.ErrJobFinished, jobID, p.TaskID)
		}
		if state != string(store.TaskDone) {
			return fmt.Errorf("sqlite: task %d is %s: only a done task is reopened", p.TaskID, state)
		}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE tasks SET state = 'pending', status = NULL, exit_code = NULL, message = NULL, stdout_hash = NULL, stderr_hash = NULL, fuel = NULL,
				result_seq = NULL, finished_at = NULL, verification = NULL, verified_by = NULL WHERE id = ?`, []any{p.TaskID}},
			{`UPDATE jobs SET tasks_finished = tasks_finished - 1, fuel_done = fuel_done - ?, state = 'running', finished_at = NULL WHERE id = ?`, []any{fuel, jobID}},
			{`INSERT INTO replicas(task_id, job_id, idx, priority, state, role)
				VALUES(?, ?, (SELECT coalesce(max(idx), -1) + 1 FROM replicas WHERE task_id = ?), ?, 'queued', 'run')`, []any{p.TaskID, jobID, p.TaskID, prio}},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return interpretError(err)
			}
		}
		return nil
	})
}

func (db *DB) JobNote(ctx context.Context, p *store.JobNoteParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET mismatches = mismatches + ?, audits = audits + ?, disputes = disputes + ?, lies_caught = lies_caught + ?,
			reopened = reopened + ?, unsettled = unsettled + ?, replicas_run = replicas_run + ? WHERE id = ?`,
			p.Mismatches, p.Audits, p.Disputes, p.LiesCaught, p.Reopened, p.Unsettled, p.ReplicasRun, p.JobID)
		if err != nil {
			return interpretError(err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

const accountCols = `id, verified, audits_passed, audits_run, lies_caught, audit_lies, banned_at, created_at`

func scanAccount(sc interface{ Scan(...any) error }) (*store.Account, error) {
	var a store.Account
	var banned sql.NullInt64
	var created int64
	if err := sc.Scan(&a.ID, &a.Verified, &a.AuditsPassed, &a.AuditsRun, &a.LiesCaught, &a.AuditLies, &banned, &created); err != nil {
		return nil, interpretError(err)
	}
	a.BannedAt = fromMS(banned)
	a.CreatedAt = time.UnixMilli(created)
	return &a, nil
}

func (db *DB) AccountGet(ctx context.Context, id string) (*store.Account, error) {
	ctx = quick(ctx)
	st, err := db.rstmt(ctx, qAccountGet) // asked before every lease
	if err != nil {
		return nil, err
	}
	return scanAccount(st.QueryRowContext(ctx, id))
}

const qAccountGet = `SELECT ` + accountCols + ` FROM accounts WHERE id = ?`

func (db *DB) AccountAdd(ctx context.Context, p *store.AccountAddParams) (*store.Account, error) {
	if p.ID == "" {
		return nil, fmt.Errorf("sqlite: an account needs an id")
	}
	now := ms(p.Now)
	var banned any
	if p.Ban {
		banned = now
	}
	var a *store.Account
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRowContext(ctx, qAccountAdd+` RETURNING `+accountCols, p.ID, p.Verified, p.AuditsPassed, p.AuditsRun, p.LiesCaught, p.AuditLies, banned, now))
		return err
	})
	return a, err
}

// qAccountAdd adds to an account's record, creating it if new.
const qAccountAdd = `INSERT INTO accounts(id, verified, audits_passed, audits_run, lies_caught, audit_lies, banned_at, created_at) VALUES(?,?,?,?,?,?,?,?)
	ON CONFLICT(id) DO UPDATE SET verified = verified + excluded.verified, audits_passed = audits_passed + excluded.audits_passed,
		audits_run = audits_run + excluded.audits_run, lies_caught = lies_caught + excluded.lies_caught,
		audit_lies = audit_lies + excluded.audit_lies, banned_at = coalesce(banned_at, excluded.banned_at)`

// addAccounts applies a settlement's additions to accounts' records (no
// bans), in the caller's transaction.
func (db *DB) addAccounts(ctx context.Context, tx *sql.Tx, accts []store.AccountAddParams, now int64) error {
	if len(accts) == 0 {
		return nil
	}
	add := db.st(ctx, tx, qAccountAdd)
	for _, a := range accts {
		if a.ID == "" {
			return fmt.Errorf("sqlite: an account needs an id")
		}
		if _, err := add.ExecContext(ctx, a.ID, a.Verified, a.AuditsPassed, a.AuditsRun, a.LiesCaught, a.AuditLies, nil, now); err != nil {
			return interpretError(err)
		}
	}
	return nil
}

func (db *DB) AccountList(ctx context.Context, p *store.AccountListParams) ([]*store.Account, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // all
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id LIMIT ?`, limit)
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

func (db *DB) TaskListUnsettled(ctx context.Context, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = -1 // all
	}
	return db.ids(ctx, `SELECT t.id FROM jobs j JOIN tasks t ON t.job_id = j.id AND t.state = 'pending'
		WHERE j.state = 'running' AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.task_id = t.id AND r.state IN ('queued','leased'))
		ORDER BY t.id LIMIT ?`, limit)
}

func (db *DB) TasksRestingOn(ctx context.Context, account string) ([]int64, error) {
	return db.ids(ctx, `SELECT t.id FROM tasks t
		WHERE t.id IN (SELECT r.task_id FROM segments g JOIN replicas r ON r.id = g.replica_id WHERE g.account = ?1
		               UNION SELECT c.task_id FROM checkpoints c WHERE c.account = ?1)
		  AND t.state = 'done'
		ORDER BY t.id`, account)
}

func (db *DB) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
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

const (
	qLedgerInsert = `INSERT INTO ledger(seq, kind, account, site, job_id, task_id, replica_id, link, fuel, ref, day, at, reason)
		VALUES((SELECT coalesce(max(seq), 0) + 1 FROM ledger),?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq`
)

// LedgerAppend checks each entry against the ledger before appending it:
// a revoke must name a grant of its account not revoked yet, and its Day
// and Site are made its grant's. Any refusal appends nothing.
func (db *DB) LedgerAppend(ctx context.Context, p *store.LedgerAppendParams) ([]store.LedgerEntry, error) {
	var out []store.LedgerEntry
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = db.appendLedger(ctx, tx, p.Entries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendLedger numbers and inserts entries in tx.
// Its insert, on the hot path (a settlement's grants), is prepared once
// (DB.stmts).
func (db *DB) appendLedger(ctx context.Context, tx *sql.Tx, entries []store.LedgerEntry) ([]store.LedgerEntry, error) {
	out := make([]store.LedgerEntry, len(entries))
	copy(out, entries)
	err := func() error {
		for i := range out {
			e := &out[i]
			switch e.Kind {
			case store.LedgerGrant, store.LedgerBan:
			case store.LedgerRevoke:
				var kind, acct, site string
				var day int64
				var revoked int
				err := tx.QueryRowContext(ctx, `SELECT kind, account, day, site, (SELECT count(*) FROM ledger WHERE kind = 'revoke' AND ref = g.seq) FROM ledger g WHERE seq = ?`, e.Ref).
					Scan(&kind, &acct, &day, &site, &revoked)
				if errors.Is(err, sql.ErrNoRows) || (err == nil && (kind != string(store.LedgerGrant) || acct != e.Account)) {
					return fmt.Errorf("sqlite: ledger entry %d revokes entry %d, which is not a grant to %q", i, e.Ref, e.Account)
				}
				if err != nil {
					return interpretError(err)
				}
				if revoked > 0 {
					return fmt.Errorf("sqlite: ledger entry %d revokes grant %d, already revoked", i, e.Ref)
				}
				e.Day, e.Site = day, site
			default:
				return fmt.Errorf("sqlite: ledger entry %d has unknown kind %q", i, e.Kind)
			}
			if e.Account == "" {
				return fmt.Errorf("sqlite: ledger entry %d names no account", i)
			}
			if e.Fuel >= 1<<63 || e.Link >= 1<<63 {
				return fmt.Errorf("sqlite: ledger entry %d: fuel %d or link %d out of range", i, e.Fuel, e.Link)
			}
			// Numbered next (one writer: the last seq + 1, no gaps).
			if err := db.st(ctx, tx, qLedgerInsert).QueryRowContext(ctx,
				e.Kind, e.Account, e.Site, e.JobID, e.TaskID, e.ReplicaID, int64(e.Link), int64(e.Fuel), e.Ref, e.Day, ms(e.At), e.Reason).Scan(&e.Seq); err != nil {
				return interpretError(err)
			}
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (db *DB) LedgerList(ctx context.Context, p *store.LedgerListParams) ([]store.LedgerEntry, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // all
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, kind, account, site, job_id, task_id, replica_id, link, fuel, ref, day, at, reason FROM ledger
		WHERE (?1 = '' OR account = ?1) AND seq > ?2 AND (?4 = 0 OR task_id = ?4) ORDER BY seq LIMIT ?3`, p.Account, p.AfterSeq, limit, p.TaskID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var e store.LedgerEntry
		var at sql.NullInt64
		if err := rows.Scan(&e.Seq, &e.Kind, &e.Account, &e.Site, &e.JobID, &e.TaskID, &e.ReplicaID, &e.Link, &e.Fuel, &e.Ref, &e.Day, &at, &e.Reason); err != nil {
			return nil, interpretError(err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, interpretError(rows.Err())
}

// CreditList sums grants per account and day earned, less the revokes of
// those grants (each against its grant's day, whenever it was revoked).
// An account's day whose credit was all revoked is left out.
func (db *DB) CreditList(ctx context.Context, p *store.CreditListParams) ([]store.CreditRow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT account, day, sum(fuel) FROM (
			SELECT account, day, fuel FROM ledger WHERE kind = 'grant'
			UNION ALL
			SELECT g.account, g.day, -r.fuel FROM ledger r JOIN ledger g ON g.seq = r.ref WHERE r.kind = 'revoke')
		WHERE (?1 = '' OR account = ?1) AND day >= ?2
		GROUP BY account, day HAVING sum(fuel) > 0 ORDER BY account, day`, p.Account, p.SinceDay)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.CreditRow
	for rows.Next() {
		var c store.CreditRow
		if err := rows.Scan(&c.Account, &c.Day, &c.Fuel); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}

// SiteCreditList sums the grants attributed to a site per site, account
// and day earned, less the revokes of those grants (as CreditList).
func (db *DB) SiteCreditList(ctx context.Context, p *store.SiteCreditListParams) ([]store.SiteCreditRow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT site, account, day, sum(fuel) FROM (
			SELECT site, account, day, fuel FROM ledger WHERE kind = 'grant' AND site != ''
			UNION ALL
			SELECT g.site, g.account, g.day, -r.fuel FROM ledger r JOIN ledger g ON g.seq = r.ref WHERE r.kind = 'revoke' AND g.site != '')
		WHERE (?1 = '' OR site = ?1) AND day >= ?2
		GROUP BY site, account, day HAVING sum(fuel) > 0 ORDER BY site, account, day`, p.Site, p.SinceDay)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.SiteCreditRow
	for rows.Next() {
		var c store.SiteCreditRow
		if err := rows.Scan(&c.Site, &c.Account, &c.Day, &c.Fuel); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}
