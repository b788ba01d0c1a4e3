package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/prepare"
)

// js/prepare.wasm is what build.sh builds from this tree, byte for byte.
func TestCommittedPrepareWasm(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), "prepare.wasm")
	cmd := exec.Command("bash", "build.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "js", "prepare.wasm"))
	if err != nil {
		t.Fatalf("%v: build it with cmd/crowdrun-prepare-wasm/build.sh and commit it", err)
	}
	if !bytes.Equal(built, committed) {
		t.Fatalf("js/prepare.wasm (%d bytes) is not what cmd/crowdrun-prepare-wasm/build.sh builds from this tree with %s (%d bytes): "+
			"rebuild it with cmd/crowdrun-prepare-wasm/build.sh and commit it", len(committed), runtime.Version(), len(built))
	}
}

func TestRun(t *testing.T) {
	factor, err := os.ReadFile(filepath.Join("..", "..", "examples", "factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	opts := instrument.DefaultOptions()
	opts.StackLimit, opts.MemoryCapPages = 123, 40
	want, ok, err := prepare.Submitted(factor, opts, true)
	if err != nil || !ok {
		t.Fatalf("prepare.Submitted: %v (suspendable %t)", err, ok)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "123", "-memory-cap-pages", "40", "-suspendable"}, bytes.NewReader(factor), &stdout, &stderr); code != exitOK || !bytes.Equal(stdout.Bytes(), want) {
		t.Fatalf("exit %d, %d bytes (want %d): %s", code, stdout.Len(), len(want), stderr.Bytes())
	}

	// A refusal: the verdict and message as JSON.
	stdout.Reset()
	if code := run(nil, bytes.NewReader(want), &stdout, &stderr); code != exitRefused {
		t.Fatalf("an instrumented module: exit %d, want %d", code, exitRefused)
	}
	var pe prepare.Error
	if err := json.Unmarshal(stdout.Bytes(), &pe); err != nil || pe.Status != "invalid_module" ||
		pe.Message != `invalid module: the module already carries crowdrun instrumentation (it imports crowdrun.out_of_fuel): give crowdrun the original module, it instruments every module itself` {
		t.Fatalf("refusal %s: %v", stdout.Bytes(), err)
	}
	stdout.Reset()
	if code := run([]string{"-schedule", "v9"}, bytes.NewReader(factor), &stdout, &stderr); code != exitRefused || !bytes.Contains(stdout.Bytes(), []byte(`unknown fuel schedule`)) {
		t.Fatalf("unknown schedule: exit %d, %s", code, stdout.Bytes())
	}
	for _, args := range [][]string{{"-frobnicate"}, {"module.wasm"}, {"-stack", "4294967296"}} {
		if code := run(args, bytes.NewReader(factor), &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
