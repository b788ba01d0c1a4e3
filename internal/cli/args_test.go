package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/worker"
)

// testCoordinator is a serve in this process, on a store in a temporary
// directory, stopped when the test ends.
type testCoordinator struct {
	url, data string
	stop      func() error // idempotent
}

func startCoordinator(t *testing.T) *testCoordinator {
	t.Helper()
	c, err := startServe(t.TempDir())
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return c
}

// startServe starts a serve on data and returns once it listens, or with
// the error it stopped with.
func startServe(data string) (*testCoordinator, error) {
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, &Main{Stdout: io.Discard, Stderr: io.Discard}, serveOptions{addr: "127.0.0.1:0", data: data, maxRequest: 16 << 20,
			log: slog.New(slog.DiscardHandler), ready: func(u string) { urlc <- u }})
	}()
	select {
	case u := <-urlc:
		var once sync.Once
		var err error
		return &testCoordinator{url: u, data: data, stop: func() error {
			once.Do(func() { cancel(); err = <-errc })
			return err
		}}, nil
	case err := <-errc:
		cancel()
		return nil, err
	}
}

// startWorker runs a native worker in this process until the test ends.
// startWorker starts three workers, three anonymous accounts: results are
// verified by default (a fresh account's result is checked by another
// account's replica), which takes two; a third keeps a task runnable when
// a replica resumed by the second account (after a failover) excludes both
// from partnering it.
func (c *testCoordinator) startWorker(t *testing.T) {
	t.Helper()
	for _, name := range []string{"test-worker-a", "test-worker-b", "test-worker-c"} {
		w, err := worker.New(worker.Config{Server: c.url, Name: name, Slots: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		})
	}
}

// sortedStdouts is the stdout of every line of `results` output (NDJSON),
// sorted and joined: a job's outputs whatever order its tasks ended in.
func sortedStdouts(t *testing.T, out string) string {
	t.Helper()
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("results: %q: %v", sc.Text(), err)
		}
		got = append(got, l.Stdout)
	}
	sort.Strings(got)
	return strings.Join(got, "")
}

// token creates an API token with `crowdrun token create`.
func (c *testCoordinator) token(t *testing.T, owner, name string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "", "token", "create", "--data", c.data, "--owner", owner, "--name", name)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// TestFlagsAfterArguments: every subcommand takes its flags before or after
// its arguments, as the README shows them (`crowdrun status 1 --watch`).
func TestFlagsAfterArguments(t *testing.T) {
	c := startCoordinator(t)
	tok := c.token(t, "alice", "laptop")
	dir := t.TempDir()
	lines := filepath.Join(dir, "numbers.txt")
	if err := os.WriteFile(lines, []byte("12\n97\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", c.url, "--token", tok}
	cli := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, stdin, args...)
	}

	// Job 1 is cancelled before any worker runs it; job 2 runs.
	code, out, errOut := cli("", append([]string{"submit", "--module", examplePath("loop.wasm"), "--lines", lines}, conn...)...)
	if code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = cli("", append([]string{"cancel", "1"}, conn...)...)
	if code != 0 || !strings.Contains(out, "job 1 cancelled") {
		t.Fatalf("cancel 1 --server --token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = cli("", append([]string{"submit", "--module", examplePath("factor.wasm"), "--lines", lines}, conn...)...)
	if code != 0 || strings.TrimSpace(out) != "2" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	c.startWorker(t)
	code, out, errOut = cli("", append([]string{"status", "2", "--watch"}, conn...)...)
	if code != 0 || !strings.Contains(out, "job 2 done") {
		t.Fatalf("status 2 --watch: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = cli("", append(append([]string{"status"}, conn...), "2")...)
	if code != 0 || !strings.Contains(out, "2/2 done") {
		t.Fatalf("status --server --token 2: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = cli("", append([]string{"results", "2", "--follow"}, conn...)...)
	if code != 0 {
		t.Fatalf("results 2 --follow: exit %d, stderr %q", code, errOut)
	}
	if got := sortedStdouts(t, out); got != "12: 2 2 3\n97: 97\n" {
		t.Fatalf("results 2 --follow: %q", out)
	}
	outDir := filepath.Join(dir, "out")
	code, _, errOut = cli("", append([]string{"results", "2", "--out", outDir}, conn...)...)
	if b, err := os.ReadFile(filepath.Join(outDir, "task-1.stdout")); code != 0 || err != nil || string(b) != "97: 97\n" {
		t.Fatalf("results 2 --out: exit %d, stderr %q, task-1.stdout %q %v", code, errOut, b, err)
	}
	// After "--" everything is an argument.
	if code, _, errOut := cli("", append(append([]string{"results"}, conn...), "--", "--follow")...); code != exitUsage || !strings.Contains(errOut, `"--follow" is not a positive integer`) {
		t.Fatalf("results -- --follow: exit %d, stderr %q", code, errOut)
	}
	// A flag without its value at the end is a usage error, never a flag
	// that swallows an argument.
	if code, _, errOut := cli("", "status", "2", "--server"); code != exitUsage || !strings.Contains(errOut, "needs an argument") {
		t.Fatalf("status 2 --server: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli("", append([]string{"cancel", "1", "2"}, conn...)...); code != exitUsage || !strings.Contains(errOut, "one job id is required, got 2") {
		t.Fatalf("cancel 1 2: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli("", "serve", "extra", "--addr", "127.0.0.1:0"); code != exitUsage || !strings.Contains(errOut, "no arguments") {
		t.Fatalf("serve extra --addr: exit %d, stderr %q", code, errOut)
	}
	for _, bad := range [][]string{{"--trusted-cpu", "0"}, {"--trusted-cpu", "1.5"}, {"--trusted-slots", "2", "--trusted-cpu", "3"}} {
		if code, _, errOut := cli("", append([]string{"serve", "--addr", "127.0.0.1:0"}, bad...)...); code != exitUsage || !strings.Contains(errOut, "--trusted-cpu") {
			t.Fatalf("serve %v: exit %d, stderr %q", bad, code, errOut)
		}
	}
	if code, _, errOut := cli("", "serve", "--trusted-slots", "0"); code != exitUsage || !strings.Contains(errOut, "--trusted-slots must be at least 1") {
		t.Fatalf("serve --trusted-slots 0: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli("", "worker", "extra", "--slots", "1"); code != exitUsage || !strings.Contains(errOut, "no arguments") {
		t.Fatalf("worker extra --slots: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli("", "demo", "extra", "--tasks", "1"); code != exitUsage || !strings.Contains(errOut, "no arguments") {
		t.Fatalf("demo extra --tasks: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli("", "submit", "extra", "--module", examplePath("factor.wasm"), "--lines", lines); code != exitUsage || !strings.Contains(errOut, "no arguments") {
		t.Fatalf("submit extra: exit %d, stderr %q", code, errOut)
	}
	inst := filepath.Join(dir, "echo.inst.wasm")
	if code, _, errOut := cli("", "instrument", examplePath("echo.wasm"), "-o", inst, "--stack", "300"); code != 0 {
		t.Fatalf("instrument IN -o OUT --stack: exit %d, stderr %q", code, errOut)
	}
	// `run`: the guest's arguments follow the module, flags or not.
	if code, out, errOut := cli("", "run", "--fuel", "100000000", examplePath("wasitest.wasm"), "args", "--fuel", "1"); code != 0 || out != "main.wasm\nargs\n--fuel\n1\n" {
		t.Fatalf("run MODULE args --fuel 1: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := cli("", "run", examplePath("wasitest.wasm"), "--", "args", "--"); code != 0 || out != "main.wasm\nargs\n--\n" {
		t.Fatalf("run MODULE -- args --: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestResumeFlagsAfterSnapshot: `resume SNAP --report FILE`.
func TestResumeFlagsAfterSnapshot(t *testing.T) {
	dir, ck := factorCheckpoints(t)
	report := filepath.Join(dir, "r.json")
	code, out, errOut := runCLI(t, "", "resume", filepath.Join(ck, "000001.snap"), "--report", report)
	if code != 0 || out != "12: 2 2 3\n97: 97\n" {
		t.Fatalf("resume SNAP --report: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if rep := readReport(t, report); rep.Status != "ok" {
		t.Fatalf("report %+v", rep)
	}
}

// TestHelp: help that is asked for goes to stdout with exit 0, for every
// command, by `crowdrun CMD --help` and by `crowdrun help CMD`; a usage error
// goes to stderr with exit 2.
func TestHelp(t *testing.T) {
	for name := range commands {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			code, out, errOut := runCLI(t, "", args...)
			if code != 0 || !strings.HasPrefix(out, "usage: crowdrun "+name) || errOut != "" {
				t.Errorf("crowdrun %v: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, out, errOut)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Count(line, "(default") > 1 {
					t.Errorf("crowdrun %v: two defaults in %q", args, line)
				}
				// A flag is shown as it is written in the usage line and
				// the README: --name, but -x for a one-letter flag.
				if f := strings.Fields(line); strings.HasPrefix(line, "  -") && len(f) > 0 {
					name, want := strings.TrimLeft(f[0], "-"), "--"
					if len(name) == 1 {
						want = "-"
					}
					if f[0] != want+name {
						t.Errorf("crowdrun %v: flag spelled %q", args, f[0])
					}
				}
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if code, out, errOut := runCLI(t, "", args...); code != 0 || !strings.Contains(out, "commands:") || errOut != "" {
			t.Errorf("crowdrun %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, ""); code != exitUsage || out != "" || !strings.Contains(errOut, "commands:") {
		t.Errorf("crowdrun: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"help", "frobnicate"}, {"run", "--no-such-flag", examplePath("factor.wasm")}, {"status", "--watch=maybe"}, {"token"}, {"token", "frobnicate"}} {
		if code, out, errOut := runCLI(t, "", args...); code != exitUsage || out != "" || errOut == "" {
			t.Errorf("crowdrun %v: exit %d, stdout %q, stderr %q; want exit 2 and a message on stderr", args, code, out, errOut)
		}
	}
	_, out, _ := runCLI(t, "", "run", "--help")
	for _, want := range []string{"--memory SIZE", "(default 256MiB)", "--fuel N", "ARGS", "argv"} {
		if !strings.Contains(out, want) {
			t.Errorf("run --help lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, "", "submit", "--help")
	for _, want := range []string{"--memory SIZE", "(default 64MiB)", "--max-output SIZE", "(default 1MiB)", "--token TOKEN"} {
		if !strings.Contains(out, want) {
			t.Errorf("submit --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0B") {
		t.Errorf("submit --help shows a zero default:\n%s", out)
	}
	_, out, _ = runCLI(t, "", "instrument", "--help")
	if !strings.Contains(out, "--imports POLICY\n") || strings.Contains(out, "--memory SIZE\n\tcap linear memory at this size, a multiple of 64KiB (0: the module's own maximum) (default") {
		t.Errorf("instrument --help:\n%s", out)
	}
	// The usage line's -o OUT.wasm is the flag list's: same spelling, same
	// placeholder; -q likewise.
	if !strings.HasPrefix(out, "usage: crowdrun instrument [flags] IN.wasm -o OUT.wasm\n") || !strings.Contains(out, "\n  -o OUT.wasm\n") ||
		!strings.Contains(out, "\n  -q\n") || strings.Contains(out, "--o") || strings.Contains(out, "--q") || strings.Contains(out, "FILE") {
		t.Errorf("instrument --help is not consistent with its usage line:\n%s", out)
	}
	// The token's secret, taken from the environment, is never shown.
	t.Setenv("CROWDRUN_TOKEN", "crt_secret")
	if _, out, _ := runCLI(t, "", "status", "--help"); strings.Contains(out, "crt_secret") {
		t.Errorf("status --help shows the token:\n%s", out)
	}
	if _, out, _ := runCLI(t, "", "token", "--help"); !strings.Contains(out, "create") || !strings.Contains(out, "list") || !strings.Contains(out, "revoke") {
		t.Errorf("token --help:\n%s", out)
	}
	if code, out, errOut := runCLI(t, "", "token", "create", "--help"); code != 0 || !strings.Contains(out, "--owner") || errOut != "" {
		t.Errorf("token create --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "crowdrun ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "fuel schedule v3 (default; also v2, v1)") {
			t.Errorf("crowdrun %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, _ := runCLI(t, "", "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d", code)
	}
}
