// Command crowdrun-sim is the internet-scale simulation (not a test): a
// discrete-event simulation (internal/sim) of a coordinator deciding with
// its own code — the checkpoint interval, the verifier's plans, anchors and
// evidence, probation — over 100,000 simulated workers whose sessions come
// and go, some of them saboteurs, and a million tasks. Per session
// distribution, saboteur fraction and strategy it prints useful work as a
// fraction of the analytic optimum, redundancy, wrong results accepted and
// the coordinator decisions simulated per second. docs/simulation.md has
// the figures and the model.
//
// Usage:
//
//	go run ./cmd/crowdrun-sim -sessions exp,pareto -f 0.01,0.2,0.4 -strategy always,mixed
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/crowdrun/crowdrun/internal/cpuprofile"
	"github.com/crowdrun/crowdrun/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crowdrun-sim:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, out io.Writer) error {
	d := sim.DefaultConfig()
	fs := flag.NewFlagSet("crowdrun-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	workers := fs.Int("workers", d.Workers, "simulated workers (one slot each)")
	tasks := fs.Int("tasks", d.Tasks, "tasks of the job")
	taskSec := fs.Float64("task-seconds", d.TaskSeconds, "a task's work, in seconds of a worker")
	delta := fs.Float64("delta", d.Delta, "checkpoint cost δ, seconds")
	mean := fs.Float64("mean", d.Sessions.Mean, "mean session length τ, seconds")
	offline := fs.Float64("offline", d.Offline, "mean time a worker is away between sessions, seconds")
	sessions := fs.String("sessions", "exp", "session distributions, comma-separated: exp, pareto, lognormal")
	alpha := fs.Float64("alpha", 1.5, "Pareto shape")
	sigma := fs.Float64("sigma", 1.5, "lognormal σ")
	fracs := fs.String("f", "0.2", "saboteur fractions, comma-separated, in [0, 1)")
	strategies := fs.String("strategy", "always", "strategies, comma-separated: "+strings.Join(sim.Strategies, ",")+",mixed; all: each, then mixed")
	maxErr := fs.Float64("max-error", d.MaxError, "the job's ε")
	veterans := fs.Float64("veterans", d.Veterans, "fraction of the honest workers whose accounts start with a record of -veteran-segments verified segments")
	vetSeg := fs.Int64("veteran-segments", d.VeteranSegments, "the veterans' verified segments at the start")
	trustedCores := fs.Float64("trusted-cores", d.TrustedCores, "trusted ground's capacity, in workers' cores")
	seed := fs.Uint64("seed", d.Seed, "random seed")
	maxSim := fs.Float64("max-sim-seconds", 0, "stop a run at this simulated time (0: none)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var fs2 []float64
	for _, x := range strings.Split(*fracs, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || !(v >= 0 && v < 1) {
			return fmt.Errorf("%w: -f: %q is not a fraction in [0, 1)", errUsage, x)
		}
		fs2 = append(fs2, v)
	}
	var strats []string
	for _, s := range strings.Split(*strategies, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			strats = append(strats, sim.Strategies...)
			strats = append(strats, "mixed")
		case s == "mixed" || sliceHas(sim.Strategies, s):
			strats = append(strats, s)
		default:
			return fmt.Errorf("%w: -strategy: unknown %q", errUsage, s)
		}
	}
	var dists []sim.Sessions
	for _, k := range strings.Split(*sessions, ",") {
		ss := sim.Sessions{Kind: strings.TrimSpace(k), Mean: *mean, Alpha: *alpha, Sigma: *sigma}
		dists = append(dists, ss)
	}
	if *cpuProfile != "" {
		stop, err := cpuprofile.Start(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(out, "%d workers, %d tasks of %g s, δ = %g s, offline mean %g s, ε = %g, veterans %g (%d segments), trusted ground %g cores, seed %d\n\n",
		*workers, *tasks, *taskSec, *delta, *offline, *maxErr, *veterans, *vetSeg, *trustedCores, *seed)
	fmt.Fprintln(out, "| sessions | f | strategy | useful / optimum | efficiency | optimum (T) | exp formula's | grid first–last (s) | τ̂ (s) | redundancy | settled | trusted / useful | wrong accepted | wrong at end | caught (honest) | identities | disputes | confirmations | reopened | lost leases | sim time (s) | decisions | decisions/s | wall |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, ds := range dists {
		for _, f := range fs2 {
			for _, st := range strats {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				cfg := d
				cfg.Workers, cfg.Tasks, cfg.TaskSeconds, cfg.Delta = *workers, *tasks, *taskSec, *delta
				cfg.Sessions, cfg.Offline, cfg.Saboteurs, cfg.Strategy = ds, *offline, f, st
				cfg.Veterans, cfg.VeteranSegments = *veterans, *vetSeg
				cfg.MaxError, cfg.TrustedCores, cfg.Seed, cfg.MaxSimSeconds = *maxErr, *trustedCores, *seed, *maxSim
				r, err := sim.Run(cfg)
				if err != nil && !errors.Is(err, sim.ErrUnfinished) {
					return err
				}
				note := ""
				if err != nil {
					note = " (unfinished)"
				}
				fmt.Fprintf(out, "| %s | %g | %s | %.4f | %.4f | %.4f (%.2f s) | %.4f | %.2f–%.2f | %.0f | %.3f | %.3f | %.4f | %d | %d | %d (%d) | %d | %d | %d | %d | %d | %.0f%s | %d | %.3g | %s |\n",
					ds, f, st, r.Efficiency/r.Optimum, r.Efficiency, r.Optimum, r.OptimumT, r.ExpOptimum, r.GridFirst, r.GridLast, r.TauHat,
					r.Redundancy, r.Settled, r.Trusted/r.Useful, r.WrongAccepted, r.WrongAtEnd, r.Caught, r.HonestCaught, r.Identities,
					r.Disputes, r.Confirmations, r.Reopened, r.LostLeases, r.SimSeconds, note, r.Decisions, r.DecisionsPerSecond(), r.Wall.Round(1e7))
			}
		}
	}
	return nil
}

func sliceHas(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
