package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/forge"
)

// Every module is instrumented by the one who runs it (docs/fuel.md): a
// module that says it is already instrumented — forged, or genuine output of
// `crowdrun instrument` with any budget or schedule — is refused by `crowdrun
// run` and by `submit`, before anything runs or is stored; the original
// module, an endless loop, is stopped by --fuel and by --timeout.
func TestForgedModulesRefused(t *testing.T) {
	raw, err := os.ReadFile("../../examples/loop.wasm")
	if err != nil {
		t.Fatal(err)
	}
	forgeries, err := forge.Forgeries(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, env := setup(t)
	dir := t.TempDir()
	lines := filepath.Join(dir, "in.txt")
	os.WriteFile(lines, []byte("1\n"), 0o644)
	for _, f := range forgeries {
		t.Run(f.Name, func(t *testing.T) {
			path := filepath.Join(dir, f.Name+".wasm")
			if err := os.WriteFile(path, f.Bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(dir, f.Name+".json")
			_, errs, code := crowdrun(t, nil, nil, "run", "--fuel", "1000", "--timeout", "2s", "--report", report, path)
			var rep struct{ Status, Message string }
			b, _ := os.ReadFile(report)
			json.Unmarshal(b, &rep)
			if code != 126 || rep.Status != "invalid_module" || !strings.Contains(rep.Message, "already carries crowdrun instrumentation") {
				t.Errorf("crowdrun run of a module with %s: exit %d, report %s, stderr %q", f.Claim, code, b, errs)
			}
			_, errs, code = crowdrun(t, env, nil, "submit", "--module", path, "--lines", lines)
			if code == 0 || !strings.Contains(errs, "invalid_module") || !strings.Contains(errs, "already carries crowdrun instrumentation") {
				t.Errorf("submit of a module with %s: exit %d, stderr %q", f.Claim, code, errs)
			}
		})
	}
	if out := must(t, env, nil, "status"); strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("a refused job was recorded:\n%s", out)
	}

	// The original, an endless loop, meets both limits.
	loop := filepath.Join(dir, "loop.wasm")
	os.WriteFile(loop, raw, 0o644)
	for _, tc := range []struct {
		flags  []string
		status string
		code   int
	}{
		{[]string{"--fuel", "1000"}, "fuel_exhausted", 120},
		{[]string{"--timeout", "100ms"}, "timeout", 124},
	} {
		report := filepath.Join(dir, "loop-"+tc.status+".json")
		_, errs, code := crowdrun(t, nil, nil, append(append([]string{"run", "--report", report}, tc.flags...), loop)...)
		var rep struct {
			Status string
			Fuel   uint64
		}
		b, _ := os.ReadFile(report)
		json.Unmarshal(b, &rep)
		if code != tc.code || rep.Status != tc.status {
			t.Errorf("crowdrun run %v loop.wasm: exit %d, report %s, stderr %q", tc.flags, code, b, errs)
		}
		if tc.status == "fuel_exhausted" && (rep.Fuel < 1000 || rep.Fuel > 1100) {
			t.Errorf("--fuel 1000 stopped the loop at fuel %d", rep.Fuel)
		}
	}
}

// No guest outlives `cancel` or its worker's shutdown: an endless loop with
// no fuel limit and an hour's timeout, running on a worker's only slot, is
// stopped by cancelling its job (the slot then runs the next job), and
// again by SIGTERM (the worker exits, the lease comes back).
func TestNoGuestOutlivesCancelOrShutdown(t *testing.T) {
	s, env := setupWith(t, "--checkpoint-every", strconv.Itoa(1<<24))
	p, stdout := start(t, "worker", "--server", s.url, "--name", "w1", "--slots", "1", "--grace", "50ms", "--quiet")
	go func() {
		b := make([]byte, 4096)
		for {
			if _, err := stdout.Read(b); err != nil {
				return
			}
		}
	}()
	dir := t.TempDir()
	lines := filepath.Join(dir, "in.txt")
	os.WriteFile(lines, []byte("1\n"), 0o644)
	submitLoop := func() string {
		return strings.TrimSpace(must(t, env, nil, "submit", "--module", "../../examples/loop.wasm", "--lines", lines, "--timeout", "1h"))
	}
	running := func(id string) {
		// Running for sure: the guest has taken a checkpoint.
		waitUntil(t, "the loop to run and checkpoint", func() bool {
			j := job(t, env, id)
			return j.Tasks.Running == 1 && j.Checkpointing.Checkpoints >= 1
		})
	}

	loop := submitLoop()
	running(loop)
	must(t, env, nil, "cancel", loop)
	// One worker: max error 1 (verification would need a second account).
	factor := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", lines, "--max-error", "1"))
	got := results(t, env, factor) // needs the worker's only slot
	if r := got[0]; r.State != "done" || r.Status != "ok" {
		t.Fatalf("the job after the cancelled loop: %+v", r)
	}
	if j := job(t, env, loop); j.State != "cancelled" || j.Tasks.Running != 0 {
		t.Fatalf("the cancelled loop: %+v", j)
	}

	loop = submitLoop()
	running(loop)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute): // a hang, not a timing
		t.Fatalf("the worker did not exit on SIGTERM while running an endless loop:\n%s", p.log())
	}
	waitUntil(t, "the loop's lease to come back", func() bool { return job(t, env, loop).Tasks.Running == 0 })
}
