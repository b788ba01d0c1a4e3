package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The test binary stands in for crowdrun-bench in its own child processes.
func TestMain(m *testing.M) {
	if c := os.Getenv(childEnv); c != "" {
		if err := child(c); err != nil {
			fmt.Fprintln(os.Stderr, "crowdrun-bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick runs every row of the command at its tiny -quick sizes, end to
// end, so that the command cannot rot: every row must produce a figure and
// every kernel's outputs must agree across variants and engines. It checks
// no time and no ratio (-quick measures nothing meaningful).
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs every row (≈ 30 s)")
	}
	if raceEnabled {
		t.Skip("too slow under the race detector (scripts/test.sh runs it without)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: the V8 rows need Node 20")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	t0 := time.Now()
	code, err := run(ctx, []string{"-quick"}, &stdout, &stderr)
	t.Logf("took %v\n%s", time.Since(t0).Round(time.Second), stdout.String())
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\nstderr:\n%s", code, err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "outputs: every kernel's original, instrumented and suspendable outputs agree") {
		t.Errorf("no agreement line")
	}
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "| figure ") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "| "), " | ")
		if len(cells) != 4 || strings.TrimSpace(cells[1]) == "" || cells[3] == "FAILED" {
			t.Errorf("row without a figure: %s", l)
		}
		rows++
	}
	// kernels 2×3, linalg 2×2×3, size 2, checkpoint 1, restore 2, compile 4
	// (+1 unpinned where the machine has 2 cores or more), tasks 2, idle 1
	compile := 4
	if runtime.NumCPU() > 1 {
		compile++
	}
	if want := 6 + 12 + 2 + 1 + 2 + compile + 2 + 1; rows != want {
		t.Errorf("%d rows, want %d", rows, want)
	}
}
