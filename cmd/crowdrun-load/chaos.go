package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/crowdrun/crowdrun/internal/chaos"
)

// chaosCmd runs the chaos harness (internal/chaos, docs/chaos.md) and
// exits non-zero on any violation it finds.
func chaosCmd(ctx context.Context, bin string, args []string) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	st := fs.String("store", "sqlite", "sqlite: one coordinator process on SQLite in a temporary directory; pg: a throwaway PostgreSQL cluster (scripts/pg.sh); or a postgres:// URL (a fresh schema in it, dropped after)")
	coords := fs.Int("coordinators", 3, "PostgreSQL: coordinator processes at once")
	tasks := fs.Int("tasks", 10000, "tasks in the job")
	seed := fs.Uint64("seed", 1, "seed of the inputs, the schedule and the proxy's faults")
	grid := fs.Uint64("grid", 1<<18, "checkpoint interval in fuel (serve --checkpoint-every)")
	native := fs.Int("native", 3, "native worker processes up at any time")
	node := fs.Int("node", 2, "Node worker processes up at any time")
	ck := fs.Int("coordinator-kills", 20, "coordinator SIGKILLs")
	wk := fs.Int("worker-kills", 200, "worker SIGKILLs")
	parts := fs.Int("partitions", 10, "times every proxied connection is dropped at once")
	full := fs.Int("disk-full", 3, "store-full episodes: SQLite's store filled to -store-cap; with -store pg, the cluster's data directory on a tmpfs of -store-cap filled (root only: the harness mounts the tmpfs)")
	capMiB := fs.Int64("store-cap", 0, "SQLite: serve --max-store-size, in MiB (default 64); with -store pg and -disk-full: the tmpfs's size, in MiB (default 256)")
	drop := fs.Float64("drop", 0.001, "proxy: odds of dropping a connection, per chunk forwarded")
	delay := fs.Float64("delay", 0.02, "proxy: odds of delaying a chunk by up to -max-delay")
	maxDelay := fs.Duration("max-delay", 50*time.Millisecond, "proxy: longest delay")
	stall := fs.Float64("stall", 0.0005, "proxy: odds of stalling a chunk for -stall-for")
	stallFor := fs.Duration("stall-for", 2*time.Second, "proxy: a stall (longer than 3 heartbeats of 500ms: the coordinator ends the session)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	module, err := os.ReadFile(filepath.Join(root, "examples", "factor.wasm"))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "crowdrun-chaos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := chaos.Config{Bin: bin, Module: module, Dir: dir, Tasks: *tasks, Seed: *seed, Grid: *grid,
		Native: *native, NodeWorkers: *node, CoordKills: *ck, WorkerKills: *wk, Partitions: *parts,
		Faults: chaos.ProxyFaults{Drop: *drop, Delay: *delay, MaxDelay: *maxDelay, Stall: *stall, StallFor: *stallFor},
		Out:    os.Stdout}
	if *node > 0 {
		if cfg.Node, err = exec.LookPath("node"); err != nil {
			return fmt.Errorf("no node for -node %d: %w", *node, err)
		}
		cfg.NodeWorker = filepath.Join(root, "js", "node", "run.mjs")
	}
	switch {
	case *st == "sqlite":
		if *capMiB == 0 {
			*capMiB = 64
		}
		cfg.DiskFull, cfg.StoreCap = *full, *capMiB<<20
	case *st == "pg" && *full > 0:
		// The harness's own cluster, on a tmpfs it mounts and fills.
		if os.Geteuid() != 0 {
			return fmt.Errorf("-disk-full %d with -store pg mounts a tmpfs for the cluster's data directory: run as root, or give -disk-full 0", *full)
		}
		if *capMiB == 0 {
			*capMiB = 256
		}
		cfg.DSN, cfg.PGScript, cfg.Coordinators = chaos.OwnCluster, filepath.Join(root, "scripts", "pg.sh"), *coords
		cfg.DiskFull, cfg.StoreCap = *full, *capMiB<<20
	case *full > 0:
		return fmt.Errorf("-disk-full %d: the store-full fault fills the cluster's disk, so it needs -store pg (a cluster of the harness's own) or sqlite; give -disk-full 0 with a postgres:// URL", *full)
	default:
		dsn, stop, err := storeDSN(ctx, *st)
		if err != nil {
			return err
		}
		defer stop()
		schemaDSN, drop, err := freshSchema(ctx, dsn)
		if err != nil {
			return err
		}
		defer drop()
		cfg.DSN, cfg.Coordinators = schemaDSN, *coords
	}
	fmt.Printf("crowdrun-load chaos %v; %d CPUs; %s\n", args, runtime.NumCPU(), runtime.Version())
	r, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	r.Print(os.Stdout)
	if !r.OK() {
		return fmt.Errorf("%d violations", len(r.Violations))
	}
	return nil
}

// repoRoot is the directory above the working directory that holds
// examples/factor.wasm and js/node/run.mjs.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "js", "node", "run.mjs")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no js/node/run.mjs here or above: run from the repository")
		}
		d = up
	}
}
