package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/store"
)

// Policy is the checkpoint interval the coordinator currently gives new
// tasks, and what it was derived from (docs/checkpointing.md).
type Policy struct {
	// Tau is the estimated mean worker session length τ (censored MLE with
	// a prior), from the last sessions the store recorded.
	Tau       time.Duration
	Sessions  int // completed sessions in the estimate
	TauPrior  bool
	Delta     time.Duration // δ: mean checkpoint cost reported by workers
	Costs     int           // reports in that mean (0: the configured default)
	Optimal   time.Duration // T* = τ·(1 + W₀(−e^(−1−δ/τ)))
	Floor     time.Duration // the shortest interval that keeps checkpoints under checkpoint.MaxOverhead of the time
	Interval  time.Duration // max(T*, Floor): checkpoint.Interval
	FuelRate  float64       // fuel per second: time-weighted median over recent segments and the prior
	Rates     int           // samples in that median besides the prior (0: the configured default)
	Grid      uint64        // Interval·rate rounded to the fuel grid; what new tasks get
	Fixed     bool          // the grid is Config.CheckpointEvery, not T*
	UpdatedAt time.Time
}

// GridSeconds is the grid in seconds at the current fuel rate.
func (p Policy) GridSeconds() float64 { return float64(p.Grid) / p.FuelRate }

// policy keeps the measurements the interval is derived from. Workers'
// checkpoint costs are their own reports (a worker could lie about them;
// the effect is bounded: δ moves T* as √δ). Fuel rates are fuel over guest
// run time (checkpoint.RunTime): between two accepted checkpoints, or a
// checkpoint and the result, by the coordinator's clock; from the lease
// grant, which also covers the module's fetch and compile, only by the
// worker's report bounded by that clock.
type policy struct {
	cfg *Config
	st  store.Store

	mu    sync.Mutex
	costs []float64 // ms, ring
	ci    int
	rates []checkpoint.RateSample // ring
	ri    int
	cur   Policy
}

// ratePriorSeconds is the weight of Config.FuelRate in the rate estimate:
// one second of guest time at that rate, so that until a second of guest
// time has been measured, a few tiny tasks cannot move the grid far.
const ratePriorSeconds = 1.0

const (
	policySamples = 256
	policyRefresh = time.Second
	policySession = 2000 // most recent sessions in the τ estimate
)

func newPolicy(cfg *Config, st store.Store) *policy {
	return &policy{cfg: cfg, st: st}
}

// maxReportedCostMS bounds a checkpoint cost a worker reports (10 min): a
// larger one is not believed.
const maxReportedCostMS = 600_000

func (p *policy) addCost(ms float64) {
	if !(ms >= 0) || ms > maxReportedCostMS {
		return
	}
	p.mu.Lock()
	if len(p.costs) < policySamples {
		p.costs = append(p.costs, ms)
	} else {
		p.costs[p.ci] = ms
		p.ci = (p.ci + 1) % policySamples
	}
	p.mu.Unlock()
}

func (p *policy) addRate(fuel uint64, d time.Duration) {
	if fuel == 0 || d <= 0 {
		return
	}
	s := checkpoint.RateSample{Fuel: fuel, Seconds: d.Seconds()}
	p.mu.Lock()
	if len(p.rates) < policySamples {
		p.rates = append(p.rates, s)
	} else {
		p.rates[p.ri] = s
		p.ri = (p.ri + 1) % policySamples
	}
	p.mu.Unlock()
}

// current returns the policy, recomputing it at most once a second.
func (p *policy) current(ctx context.Context) Policy {
	now := p.cfg.Now()
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	if !cur.UpdatedAt.IsZero() && now.Sub(cur.UpdatedAt) < policyRefresh {
		return cur
	}
	next := p.compute(ctx, now, cur.Grid)
	p.mu.Lock()
	p.cur = next
	p.mu.Unlock()
	return next
}

func (p *policy) compute(ctx context.Context, now time.Time, prevGrid uint64) Policy {
	var pol Policy
	pol.UpdatedAt = now
	ss, err := p.st.SessionList(ctx, &store.SessionListParams{Limit: policySession})
	sessions := make([]checkpoint.Session, 0, len(ss))
	if err == nil {
		for _, s := range ss {
			sessions = append(sessions, checkpoint.Session{Start: s.StartedAt, End: s.EndedAt, Open: s.EndedAt.IsZero()})
		}
	}
	p.mu.Lock()
	costs := append([]float64(nil), p.costs...)
	rates := append([]checkpoint.RateSample(nil), p.rates...)
	p.mu.Unlock()
	c := checkpoint.Choose(checkpoint.Measurements{Sessions: sessions, Now: now, Prior: p.cfg.SessionPrior,
		CostsMS: costs, DefaultCost: p.cfg.CheckpointCost, Rates: rates, PriorRate: p.cfg.FuelRate, PriorSeconds: ratePriorSeconds,
		PrevGrid: prevGrid, Fixed: p.cfg.CheckpointEvery})
	pol.Tau, pol.Sessions, pol.TauPrior = c.Tau, c.Sessions, c.Sessions == 0
	pol.Delta, pol.Costs = c.Delta, c.Costs
	pol.FuelRate, pol.Rates = c.FuelRate, len(rates)
	pol.Optimal, pol.Floor, pol.Interval = c.Optimal, c.Floor, c.Interval
	pol.Grid, pol.Fixed = c.Grid, c.Fixed
	return pol
}
