package chaos_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/chaos"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

var bin string // the crowdrun binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crowdrun-chaos-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "crowdrun")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/crowdrun")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building crowdrun:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// short is the chaos of the normal test suite: a few hundred tasks and a
// few faults of each kind (`crowdrun-load chaos` runs thousands of tasks
// through dozens of coordinator kills and hundreds of worker kills).
func short(t *testing.T) chaos.Config {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (scripts/setup.sh installs nodejs)")
		}
		t.Skip("no node here")
	}
	script, _ := filepath.Abs("../../js/node/run.mjs")
	module, err := os.ReadFile("../../examples/factor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return chaos.Config{
		Bin: bin, Node: node, NodeWorker: script, Module: module, Dir: t.TempDir(),
		Tasks: 300, Seed: 1, Grid: 1 << 20,
		Native: 2, NodeWorkers: 1,
		CoordKills: 3, WorkerKills: 6, Partitions: 2,
		Faults: chaos.ProxyFaults{Drop: 0.002, Delay: 0.02, MaxDelay: 50 * time.Millisecond, Stall: 0.001, StallFor: 2 * time.Second},
		Out:    testWriter{t},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func run(t *testing.T, cfg chaos.Config) *chaos.Report {
	r, err := chaos.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Print(&b)
	t.Log(b.String())
	if !r.OK() {
		t.Fatalf("%d violations", len(r.Violations))
	}
	if r.CoordKills != cfg.CoordKills || r.WorkerKills != cfg.WorkerKills || r.Partitions != cfg.Partitions || r.DiskFull != cfg.DiskFull {
		t.Fatalf("faults done: %d coordinator kills, %d worker kills, %d partitions, %d store-full episodes; planned %d, %d, %d, %d",
			r.CoordKills, r.WorkerKills, r.Partitions, r.DiskFull, cfg.CoordKills, cfg.WorkerKills, cfg.Partitions, cfg.DiskFull)
	}
	if r.Checkpoints == 0 || r.ByNode == 0 || r.ByNative == 0 {
		t.Fatalf("%d checkpoints, %d results by Node workers, %d by native workers", r.Checkpoints, r.ByNode, r.ByNative)
	}
	return r
}

// SQLite: the coordinator process SIGKILLed and restarted on the same data
// directory, workers SIGKILLed, connections dropped, delayed and stalled,
// and the store filled to its --max-store-size twice: nothing lost,
// duplicated or wrong, and credit adds up.
func TestChaosSQLite(t *testing.T) {
	cfg := short(t)
	cfg.DiskFull, cfg.StoreCap = 2, 8<<20
	r := run(t, cfg)
	if r.StoreFullErrors == 0 || r.SubmitsRefused != cfg.DiskFull {
		t.Fatalf("%d store-full errors logged, %d submissions refused with store_full in %d episodes", r.StoreFullErrors, r.SubmitsRefused, cfg.DiskFull)
	}
}

// PostgreSQL: two coordinator processes on one database, SIGKILLed and
// restarted at random; the rest as on SQLite. The store-full episodes
// need a cluster of the harness's own on a tmpfs it mounts: as root, and
// where mounting one works; elsewhere the test runs without them.
func TestChaosPostgres(t *testing.T) {
	cfg := short(t)
	cfg.Coordinators = 2
	if why := tmpfsWorks(t); why != "" {
		t.Logf("no store-full episodes on PostgreSQL: %s", why)
		cfg.DSN = pgtest.Schema(t)
		run(t, cfg)
		return
	}
	pgtest.DSN(t) // skips where PostgreSQL is not installed
	script, _ := filepath.Abs("../../scripts/pg.sh")
	cfg.DSN, cfg.PGScript, cfg.DiskFull, cfg.StoreCap = chaos.OwnCluster, script, 2, 64<<20
	// The episodes take seconds (a checkpoint, the filler, five refusals,
	// a submission), in which 200 tasks on two coordinators can run out
	// before the faults scheduled after them.
	cfg.Tasks = 400
	r := run(t, cfg)
	if r.StoreFullErrors == 0 || r.SubmitsRefused != cfg.DiskFull || r.ServerFullErrors == 0 {
		t.Fatalf("%d store-full errors logged by the coordinators, %d by PostgreSQL, %d submissions refused with store_full in %d episodes",
			r.StoreFullErrors, r.ServerFullErrors, r.SubmitsRefused, cfg.DiskFull)
	}
}

// tmpfsWorks says why a tmpfs cannot be mounted here ("" if it can).
func tmpfsWorks(t *testing.T) string {
	if os.Geteuid() != 0 {
		return "not root: mounting a tmpfs for the cluster's data directory needs root"
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Sprintf("mount -t tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Fatalf("umount %s: %v: %s", dir, err, out)
	}
	return ""
}
