package worker_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/flaky"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func TestNewValidates(t *testing.T) {
	for _, cfg := range []worker.Config{
		{Name: "w"},
		{Server: "ftp://x", Name: "w"},
		{Server: "http://x"},
		{Server: "http://x", Name: "w", Slots: 100000},
		{Server: "http://x,ftp://y", Name: "w"},
		{Server: " , ", Name: "w"},
	} {
		if _, err := worker.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	// A list of coordinators, for failover.
	if _, err := worker.New(worker.Config{Server: "http://a:1/, https://b:2", Name: "w"}); err != nil {
		t.Errorf("two servers refused: %v", err)
	}
}

// A worker asked to stop while a task runs past its grace period gives the
// lease back at once: the replica is queued again without waiting for the
// lease to lapse, and Run returns.
func TestShutdownReleases(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, LeaseTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	defer srv.CloseClientConnections()
	db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "a", Hash: coordinator.HashToken("t"), Now: time.Now()})
	loop, err := os.ReadFile("../../examples/loop.wasm")
	if err != nil {
		t.Fatal(err)
	}
	cl := &api.Client{Server: srv.URL, Token: "t"}
	job, err := cl.Submit(ctx, &api.SubmitRequest{Module: loop, Tasks: []api.TaskSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Server: srv.URL, Name: "w", Grace: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	waitFor(t, func() bool { j, _ := cl.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	cancel()
	wg.Wait()
	waitFor(t, func() bool { j, _ := cl.Job(ctx, job.ID); return j.Tasks.Queued == 1 && j.Tasks.Running == 0 })
	waitFor(t, func() bool {
		ss, _ := db.SessionList(ctx, &store.SessionListParams{})
		return len(ss) == 1 && !ss[0].EndedAt.IsZero()
	})
}

// waitFor polls a condition the coordinator reaches asynchronously.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A module that cannot be fetched (the network, a coordinator going away)
// is no verdict on the task: the worker gives the lease back and runs it
// again, instead of reporting a trap that a job of max error 1 would
// accept as the task's result (found by the chaos harness, docs/chaos.md).
func TestModuleFetchFailureGivesBack(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := coordinator.New(ctx, coordinator.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url, fetches := flaky.FirstModuleFetchFails(t, c.Handler())
	db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "a", Hash: coordinator.HashToken("t"), Now: time.Now()})
	echo, err := os.ReadFile("../../examples/echo.wasm")
	if err != nil {
		t.Fatal(err)
	}
	cl := &api.Client{Server: url, Token: "t"}
	job, err := cl.Submit(ctx, &api.SubmitRequest{Module: echo, Tasks: []api.TaskSpec{{Stdin: []byte("91\n")}}, MaxError: 1})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Server: url, Name: "w", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	defer func() { cancel(); wg.Wait() }()
	var got []*api.TaskResult
	if err := cl.Results(ctx, job.ID, 0, true, func(r *api.TaskResult) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != "ok" || string(got[0].Stdout) != "\n91\n" {
		for _, r := range got {
			t.Errorf("result: %s %q %q", r.Status, r.Message, r.Stdout)
		}
		t.Fatalf("%d results, want one: ok, 91", len(got))
	}
	if n := fetches(); n < 2 {
		t.Fatalf("%d module fetches: the failure was not exercised", n)
	}
}
