package checkpoint

import "math"

// OptimalInterval is T* = τ·(1 + W₀(−e^(−1−δ/τ))), the work interval between
// checkpoints that maximises UsefulFraction, in the unit of tau and delta.
// It is ≈ √(2δτ) when δ ≪ τ and tends to τ as δ grows. It returns 0 when
// delta ≤ 0 (free checkpoints: save continuously) and NaN for tau ≤ 0.
//
// Rather than forming x = −e^(−1−δ/τ), which sits next to W₀'s branch point
// −1/e exactly when δ ≪ τ and so loses digits, it solves the same equation
// for u = 1 + W₀(x) = T*/τ: u + ln(1 − u) = −δ/τ, with Newton's method from
// the right of the root, where the iteration is monotone.
func OptimalInterval(tau, delta float64) float64 {
	if !(tau > 0) || math.IsNaN(delta) {
		return math.NaN()
	}
	if delta <= 0 {
		return 0
	}
	eps := delta / tau
	if math.IsInf(eps, 1) {
		return tau
	}
	// Both guesses lie right of the root (g(u) < 0), and so does their minimum.
	u := min(math.Sqrt(2*eps), 1-math.Exp(-1-eps))
	for range 100 {
		g := u + math.Log1p(-u) + eps
		gp := -u / (1 - u)
		next := u - g/gp
		if !(next > 0 && next < 1) {
			break
		}
		done := math.Abs(next-u) <= 1e-15*u
		u = next
		if done {
			break
		}
	}
	return tau * u
}

// MaxOverhead is the largest share of a worker's time that checkpoints may
// take: Interval never checkpoints more often than that, whatever T* says.
const MaxOverhead = 0.05

// MinInterval is the shortest work interval between checkpoints costing
// delta that keeps their share of the time, delta/(T + delta), at most
// maxOverhead: T ≥ delta·(1 − maxOverhead)/maxOverhead (19·delta at 5%).
// It returns 0 for delta ≤ 0 and for maxOverhead outside (0, 1).
func MinInterval(delta, maxOverhead float64) float64 {
	if !(delta > 0) || !(maxOverhead > 0 && maxOverhead < 1) {
		return 0
	}
	return delta * (1 - maxOverhead) / maxOverhead
}

// Interval is the interval the coordinator gives tasks: T*
// (OptimalInterval), but never shorter than MinInterval(delta,
// MaxOverhead). T* is shorter only when sessions are short next to
// checkpoints (τ < 180·δ at 5%); there it trades overhead for lost work by
// a model whose inputs are estimates, and a bound on the overhead is what
// holds whatever the estimates. NaN for tau ≤ 0.
func Interval(tau, delta float64) float64 {
	t := OptimalInterval(tau, delta)
	if math.IsNaN(t) {
		return t
	}
	return max(t, MinInterval(delta, MaxOverhead))
}

// LambertW0 is the principal branch of the Lambert W function: the w ≥ −1
// with w·e^w = x, for x ≥ −1/e (NaN below). Halley's iteration, started from
// the branch-point series near −1/e, from Winitzki's approximation on
// (−0.25, 3) and from the asymptotic expansion beyond.
func LambertW0(x float64) float64 {
	const minusInvE = -1 / math.E
	switch {
	case math.IsNaN(x) || x < minusInvE:
		return math.NaN()
	case x == minusInvE:
		return -1
	case x == 0:
		return 0
	case math.IsInf(x, 1):
		return x
	}
	var w float64
	switch {
	case x < -0.25:
		// W = −1 + p − p²/3 + 11p³/72 − …, p = √(2(e·x + 1)).
		p := math.Sqrt(2 * (math.E*x + 1))
		w = -1 + p*(1+p*(-1.0/3+p*11.0/72))
	case x < 3:
		l := math.Log1p(x)
		w = l * (1 - math.Log1p(l)/(2+l))
	default:
		l1 := math.Log(x)
		l2 := math.Log(l1)
		w = l1 - l2 + l2/l1
	}
	for range 50 {
		ew := math.Exp(w)
		f := w*ew - x
		wp1 := w + 1
		if wp1 == 0 || f == 0 {
			break
		}
		t := f / (ew*wp1 - (w+2)*f/(2*wp1))
		w -= t
		if math.Abs(t) <= 1e-15*(1+math.Abs(w)) {
			break
		}
	}
	return max(w, -1)
}

// Fractions splits expected session time under the model of
// docs/checkpointing.md into work that was saved (Useful), work done but
// lost when the session ended before the next checkpoint completed (Lost),
// and time spent checkpointing (Overhead). They sum to 1.
type Fractions struct {
	Useful, Lost, Overhead float64
}

// Breakdown is the expected split of session time when checkpointing after
// every T of work, sessions ~ Exp(mean tau), checkpoints costing delta.
func Breakdown(T, tau, delta float64) Fractions {
	if !(tau > 0) || !(T > 0) || delta < 0 {
		return Fractions{Lost: 1}
	}
	if math.IsInf(T, 1) {
		return Fractions{Lost: 1}
	}
	x := (T + delta) / tau
	cycle := -math.Expm1(-x)      // E[time of one cycle attempt] / τ
	work := -math.Expm1(-T / tau) // E[time in its work phase] / τ
	useful := T / tau * math.Exp(-x)
	return Fractions{
		Useful:   useful / cycle,
		Lost:     (work - useful) / cycle,
		Overhead: (cycle - work) / cycle,
	}
}

// UsefulFraction is the expected fraction of session time that ends up as
// saved work: (T/τ) / (e^((T+δ)/τ) − 1). At T* it equals 1 − T*/τ. A task
// of length L run without checkpoints whose result costs δ to hand in is
// the case T = L.
func UsefulFraction(T, tau, delta float64) float64 {
	if !(tau > 0) || !(T > 0) || delta < 0 || math.IsInf(T, 1) {
		return 0
	}
	return T / tau / math.Expm1((T+delta)/tau)
}
