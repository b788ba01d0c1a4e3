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

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/flaky"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// The Node flavour of the JavaScript worker (`node js/node/run.mjs --server
// URL`, which runs js/node/net-worker.mjs: the
// same NetWorker, worker threads for guests, its own RFC 6455 client where
// Node has no WebSocket) completes a job with `crowdrun run`'s results,
// and on SIGTERM gives its leases back, says bye and exits 0.
func TestNodeWorker(t *testing.T) {
	node := lookNode(t)
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

// Audits leased to the Node worker stop at their link, as the native
// worker's do (coordinator TestAuditStopsAtItsLink): the JavaScript client
// holds a resumed run after its first checkpoint until the coordinator
// answers it ('proceed' to the guest worker), and the coordinator revokes
// an audit before answering.
func TestNodeAuditStopsAtItsLink(t *testing.T) {
	node := lookNode(t)
	// Links of 12,000 fuel take microseconds: without the wait, an audit
	// would run several more before its revocation could arrive.
	const grid = 12_000
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = grid; c.MinAudit = 0.45 })
	ctx := context.Background()
	for _, a := range []string{"anon:native", "anon:node"} {
		if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: a, Verified: 1_000_000, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	req := &api.SubmitRequest{Name: "factor", Module: readExample(t, "factor.wasm")}
	inputs := []string{"1000000007", "1000000009", "1000000021"} // primes: ≈ 10 checkpoints each
	for _, n := range inputs {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(n + "\n")})
	}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Two accounts, so each audits the other's links.
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 3, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopW := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	defer func() { stopW(); <-wdone }()
	script, _ := filepath.Abs(filepath.Join("..", "..", "js", "node", "net-worker.mjs"))
	cmd := exec.Command(node, script, "--server", e.srv.URL, "--name", "node", "--slots", "2", "--quiet")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	rctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	got := e.results(rctx, job.ID)
	want := runResults(t, inputs)
	for i := range want {
		if got[i].State != "done" || !sameResult(got[i], want[i]) {
			t.Fatalf("task %d:\n got  %s\n want %s\nnode worker:\n%s", i, show(got[i]), show(want[i]), out.String())
		}
	}
	audits, stopped := 0, 0
	for id := int64(1); id <= 3; id++ {
		ev, err := e.db.TaskEvidence(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Replicas {
			if r.Role != store.RoleAudit {
				continue
			}
			var own []uint64 // the Node worker's checkpoints in it (copies of the audited one's come first)
			for _, c := range r.Checkpoints {
				if c.Seq >= r.AuditSeq && c.Account == "anon:node" {
					own = append(own, c.Seq)
				}
			}
			if len(own) == 0 && (r.Result == nil || r.Account != "anon:node") {
				continue
			}
			audits++
			if len(own) > 1 || len(own) == 1 && r.Result != nil {
				t.Fatalf("task %d: the Node worker's audit %d of link %d ran on past it: checkpoints %v, result %v", id, r.ID, r.AuditSeq, own, r.Result != nil)
			}
			if len(own) == 1 {
				stopped++
			}
		}
	}
	if stopped == 0 {
		t.Fatalf("the Node worker ran %d audits, none of a link before the last: nothing was tested\n%s", audits, out.String())
	}
	t.Logf("the Node worker ran %d audits, %d stopped at their link's checkpoint", audits, stopped)
}

// A module the JavaScript worker cannot fetch (the network, a coordinator
// going away) is no verdict on the task: it gives the lease back and the
// task runs again, instead of ending as a trap that a job of max error 1
// accepts (found by the chaos harness, docs/chaos.md; the native worker's
// case is worker.TestModuleFetchFailureGivesBack).
func TestNodeModuleFetchFailureGivesBack(t *testing.T) {
	node := lookNode(t)
	e := newEnv(t)
	url, fetches := flaky.FirstModuleFetchFails(t, e.c.Handler())
	job := e.submitFactor([]string{"91"}, 1)
	script, _ := filepath.Abs(filepath.Join("..", "..", "js", "node", "run.mjs"))
	cmd := exec.Command(node, script, "--server", url, "--name", "node-1", "--slots", "1")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := e.results(ctx, job.ID)
	if r := got[0]; len(got) != 1 || r.Status != "ok" || string(r.Stdout) != "91: 7 13\n" {
		t.Fatalf("result %s %q %q, want ok \"91: 7 13\\n\"\n%s", r.Status, r.Message, r.Stdout, out.String())
	}
	if n := fetches(); n < 2 {
		t.Fatalf("%d module fetches: the failure was not exercised", n)
	}
}

// lookNode is the node binary; a test without it fails in CI and skips
// elsewhere.
func lookNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (scripts/setup.sh installs nodejs)")
		}
		t.Skip("node not found (install it with scripts/setup.sh)")
	}
	return node
}
