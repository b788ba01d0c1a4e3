package trust

// Estimate accumulates the audit outcomes the population model is fitted
// from. The verifier builds it from the accounts' records (Add); Params
// reads it.
type Estimate struct {
	// Accounts counts accounts with at least one verified or caught segment.
	Accounts int64
	// Liars counts accounts caught lying.
	Liars int64
	// LiarSegments and LiarLies count, over the caught accounts, the
	// segments they ran and how many of those were lies, as known once
	// backtracking has re-verified all of their work.
	LiarSegments, LiarLies int64
}

// Add counts one account's record. An account with no verified segment and
// no lie caught is evidence of nothing and is not counted (a fresh
// identity must not dilute F). A caught account counts as a liar, and adds
// to the measured lie rate the work that was accepted on its word: its
// segments are the ones the record knows of, Verified + LiesCaught, less
// those it ran as an auditor (AuditsRun + AuditLies), of which
// LiesCaught − AuditLies were lies. A lie told on an audit is never
// accepted — the audit exists to be compared — so it says nothing of how
// often a liar's accepted work is wrong; a liar caught only on audits adds
// to Liars and not to the rate (docs/trust.md §7).
func (e *Estimate) Add(a Account) {
	verified := max(a.Verified, 0)
	if verified == 0 && !a.Caught() {
		return
	}
	e.Accounts++
	if !a.Caught() {
		return
	}
	lies := max(a.LiesCaught, 0)
	auditLies := min(max(a.AuditLies, 0), lies)
	own := lies - auditLies
	if auditLies > 0 && own == 0 {
		e.Liars++
		return
	}
	e.Caught(verified-min(max(a.AuditsRun, 0), verified)+own, own)
}

// Caught records a caught account whose work backtracking has re-verified:
// it ran segments segments, of which lies were lies (at least one).
func (e *Estimate) Caught(segments, lies int64) {
	lies = max(lies, 1)
	e.Liars++
	e.LiarSegments += max(segments, lies)
	e.LiarLies += lies
}

// F is the estimated fraction of accounts that lie: (Liars+1)/(Accounts+2),
// the mean of a uniform prior updated by the counts. Before any data it is
// 1/2. Liars never caught are not counted, so it errs low once liars hide
// well; the per-segment bound does not rest on F alone (docs/trust.md).
func (e Estimate) F() float64 {
	n := max(e.Accounts, e.Liars)
	return float64(e.Liars+1) / float64(n+2)
}

// S is the measured per-segment lie rate of caught liars, LiarLies /
// LiarSegments; ok is false before any liar is caught.
func (e Estimate) S() (s float64, ok bool) {
	if e.LiarSegments == 0 {
		return 0, false
	}
	return float64(e.LiarLies) / float64(e.LiarSegments), true
}

// Params is the model the policy plans with. The lie rate is guard (the
// smallest rate the job's bound is computed for) until a lower one is
// measured; then it is the range [measured, guard], and the policy plans for
// the worst rate in it (SegmentError), so a measurement can only make the
// policy stricter: liars caught are the ones who lie often, and a low rate
// they show is a warning, a high one no licence. (Planning with the low
// rate alone would not do: e_0 = S·F, so a fresh account would look safer
// after a patient liar was caught.) guard = 0 plans for the worst case over
// every rate.
func (e Estimate) Params(guard float64) Params {
	p := Params{F: e.F(), S: guard}
	if s, ok := e.S(); ok && guard > 0 && s < guard {
		p.SLow = s
	}
	return p
}
