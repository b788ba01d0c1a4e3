package coordinator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
)

// Each result names the workers that computed it and says how it was
// verified: with one replica, not at all.
func TestResultProvenance(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// One replica, run by a raw worker: unverified, and says so.
	single, err := e.alice.Submit(ctx, echoJob(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	solo := dialRaw(t, e, "solo")
	solo.send(&protocol.LeaseRequest{Max: 1})
	ls, ok := solo.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 {
		t.Fatalf("leases %+v", ls)
	}
	if _, ok := solo.read2(solo.send(&protocol.Result{LeaseID: ls.Leases[0].LeaseID, Status: "ok", Stdout: []byte("task 0\n"), Stderr: []byte{}})).(*protocol.Ack); !ok {
		t.Fatal("result not acked")
	}
	got := collect(t, e.alice, single.ID)
	if r := got[0]; !slices.Equal(r.Workers, []string{"solo"}) || r.Verification != (api.Verification{Method: "none", Replicas: 1, Outcome: "unchecked"}) {
		t.Fatalf("single replica: workers %q verification %+v", r.Workers, r.Verification)
	}

	// Two replicas that disagree: disputed, and no agreement is claimed.
	disp, err := e.alice.Submit(ctx, echoJob(t, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		r := dialRaw(t, e, name)
		r.send(&protocol.LeaseRequest{Max: 1})
		ls, ok := r.read().(*protocol.Leases)
		if !ok || len(ls.Leases) != 1 {
			t.Fatalf("leases %+v", ls)
		}
		if _, ok := r.read2(r.send(&protocol.Result{LeaseID: ls.Leases[0].LeaseID, Status: "ok", Stdout: []byte("by " + name), Stderr: []byte{}})).(*protocol.Ack); !ok {
			t.Fatal("result not acked")
		}
	}
	got = collect(t, e.alice, disp.ID)
	if r := got[0]; r.State != "disputed" || !slices.Equal(slices.Sorted(slices.Values(r.Workers)), []string{"a", "b"}) ||
		r.Verification != (api.Verification{Method: "replicas", Replicas: 2, Outcome: "disputed"}) {
		t.Fatalf("disputed: %s workers %q verification %+v", r.State, r.Workers, r.Verification)
	}

	// Two replicas on two workers: each result computed by both, agreeing.
	e.startWorker("w1", 2)
	e.startWorker("w2", 2)
	job, err := e.alice.Submit(ctx, echoJob(t, 4, 2))
	if err != nil {
		t.Fatal(err)
	}
	got = collect(t, e.alice, job.ID)
	for i, r := range got {
		w := slices.Sorted(slices.Values(r.Workers))
		v := r.Verification
		if !slices.Equal(w, []string{"w1", "w2"}) || v.Method != "replicas" || v.Replicas != 2 || v.Agreeing == nil || *v.Agreeing != 2 || v.Outcome != "agreed" {
			t.Errorf("task %d: workers %q verification %+v", i, r.Workers, r.Verification)
		}
	}
	// The wire form, as the NDJSON stream carries it.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/jobs/"+strconv.FormatInt(single.ID, 10)+"/results", nil)
	req.Header.Set("Authorization", "Bearer tok-alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("no result line")
	}
	var line map[string]json.RawMessage
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	checkSchema(t, loadOpenAPI(t, e.srv.URL), "TaskResult", sc.Bytes())
	if string(line["workers"]) != `["solo"]` || string(line["verification"]) != `{"method":"none","replicas":1,"outcome":"unchecked"}` {
		t.Fatalf("NDJSON line: workers %s verification %s", line["workers"], line["verification"])
	}
}
