// Package sim is a discrete-event simulation of crowdrun at a scale one
// machine cannot run for real: a coordinator deciding with its own code —
// the checkpoint interval (checkpoint.Choose), the verifier's plans, anchors
// and evidence (verify.PlanChecks, verify.Anchors, verify.Counts,
// verify.JobPolicy over trust.Estimate), probation (trust.Allowance) —
// while simulated workers, whose sessions come and go, run tasks of known
// fuel and some of them lie. Time is simulated; nothing is executed.
//
// What is simulated rather than called, and why, is in docs/simulation.md:
// the store's lease query (its ordering and exclusion rules are reproduced
// here), the evaluation loop of internal/verify (its steps are mirrored
// around the pure decisions, since the real one reads an SQL store), and
// the workers (a link's result is a 64-bit state, lies are other values).
package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/trust"
)

// Strategies are the saboteurs' strategies of cmd/crowdrun-sabotage
// (docs/trust.md §11); "mixed" gives each saboteur one of them in turn.
var Strategies = []string{"always", "q", "late", "collude", "chain", "fuel", "sneaky", "churn"}

// Config is one simulation.
type Config struct {
	Workers int // simulated workers, one slot each
	Tasks   int // tasks of one job
	// TaskSeconds is a task's work at the workers' fuel rate.
	TaskSeconds float64
	Rate        float64 // fuel per second of every worker
	Delta       float64 // checkpoint cost δ (s): every checkpoint and result
	Sessions    Sessions
	// Offline is the mean time (s, exponential) a worker is away between
	// sessions.
	Offline float64
	// Saboteurs: fraction of the workers, and their strategy (one of
	// Strategies or "mixed"); Q is the q strategy's lie rate, Late the
	// first link (1-based) the late strategy lies on, Churn the results a
	// churner reports before it takes a new identity.
	Saboteurs float64
	Strategy  string
	Q         float64
	Late      int
	Churn     int
	MaxError  float64 // the job's ε
	// Veterans is the fraction of the honest workers whose accounts start
	// with a record of VeteranSegments verified segments and no lie
	// (volunteers of long standing); every other account, the saboteurs'
	// included, starts fresh.
	Veterans        float64
	VeteranSegments int64
	// TrustedCores is trusted ground's capacity in workers' cores: a
	// re-run of F fuel takes F/(TrustedCores·Rate) of its time, in order.
	TrustedCores float64
	Seed         uint64
	// MaxSimSeconds stops a run that does not finish (0: none).
	MaxSimSeconds float64
}

// DefaultConfig is the command's default: 100,000 workers, 10⁶ tasks of
// 90 s, exponential sessions of mean 410 s (the brief's figure, as in
// docs/checkpointing.md), δ = 0.1 s.
func DefaultConfig() Config {
	return Config{Workers: 100_000, Tasks: 1_000_000, TaskSeconds: 90, Rate: 1e9, Delta: 0.1,
		Sessions: Sessions{Kind: "exp", Mean: 410}, Offline: 410, Strategy: "always", Q: 0.5, Late: 7, Churn: 10,
		MaxError: 1e-6, Veterans: 0.5, VeteranSegments: 1000, TrustedCores: 1000, Seed: 1}
}

func (c Config) validate() error {
	switch {
	case c.Workers < 1 || c.Workers > 1<<30:
		return fmt.Errorf("sim: workers must be in [1, 2^30], not %d", c.Workers)
	case c.Tasks < 1 || c.Tasks > 1<<30:
		return fmt.Errorf("sim: tasks must be in [1, 2^30], not %d", c.Tasks)
	case !(c.TaskSeconds > 0) || c.TaskSeconds > 1e7:
		return fmt.Errorf("sim: task seconds must be in (0, 10^7], not %v", c.TaskSeconds)
	case !(c.Rate >= 1e3) || c.Rate > 1e15:
		return fmt.Errorf("sim: the fuel rate must be in [10^3, 10^15], not %v", c.Rate)
	case !(c.Delta > 0) || c.Delta > 3600:
		return fmt.Errorf("sim: the checkpoint cost must be in (0, 3600] s, not %v", c.Delta)
	case !(c.Offline >= 0) || c.Offline > 1e9:
		return fmt.Errorf("sim: the offline time must be in [0, 10^9] s, not %v", c.Offline)
	case !(c.Saboteurs >= 0 && c.Saboteurs < 1):
		return fmt.Errorf("sim: the saboteur fraction must be in [0, 1), not %v", c.Saboteurs)
	case !(c.Q >= 0 && c.Q <= 1):
		return fmt.Errorf("sim: q must be in [0, 1], not %v", c.Q)
	case c.Late < 1 || c.Churn < 1:
		return fmt.Errorf("sim: late and churn must be at least 1")
	case !(c.MaxError > 0 && c.MaxError < 1):
		return fmt.Errorf("sim: max error must be in (0, 1), not %v", c.MaxError)
	case !(c.Veterans >= 0 && c.Veterans <= 1) || c.VeteranSegments < 0:
		return fmt.Errorf("sim: veterans must be a fraction in [0, 1] with a non-negative record")
	case !(c.TrustedCores > 0):
		return fmt.Errorf("sim: trusted ground needs a positive capacity, not %v cores", c.TrustedCores)
	case c.MaxSimSeconds < 0:
		return fmt.Errorf("sim: max sim seconds must not be negative")
	}
	if c.Strategy != "mixed" && strategyIndex(c.Strategy) < 0 {
		return fmt.Errorf("sim: unknown strategy %q (%v or mixed)", c.Strategy, Strategies)
	}
	return c.Sessions.validate()
}

func strategyIndex(s string) int {
	for i, x := range Strategies {
		if x == s {
			return i
		}
	}
	return -1
}

// Result is what a simulation measured.
type Result struct {
	Config Config
	// SimSeconds is the simulated time until every task was accepted.
	SimSeconds float64
	// Busy is worker time spent holding leases (s); Saved the part that
	// became checkpointed links or results; Lost the work since the last
	// checkpoint when a session ended (or a lease was taken back);
	// Overhead the checkpoints' time; Revoked the time of links in
	// progress when a lease was taken back (not churn: the task settled,
	// or the chain was voided).
	Busy, Saved, Lost, Overhead, Revoked float64
	// Efficiency is Saved/(Busy − Revoked): the churn figure; Optimum the analytic optimum's useful
	// fraction for the session distribution (Sessions.Optimum), OptimumT
	// its interval; ExpOptimum 1 − T*/τ for an exponential of the same
	// mean (what the coordinator's formula promises).
	Efficiency, Optimum, OptimumT, ExpOptimum float64
	// Grid is the fuel grid tasks got (first and last chosen), in seconds;
	// TauHat the coordinator's last τ̂.
	GridFirst, GridLast float64
	TauHat              float64
	// Useful is the fuel of the accepted tasks; Executed the checkpointed
	// fuel of every replica and audit; Trusted the trusted re-runs'.
	Useful, Executed, Trusted float64
	Redundancy                float64 // (Executed + Trusted)/Useful
	// Settled is the redundancy of the last half of the tasks accepted
	// (their replicas' and audits' executed fuel, in acceptance order).
	Settled float64
	// WrongAccepted counts acceptances of a wrong result; WrongAtEnd the
	// tasks still wrong at the end (after backtracking reopened them).
	WrongAccepted, WrongAtEnd         int
	Reopened, Disputes, Confirmations int
	Caught, HonestCaught              int
	Identities                        int // saboteurs' accounts, new identities included
	Partners, Audits                  int
	Leases, LostLeases                int
	// Decisions counts calls of the coordinator's own decision functions;
	// Wall is the simulation's wall time.
	Decisions int64
	Wall      time.Duration
	Events    int64
}

// DecisionsPerSecond is the simulator's throughput of real-code decisions.
func (r *Result) DecisionsPerSecond() float64 { return float64(r.Decisions) / r.Wall.Seconds() }

// ErrUnfinished: the run reached MaxSimSeconds before every task was
// accepted.
var ErrUnfinished = errors.New("sim: not every task was accepted within the simulated time allowed")

// --- events ---

type evKind uint8

const (
	evSessionStart evKind = iota
	evSessionEnd
	evLeaseEnd
	evTrusted
	evSweep
)

type event struct {
	at   float64
	seq  uint64 // FIFO among equal times: determinism
	kind evKind
	who  int32  // worker, or task for evTrusted
	gen  uint32 // the worker's lease or session generation it belongs to
}

type events []event

func (h events) Len() int { return len(h) }
func (h events) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h events) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *events) Push(x any)   { *h = append(*h, x.(event)) }
func (h *events) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// queue is queued replicas in the lease query's order: by id (the job's
// one priority per queue; verification replicas are in a queue of their
// own, ahead).
type queue []int32

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i] < q[j] }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(int32)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// --- state ---

const (
	repQueued uint8 = iota
	repLeased
	repDone
	repCancelled
)

const (
	verdictNone uint8 = iota
	verdictAgreed
	verdictLied
	verdictVoid
)

type replica struct {
	task      int32
	audit     bool
	idx       uint8 // run replicas: 0 for the task's first
	state     uint8
	verdict   uint8
	counted   uint8 // 1: a pending own claim of finisher; 2: verification
	auditOf   int32
	auditLink int32 // the audited link (0-based)
	prog      int32 // links done (audit: 0 or 1)
	finisher  int32 // account that reported the result
	claims    []uint64
	accs      []int32
	worker    int32 // holder while leased; else the last holder
	fuelDone  float64
}

type task struct {
	grid      uint64
	n         int32
	state     uint8 // 0 pending, 1 done
	wrong     bool
	confirmed int32 // the candidate a trusted trace confirmed (-1)
	busy      bool  // a trusted re-run under way
	runs      uint8
	reps      []int32
	pendingTr *trustedJob
}

type trustedJob struct {
	confirm int32 // candidate traced (-1: a dispute)
	a, b    int32 // disputing replicas
	link    int
	prev    uint64 // the last agreed state before link
}

type account struct {
	rec     trust.Account
	contrib trust.Estimate // its part of the population estimate
	own     int32
	verif   int32
	online  bool
	credit  bool // counted in credibleOnline
	sab     int8 // strategy index + 1; 0 honest
	worker  int32
	tasks   []int32
}

type worker struct {
	acc      int32
	sab      int8 // strategy index + 1; 0 honest
	online   bool
	sessID   int
	sessEnd  float64
	sessGen  uint32
	lease    int32 // replica, -1 none
	leaseGen uint32
	from     int     // first link of the lease
	start    float64 // lease start
	state    uint64  // the worker's own state at the lease start (its input)
	results  int
	waiting  bool
	blocked  bool // its last dispatch was refused by probation
}

type sessionRec struct {
	id         int
	start, end float64
	open       bool
}

const sessionWindow = 2000 // the coordinator's policySession

// Sim is one run.
type Sim struct {
	cfg  Config
	rng  *rand.Rand
	now  float64
	seq  uint64
	evs  events
	work queue // first run replicas and requeued ones (priority 0)
	ver  queue // verification replicas (priority 1)

	workers  []worker
	accounts []account
	tasks    []task
	reps     []replica

	est            trust.Estimate
	pol            trust.Policy
	polAt          float64
	credibleOnline int

	// checkpoint policy inputs
	sessions []sessionRec // ring
	nextSess int
	choice   checkpoint.Choice
	choiceAt float64
	prevGrid uint64
	costs    []float64

	trustedFree float64
	waiting     []int32 // idle workers waiting for queued work, FIFO
	blockedList []int32 // idle workers on probation waiting for verdicts
	done        int

	res        Result
	settleEx   []float64 // executed fuel per accepted task, in order
	execByTask []float64
}

// Run runs one simulation.
func Run(cfg Config) (*Result, error) {
	s, err := newSim(cfg)
	if err != nil {
		return nil, err
	}
	return s.run()
}

func newSim(cfg Config) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	s.res.Config = cfg
	s.sessions = make([]sessionRec, 0, sessionWindow)
	s.costs = make([]float64, 0, 256)
	s.choiceAt = -2
	s.polAt = -2
	s.tasks = make([]task, cfg.Tasks)
	s.reps = make([]replica, 0, cfg.Tasks+cfg.Tasks/4)
	s.execByTask = make([]float64, cfg.Tasks)
	s.work = make(queue, 0, cfg.Tasks)
	for i := range s.tasks {
		s.tasks[i].confirmed = -1
		s.addReplica(int32(i), false, -1, 0)
	}
	nsab := int(float64(cfg.Workers)*cfg.Saboteurs + 0.5)
	s.workers = make([]worker, cfg.Workers)
	s.accounts = make([]account, 0, cfg.Workers+cfg.Workers/8)
	for i := range s.workers {
		w := &s.workers[i]
		w.lease = -1
		if i < nsab {
			if cfg.Strategy == "mixed" {
				w.sab = int8(i%len(Strategies)) + 1
			} else {
				w.sab = int8(strategyIndex(cfg.Strategy)) + 1
			}
		}
		w.acc = s.newAccount(w.sab, int32(i))
		if w.sab != 0 {
			s.res.Identities++
		} else if s.rng.Float64() < cfg.Veterans {
			s.update(w.acc, func(a *trust.Account) { a.Verified = cfg.VeteranSegments })
		}
	}
	// The saboteurs are spread through the crowd, not the first workers
	// to arrive: shuffle who starts when.
	pOn := cfg.Sessions.Mean / (cfg.Sessions.Mean + cfg.Offline)
	for i := range s.workers {
		if s.rng.Float64() < pOn {
			s.push(s.rng.Float64()*1e-3, evSessionStart, int32(i), 0)
		} else {
			s.push(s.rng.ExpFloat64()*cfg.Offline, evSessionStart, int32(i), 0)
		}
	}
	s.push(60, evSweep, 0, 0)
	return s, nil
}

func (s *Sim) run() (*Result, error) {
	t0 := time.Now()
	cfg := s.cfg
	for s.done < cfg.Tasks {
		if len(s.evs) == 0 {
			return nil, errors.New("sim: no event left before every task was accepted")
		}
		e := heap.Pop(&s.evs).(event)
		s.now = e.at
		s.res.Events++
		if cfg.MaxSimSeconds > 0 && s.now > cfg.MaxSimSeconds {
			s.finish(t0)
			return &s.res, ErrUnfinished
		}
		switch e.kind {
		case evSessionStart:
			s.sessionStart(e.who)
		case evSessionEnd:
			if w := &s.workers[e.who]; w.online && w.sessGen == e.gen {
				s.sessionEnd(e.who)
			}
		case evLeaseEnd:
			if w := &s.workers[e.who]; w.lease >= 0 && w.leaseGen == e.gen {
				s.leaseEnd(e.who, endDone)
			}
		case evTrusted:
			s.trustedDone(e.who)
		case evSweep:
			s.sweep()
			s.push(s.now+60, evSweep, 0, 0)
		}
	}
	s.finish(t0)
	return &s.res, nil
}

func (s *Sim) push(at float64, k evKind, who int32, gen uint32) {
	s.seq++
	heap.Push(&s.evs, event{at: at, seq: s.seq, kind: k, who: who, gen: gen})
}

func (s *Sim) newAccount(sab int8, w int32) int32 {
	s.accounts = append(s.accounts, account{sab: sab, worker: w})
	return int32(len(s.accounts) - 1)
}

func (s *Sim) addReplica(t int32, audit bool, of int32, link int) int32 {
	tk := &s.tasks[t]
	r := replica{task: t, audit: audit, auditOf: of, auditLink: int32(link), state: repQueued, worker: -1, finisher: -1}
	if !audit {
		r.idx = tk.runs
		tk.runs++
	}
	s.reps = append(s.reps, r)
	id := int32(len(s.reps) - 1)
	tk.reps = append(tk.reps, id)
	s.enqueue(id)
	return id
}

func (s *Sim) enqueue(id int32) {
	r := &s.reps[id]
	r.state = repQueued
	if r.audit || r.idx > 0 {
		heap.Push(&s.ver, id)
	} else {
		heap.Push(&s.work, id)
	}
	s.wakeOne()
}

// wakeOne gives queued work to the longest-waiting idle worker that can
// take it, trying a few (a worker that cannot goes to the back).
func (s *Sim) wakeOne() {
	for tries := 0; tries < 32 && len(s.waiting) > 0; tries++ {
		wi := s.waiting[0]
		s.waiting = s.waiting[1:]
		w := &s.workers[wi]
		if !w.waiting {
			continue
		}
		w.waiting = false
		if !w.online || w.lease >= 0 {
			continue
		}
		if s.dispatch(wi) {
			return
		}
		s.idle(wi)
	}
}

// idle: the worker waits, for queued work it may take, or (blocked) for
// its account's claims to be verified.
func (s *Sim) idle(wi int32) {
	w := &s.workers[wi]
	if w.waiting || !w.online || w.lease >= 0 {
		return
	}
	w.waiting = true
	if w.blocked {
		s.blockedList = append(s.blockedList, wi)
	} else {
		s.waiting = append(s.waiting, wi)
	}
}

// sweep retries every idle worker (the dispatcher looks again when tasks
// settle; here also once a simulated minute) and compacts the lists.
func (s *Sim) sweep() {
	var todo []int32
	for _, wi := range append(s.waiting, s.blockedList...) {
		if w := &s.workers[wi]; w.waiting {
			w.waiting = false // once, however often it is listed
			todo = append(todo, wi)
		}
	}
	s.waiting, s.blockedList = nil, nil
	for _, wi := range todo {
		if w := &s.workers[wi]; w.online && w.lease < 0 && !s.dispatch(wi) {
			s.idle(wi)
		}
	}
}

func (s *Sim) finish(t0 time.Time) {
	r := &s.res
	r.SimSeconds = s.now
	r.Wall = time.Since(t0)
	if r.Busy > r.Revoked {
		r.Efficiency = r.Saved / (r.Busy - r.Revoked)
	}
	r.OptimumT, r.Optimum = s.cfg.Sessions.Optimum(s.cfg.Delta)
	tExp := checkpoint.OptimalInterval(s.cfg.Sessions.Mean, s.cfg.Delta)
	r.ExpOptimum = 1 - tExp/s.cfg.Sessions.Mean
	r.TauHat = s.choice.Tau.Seconds()
	r.GridLast = float64(s.choice.Grid) / s.cfg.Rate
	for i := range s.tasks {
		if s.tasks[i].state == 1 {
			r.Useful += float64(s.taskFuel())
			if s.tasks[i].wrong {
				r.WrongAtEnd++
			}
		}
	}
	if r.Useful > 0 {
		r.Redundancy = (r.Executed + r.Trusted) / r.Useful
	}
	if n := len(s.settleEx); n > 1 {
		var ex float64
		for _, x := range s.settleEx[n/2:] {
			ex += x
		}
		r.Settled = ex / (float64(n-n/2) * float64(s.taskFuel()))
	}
}

func (s *Sim) taskFuel() uint64 { return uint64(s.cfg.TaskSeconds * s.cfg.Rate) }
