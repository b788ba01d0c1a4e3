package coordinator_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// TestBlobGCDuringJob collects blobs every few milliseconds with no grace
// at all while a job with checkpoints runs and is resumed from them on
// another worker: nothing the job needs is lost, every result is right,
// and the garbage (here: the job's own inputs, stored before the job named
// them) goes only while nothing names it.
func TestBlobGCDuringJob(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		c.CheckpointEvery = testGrid
		c.BlobGCInterval = 5 * time.Millisecond
		c.BlobGCGrace = time.Nanosecond
	})
	ctx := context.Background()
	req := factorJob(t)
	// Garbage: an orphan, and every input as an orphan until the job
	// names it.
	orphan, err := e.db.BlobPut(ctx, &store.BlobPutParams{Data: []byte("nobody names me")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range req.Tasks {
		if _, err := e.db.BlobPut(ctx, &store.BlobPutParams{Data: tk.Stdin}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { _, err := e.db.BlobGet(ctx, orphan); return err != nil })
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// w1 stops at a task's third checkpoint; w2 resumes from the
	// snapshots, read after many collections.
	wctx, stop := context.WithCancel(ctx)
	gate := &holdAt{seq: 3, reached: make(chan struct{}), release: wctx.Done()}
	w1, err := worker.New(worker.Config{Server: e.srv.URL, Name: "w1", Slots: 2, Engine: engine, Grace: time.Millisecond, Tamper: gate})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w1.Run(wctx) }()
	select {
	case <-gate.reached:
	case <-time.After(time.Minute):
		t.Fatal("w1 never reached its third checkpoint")
	}
	time.Sleep(50 * time.Millisecond) // collections while w1 holds its leases
	stop()
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // and while nobody does
	e.startWorker("w2", 2)
	got := collect(t, e.alice, job.ID)
	checkLikeLocal(t, e, job, got)
	j, _ := e.alice.Job(ctx, job.ID)
	if ck := j.Checkpointing; ck.Resumes < 1 || ck.Mismatches != 0 {
		t.Fatalf("checkpointing %+v", ck)
	}
	// Every blob a row names is still there: the module, the inputs, the
	// results, every checkpoint's snapshot and output.
	tasks, err := e.db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: job.ID})
	if err != nil || len(tasks) != len(req.Tasks) {
		t.Fatalf("%d tasks, %v", len(tasks), err)
	}
	need := map[string]string{"module": job.ModuleHash}
	for _, tk := range tasks {
		ev, err := e.db.TaskEvidence(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		need["stdin"] = tk.StdinHash
		need["stdout"] = tk.Result.StdoutHash
		need["stderr"] = tk.Result.StderrHash
		for _, r := range ev.Replicas {
			for _, ck := range r.Checkpoints {
				need["snapshot"], need["checkpoint stdout"], need["checkpoint stderr"] = ck.SnapshotHash, ck.StdoutHash, ck.StderrHash
				for what, h := range need {
					if _, err := e.db.BlobGet(ctx, h); err != nil {
						t.Fatalf("task %d, replica %d: the %s blob %s: %v", tk.Index, r.ID, what, h, err)
					}
				}
			}
		}
	}
	if n, _ := e.c.CollectBlobs(ctx); n != 0 {
		t.Errorf("%d blobs left to collect after the job", n)
	}
}
