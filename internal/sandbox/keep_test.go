package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// TestEngineLetsModulesGo: an engine keeps the machine code of its
// KeepModules most recently used modules; others are unloaded once no run
// uses them, and compiled again when they next run. A run under way keeps
// its module's code however many modules come after it.
func TestEngineLetsModulesGo(t *testing.T) {
	ctx := context.Background()
	e, err := sandbox.NewEngineWith(ctx, sandbox.EngineConfig{KeepModules: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	compile := func(name string) *sandbox.Module {
		m, err := e.Compile(ctx, example(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	echo := compile("echo.wasm")

	// A run of echo blocks reading its stdin while two more modules are
	// compiled: echo is no longer among the two kept, but its run goes on.
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan sandbox.Report)
	go func() {
		done <- e.Run(ctx, echo, sandbox.Input{Args: []string{"echo", "hi"}, Stdin: pr, Stdout: &out, Stderr: io.Discard}, sandbox.Limits{})
	}()
	if _, err := pw.Write([]byte("first line\n")); err != nil { // the guest is reading
		t.Fatal(err)
	}
	factor, loop := compile("factor.wasm"), compile("loop.wasm")
	if loaded, n := sandbox.Loaded(e, echo); !loaded || n != 2 {
		t.Fatalf("while echo runs: echo loaded %v, %d kept modules loaded (want true, 2)", loaded, n)
	}
	pw.Write([]byte("second line\n"))
	pw.Close()
	if rep := <-done; rep.Status != sandbox.StatusOK || rep.HostError != nil {
		t.Fatalf("echo: %+v", rep)
	}
	if got := out.String(); !strings.Contains(got, "first line\nsecond line\n") {
		t.Fatalf("echo's output %q", got)
	}
	if loaded, n := sandbox.Loaded(e, echo); loaded || n != 2 {
		t.Fatalf("after echo's run: echo loaded %v, %d kept modules loaded (want false, 2)", loaded, n)
	}

	// echo runs again: compiled again, kept again, and the least recently
	// used of the others (factor) let go of.
	out.Reset()
	rep := e.Run(ctx, echo, sandbox.Input{Args: []string{"echo", "again"}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard}, sandbox.Limits{})
	if rep.Status != sandbox.StatusOK || !strings.HasPrefix(out.String(), "again\n") {
		t.Fatalf("echo again: %+v, output %q", rep, out.String())
	}
	for _, c := range []struct {
		name   string
		m      *sandbox.Module
		loaded bool
	}{{"echo", echo, true}, {"factor", factor, false}, {"loop", loop, true}} {
		if loaded, n := sandbox.Loaded(e, c.m); loaded != c.loaded || n != 2 {
			t.Errorf("%s loaded %v (want %v), %d kept modules loaded (want 2)", c.name, loaded, c.loaded, n)
		}
	}
	// The same bytes compiled again give the module kept, not a new one.
	if again := compile("echo.wasm"); again != echo {
		t.Error("compiling echo again gave another module")
	}
}
