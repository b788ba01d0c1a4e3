package checkpoint

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

func TestLambertW0(t *testing.T) {
	for _, c := range []struct{ x, w float64 }{
		{-1 / math.E, -1},
		{-math.Ln2 / 2, -math.Ln2}, // −ln2·e^(−ln2) = −ln2/2
		{0, 0},
		{1, 0.5671432904097838}, // the omega constant
		{math.E, 1},
		{2 * math.Exp(2), 2},
		{-0.1, -0.11183255915896297},
	} {
		if got := LambertW0(c.x); !near(got, c.w, 1e-14) && math.Abs(got-c.w) > 1e-15 {
			t.Errorf("W0(%v) = %v, want %v", c.x, got, c.w)
		}
	}
	// The identity W(x)·e^W(x) = x across the domain, densely near −1/e.
	for i := 0; i <= 2000; i++ {
		var x float64
		if i < 1000 {
			x = -1/math.E + math.Pow(10, -16+float64(i)*15.5/1000) // 1e-16 … ~0.3 above −1/e
		} else {
			x = math.Pow(10, -6+float64(i-1000)*12.0/1000) * float64(1-2*(i%2)) // ±1e-6 … 1e6
			if x < -1/math.E {
				continue
			}
		}
		w := LambertW0(x)
		if w < -1 || math.IsNaN(w) {
			t.Fatalf("W0(%v) = %v", x, w)
		}
		// Residual relative to the condition of the problem near the branch point.
		if r := w*math.Exp(w) - x; math.Abs(r) > 4e-16*math.Max(1, math.Abs(x))*(1+math.Abs(w))+1e-17 {
			t.Errorf("W0(%v) = %v: residual %v", x, w, r)
		}
	}
	if !math.IsNaN(LambertW0(-0.4)) {
		t.Error("W0 below −1/e should be NaN")
	}
}

func TestOptimalInterval(t *testing.T) {
	// Agrees with the Lambert W form where that is well conditioned.
	for _, c := range []struct{ tau, delta float64 }{{410, 0.1}, {410, 5}, {100, 30}, {1, 1}, {1, 10}, {60, 0.5}} {
		got := OptimalInterval(c.tau, c.delta)
		want := c.tau * (1 + LambertW0(-math.Exp(-1-c.delta/c.tau)))
		if !near(got, want, 1e-6) {
			t.Errorf("T*(%v, %v) = %v, Lambert form %v", c.tau, c.delta, got, want)
		}
		// It maximises UsefulFraction: no better T on a fine grid around it.
		best := UsefulFraction(got, c.tau, c.delta)
		for f := 0.5; f <= 2; f += 0.001 {
			if u := UsefulFraction(got*f, c.tau, c.delta); u > best*(1+1e-12) {
				t.Errorf("T*(%v, %v) = %v: T = %v does better (%v > %v)", c.tau, c.delta, got, got*f, u, best)
				break
			}
		}
		// And UsefulFraction(T*) = 1 − T*/τ.
		if !near(best, 1-got/c.tau, 1e-9) {
			t.Errorf("U(T*) = %v, 1 − T*/τ = %v", best, 1-got/c.tau)
		}
	}
	// ≈ √(2δτ) when δ ≪ τ: the relative error is O(√(δ/τ)).
	for _, eps := range []float64{1e-12, 1e-9, 1e-6, 1e-4} {
		tau := 410.0
		got, approx := OptimalInterval(tau, eps*tau), math.Sqrt(2*eps*tau*tau)
		if !near(got, approx, 2*math.Sqrt(eps)) {
			t.Errorf("δ/τ = %v: T* = %v, √(2δτ) = %v", eps, got, approx)
		}
	}
	if OptimalInterval(410, 0) != 0 || !math.IsNaN(OptimalInterval(0, 1)) {
		t.Error("edge cases")
	}
	if got := OptimalInterval(1, 1e6); !near(got, 1, 1e-9) {
		t.Errorf("huge δ: %v", got)
	}
}

func TestBreakdown(t *testing.T) {
	for _, T := range []float64{1, 9, 60, 600} {
		b := Breakdown(T, 410, 0.1)
		if s := b.Useful + b.Lost + b.Overhead; !near(s, 1, 1e-12) {
			t.Errorf("T=%v: fractions sum to %v", T, s)
		}
		if !near(b.Useful, UsefulFraction(T, 410, 0.1), 1e-12) {
			t.Errorf("T=%v: Useful %v != UsefulFraction %v", T, b.Useful, UsefulFraction(T, 410, 0.1))
		}
	}
}

func TestEstimateMeanSessionCensored(t *testing.T) {
	const tau = 410.0
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 10,000 sessions starting uniformly over 10τ, observed at the end: the
	// ones still running are open, about 10% of them.
	horizon := 10 * tau
	now := t0.Add(seconds(horizon))
	var ss []Session
	open := 0
	for range 10000 {
		start := rng.Float64() * horizon
		end := start + rng.ExpFloat64()*tau
		s := Session{Start: t0.Add(seconds(start))}
		if end > horizon {
			s.Open = true
			open++
		} else {
			s.End = t0.Add(seconds(end))
		}
		ss = append(ss, s)
	}
	got := EstimateMeanSession(ss, now).Seconds()
	if !near(got, tau, 0.03) {
		t.Errorf("τ̂ = %v, want %v ± 3%% (%d open)", got, tau, open)
	}
	// Ignoring censoring (dropping open sessions) is biased low; counting
	// them as complete is biased too: the censored estimate does better.
	var closed []Session
	for _, s := range ss {
		if !s.Open {
			closed = append(closed, s)
		}
	}
	naive := EstimateMeanSessionPrior(closed, now, Prior{}).Mean.Seconds()
	t.Logf("τ = %v: censored MLE %.1f, dropping open sessions %.1f (%d of 10000 open)", tau, got, naive, open)
	if math.Abs(naive-tau) < math.Abs(got-tau) {
		t.Errorf("the naive estimate %v beat the censored one %v", naive, got)
	}
	// No data: the prior. One short session: pulled towards it.
	if got := EstimateMeanSession(nil, now); got != DefaultPrior.Mean {
		t.Errorf("no data: %v", got)
	}
	one := []Session{{Start: t0, End: t0.Add(10 * time.Second)}}
	if got := EstimateMeanSession(one, now); got <= 10*time.Second || got >= DefaultPrior.Mean {
		t.Errorf("one 10 s session: %v", got)
	}
	// Only open sessions, no prior: unknown.
	if got := EstimateMeanSessionPrior([]Session{{Start: t0, Open: true}}, now, Prior{}).Mean; got != 0 {
		t.Errorf("only open sessions: %v", got)
	}
}

func TestFuelGrid(t *testing.T) {
	for _, c := range []struct {
		sec, rate float64
		want      uint64
	}{
		{9.06, 1e9, 8 << 30}, // 9.06e9 = 8.44·2^30
		{9.2, 1e9, 9 << 30},
		{1, 8 << 20, 8 << 20},
		{1, 15 << 20, 15 << 20},
		{1, 15.6 * (1 << 20), 16 << 20},
		{0.001, 1000, MinFuelGrid},
		{math.NaN(), 1, MinFuelGrid},
	} {
		if got := FuelGrid(c.sec, c.rate); got != c.want {
			t.Errorf("FuelGrid(%v, %v) = %v, want %v", c.sec, c.rate, got, c.want)
		}
	}
	// Within 6.25% of the product, three significant bits, and with
	// StableFuelGrid, unmoved by ±2% changes of the rate estimate.
	changes := 0
	prev := FuelGrid(9, 1e9)
	stable := prev
	for i := 1; i <= 1000; i++ {
		f := 9 * 1e9 * (1 + 0.02*math.Sin(float64(i)))
		g := FuelGrid(9, f/9)
		if !near(float64(g), f, 0.0625) {
			t.Fatalf("grid %v for %v", g, f)
		}
		if tz := g >> (63 - leading(g) - 3); tz<<(63-leading(g)-3) != g {
			t.Fatalf("grid %b has more than three significant bits", g)
		}
		if g != prev {
			changes++
		}
		prev = g
		if s := StableFuelGrid(stable, 9, f/9); s != stable {
			t.Fatalf("stable grid moved from %v to %v for a 2%% change", stable, s)
		}
	}
	t.Logf("FuelGrid alone changed %d times in 1000 estimates within ±2%%", changes)
	if got := StableFuelGrid(stable, 12, 1e9); got != FuelGrid(12, 1e9) {
		t.Errorf("stable grid did not follow a 33%% change: %v", got)
	}
	if got := StableFuelGrid(0, 9, 1e9); got != FuelGrid(9, 1e9) {
		t.Errorf("no current grid: %v", got)
	}
}

func leading(x uint64) int {
	n := 0
	for x&(1<<63) == 0 {
		x <<= 1
		n++
	}
	return n
}

func TestFuelRate(t *testing.T) {
	s := []RateSample{{100, 1}, {200, 1}, {300, 1}, {1e12, 1}, {0, 1}, {5, 0}}
	if got := FuelRate(s); got != 250 {
		t.Errorf("FuelRate = %v", got)
	}
	if FuelRate(nil) != 0 {
		t.Error("FuelRate(nil)")
	}
}

// simulate runs sessions ~ Exp(tau) (the same ones for every policy, so
// differences between policies are not noise) and returns the fraction of
// session time that became saved work when checkpointing after every T of
// work at cost delta: a session of length S saves floor(S/(T+δ))·T.
func simulate(sessions []float64, T, delta float64) float64 {
	var total, useful float64
	for _, s := range sessions {
		total += s
		useful += math.Floor(s/(T+delta)) * T
	}
	return useful / total
}

// TestSimChurn is the Monte-Carlo check of the model: go test -run Sim -v
// prints the table.
func TestSimChurn(t *testing.T) {
	const tau, delta = 410.0, 0.1
	n := 400000
	if testing.Short() {
		n = 50000
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sessions := make([]float64, n)
	for i := range sessions {
		sessions[i] = rng.ExpFloat64() * tau
	}
	tstar := OptimalInterval(tau, delta)
	type row struct {
		name string
		T    float64
	}
	rows := []row{
		{"T* (optimal)", tstar},
		{"T*/4", tstar / 4},
		{"T*/2", tstar / 2},
		{"2·T*", 2 * tstar},
		{"BOINC fixed 60 s", 60},
		{"none, 600 s tasks", 600},
		{"none, 3600 s tasks", 3600},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "τ = %v s, δ = %v s, %d sessions; T* = %.3f s (√(2δτ) = %.3f s)\n", tau, delta, n, tstar, math.Sqrt(2*delta*tau))
	fmt.Fprintf(&b, "%-20s %10s %10s %10s %10s %12s\n", "policy", "T (s)", "theory", "simulated", "sim/theory", "of optimum")
	best := simulate(sessions, tstar, delta)
	theoryStar := UsefulFraction(tstar, tau, delta)
	for _, r := range rows {
		th := UsefulFraction(r.T, tau, delta)
		sim := simulate(sessions, r.T, delta)
		fmt.Fprintf(&b, "%-20s %10.3f %10.5f %10.5f %10.4f %11.1f%%\n", r.name, r.T, th, sim, sim/th, 100*sim/theoryStar)
		if sim > best {
			t.Errorf("%s: simulated %v beats T*'s %v", r.name, sim, best)
		}
		if r.T < 1000 && !near(sim, th, 0.02) {
			t.Errorf("%s: simulated %v, theory %v", r.name, sim, th)
		}
	}
	t.Log("\n" + b.String())
	if !near(best, theoryStar, 0.01) {
		t.Errorf("T*: simulated %v, theory %v", best, theoryStar)
	}
}

func TestRunTime(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		observed, reported time.Duration
		fromGrant          bool
		want               time.Duration
		ok                 bool
	}{
		{2000 * ms, 3 * ms, true, 3 * ms, true},        // compile in the window: the worker's run time
		{2000 * ms, 0, true, 0, false},                 // no report: no sample
		{2000 * ms, 60000 * ms, true, 2000 * ms, true}, // never more than the coordinator saw pass
		{500 * ms, 0, false, 500 * ms, true},           // checkpoint to checkpoint: the coordinator's clock
		{500 * ms, 100 * ms, false, 100 * ms, true},
		{0, 5 * ms, false, 0, false},
		{-ms, 0, false, 0, false},
	} {
		got, ok := RunTime(c.observed, c.reported, c.fromGrant)
		if got != c.want || ok != c.ok {
			t.Errorf("RunTime(%v, %v, %v) = %v, %v; want %v, %v", c.observed, c.reported, c.fromGrant, got, ok, c.want, c.ok)
		}
	}
}

// A few tiny tasks, whose rates are mostly fixed costs, are outnumbered
// but outweighed: the rate is the long segments'.
func TestFuelRateWeighsTime(t *testing.T) {
	s := []RateSample{{1500, 0.001}, {2000, 0.001}, {2500, 0.001}, {1000, 0.002}, {4000, 0.001},
		{2_500_000_000, 1}, {4_800_000_000, 2}}
	if got := FuelRate(s); got != 2.4e9 {
		t.Errorf("FuelRate = %v, want 2.4e9 (the unweighted median would be %v)", got, 2.5e6)
	}
	// Half the time exactly on each side: between the two.
	if got := FuelRate([]RateSample{{100, 1}, {300, 1}}); got != 200 {
		t.Errorf("FuelRate of two equal weights = %v", got)
	}
	if got := FuelRate([]RateSample{{100, math.Inf(1)}, {300, 1}}); got != 300 {
		t.Errorf("an infinite sample counted: %v", got)
	}
}

func TestMinInterval(t *testing.T) {
	if got := MinInterval(0.05, 0.05); !near(got, 0.95, 1e-12) {
		t.Errorf("MinInterval(50 ms, 5%%) = %v", got)
	}
	for _, c := range [][2]float64{{0, 0.05}, {-1, 0.05}, {1, 0}, {1, 1}, {math.NaN(), 0.05}} {
		if got := MinInterval(c[0], c[1]); got != 0 {
			t.Errorf("MinInterval(%v, %v) = %v, want 0", c[0], c[1], got)
		}
	}
	// Interval is T* where checkpoints are cheap next to sessions, the
	// floor where they are not, and never lets checkpoints take more than
	// MaxOverhead of the time.
	if got, want := Interval(300, 0.05), OptimalInterval(300, 0.05); got != want {
		t.Errorf("Interval(300 s, 50 ms) = %v, want T* %v", got, want)
	}
	if got := Interval(10, 1); !near(got, 19, 1e-12) || OptimalInterval(10, 1) >= 19 {
		t.Errorf("Interval(10 s, 1 s) = %v, want the floor 19 (T* %v)", got, OptimalInterval(10, 1))
	}
	for _, tau := range []float64{1, 10, 60, 300, 3600} {
		for _, delta := range []float64{0.001, 0.05, 0.5, 5} {
			T := Interval(tau, delta)
			if o := delta / (T + delta); o > MaxOverhead*(1+1e-12) || T < OptimalInterval(tau, delta) {
				t.Errorf("Interval(%v, %v) = %v: overhead %v, T* %v", tau, delta, T, o, OptimalInterval(tau, delta))
			}
		}
	}
	if !math.IsNaN(Interval(0, 1)) {
		t.Error("Interval(0, δ) should be NaN")
	}
}
