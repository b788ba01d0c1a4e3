package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func small() Config {
	c := DefaultConfig()
	c.Workers, c.Tasks, c.TrustedCores = 200, 1000, 20
	return c
}

// TestDeterministic: one seed, one outcome.
func TestDeterministic(t *testing.T) {
	c := small()
	c.Saboteurs, c.Strategy = 0.2, "mixed"
	a, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	a.Wall, b.Wall = 0, 0
	if *a != *b {
		t.Fatalf("two runs of seed %d differ:\n%+v\n%+v", c.Seed, *a, *b)
	}
	c.Seed++
	d, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if d.Busy == a.Busy {
		t.Fatalf("seeds %d and %d gave the same run", c.Seed-1, c.Seed)
	}
}

// TestConservation: every task is accepted exactly once (and counted as
// useful once), time and fuel add up, and no saboteur's lie stands.
func TestConservation(t *testing.T) {
	for _, strat := range append([]string{"mixed"}, Strategies...) {
		t.Run(strat, func(t *testing.T) {
			c := small()
			c.Saboteurs, c.Strategy = 0.4, strat
			s, r, err := run(c)
			if err != nil {
				t.Fatal(err)
			}
			for i := range s.tasks {
				if s.tasks[i].state != 1 {
					t.Fatalf("task %d not accepted", i)
				}
			}
			if got, want := s.done, c.Tasks; got != want {
				t.Fatalf("%d tasks done, want %d", got, want)
			}
			if got, want := r.Useful, float64(c.Tasks)*c.TaskSeconds*c.Rate; got != want {
				t.Fatalf("useful fuel %g, want %g", got, want)
			}
			if sum := r.Saved + r.Lost + r.Overhead + r.Revoked; math.Abs(sum-r.Busy) > 1e-6*r.Busy {
				t.Fatalf("busy %g s but saved + lost + overhead + revoked = %g s", r.Busy, sum)
			}
			if math.Abs(r.Saved*c.Rate-r.Executed) > 1e-6*r.Executed {
				t.Fatalf("saved %g s at %g fuel/s but executed %g fuel", r.Saved, c.Rate, r.Executed)
			}
			if r.WrongAccepted != 0 || r.WrongAtEnd != 0 || r.HonestCaught != 0 {
				t.Fatalf("%d wrong results accepted, %d at the end, %d honest accounts caught", r.WrongAccepted, r.WrongAtEnd, r.HonestCaught)
			}
			if r.Caught == 0 {
				t.Fatalf("no saboteur caught")
			}
			if r.Redundancy < 1 {
				t.Fatalf("redundancy %v below 1", r.Redundancy)
			}
		})
	}
}

// TestHandComputed: four veterans whose sessions outlast the run, four
// tasks of exactly four grid intervals, all leased at the start. Then no
// session has ended, so τ̂ is the prior's 300 s (plus a third of the
// exposure: microseconds), and no worker has reported a checkpoint cost,
// so δ is the coordinator's default 50 ms: T* = 5.43 s (√(2δτ) = 5.48),
// and FuelGrid rounds 5.43·10⁹ fuel to 10·2²⁹ = 5,368,709,120. Every
// lease computes whole links of 5.36870912 s, each followed by a
// checkpoint of the workers' δ = 0.1 s, and nothing is lost: useful work
// is T/(T+δ) = 0.981714 of busy time, and redundancy (16 + audits)/16
// links for 4 tasks.
func TestHandComputed(t *testing.T) {
	c := DefaultConfig()
	c.Workers, c.Tasks, c.Veterans, c.Offline = 4, 4, 1, 0
	c.Sessions = Sessions{Kind: "exp", Mean: 1e15}
	const grid = 10 << 29
	c.TaskSeconds = 4 * grid / c.Rate
	_, r, err := run(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.GridFirst != grid/c.Rate || r.GridLast != grid/c.Rate {
		t.Fatalf("grid %v–%v s, want %v s", r.GridFirst, r.GridLast, grid/c.Rate)
	}
	links := float64(16 + r.Audits)
	T := grid / c.Rate
	for _, x := range []struct {
		what      string
		got, want float64
	}{
		{"saved", r.Saved, links * T},
		{"overhead", r.Overhead, links * 0.1},
		{"lost", r.Lost, 0},
		{"revoked", r.Revoked, 0},
		{"busy", r.Busy, links * (T + 0.1)},
		{"efficiency", r.Efficiency, 5.36870912 / 5.46870912},
		{"redundancy", r.Redundancy, links / 16},
	} {
		if math.Abs(x.got-x.want) > 1e-9*max(1, x.want) {
			t.Errorf("%s = %v, want %v", x.what, x.got, x.want)
		}
	}
	if r.Partners != 0 || r.Confirmations != 0 || r.Caught != 0 {
		t.Errorf("veterans got %d partners, %d confirmations, %d caught; want none", r.Partners, r.Confirmations, r.Caught)
	}
}

// TestOptimum: the optimum of an exponential is the closed form's, and
// the numerical one of a heavy tail is a maximum of UsefulFraction.
func TestOptimum(t *testing.T) {
	T, U := Sessions{Kind: "exp", Mean: 410}.Optimum(0.1)
	if math.Abs(T-8.989) > 1e-3 || math.Abs(U-0.97808) > 1e-5 {
		t.Fatalf("exp optimum T = %v U = %v, want 8.989 s, 0.97808 (docs/checkpointing.md)", T, U)
	}
	for _, s := range []Sessions{{Kind: "pareto", Mean: 410, Alpha: 1.5}, {Kind: "lognormal", Mean: 410, Sigma: 1.5}, {Kind: "exp", Mean: 410}} {
		T, U := s.Optimum(0.1)
		for _, f := range []float64{0.8, 0.95, 1.05, 1.25} {
			if u := s.UsefulFraction(T*f, 0.1); u > U+1e-9 {
				t.Errorf("%v: U(%v) = %v beats the optimum U(%v) = %v", s, T*f, u, T, U)
			}
		}
		// The same fraction from drawn sessions, ⌊S/(T+δ)⌋·T each.
		rng := rand.New(rand.NewPCG(1, 2))
		var saved, total float64
		for range 200_000 {
			x := s.Draw(rng)
			saved += math.Floor(x/(T+0.1)) * T
			total += x
		}
		if got := saved / total; math.Abs(got-U) > 0.01 {
			t.Errorf("%v: %v of drawn session time saved at T = %v s, UsefulFraction says %v", s, got, T, U)
		}
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, f := range []func(*Config){
		func(c *Config) { c.Workers = 0 },
		func(c *Config) { c.Saboteurs = 1 },
		func(c *Config) { c.Strategy = "nice" },
		func(c *Config) { c.Sessions.Kind = "weibull" },
		func(c *Config) { c.Sessions = Sessions{Kind: "pareto", Mean: 410, Alpha: 1} },
		func(c *Config) { c.MaxError = 1 },
	} {
		c := small()
		f(&c)
		if _, err := Run(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func run(c Config) (*Sim, *Result, error) {
	s, err := newSim(c)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.run()
	return s, r, err
}
