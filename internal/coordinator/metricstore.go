package coordinator

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowdrun/crowdrun/internal/store"
)

// meteredStore is the coordinator's store seen through its metrics: every
// method of store.Store timed (crowdrun_store_seconds{op}), and what the
// committed calls did counted — leases granted and expired, results,
// checkpoints, settlements and the fuel they credit, audits, disputes,
// liars. Counting at the seam counts what was committed, once, whichever
// goroutine (dispatcher, committer, verifier, rescuer) committed it, and
// leaves the policy above the seam untouched.
//
// It embeds the store so that a method added to store.Store still works
// here untimed; TestMeteredStoreCoversTheSeam fails until it is timed too.
type meteredStore struct {
	store.Store
	m   *metrics
	ops map[string]prometheus.Observer // by method name, made up front
}

// meteredNotifier keeps a Notifier store (PostgreSQL) one: the coordinator
// listens through it.
type meteredNotifier struct {
	*meteredStore
	store.Notifier
}

func newMeteredStore(s store.Store, m *metrics) store.Store {
	ms := &meteredStore{Store: s, m: m, ops: map[string]prometheus.Observer{}}
	for _, op := range storeOps {
		ms.ops[op] = m.storeSeconds.WithLabelValues(op)
		m.storeErrors.WithLabelValues(op)
	}
	if n, ok := s.(store.Notifier); ok {
		return &meteredNotifier{ms, n}
	}
	return ms
}

// observe times one call and counts it as failed unless its error is one
// of the store's expected outcomes, or the caller gave up (its context
// ended: a driver may report the interruption in words of its own).
func (s *meteredStore) observe(ctx context.Context, op string, start time.Time, err *error) {
	s.ops[op].Observe(time.Since(start).Seconds())
	if e := *err; e != nil && ctx.Err() == nil && !expectedStoreError(e) {
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func expectedStoreError(err error) bool {
	for _, s := range []error{store.ErrNotFound, store.ErrLeaseNotHeld, store.ErrJobFinished, store.ErrCheckpointOrder,
		store.ErrTaskSettled, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// --- the calls whose outcome is counted ---

func (s *meteredStore) ReplicaLease(ctx context.Context, p *store.ReplicaLeaseParams) (ls []*store.Lease, err error) {
	defer s.observe(ctx, "ReplicaLease", time.Now(), &err)
	ls, err = s.Store.ReplicaLease(ctx, p)
	if err == nil && len(ls) > 0 {
		s.m.leasesGranted.WithLabelValues(s.m.kindOf(p.SessionID)).Add(float64(len(ls)))
	}
	return ls, err
}

func (s *meteredStore) ReplicaRequeueExpired(ctx context.Context, p *store.ReplicaRequeueExpiredParams) (rs []store.RevokedLease, err error) {
	defer s.observe(ctx, "ReplicaRequeueExpired", time.Now(), &err)
	rs, err = s.Store.ReplicaRequeueExpired(ctx, p)
	for _, r := range rs {
		s.m.leasesExpired.WithLabelValues(s.m.kindOf(r.SessionID)).Inc()
	}
	return rs, err
}

func (s *meteredStore) SessionEnd(ctx context.Context, p *store.SessionEndParams) (n int, err error) {
	defer s.observe(ctx, "SessionEnd", time.Now(), &err)
	n, err = s.Store.SessionEnd(ctx, p)
	s.m.requeued.WithLabelValues("session_ended").Add(float64(n))
	return n, err
}

func (s *meteredStore) SessionEndAll(ctx context.Context, p *store.SessionEndAllParams) (n int, err error) {
	defer s.observe(ctx, "SessionEndAll", time.Now(), &err)
	n, err = s.Store.SessionEndAll(ctx, p)
	s.m.requeued.WithLabelValues("session_ended").Add(float64(n))
	return n, err
}

func (s *meteredStore) CoordinatorEnd(ctx context.Context, p *store.CoordinatorEndParams) (r *store.CoordinatorReaped, err error) {
	defer s.observe(ctx, "CoordinatorEnd", time.Now(), &err)
	r, err = s.Store.CoordinatorEnd(ctx, p)
	if err == nil {
		s.m.requeued.WithLabelValues("coordinator_gone").Add(float64(r.Requeued))
	}
	return r, err
}

func (s *meteredStore) CoordinatorReap(ctx context.Context, p *store.CoordinatorReapParams) (r *store.CoordinatorReaped, err error) {
	defer s.observe(ctx, "CoordinatorReap", time.Now(), &err)
	r, err = s.Store.CoordinatorReap(ctx, p)
	if err == nil {
		s.m.requeued.WithLabelValues("coordinator_gone").Add(float64(r.Requeued))
	}
	return r, err
}

func (s *meteredStore) ReplicaComplete(ctx context.Context, p *store.ReplicaCompleteParams) (os []store.ReplicaOutcome, err error) {
	defer s.observe(ctx, "ReplicaComplete", time.Now(), &err)
	os, err = s.Store.ReplicaComplete(ctx, p)
	for _, o := range os {
		if o.Err == nil {
			s.m.results.WithLabelValues("accepted").Inc()
		} else {
			s.m.results.WithLabelValues("refused").Inc()
		}
	}
	return os, err
}

func (s *meteredStore) CheckpointAdd(ctx context.Context, p *store.CheckpointAddParams) (a *store.CheckpointAdded, err error) {
	defer s.observe(ctx, "CheckpointAdd", time.Now(), &err)
	a, err = s.Store.CheckpointAdd(ctx, p)
	if err == nil {
		s.m.ckStore.Observe(float64(len(p.Snapshot)))
		// The worker's own report: bounded as the policy bounds it
		// (policy.addCost), so that one absurd claim cannot skew the sum.
		if p.CostMS >= 0 && p.CostMS <= maxReportedCostMS {
			s.m.ckCost.Observe(p.CostMS / 1000)
		}
	}
	return a, err
}

func (s *meteredStore) TaskSettle(ctx context.Context, p *store.TaskSettleParams) (r *store.TaskSettled, err error) {
	defer s.observe(ctx, "TaskSettle", time.Now(), &err)
	r, err = s.Store.TaskSettle(ctx, p)
	if err == nil {
		s.m.tasksSettled.WithLabelValues(string(p.State), p.Verification).Inc()
		s.m.ledger(p.Ledger)
	}
	return r, err
}

func (s *meteredStore) TaskSettleBatch(ctx context.Context, ps []*store.TaskSettleParams) (out []store.TaskSettleOutcome, err error) {
	defer s.observe(ctx, "TaskSettleBatch", time.Now(), &err)
	out, err = s.Store.TaskSettleBatch(ctx, ps)
	if err == nil {
		for i, o := range out {
			if o.Err == nil {
				s.m.tasksSettled.WithLabelValues(string(ps[i].State), ps[i].Verification).Inc()
				s.m.ledger(ps[i].Ledger)
			}
		}
	}
	return out, err
}

func (s *meteredStore) LedgerAppend(ctx context.Context, p *store.LedgerAppendParams) (es []store.LedgerEntry, err error) {
	defer s.observe(ctx, "LedgerAppend", time.Now(), &err)
	es, err = s.Store.LedgerAppend(ctx, p)
	if err == nil {
		s.m.ledger(p.Entries)
	}
	return es, err
}

// ledger counts committed ledger entries: the fuel granted (verified) and
// revoked, and bans.
func (m *metrics) ledger(es []store.LedgerEntry) {
	for _, e := range es {
		switch e.Kind {
		case store.LedgerGrant:
			m.fuelVerified.Add(float64(e.Fuel))
		case store.LedgerRevoke:
			m.fuelRevoked.Add(float64(e.Fuel))
		case store.LedgerBan:
			m.bans.Inc()
		}
	}
}

func (s *meteredStore) JobNote(ctx context.Context, p *store.JobNoteParams) (err error) {
	defer s.observe(ctx, "JobNote", time.Now(), &err)
	err = s.Store.JobNote(ctx, p)
	if err == nil {
		s.m.audits.WithLabelValues("agreed").Add(float64(p.Audits))
		s.m.disputes.Add(float64(p.Disputes))
		s.m.unsettled.Add(float64(p.Unsettled))
		s.m.liesCaught.Add(float64(p.LiesCaught))
		s.m.reopened.Add(float64(p.Reopened))
	}
	return err
}

func (s *meteredStore) AccountAdd(ctx context.Context, p *store.AccountAddParams) (a *store.Account, err error) {
	defer s.observe(ctx, "AccountAdd", time.Now(), &err)
	a, err = s.Store.AccountAdd(ctx, p)
	if err == nil {
		s.m.audits.WithLabelValues("lied").Add(float64(p.AuditLies))
	}
	return a, err
}

// --- timed only ---

func (s *meteredStore) BlobPut(ctx context.Context, p *store.BlobPutParams) (_ string, err error) {
	defer s.observe(ctx, "BlobPut", time.Now(), &err)
	return s.Store.BlobPut(ctx, p)
}

func (s *meteredStore) BlobGet(ctx context.Context, hash string) (_ []byte, err error) {
	defer s.observe(ctx, "BlobGet", time.Now(), &err)
	return s.Store.BlobGet(ctx, hash)
}

func (s *meteredStore) BlobGC(ctx context.Context, p *store.BlobGCParams) (_ *store.BlobGCResult, err error) {
	defer s.observe(ctx, "BlobGC", time.Now(), &err)
	return s.Store.BlobGC(ctx, p)
}

func (s *meteredStore) JobInsert(ctx context.Context, p *store.JobInsertParams) (_ *store.Job, err error) {
	defer s.observe(ctx, "JobInsert", time.Now(), &err)
	return s.Store.JobInsert(ctx, p)
}

func (s *meteredStore) JobGet(ctx context.Context, p *store.JobGetParams) (_ *store.Job, err error) {
	defer s.observe(ctx, "JobGet", time.Now(), &err)
	return s.Store.JobGet(ctx, p)
}

func (s *meteredStore) JobList(ctx context.Context, p *store.JobListParams) (_ []*store.Job, err error) {
	defer s.observe(ctx, "JobList", time.Now(), &err)
	return s.Store.JobList(ctx, p)
}

func (s *meteredStore) JobCounts(ctx context.Context, jobID int64) (_ *store.JobCounts, err error) {
	defer s.observe(ctx, "JobCounts", time.Now(), &err)
	return s.Store.JobCounts(ctx, jobID)
}

func (s *meteredStore) JobCancel(ctx context.Context, p *store.JobCancelParams) (_ *store.Job, _ []store.RevokedLease, err error) {
	defer s.observe(ctx, "JobCancel", time.Now(), &err)
	return s.Store.JobCancel(ctx, p)
}

func (s *meteredStore) TaskListResults(ctx context.Context, p *store.TaskListResultsParams) (_ []*store.Task, err error) {
	defer s.observe(ctx, "TaskListResults", time.Now(), &err)
	return s.Store.TaskListResults(ctx, p)
}

func (s *meteredStore) SessionStart(ctx context.Context, p *store.SessionStartParams) (_ *store.Session, err error) {
	defer s.observe(ctx, "SessionStart", time.Now(), &err)
	return s.Store.SessionStart(ctx, p)
}

func (s *meteredStore) SessionList(ctx context.Context, p *store.SessionListParams) (_ []*store.Session, err error) {
	defer s.observe(ctx, "SessionList", time.Now(), &err)
	return s.Store.SessionList(ctx, p)
}

func (s *meteredStore) CoordinatorStart(ctx context.Context, p *store.CoordinatorStartParams) (err error) {
	defer s.observe(ctx, "CoordinatorStart", time.Now(), &err)
	return s.Store.CoordinatorStart(ctx, p)
}

func (s *meteredStore) CoordinatorHeartbeat(ctx context.Context, p *store.CoordinatorHeartbeatParams) (err error) {
	defer s.observe(ctx, "CoordinatorHeartbeat", time.Now(), &err)
	return s.Store.CoordinatorHeartbeat(ctx, p)
}

func (s *meteredStore) CoordinatorList(ctx context.Context, limit int) (_ []*store.Coordinator, err error) {
	defer s.observe(ctx, "CoordinatorList", time.Now(), &err)
	return s.Store.CoordinatorList(ctx, limit)
}

func (s *meteredStore) ReplicaRenew(ctx context.Context, p *store.ReplicaRenewParams) (err error) {
	defer s.observe(ctx, "ReplicaRenew", time.Now(), &err)
	return s.Store.ReplicaRenew(ctx, p)
}

func (s *meteredStore) ReplicaRelease(ctx context.Context, p *store.ReplicaReleaseParams) (_ int, err error) {
	defer s.observe(ctx, "ReplicaRelease", time.Now(), &err)
	return s.Store.ReplicaRelease(ctx, p)
}

func (s *meteredStore) ReplicaCountQueued(ctx context.Context) (_ int, err error) {
	defer s.observe(ctx, "ReplicaCountQueued", time.Now(), &err)
	return s.Store.ReplicaCountQueued(ctx)
}

func (s *meteredStore) CheckpointList(ctx context.Context, p *store.CheckpointListParams) (_ []*store.Checkpoint, err error) {
	defer s.observe(ctx, "CheckpointList", time.Now(), &err)
	return s.Store.CheckpointList(ctx, p)
}

func (s *meteredStore) SegmentList(ctx context.Context, p *store.SegmentListParams) (_ []*store.Segment, err error) {
	defer s.observe(ctx, "SegmentList", time.Now(), &err)
	return s.Store.SegmentList(ctx, p)
}

func (s *meteredStore) WorkerStats(ctx context.Context) (_ []*store.WorkerStat, err error) {
	defer s.observe(ctx, "WorkerStats", time.Now(), &err)
	return s.Store.WorkerStats(ctx)
}

func (s *meteredStore) TokenInsert(ctx context.Context, p *store.TokenInsertParams) (_ *store.Token, err error) {
	defer s.observe(ctx, "TokenInsert", time.Now(), &err)
	return s.Store.TokenInsert(ctx, p)
}

func (s *meteredStore) TokenLookup(ctx context.Context, p *store.TokenLookupParams) (_ *store.Token, err error) {
	defer s.observe(ctx, "TokenLookup", time.Now(), &err)
	return s.Store.TokenLookup(ctx, p)
}

func (s *meteredStore) TokenList(ctx context.Context, p *store.TokenListParams) (_ []*store.Token, err error) {
	defer s.observe(ctx, "TokenList", time.Now(), &err)
	return s.Store.TokenList(ctx, p)
}

func (s *meteredStore) TokenRevoke(ctx context.Context, p *store.TokenRevokeParams) (_ *store.Token, err error) {
	defer s.observe(ctx, "TokenRevoke", time.Now(), &err)
	return s.Store.TokenRevoke(ctx, p)
}

func (s *meteredStore) TaskEvidence(ctx context.Context, taskID int64) (_ *store.TaskEvidence, err error) {
	defer s.observe(ctx, "TaskEvidence", time.Now(), &err)
	return s.Store.TaskEvidence(ctx, taskID)
}

func (s *meteredStore) TaskEvidenceBatch(ctx context.Context, ids []int64) (_ []*store.TaskEvidence, err error) {
	defer s.observe(ctx, "TaskEvidenceBatch", time.Now(), &err)
	return s.Store.TaskEvidenceBatch(ctx, ids)
}

func (s *meteredStore) ReplicaAdd(ctx context.Context, p *store.ReplicaAddParams) (_ int64, err error) {
	defer s.observe(ctx, "ReplicaAdd", time.Now(), &err)
	return s.Store.ReplicaAdd(ctx, p)
}

func (s *meteredStore) ReplicaVerdict(ctx context.Context, p *store.ReplicaVerdictParams) (_ []store.RevokedLease, err error) {
	defer s.observe(ctx, "ReplicaVerdict", time.Now(), &err)
	return s.Store.ReplicaVerdict(ctx, p)
}

func (s *meteredStore) TaskReopen(ctx context.Context, p *store.TaskReopenParams) (err error) {
	defer s.observe(ctx, "TaskReopen", time.Now(), &err)
	return s.Store.TaskReopen(ctx, p)
}

func (s *meteredStore) AccountGet(ctx context.Context, id string) (_ *store.Account, err error) {
	defer s.observe(ctx, "AccountGet", time.Now(), &err)
	return s.Store.AccountGet(ctx, id)
}

func (s *meteredStore) AccountPending(ctx context.Context, account string) (_ store.Pending, err error) {
	defer s.observe(ctx, "AccountPending", time.Now(), &err)
	return s.Store.AccountPending(ctx, account)
}

func (s *meteredStore) AccountList(ctx context.Context, p *store.AccountListParams) (_ []*store.Account, err error) {
	defer s.observe(ctx, "AccountList", time.Now(), &err)
	return s.Store.AccountList(ctx, p)
}

func (s *meteredStore) TaskListUnsettled(ctx context.Context, limit int) (_ []int64, err error) {
	defer s.observe(ctx, "TaskListUnsettled", time.Now(), &err)
	return s.Store.TaskListUnsettled(ctx, limit)
}

func (s *meteredStore) TaskListOrphaned(ctx context.Context, p *store.TaskListOrphanedParams) (_ []int64, err error) {
	defer s.observe(ctx, "TaskListOrphaned", time.Now(), &err)
	return s.Store.TaskListOrphaned(ctx, p)
}

func (s *meteredStore) TasksRestingOn(ctx context.Context, account string) (_ []int64, err error) {
	defer s.observe(ctx, "TasksRestingOn", time.Now(), &err)
	return s.Store.TasksRestingOn(ctx, account)
}

func (s *meteredStore) LedgerList(ctx context.Context, p *store.LedgerListParams) (_ []store.LedgerEntry, err error) {
	defer s.observe(ctx, "LedgerList", time.Now(), &err)
	return s.Store.LedgerList(ctx, p)
}

func (s *meteredStore) CreditList(ctx context.Context, p *store.CreditListParams) (_ []store.CreditRow, err error) {
	defer s.observe(ctx, "CreditList", time.Now(), &err)
	return s.Store.CreditList(ctx, p)
}

func (s *meteredStore) SiteCreditList(ctx context.Context, p *store.SiteCreditListParams) (_ []store.SiteCreditRow, err error) {
	defer s.observe(ctx, "SiteCreditList", time.Now(), &err)
	return s.Store.SiteCreditList(ctx, p)
}

func (s *meteredStore) StateCounts(ctx context.Context) (_ *store.StateCounts, err error) {
	defer s.observe(ctx, "StateCounts", time.Now(), &err)
	return s.Store.StateCounts(ctx)
}

func (s *meteredStore) JobHistory(ctx context.Context, p *store.JobHistoryParams) (_ []store.HistoryBucket, err error) {
	defer s.observe(ctx, "JobHistory", time.Now(), &err)
	return s.Store.JobHistory(ctx, p)
}

func (s *meteredStore) TaskList(ctx context.Context, p *store.TaskListParams) (_ []*store.Task, err error) {
	defer s.observe(ctx, "TaskList", time.Now(), &err)
	return s.Store.TaskList(ctx, p)
}

func (s *meteredStore) Size(ctx context.Context) (_ int64, err error) {
	defer s.observe(ctx, "Size", time.Now(), &err)
	return s.Store.Size(ctx)
}

// storeOps are the methods timed: every one of store.Store but Close.
var storeOps = []string{
	"BlobPut", "BlobGet", "BlobGC", "JobInsert", "JobGet", "JobList", "JobCounts", "JobCancel",
	"TaskListResults", "SessionStart", "SessionEnd", "SessionEndAll", "SessionList", "CoordinatorStart",
	"CoordinatorHeartbeat", "CoordinatorEnd", "CoordinatorReap", "CoordinatorList", "ReplicaLease",
	"ReplicaRenew", "ReplicaComplete", "ReplicaRequeueExpired", "ReplicaRelease", "ReplicaCountQueued",
	"CheckpointAdd", "CheckpointList", "SegmentList", "WorkerStats", "TokenInsert", "TokenLookup", "TokenList",
	"TokenRevoke", "TaskEvidence", "TaskEvidenceBatch", "ReplicaAdd", "ReplicaVerdict", "TaskSettle", "TaskSettleBatch", "TaskReopen", "JobNote",
	"AccountGet", "AccountAdd", "AccountPending", "AccountList", "TaskListUnsettled", "TaskListOrphaned",
	"TasksRestingOn", "LedgerAppend", "LedgerList", "CreditList", "SiteCreditList", "StateCounts",
	"JobHistory", "TaskList", "Size",
}
