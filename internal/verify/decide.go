package verify

import (
	"math/rand/v2"

	"github.com/crowdrun/crowdrun/internal/trust"
)

// The verifier's decisions, as pure functions of the records it read: the
// verifier (against the store) and internal/sim (against simulated
// workers) both call them, so the simulation runs the same policy code.

// JobPolicy is the policy a job of max error maxError is planned with,
// given the population measured so far (est): F̂ from the accounts with
// evidence, the lie rate from the caught ones (docs/trust.md §7).
// minAudit 0: trust.DefaultPolicy's; guard < 0 counts as 0 (the worst case
// over every rate).
func JobPolicy(maxError, minAudit, guard float64, est trust.Estimate) trust.Policy {
	p := trust.DefaultPolicy(maxError)
	if minAudit > 0 {
		p.MinAudit = minAudit
	}
	p.Prior = est.Params(max(guard, 0))
	return p
}

// Checks is how a finished candidate chain is checked (PlanChecks).
type Checks struct {
	// Partner: a second run replica by another account.
	Partner bool
	// Audit lists the links (0-based, in order) to audit; with neither,
	// the candidate is accepted as it is (the plan's bound covers it).
	Audit []int
}

// PlanChecks plans the checks of a candidate chain of len(linkAccounts)
// links, link i computed by linkAccounts[i]. Each account is planned on
// its own record (rec; a missing one is a fresh account), in the order it
// first appears in the chain; one that needs replication gets a partner
// when it computed the whole chain, else every link of it audited (a
// partner must be a stranger to every computer of the chain, which a small
// crowd may not have). A refused (caught) account's links are left: its
// chain is voided on the next evaluation.
func PlanChecks(pol trust.Policy, linkAccounts []string, rec map[string]trust.Account, rng *rand.Rand) (Checks, error) {
	n := len(linkAccounts)
	var order []string
	seen := map[string]bool{}
	for _, a := range linkAccounts {
		if !seen[a] {
			seen[a] = true
			order = append(order, a)
		}
	}
	var out Checks
	audit := make([]bool, n)
	for _, acc := range order {
		a, ok := rec[acc]
		if !ok {
			a = trust.Account{ID: acc}
		}
		pl, err := pol.Plan(a, n, rng)
		if err != nil {
			return Checks{}, err
		}
		if pl.Refused {
			continue
		}
		if pl.Replicas > 1 {
			if len(order) == 1 {
				return Checks{Partner: true}, nil
			}
			for i, la := range linkAccounts {
				if la == acc {
					audit[i] = true
				}
			}
			continue
		}
		for _, i := range pl.Audit {
			if linkAccounts[i] == acc {
				audit[i] = true
			}
		}
	}
	for i, a := range audit {
		if a {
			out.Audit = append(out.Audit, i)
		}
	}
	return out, nil
}

// Anchors reports, for the accounts vouching for the checked links of a
// chain of n links (vouchers: per checked link, the accounts whose
// computation says it), which are credible — segment error within the
// per-link budget — and whether some checked link has no credible voucher
// at all (then the chain must be confirmed on trusted ground).
func Anchors(pol trust.Policy, n int, vouchers [][]string, rec map[string]trust.Account) (anch map[string]bool, need bool) {
	budget := pol.SegmentBudget(n)
	anch = map[string]bool{}
	for _, accs := range vouchers {
		ok := false
		for _, a := range accs {
			c, seen := anch[a]
			if !seen {
				r, found := rec[a]
				if !found {
					r = trust.Account{ID: a}
				}
				c = trust.SegmentError(r, pol.Prior) <= budget
				anch[a] = c
			}
			ok = ok || c
		}
		need = need || !ok
	}
	return anch, need
}

// Counts reports whether a checked link of acc earns it a verified
// segment: only trusted ground or a credible other voucher (anch, from
// Anchors) makes evidence, so fresh accounts vouching for each other build
// no credibility.
func Counts(acc string, others []string, anch map[string]bool, trusted bool) bool {
	if trusted || anch == nil {
		return trusted
	}
	for _, o := range others {
		if o != acc && anch[o] {
			return true
		}
	}
	return false
}
