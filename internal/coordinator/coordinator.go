// Package coordinator is crowdrun's trusted centre: it accepts jobs over an
// HTTP API, validates their modules once, splits them into task replicas,
// leases replicas to workers connected over WebSocket, and records results
// in the store, comparing the replicas of each task.
//
// Goroutines: Open starts the dispatcher (grants leases), the committer
// (records results in batches) and the rescuer (requeues expired leases);
// each worker connection has a reader (its HTTP handler) and a writer.
// Close cancels them all and waits.
package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/verify"
)

// Coordinator is one running coordinator.
type Coordinator struct {
	cfg       Config
	store     store.Store
	engine    *sandbox.Engine
	ownEngine bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// id names this process in the store (store.Coordinator); a new one
	// if the others found it dead.
	id atomic.Pointer[string]
	// connWG: the worker connections' handlers, until their session ended.
	connWG   sync.WaitGroup
	sweeping atomic.Bool // an orphan sweep is feeding the verifier

	mu     sync.Mutex
	conns  map[int64]*conn // by session id
	closed bool
	// credibleConns counts the conns of accounts off probation
	// (probation.go).
	credibleConns int

	waitCh   chan *waiter
	wakeCh   chan struct{}
	resultCh chan pendingResult

	chMu    sync.Mutex
	changed chan struct{} // closed and replaced whenever a task or job finishes
	// followers: results streams following here (pollFollowers).
	followers atomic.Int64

	policy   *policy
	verifier *verify.Verifier
	metrics  *metrics // metrics.go; c.store counts into it
	reruns   *reruns
	// offProbation: accounts seen with trust.ProbationEnd verified
	// segments (probation.go).
	offProbation sync.Map
	// dash feeds the dashboards' live updates (dashboard.go).
	dash *dashHub

	// Abuse limits (limits.go).
	ownerRate, ipRate *limiter
	pending           pendingConns
	// prepared: the outcome of preparing recent modules (module.go).
	prepared preparedCache
}

// New checks cfg and returns a coordinator; call Open to start it.
func New(ctx context.Context, cfg Config) (*Coordinator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := newMetrics()
	c := &Coordinator{
		cfg:      cfg,
		store:    newMeteredStore(cfg.Store, m),
		metrics:  m,
		engine:   cfg.Engine,
		conns:    map[int64]*conn{},
		waitCh:   make(chan *waiter, 1024),
		wakeCh:   make(chan struct{}, 1),
		resultCh: make(chan pendingResult, 4096),
		changed:  make(chan struct{}),
		// A bucket is a few dozen bytes: 100,000 addresses or owners at
		// once are a few MiB.
		ownerRate: newLimiter(cfg.OwnerRate, cfg.Now, 100_000),
		ipRate:    newLimiter(cfg.IPRate, cfg.Now, 100_000),
		pending:   pendingConns{max: cfg.MaxPending, perIP: cfg.MaxPendingPerIP, byIP: map[string]int{}},
	}
	c.metrics.reg.MustRegister(newLiveCollector(c))
	c.policy = newPolicy(&c.cfg, c.store)
	c.dash = newDashHub(c)
	c.reruns = newReruns(c)
	// The verifier's slots bound the re-runs under way; the in-process
	// ones are bounded again, by slots and CPU, in reruns.
	c.verifier = verify.New(verify.Config{Store: c.store, Rerun: c.reruns.run, Logger: c.cfg.Logger, Now: c.cfg.Now,
		Revoke: c.revoke, Wake: c.wake, Settled: c.settled, TrustedSlots: c.cfg.TrustedSlots + maxRemoteReruns, Rand: c.cfg.Rand, MinAudit: c.cfg.MinAudit,
		Eligible: c.eligible, StrandedAfter: c.cfg.StrandedAfter, GroupEvidence: c.cfg.Shared})
	if c.engine == nil {
		eng, err := sandbox.NewEngine(ctx)
		if err != nil {
			return nil, err
		}
		c.engine, c.ownEngine = eng, true
	}
	return c, nil
}

// Open registers the coordinator in the store, recovers from a previous
// run and starts the background goroutines. No worker connection survives
// a coordinator, so the sessions of coordinators that are gone are closed
// and their leases requeued: every other coordinator's when the store is
// this one's alone, only those whose heartbeat is stale when it is Shared.
func (c *Coordinator) Open(ctx context.Context) error {
	id := c.cfg.ID
	if id == "" {
		id = newID()
	}
	if err := c.start(ctx, id); err != nil {
		return err
	}
	now := c.cfg.Now()
	reason := "coordinator restarted"
	if c.cfg.Shared {
		reason = "heartbeat stale"
	}
	r, err := c.store.CoordinatorReap(ctx, &store.CoordinatorReapParams{Self: id, All: !c.cfg.Shared, StaleBefore: now.Add(-c.cfg.CoordinatorTimeout),
		Reason: reason, Now: now})
	if err != nil {
		return fmt.Errorf("coordinator: recovering sessions: %w", err)
	}
	if r.Requeued > 0 || r.Sessions > 0 {
		c.cfg.Logger.Info("ended the sessions of coordinators gone", "coordinators", len(r.Coordinators), "sessions", r.Sessions, "requeued", r.Requeued)
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if n, ok := c.store.(store.Notifier); ok && c.cfg.Shared {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			// Work another coordinator made available; a settlement there
			// for results followed here.
			n.ListenWork(c.ctx, func(work bool) {
				if work {
					c.wake()
				}
				c.notify()
			})
		}()
	}
	if c.cfg.Shared && c.cfg.FollowPoll > 0 {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.pollFollowers(c.ctx) }()
	}
	c.wg.Add(5)
	go func() { defer c.wg.Done(); c.dash.run(c.ctx) }()
	go func() { defer c.wg.Done(); c.verifier.Run(c.ctx) }()
	go func() { defer c.wg.Done(); c.dispatch(c.ctx) }()
	go func() { defer c.wg.Done(); c.commit(c.ctx) }()
	go func() { defer c.wg.Done(); c.rescue(c.ctx) }()
	c.startBlobGC()
	c.wake()
	return nil
}

// newID is a fresh coordinator ID: host, process and random bits.
func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ID is the coordinator's current ID in the store.
func (c *Coordinator) ID() string {
	if p := c.id.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *Coordinator) start(ctx context.Context, id string) error {
	if err := c.store.CoordinatorStart(ctx, &store.CoordinatorStartParams{ID: id, Now: c.cfg.Now()}); err != nil {
		return fmt.Errorf("coordinator: registering %s: %w", id, err)
	}
	c.id.Store(&id)
	return nil
}

// Close stops everything Open started and every worker connection, and
// waits for them. It does not close the store.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.closeConns(errShutdown)
	// The handlers end their sessions (released or lost, as each worker
	// left); what is still open after a while ends with the coordinator.
	done := make(chan struct{})
	go func() { c.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	if id := c.ID(); id != "" && c.ctx != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.store.CoordinatorEnd(ctx, &store.CoordinatorEndParams{ID: id, Reason: "stopped", Now: c.cfg.Now()}); err != nil {
			c.cfg.Logger.Error("ending the coordinator in the store", "err", err)
		}
		cancel()
	}
	if c.ownEngine {
		return c.engine.Close(context.Background())
	}
	return nil
}

var (
	errShutdown = errors.New("coordinator shutting down")
	errDeclared = errors.New("coordinator found dead by another (heartbeat stale): reconnect")
)

// closeConns closes every worker connection.
func (c *Coordinator) closeConns(err error) {
	c.mu.Lock()
	conns := make([]*conn, 0, len(c.conns))
	for _, cn := range c.conns {
		conns = append(conns, cn)
	}
	c.mu.Unlock()
	for _, cn := range conns {
		cn.close(err)
	}
}

// wake tells the dispatcher there may be work.
func (c *Coordinator) wake() {
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
}

func (c *Coordinator) notify() {
	c.chMu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.chMu.Unlock()
}

// pollFollowers wakes the results streams that follow here every
// FollowPoll while there are any: settlements on other coordinators are
// not notified (Config.FollowPoll).
func (c *Coordinator) pollFollowers(ctx context.Context) {
	t := time.NewTicker(c.cfg.FollowPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.followers.Load() > 0 {
				c.notify()
			}
		}
	}
}

func (c *Coordinator) changes() <-chan struct{} {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	return c.changed
}

func (c *Coordinator) connFor(session int64) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns[session]
}

// revoke tells workers that leases are gone (job cancelled, lease expired).
func (c *Coordinator) revoke(rs []store.RevokedLease, reason string) {
	by := map[int64][]string{}
	for _, r := range rs {
		by[r.SessionID] = append(by[r.SessionID], r.LeaseID)
	}
	for s, ids := range by {
		if cn := c.connFor(s); cn != nil {
			cn.forget(ids...)
			cn.send(&protocol.Revoke{LeaseIDs: ids, Reason: reason})
		}
	}
}

// waiter is a worker's outstanding lease_request.
type waiter struct {
	conn  *conn
	reqID uint64
	max   int
}

// dispatch grants leases to waiting workers, oldest request first. It runs
// a round whenever there may be work (a submission, a requeue, a new
// request) and sleeps otherwise, so idle workers cost nothing.
func (c *Coordinator) dispatch(ctx context.Context) {
	var queue []*waiter
	hasWork := true
	for {
		if !hasWork || len(queue) == 0 {
			// Workers waiting: look again after IdlePoll even if nothing
			// said there is work (another coordinator may have made some).
			var poll <-chan time.Time
			var t *time.Timer
			if len(queue) > 0 && c.cfg.IdlePoll > 0 {
				t = time.NewTimer(c.cfg.IdlePoll)
				poll = t.C
			}
			select {
			case w := <-c.waitCh:
				queue = append(queue, w)
				hasWork = true
			case <-c.wakeCh:
				hasWork = true
			case <-poll:
				hasWork = true
			case <-ctx.Done():
				if t != nil {
					t.Stop()
				}
				return
			}
			if t != nil {
				t.Stop()
			}
		}
	drain:
		for {
			select {
			case w := <-c.waitCh:
				queue = append(queue, w)
			case <-c.wakeCh:
			default:
				break drain
			}
		}
		if len(queue) == 0 {
			continue
		}
		var keep []*waiter
		gotAny, checked := false, false
		for i, w := range queue {
			if ctx.Err() != nil {
				return
			}
			if w.conn.isDone() {
				continue
			}
			n, err := c.grant(ctx, w)
			if errors.Is(err, errSlotsFull) {
				w.conn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: w.reqID}, Code: protocol.CodeSlotsFull,
					Message: fmt.Sprintf("this session holds %d leases, its hello's slots: report or release some before asking for more", w.conn.slots)})
				continue
			}
			if err != nil {
				if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
					c.cfg.Logger.Error("leasing", "err", err)
					keep = append(keep, w)
				}
				continue
			}
			if n > 0 {
				gotAny = true
				continue
			}
			keep = append(keep, w)
			if !checked {
				// Nothing for this worker: is there anything at all, or is
				// it only excluded from what there is?
				checked = true
				if q, err := c.store.ReplicaCountQueued(ctx); err == nil && q == 0 {
					keep = append(keep, queue[i+1:]...)
					break
				}
			}
		}
		queue = keep
		if !gotAny {
			hasWork = false
		}
	}
}

// errSlotsFull: a waiter's session already holds as many leases as its
// slots.
var errSlotsFull = errors.New("slots full")

// grant leases replicas to one waiter and sends them: at most the slots
// its session has free, whatever it asked for, so that a worker asking
// again and again cannot take more work than it said it runs at once.
func (c *Coordinator) grant(ctx context.Context, w *waiter) (int, error) {
	free := w.conn.slots - w.conn.held()
	if free <= 0 {
		return 0, errSlotsFull
	}
	w.max = min(w.max, free)
	prob, err := c.probation(ctx, w.conn, w.max)
	if err != nil {
		return 0, err
	}
	now := c.cfg.Now()
	ls, err := c.store.ReplicaLease(ctx, &store.ReplicaLeaseParams{Account: w.conn.session.Account,
		SessionID: w.conn.session.ID, Worker: w.conn.session.Worker, Max: w.max,
		Deadline: now.Add(c.cfg.LeaseTTL), Now: now,
		CheckpointEvery: c.policy.current(ctx).Grid, Resume: w.conn.resume, Probation: prob,
	})
	if err != nil || len(ls) == 0 {
		return 0, err
	}
	msg := &protocol.Leases{Header: protocol.Header{ReplyTo: w.reqID}, Leases: make([]protocol.Lease, 0, len(ls))}
	for _, l := range ls {
		pl, err := c.leaseMessage(ctx, l)
		if err != nil {
			return 0, err // the leases lapse and are requeued
		}
		msg.Leases = append(msg.Leases, pl)
		w.conn.hold(&leaseState{id: l.LeaseID, maxOutput: l.Limits.MaxOutput, memory: l.Limits.MemoryBytes, module: l.ModuleHash,
			grid: l.CheckpointEvery, resume: l.Resume, at: now, fuelAt: startFuel(l), fromGrant: true, verifies: l.Verifies,
			job: l.JobID, part: l.TaskIndex, fuelLimit: l.Limits.Fuel, saved: now, timeout: time.Duration(l.Limits.TimeoutMS) * time.Millisecond})
	}
	w.conn.send(msg)
	return len(ls), nil
}

// startFuel is the fuel a lease's segment starts at.
func startFuel(l *store.Lease) uint64 {
	if l.Resume != nil {
		return l.Resume.Fuel
	}
	return 0
}

func (c *Coordinator) leaseMessage(ctx context.Context, l *store.Lease) (protocol.Lease, error) {
	pl := protocol.Lease{
		LeaseID: l.LeaseID, JobID: l.JobID, TaskID: l.TaskID, TaskIndex: l.TaskIndex,
		ModuleHash: l.ModuleHash, Stdin: l.Stdin, Args: l.Args, Env: l.Env, Seed: l.Seed,
		Limits:     protocol.Limits{Fuel: l.Limits.Fuel, MemoryBytes: l.Limits.MemoryBytes, MaxOutput: l.Limits.MaxOutput, TimeoutMS: l.Limits.TimeoutMS},
		DeadlineMS: l.Deadline.UnixMilli(), CheckpointEvery: l.CheckpointEvery,
	}
	if r := l.Resume; r != nil {
		pl.Resume = &protocol.Resume{Seq: r.Seq, Fuel: r.Fuel, StateHash: r.StateHash, Snapshot: r.SnapshotHash}
	}
	for _, f := range l.Files {
		data, err := c.store.BlobGet(ctx, f.Hash)
		if err != nil {
			return protocol.Lease{}, fmt.Errorf("file %s of task %d: %w", f.Name, l.TaskID, err)
		}
		pl.Files = append(pl.Files, protocol.File{Name: f.Name, Data: data})
	}
	return pl, nil
}

type pendingResult struct {
	conn  *conn
	msg   *protocol.Result
	lease *leaseState
}

const maxCommitBatch = 512

// commit records results in batches: one transaction for all the results
// that arrived while the previous one was being written.
func (c *Coordinator) commit(ctx context.Context) {
	batch := make([]pendingResult, 0, maxCommitBatch)
	params := &store.ReplicaCompleteParams{}
	for {
		batch = batch[:0]
		select {
		case p := <-c.resultCh:
			batch = append(batch, p)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < maxCommitBatch {
			select {
			case p := <-c.resultCh:
				batch = append(batch, p)
			default:
				break more
			}
		}
		params.Results = params.Results[:0]
		for _, p := range batch {
			m := p.msg
			params.Results = append(params.Results, store.ReplicaResult{
				SessionID: p.conn.session.ID, LeaseID: m.LeaseID, Status: m.Status, ExitCode: m.ExitCode,
				Message: m.Message, Stdout: m.Stdout, Stderr: m.Stderr, Fuel: m.Fuel, WallMS: m.WallMS,
			})
		}
		params.Now = c.cfg.Now()
		outs, err := c.store.ReplicaComplete(ctx, params)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.cfg.Logger.Error("recording results", "err", err, "results", len(batch))
			leases := map[*conn][]string{}
			for _, p := range batch {
				p.conn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: p.msg.ID}, Code: protocol.CodeInternal, Message: "the result could not be recorded; the lease will be requeued"})
				leases[p.conn] = append(leases[p.conn], p.msg.LeaseID)
			}
			c.requeueUnrecorded(ctx, leases, err)
			continue
		}
		for i, o := range outs {
			p := batch[i]
			p.conn.forget(p.msg.LeaseID)
			if o.Err != nil {
				p.conn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: p.msg.ID}, Code: protocol.CodeLeaseNotHeld,
					Message: fmt.Sprintf("lease %s is not held by this session (expired, revoked or already reported); the result was not recorded", p.msg.LeaseID)})
				continue
			}
			p.conn.send(&protocol.Ack{Header: protocol.Header{ReplyTo: p.msg.ID}})
			if ls := p.lease; ls != nil && p.msg.Fuel > ls.fuelAt {
				// wall_ms is the whole segment's run: it times the stretch
				// only when no checkpoint was taken in it.
				var reported time.Duration
				if ls.fromGrant {
					reported = time.Duration(p.msg.WallMS) * time.Millisecond
				}
				if d, ok := checkpoint.RunTime(params.Now.Sub(ls.at), reported, ls.fromGrant); ok {
					c.policy.addRate(p.msg.Fuel-ls.fuelAt, d)
				}
			}
			c.verifier.Result(ctx, o.TaskID)
		}
	}
}

// requeueUnrecorded gives back the leases whose results could not be
// recorded: their workers have moved on, but the store still has them
// leased to the session, whose renewals would keep them so for as long as
// it lasts (the chaos harness, docs/chaos.md, found a job stuck so after
// a full disk). A connection whose leases cannot be released either is
// closed: nothing renews them then, they lapse, and the rescuer requeues
// them once the store takes writes again.
func (c *Coordinator) requeueUnrecorded(ctx context.Context, leases map[*conn][]string, cause error) {
	for cn, ids := range leases {
		n, err := c.store.ReplicaRelease(ctx, &store.ReplicaReleaseParams{SessionID: cn.session.ID, LeaseIDs: ids,
			Progress: cn.progress(ids...), Now: c.cfg.Now()})
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.Error("requeueing leases whose results were not recorded; closing their connection", "session", cn.session.ID, "err", err)
			}
			cn.close(fmt.Errorf("results not recorded: %w", cause))
			continue
		}
		cn.forget(ids...)
		if n > 0 {
			c.wake()
		}
	}
}

// rescue writes the coordinator's heartbeat, requeues leases whose
// deadline passed (a worker that stopped renewing without its connection
// closing, or any lease left by a crash), ends the coordinators found dead
// with their sessions, and has the verifier decide the tasks whose
// evaluation a coordinator that is gone may have taken with it.
func (c *Coordinator) rescue(ctx context.Context) {
	t := time.NewTicker(c.cfg.RescueInterval)
	defer t.Stop()
	// Orphans are looked for every fifth of OrphanIdle (30 s by default),
	// at least every 5 s, and at once when a dead coordinator is found:
	// the look reads every pending task (docs/store.md), and each
	// coordinator on a shared store makes it.
	sweepEvery := max(1, int(max(5*time.Second, c.cfg.OrphanIdle/5)/c.cfg.RescueInterval))
	for tick := 0; ; tick++ {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		c.heartbeat(ctx)
		sweep := tick%sweepEvery == 0
		if c.cfg.Shared {
			now := c.cfg.Now()
			r, err := c.store.CoordinatorReap(ctx, &store.CoordinatorReapParams{Self: c.ID(), StaleBefore: now.Add(-c.cfg.CoordinatorTimeout),
				Reason: "heartbeat stale", Now: now})
			if err != nil {
				if ctx.Err() == nil {
					c.cfg.Logger.Error("looking for dead coordinators", "err", err)
				}
			} else if len(r.Coordinators) > 0 || r.Sessions > 0 {
				c.cfg.Logger.Warn("ended dead coordinators", "coordinators", r.Coordinators, "sessions", r.Sessions, "requeued", r.Requeued)
				c.wake()
				sweep = true
			}
		}
		if sweep {
			c.sweepOrphans(ctx)
		}
		rs, err := c.store.ReplicaRequeueExpired(ctx, &store.ReplicaRequeueExpiredParams{Now: c.cfg.Now()})
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.Error("requeueing expired leases", "err", err)
			}
			continue
		}
		if len(rs) > 0 {
			c.cfg.Logger.Info("requeued expired leases", "leases", len(rs))
			c.revoke(rs, "lease expired")
			c.wake()
		}
		// After the expired ones: a lease both expired and held too long
		// counts as expired.
		c.reclaimHeld(ctx)
	}
}

// heartbeat tells the others this coordinator is alive. One found dead
// meanwhile (its heartbeat was stale: a pause, a partition) has lost its
// sessions: it closes its connections, so that their workers reconnect
// with new sessions, and comes back under a new ID.
func (c *Coordinator) heartbeat(ctx context.Context) {
	err := c.store.CoordinatorHeartbeat(ctx, &store.CoordinatorHeartbeatParams{ID: c.ID(), Now: c.cfg.Now()})
	if err == nil || ctx.Err() != nil {
		return
	}
	if !errors.Is(err, store.ErrNotFound) {
		c.cfg.Logger.Error("writing the coordinator's heartbeat", "err", err)
		return
	}
	c.cfg.Logger.Error("another coordinator found this one dead; closing its connections", "id", c.ID())
	if err := c.start(ctx, newID()); err != nil {
		c.cfg.Logger.Error("registering again", "err", err)
		return
	}
	c.closeConns(errDeclared)
}

// sweepOrphans sends the verifier the tasks no live coordinator's verifier
// will look at again (store.TaskListOrphaned), in the background.
func (c *Coordinator) sweepOrphans(ctx context.Context) {
	if !c.sweeping.CompareAndSwap(false, true) {
		return
	}
	now := c.cfg.Now()
	ids, err := c.store.TaskListOrphaned(ctx, &store.TaskListOrphanedParams{StaleBefore: now.Add(-c.cfg.CoordinatorTimeout),
		IdleBefore: now.Add(-c.cfg.OrphanIdle), Limit: 10_000})
	if err != nil || len(ids) == 0 {
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("looking for orphaned tasks", "err", err)
		}
		c.sweeping.Store(false)
		return
	}
	c.cfg.Logger.Info("deciding tasks left undecided", "tasks", len(ids))
	go func() {
		defer c.sweeping.Store(false)
		for _, id := range ids {
			c.verifier.Result(ctx, id)
		}
	}()
}

// VerifierStats returns what the verifier did since Open: evaluations,
// audits, partners, disputes, liars caught, tasks accepted, and the fuel
// its trusted re-runs cost.
func (c *Coordinator) VerifierStats() verify.Stats { return c.verifier.Stats() }
