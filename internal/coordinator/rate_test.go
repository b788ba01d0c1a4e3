package coordinator_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/protocol"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A coordinator on a clock the test moves; raw workers send no heartbeats,
// so neither heartbeats nor leases run out while it does.
func newClockEnv(t *testing.T, mod func(*coordinator.Config)) (*env, *fakeClock) {
	clk := &fakeClock{t: time.UnixMilli(1_800_000_000_000)}
	e := newEnv(t, func(c *coordinator.Config) {
		c.Now = clk.Now
		c.HeartbeatInterval, c.LeaseTTL = 10*time.Second, time.Hour
		if mod != nil {
			mod(c)
		}
	})
	return e, clk
}

// The incident: a worker took its first leases, spent seconds fetching and
// compiling the module, then ran one real task and a few tiny ones. Timed
// from the grant, the tiny tasks made the guest look a hundred thousand
// times slower than it runs, and the grid shrank to a checkpoint every
// few milliseconds. Timed by the worker's run time (bounded by the
// coordinator's clock), the rate is the real task's.
func TestRateIgnoresCompileTime(t *testing.T) {
	e, clk := newClockEnv(t, nil)
	ctx := context.Background()
	// A job that verifies nothing: a fresh account on probation would
	// get one lease of a verifying job at a time (TestProbation).
	req := echoJob(t, 5, 1)
	req.MaxError = 1
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w := dialRaw(t, e, "w")
	w.send(&protocol.LeaseRequest{Max: 5})
	ls, ok := w.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 5 {
		t.Fatalf("leases %+v", ls)
	}
	clk.Add(5 * time.Second) // fetch and compile (2 s), then run (3 s)
	for i, l := range ls.Leases {
		res := &protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: []byte("x"), Stderr: []byte{}, Fuel: 100_000} // under a millisecond
		if i == 0 {
			res.Fuel, res.WallMS = 7_500_000_000, 3000
		}
		if _, ok := w.read2(w.send(res)).(*protocol.Ack); !ok {
			t.Fatalf("result %d not acked", i)
		}
	}
	clk.Add(2 * time.Second) // the policy is recomputed at most once a second
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := j.Checkpointing.Policy
	if p.RateSamples != 1 || p.FuelPerSecond != 2.5e9 {
		t.Fatalf("rate %v over %d samples, want 2.5e9 over 1 (the real task's)", p.FuelPerSecond, p.RateSamples)
	}
	if r := p.IntervalSeconds / math.Max(p.OptimalSeconds, p.MinSeconds); r < 1/1.0625 || r > 1.0625 {
		t.Fatalf("the grid of %d fuel is %v s, want T* %v s", p.IntervalFuel, p.IntervalSeconds, p.OptimalSeconds)
	}
}

// A segment's first checkpoint comes after the module's fetch and compile:
// only the stretches between checkpoints time the guest.
func TestRateFromCheckpointsSkipsTheFirst(t *testing.T) {
	e, clk := newClockEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks = req.Tasks[:1]
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, _, cps := localRun(t, e, job.ModuleHash, factorInputs[0], testGrid)
	if len(cps) < 3 {
		t.Fatalf("%d local checkpoints", len(cps))
	}
	w := dialCheckpointing(t, e, "w")
	w.send(&protocol.LeaseRequest{Max: 1})
	ls, ok := w.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 {
		t.Fatalf("leases %+v", ls)
	}
	lease := ls.Leases[0].LeaseID
	send := func(c localCheckpoint) {
		t.Helper()
		m := &protocol.Checkpoint{LeaseID: lease, Seq: c.seq, Fuel: c.fuel, StateHash: c.state, Snapshot: c.full, Stdout: c.stdout, Stderr: []byte{}, CostMS: 1}
		if c.delta != nil {
			m.Snapshot, m.Base = c.delta, c.base
		}
		if a, ok := w.read2(w.send(m)).(*protocol.Ack); !ok {
			t.Fatalf("checkpoint %d not acked: %+v", c.seq, a)
		}
	}
	clk.Add(10 * time.Second) // the compile, and the run to checkpoint 1
	send(cps[0])
	clk.Add(2 * time.Second)
	send(cps[1])
	clk.Add(2 * time.Second)
	send(cps[2])
	clk.Add(2 * time.Second)
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two samples of 2 s, and the configured 10⁹ as one second: the
	// time-weighted median is the faster of the two.
	r2, r3 := float64(cps[1].fuel-cps[0].fuel)/2, float64(cps[2].fuel-cps[1].fuel)/2
	if p := j.Checkpointing.Policy; p.RateSamples != 2 || p.FuelPerSecond != max(r2, r3) {
		t.Fatalf("rate %v over %d samples, want %v over 2", p.FuelPerSecond, p.RateSamples, max(r2, r3))
	}
}
