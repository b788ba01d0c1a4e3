package coordinator

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

// The interval follows the coordinator's own records: the prior and the
// defaults with no data, then τ from sessions (open ones censored), δ from
// reported costs and the rate from measured segments.
func TestPolicy(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.UnixMilli(1_800_000_000_000)
	cfg := (&Config{Store: db, Now: func() time.Time { return now }}).withDefaults()
	p := newPolicy(&cfg, db)

	pol := p.current(ctx)
	tstar := checkpoint.OptimalInterval(checkpoint.DefaultPrior.Mean.Seconds(), DefaultCheckpointCost.Seconds())
	if pol.Tau != checkpoint.DefaultPrior.Mean || pol.Delta != DefaultCheckpointCost || pol.FuelRate != DefaultFuelRate || !pol.TauPrior {
		t.Fatalf("no data: %+v", pol)
	}
	if got := pol.Interval.Seconds(); math.Abs(got-tstar) > 1e-6 || pol.Grid != checkpoint.FuelGrid(tstar, DefaultFuelRate) {
		t.Fatalf("no data: T* %v grid %d, want %v, %d", got, pol.Grid, tstar, checkpoint.FuelGrid(tstar, DefaultFuelRate))
	}

	// 200 sessions of 20 s ended, 10 still open for 100 s; costs of 10 ms;
	// segments at 2·10⁸ fuel/s.
	for i := 0; i < 210; i++ {
		start := now.Add(-time.Duration(i+1) * 30 * time.Second)
		s, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w", Slots: 1, Now: start})
		if err != nil {
			t.Fatal(err)
		}
		if i >= 10 {
			if _, err := db.SessionEnd(ctx, &store.SessionEndParams{ID: s.ID, Now: start.Add(20 * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 50; i++ {
		p.addCost(10)
		p.addRate(2e8, time.Second)
	}
	// Cached for a second.
	if again := p.current(ctx); again != pol {
		t.Fatalf("recomputed within a second: %+v", again)
	}
	now = now.Add(2 * time.Second)
	pol = p.current(ctx)
	// Exposure: 200·20 s + open ones (started i·30 s + 30 s before the
	// first now, i < 10, observed until now).
	exposure := 200 * 20.0
	for i := 0; i < 10; i++ {
		exposure += float64(i+1)*30 + 2
	}
	w := checkpoint.DefaultPrior.Weight
	wantTau := (exposure + w*checkpoint.DefaultPrior.Mean.Seconds()) / (200 + w)
	if got := pol.Tau.Seconds(); math.Abs(got-wantTau) > 0.01 || pol.Sessions != 200 {
		t.Fatalf("τ = %v over %d sessions, want %v", got, pol.Sessions, wantTau)
	}
	if pol.Delta != 10*time.Millisecond || pol.Costs != 50 || pol.FuelRate != 2e8 || pol.Rates != 50 {
		t.Fatalf("δ and rate: %+v", pol)
	}
	tstar = checkpoint.OptimalInterval(wantTau, 0.01)
	if got := pol.Interval.Seconds(); math.Abs(got-tstar) > 1e-3 || pol.Grid != checkpoint.FuelGrid(tstar, 2e8) {
		t.Fatalf("T* %v grid %d, want %v, %d", got, pol.Grid, tstar, checkpoint.FuelGrid(tstar, 2e8))
	}
	if pol.Optimal != pol.Interval || math.Abs(pol.Floor.Seconds()-0.19) > 1e-6 {
		t.Fatalf("cheap checkpoints: T* %v, interval %v, floor %v", pol.Optimal, pol.Interval, pol.Floor)
	}
	// Checkpoints of 2 s against sessions of ~22 s: T* would spend a sixth
	// of the time checkpointing; the floor holds it to 5%.
	for i := 0; i < policySamples; i++ {
		p.addCost(2000)
	}
	now = now.Add(2 * time.Second)
	pol = p.current(ctx)
	if tstar := checkpoint.OptimalInterval(pol.Tau.Seconds(), 2); math.Abs(pol.Floor.Seconds()-38) > 1e-6 || pol.Interval != pol.Floor || tstar >= 38 ||
		math.Abs(pol.Optimal.Seconds()-tstar) > 1e-3 || pol.Grid != checkpoint.FuelGrid(38, 2e8) {
		t.Fatalf("costly checkpoints: T* %v (%v), interval %v, floor %v, grid %d", pol.Optimal, tstar, pol.Interval, pol.Floor, pol.Grid)
	}
	// A fixed grid wins, and is said to be fixed.
	cfg.CheckpointEvery = 1 << 22
	now = now.Add(2 * time.Second)
	if pol := p.current(ctx); pol.Grid != 1<<22 || !pol.Fixed {
		t.Fatalf("fixed grid: %+v", pol)
	}
}
