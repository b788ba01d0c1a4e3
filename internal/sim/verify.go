package sim

import (
	"slices"
	"strconv"

	"github.com/crowdrun/crowdrun/internal/trust"
	"github.com/crowdrun/crowdrun/internal/verify"
)

// The verifier's procedure (internal/verify's evaluate, docs/trust.md
// §10), step for step, over the simulated replicas; its decisions are the
// real functions (verify.PlanChecks, verify.Anchors, verify.Counts,
// verify.JobPolicy, trust.Estimate).

func live(r *replica) bool {
	if r.verdict == verdictLied || r.verdict == verdictVoid {
		return false
	}
	return r.state != repCancelled || r.verdict == verdictAgreed
}

func active(r *replica) bool {
	return r.state == repDone || r.state == repQueued || r.state == repLeased
}

func (s *Sim) banned(a int32) bool { return s.accounts[a].rec.Blacklisted }

func (s *Sim) tainted(r *replica) bool {
	n := r.prog
	for j := int32(0); j < n; j++ {
		if s.banned(r.accs[j]) {
			return true
		}
	}
	return r.state == repDone && r.finisher >= 0 && s.banned(r.finisher)
}

// claimAt is replica r's claim for link j of its task (an audit has one).
func claimAt(r *replica, j int32) (uint64, int32, bool) {
	if r.audit {
		if j != r.auditLink || r.prog == 0 {
			return 0, -1, false
		}
		return r.claims[0], r.accs[0], true
	}
	if j >= r.prog {
		return 0, -1, false
	}
	return r.claims[j], r.accs[j], true
}

func (s *Sim) evaluate(t int32) {
	tk := &s.tasks[t]
	if tk.state != 0 || tk.busy {
		return
	}
	var reps []int32
	for _, id := range tk.reps {
		r := &s.reps[id]
		if !live(r) {
			continue
		}
		if s.tainted(r) {
			s.discard(id, verdictVoid)
			continue
		}
		reps = append(reps, id)
	}
	// 1. Compare: run replicas pairwise, each audit with the replica it
	// audits.
	for i, a := range reps {
		ra := &s.reps[a]
		for _, b := range reps[i+1:] {
			rb := &s.reps[b]
			switch {
			case !ra.audit && !rb.audit:
				for j := int32(0); j < min(ra.prog, rb.prog); j++ {
					if ra.claims[j] != rb.claims[j] {
						s.dispute(t, a, b, j, prevOf(ra, j))
						return
					}
				}
			case rb.audit && rb.auditOf == a, ra.audit && ra.auditOf == b:
				run, au := ra, rb
				ai, bi := a, b
				if ra.audit {
					run, au, ai, bi = rb, ra, b, a
				}
				k := au.auditLink
				if au.prog == 1 && run.prog > k && run.claims[k] != au.claims[0] {
					s.dispute(t, ai, bi, k, prevOf(run, k))
					return
				}
			}
		}
	}
	// 2. Audits whose link is in and agrees are over.
	inReps := func(id int32) bool { return slices.Contains(reps, id) }
	for _, id := range reps {
		r := &s.reps[id]
		if !r.audit || !inReps(r.auditOf) {
			continue
		}
		if r.state == repDone && s.reps[r.auditOf].prog > r.auditLink && r.verdict != verdictAgreed {
			r.verdict = verdictAgreed
		}
	}
	// 3. The candidate: the first finished run replica.
	cand, pendingRun := int32(-1), false
	for _, id := range reps {
		r := &s.reps[id]
		if r.audit || !active(r) {
			continue
		}
		if r.state != repDone {
			pendingRun = true
		} else if cand < 0 {
			cand = id
		}
	}
	if cand < 0 {
		if !pendingRun {
			s.addRun(t)
		}
		return
	}
	// 5. A partner or audits, as planned at the candidate's completion.
	partner := int32(-1)
	for _, id := range reps {
		if r := &s.reps[id]; id != cand && !r.audit && active(r) {
			partner = id
		}
	}
	confirmed := tk.confirmed == cand
	if partner >= 0 {
		if s.reps[partner].state != repDone {
			if confirmed {
				s.accept(t, cand, nil, true)
			}
			return
		}
		s.accept(t, cand, []int32{partner}, confirmed)
		return
	}
	audits := map[int32][]int32{}
	planned := false
	for _, id := range tk.reps {
		if r := &s.reps[id]; r.audit && r.auditOf == cand {
			planned = true
			audits[r.auditLink] = append(audits[r.auditLink], id)
		}
	}
	if !planned {
		s.plan(t, cand)
		return
	}
	var checkers []int32
	waiting := false
	links := make([]int32, 0, len(audits))
	for k := range audits {
		links = append(links, k)
	}
	slices.Sort(links)
	for _, k := range links {
		ok, running := int32(-1), false
		for _, id := range audits[k] {
			r := &s.reps[id]
			if live(r) && r.verdict == verdictAgreed {
				ok = id
			} else if live(r) {
				running = true
			}
		}
		switch {
		case ok >= 0:
			checkers = append(checkers, ok)
		case running:
			waiting = true
		default:
			waiting = true
			if !confirmed {
				s.addReplica(t, true, cand, int(k))
				s.res.Audits++
			}
		}
	}
	if waiting {
		if confirmed {
			s.accept(t, cand, checkers, true)
		}
		return
	}
	s.accept(t, cand, checkers, confirmed)
}

func prevOf(r *replica, j int32) uint64 {
	if j == 0 {
		return 0
	}
	return r.claims[j-1]
}

func (s *Sim) addRun(t int32) {
	s.addReplica(t, false, -1, 0)
	s.res.Partners++
}

// policy is the job's policy with the population measured so far,
// refreshed at most once a simulated second (as the verifier's).
func (s *Sim) policy() trust.Policy {
	if s.now-s.polAt >= 1 {
		s.pol = verify.JobPolicy(s.cfg.MaxError, 0, trust.DefaultGuard, s.est)
		s.polAt = s.now
		s.res.Decisions++
	}
	return s.pol
}

func name(a int32) string { return strconv.Itoa(int(a)) }

func (s *Sim) record(a int32) trust.Account {
	r := s.accounts[a].rec
	r.ID = name(a)
	return r
}

func (s *Sim) plan(t, cand int32) {
	tk := &s.tasks[t]
	c := &s.reps[cand]
	pol := s.policy()
	linkAccs := make([]string, tk.n)
	recs := map[string]trust.Account{}
	for j := range tk.n {
		nm := name(c.accs[j])
		linkAccs[j] = nm
		if _, ok := recs[nm]; !ok {
			recs[nm] = s.record(c.accs[j])
		}
	}
	checks, err := verify.PlanChecks(pol, linkAccs, recs, s.rng)
	s.res.Decisions++
	if err != nil {
		panic(err) // n ≥ 1 always
	}
	if checks.Partner {
		s.addRun(t)
		return
	}
	if len(checks.Audit) == 0 {
		s.accept(t, cand, nil, false)
		return
	}
	for _, i := range checks.Audit {
		s.addReplica(t, true, cand, i)
		s.res.Audits++
	}
}

// accept settles the task with the candidate's result, after anchoring,
// and adds the evidence to the accounts' records.
func (s *Sim) accept(t, cand int32, checkers []int32, trusted bool) {
	tk := &s.tasks[t]
	c := &s.reps[cand]
	vouch := map[int32][]string{}
	add := func(j int32, a int32) {
		nm := name(a)
		if !slices.Contains(vouch[j], nm) {
			vouch[j] = append(vouch[j], nm)
		}
	}
	for _, id := range checkers {
		r := &s.reps[id]
		if r.audit {
			add(r.auditLink, c.accs[r.auditLink])
			add(r.auditLink, r.accs[0])
			continue
		}
		for j := range tk.n {
			add(j, c.accs[j])
			add(j, r.accs[j])
		}
	}
	var anch map[string]bool
	if len(checkers) > 0 {
		pol := s.policy()
		recs := map[string]trust.Account{}
		var list [][]string
		for _, accs := range vouch {
			list = append(list, accs)
			for _, nm := range accs {
				if _, ok := recs[nm]; !ok {
					a, _ := strconv.Atoi(nm)
					recs[nm] = s.record(int32(a))
				}
			}
		}
		var need bool
		anch, need = verify.Anchors(pol, int(tk.n), list, recs)
		s.res.Decisions++
		if need && !trusted {
			s.confirm(t, cand)
			return
		}
	}
	counts := func(a int32, j int32) bool {
		s.res.Decisions++
		return verify.Counts(name(a), vouch[j], anch, trusted)
	}
	for _, id := range checkers {
		r := &s.reps[id]
		if r.audit {
			k := r.auditLink
			if counts(c.accs[k], k) {
				s.update(c.accs[k], func(a *trust.Account) { a.Verified++; a.AuditsPassed++ })
			}
			if counts(r.accs[0], k) {
				s.update(r.accs[0], func(a *trust.Account) { a.Verified++; a.AuditsRun++ })
			}
			continue
		}
		for j := range tk.n {
			if counts(c.accs[j], j) {
				s.update(c.accs[j], func(a *trust.Account) { a.Verified++ })
			}
			if counts(r.accs[j], j) {
				s.update(r.accs[j], func(a *trust.Account) { a.Verified++ })
			}
		}
	}
	tk.state = 1
	s.done++
	tk.wrong = c.claims[tk.n-1] != 0
	if tk.wrong {
		s.res.WrongAccepted++
	}
	s.settleEx = append(s.settleEx, s.execByTask[t])
	var wake []int32
	for _, id := range tk.reps {
		r := &s.reps[id]
		if r.counted != 0 {
			wake = append(wake, r.finisher)
		}
		s.uncount(r)
		switch r.state {
		case repQueued:
			r.state = repCancelled
		case repLeased:
			s.leaseEnd(r.worker, endRevoked)
		}
	}
	for _, a := range wake {
		s.retry(a)
	}
}

// retry looks again for work for an account's worker that waits (its
// pending claims fell, or its record grew).
func (s *Sim) retry(a int32) {
	wi := s.accounts[a].worker
	w := &s.workers[wi]
	if w.acc == a && w.waiting && w.online && w.lease < 0 {
		w.waiting = false
		if !s.dispatch(wi) {
			s.idle(wi)
		}
	}
}

func (s *Sim) uncount(r *replica) {
	switch r.counted {
	case 1:
		s.accounts[r.finisher].own--
	case 2:
		s.accounts[r.finisher].verif--
	}
	r.counted = 0
}

// update changes an account's record and its part of the population
// estimate (trust.Estimate.Add is a sum over accounts).
func (s *Sim) update(ai int32, f func(*trust.Account)) {
	a := &s.accounts[ai]
	old := a.contrib
	f(&a.rec)
	var c trust.Estimate
	c.Add(a.rec)
	a.contrib = c
	s.est.Accounts += c.Accounts - old.Accounts
	s.est.Liars += c.Liars - old.Liars
	s.est.LiarSegments += c.LiarSegments - old.LiarSegments
	s.est.LiarLies += c.LiarLies - old.LiarLies
	s.recount(ai)
}

// discard voids a replica (computed in part by a banned account): its
// lease, if any, is taken back.
func (s *Sim) discard(id int32, verdict uint8) {
	r := &s.reps[id]
	r.verdict = verdict
	s.uncount(r)
	if r.state == repLeased {
		s.leaseEnd(r.worker, endRevoked)
	}
}

// --- trusted ground ---

func (s *Sim) trusted(t int32, job *trustedJob, fuel float64) {
	tk := &s.tasks[t]
	tk.busy = true
	tk.pendingTr = job
	done := max(s.now, s.trustedFree) + fuel/(s.cfg.TrustedCores*s.cfg.Rate)
	s.trustedFree = done
	s.res.Trusted += fuel
	s.push(done, evTrusted, t, 0)
}

func (s *Sim) dispute(t, a, b int32, j int32, prev uint64) {
	s.res.Disputes++
	s.trusted(t, &trustedJob{confirm: -1, a: a, b: b, link: int(j), prev: prev}, s.linkFuel(&s.tasks[t], j))
}

func (s *Sim) confirm(t, cand int32) {
	s.res.Confirmations++
	s.trusted(t, &trustedJob{confirm: cand}, float64(s.taskFuel()))
}

func (s *Sim) trustedDone(t int32) {
	tk := &s.tasks[t]
	job := tk.pendingTr
	tk.busy, tk.pendingTr = false, nil
	if job.confirm < 0 {
		j := int32(job.link)
		truth := step(job.prev, t, j)
		for _, id := range []int32{job.a, job.b} {
			r := &s.reps[id]
			if c, acc, ok := claimAt(r, j); ok && c != truth && live(r) {
				s.catch(id, acc)
			}
		}
	} else if tk.state == 0 {
		// A trace of the candidate's run: every live replica whose claims
		// differ is caught (an audit on its own link only, and only when
		// it started on the truth: verify's traceDisagreement).
		candOK := true
		for _, id := range tk.reps {
			r := &s.reps[id]
			if !live(r) || r.prog == 0 {
				continue
			}
			if r.audit && r.auditOf != job.confirm {
				continue
			}
			acc := int32(-1)
			if r.audit {
				L := r.auditLink
				startTrue := L == 0 || s.reps[r.auditOf].claims[L-1] == 0
				if r.claims[0] != 0 && startTrue {
					acc = r.accs[0]
				}
			} else {
				for j := range r.prog {
					if r.claims[j] != 0 {
						acc = r.accs[j]
						break
					}
				}
			}
			if acc < 0 {
				continue
			}
			if id == job.confirm {
				candOK = false
			}
			s.catch(id, acc)
		}
		if candOK {
			tk.confirmed = job.confirm
		}
	}
	s.evaluate(t)
}

// catch: a lie of account acc proved on replica id. The account is
// banned, its work voided, and every task it computed any part of and
// that was accepted is reopened and verified again.
func (s *Sim) catch(id int32, acc int32) {
	r := &s.reps[id]
	r.verdict = verdictLied
	s.uncount(r)
	if r.state == repLeased {
		s.leaseEnd(r.worker, endRevoked)
	}
	a := &s.accounts[acc]
	if a.rec.Blacklisted {
		return
	}
	tasks := slices.Clone(a.tasks)
	s.update(acc, func(x *trust.Account) {
		x.LiesCaught++
		if r.audit {
			x.AuditLies++
		}
		x.Blacklisted = true
	})
	s.res.Caught++
	if a.sab == 0 {
		s.res.HonestCaught++
	}
	wi := a.worker
	w := &s.workers[wi]
	a = nil // newIdentity may move the accounts
	if w.acc == acc && w.lease >= 0 {
		s.leaseEnd(wi, endLost)
	}
	if w.acc == acc && w.sab == int8(strategyIndex("churn"))+1 {
		s.newIdentity(wi)
		if w.online && w.lease < 0 && !s.dispatch(wi) {
			s.idle(wi)
		}
	}
	for _, t := range tasks {
		tk := &s.tasks[t]
		if tk.state == 1 {
			tk.state = 0
			tk.wrong = false
			tk.confirmed = -1
			s.done--
			s.res.Reopened++
		}
	}
	for _, t := range tasks {
		s.evaluate(t)
	}
}
