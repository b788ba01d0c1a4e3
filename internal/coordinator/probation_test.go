package coordinator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
)

// readLeases reads until the session gets leases (heartbeats and acks in
// between are skipped), with a generous backstop: what it waits for is an
// event (a task settled), not a time.
func (r *rawWorker) readLeases() *protocol.Leases {
	r.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, b, err := r.ws.Read(ctx)
		cancel()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		m, err := protocol.Decode(b)
		if err != nil {
			r.t.Fatal(err)
		}
		if ls, ok := m.(*protocol.Leases); ok {
			return ls
		}
		if em, ok := m.(*protocol.ErrorMsg); ok {
			r.t.Fatalf("error: %+v", em)
		}
	}
	r.t.Fatal("no leases")
	return nil
}

// TestProbation: a fresh account gets one task of a verifying job however
// many slots it has, and no more of its own work until that task's result
// is verified; then its quota has grown with the verified segment
// (trust.Allowance). It reports true results (a local run), so nothing
// here is a lie.
func TestProbation(t *testing.T) {
	// wa is a raw connection that sends no heartbeats while it waits for
	// its second answer: intervals long enough that a busy machine's
	// settlement does not find it closed as silent first.
	e := newEnv(t, func(c *coordinator.Config) { c.HeartbeatInterval, c.LeaseTTL = 10*time.Second, time.Minute })
	ctx := context.Background()
	req := echoJob(t, 6, 1)
	req.MaxError = 1e-6 // verifying
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	a := dialRaw(t, e, "wa")
	a.send(&protocol.LeaseRequest{Max: 4})
	first := a.readLeases()
	if len(first.Leases) != 1 {
		t.Fatalf("a fresh account asking for 4 leases of a verifying job got %d, want 1", len(first.Leases))
	}
	l := first.Leases[0]
	rep, out, _ := localRun(t, e, job.ModuleHash, string(l.Stdin), 0)
	res := &protocol.Result{LeaseID: l.LeaseID, Status: string(rep.Status), ExitCode: rep.ExitCode, Stdout: []byte(out), Stderr: []byte{}, Fuel: rep.Fuel}
	if _, ok := a.read2(a.send(res)).(*protocol.Ack); !ok {
		t.Fatal("result not acked")
	}
	// Its task now waits for a partner (another account). Ask again: the
	// answer may only come once that task is verified.
	a.send(&protocol.LeaseRequest{Max: 4})
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Trust.ExtraReplicas >= 1 })
	e.startWorker("wb", 1) // a second account, honest: it partners, and runs what is left
	next := a.readLeases()
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var settled *api.TaskResult
	for _, r := range collectSoFar(t, e.alice, job.ID) {
		if r.TaskIndex == l.TaskIndex {
			settled = r
		}
	}
	if settled == nil || settled.State != "done" || settled.Verification.Outcome != "verified" {
		// Before its first task is verified, wa may take verification work
		// only: with no credible account online, fresh accounts must check
		// each other (trust.Allowance: up to 2q claims), so wb's own task
		// may be partnered by wa. Never a task's first replica.
		for _, nl := range next.Leases {
			ev, err := e.db.TaskEvidence(ctx, nl.TaskID)
			if err != nil {
				t.Fatal(err)
			}
			first := true
			for _, r := range ev.Replicas {
				if r.Role == store.RoleRun && r.Account != "anon:wa" && r.Account != "" {
					first = false
				}
			}
			if first {
				t.Fatalf("wa got own work (task %d) before its first task (%d) was verified: %+v; job %+v", nl.TaskIndex, l.TaskIndex, settled, j.Trust)
			}
		}
		if len(next.Leases) > 1 {
			t.Fatalf("wa got %d leases of verification work on a quota of 1 (2 claims in all)", len(next.Leases))
		}
		return
	}
	// One verified segment makes a quota of 2; the dispatcher may look
	// between the task's settlement and the account's new record (then 1).
	if n := len(next.Leases); n < 1 || n > 2 {
		t.Fatalf("after one verified segment wa got %d leases, want at most 2", n)
	}
}

// collectSoFar reads the results already in, without following.
func collectSoFar(t *testing.T, c *api.Client, id int64) map[int]*api.TaskResult {
	t.Helper()
	got := map[int]*api.TaskResult{}
	if err := c.Results(context.Background(), id, 0, false, func(r *api.TaskResult) error {
		got[r.TaskIndex] = r
		return nil
	}); err != nil {
		t.Fatal(fmt.Errorf("results: %w", err))
	}
	return got
}
