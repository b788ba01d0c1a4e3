package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/cli"
	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// guest is one of the examples in a language other than C (docs/guests.md),
// with tasks to run it on: short ones that still checkpoint a few times on
// guestGrid, and a long one for the migration.
type guest struct {
	name   string // subtest and job name
	module string // under examples/
	tasks  []api.TaskSpec
	long   api.TaskSpec // at least 3·migrateGrid of fuel: the native worker is cut after 2 checkpoints
}

var guests = []guest{
	{
		name:   "rust",
		module: "rust/raytrace.wasm",
		// Two tiles of one 160×120 image (≈ 69 and 109 million fuel).
		tasks: []api.TaskSpec{{Args: []string{"160", "120", "0", "0", "160", "60"}}, {Args: []string{"160", "120", "0", "60", "160", "60"}}},
		long:  api.TaskSpec{Args: []string{"200", "150", "0", "0", "200", "150", "2"}}, // ≈ 277 million
	},
	{
		name:   "assemblyscript",
		module: "assemblyscript/sweep.wasm",
		// Two ranges of r (≈ 158 million fuel each).
		tasks: []api.TaskSpec{{Stdin: []byte("2.8 3.4 60 20000\n")}, {Stdin: []byte("3.4 4 60 20000\n")}},
		long:  api.TaskSpec{Stdin: []byte("2.5 4 100 20000\n")}, // ≈ 264 million
	},
}

const (
	guestGrid   = 20_000_000 // a few checkpoints per short task
	migrateGrid = 50_000_000
)

// cliResult runs a task with `crowdrun run --report` (the real CLI,
// in-process): the reference that workers' results must equal. The file
// keeps its own name: `crowdrun run` gives the guest the argv[0] workers
// give (main.wasm), and a guest that reads its arguments (Rust's
// std::env::args copies and checks every byte) spends fuel on it too.
func cliResult(t *testing.T, module string, task api.TaskSpec) api.TaskResult {
	t.Helper()
	dir := t.TempDir()
	report, main := filepath.Join(dir, "report.json"), filepath.Join(dir, filepath.Base(module))
	if err := os.WriteFile(main, readExample(t, module), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(task.Env) > 0 || len(task.Files) > 0 || task.Seed != 0 {
		t.Fatal("cliResult passes only stdin and args")
	}
	args := append([]string{"run", "--report", report, main, "--"}, task.Args...)
	var stdout, stderr bytes.Buffer
	m := &cli.Main{Stdin: bytes.NewReader(task.Stdin), Stdout: &stdout, Stderr: &stderr}
	code := m.Run(context.Background(), args)
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("crowdrun run %s: exit %d, no report (%v): %s", strings.Join(args, " "), code, err, stderr.String())
	}
	var rep sandbox.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if code != 0 || rep.Status != sandbox.StatusOK {
		t.Fatalf("crowdrun run %s: exit %d, %+v: %s", strings.Join(args, " "), code, rep, stderr.String())
	}
	return api.TaskResult{State: "done", Status: string(rep.Status), ExitCode: rep.ExitCode, Message: rep.Message,
		Fuel: rep.Fuel, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
}

// startNative runs a native worker (wazero) against server until the test ends.
func startNative(t *testing.T, server string) *worker.Worker {
	t.Helper()
	w, err := worker.New(worker.Config{Server: server, Name: "native", Slots: 1, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return w
}

// Each guest's tasks, every task replicated on a native worker and in
// Chromium (two workers, two replicas: one each), checkpointing on one
// grid: the coordinator finds the replicas' state hashes equal at every
// checkpoint and their results equal, and each result equals what
// `crowdrun run` prints and reports — output and fuel.
func TestGuestsOnEveryEngine(t *testing.T) {
	needChromium(t)
	for _, g := range guests {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = guestGrid })
			job := e.submit(g.name, g.module, g.tasks, 2)
			w := startNative(t, e.srv.URL)
			b := newBrowser(t)
			openContribute(t, b, e.srv.URL, "")
			click(t, b)

			// A guard against a hang, not a measure of speed: in a CI run
			// under -race beside other packages, 4 minutes ran out once
			// (the same subtest takes 4-8 s alone).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			got := e.results(ctx, job.ID)
			var wantCheckpoints int
			for i, task := range g.tasks {
				want := cliResult(t, g.module, task)
				wantCheckpoints += 2 * int(want.Fuel/guestGrid)
				t.Logf("task %d: fuel %d, %d bytes of output, stderr %q", i, want.Fuel, len(want.Stdout), want.Stderr)
				if g := got[i]; g.State != "done" || !sameResult(g, want) {
					t.Errorf("task %d:\n workers     %s\n crowdrun run %s", i, showShort(g), showShort(want))
				}
			}
			ck := e.job(job.ID).Checkpointing
			chromium, wazero := eval[int](t, b, `crowdrun.worker.stats.checkpoints`), w.Stats.Checkpoints.Load()
			t.Logf("checkpoints %d (want ≥ %d), mismatches %d; from Chromium %d, from wazero %d; resumes %d",
				ck.Checkpoints, wantCheckpoints, ck.Mismatches, chromium, wazero, ck.Resumes)
			if ck.Mismatches != 0 {
				t.Errorf("%d checkpoints where wazero's and Chromium's state hashes differ", ck.Mismatches)
			}
			// Every replica checkpointed on the grid; both engines took part
			// (a late heartbeat on a busy machine may move a replica from one
			// engine to the other, so only "some from each" is certain).
			if ck.Checkpoints < wantCheckpoints || chromium < 1 || wazero < 1 {
				t.Errorf("want ≥ %d checkpoints, some from each engine: %d accepted, %d from Chromium, %d from wazero",
					wantCheckpoints, ck.Checkpoints, chromium, wazero)
			}
			if s := stats(t, b); s.Tasks < 1 || w.Stats.Tasks.Load() < 1 {
				t.Errorf("an engine ran no task: Chromium %+v, wazero %d", s, w.Stats.Tasks.Load())
			}
		})
	}
}

// Each guest's long task moves between engines as a continuation: a native
// worker runs it and loses its connection for good right after its second
// checkpoint; Chromium resumes from the checkpoint the coordinator kept and
// finishes. The result equals an uninterrupted `crowdrun run` — so Rust's
// and AssemblyScript's runtimes (allocator, GC, buffered output) survive
// suspension in wazero and resumption in V8.
func TestGuestsResumeAcrossEngines(t *testing.T) {
	needChromium(t)
	for _, g := range guests {
		t.Run(g.name, func(t *testing.T) {
			want := cliResult(t, g.module, g.long)
			if want.Fuel < 3*migrateGrid {
				t.Fatalf("the long task takes %d fuel: fewer than 3 checkpoints on a %d grid", want.Fuel, migrateGrid)
			}
			e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = migrateGrid })
			job := e.submit(g.name, g.module, []api.TaskSpec{g.long}, 1)
			if ck := e.job(job.ID).Checkpointing; ck == nil || !ck.Suspendable {
				t.Fatalf("the job is not suspendable: %+v", ck)
			}
			px := newCheckpointCutter(t, strings.TrimPrefix(e.srv.URL, "http://"), 2)
			w := startNative(t, px.url())
			select {
			case <-px.wasCut:
			case <-time.After(5 * time.Minute):
				t.Fatalf("the native worker sent no two checkpoints in 5 minutes (a hang)")
			}
			// Its first checkpoint is recorded for sure; the second may be
			// refused if the coordinator sees the cut first.
			waitUntil(t, "the native worker's checkpoint to be recorded", 2*time.Minute,
				func() bool { return e.job(job.ID).Checkpointing.Checkpoints >= 1 })

			b := newBrowser(t)
			openContribute(t, b, e.srv.URL, "")
			click(t, b)
			// A guard against a hang, not a measure of speed: in a CI run
			// under -race beside other packages, 4 minutes ran out once
			// (the same subtest takes 4-8 s alone).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			got := e.results(ctx, job.ID)[0]
			if got.State != "done" || !sameResult(got, want) {
				t.Errorf("migrated result:\n got  %s\n want %s", showShort(got), showShort(want))
			}
			if r := eval[int](t, b, `crowdrun.worker.stats.resumes`); r < 1 {
				t.Errorf("Chromium did not resume the task (resumes %d)", r)
			}
			ck := e.job(job.ID).Checkpointing
			t.Logf("fuel %d; checkpoints %d (wazero sent %d), resumes %d, lost segments %d, fuel lost %d",
				want.Fuel, ck.Checkpoints, w.Stats.Checkpoints.Load(), ck.Resumes, ck.LostSegments, ck.FuelLost)
			if ck.Resumes < 1 || ck.Mismatches != 0 {
				t.Errorf("want ≥ 1 resume and no mismatch: %+v", ck)
			}
		})
	}
}

// showShort is show with long binary output (an image) cut to its length
// and first bytes.
func showShort(r api.TaskResult) string {
	if len(r.Stdout) > 200 {
		r.Stdout = append(append([]byte(nil), r.Stdout[:64]...), []byte("…("+strconv.Itoa(len(r.Stdout))+" bytes)")...)
	}
	return show(r)
}
