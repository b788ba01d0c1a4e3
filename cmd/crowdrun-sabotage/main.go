// Command crowdrun-sabotage is the sabotage benchmark (not a test): N
// workers over the real protocol against a real coordinator, a fraction f
// of them saboteurs, and what verification let through and what it cost.
//
// Each run starts, in this process, a coordinator with an SQLite store in a
// temporary directory on a loopback HTTP server, and N worker.Worker, each
// its own anonymous account (a distinct worker name). The saboteurs lie
// through worker.Config.Tamper — a hook that exists for this benchmark
// only — with one of these strategies (-strategy, comma-separated; "all"
// runs each alone and then mixed):
//
//	always   lie at every checkpoint and in the final output
//	q        lie on each segment (checkpoint or result) with probability -q
//	late     lie only from checkpoint -late on, and in the final output
//	collude  all saboteurs lie alike: the corruption is keyed by task and
//	         checkpoint only, so colluders produce identical wrong hashes
//	chain    the right output with a forged hash chain (checkpoints only)
//	fuel     honest checkpoints and output, forged final fuel
//	sneaky   lie only on segments resumed from a checkpoint someone else
//	         wrote (which is where audits happen); on its own segments a
//	         saboteur cannot know which links will be audited, so "pass
//	         audits, lie on unaudited work" reduces there to q
//	churn    always lie, and come back under a new name (a fresh account)
//	         every -churn results
//	mixed    each saboteur takes one of the above in turn
//
// The tasks are factor (examples/factor.wasm) on primes just above 10⁹
// (-above), ~1.2·10⁵ fuel each, ~10 checkpoints at the default -grid. Each result is
// compared with a reference computed once per distinct input by an honest
// local run of the same prepared module.
//
// Printed per strategy and fraction: wrong results accepted (every result
// line the coordinator emitted that differs from the reference, and those
// still wrong at the end), disputed results, tasks executed more than once,
// redundancy — fuel executed (segments of every replica, audits included,
// each capped at the task's true fuel, so forged fuel counts for nothing)
// plus the trusted re-runs' fuel, over the useful fuel — the trusted fuel
// alone, credit given to saboteurs and to honest accounts (GET /v1/credit)
// against the fuel the honest accounts executed, liars caught, honest
// accounts banned, and the settling curve: redundancy per 1000 tasks
// (segments only), in task order.
//
// Usage:
//
//	go run ./cmd/crowdrun-sabotage -tasks 10000 -workers 20 -f 0.2,0.4 -strategy all
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crowdrun/crowdrun/internal/cpuprofile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crowdrun-sabotage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("crowdrun-sabotage", flag.ContinueOnError)
	o := defaultOptions()
	fs.IntVar(&o.Tasks, "tasks", o.Tasks, "tasks per run")
	fs.IntVar(&o.Workers, "workers", o.Workers, "workers per run, saboteurs included")
	fractions := fs.String("f", "0.2,0.4", "fractions of saboteurs, comma-separated")
	strategies := fs.String("strategy", "all", "strategies, comma-separated: "+strings.Join(allStrategies, ",")+",mixed; all: each, then mixed")
	fs.Float64Var(&o.MaxError, "max-error", o.MaxError, "the job's max error ε")
	fs.Float64Var(&o.Q, "q", o.Q, "lie probability per segment (strategy q)")
	fs.Uint64Var(&o.Late, "late", o.Late, "first checkpoint lied about (strategy late)")
	fs.IntVar(&o.Churn, "churn", o.Churn, "results before a saboteur takes a new identity (strategy churn)")
	fs.Uint64Var(&o.Grid, "grid", o.Grid, "checkpoint grid in fuel")
	fs.IntVar(&o.Inputs, "inputs", o.Inputs, "distinct task inputs")
	fs.Uint64Var(&o.Above, "above", o.Above, "the inputs are the first primes above `N`: a task's fuel is about 4·√N (with -grid, how long a link takes)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the saboteurs' and the coordinator's random choices")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up a run after this long (a backstop; 0: never)")
	fs.BoolVar(&o.Verbose, "v", false, "log the coordinator's warnings and the job's progress")
	fs.BoolVar(&o.Keep, "keep", false, "keep each run's store (SQLite) and say where")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var fs_ []float64
	for _, s := range strings.Split(*fractions, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 0 || f >= 1 {
			return fmt.Errorf("-f: %q is not a fraction in [0, 1)", s)
		}
		fs_ = append(fs_, f)
	}
	var strats []string
	for _, s := range strings.Split(*strategies, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			strats = append(strats, allStrategies...)
			strats = append(strats, "mixed")
		case s == "mixed" || isStrategy(s):
			strats = append(strats, s)
		default:
			return fmt.Errorf("-strategy: unknown strategy %q", s)
		}
	}
	if err := o.validate(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := cpuprofile.Start(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(out, "sabotage: %d tasks, %d workers, grid %d fuel, max error %g, %d distinct inputs (primes above %d)\n", o.Tasks, o.Workers, o.Grid, o.MaxError, o.Inputs, o.Above)
	for _, f := range fs_ {
		for _, s := range strats {
			start := time.Now()
			r, err := bench(ctx, o, s, f)
			if err != nil {
				return fmt.Errorf("%s, f=%g: %w", s, f, err)
			}
			r.print(out, time.Since(start))
		}
	}
	return nil
}
