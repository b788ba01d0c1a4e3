package trust

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if d := math.Abs(got - want); d > rel*math.Abs(want) && d > 1e-300 {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func TestSegmentErrorKnownRate(t *testing.T) {
	p := Params{F: 0.2, S: 0.5}
	// S·F·(1−S)^k / (F(1−S)^k + 1−F), by hand.
	for _, c := range []struct {
		k    int64
		want float64
	}{{0, 0.1}, {1, 0.05 / 0.9}, {2, 0.025 / 0.85}, {10, 0.5 * 0.2 / 1024 / (0.2/1024 + 0.8)}} {
		near(t, "SegmentError", SegmentError(Account{Verified: c.k}, p), c.want, 1e-12)
		near(t, "Credibility", Credibility(Account{Verified: c.k}, p), 1-c.want, 1e-12)
	}
	always := Params{F: 0.2, S: 1}
	near(t, "S=1, k=0", SegmentError(Account{}, always), 0.2, 1e-12)
	if got := SegmentError(Account{Verified: 1}, always); got != 0 {
		t.Errorf("S=1, k=1: %v, want 0 (an always-liar never passes a check)", got)
	}
}

func TestSegmentErrorWorstCase(t *testing.T) {
	p := Params{F: 0.2}
	for _, c := range []struct {
		k    int64
		want float64
	}{{0, 0.2}, {1, 0.25 * 0.25}, {2, 0.25 * 4.0 / 27}, {9, 0.25 * 387420489 / 1e10}} {
		near(t, "worst SegmentError", SegmentError(Account{Verified: c.k}, p), c.want, 1e-12)
	}
	// It bounds every known rate.
	for k := int64(0); k < 300; k += 7 {
		w := SegmentError(Account{Verified: k}, p)
		for s := 0.001; s <= 1; s += 0.001 {
			if e := SegmentError(Account{Verified: k}, Params{F: 0.2, S: s}); e > w*(1+1e-12) {
				t.Fatalf("k=%d: S=%v gives %v above the worst case %v", k, s, e, w)
			}
		}
	}
}

func TestCaughtAccount(t *testing.T) {
	for _, a := range []Account{{LiesCaught: 1, Verified: 1e6}, {Blacklisted: true, Verified: 1e6}} {
		if got := Credibility(a, Params{F: 0.01, S: 0.5}); got != 0 {
			t.Errorf("credibility of %+v = %v, want 0", a, got)
		}
		pl, err := DefaultPolicy(1e-6).Plan(a, 5, rand.New(rand.NewPCG(1, 1)))
		if err != nil || !pl.Refused {
			t.Errorf("plan for %+v = %+v, %v; want refused", a, pl, err)
		}
	}
}

func TestSegmentBudget(t *testing.T) {
	p := Policy{MaxError: 1e-6}
	near(t, "budget n=1", p.SegmentBudget(1), 1e-6, 1e-12)
	// 1 − (1−ε)^(1/n) = ε/n + (n−1)ε²/(2n²) + …
	near(t, "budget n=10", p.SegmentBudget(10), 1e-7+9e-12/200, 1e-9)
	p.MaxError = 0.19
	near(t, "budget 0.19 n=2", p.SegmentBudget(2), 0.1, 1e-12) // 1 − √0.81
}

func TestAuditRate(t *testing.T) {
	p := Policy{MaxError: 0.01, MinAudit: 0.05, FullAt: 0.5}
	for _, c := range []struct{ e, want float64 }{
		{0.1, 0.9}, {0.02, 0.5}, {0.015, 1 - 1/1.5}, {0.0105, 0.05}, {0, 0.05}, {0.005, 0.05}, {1, 0.99},
	} {
		near(t, "AuditRate", p.AuditRate(c.e, 1), c.want, 1e-12)
	}
}

func TestPlan(t *testing.T) {
	p := Policy{MaxError: 0.01, MinAudit: 0.05, FullAt: 0.5, Prior: Params{F: 0.2, S: 0.5}}
	rng := rand.New(rand.NewPCG(3, 3))
	// A new account: e = 0.1, rate 0.9 ≥ FullAt: replicate.
	pl, err := p.Plan(Account{}, 1, rng)
	if err != nil || pl.Replicas != 2 || pl.Error != 0 || pl.Cost != 2 || len(pl.Audit) != 0 {
		t.Fatalf("new account: %+v, %v", pl, err)
	}
	// k = 3: e = 0.0125/0.825 = 0.01515…; rate 1 − 0.01/e; error e(1−rate) = ε exactly.
	e := 0.0125 / 0.825
	pl, _ = p.Plan(Account{Verified: 3}, 1, rng)
	near(t, "rate", pl.AuditRate, 1-0.01/e, 1e-12)
	near(t, "error", pl.Error, 0.01, 1e-9)
	near(t, "cost", pl.Cost, 2-0.01/e, 1e-12)
	if pl.Replicas != 1 {
		t.Fatalf("k=3: %+v", pl)
	}
	// Settled: at the floor, the error is below the target.
	pl, _ = p.Plan(Account{Verified: 100}, 20, rng)
	if pl.AuditRate != 0.05 || pl.Error >= 0.01 || pl.Replicas != 1 {
		t.Fatalf("settled: %+v", pl)
	}
	if _, err := p.Plan(Account{}, 0, rng); !errors.Is(err, ErrSegments) {
		t.Fatalf("0 segments: %v", err)
	}
}

func TestPlanErrorWithinTarget(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, eps := range []float64{1e-2, 1e-6, 1e-9} {
		for _, prior := range []Params{{F: 0.2, S: 0.1}, {F: 0.5}, {F: 0.05, S: 1}} {
			p := Policy{MaxError: eps, MinAudit: 0.05, FullAt: 0.5, Prior: prior}
			for k := int64(0); k < 2e6; k = k*2 + 1 {
				for _, n := range []int{1, 3, 10, 100} {
					pl, err := p.Plan(Account{Verified: k}, n, rng)
					if err != nil {
						t.Fatal(err)
					}
					if pl.Error > eps*(1+1e-9) {
						t.Fatalf("ε=%v %+v k=%d n=%d: error %v", eps, prior, k, n, pl.Error)
					}
				}
			}
		}
	}
}

func TestPlanAuditsAreSeeded(t *testing.T) {
	p := Policy{MaxError: 1e-3, MinAudit: 0.2, FullAt: 0.9, Prior: Params{F: 0.1, S: 0.5}}
	a := Account{Verified: 1000}
	p1, _ := p.Plan(a, 1000, rand.New(rand.NewPCG(9, 9)))
	p2, _ := p.Plan(a, 1000, rand.New(rand.NewPCG(9, 9)))
	if !slices.Equal(p1.Audit, p2.Audit) {
		t.Fatal("the same seed gave different audits")
	}
	if !slices.IsSorted(p1.Audit) || p1.Audit[0] < 0 || p1.Audit[len(p1.Audit)-1] >= 1000 {
		t.Fatalf("audits out of order or range: %v", p1.Audit)
	}
	// Binomial(1000, 0.2): mean 200, sd 12.6.
	if n := len(p1.Audit); n < 150 || n > 250 {
		t.Fatalf("%d audits of 1000 at rate 0.2", n)
	}
}

func TestSettleAfter(t *testing.T) {
	p := Policy{MaxError: 1e-6, MinAudit: 0.05, FullAt: 0.5, Prior: Params{F: 0.2, S: 0.1}}
	// x = budget/(1−MinAudit) = 1.0526e-7; (1−S)^k ≤ x(1−F)/(F(S−x)) = 4.2105e-6:
	// k ≥ ln(4.2105e-6)/ln(0.9) = 117.5.
	if k, ok := p.SettleAfter(10); !ok || k != 118 {
		t.Errorf("SettleAfter(10) = %d, %v; want 118", k, ok)
	}
	if e := SegmentError(Account{Verified: 118}, p.Prior); p.AuditRate(e, 10) != 0.05 {
		t.Errorf("at 118 the rate is %v", p.AuditRate(e, 10))
	}
	if e := SegmentError(Account{Verified: 117}, p.Prior); p.AuditRate(e, 10) == 0.05 {
		t.Error("at 117 the rate is already at the floor")
	}
	// By hand: F = S = 1/2, ε = 0.01, n = 1, floor 1/2: x = 0.02,
	// e_k = 0.5y/(y+1) with y = 2^−k: e_4 = 0.0294, e_5 = 0.0152.
	q := Policy{MaxError: 0.01, MinAudit: 0.5, FullAt: 0.6, Prior: Params{F: 0.5, S: 0.5}}
	if k, ok := q.SettleAfter(1); !ok || k != 5 {
		t.Errorf("SettleAfter = %d, %v; want 5", k, ok)
	}
	// Worst case over S: about F/((1−F)·e·x) = 873,713.
	p.Prior.S = 0
	if k, ok := p.SettleAfter(10); !ok || k != 873713 {
		t.Errorf("worst-case SettleAfter(10) = %d, %v; want 873713", k, ok)
	}
}

func TestValidate(t *testing.T) {
	good := DefaultPolicy(1e-6)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Policy{
		{MaxError: 0, MinAudit: 0.05, FullAt: 0.5},
		{MaxError: 1, MinAudit: 0.05, FullAt: 0.5},
		{MaxError: 1e-6, MinAudit: 0, FullAt: 0.5},
		{MaxError: 1e-6, MinAudit: 0.5, FullAt: 0.5},
		{MaxError: 1e-6, MinAudit: 0.05, FullAt: 0.5, Prior: Params{F: 1}},
		{MaxError: 1e-6, MinAudit: 0.05, FullAt: 0.5, Prior: Params{F: 0.1, S: 1.5}},
		{MaxError: math.NaN(), MinAudit: 0.05, FullAt: 0.5},
	} {
		if p.Validate() == nil {
			t.Errorf("%+v validated", p)
		}
	}
}

func TestFirstDisagreement(t *testing.T) {
	h := func(b ...byte) []Hash {
		out := make([]Hash, len(b))
		for i, x := range b {
			out[i][0] = x
		}
		return out
	}
	for _, c := range []struct {
		a, b []Hash
		k    int
		ok   bool
	}{
		{h(0, 1, 2, 3), h(0, 1, 2, 3), 0, false},
		{h(0, 1, 2, 3), h(0, 1, 9, 3), 2, true}, // a lie in segment 2, the rest follows honestly
		{h(0, 1, 2, 3), h(0, 1, 9, 9), 2, true},
		{h(0, 1, 2, 3), h(0, 1, 2, 3, 4), 0, false}, // one replica ahead
		{h(0, 1, 2), h(0, 7), 1, true},
		{h(5, 1), h(0, 1), 0, true},
		{nil, h(0), 0, false},
	} {
		if k, ok := FirstDisagreement(c.a, c.b); k != c.k || ok != c.ok {
			t.Errorf("FirstDisagreement(%v, %v) = %d, %v; want %d, %v", c.a, c.b, k, ok, c.k, c.ok)
		}
	}
	var x, y, z Hash
	y[0], z[0] = 1, 2
	if v := Settle(x, x, y); !v.AHonest || v.BHonest {
		t.Errorf("Settle: %+v", v)
	}
	if v := Settle(x, y, z); v.AHonest || v.BHonest {
		t.Errorf("two liars: %+v", v)
	}
}

func TestChooseAuditor(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	cands := []Candidate{{"a", 0.99, false}, {"b", 0.99, false}, {"c", 0.8, false}, {"d", 0.999, true}, {"e", 0.7, false}}
	seen := map[string]int{}
	for range 2000 {
		id, ok := ChooseAuditor(cands, []string{"a"}, rng)
		if !ok {
			t.Fatal("no auditor")
		}
		seen[id]++
	}
	if seen["a"] > 0 || seen["d"] > 0 {
		t.Fatalf("the excluded or blacklisted account audited: %v", seen)
	}
	// Eligible b, c, e; median 0.8: b and c, never e while they exist.
	if seen["e"] > 0 || seen["b"] < 800 || seen["c"] < 800 {
		t.Fatalf("audits not spread over the credible half: %v", seen)
	}
	if _, ok := ChooseAuditor(cands[:1], []string{"a"}, rng); ok {
		t.Fatal("an audit assigned to the audited account")
	}
	if id, ok := ChooseAuditor([]Candidate{{"a", 0.1, false}, {"z", 0.1, false}}, []string{"a"}, rng); !ok || id != "z" {
		t.Fatalf("got %q, %v", id, ok)
	}
}

func TestEstimate(t *testing.T) {
	var e Estimate
	if e.F() != 0.5 {
		t.Fatalf("F with no data = %v", e.F())
	}
	if _, ok := e.S(); ok {
		t.Fatal("S with no liar caught")
	}
	if p := e.Params(0.1); p.S != 0.1 || p.F != 0.5 {
		t.Fatalf("%+v", p)
	}
	e.Accounts = 98
	e.Caught(100, 10)
	e.Caught(100, 10)
	// Caught does not count the account itself: F = (2+1)/(98+2).
	near(t, "F", e.F(), 0.03, 1e-12)
	if s, _ := e.S(); s != 0.1 {
		t.Fatalf("S = %v", s)
	}
	if p := e.Params(0.5); p.S != 0.5 || p.SLow != 0.1 {
		t.Fatalf("a measured rate below the guard must widen the range planned for: %+v", p)
	}
	if p := e.Params(0.05); p.S != 0.05 || p.SLow != 0 {
		t.Fatalf("a measured rate above the guard must not loosen: %+v", p)
	}
	if p := e.Params(0); p.S != 0 {
		t.Fatalf("guard 0 is the worst case: %+v", p)
	}
	e.Caught(10, 0) // a caught liar lied at least once
	if e.LiarLies != 21 {
		t.Fatalf("lies %d", e.LiarLies)
	}
}

// TestEstimateAdd: the estimate is built from the accounts' records. Fresh
// accounts (no evidence) are not counted; a caught account's record feeds
// the measured lie rate, and the planned S follows it below the guard.
func TestEstimateAdd(t *testing.T) {
	var e Estimate
	for i := range 10 {
		e.Add(Account{ID: fmt.Sprint("fresh", i)}) // no evidence: not counted
	}
	for i := range 8 {
		e.Add(Account{ID: fmt.Sprint("honest", i), Verified: 50, AuditsPassed: 5})
	}
	if e.Accounts != 8 || e.Liars != 0 {
		t.Fatalf("accounts %d liars %d: only accounts with evidence count", e.Accounts, e.Liars)
	}
	if p := e.Params(DefaultGuard); p.S != DefaultGuard {
		t.Fatalf("no liar caught: S must be the guard, got %+v", p)
	}
	near(t, "F", e.F(), 1.0/10, 1e-12)

	// A liar caught at its first lie, with nothing verified: S = 1, above
	// the guard, so the plan keeps the guard.
	e.Add(Account{ID: "always", LiesCaught: 1, Blacklisted: true})
	if s, ok := e.S(); !ok || s != 1 {
		t.Fatalf("S = %v, %v", s, ok)
	}
	if p := e.Params(DefaultGuard); p.S != DefaultGuard || p.SLow != 0 {
		t.Fatalf("a measured rate above the guard must not loosen: %+v", p)
	}
	// A patient liar: 2 lies in 98 verified segments. The pooled rate is
	// 3/101, below the guard: the policy plans with it.
	e.Add(Account{ID: "patient", Verified: 98, LiesCaught: 2, Blacklisted: true})
	if e.Accounts != 10 || e.Liars != 2 {
		t.Fatalf("accounts %d liars %d", e.Accounts, e.Liars)
	}
	near(t, "F", e.F(), 3.0/12, 1e-12)
	p := e.Params(DefaultGuard)
	if p.S != DefaultGuard {
		t.Fatalf("S = %v, want the guard", p.S)
	}
	near(t, "SLow", p.SLow, 3.0/101, 1e-12)
	// The lower measured rate makes the policy stricter for an account with
	// a record (its segment error falls more slowly with its evidence) and
	// no looser for a fresh one (e_0 = S·F would fall with S alone).
	guarded := Params{F: p.F, S: DefaultGuard}
	for _, k := range []int64{0, 1, 10, 100, 1000} {
		acc := Account{Verified: k}
		if got, g := SegmentError(acc, p), SegmentError(acc, guarded); got < g {
			t.Fatalf("k=%d: segment error with the measured rate %v, below the guard's %v", k, got, g)
		}
	}
	if acc := (Account{Verified: 100}); !(SegmentError(acc, p) > SegmentError(acc, guarded)) {
		t.Fatal("after 100 verified segments the measured rate must be stricter than the guard")
	}
	// Banned without a lie on record still counts as one.
	var b Estimate
	b.Add(Account{ID: "banned", Blacklisted: true})
	if b.Accounts != 1 || b.Liars != 1 || b.LiarLies != 1 || b.LiarSegments != 1 {
		t.Fatalf("%+v", b)
	}
	// Lies told as an auditor are never accepted: they make a liar but
	// not a rate. A liar caught only on audits (a sneaky one, honest on
	// the work it starts) adds to F and leaves S alone.
	var c Estimate
	c.Add(Account{ID: "honest", Verified: 40})
	c.Add(Account{ID: "sneaky", Verified: 500, AuditsRun: 60, LiesCaught: 2, AuditLies: 2, Blacklisted: true})
	if c.Accounts != 2 || c.Liars != 1 || c.LiarSegments != 0 || c.LiarLies != 0 {
		t.Fatalf("caught on audits only: %+v", c)
	}
	if p := c.Params(DefaultGuard); p.S != DefaultGuard || p.SLow != 0 {
		t.Fatalf("caught on audits only: the guard must stand, got %+v", p)
	}
	// One lie on its own work and one on an audit: its own work is the
	// 500 − 60 verified segments it did not audit, and the one lie.
	c.Add(Account{ID: "mixed", Verified: 500, AuditsRun: 60, LiesCaught: 2, AuditLies: 1, Blacklisted: true})
	if c.Liars != 2 || c.LiarSegments != 441 || c.LiarLies != 1 {
		t.Fatalf("own work only: %+v", c)
	}
	near(t, "SLow", c.Params(DefaultGuard).SLow, 1.0/441, 1e-12)
}

// TestSegmentErrorRange: with a range of lie rates, SegmentError is the
// worst case over the range (checked against a fine grid of rates), never
// below either end, and SettleAfter finds the least k within the budget.
func TestSegmentErrorRange(t *testing.T) {
	for _, k := range []int64{0, 1, 5, 30, 100, 1000, 100000} {
		for _, r := range [][2]float64{{0.001, 0.1}, {0.02, 0.1}, {1e-6, 0.5}, {0.3, 1}} {
			p := Params{F: 0.3, S: r[1], SLow: r[0]}
			got := SegmentError(Account{Verified: k}, p)
			want := 0.0
			for i := 0; i <= 20000; i++ {
				s := math.Exp(math.Log(r[0]) + (math.Log(r[1])-math.Log(r[0]))*float64(i)/20000)
				want = max(want, SegmentError(Account{Verified: k}, Params{F: p.F, S: s}))
			}
			if got < want*(1-1e-6) || got > want*(1+1e-3) {
				t.Errorf("k=%d range %v: %v, grid maximum %v", k, r, got, want)
			}
		}
	}
	pol := DefaultPolicy(1e-6)
	pol.Prior = Params{F: 0.2, S: 0.1, SLow: 0.01}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	k, ok := pol.SettleAfter(10)
	x := pol.SegmentBudget(10) / (1 - pol.MinAudit)
	if !ok || SegmentError(Account{Verified: k}, pol.Prior) > x || SegmentError(Account{Verified: k - 1}, pol.Prior) <= x {
		t.Fatalf("SettleAfter %d, %v", k, ok)
	}
	only := pol
	only.Prior = Params{F: 0.2, S: 0.1}
	if k0, _ := only.SettleAfter(10); k <= k0 {
		t.Fatalf("settling with the range %d, with the guard alone %d", k, k0)
	}
}
