package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

var (
	engineOnce sync.Once
	engine     *sandbox.Engine
)

func testEngine(t testing.TB) *sandbox.Engine {
	engineOnce.Do(func() {
		var err error
		engine, err = sandbox.NewEngine(context.Background())
		if err != nil {
			t.Fatal(err)
		}
	})
	return engine
}

func example(t testing.TB, name string) []byte {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type result struct {
	rep            sandbox.Report
	stdout, stderr string
}

func run(t testing.TB, module string, in sandbox.Input, lim sandbox.Limits) result {
	t.Helper()
	e := testEngine(t)
	m, err := e.Compile(context.Background(), example(t, module))
	if err != nil {
		t.Fatalf("compile %s: %v", module, err)
	}
	var stdout, stderr bytes.Buffer
	in.Stdout, in.Stderr = &stdout, &stderr
	if in.Args == nil {
		in.Args = []string{module}
	}
	rep := e.Run(context.Background(), m, in, lim)
	return result{rep, stdout.String(), stderr.String()}
}

func TestFactor(t *testing.T) {
	r := run(t, "factor.wasm", sandbox.Input{Stdin: strings.NewReader("12 97\n600851475143\n1\n")}, sandbox.Limits{})
	if r.rep.Status != sandbox.StatusOK {
		t.Fatalf("status %s: %s (stderr %q)", r.rep.Status, r.rep.Message, r.stderr)
	}
	want := "12: 2 2 3\n97: 97\n600851475143: 71 839 1471 6857\n1:\n"
	if r.stdout != want {
		t.Fatalf("stdout %q, want %q", r.stdout, want)
	}
}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		module  string
		args    []string
		lim     sandbox.Limits
		status  sandbox.Status
		message string // a substring of the report's message
	}{
		{module: "wasitest.wasm", args: []string{"exit", "0"}, status: sandbox.StatusOK},
		{module: "wasitest.wasm", args: []string{"exit", "3"}, status: sandbox.StatusExit, message: "exit status 3"},
		{module: "trap.wasm", status: sandbox.StatusTrap, message: "wasm error"},
		{module: "loop.wasm", lim: sandbox.Limits{Timeout: 200 * time.Millisecond}, status: sandbox.StatusTimeout},
		{module: "membomb.wasm", lim: sandbox.Limits{MemoryBytes: 64 << 20}, status: sandbox.StatusMemoryLimit, message: "memory limit"},
		{module: "flood.wasm", lim: sandbox.Limits{MaxOutput: 1 << 20}, status: sandbox.StatusOutputLimit},
		{module: "recurse.wasm", status: sandbox.StatusStackOverflow, message: "call depth"},
		{module: "loop.wasm", lim: sandbox.Limits{Fuel: 1_000_000}, status: sandbox.StatusFuelExhausted},
	} {
		t.Run(tc.module+"/"+strings.Join(tc.args, "_"), func(t *testing.T) {
			r := run(t, tc.module, sandbox.Input{Args: append([]string{tc.module}, tc.args...)}, tc.lim)
			if r.rep.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", r.rep.Status, r.rep.Message, tc.status)
			}
			if !strings.Contains(r.rep.Message, tc.message) {
				t.Fatalf("message %q does not contain %q", r.rep.Message, tc.message)
			}
			if tc.status == sandbox.StatusMemoryLimit && r.rep.PeakMemoryBytes > tc.lim.MemoryBytes {
				t.Fatalf("peak guest memory %d exceeds the limit %d", r.rep.PeakMemoryBytes, tc.lim.MemoryBytes)
			}
			if tc.status == sandbox.StatusOutputLimit && int64(len(r.stdout)+len(r.stderr)) != tc.lim.MaxOutput {
				t.Fatalf("wrote %d bytes, want exactly the limit %d", len(r.stdout)+len(r.stderr), tc.lim.MaxOutput)
			}
		})
	}
}

func TestRefusedModules(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		name    string
		bin     []byte
		status  sandbox.Status
		message string
	}{
		{"corrupt", example(t, "corrupt.wasm"), sandbox.StatusInvalidModule, "invalid module"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), sandbox.StatusInvalidModule, "not a WebAssembly binary"},
		{"empty", nil, sandbox.StatusInvalidModule, "not a WebAssembly binary"},
		{"forbidden", example(t, "forbidden.wasm"), sandbox.StatusForbiddenImport, "env.socket_connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(context.Background(), tc.bin)
			se, ok := err.(*sandbox.Error)
			if !ok {
				t.Fatalf("Compile error %v (%T), want *sandbox.Error", err, err)
			}
			if se.Status != tc.status || !strings.Contains(se.Message, tc.message) {
				t.Fatalf("got %s %q, want %s containing %q", se.Status, se.Message, tc.status, tc.message)
			}
		})
	}
}

func TestMemoryLimitBelowInitialMemory(t *testing.T) {
	r := run(t, "factor.wasm", sandbox.Input{}, sandbox.Limits{MemoryBytes: 64 << 10})
	if r.rep.Status != sandbox.StatusMemoryLimit {
		t.Fatalf("status %s (%s), want memory_limit", r.rep.Status, r.rep.Message)
	}
}

func TestInvalidInputIsReported(t *testing.T) {
	r := run(t, "echo.wasm", sandbox.Input{Files: []wasi.File{{Name: "../escape"}}}, sandbox.Limits{})
	if r.rep.Status != sandbox.StatusInvalidModule || !strings.Contains(r.rep.Message, "clean relative path") {
		t.Fatalf("got %s %q", r.rep.Status, r.rep.Message)
	}
}

func TestConcurrentRunsAreIsolated(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			arg := strings.Repeat("x", i+1)
			r := run(t, "wasitest.wasm", sandbox.Input{Args: []string{"w", "args", arg}}, sandbox.Limits{})
			if want := "w\nargs\n" + arg + "\n"; r.stdout != want {
				t.Errorf("run %d: stdout %q, want %q", i, r.stdout, want)
			}
		}(i)
	}
	wg.Wait()
}
