package coordinator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
)

// jobTasks finds a job's tasks in the store by index. The store numbers
// tasks from 1 across jobs; the walk stops at the first missing id past
// the job's tasks.
func jobTasks(t *testing.T, e *env, jobID int64, n int) map[int]*store.Task {
	t.Helper()
	out := map[int]*store.Task{}
	for id := int64(1); len(out) < n; id++ {
		ev, err := e.db.TaskEvidence(context.Background(), id)
		if errors.Is(err, store.ErrNotFound) {
			t.Fatalf("job %d: found %d of %d tasks up to id %d", jobID, len(out), n, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Task.JobID == jobID {
			out[ev.Task.Index] = ev.Task
		}
	}
	return out
}

// Each result says how it was verified, as the verifier recorded it when it
// settled the task: method, the accounts that confirmed it, and for a
// disputed task why it could not be settled. The tasks here are settled
// through the store directly (no worker connects, so the coordinator's
// verifier has nothing to decide), so the test sees the mapping alone.
func TestResultVerification(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 5, 2))
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.db.BlobPut(ctx, &store.BlobPutParams{Data: []byte("out\n")})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := e.db.BlobPut(ctx, &store.BlobPutParams{Data: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	res := store.Result{Status: "ok", StdoutHash: out, StderrHash: empty, Fuel: 1234}
	settle := []struct {
		state  store.TaskState
		method string
		by     []string
		note   string
		want   api.Verification
	}{
		{store.TaskDone, store.VerifyQuorum, []string{"anon:w1", "carol"}, "",
			api.Verification{Method: "quorum", Replicas: 2, By: []string{"anon:w1", "carol"}, Outcome: "verified"}},
		{store.TaskDone, store.VerifyAudit, []string{"carol", "dave"}, "",
			api.Verification{Method: "audit", Replicas: 2, By: []string{"carol", "dave"}, Outcome: "verified"}},
		{store.TaskDone, store.VerifyTrusted, []string{"carol", "coordinator"}, "",
			api.Verification{Method: "trusted", Replicas: 2, By: []string{"carol", "coordinator"}, Outcome: "verified"}},
		{store.TaskDone, store.VerifyNone, []string{"carol"}, "",
			api.Verification{Method: "none", Replicas: 2, By: []string{"carol"}, Outcome: "unchecked"}},
		{store.TaskDisputed, store.VerifyTrusted, nil, "the trusted re-run trapped: out of bounds memory access",
			api.Verification{Method: "trusted", Replicas: 2, Outcome: "disputed", Note: "the trusted re-run trapped: out of bounds memory access"}},
	}
	tasks := jobTasks(t, e, job.ID, len(settle))
	for i, s := range settle {
		if _, err := e.db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: tasks[i].ID, State: s.state, Result: res,
			Verification: s.method, VerifiedBy: s.by, Note: s.note, Now: time.Now()}); err != nil {
			t.Fatalf("settling task %d: %v", i, err)
		}
	}
	got := collect(t, e.alice, job.ID)
	if len(got) != len(settle) {
		t.Fatalf("%d results, want %d", len(got), len(settle))
	}
	for i, s := range settle {
		r := got[i]
		if r.State != string(s.state) || string(r.Stdout) != "out\n" || r.Fuel != 1234 {
			t.Errorf("task %d: %+v", i, r)
		}
		v := r.Verification
		if v.Method != s.want.Method || v.Replicas != s.want.Replicas || !slices.Equal(v.By, s.want.By) || v.Outcome != s.want.Outcome || v.Note != s.want.Note {
			t.Errorf("task %d: verification %+v, want %+v", i, v, s.want)
		}
		// Nobody ran it: no workers are claimed.
		if r.Workers == nil || len(r.Workers) != 0 {
			t.Errorf("task %d: workers %q, want []", i, r.Workers)
		}
	}
	// The job's trust counts the verified tasks.
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Trust.Verified != 4 || j.Trust.MaxError != 1 || j.State != "done" { // echoJob asks for max error 1
		t.Errorf("job after: state %s trust %+v", j.State, j.Trust)
	}

	// The wire form, as the NDJSON stream carries it, matches the schema.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/jobs/"+strconv.FormatInt(job.ID, 10)+"/results", nil)
	req.Header.Set("Authorization", "Bearer tok-alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc := loadOpenAPI(t, e.srv.URL)
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		lines++
		checkSchema(t, doc, "TaskResult", sc.Bytes())
		var line map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal(line["verification"], &v); err != nil {
			t.Fatal(err)
		}
		if _, ok := v["agreeing"]; ok {
			t.Errorf("verification %s has the old agreeing field", line["verification"])
		}
	}
	if lines != len(settle) {
		t.Fatalf("%d NDJSON lines, want %d", lines, len(settle))
	}
}

// Each result names the workers that computed it; with two replicas on two
// workers, both, and the result was verified by a quorum of their two
// accounts.
func TestResultProvenance(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.startWorker("w1", 2)
	e.startWorker("w2", 2)
	job, err := e.alice.Submit(ctx, echoJob(t, 4, 2))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, e.alice, job.ID)
	if len(got) != 4 {
		t.Fatalf("%d results, want 4", len(got))
	}
	for i, r := range got {
		w := slices.Sorted(slices.Values(r.Workers))
		v := r.Verification
		if r.State != "done" || !slices.Equal(w, []string{"w1", "w2"}) || v.Method != "quorum" || v.Replicas != 2 || v.Outcome != "verified" ||
			!slices.Equal(slices.Sorted(slices.Values(v.By)), []string{"anon:w1", "anon:w2"}) {
			t.Errorf("task %d: %s workers %q verification %+v", i, r.State, r.Workers, r.Verification)
		}
	}
}
