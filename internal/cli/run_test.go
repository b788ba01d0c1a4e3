package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/sandbox"
)

func examplePath(name string) string { return filepath.Join("..", "..", "examples", name) }

// runCLI runs crowdrun in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr}
	code := m.Run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func TestRunFactor(t *testing.T) {
	code, out, errOut := runCLI(t, "12 97\n", "run", examplePath("factor.wasm"))
	if code != 0 || out != "12: 2 2 3\n97: 97\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRunArgsEnvFilesAndReport(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(data, []byte("file contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	code, out, errOut := runCLI(t, "", "run", "--env", "K=V", "--file", "in.txt="+data, "--report", report,
		examplePath("wasitest.wasm"), "--", "file", "/in.txt")
	if code != 0 || out != "file contents\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var rep sandbox.Report
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != sandbox.StatusOK || rep.PeakMemoryBytes == 0 {
		t.Fatalf("report %+v", rep)
	}
	// Arguments after the module go to the guest even without "--".
	if code, out, _ := runCLI(t, "", "run", examplePath("wasitest.wasm"), "args", "-x"); code != 0 || out != "main.wasm\nargs\n-x\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{examplePath("wasitest.wasm"), "exit", "7"}, 7},
		{[]string{examplePath("wasitest.wasm"), "exit", "200"}, 119},
		{[]string{examplePath("trap.wasm")}, 122},
		{[]string{"--fuel", "100000", examplePath("loop.wasm")}, 120},
		{[]string{examplePath("recurse.wasm")}, 121},
		{[]string{"--stack", "10", examplePath("recurse.wasm")}, 121},
		{[]string{"--memory", "64MiB", examplePath("membomb.wasm")}, 123},
		{[]string{"--timeout", "100ms", examplePath("loop.wasm")}, 124},
		{[]string{"--max-output", "4KiB", examplePath("flood.wasm")}, 125},
		{[]string{examplePath("corrupt.wasm")}, 126},
		{[]string{examplePath("forbidden.wasm")}, 127},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"run"}, tc.args...)...)
		if code != tc.want {
			t.Errorf("crowdrun run %v: exit %d, want %d (stderr %q)", tc.args, code, tc.want, errOut)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "--memory", "lots", examplePath("factor.wasm")},
		{"run", "--memory", "8GiB", examplePath("factor.wasm")},
		{"run", "--memory", "1000", examplePath("factor.wasm")},
		{"run", "--file", "noequals", examplePath("factor.wasm")},
		{"run", "--file", "x=/does/not/exist", examplePath("factor.wasm")},
		{"run", "/does/not/exist.wasm"},
		{"run", "--timeout", "-1s", examplePath("factor.wasm")},
		{"run", "--no-such-flag", examplePath("factor.wasm")},
	} {
		code, _, errOut := runCLI(t, "", args...)
		if code != exitUsage || errOut == "" {
			t.Errorf("crowdrun %v: exit %d, stderr %q; want exit %d with a message", args, code, errOut, exitUsage)
		}
	}
}

func TestForbiddenImportIsNamed(t *testing.T) {
	_, _, errOut := runCLI(t, "", "run", examplePath("forbidden.wasm"))
	if !strings.Contains(errOut, "env.socket_connect") {
		t.Fatalf("stderr %q does not name the import", errOut)
	}
}

// The host process must survive every misbehaving guest with its own memory
// bounded: each guest runs in a real crowdrun process whose peak RSS is read
// from the kernel.
func TestHostSurvivesMisbehavingGuests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "crowdrun")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/crowdrun")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const guestLimit = 64 << 20
	for _, tc := range []struct {
		module string
		flags  []string
		want   int
	}{
		{"membomb.wasm", nil, 123},
		{"loop.wasm", []string{"--timeout", "300ms"}, 124},
		{"recurse.wasm", nil, 121},
		{"flood.wasm", []string{"--max-output", "1MiB"}, 125},
		{"trap.wasm", nil, 122},
		{"forbidden.wasm", nil, 127},
		{"corrupt.wasm", nil, 126},
	} {
		args := append([]string{"run", "--memory", "64MiB"}, tc.flags...)
		cmd := exec.Command(bin, append(args, examplePath(tc.module))...)
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rss := watchPeakRSS(cmd.Process.Pid)
		err := cmd.Wait()
		peak := <-rss
		code := cmd.ProcessState.ExitCode()
		if code != tc.want {
			t.Errorf("%s: exit %d (%v), want %d", tc.module, code, err, tc.want)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Errorf("%s: crowdrun died of signal %v", tc.module, ws.Signal())
		}
		// The guest may use 64 MiB; the host itself needs well under 100 MiB.
		if peak > guestLimit+100<<20 {
			t.Errorf("%s: peak RSS %d MiB, want under %d MiB", tc.module, peak>>20, (guestLimit+100<<20)>>20)
		}
		t.Logf("%s: exit %d, peak RSS %d MiB", tc.module, code, peak>>20)
	}
}

// watchPeakRSS polls the process's VmHWM until it exits. (The kernel's rusage
// for a child is no use here: it inherits the test process's own peak across
// the vfork+exec that os/exec uses.)
func watchPeakRSS(pid int) <-chan int64 {
	ch := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				break
			}
			i := bytes.Index(b, []byte("VmHWM:"))
			if i < 0 {
				break // a zombie: the address space is gone
			}
			var kb int64
			fmt.Sscanf(string(b[i+len("VmHWM:"):]), "%d", &kb)
			peak = max(peak, kb<<10)
			time.Sleep(2 * time.Millisecond)
		}
		ch <- peak
	}()
	return ch
}
