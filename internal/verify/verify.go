// Package verify decides when a task's result may be accepted and what it
// earns: it reads the evidence the store holds (every replica's chain of
// checkpoint state hashes and its result), compares the chains link by link,
// queues audits and quorum partners as internal/trust's policy plans them,
// settles disputes by re-running one link on trusted ground, catches liars
// (ban, credit revoked, accepted work that rested on them re-verified) and
// writes the credit ledger. The store only persists what it decides; the
// coordinator feeds it events (a checkpoint or a result recorded) and
// carries out what it returns (revoke leases, wake the dispatcher).
//
// docs/trust.md is the model; this file is its procedure.
package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/trust"
)

// RerunRequest asks trusted ground to re-execute one link of a task: from
// the checkpoint From (nil: the start) to checkpoint Seq, or to the end of
// the run when Final.
type RerunRequest struct {
	Evidence *store.TaskEvidence
	// Chain is the replica's checkpoints up to and including From, whose
	// output precedes the link's (for a final link's full output).
	Chain []*store.Checkpoint
	From  *store.Checkpoint
	Seq   uint64
	Final bool
	// Trace (with Final): re-run the rest of the chain from From to the
	// end, reporting every checkpoint passed (a confirmation, not a
	// dispute).
	Trace bool
}

// RerunResult is what trusted ground computed.
type RerunResult struct {
	StateHash              string // at checkpoint Seq (not final)
	StdoutHash, StderrHash string // the link's output since From (not final)
	Result                 *store.Result
	Fuel                   uint64 // fuel the re-run cost
	// Trace is every checkpoint a Trace re-run passed, in order.
	Trace []TracePoint
}

// TracePoint is one checkpoint a traced trusted re-run passed: its state
// hash and the hashes of the output since the previous traced point.
type TracePoint struct {
	Seq                    uint64
	StateHash              string
	StdoutHash, StderrHash string
}

// Rerunner re-executes one link on trusted ground.
type Rerunner func(ctx context.Context, r *RerunRequest) (*RerunResult, error)

// Config configures a Verifier.
type Config struct {
	Store  store.Store
	Rerun  Rerunner
	Logger *slog.Logger
	Now    func() time.Time
	// Rand draws audits; nil: seeded from the runtime's random source.
	Rand *rand.Rand
	// Revoke takes leases back from their workers (reason: what they are
	// told; never "audit").
	Revoke func(rs []store.RevokedLease, reason string)
	// Wake tells the dispatcher that replicas were queued.
	Wake func()
	// Settled tells waiters that a task (and maybe its job) finished.
	Settled func()
	// GroupEvidence: read evidence in groups (store.TaskEvidenceBatch,
	// settle.go), worth it where each read is a round trip to a server
	// (PostgreSQL); on SQLite, shards reading at once on its reader
	// connections measured faster (docs/store.md).
	GroupEvidence bool
	// Shards is how many tasks are evaluated at once; default 16. Their
	// acceptances commit together (settle.go): the more shards, the larger
	// a batch can be (docs/store.md measured 4, 8, 16 and 32).
	Shards int
	// TrustedSlots is how many trusted re-runs (Rerun calls) are under way
	// at once; more wait. Default 1. (The coordinator bounds its own
	// in-process share again, by slots and CPU.)
	TrustedSlots int
	// MinAudit is the audit rate of the most credible account
	// (trust.DefaultPolicy's when 0).
	MinAudit float64
	// Guard is the smallest lie rate the error bound is computed for
	// (trust.DefaultGuard when 0; negative: the worst case over every
	// rate).
	Guard float64
	// Eligible reports whether a worker that is none of these accounts
	// (and not banned) is connected: one that could take a check of their
	// work. Nil: always. See StrandedAfter.
	Eligible func(ctx context.Context, exclude []string) (bool, error)
	// StrandedAfter is how long a finished candidate's checks (audits, a
	// quorum partner) may stay queued with no eligible worker connected
	// before its chain is confirmed on trusted ground instead
	// (stranded.go). 0: DefaultStrandedAfter; negative: never.
	StrandedAfter time.Duration
}

// Stats counts what the verifier did since it started.
type Stats struct {
	Evaluations, Audits, Partners, Disputes, Caught, Accepted, TrustedFuel int64
	// Confirmations counts trusted traces of chains that no credible
	// account vouched for, or whose checks no worker could run (Stranded
	// of them); ConfirmFuel is their share of TrustedFuel.
	Confirmations, ConfirmFuel, Stranded int64
}

// Verifier runs the procedure. Events for one task are handled in order,
// one at a time; different tasks in parallel.
type Verifier struct {
	cfg    Config
	shards []chan event
	slots  chan struct{}
	wg     sync.WaitGroup

	// banMu orders catching a liar against accepting results: an
	// evaluation holds it shared from reading who is banned to settling,
	// a catch exclusively from the ban to the end of backtracking, so no
	// result resting on a liar is accepted after its backtracking ran.
	banMu sync.RWMutex

	mu       sync.Mutex
	rng      *rand.Rand
	disputes map[int64]bool // tasks with a trusted re-run under way
	caught   map[int64]bool // replicas whose structural lie is being caught
	watched  map[int64]bool // tasks with a checker running: compare at each checkpoint
	replicas map[int64]int  // job → its run replicas per task (immutable)
	// confirmed: task → the candidate replica a trusted trace confirmed
	// (its whole chain and result), for the acceptance that follows.
	confirmed map[int64]int64
	// checksAt: task → when the checks of its candidate were queued, or
	// last found waiting for a worker that could run them (stranded.go).
	checksAt map[int64]time.Time
	estimate *trust.Estimate // population, refreshed from the accounts
	estAt    time.Time

	statMu sync.Mutex
	stats  Stats

	// Group commit of acceptances and group reads of evidence (settle.go).
	settler group[*store.TaskSettleParams, store.TaskSettleOutcome]
	reader  group[int64, *store.TaskEvidence]
}

type event struct {
	task int64
	// evaluated, when not nil, is closed after the task's evaluation.
	evaluated chan struct{}
	// strand: the task's checks have waited StrandedAfter; see whether any
	// worker could run them (stranded.go).
	strand bool
	// settle: a trusted re-run's outcome for the dispute it names.
	settle *settlement
}

// New returns a verifier; Run starts it.
func New(cfg Config) *Verifier {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 16
	}
	if cfg.TrustedSlots <= 0 {
		cfg.TrustedSlots = 1
	}
	if cfg.Guard == 0 {
		cfg.Guard = trust.DefaultGuard
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	v := &Verifier{cfg: cfg, rng: rng, slots: make(chan struct{}, cfg.TrustedSlots),
		disputes: map[int64]bool{}, caught: map[int64]bool{}, watched: map[int64]bool{}, replicas: map[int64]int{},
		confirmed: map[int64]int64{}, checksAt: map[int64]time.Time{}}
	if v.cfg.StrandedAfter == 0 {
		v.cfg.StrandedAfter = DefaultStrandedAfter
	}
	for range cfg.Shards {
		v.shards = append(v.shards, make(chan event, 1024))
	}
	v.settler.yield, v.reader.yield = cfg.GroupEvidence, cfg.GroupEvidence
	return v
}

// Stats returns the counters.
func (v *Verifier) Stats() Stats {
	v.statMu.Lock()
	defer v.statMu.Unlock()
	return v.stats
}

func (v *Verifier) count(f func(*Stats)) {
	v.statMu.Lock()
	f(&v.stats)
	v.statMu.Unlock()
}

// Run handles events until ctx ends. It first evaluates every task left
// undecided (by a restart, or reopened by a schema migration).
func (v *Verifier) Run(ctx context.Context) {
	for i, ch := range v.shards {
		v.wg.Add(1)
		go func() { defer v.wg.Done(); v.loop(ctx, i, ch) }()
	}
	go v.recover(ctx)
	if v.cfg.Eligible != nil && v.cfg.StrandedAfter > 0 {
		v.wg.Add(1)
		go func() { defer v.wg.Done(); v.sweepStranded(ctx) }()
	}
	<-ctx.Done()
	v.wg.Wait()
}

func (v *Verifier) recover(ctx context.Context) {
	ids, err := v.cfg.Store.TaskListUnsettled(ctx, 100_000)
	if err != nil {
		if ctx.Err() == nil {
			v.cfg.Logger.Error("listing unsettled tasks", "err", err)
		}
		return
	}
	for _, id := range ids {
		v.send(ctx, event{task: id})
	}
}

func (v *Verifier) send(ctx context.Context, e event) {
	select {
	case v.shards[e.task%int64(len(v.shards))] <- e:
	case <-ctx.Done():
	}
}

// Checkpoint tells the verifier that a replica of a task recorded a
// checkpoint; role is the replica's. A job's replica count is learnt by
// evaluating one of its tasks, so a job not yet evaluated is evaluated at
// its first checkpoint: otherwise a job asking for a quorum would have its
// replicas compared only once a first result came in.
//
// With wait, the channel returned is closed once the task has been
// evaluated with this checkpoint in hand (nil: there was nothing to
// evaluate): by then the leases the evaluation revoked — an audit whose
// link is now compared — have been revoked.
func (v *Verifier) Checkpoint(ctx context.Context, task, job int64, role store.ReplicaRole, wait bool) <-chan struct{} {
	v.mu.Lock()
	n, known := v.replicas[job]
	watched := v.watched[task] || role == store.RoleAudit || n > 1 || !known
	v.mu.Unlock()
	if !watched {
		return nil
	}
	e := event{task: task}
	if wait {
		e.evaluated = make(chan struct{})
	}
	v.send(ctx, e)
	return e.evaluated
}

// Result tells the verifier that a replica of a task recorded its result.
func (v *Verifier) Result(ctx context.Context, task int64) { v.send(ctx, event{task: task}) }

func (v *Verifier) loop(ctx context.Context, shard int, ch chan event) {
	for {
		select {
		case e := <-ch:
			if e.settle != nil {
				v.banMu.Lock()
				err := v.applySettlement(ctx, e.settle)
				v.banMu.Unlock()
				if err != nil && ctx.Err() == nil {
					v.cfg.Logger.Error("applying a trusted re-run", "task", e.task, "err", err)
				}
			}
			v.banMu.RLock()
			var err error
			if e.strand {
				err = v.stranded(ctx, e.task)
			} else {
				err = v.evaluate(ctx, e.task)
			}
			v.banMu.RUnlock()
			if e.evaluated != nil {
				close(e.evaluated)
			}
			if err != nil && ctx.Err() == nil {
				v.cfg.Logger.Error("verifying a task", "task", e.task, "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// --- claims: what a replica says a link ends in ---

// claim is one replica's statement about link k: the checkpoint it
// uploaded at seq k, or (final) its result.
type claim struct {
	rep     *store.ReplicaInfo
	seq     uint64 // the checkpoint's seq; for a final claim, the last checkpoint's + 1
	final   bool
	ck      *store.Checkpoint // not final
	res     *store.Result     // final
	account string            // who computed it
}

// chain is a replica's claims by seq.
func chainOf(r *store.ReplicaInfo) map[uint64]*store.Checkpoint {
	m := make(map[uint64]*store.Checkpoint, len(r.Checkpoints))
	for _, c := range r.Checkpoints {
		m[c.Seq] = c
	}
	return m
}

func lastSeq(r *store.ReplicaInfo) uint64 {
	if n := len(r.Checkpoints); n > 0 {
		return r.Checkpoints[n-1].Seq
	}
	return 0
}

// sameCheckpoint compares two checkpoints at one seq: the state hash, and
// the output since the previous checkpoint when both took that one (the
// output hashes then cover the same stretch).
func sameCheckpoint(a, b *store.Checkpoint, bothHavePrev bool) bool {
	if a.StateHash != b.StateHash {
		return false
	}
	return !bothHavePrev || (a.StdoutHash == b.StdoutHash && a.StderrHash == b.StderrHash)
}

// divergence is the first link two replicas disagree on.
type divergence struct {
	a, b  *store.ReplicaInfo
	from  uint64 // the last seq both have and agree on (0: the start)
	seq   uint64 // the first seq they disagree at (final: ignored)
	final bool
}

// compare finds the first link where two replicas' chains disagree: at a
// checkpoint both took, or, when every common checkpoint agrees and both
// have finished, in their results.
func compare(a, b *store.ReplicaInfo) (*divergence, bool) {
	ca, cb := chainOf(a), chainOf(b)
	var seqs []uint64
	for s := range ca {
		if _, ok := cb[s]; ok {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	from := uint64(0)
	for _, s := range seqs {
		_, pa := ca[s-1]
		_, pb := cb[s-1]
		if !sameCheckpoint(ca[s], cb[s], s == 1 || (pa && pb)) {
			return &divergence{a: a, b: b, from: from, seq: s}, true
		}
		from = s
	}
	if a.Result != nil && b.Result != nil && !a.Result.Agrees(*b.Result) {
		return &divergence{a: a, b: b, from: from, final: true}, true
	}
	return nil, false
}

// live reports whether a replica still counts: not proved wrong, not void,
// and not cancelled (an audit whose link agreed is cancelled, and counts).
func live(r *store.ReplicaInfo) bool {
	if r.Verdict == store.VerdictLied || r.Verdict == store.VerdictVoid {
		return false
	}
	return r.State != store.ReplicaCancelled || r.Verdict == store.VerdictAgreed
}

// active reports whether a replica has a result or is still to run one.
func active(r *store.ReplicaInfo) bool {
	return r.Result != nil || r.State == store.ReplicaQueued || r.State == store.ReplicaLeased
}

// accountsOf lists who computed a replica's links, from its checkpoints
// and its final holder.
func linkAccount(r *store.ReplicaInfo, seq uint64) string {
	for _, c := range r.Checkpoints {
		if c.Seq == seq {
			return c.Account
		}
	}
	return r.Account
}

// --- evaluation ---

func (v *Verifier) evaluate(ctx context.Context, taskID int64) error {
	v.count(func(s *Stats) { s.Evaluations++ })
	var ev *store.TaskEvidence
	var err error
	if v.cfg.GroupEvidence {
		ev, err = v.evidence(ctx, taskID)
	} else {
		ev, err = v.cfg.Store.TaskEvidence(ctx, taskID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.replicas[ev.Job.ID] = ev.Job.Replicas
	busy := v.disputes[taskID]
	v.mu.Unlock()
	if ev.Task.State != store.TaskPending || ev.Job.State != store.JobRunning {
		v.unwatch(taskID)
		return nil
	}
	if busy {
		return nil // the trusted re-run's outcome re-evaluates it
	}
	banned, err := v.bannedAmong(ctx, ev)
	if err != nil {
		return err
	}
	var reps []*store.ReplicaInfo
	for _, r := range ev.Replicas {
		if !live(r) {
			continue
		}
		if acc := taintedBy(r, banned); acc != "" {
			// Computed in part by an account caught lying elsewhere: its
			// chain proves nothing.
			if err := v.discard(ctx, ev, r, store.VerdictVoid); err != nil {
				return err
			}
			continue
		}
		reps = append(reps, r)
	}

	// 0. A final fuel the chain itself contradicts is a lie no re-run is
	// needed for: below the last checkpoint's fuel. (Above it there is no
	// such bound: a worker may skip uploading a checkpoint too large to
	// send, so a run may end many grid points past its last one.)
	for i := 0; i < len(reps); i++ {
		r := reps[i]
		if r.Result == nil || ev.Grid == 0 {
			continue
		}
		var last, lastFuel uint64
		if n := len(r.Checkpoints); n > 0 {
			last, lastFuel = r.Checkpoints[n-1].Seq, r.Checkpoints[n-1].Fuel
		}
		if r.Result.Fuel < lastFuel {
			// Caught like any liar, in the loop's exclusive section.
			v.mu.Lock()
			dup := v.caught[r.ID]
			v.caught[r.ID] = true
			v.mu.Unlock()
			if dup {
				return nil
			}
			s := &settlement{ev: ev, liar: r, link: fmt.Sprintf("%d→end (final fuel %d after checkpoint %d at fuel %d, grid %d)",
				last, r.Result.Fuel, last, lastFuel, ev.Grid)}
			go v.send(ctx, event{task: ev.Task.ID, settle: s})
			return nil
		}
	}

	// 1. Compare every pair of chains computed by different accounts; the
	// first disagreement goes to trusted ground.
	for i, a := range reps {
		for _, b := range reps[i+1:] {
			if d, ok := compare(a, b); ok {
				return v.dispute(ctx, ev, d)
			}
		}
	}

	// 2. Audits whose link is in and agrees are over: take their leases
	// back (they look like any resumed segment until then).
	byID := map[int64]*store.ReplicaInfo{}
	for _, r := range reps {
		byID[r.ID] = r
	}
	agreed := map[int64]bool{} // audit replica ID → its link agreed
	newlyAgreed := false
	for _, r := range reps {
		if r.Role != store.RoleAudit {
			continue
		}
		of := byID[r.AuditOf]
		if of == nil {
			continue // the audited replica is gone: discard voids its audits
		}
		if auditDone(r, of) {
			agreed[r.ID] = true
			if r.Verdict != store.VerdictAgreed {
				if err := v.verdict(ctx, r, store.VerdictAgreed); err != nil {
					return err
				}
				newlyAgreed = r.State == store.ReplicaDone
				v.count(func(s *Stats) { s.Audits++ })
				if err := v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: ev.Job.ID, Audits: 1}); err != nil {
					return err
				}
			}
		}
	}

	if newlyAgreed {
		// An agreed audit's result is no longer a pending claim of its
		// account (store.AccountPending): an account on probation held
		// back by it may lease again.
		v.cfg.Wake()
	}

	// 3. The candidate result: the first finished run replica. (An audit
	// never carries a discarded replica's chain on: it started from that
	// replica's unverified checkpoints.)
	chain := func(r *store.ReplicaInfo) bool { return r.Role == store.RoleRun }
	var cand *store.ReplicaInfo
	pendingRun, chains := false, 0
	for _, r := range reps {
		if !chain(r) || !active(r) {
			continue
		}
		chains++
		if r.Result == nil {
			pendingRun = true
		} else if cand == nil {
			cand = r
		}
	}
	if cand == nil {
		if !pendingRun {
			return v.addRun(ctx, ev, "every replica was discarded")
		}
		return nil
	}

	// 4. Quorum jobs: the owner asked for Replicas run replicas; they must
	// all be in, agreeing (step 1 found no disagreement).
	if ev.Job.Replicas > 1 {
		var others []*store.ReplicaInfo
		for _, r := range reps {
			if r != cand && chain(r) && r.Result != nil {
				others = append(others, r)
			}
		}
		if len(others)+1 >= ev.Job.Replicas {
			return v.accept(ctx, ev, cand, others, store.VerifyQuorum)
		}
		if chains < ev.Job.Replicas {
			return v.addRun(ctx, ev, "a quorum replica was discarded")
		}
		v.watch(taskID)
		return nil
	}

	// 5. One replica: a partner or audits, as planned at its completion.
	var partner *store.ReplicaInfo
	audits := map[uint64][]*store.ReplicaInfo{} // by link, live or not
	planned := false
	for _, r := range ev.Replicas {
		if r.Role == store.RoleAudit && r.AuditOf == cand.ID {
			planned = true
			audits[r.AuditSeq] = append(audits[r.AuditSeq], r)
		}
	}
	for _, r := range reps {
		if r != cand && chain(r) && active(r) {
			partner = r
		}
	}
	// A candidate whose checks found no worker to run them was confirmed
	// by a trusted trace of its whole chain (stranded.go): the checks
	// still out are not needed.
	v.mu.Lock()
	confirmed := v.confirmed[taskID] == cand.ID
	v.mu.Unlock()
	if partner != nil {
		if partner.Result == nil {
			if confirmed {
				return v.accept(ctx, ev, cand, nil, store.VerifyTrusted)
			}
			v.watch(taskID)
			return nil
		}
		return v.accept(ctx, ev, cand, []*store.ReplicaInfo{partner}, store.VerifyQuorum)
	}
	if !planned {
		return v.plan(ctx, ev, cand)
	}
	var checkers []*store.ReplicaInfo
	waiting := false
	for seq, as := range audits {
		var ok *store.ReplicaInfo
		running := false
		for _, a := range as {
			if live(a) && agreed[a.ID] {
				ok = a
			} else if live(a) {
				running = true
			}
		}
		switch {
		case ok != nil:
			checkers = append(checkers, ok)
		case running:
			waiting = true
		default:
			// Every audit of this link was voided (its auditor was caught
			// elsewhere): audit it again.
			if confirmed {
				waiting = true
				continue
			}
			if _, err := v.cfg.Store.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: ev.Task.ID, Role: store.RoleAudit, AuditOf: cand.ID,
				AuditSeq: seq, Now: v.cfg.Now()}); err != nil && !errors.Is(err, store.ErrTaskSettled) {
				return err
			}
			v.noteChecks(taskID)
			v.cfg.Wake()
			waiting = true
		}
	}
	if waiting {
		if confirmed {
			slices.SortFunc(checkers, func(a, b *store.ReplicaInfo) int { return int(a.AuditSeq) - int(b.AuditSeq) })
			return v.accept(ctx, ev, cand, checkers, store.VerifyTrusted)
		}
		v.watch(taskID)
		return nil
	}
	slices.SortFunc(checkers, func(a, b *store.ReplicaInfo) int { return int(a.AuditSeq) - int(b.AuditSeq) })
	return v.accept(ctx, ev, cand, checkers, store.VerifyAudit)
}

// auditDone reports whether an audit's link is in and agrees with the
// audited replica's claim for it.
func auditDone(a, of *store.ReplicaInfo) bool {
	if a.AuditSeq > lastSeq(of) {
		// The final link: both results in (compare found them equal).
		return a.Result != nil && of.Result != nil
	}
	theirs := chainOf(of)
	for _, c := range a.Checkpoints {
		if c.Seq >= a.AuditSeq && theirs[c.Seq] != nil {
			return true // compare found it equal to the audited one's
		}
	}
	// The run ended before reaching the checkpoint the audited replica
	// claims: its result decides (compare found it equal, so the audited
	// replica's chain has the same ending).
	return a.Result != nil && of.Result != nil
}

func taintedBy(r *store.ReplicaInfo, banned map[string]bool) string {
	if len(banned) == 0 {
		return ""
	}
	for _, c := range r.Checkpoints {
		if banned[c.Account] {
			return c.Account
		}
	}
	if r.Result != nil && banned[r.Account] {
		return r.Account
	}
	return ""
}

// account is an account's record: from the evidence when it was read with
// it (store.TaskEvidence.Accounts), else from the store.
func (v *Verifier) account(ctx context.Context, ev *store.TaskEvidence, id string) (*store.Account, error) {
	if rec, ok := ev.Accounts[id]; ok {
		if rec == nil {
			return nil, store.ErrNotFound
		}
		return rec, nil
	}
	return v.cfg.Store.AccountGet(ctx, id)
}

func (v *Verifier) bannedAmong(ctx context.Context, ev *store.TaskEvidence) (map[string]bool, error) {
	var out map[string]bool
	seen := map[string]bool{}
	for _, r := range ev.Replicas {
		accs := []string{r.Account}
		for _, c := range r.Checkpoints {
			accs = append(accs, c.Account)
		}
		for _, a := range accs {
			if a == "" || seen[a] {
				continue
			}
			seen[a] = true
			rec, err := v.account(ctx, ev, a)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if !rec.BannedAt.IsZero() {
				if out == nil {
					out = map[string]bool{}
				}
				out[a] = true
			}
		}
	}
	return out, nil
}

func (v *Verifier) watch(task int64) {
	v.mu.Lock()
	v.watched[task] = true
	v.mu.Unlock()
}

func (v *Verifier) unwatch(task int64) {
	v.mu.Lock()
	delete(v.watched, task)
	delete(v.checksAt, task)
	v.mu.Unlock()
}

func (v *Verifier) addRun(ctx context.Context, ev *store.TaskEvidence, why string) error {
	if _, err := v.cfg.Store.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: ev.Task.ID, Role: store.RoleRun, Now: v.cfg.Now()}); err != nil {
		if errors.Is(err, store.ErrTaskSettled) {
			return nil
		}
		return err
	}
	v.cfg.Logger.Info("task re-queued", "task", ev.Task.ID, "why", why)
	v.count(func(s *Stats) { s.Partners++ })
	v.watch(ev.Task.ID)
	v.noteChecks(ev.Task.ID)
	v.cfg.Wake()
	return v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: ev.Job.ID, ReplicasRun: 1})
}

// --- planning ---

// policy is the job's policy with the population measured so far: F̂ from
// the accounts with evidence, and the lie rate from the records of the
// caught ones (trust.Estimate.Add): when caught liars lied on fewer
// segments than the guard, the policy plans for the worst rate between
// the two (docs/trust.md §7).
func (v *Verifier) policy(ctx context.Context, maxError float64) (trust.Policy, error) {
	v.mu.Lock()
	est, at := v.estimate, v.estAt
	v.mu.Unlock()
	if est == nil || v.cfg.Now().Sub(at) > time.Second {
		accs, err := v.cfg.Store.AccountList(ctx, &store.AccountListParams{})
		if err != nil {
			return trust.Policy{}, err
		}
		est = &trust.Estimate{}
		for _, a := range accs {
			est.Add(trust.Account{ID: a.ID, Verified: a.Verified, AuditsPassed: a.AuditsPassed, AuditsRun: a.AuditsRun,
				LiesCaught: a.LiesCaught, AuditLies: a.AuditLies, Blacklisted: !a.BannedAt.IsZero()})
		}
		v.mu.Lock()
		v.estimate, v.estAt = est, v.cfg.Now()
		v.mu.Unlock()
	}
	return JobPolicy(maxError, v.cfg.MinAudit, v.cfg.Guard, *est), nil
}

// links is the number of links of a finished replica's chain: one per
// checkpoint, and the final one.
func links(r *store.ReplicaInfo) int { return len(r.Checkpoints) + 1 }

// linkSeq is the seq that link i (0-based) ends at: the i-th checkpoint's,
// or past the last for the final link.
func linkSeq(r *store.ReplicaInfo, i int) uint64 {
	if i < len(r.Checkpoints) {
		return r.Checkpoints[i].Seq
	}
	return lastSeq(r) + 1
}

// plan decides, once the candidate is in, how it is checked: accepted as
// it is (the job's max error is 1), a partner replica by another account,
// or audits of some of its links.
func (v *Verifier) plan(ctx context.Context, ev *store.TaskEvidence, cand *store.ReplicaInfo) error {
	if ev.Job.MaxError >= 1 {
		return v.accept(ctx, ev, cand, nil, store.VerifyNone)
	}
	pol, err := v.policy(ctx, ev.Job.MaxError)
	if err != nil {
		return err
	}
	n := links(cand)
	// Each account that computed links of the chain is planned for on its
	// own record (PlanChecks).
	linkAccs := make([]string, n)
	recs := map[string]trust.Account{}
	for i := range n {
		acc := linkAccount(cand, linkSeq(cand, i))
		linkAccs[i] = acc
		if _, ok := recs[acc]; ok {
			continue
		}
		rec, err := v.account(ctx, ev, acc)
		if errors.Is(err, store.ErrNotFound) {
			rec, err = &store.Account{ID: acc}, nil
		}
		if err != nil {
			return err
		}
		recs[acc] = trust.Account{ID: acc, Verified: rec.Verified, AuditsPassed: rec.AuditsPassed, LiesCaught: rec.LiesCaught,
			Blacklisted: !rec.BannedAt.IsZero()}
	}
	v.mu.Lock()
	checks, err := PlanChecks(pol, linkAccs, recs, v.rng)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if checks.Partner {
		return v.addRun(ctx, ev, "quorum partner")
	}
	var auditSeqs []uint64
	for _, i := range checks.Audit {
		auditSeqs = append(auditSeqs, linkSeq(cand, i))
	}
	if len(auditSeqs) == 0 {
		// No link drawn: the plan's error bound covers the result as it is.
		return v.accept(ctx, ev, cand, nil, store.VerifyAudit)
	}
	slices.Sort(auditSeqs)
	for _, s := range auditSeqs {
		// An audit of link s starts from the checkpoint before it: the
		// previous one of the chain, which may be more than one grid
		// point back if the replica skipped one.
		start := uint64(1)
		for _, c := range cand.Checkpoints {
			if c.Seq < s {
				start = c.Seq + 1
			}
		}
		if _, err := v.cfg.Store.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: ev.Task.ID, Role: store.RoleAudit, AuditOf: cand.ID,
			AuditSeq: start, Now: v.cfg.Now()}); err != nil {
			if errors.Is(err, store.ErrTaskSettled) {
				return nil
			}
			return err
		}
	}
	v.watch(ev.Task.ID)
	v.noteChecks(ev.Task.ID)
	v.cfg.Wake()
	return nil
}

// --- acceptance and credit ---

// accept settles the task with the candidate's result, credits every link
// of it (and the checkers' agreeing links), and adds the evidence to the
// accounts' records.
func (v *Verifier) accept(ctx context.Context, ev *store.TaskEvidence, cand *store.ReplicaInfo, checkers []*store.ReplicaInfo, method string) error {
	// Anchoring: a checked link is only as good as its most credible
	// voucher. Where every account that computed or checked a link is
	// below the per-link budget (fresh accounts, which may collude), the
	// chain is confirmed on trusted ground first.
	v.mu.Lock()
	trusted := v.confirmed[ev.Task.ID] == cand.ID
	v.mu.Unlock()
	var anch map[string]bool
	if ev.Job.MaxError < 1 && len(checkers) > 0 {
		var need bool
		var err error
		if anch, need, err = v.anchors(ctx, ev, cand, checkers); err != nil {
			return err
		}
		if need && !trusted {
			return v.confirm(ctx, ev, cand, "no credible account vouches for a link")
		}
	}
	if trusted {
		method = store.VerifyTrusted
	}
	by := restingOn(cand, checkers, ev.Grid)
	if trusted {
		by = append(by, TrustedAccount)
	}
	// counts: evidence for acc's link from a voucher among others; only
	// trusted ground or a credible account (its error within the budget)
	// earns credibility, so fresh accounts vouching for each other build
	// none.
	counts := func(acc string, others []string) bool { return Counts(acc, others, anch, trusted) }
	vouch := vouchers(cand, checkers)
	now := v.cfg.Now()
	day := now.Unix() / 86400
	var entries []store.LedgerEntry
	verified := map[string]*store.AccountAddParams{}
	rec := func(acc string) *store.AccountAddParams {
		p := verified[acc]
		if p == nil {
			p = &store.AccountAddParams{ID: acc, Now: now}
			verified[acc] = p
		}
		return p
	}
	// grant credits a link to the account that computed it, attributed to
	// the site its session named (if any): the site's credit is a view of
	// these grants, so it stands and falls with them.
	grant := func(r *store.ReplicaInfo, l link) {
		seq, fuel, acc := l.seq, l.fuel, l.account
		if fuel == 0 || acc == "" {
			return
		}
		entries = append(entries, store.LedgerEntry{Kind: store.LedgerGrant, Account: acc, Site: l.site, JobID: ev.Job.ID, TaskID: ev.Task.ID,
			ReplicaID: r.ID, Link: seq, Fuel: fuel, Day: day, At: now})
	}
	// The candidate's links: each credited to the account that computed
	// it, its fuel the grid's (from verified snapshots), the final link's
	// at most one grid interval.
	checked := map[uint64]string{} // link seq → how it was checked
	for _, c := range checkers {
		if c.Role == store.RoleAudit {
			checked[auditLink(c, cand)] = store.VerifyAudit
		} else {
			for i := range links(cand) {
				checked[linkSeq(cand, i)] = store.VerifyQuorum
			}
		}
	}
	for _, l := range chainLinks(cand, ev.Grid) {
		grant(cand, l)
		if how, ok := checked[l.seq]; ok && counts(l.account, vouch[l.seq]) {
			p := rec(l.account)
			p.Verified++
			if how == store.VerifyAudit {
				p.AuditsPassed++
			}
		}
	}
	// The checkers' own links that agreed: an audit's one link, a
	// partner's whole chain.
	for _, c := range checkers {
		for _, l := range chainLinks(c, ev.Grid) {
			if c.Role == store.RoleAudit && l.seq != auditLink(c, cand) {
				continue
			}
			if c.Role == store.RoleAudit && !ownLink(c, l.seq) {
				continue
			}
			grant(c, l)
			if counts(l.account, vouch[coverSeq(cand, l.seq)]) {
				p := rec(l.account)
				p.Verified++
				if c.Role == store.RoleAudit {
					p.AuditsRun++
				}
			}
		}
	}
	// The evidence the settlement earns is recorded with it (one
	// transaction): counted once, or, if the task was settled elsewhere
	// first, not at all. The settlement goes with other shards' in one
	// transaction (settle.go), each of them wholly or not at all.
	var accts []store.AccountAddParams
	for _, p := range verified {
		accts = append(accts, *p)
	}
	settled, err := v.settle(ctx, &store.TaskSettleParams{TaskID: ev.Task.ID, State: store.TaskDone, Result: *cand.Result,
		Verification: method, VerifiedBy: by, Ledger: entries, Accounts: accts, Now: now})
	if errors.Is(err, store.ErrTaskSettled) {
		return nil
	}
	if err != nil {
		return err
	}
	v.unwatch(ev.Task.ID)
	v.mu.Lock()
	delete(v.confirmed, ev.Task.ID)
	v.mu.Unlock()
	v.cfg.Revoke(settled.Revoked, "no longer needed")
	v.count(func(s *Stats) { s.Accepted++ })
	v.cfg.Settled()
	return nil
}

// TrustedAccount names trusted ground (the coordinator) among the accounts
// a result rests on.
const TrustedAccount = "coordinator"

// coverSeq is the candidate's link that contains grid point seq: the first
// of its checkpoints at or after seq, or its final link.
func coverSeq(r *store.ReplicaInfo, seq uint64) uint64 {
	for _, c := range r.Checkpoints {
		if c.Seq >= seq {
			return c.Seq
		}
	}
	return lastSeq(r) + 1
}

// coverAccount is who computed the link of r that contains grid point seq.
func coverAccount(r *store.ReplicaInfo, seq uint64) string {
	for _, c := range r.Checkpoints {
		if c.Seq >= seq {
			return c.Account
		}
	}
	return r.Account
}

// vouchers lists, per checked link of the candidate (by its seq), the
// accounts whose computation says it: the candidate's computer first,
// then each checker's that covers it (a partner's whole chain, an
// audit's own first link).
func vouchers(cand *store.ReplicaInfo, checkers []*store.ReplicaInfo) map[uint64][]string {
	out := map[uint64][]string{}
	add := func(seq uint64, acc string) {
		if acc != "" && !slices.Contains(out[seq], acc) {
			out[seq] = append(out[seq], acc)
		}
	}
	for _, c := range checkers {
		if c.Role == store.RoleAudit {
			seq := auditLink(c, cand)
			add(seq, linkAccount(cand, seq))
			add(seq, coverAccount(c, c.AuditSeq))
			continue
		}
		for i := range links(cand) {
			seq := linkSeq(cand, i)
			add(seq, linkAccount(cand, seq))
			add(seq, coverAccount(c, seq))
		}
	}
	return out
}

// anchors reads the records of every account vouching for a checked link
// and reports which are credible — segment error within the task's
// per-link budget, from evidence that was itself anchored — and whether
// some checked link has no credible voucher at all. Such a link may be a
// lie several fresh accounts agree on (colluders), which no number of
// fresh accounts can rule out below the budget.
func (v *Verifier) anchors(ctx context.Context, ev *store.TaskEvidence, cand *store.ReplicaInfo, checkers []*store.ReplicaInfo) (map[string]bool, bool, error) {
	pol, err := v.policy(ctx, ev.Job.MaxError)
	if err != nil {
		return nil, false, err
	}
	vs := vouchers(cand, checkers)
	recs := map[string]trust.Account{}
	var list [][]string
	for _, accs := range vs {
		list = append(list, accs)
		for _, a := range accs {
			if _, ok := recs[a]; ok {
				continue
			}
			rec, err := v.account(ctx, ev, a)
			if errors.Is(err, store.ErrNotFound) {
				rec, err = &store.Account{ID: a}, nil
			}
			if err != nil {
				return nil, false, err
			}
			recs[a] = trust.Account{ID: a, Verified: rec.Verified, LiesCaught: rec.LiesCaught, Blacklisted: !rec.BannedAt.IsZero()}
		}
	}
	anch, need := Anchors(pol, links(cand), list, recs)
	return anch, need, nil
}

// confirm re-runs the candidate's whole chain on trusted ground, tracing
// every checkpoint; the outcome (applyConfirmation) catches whoever
// claimed otherwise, or lets the acceptance go on, anchored.
func (v *Verifier) confirm(ctx context.Context, ev *store.TaskEvidence, cand *store.ReplicaInfo, why string) error {
	v.mu.Lock()
	if v.disputes[ev.Task.ID] {
		v.mu.Unlock()
		return nil
	}
	v.disputes[ev.Task.ID] = true
	v.mu.Unlock()
	v.cfg.Logger.Info(why+"; confirming the chain on trusted ground", "task", ev.Task.ID, "replica", cand.ID)
	req := &RerunRequest{Evidence: ev, Final: true, Trace: true}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		select {
		case v.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res, err := v.cfg.Rerun(ctx, req)
		<-v.slots
		if ctx.Err() != nil {
			return
		}
		if res != nil {
			v.count(func(s *Stats) { s.TrustedFuel += int64(res.Fuel); s.ConfirmFuel += int64(res.Fuel) })
		}
		v.send(ctx, event{task: ev.Task.ID, settle: &settlement{ev: ev, confirmOf: cand, result: res, err: err}})
	}()
	return nil
}

// traceDisagreement names the first claim of r (its own links only, for
// an audit) that the trusted trace contradicts, and who computed it; ""
// when every claim agrees.
func traceDisagreement(r *store.ReplicaInfo, t *RerunResult) (link, acc string) {
	points := map[uint64]TracePoint{}
	prev := map[uint64]uint64{} // seq → the traced point before it (0: the start)
	last := uint64(0)
	for _, p := range t.Trace {
		points[p.Seq], prev[p.Seq] = p, last
		last = p.Seq
	}
	mine := uint64(0)
	if r.Role == store.RoleAudit {
		mine = r.AuditSeq
		// An audit resumes from the audited replica's checkpoint just
		// before its link (the last copy below AuditSeq). When trusted
		// ground does not reach that state, the audit computed honestly
		// or not from a lie it was handed and cannot choose: whatever it
		// claims after it proves nothing of its account. The liar is the
		// one whose chain first leaves the trace (the audited replica's
		// comparison finds it).
		var start *store.Checkpoint
		for _, c := range r.Checkpoints {
			if c.Seq < mine {
				start = c
			}
		}
		if start != nil {
			if p, ok := points[start.Seq]; !ok || p.StateHash != start.StateHash {
				return "", ""
			}
		}
	}
	before := uint64(0)
	for _, c := range r.Checkpoints {
		from := before
		before = c.Seq
		if c.Seq < mine {
			continue
		}
		p, ok := points[c.Seq]
		switch {
		case !ok:
			return fmt.Sprintf("%d→%d (no such checkpoint on trusted ground)", from, c.Seq), c.Account
		case p.StateHash != c.StateHash:
			return fmt.Sprintf("%d→%d", from, c.Seq), c.Account
		case prev[c.Seq] == from && (p.StdoutHash != c.StdoutHash || p.StderrHash != c.StderrHash):
			return fmt.Sprintf("%d→%d (output)", from, c.Seq), c.Account
		}
	}
	if r.Result != nil && (t.Result == nil || !r.Result.Agrees(*t.Result)) {
		return fmt.Sprintf("%d→end", before), r.Account
	}
	return "", ""
}

// applyConfirmation compares every live replica of the task with the
// trusted trace of the candidate's run.
func (v *Verifier) applyConfirmation(ctx context.Context, s *settlement) error {
	defer func() {
		v.mu.Lock()
		delete(v.disputes, s.ev.Task.ID)
		v.mu.Unlock()
	}()
	if s.err != nil {
		return v.unsettled(ctx, s.ev, fmt.Sprintf("replica %d's chain has no credible voucher and its trusted confirmation failed: %v", s.confirmOf.ID, s.err))
	}
	v.count(func(st *Stats) { st.Confirmations++ })
	candOK := true
	for _, r := range s.ev.Replicas {
		if !live(r) || (r.Result == nil && len(r.Checkpoints) == 0) {
			continue
		}
		if r.Role == store.RoleAudit && r.AuditOf != s.confirmOf.ID {
			continue
		}
		link, acc := traceDisagreement(r, s.result)
		if link == "" {
			continue
		}
		if r.ID == s.confirmOf.ID {
			candOK = false
		}
		if err := v.catch(ctx, s.ev, r, acc, link); err != nil {
			return err
		}
	}
	if candOK {
		v.mu.Lock()
		v.confirmed[s.ev.Task.ID] = s.confirmOf.ID
		v.mu.Unlock()
	}
	return nil
}

// ownLink reports whether an audit computed link seq itself (not a copy of
// the audited replica's checkpoint).
func ownLink(a *store.ReplicaInfo, seq uint64) bool { return seq >= a.AuditSeq }

// auditLink is the candidate's link an audit checks: the first of its
// own checkpoints, or the final link.
func auditLink(a, cand *store.ReplicaInfo) uint64 {
	for _, c := range cand.Checkpoints {
		if c.Seq >= a.AuditSeq {
			return c.Seq
		}
	}
	return lastSeq(cand) + 1
}

type link struct {
	seq, fuel uint64
	account   string
	// site: the site the computing session named, which the link's grant
	// is attributed to — never who vouches for it (account does that).
	site string
}

// chainLinks lists a finished replica's links with their fuel and the
// account that computed each. A link's fuel is the difference of its
// checkpoints' fuel (verified snapshots); the final link's is the result's
// fuel past the last checkpoint, capped at one grid interval (it ended
// before the next grid point) when there is a grid.
func chainLinks(r *store.ReplicaInfo, grid uint64) []link {
	var out []link
	prev := uint64(0)
	for _, c := range r.Checkpoints {
		if c.Fuel > prev {
			out = append(out, link{seq: c.Seq, fuel: c.Fuel - prev, account: c.Account, site: c.Site})
		}
		prev = c.Fuel
	}
	if r.Result != nil && r.Result.Fuel > prev {
		f := r.Result.Fuel - prev
		if grid > 0 && len(r.Checkpoints) > 0 {
			f = min(f, grid)
		}
		out = append(out, link{seq: lastSeq(r) + 1, fuel: f, account: r.Account, site: r.Site})
	}
	return out
}

// restingOn lists every account whose agreeing computation an accepted
// result rests on, the candidate's first: who computed the candidate's
// links, an audit's own link, a partner's links. An account that held a
// segment and computed nothing in it (a lease taken back before its first
// checkpoint, as a caught liar's are) is not among them.
func restingOn(cand *store.ReplicaInfo, checkers []*store.ReplicaInfo, grid uint64) []string {
	var by []string
	add := func(a string) {
		if a != "" && !slices.Contains(by, a) {
			by = append(by, a)
		}
	}
	for _, l := range chainLinks(cand, grid) {
		add(l.account)
	}
	for _, c := range checkers {
		for _, l := range chainLinks(c, grid) {
			if c.Role == store.RoleAudit && (l.seq != auditLink(c, cand) || !ownLink(c, l.seq)) {
				continue
			}
			add(l.account)
		}
	}
	if len(by) == 0 {
		return slices.Clone(accountsOf(cand)) // no link with fuel: who ran it
	}
	return by
}

func accountsOf(r *store.ReplicaInfo) []string {
	if len(r.Accounts) > 0 {
		return r.Accounts
	}
	var out []string
	for _, c := range r.Checkpoints {
		if !slices.Contains(out, c.Account) {
			out = append(out, c.Account)
		}
	}
	if r.Account != "" && !slices.Contains(out, r.Account) {
		out = append(out, r.Account)
	}
	return out
}

// --- disputes ---

type settlement struct {
	d      *divergence
	ev     *store.TaskEvidence
	result *RerunResult
	err    error
	// liar: a replica whose own chain contradicts its claim (no re-run
	// needed), and the link it broke.
	liar *store.ReplicaInfo
	link string
	// confirmOf: the candidate whose whole chain a trusted trace re-ran
	// (result holds the trace).
	confirmOf *store.ReplicaInfo
}

// dispute sends the first disagreeing link to trusted ground. The task is
// left alone until the outcome comes back.
func (v *Verifier) dispute(ctx context.Context, ev *store.TaskEvidence, d *divergence) error {
	v.mu.Lock()
	if v.disputes[ev.Task.ID] {
		v.mu.Unlock()
		return nil
	}
	v.disputes[ev.Task.ID] = true
	v.mu.Unlock()
	req := &RerunRequest{Evidence: ev, Seq: d.seq, Final: d.final}
	for _, c := range d.a.Checkpoints {
		if c.Seq <= d.from {
			req.Chain = append(req.Chain, c)
		}
	}
	if n := len(req.Chain); n > 0 {
		req.From = req.Chain[n-1]
	}
	v.cfg.Logger.Warn("replicas disagree; re-running the link on trusted ground", "task", ev.Task.ID, "from", d.from, "seq", d.seq, "final", d.final,
		"a", d.a.ID, "b", d.b.ID)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		select {
		case v.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res, err := v.cfg.Rerun(ctx, req)
		<-v.slots
		if ctx.Err() != nil {
			return
		}
		if res != nil {
			v.count(func(s *Stats) { s.TrustedFuel += int64(res.Fuel) })
		}
		v.send(ctx, event{task: ev.Task.ID, settle: &settlement{d: d, ev: ev, result: res, err: err}})
	}()
	return nil
}

// applySettlement compares both sides of a dispute with what trusted
// ground computed: every side that differs is caught.
func (v *Verifier) applySettlement(ctx context.Context, s *settlement) error {
	if s.liar != nil {
		return v.catch(ctx, s.ev, s.liar, s.liar.Account, s.link)
	}
	if s.confirmOf != nil {
		return v.applyConfirmation(ctx, s)
	}
	defer func() {
		v.mu.Lock()
		delete(v.disputes, s.ev.Task.ID)
		v.mu.Unlock()
	}()
	v.count(func(st *Stats) { st.Disputes++ })
	if err := v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: s.ev.Job.ID, Disputes: 1, Mismatches: 1}); err != nil {
		return err
	}
	if s.err != nil {
		return v.unsettled(ctx, s.ev, fmt.Sprintf("replicas %d and %d disagree at link %s and the trusted re-run failed: %v",
			s.d.a.ID, s.d.b.ID, linkName(s.d), s.err))
	}
	var liars []*store.ReplicaInfo
	for _, r := range []*store.ReplicaInfo{s.d.a, s.d.b} {
		if !agreesWithTrusted(r, s.d, s.result) {
			liars = append(liars, r)
		}
	}
	if len(liars) == 0 {
		return v.unsettled(ctx, s.ev, fmt.Sprintf("replicas %d and %d disagree at link %s but both agree with the trusted re-run", s.d.a.ID, s.d.b.ID, linkName(s.d)))
	}
	for _, r := range liars {
		seq := s.d.seq
		if s.d.final {
			seq = lastSeq(r) + 1
		}
		acc := linkAccount(r, seq)
		if err := v.catch(ctx, s.ev, r, acc, linkName(s.d)); err != nil {
			return err
		}
	}
	return nil
}

func linkName(d *divergence) string {
	if d.final {
		return fmt.Sprintf("%d→end", d.from)
	}
	return fmt.Sprintf("%d→%d", d.from, d.seq)
}

func agreesWithTrusted(r *store.ReplicaInfo, d *divergence, t *RerunResult) bool {
	if d.final {
		return r.Result != nil && t.Result != nil && r.Result.Agrees(*t.Result)
	}
	for _, c := range r.Checkpoints {
		if c.Seq == d.seq {
			if c.StateHash != t.StateHash {
				return false
			}
			// Output since the previous checkpoint is comparable when the
			// link is one grid interval.
			if d.from+1 == d.seq || (d.from == 0 && d.seq == 1) {
				return c.StdoutHash == t.StdoutHash && c.StderrHash == t.StderrHash
			}
			return true
		}
	}
	return false
}

func (v *Verifier) unsettled(ctx context.Context, ev *store.TaskEvidence, note string) error {
	v.cfg.Logger.Error("a dispute could not be settled", "task", ev.Task.ID, "note", note)
	var first store.Result
	for _, r := range ev.Replicas {
		if r.Result != nil {
			first = *r.Result
			break
		}
	}
	settled, err := v.cfg.Store.TaskSettle(ctx, &store.TaskSettleParams{TaskID: ev.Task.ID, State: store.TaskDisputed, Result: first,
		Verification: store.VerifyTrusted, Note: note, Now: v.cfg.Now()})
	if errors.Is(err, store.ErrTaskSettled) {
		return nil
	}
	if err != nil {
		return err
	}
	v.cfg.Revoke(settled.Revoked, "no longer needed")
	v.cfg.Settled()
	return v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: ev.Job.ID, Unsettled: 1})
}

// catch proves account acc a liar: the replica is discarded, the account
// banned, its credit revoked, and every accepted task that rested on its
// word alone re-verified.
func (v *Verifier) catch(ctx context.Context, ev *store.TaskEvidence, r *store.ReplicaInfo, acc, link string) error {
	now := v.cfg.Now()
	v.cfg.Logger.Warn("liar caught", "account", acc, "task", ev.Task.ID, "replica", r.ID, "link", link)
	v.count(func(s *Stats) { s.Caught++ })
	if err := v.discard(ctx, ev, r, store.VerdictLied); err != nil {
		return err
	}
	if err := v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: ev.Job.ID, LiesCaught: 1}); err != nil {
		return err
	}
	before, err := v.cfg.Store.AccountGet(ctx, acc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// A lie in an audit's own link is a lie told as an auditor: caught by
	// the comparison, never accepted (trust.Estimate.Add leaves it out of
	// the measured lie rate).
	rec := &store.AccountAddParams{ID: acc, LiesCaught: 1, Ban: true, Now: now}
	if r.Role == store.RoleAudit {
		rec.AuditLies = 1
	}
	if _, err := v.cfg.Store.AccountAdd(ctx, rec); err != nil {
		return err
	}
	if before != nil && !before.BannedAt.IsZero() {
		return nil // already banned: its credit is revoked and its work re-verified
	}
	v.mu.Lock()
	v.estimate = nil // the population changed
	v.mu.Unlock()
	if err := v.revokeCredit(ctx, acc, fmt.Sprintf("caught lying at link %s of task %d", link, ev.Task.ID)); err != nil {
		return err
	}
	// Backtracking: accepted results that rest on this account's word.
	tasks, err := v.cfg.Store.TasksRestingOn(ctx, acc)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if err := v.cfg.Store.TaskReopen(ctx, &store.TaskReopenParams{TaskID: t, Now: now}); err != nil {
			if errors.Is(err, store.ErrTaskSettled) || errors.Is(err, store.ErrNotFound) {
				continue
			}
			return err
		}
		// The credit its acceptance granted (the liar's is revoked above)
		// goes too: the re-verification grants what it verifies again,
		// so no link is credited twice.
		if err := v.revokeTask(ctx, t, fmt.Sprintf("task %d reopened: it rested on %s, caught lying", t, acc)); err != nil {
			return err
		}
		tev, err := v.cfg.Store.TaskEvidence(ctx, t)
		if err == nil {
			v.cfg.Store.JobNote(ctx, &store.JobNoteParams{JobID: tev.Job.ID, Reopened: 1})
		}
	}
	if len(tasks) > 0 {
		v.cfg.Logger.Warn("re-verifying accepted results that rested on a liar", "account", acc, "tasks", len(tasks))
		v.cfg.Wake()
		v.cfg.Settled()
	}
	return nil
}

// discard gives a replica its verdict (lied, or void: computed in part by
// a banned account) and voids its audits: they check a chain that no
// longer counts (one still running started from that chain's unverified
// checkpoints, so it carries nothing on), and their accounts must be free
// to compute the task again.
func (v *Verifier) discard(ctx context.Context, ev *store.TaskEvidence, r *store.ReplicaInfo, verdict store.Verdict) error {
	if err := v.verdict(ctx, r, verdict); err != nil {
		return err
	}
	for _, a := range ev.Replicas {
		if a.Role == store.RoleAudit && a.AuditOf == r.ID && a.Verdict != store.VerdictVoid && a.Verdict != store.VerdictLied {
			if err := v.verdict(ctx, a, store.VerdictVoid); err != nil {
				return err
			}
		}
	}
	return nil
}

// verdict records a replica's verdict, takes its lease back, and updates
// the evidence in hand so that the rest of this evaluation sees it.
func (v *Verifier) verdict(ctx context.Context, r *store.ReplicaInfo, verdict store.Verdict) error {
	rs, err := v.cfg.Store.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: r.ID, Verdict: verdict, Now: v.cfg.Now()})
	if err != nil {
		return err
	}
	v.cfg.Revoke(rs, "no longer needed")
	r.Verdict = verdict
	if r.State == store.ReplicaQueued || r.State == store.ReplicaLeased {
		r.State = store.ReplicaCancelled
	}
	return nil
}

// revokeTask revokes every standing grant for a task (it was reopened).
// It runs under banMu held exclusively: no acceptance of the task can
// grant meanwhile.
func (v *Verifier) revokeTask(ctx context.Context, task int64, reason string) error {
	entries, err := v.cfg.Store.LedgerList(ctx, &store.LedgerListParams{TaskID: task})
	if err != nil {
		return err
	}
	out := revocations(entries, v.cfg.Now(), reason)
	if len(out) == 0 {
		return nil
	}
	_, err = v.cfg.Store.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: out})
	return err
}

// revokeCredit writes a revocation for every standing grant of the
// account, and a ban entry.
func (v *Verifier) revokeCredit(ctx context.Context, acc, reason string) error {
	entries, err := v.cfg.Store.LedgerList(ctx, &store.LedgerListParams{Account: acc})
	if err != nil {
		return err
	}
	now := v.cfg.Now()
	out := revocations(entries, now, reason)
	out = append(out, store.LedgerEntry{Kind: store.LedgerBan, Account: acc, Day: now.Unix() / 86400, At: now, Reason: reason})
	_, err = v.cfg.Store.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: out})
	return err
}

// revocations revokes each grant among entries that no revoke among them
// names yet (entries: every ledger entry of one account, or one task).
func revocations(entries []store.LedgerEntry, now time.Time, reason string) []store.LedgerEntry {
	revoked := map[int64]bool{}
	for _, e := range entries {
		if e.Kind == store.LedgerRevoke {
			revoked[e.Ref] = true
		}
	}
	var out []store.LedgerEntry
	for _, e := range entries {
		if e.Kind == store.LedgerGrant && !revoked[e.Seq] {
			out = append(out, store.LedgerEntry{Kind: store.LedgerRevoke, Account: e.Account, Site: e.Site, JobID: e.JobID, TaskID: e.TaskID, ReplicaID: e.ReplicaID,
				Link: e.Link, Fuel: e.Fuel, Ref: e.Seq, Day: e.Day, At: now, Reason: reason})
		}
	}
	return out
}
