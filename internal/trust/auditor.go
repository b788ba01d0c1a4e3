package trust

import (
	"math/rand/v2"
	"slices"
)

// Candidate is an account that could run an audit or a second replica.
type Candidate struct {
	Account     string
	Credibility float64
	Blacklisted bool
}

// ChooseAuditor picks who re-runs a segment (or the second replica) of work
// done by the accounts in exclude. It never returns an excluded or
// blacklisted account. Among the eligible it prefers the more credible half
// (every candidate at least as credible as the median), uniformly, so that
// fresh identities (possible Sybils) do not check each other while credible
// accounts exist, and audits still spread over many accounts. ok is false
// when no candidate is eligible.
func ChooseAuditor(cands []Candidate, exclude []string, rng *rand.Rand) (account string, ok bool) {
	var el []Candidate
	for _, c := range cands {
		if c.Blacklisted || c.Account == "" || slices.Contains(exclude, c.Account) {
			continue
		}
		el = append(el, c)
	}
	if len(el) == 0 {
		return "", false
	}
	creds := make([]float64, len(el))
	for i, c := range el {
		creds[i] = c.Credibility
	}
	slices.Sort(creds)
	median := creds[(len(creds)-1)/2]
	top := el[:0:0]
	for _, c := range el {
		if c.Credibility >= median {
			top = append(top, c)
		}
	}
	return top[rng.IntN(len(top))].Account, true
}
