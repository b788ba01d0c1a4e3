package browser

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Node flavour of the JavaScript worker (`node js/node/run.mjs --server
// URL`, which runs js/node/net-worker.mjs: the
// same NetWorker, worker threads for guests, its own RFC 6455 client where
// Node has no WebSocket) completes a job with `crowdrun run`'s results,
// and on SIGTERM gives its leases back, says bye and exits 0.
func TestNodeWorker(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (scripts/setup.sh installs nodejs)")
		}
		t.Skip("node not found (install it with scripts/setup.sh)")
	}
	e := newEnv(t)
	job := e.submitFactor(factorInputs, 1)
	// As the README runs it: run.mjs hands --server to net-worker.mjs.
	script, _ := filepath.Abs(filepath.Join("..", "..", "js", "node", "run.mjs"))
	start := func(name string) (*exec.Cmd, *lockedBuf) {
		cmd := exec.Command(node, script, "--server", e.srv.URL, "--name", name, "--slots", "2")
		out := &lockedBuf{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, out
	}
	cmd, out := start("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := e.results(ctx, job.ID)
	want := runResults(t, factorInputs)
	for i := range factorInputs {
		if !sameResult(got[i], want[i]) {
			t.Errorf("task %d:\n node   %s\n native %s", i, show(got[i]), show(want[i]))
		}
	}

	// SIGTERM while running: the leases go back at once, exit 0.
	slow := e.submitFactor(slowInputs[:2], 1)
	waitUntil(t, "the node worker to run the slow tasks", time.Minute, func() bool { return e.job(slow.ID).Tasks.Running == 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node worker after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("node worker did not stop on SIGTERM\n%s", out.String())
	}
	waitUntil(t, "both tasks queued again", time.Minute, func() bool {
		j := e.job(slow.ID)
		return j.Tasks.Running == 0 && j.Tasks.Queued == 2
	})
	if !strings.Contains(out.String(), "leaving the session") {
		t.Errorf("no graceful leave in the log:\n%s", out.String())
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
