package checkpoint

import (
	"math"
	"time"
)

// Measurements is what the checkpoint interval is chosen from: the
// coordinator's records (sessions, workers' reported checkpoint costs and
// measured fuel rates) and its configuration.
type Measurements struct {
	Sessions []Session // the most recent sessions, open ones included
	Now      time.Time
	Prior    Prior // of the mean session length
	// CostsMS: checkpoint costs reported by workers (ms); with none,
	// DefaultCost.
	CostsMS     []float64
	DefaultCost time.Duration
	// Rates: measured fuel rates; PriorRate weighs PriorSeconds among them.
	Rates        []RateSample
	PriorRate    float64
	PriorSeconds float64
	// PrevGrid is the grid new tasks got until now (0: none yet); Fixed, if
	// not 0, is the grid to give whatever was measured.
	PrevGrid, Fixed uint64
}

// Choice is the interval chosen and what it rests on.
type Choice struct {
	Tau      time.Duration // τ̂, censored MLE with the prior
	Sessions int           // completed sessions in τ̂
	Delta    time.Duration // δ: mean reported checkpoint cost
	Costs    int           // reports in δ (0: DefaultCost)
	Optimal  time.Duration // T*
	Floor    time.Duration // MinInterval(δ, MaxOverhead)
	Interval time.Duration // max(T*, Floor)
	FuelRate float64       // fuel per second: FuelRate over the samples and the prior
	Grid     uint64        // the fuel grid new tasks get
	Fixed    bool          // Grid is Measurements.Fixed
}

// Choose is the coordinator's choice of checkpoint interval from its
// measurements (docs/checkpointing.md, "In the coordinator"): a pure
// function, called by the coordinator and by the simulation (internal/sim).
func Choose(m Measurements) Choice {
	var c Choice
	est := EstimateMeanSessionPrior(m.Sessions, m.Now, m.Prior)
	c.Tau, c.Sessions = est.Mean, est.Completed
	var sum float64
	for _, x := range m.CostsMS {
		sum += x
	}
	c.Costs = len(m.CostsMS)
	c.Delta = m.DefaultCost
	if c.Costs > 0 {
		c.Delta = time.Duration(sum / float64(c.Costs) * float64(time.Millisecond))
	}
	samples := append(make([]RateSample, 0, len(m.Rates)+1), m.Rates...)
	samples = append(samples, RateSample{Fuel: uint64(m.PriorRate * m.PriorSeconds), Seconds: m.PriorSeconds})
	c.FuelRate = m.PriorRate
	if rate := FuelRate(samples); rate > 0 {
		c.FuelRate = rate
	}
	tstar := OptimalInterval(c.Tau.Seconds(), c.Delta.Seconds())
	interval := Interval(c.Tau.Seconds(), c.Delta.Seconds())
	if math.IsNaN(tstar) || math.IsNaN(interval) {
		tstar, interval = 0, 0
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	c.Optimal, c.Interval = sec(tstar), sec(interval)
	c.Floor = sec(MinInterval(c.Delta.Seconds(), MaxOverhead))
	if m.Fixed > 0 {
		c.Grid, c.Fixed = m.Fixed, true
	} else {
		c.Grid = StableFuelGrid(m.PrevGrid, interval, c.FuelRate)
	}
	return c
}
