package sim

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
)

// Sessions is a distribution of session lengths (seconds).
type Sessions struct {
	// Kind: "exp" (exponential), "pareto" (Pareto of shape Alpha) or
	// "lognormal" (of log-standard deviation Sigma); each of mean Mean.
	Kind  string
	Mean  float64
	Alpha float64 // pareto: shape (> 1, so that the mean exists)
	Sigma float64 // lognormal
}

func (s Sessions) validate() error {
	if !(s.Mean > 0) || math.IsInf(s.Mean, 1) {
		return fmt.Errorf("sim: the mean session length must be positive and finite, not %v", s.Mean)
	}
	switch s.Kind {
	case "exp":
	case "pareto":
		if !(s.Alpha > 1) || math.IsInf(s.Alpha, 1) {
			return fmt.Errorf("sim: a Pareto session distribution needs a shape above 1 (a finite mean), not %v", s.Alpha)
		}
	case "lognormal":
		if !(s.Sigma > 0) || s.Sigma > 10 {
			return fmt.Errorf("sim: a lognormal session distribution needs sigma in (0, 10], not %v", s.Sigma)
		}
	default:
		return fmt.Errorf("sim: unknown session distribution %q (exp, pareto, lognormal)", s.Kind)
	}
	return nil
}

// String names the distribution with its parameters.
func (s Sessions) String() string {
	switch s.Kind {
	case "pareto":
		return fmt.Sprintf("Pareto(α=%g, xm=%.1f s; mean %g s)", s.Alpha, s.xm(), s.Mean)
	case "lognormal":
		return fmt.Sprintf("lognormal(μ=%.3f, σ=%g; mean %g s)", s.mu(), s.Sigma, s.Mean)
	}
	return fmt.Sprintf("Exp(mean %g s)", s.Mean)
}

func (s Sessions) xm() float64 { return s.Mean * (s.Alpha - 1) / s.Alpha }
func (s Sessions) mu() float64 { return math.Log(s.Mean) - s.Sigma*s.Sigma/2 }

// Draw draws one session length.
func (s Sessions) Draw(rng *rand.Rand) float64 {
	switch s.Kind {
	case "pareto":
		return s.xm() * math.Pow(1-rng.Float64(), -1/s.Alpha)
	case "lognormal":
		return math.Exp(s.mu() + s.Sigma*rng.NormFloat64())
	}
	return rng.ExpFloat64() * s.Mean
}

// Survival is P(S > t).
func (s Sessions) Survival(t float64) float64 {
	if t <= 0 {
		return 1
	}
	switch s.Kind {
	case "pareto":
		if t < s.xm() {
			return 1
		}
		return math.Pow(s.xm()/t, s.Alpha)
	case "lognormal":
		return 0.5 * math.Erfc((math.Log(t)-s.mu())/(s.Sigma*math.Sqrt2))
	}
	return math.Exp(-t / s.Mean)
}

// UsefulFraction is the fraction of session time that becomes saved work
// when a worker works from the start of its session in cycles of T
// seconds of work and δ of checkpoint: T·E[⌊S/(T+δ)⌋]/E[S], with
// E[⌊S/c⌋] = Σ_{k≥1} P(S ≥ k·c). For Exp it equals
// checkpoint.UsefulFraction.
func (s Sessions) UsefulFraction(T, delta float64) float64 {
	if s.Kind == "exp" {
		return checkpoint.UsefulFraction(T, s.Mean, delta)
	}
	c := T + delta
	// Σ_{k≤K} term by term, the rest as (1/c)·∫_{(K+½)c}^∞ P(S > t) dt
	// (the midpoint rule; the integrand is smooth on the scale of c there).
	K := int(min(max(50*s.Mean/c, 1), 20_000))
	var sum float64
	for k := 1; k <= K; k++ {
		sum += s.Survival(float64(k) * c)
	}
	sum += s.tail((float64(K)+0.5)*c) / c
	return T * sum / s.Mean
}

// tail is ∫_a^∞ P(S > t) dt = E[(S − a)⁺].
func (s Sessions) tail(a float64) float64 {
	switch s.Kind {
	case "pareto":
		xm := s.xm()
		if a < xm {
			return s.Mean - a
		}
		return math.Pow(xm, s.Alpha) * math.Pow(a, 1-s.Alpha) / (s.Alpha - 1)
	case "lognormal":
		d2 := (s.mu() - math.Log(a)) / s.Sigma
		phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
		return s.Mean*phi(d2+s.Sigma) - a*phi(d2)
	}
	return s.Mean * math.Exp(-a/s.Mean)
}

// Optimum is the best fixed checkpoint interval T for the distribution
// with perfect knowledge of it, and its useful fraction: for Exp,
// T* = τ(1 + W₀(−e^(−1−δ/τ))) and U = 1 − T*/τ (docs/checkpointing.md);
// otherwise UsefulFraction maximised numerically (golden-section search
// over log T, after a coarse scan).
func (s Sessions) Optimum(delta float64) (T, U float64) {
	if s.Kind == "exp" {
		T = checkpoint.OptimalInterval(s.Mean, delta)
		return T, 1 - T/s.Mean
	}
	best, bestU := 0.0, -1.0
	for x := math.Log(delta); x < math.Log(100*s.Mean); x += 0.05 {
		if u := s.UsefulFraction(math.Exp(x), delta); u > bestU {
			best, bestU = x, u
		}
	}
	a, b := best-0.05, best+0.05
	g := (math.Sqrt(5) - 1) / 2
	for range 60 {
		c, d := b-g*(b-a), a+g*(b-a)
		if s.UsefulFraction(math.Exp(c), delta) > s.UsefulFraction(math.Exp(d), delta) {
			b = d
		} else {
			a = c
		}
	}
	T = math.Exp((a + b) / 2)
	return T, s.UsefulFraction(T, delta)
}
