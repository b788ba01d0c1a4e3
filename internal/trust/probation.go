package trust

// Probation: a fresh account's claims cost the crowd a verification each,
// and a liar's are wasted outright, so an account whose work is not yet
// trusted is given work only as fast as its work is verified. The anchor
// is BOINC's per-host quota of jobs in progress, which starts small, grows
// with valid results and shrinks with errors. Here:
//
//	quota q = 1 + Verified        (Verified < ProbationEnd)
//
// An account may have at most q claims of verifying jobs' work reported
// and not yet settled, or held. While no account off probation is online
// (a crowd that has just started is all fresh), fresh accounts must verify
// each other: then past q claims of its own work (a task's first replica)
// an account may still take verification work (audits, partner replicas),
// up to 2q claims in all. A verification claim settles as soon as it is
// in — it waits for nothing queued — so no set of accounts on probation
// can wait on each other for ever. A churning saboteur, a new identity
// each time it is caught, wastes at most one task (two while no credible
// account is online) per identity, however fast it computes; an honest
// newcomer's quota grows with every verified segment and ends after
// ProbationEnd.
//
// docs/trust.md, section "Probation", derives the cost.

// ProbationEnd is the number of verified segments after which an account
// is no longer on probation.
const ProbationEnd = 64

// Allowance says what an account may lease now, given its claims waiting
// for verification (own: of its own work; verification: audits and
// partner replicas), the leases it holds, what it asks for (want), and
// whether an account off probation is online (credibleOnline). limited is
// false once the account is off probation: it may take what it asks.
// Otherwise n leases (0: none now) and, if verifyOnly, verification work
// only. A caught account gets nothing.
func Allowance(a Account, own, verification, held, want int, credibleOnline bool) (n int, verifyOnly, limited bool) {
	if a.Caught() {
		return 0, false, true
	}
	if a.Verified >= ProbationEnd {
		return want, false, false
	}
	q := 1 + int(max(a.Verified, 0))
	total := own + verification + held
	if credibleOnline {
		return max(0, min(want, q-total)), false, true
	}
	switch {
	case total >= 2*q:
		return 0, false, true
	case own+held >= q:
		return min(want, 2*q-total), true, true
	default:
		return min(want, q-own-held), false, true
	}
}
