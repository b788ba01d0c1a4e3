package coordinator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/protocol"
)

// A worker's numbers are bounded where they are read: a result claiming
// more fuel than any run can use (or a negative wall time) is a malformed
// message, refused for that session alone, and never reaches the store,
// where it would have failed the whole batch of other workers' results.
func TestResultBoundsRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, forged := range []*protocol.Result{
		{Status: "ok", Fuel: 1 << 63},
		{Status: "ok", Fuel: protocol.MaxFuel + 1},
		{Status: "ok", WallMS: -1},
	} {
		mallory := dialRaw(t, e, "mallory")
		mallory.send(&protocol.LeaseRequest{Max: 1})
		ls, ok := mallory.read().(*protocol.Leases)
		if !ok || len(ls.Leases) != 1 {
			t.Fatalf("leases %+v", ls)
		}
		forged.LeaseID = ls.Leases[0].LeaseID
		mallory.send(forged)
		em, ok := mallory.read().(*protocol.ErrorMsg)
		if !ok || em.Code != protocol.CodeBadMessage {
			t.Fatalf("result with fuel %d, wall %d: %+v, want %s", forged.Fuel, forged.WallMS, em, protocol.CodeBadMessage)
		}
	}
	honest := dialRaw(t, e, "honest")
	var lease string
	for lease == "" { // mallory's lease comes back when its session ends
		honest.send(&protocol.LeaseRequest{Max: 1})
		if ls, ok := honest.read().(*protocol.Leases); ok && len(ls.Leases) == 1 {
			lease = ls.Leases[0].LeaseID
		}
	}
	rid := honest.send(&protocol.Result{LeaseID: lease, Status: "ok", Stdout: []byte("task 0\n"), Fuel: 1000})
	if a, ok := honest.read().(*protocol.Ack); !ok || a.ReplyTo != rid {
		t.Fatalf("genuine result not acked")
	}
	got := collect(t, e.alice, job.ID)
	if len(got) != 1 || string(got[0].Stdout) != "task 0\n" || got[0].Fuel != 1000 {
		t.Fatalf("results %+v", got)
	}
}

// A fuel limit beyond what the protocol carries is refused at submission
// with a clear message, not stored and then unleasable.
func TestSubmitFuelLimitBounded(t *testing.T) {
	e := newEnv(t, nil)
	req := echoJob(t, 1, 1)
	req.Limits.Fuel = protocol.MaxFuel + 1
	if _, err := e.alice.Submit(context.Background(), req); err == nil || !strings.Contains(err.Error(), "limits.fuel") {
		t.Fatalf("submit with fuel %d: %v", req.Limits.Fuel, err)
	}
	req.Limits.Fuel = protocol.MaxFuel
	if _, err := e.alice.Submit(context.Background(), req); err != nil {
		t.Fatalf("submit with fuel %d: %v", req.Limits.Fuel, err)
	}
}
