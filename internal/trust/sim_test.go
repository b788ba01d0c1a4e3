package trust

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// A model of the coordinator's verification loop, in segments, to measure
// what the policy gives: wrong results accepted, redundancy, credit. Liars
// do not collude: two wrong computations of one link never agree.

type strategy int

const (
	lieQ    strategy = iota // lie on each segment with probability q
	sleeper                 // honest until the policy audits at its floor, then lie with probability q
)

type simConfig struct {
	workers, saboteurs int
	q                  float64
	strat              strategy
	churn              bool // a caught saboteur comes back as a new account
	tasks, segs        int
	maxError           float64
	minAudit, fullAt   float64
	guard              float64
	window             int
	seed               uint64
}

type simWorker struct {
	acct  Account
	sab   bool
	gone  bool
	runs  int64 // segments run
	lies  int64 // segments lied
	known bool  // counted in the estimate
}

type segRec struct {
	owner   int // worker index; -1: trusted ground
	lie     bool
	checked bool
}

type simResult struct {
	tasks, segs            int
	wrongAccepted          int     // results accepted with a lie in them
	wrongFinal             int     // of those, still wrong at the end (backtracking fixes the rest)
	bound                  float64 // Σ Plan.Error over the plans results were accepted on
	executed, trusted      int64   // segments run by workers (and the coordinator), trusted re-runs among them
	caught, honestCaught   int
	curve                  []float64 // redundancy per window of tasks
	sabCredit, honestCred  uint64
	caughtCredit           uint64 // standing credit of blacklisted accounts
	honestAcceptedFuel     uint64
	settledRedundancy      float64 // over the second half of the tasks
	secondHalfWrong        int
	honestWorkersRemaining int
}

const simFuel = 1000 // fuel of one segment

type sim struct {
	cfg     simConfig
	rng     *rand.Rand
	w       []*simWorker
	est     Estimate
	led     *Ledger
	results [][]segRec
	rests   map[int][][2]int // worker -> (task, segment) accepted unchecked
	run     int64            // run counter for SegmentRefs
	res     simResult
	exec    int64
}

func newSim(cfg simConfig) *sim {
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 7)), led: NewLedger(), rests: map[int][][2]int{}}
	for i := range cfg.workers {
		s.w = append(s.w, &simWorker{acct: Account{ID: "w" + strconv.Itoa(i)}, sab: i < cfg.saboteurs})
	}
	return s
}

func (s *sim) policy() Policy {
	return Policy{MaxError: s.cfg.maxError, MinAudit: s.cfg.minAudit, FullAt: s.cfg.fullAt, Prior: s.est.Params(s.cfg.guard)}
}

func (s *sim) active() []int {
	var a []int
	for i, w := range s.w {
		if !w.gone {
			a = append(a, i)
		}
	}
	return a
}

func (s *sim) pick() int {
	a := s.active()
	return a[s.rng.IntN(len(a))]
}

func (s *sim) auditor(exclude int) int {
	var c []Candidate
	p := s.policy().Prior
	for _, i := range s.active() {
		c = append(c, Candidate{Account: s.w[i].acct.ID, Credibility: Credibility(s.w[i].acct, p), Blacklisted: s.w[i].acct.Blacklisted})
	}
	id, ok := ChooseAuditor(c, []string{s.w[exclude].acct.ID}, s.rng)
	if !ok {
		panic("no auditor")
	}
	for _, i := range s.active() {
		if s.w[i].acct.ID == id {
			return i
		}
	}
	panic("auditor not found")
}

// compute: worker i runs one segment; does it lie?
func (s *sim) compute(i int) bool {
	w := s.w[i]
	w.runs++
	s.exec++
	lies := false
	if w.sab {
		switch s.cfg.strat {
		case lieQ:
			lies = s.rng.Float64() < s.cfg.q
		case sleeper:
			pl, _ := s.policy().Plan(w.acct, s.cfg.segs, rand.New(rand.NewPCG(0, 0)))
			lies = pl.Replicas == 1 && pl.AuditRate <= s.cfg.minAudit && s.rng.Float64() < s.cfg.q
		}
	}
	if lies {
		w.lies++
	}
	return lies
}

func (s *sim) checked(i int, audit bool) {
	w := s.w[i]
	w.acct.Verified++
	if audit {
		w.acct.AuditsPassed++
	}
	if !w.known {
		w.known = true
		s.est.Accounts++
	}
}

func (s *sim) credit(i int) {
	s.run++
	if _, err := s.led.Grant(s.w[i].acct.ID, SegmentRef{Task: s.run, Replica: 0, Seq: 1}, simFuel, 0); err != nil {
		panic(err)
	}
}

func (s *sim) trustedRun() { s.res.trusted++; s.exec++ }

func (s *sim) catch(i int) {
	w := s.w[i]
	if w.acct.Blacklisted {
		return
	}
	w.acct.LiesCaught++
	w.acct.Blacklisted = true
	s.led.Blacklist(w.acct.ID, 0)
	s.res.caught++
	if !w.sab {
		s.res.honestCaught++
	}
	// Backtracking: re-verify every accepted segment that rests on it alone.
	for _, ts := range s.rests[i] {
		t, k := ts[0], ts[1]
		r := s.results[t]
		if r[k].owner != i || r[k].checked {
			continue
		}
		s.exec++ // one segment re-run by another computation
		if r[k].lie {
			for j := k; j < len(r); j++ { // recompute the rest of the chain
				if j > k {
					s.exec++
				}
				r[j] = segRec{owner: -1, checked: true}
			}
		} else {
			r[k].checked = true
		}
	}
	delete(s.rests, i)
	if !w.known {
		w.known = true
		s.est.Accounts++
	}
	s.est.Caught(w.runs, w.lies)
	w.gone = true
	if s.cfg.churn && w.sab {
		s.w = append(s.w, &simWorker{acct: Account{ID: "w" + strconv.Itoa(len(s.w))}, sab: true})
	}
}

func (s *sim) task(t int) {
	m := s.cfg.segs
	recs := make([]segRec, m)
	pos := 0
	w := s.pick()
	run := make([]bool, m)
	fresh := func(from int) {
		for j := from; j < m; j++ {
			run[j] = s.compute(w)
		}
	}
	fresh(0)
	var planErr float64
	for pos < m {
		if s.w[w].acct.Blacklisted {
			w = s.pick()
			fresh(pos)
			continue
		}
		pl, err := s.policy().Plan(s.w[w].acct, m-pos, s.rng)
		if err != nil {
			panic(err)
		}
		if pl.Replicas == 2 {
			r := s.auditor(w)
			rrun := make([]bool, m)
			for j := pos; j < m; j++ {
				rrun[j] = s.compute(r)
			}
			i := pos
			for i < m && !run[i] && !rrun[i] {
				i++
			}
			for j := pos; j < i; j++ {
				recs[j] = segRec{owner: w, checked: true}
				s.checked(w, false)
				s.checked(r, false)
				s.credit(w)
				s.credit(r)
			}
			if i == m {
				pos = m
				break
			}
			s.trustedRun()
			switch {
			case run[i] && !rrun[i]:
				s.catch(w)
				s.checked(r, false)
				s.credit(r)
				recs[i] = segRec{owner: r, checked: true}
				w, run = r, rrun // the honest chain continues
			case !run[i] && rrun[i]:
				s.catch(r)
				s.checked(w, false)
				s.credit(w)
				recs[i] = segRec{owner: w, checked: true}
			default:
				s.catch(w)
				s.catch(r)
				recs[i] = segRec{owner: -1, checked: true}
				w = s.pick()
				fresh(i + 1)
			}
			pos = i + 1
			continue
		}
		restart := false
		for _, idx := range pl.Audit {
			i := pos + idx
			r := s.auditor(w)
			rl := s.compute(r)
			if !run[i] && !rl {
				s.checked(w, true)
				s.checked(r, false)
				s.credit(r)
				recs[i].checked = true
				continue
			}
			s.trustedRun()
			if rl {
				s.catch(r)
			} else {
				s.checked(r, false)
				s.credit(r)
			}
			if run[i] {
				// The chain rests on a liar: discard its work from pos.
				s.catch(w)
				for j := pos; j < m; j++ {
					recs[j] = segRec{}
				}
				w = s.pick()
				fresh(pos)
				restart = true
				break
			}
			s.checked(w, true)
			recs[i].checked = true
		}
		if restart {
			continue
		}
		for j := pos; j < m; j++ {
			recs[j].owner, recs[j].lie = w, run[j]
			if !recs[j].checked {
				s.rests[w] = append(s.rests[w], [2]int{t, j})
			}
			s.credit(w)
		}
		planErr = max(planErr, pl.Error)
		pos = m
	}
	s.res.bound += planErr
	s.results = append(s.results, recs)
	for _, r := range recs {
		if r.lie {
			s.res.wrongAccepted++
			if t >= s.cfg.tasks/2 {
				s.res.secondHalfWrong++
			}
			break
		}
	}
}

func simulate(cfg simConfig) simResult {
	s := newSim(cfg)
	var winExec int64
	var half int64
	for t := range cfg.tasks {
		if t == cfg.tasks/2 {
			half = s.exec
		}
		s.task(t)
		if cfg.window > 0 && (t+1)%cfg.window == 0 {
			s.res.curve = append(s.res.curve, float64(s.exec-winExec)/float64(cfg.window*cfg.segs))
			winExec = s.exec
		}
	}
	s.res.tasks, s.res.segs = cfg.tasks, cfg.segs
	s.res.executed = s.exec
	s.res.settledRedundancy = float64(s.exec-half) / float64((cfg.tasks-cfg.tasks/2)*cfg.segs)
	for _, r := range s.results {
		for _, g := range r {
			if g.lie {
				s.res.wrongFinal++
				break
			}
		}
	}
	for _, w := range s.w {
		b := s.led.Balance(w.acct.ID)
		if w.acct.Blacklisted {
			s.res.caughtCredit += b
		}
		if w.sab {
			s.res.sabCredit += b
		} else {
			s.res.honestCred += b
			s.res.honestAcceptedFuel += uint64(w.runs) * simFuel
			if !w.gone {
				s.res.honestWorkersRemaining++
			}
		}
	}
	return s.res
}

func (r simResult) String() string {
	return fmt.Sprintf("tasks %d, wrong accepted %d (final %d, bound %.3g), redundancy %.3f overall, %.3f settled, trusted %d, caught %d (honest %d)",
		r.tasks, r.wrongAccepted, r.wrongFinal, r.bound, float64(r.executed)/float64(r.tasks*r.segs), r.settledRedundancy, r.trusted, r.caught, r.honestCaught)
}
