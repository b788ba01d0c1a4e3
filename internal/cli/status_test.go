package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

// statusServer is a real coordinator, with no workers, and a client of it.
func statusServer(t *testing.T) (*httptest.Server, *api.Client) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := coordinator.New(ctx, coordinator.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { c.Close(); srv.Close(); db.Close() })
	if _, err := db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "alice", Name: "t", Hash: coordinator.HashToken("tok"), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return srv, &api.Client{Server: srv.URL, Token: "tok"}
}

func runStatus(t *testing.T, srv string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	if code := m.Run(context.Background(), append([]string{"status", "--server", srv, "--token", "tok"}, args...)); code != 0 {
		t.Fatalf("status %q: exit %d: %s", args, code, stderr.String())
	}
	return stdout.String()
}

// Three tasks of two replicas, none run: the counts are of tasks, and the
// six queued replicas are said to be replicas.
func TestStatusCountsTasks(t *testing.T) {
	srv, cl := statusServer(t)
	mod, err := os.ReadFile(examplePath("factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	job, err := cl.Submit(context.Background(), &api.SubmitRequest{Name: "f", Module: mod, Replicas: 2,
		Tasks: []api.TaskSpec{{Stdin: []byte("6\n")}, {Stdin: []byte("10\n")}, {Stdin: []byte("14\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	out := runStatus(t, srv.URL, "1")
	line, _, _ := strings.Cut(out, "\n")
	for _, want := range []string{"0/3 done", "3 pending", "replicas: 0 running · 6 queued"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if strings.Contains(strings.ReplaceAll(line, "replicas: 0 running · 6 queued", ""), "6") {
		t.Errorf("%q counts replicas as tasks", line)
	}

	// --json is the API's job object, as GET /v1/jobs/{id} gives it.
	var got, want map[string]any
	if err := json.Unmarshal([]byte(runStatus(t, srv.URL, "--json", "1")), &got); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	api, err := cl.Job(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(api)
	json.Unmarshal(b, &want)
	delete(got["checkpointing"].(map[string]any), "policy") // recomputed every second
	delete(want["checkpointing"].(map[string]any), "policy")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status --json:\n%v\nthe API's job:\n%v", got, want)
	}
	if tasks := got["tasks"].(map[string]any); tasks["total"] != 3.0 || tasks["pending"] != 3.0 || tasks["done"] != 0.0 {
		t.Errorf("tasks %v", tasks)
	}
	// Without a job: the list, as GET /v1/jobs gives it.
	var list struct {
		Jobs []map[string]any `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(runStatus(t, srv.URL, "--json")), &list); err != nil || len(list.Jobs) != 1 || list.Jobs[0]["id"] != 1.0 {
		t.Fatalf("status --json (list): %+v %v", list, err)
	}
}

// One replica per task: tasks and replicas coincide, and the line says
// running and queued as before.
func TestStatusProgressLineReplicas(t *testing.T) {
	j := &api.Job{ID: 2, State: "running", Replicas: 3, Tasks: api.Counts{Total: 10, Done: 4, Disputed: 1, Pending: 5, Running: 2, Queued: 11}}
	got := progressLine(j, 0, 0, 10)
	for _, want := range []string{"4/10 done", "1 disputed", "5 pending", "replicas: 2 running · 11 queued"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	j = &api.Job{ID: 2, State: "running", Replicas: 1, Tasks: api.Counts{Total: 10, Done: 4, Pending: 6, Running: 2, Queued: 4}}
	got = progressLine(j, 0, 0, 10)
	if !strings.Contains(got, "4/10 done · 2 running · 4 queued") || strings.Contains(got, "replicas") {
		t.Errorf("one replica: %q", got)
	}
}

// The policy line says when the overhead floor, not T*, set the interval.
func TestStatusPolicyLineFloor(t *testing.T) {
	p := &api.CheckpointPolicy{IntervalFuel: 38e9, IntervalSeconds: 38, OptimalSeconds: 9.4, MinSeconds: 38, TauSeconds: 22, DeltaSeconds: 2, FuelPerSecond: 1e9}
	if got := policyLine(p); !strings.Contains(got, "floor 38s so checkpoints take at most 5% of the time, over T* 9.4s") {
		t.Errorf("%q does not name the floor", got)
	}
	p.MinSeconds = 0.5
	if got := policyLine(p); strings.Contains(got, "floor") {
		t.Errorf("%q names a floor that did not bind", got)
	}
}
