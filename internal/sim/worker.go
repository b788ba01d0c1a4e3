package sim

import (
	"container/heap"
	"math"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/trust"
)

// --- sessions ---

func (s *Sim) sessionStart(wi int32) {
	w := &s.workers[wi]
	w.online = true
	w.sessGen++
	w.sessID = s.nextSess
	s.nextSess++
	rec := sessionRec{id: w.sessID, start: s.now, open: true}
	if len(s.sessions) < sessionWindow {
		s.sessions = append(s.sessions, rec)
	} else {
		s.sessions[w.sessID%sessionWindow] = rec
	}
	w.sessEnd = s.now + s.cfg.Sessions.Draw(s.rng)
	s.push(w.sessEnd, evSessionEnd, wi, w.sessGen)
	s.setOnline(w.acc, true)
	if !s.dispatch(wi) {
		s.idle(wi)
	}
}

func (s *Sim) sessionEnd(wi int32) {
	w := &s.workers[wi]
	if w.lease >= 0 {
		s.leaseEnd(wi, endLost)
	}
	w.online = false
	w.waiting = false
	if w.sessID >= s.nextSess-sessionWindow {
		r := &s.sessions[w.sessID%sessionWindow]
		r.end, r.open = s.now, false
	}
	s.setOnline(w.acc, false)
	s.push(s.now+s.rng.ExpFloat64()*s.cfg.Offline, evSessionStart, wi, 0)
}

// credible: off probation (coordinator.probation's rule).
func credible(a *account) bool { return a.rec.Verified >= trust.ProbationEnd && !a.rec.Caught() }

// setOnline keeps credibleOnline: sessions of accounts off probation.
func (s *Sim) setOnline(ai int32, on bool) {
	a := &s.accounts[ai]
	a.online = on
	s.recount(ai)
}

func (s *Sim) recount(ai int32) {
	a := &s.accounts[ai]
	want := a.online && credible(a)
	if want != a.credit {
		a.credit = want
		if want {
			s.credibleOnline++
		} else {
			s.credibleOnline--
		}
	}
}

// --- the checkpoint interval ---

var epoch = time.Unix(1_700_000_000, 0)

func at(sec float64) time.Time { return epoch.Add(time.Duration(sec * float64(time.Second))) }

// grid is the fuel grid a new task gets: checkpoint.Choose over the
// coordinator's inputs, recomputed at most once a (simulated) second.
func (s *Sim) grid() uint64 {
	if s.now-s.choiceAt >= 1 {
		ss := make([]checkpoint.Session, len(s.sessions))
		for i, r := range s.sessions {
			ss[i] = checkpoint.Session{Start: at(r.start), End: at(r.end), Open: r.open}
		}
		s.choice = checkpoint.Choose(checkpoint.Measurements{Sessions: ss, Now: at(s.now), Prior: checkpoint.DefaultPrior,
			CostsMS: s.costs, DefaultCost: 50 * time.Millisecond, PriorRate: s.cfg.Rate, PriorSeconds: 1, PrevGrid: s.prevGrid})
		s.res.Decisions++
		s.prevGrid = s.choice.Grid
		s.choiceAt = s.now
		if s.res.GridFirst == 0 {
			s.res.GridFirst = float64(s.choice.Grid) / s.cfg.Rate
		}
	}
	return s.choice.Grid
}

// addCost records a worker's reported checkpoint cost (ms), the last 256.
func (s *Sim) addCost() {
	if len(s.costs) < 256 {
		s.costs = append(s.costs, s.cfg.Delta*1000)
	}
}

// --- dispatch: the store's lease query, reproduced ---

const scanLimit = 64

// dispatch gives worker wi a lease if its account may take one and a
// queued replica it is not excluded from exists; false: it waits (or,
// banned, gets nothing for ever).
func (s *Sim) dispatch(wi int32) bool {
	w := &s.workers[wi]
	w.blocked = false
	if !w.online || w.lease >= 0 {
		return false
	}
	a := &s.accounts[w.acc]
	if a.rec.Caught() {
		w.blocked = true
		return false
	}
	verifyOnly := false
	if !credible(a) {
		n, vo, limited := trust.Allowance(a.rec, int(a.own), int(a.verif), 0, 1, s.credibleOnline > 0)
		s.res.Decisions++
		if limited && n == 0 {
			w.blocked = true
			return false
		}
		verifyOnly = limited && vo
	}
	if r := s.pick(&s.ver, wi); r >= 0 {
		s.startLease(wi, r)
		return true
	}
	if verifyOnly {
		return false
	}
	if r := s.pick(&s.work, wi); r >= 0 {
		s.startLease(wi, r)
		return true
	}
	return false
}

// pick pops the first replica of q, in order, that wi may take.
func (s *Sim) pick(q *queue, wi int32) int32 {
	var skipped []int32
	found := int32(-1)
	for q.Len() > 0 && len(skipped) < scanLimit {
		id := heap.Pop(q).(int32)
		r := &s.reps[id]
		if r.state != repQueued || r.verdict == verdictLied || r.verdict == verdictVoid || s.tasks[r.task].state != 0 {
			continue // cancelled, or the task settled: lazily dropped
		}
		if s.excluded(wi, id) {
			skipped = append(skipped, id)
			continue
		}
		found = id
		break
	}
	for _, id := range skipped {
		heap.Push(q, id)
	}
	s.res.Decisions++
	return found
}

// excluded is the lease query's rule: never a replica to a worker (or its
// account) whose own work it would check. An audit of link k: not to
// whoever computed the audited link. A run replica: not to whoever holds,
// finished or computed a link of another live run replica of the task.
func (s *Sim) excluded(wi int32, id int32) bool {
	r := &s.reps[id]
	mine := func(acc int32) bool { return acc >= 0 && s.accounts[acc].worker == wi }
	if r.audit {
		o := &s.reps[r.auditOf]
		if o.verdict == verdictLied || o.verdict == verdictVoid {
			return false
		}
		return mine(o.accs[r.auditLink])
	}
	for _, oid := range s.tasks[r.task].reps {
		o := &s.reps[oid]
		if oid == id || o.audit || o.verdict == verdictLied || o.verdict == verdictVoid {
			continue
		}
		if o.worker == wi {
			return true
		}
		for j := int32(0); j < o.prog; j++ {
			if mine(o.accs[j]) {
				return true
			}
		}
	}
	return false
}

// --- leases ---

func (s *Sim) linkFuel(tk *task, j int32) float64 {
	if j < tk.n-1 {
		return float64(tk.grid)
	}
	return float64(s.taskFuel()) - float64(tk.n-1)*float64(tk.grid)
}

// lastLink is the lease's last link (exclusive end).
func (s *Sim) leaseLinks(r *replica, tk *task) (from, to int32) {
	if r.audit {
		return r.auditLink, r.auditLink + 1
	}
	return r.prog, tk.n
}

func (s *Sim) startLease(wi, id int32) {
	w := &s.workers[wi]
	r := &s.reps[id]
	tk := &s.tasks[r.task]
	if tk.grid == 0 {
		tk.grid = s.grid()
		tk.n = int32(math.Ceil(float64(s.taskFuel()) / float64(tk.grid)))
	}
	if r.claims == nil {
		k := tk.n
		if r.audit {
			k = 1
		}
		r.claims, r.accs = make([]uint64, k), make([]int32, k)
	}
	r.state = repLeased
	r.worker = wi
	w.lease = id
	w.leaseGen++
	w.start = s.now
	from, to := s.leaseLinks(r, tk)
	w.from = int(from)
	switch {
	case r.audit && from > 0:
		w.state = s.reps[r.auditOf].claims[from-1]
	case !r.audit && from > 0:
		w.state = r.claims[from-1]
	default:
		w.state = 0
	}
	var d float64
	for j := from; j < to; j++ {
		d += s.linkFuel(tk, j)/s.cfg.Rate + s.cfg.Delta
	}
	if s.now+d <= w.sessEnd {
		s.push(s.now+d, evLeaseEnd, wi, w.leaseGen)
	}
	s.res.Leases++
}

type endKind uint8

const (
	endDone endKind = iota
	endLost
	endRevoked
)

// leaseEnd ends worker wi's lease: its links done by now become claims;
// the rest is lost (a session ended, or the lease was taken back).
func (s *Sim) leaseEnd(wi int32, how endKind) {
	w := &s.workers[wi]
	id := w.lease
	r := &s.reps[id]
	tk := &s.tasks[r.task]
	from, to := s.leaseLinks(r, tk)
	elapsed := s.now - w.start
	var cum float64
	j := from
	in := w.state
	for ; j < to; j++ {
		T := s.linkFuel(tk, j) / s.cfg.Rate
		if how != endDone && cum+T+s.cfg.Delta > elapsed+1e-9 {
			// The link in progress: its work is lost, and the checkpoint
			// time spent on it is overhead.
			rem := max(elapsed-cum, 0)
			if how == endRevoked {
				// Taken back (the task settled, or a liar's chain was
				// voided): not churn.
				s.res.Revoked += rem
			} else {
				s.res.Lost += min(rem, T)
				s.res.Overhead += max(rem-T, 0)
			}
			break
		}
		cum += T + s.cfg.Delta
		s.res.Saved += T
		s.res.Overhead += s.cfg.Delta
		f := s.linkFuel(tk, j)
		s.res.Executed += f
		s.execByTask[r.task] += f
		honest := step(in, r.task, j)
		claim := honest
		if w.sab != 0 && s.lies(w, r, tk, j) {
			claim = s.lie(w, honest, r.task, j)
		}
		in = honest
		k := j
		if r.audit {
			k = 0
		}
		r.claims[k], r.accs[k] = claim, w.acc
		r.prog++
		if ts := s.accounts[w.acc].tasks; len(ts) == 0 || ts[len(ts)-1] != r.task {
			s.accounts[w.acc].tasks = append(ts, r.task)
		}
	}
	s.res.Busy += elapsed
	s.addCost()
	w.lease = -1
	complete := j == to
	switch {
	case how == endRevoked:
		r.state = repCancelled
	case complete:
		r.state = repDone
		r.finisher = w.acc
		if !r.audit {
			a := &s.accounts[w.acc]
			if r.idx == 0 {
				a.own++
				r.counted = 1
			} else {
				a.verif++
				r.counted = 2
			}
		}
		if w.sab != 0 {
			w.results++
		}
		s.evaluate(r.task)
	default:
		s.res.LostLeases++
		r.worker = -1
		s.enqueue(id)
	}
	if w.sab == int8(strategyIndex("churn"))+1 && w.results >= s.cfg.Churn {
		s.newIdentity(wi)
	}
	if how != endLost && w.online && w.lease < 0 {
		if !s.dispatch(wi) {
			s.idle(wi)
		}
	}
}

// newIdentity: a churner comes back as a fresh account.
func (s *Sim) newIdentity(wi int32) {
	w := &s.workers[wi]
	w.results = 0
	old := w.acc
	s.setOnline(old, false)
	w.acc = s.newAccount(w.sab, wi)
	s.res.Identities++
	if w.online {
		s.setOnline(w.acc, true)
	}
}

// --- lies: a link's result is a 64-bit state; the true chain is all 0 ---

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// step is an honest computation of link j from state in: the truth (0)
// from the truth, a deterministic wrong state from a wrong one.
func step(in uint64, t int32, j int32) uint64 {
	if in == 0 {
		return 0
	}
	return mix(in^uint64(j)<<40^uint64(t)) | 1
}

// lies is whether w lies on link j of replica r (cmd/crowdrun-sabotage's
// saboteur.liesAt, with link j+1 as its checkpoint seq and the last link
// as its result).
func (s *Sim) lies(w *worker, r *replica, tk *task, j int32) bool {
	final := j == tk.n-1
	switch Strategies[w.sab-1] {
	case "always", "collude", "churn":
		return true
	case "q":
		return s.rng.Float64() < s.cfg.Q
	case "late":
		return final || int(j)+1 >= s.cfg.Late
	case "chain":
		return !final
	case "fuel":
		return final
	case "sneaky":
		return w.from > 0 // a lease resumed from a checkpoint
	}
	return false
}

// lie is a wrong state: colluders' are alike (keyed by task and link and
// the state they computed from), anyone else's its own.
func (s *Sim) lie(w *worker, honest uint64, t, j int32) uint64 {
	if Strategies[w.sab-1] == "collude" {
		return mix(honest^0xc011dead^uint64(t)<<20^uint64(j)) | 1
	}
	for {
		if x := s.rng.Uint64(); x != 0 && x != honest {
			return x
		}
	}
}
