// Package trust is crowdrun's verification policy: how much of an account's
// work to re-check, who may re-check it, how a dispute between two chains of
// state hashes is settled, and what earns credit. It decides; it stores
// nothing and runs nothing. The coordinator feeds it the facts (verified
// segments, lies caught, audit outcomes) and persists what it decides.
//
// docs/trust.md derives every formula used here.
package trust

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Account is what the policy knows of one volunteer account. The coordinator
// counts; the policy only reads.
type Account struct {
	ID string
	// Verified counts the account's segments whose end hash another
	// computation confirmed: an audit, a quorum partner or a trusted re-run.
	// It is the evidence credibility rests on.
	Verified int64
	// AuditsPassed counts the spot-checks among them (reported, not used by
	// the formulas: every verified segment is equal evidence).
	AuditsPassed int64
	// AuditsRun counts, among Verified, the links the account re-ran as an
	// auditor (an audit looks like any resumed segment to the worker, so
	// they are evidence like the rest; the measured lie rate leaves them
	// out: Estimate.Add).
	AuditsRun int64
	// LiesCaught counts segments of the account a trusted re-run proved
	// wrong. One is enough to blacklist it.
	LiesCaught int64
	// AuditLies counts, among LiesCaught, the lies told as an auditor.
	AuditLies   int64
	Blacklisted bool
}

// Caught reports whether the account has been proved to lie.
func (a Account) Caught() bool { return a.Blacklisted || a.LiesCaught > 0 }

// Params are the population model: an account is a liar with probability F;
// a liar lies on each segment independently with probability S.
type Params struct {
	F float64 // prior probability that an account lies, in [0, 1)
	// S is the per-segment lie rate of a lying account, in (0, 1]; 0 means
	// unknown, and the policy takes the worst case over every rate.
	S float64
	// SLow, when in (0, S), widens S to a range: liars lie at some rate in
	// [SLow, S], and SegmentError is the worst case over it (a lower rate
	// measured than the guard S: docs/trust.md §7). 0 (or ≥ S): S alone.
	SLow float64
}

func (p Params) validate() error {
	if !(p.F >= 0 && p.F < 1) {
		return fmt.Errorf("trust: the prior liar fraction F must be in [0, 1), not %v", p.F)
	}
	if !(p.S >= 0 && p.S <= 1) {
		return fmt.Errorf("trust: the lie rate S must be in [0, 1] (0: unknown), not %v", p.S)
	}
	if !(p.SLow >= 0 && p.SLow <= 1) {
		return fmt.Errorf("trust: the lowest lie rate SLow must be in [0, 1] (0: S alone), not %v", p.SLow)
	}
	return nil
}

// SegmentError is the probability that the account's next segment is a lie,
// given that its k = a.Verified verified segments were all correct:
//
//	e_k(S) = S·F·(1−S)^k / (F·(1−S)^k + 1 − F)   when S is known,
//	max of e_k(s) over s in [SLow, S]            when SLow is in (0, S),
//	min(F, F/(1−F) · k^k/(k+1)^(k+1))            the worst case over S (S = 0).
//
// A caught account's is 1.
func SegmentError(a Account, p Params) float64 {
	if a.Caught() {
		return 1
	}
	k := float64(max(a.Verified, 0))
	if p.S > 0 && p.SLow > 0 && p.SLow < p.S {
		return maxSegmentError(k, p.F, p.SLow, p.S)
	}
	if p.S > 0 {
		return segmentError(k, p.F, p.S)
	}
	g := 1.0 // max over s of s(1−s)^k, attained at s = 1/(k+1)
	if k > 0 {
		g = math.Exp(k*math.Log(k) - (k+1)*math.Log(k+1))
	}
	return min(p.F, p.F/(1-p.F)*g)
}

// segmentError is e_k(s) for a known lie rate s.
func segmentError(k, f, s float64) float64 {
	y := math.Exp(k * math.Log1p(-s)) // (1−s)^k; 0 when s = 1 and k > 0
	if s == 1 && k == 0 {
		y = 1
	}
	return s * f * y / (f*y + 1 - f)
}

// maxSegmentError is the largest e_k(s) over s in [lo, hi]. e_k is
// log-concave in s (ln s is concave, and −ln(F + (1−F)(1−s)^−k) is the
// negative of a non-decreasing convex function of a convex one), so it is
// unimodal and a ternary search on ln s finds the peak: s ≈ 1/(k+1) when
// that is inside the range, the nearer end otherwise.
func maxSegmentError(k, f, lo, hi float64) float64 {
	a, b := math.Log(lo), math.Log(hi)
	for range 100 {
		m1, m2 := a+(b-a)/3, b-(b-a)/3
		if segmentError(k, f, math.Exp(m1)) < segmentError(k, f, math.Exp(m2)) {
			a = m1
		} else {
			b = m2
		}
	}
	return max(segmentError(k, f, lo), segmentError(k, f, hi), segmentError(k, f, math.Exp((a+b)/2)))
}

// Credibility is the probability that the account's next segment is correct:
// 1 − SegmentError.
func Credibility(a Account, p Params) float64 { return 1 - SegmentError(a, p) }

// Policy turns a job's error target into audit rates and replica counts.
type Policy struct {
	// MaxError is the job's --max-error: the largest acceptable probability
	// that an accepted task result is wrong. In (0, 1).
	MaxError float64
	// MinAudit is the floor of the per-segment audit probability, for every
	// account however credible: what keeps a patient liar (honest until
	// trusted) from lying for free. In (0, 1].
	MinAudit float64
	// FullAt: when the audit probability a task would need reaches FullAt,
	// the task is replicated instead (2 replicas compared link by link).
	// In (MinAudit, 1].
	FullAt float64
	// Prior is the population model, usually Estimate.Params.
	Prior Params
}

// DefaultPolicy is the policy for a job with the given --max-error before
// anything has been measured: half the accounts may lie, liars lie at least
// one segment in ten.
func DefaultPolicy(maxError float64) Policy {
	return Policy{MaxError: maxError, MinAudit: 0.05, FullAt: 0.5, Prior: Params{F: 0.5, S: DefaultGuard}}
}

// DefaultGuard is the smallest per-segment lie rate the per-result bound is
// computed for, until a smaller one is measured (docs/trust.md, "What the
// bound assumes").
const DefaultGuard = 0.1

// Validate explains the first constraint the policy breaks.
func (p Policy) Validate() error {
	if !(p.MaxError > 0 && p.MaxError < 1) {
		return fmt.Errorf("trust: max error must be in (0, 1), not %v", p.MaxError)
	}
	if !(p.MinAudit > 0 && p.MinAudit <= 1) {
		return fmt.Errorf("trust: the minimum audit rate must be in (0, 1], not %v: without audits a trusted account could lie for ever", p.MinAudit)
	}
	if !(p.FullAt > p.MinAudit && p.FullAt <= 1) {
		return fmt.Errorf("trust: FullAt (%v) must be in (MinAudit, 1] = (%v, 1]", p.FullAt, p.MinAudit)
	}
	return p.Prior.validate()
}

// SegmentBudget is the per-segment error that keeps a task of n segments
// within MaxError: 1 − (1 − MaxError)^(1/n).
func (p Policy) SegmentBudget(n int) float64 {
	return -math.Expm1(math.Log1p(-p.MaxError) / float64(max(n, 1)))
}

// AuditRate is the per-segment audit probability for an account whose
// segment error is e, in a task of n segments: 1 − budget/e, clamped to
// [MinAudit, 1].
func (p Policy) AuditRate(e float64, n int) float64 {
	if e <= 0 {
		return p.MinAudit
	}
	return min(1, max(p.MinAudit, 1-p.SegmentBudget(n)/e))
}

// Plan is how one task (or the rest of one, from a checkpoint) run by one
// account gets verified.
type Plan struct {
	// Refused: the account is caught; give it no work.
	Refused bool
	// Replicas is 1 (audits) or 2 (a second replica by another account,
	// compared link by link).
	Replicas int
	// AuditRate is the per-segment audit probability (1 when replicated).
	AuditRate float64
	// Audit lists the segment indices (0-based, in order) to re-run by
	// another account; empty when replicated.
	Audit []int
	// SegmentError is the account's SegmentError.
	SegmentError float64
	// Error bounds the probability that the accepted result is wrong, when
	// distinct accounts' lies never coincide (no collusion): 0 when
	// replicated, 1 − (1 − e·(1 − a))^n when audited.
	Error float64
	// Cost is the expected segments executed per segment of useful work,
	// before disputes: Replicas, or 1 + AuditRate.
	Cost float64
}

// ErrSegments: a plan needs at least one segment.
var ErrSegments = errors.New("trust: a task has at least one segment")

// Plan decides how a task of n segments by account a is verified. The audit
// draws come from rng only, so a seeded rng gives the same plan.
func (p Policy) Plan(a Account, n int, rng *rand.Rand) (Plan, error) {
	if n < 1 {
		return Plan{}, ErrSegments
	}
	if a.Caught() {
		return Plan{Refused: true, SegmentError: 1, Error: 1}, nil
	}
	e := SegmentError(a, p.Prior)
	rate := p.AuditRate(e, n)
	if rate >= p.FullAt {
		return Plan{Replicas: 2, AuditRate: 1, SegmentError: e, Cost: 2}, nil
	}
	pl := Plan{Replicas: 1, AuditRate: rate, SegmentError: e, Cost: 1 + rate}
	for i := range n {
		if rng.Float64() < rate {
			pl.Audit = append(pl.Audit, i)
		}
	}
	pl.Error = -math.Expm1(float64(n) * math.Log1p(-e*(1-rate)))
	return pl, nil
}

// SettleAfter is how many verified segments an account with no lie needs
// before its audit rate reaches the floor MinAudit, for tasks of n segments:
// the least k with SegmentError ≤ budget/(1 − MinAudit). With S known,
//
//	k* = ⌈ ln( x(1−F) / (F(S−x)) ) / ln(1−S) ⌉,   x = budget/(1 − MinAudit);
//
// in the worst case over S it is found by search (about F/((1−F)·e·x)).
// It returns 0 when no evidence is needed, and ok = false when more than
// 1<<40 segments would be.
func (p Policy) SettleAfter(n int) (k int64, ok bool) {
	x := p.SegmentBudget(n) / (1 - p.MinAudit)
	if p.MinAudit == 1 {
		return 0, true // everything is audited anyway
	}
	if SegmentError(Account{}, p.Prior) <= x {
		return 0, true
	}
	if p.Prior.S > 0 && !(p.Prior.SLow > 0 && p.Prior.SLow < p.Prior.S) {
		if p.Prior.S == 1 {
			return 1, true
		}
		y := x * (1 - p.Prior.F) / (p.Prior.F * (p.Prior.S - x))
		k = int64(math.Ceil(math.Log(y) / math.Log1p(-p.Prior.S)))
		// Rounding in the logarithms: step to the exact least k.
		for k > 0 && SegmentError(Account{Verified: k - 1}, p.Prior) <= x {
			k--
		}
		for SegmentError(Account{Verified: k}, p.Prior) > x {
			k++
		}
		return k, true
	}
	// A range of rates, or the worst case: SegmentError decreases in k (a
	// maximum of functions decreasing in k); binary search.
	lo, hi := int64(0), int64(1)
	for SegmentError(Account{Verified: hi}, p.Prior) > x {
		lo, hi = hi, hi*2
		if hi > 1<<40 {
			return 0, false
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if SegmentError(Account{Verified: mid}, p.Prior) > x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}
