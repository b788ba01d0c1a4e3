package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// stateCounts checks Store.StateCounts through a job's life: every state
// present from the start (at zero), tasks counted over every job, replicas
// over running jobs only, a reopened task pending again.
func stateCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	module := []byte("\x00asm state counts")
	check := func(step string, jobs map[store.JobState]int, tasks map[store.TaskState]int, reps map[store.ReplicaState]int) {
		t.Helper()
		c, err := s.StateCounts(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for _, x := range []struct {
			what      string
			got, want map[string]int
		}{
			{"jobs", strs(c.Jobs), strs(jobs)},
			{"tasks", strs(c.Tasks), strs(tasks)},
			{"replicas", strs(c.Replicas), strs(reps)},
		} {
			if !maps.Equal(x.got, x.want) {
				t.Fatalf("%s: %s by state %v, want %v", step, x.what, x.got, x.want)
			}
		}
	}
	jobs := func(r, d, c int) map[store.JobState]int {
		return map[store.JobState]int{store.JobRunning: r, store.JobDone: d, store.JobCancelled: c}
	}
	tasks := func(p, d, x, c int) map[store.TaskState]int {
		return map[store.TaskState]int{store.TaskPending: p, store.TaskDone: d, store.TaskDisputed: x, store.TaskCancelled: c}
	}
	reps := func(q, l, d, c int) map[store.ReplicaState]int {
		return map[store.ReplicaState]int{store.ReplicaQueued: q, store.ReplicaLeased: l, store.ReplicaDone: d, store.ReplicaCancelled: c}
	}
	check("empty", jobs(0, 0, 0), tasks(0, 0, 0, 0), reps(0, 0, 0, 0))

	insert := func(n, replicas int) *store.Job {
		p := &store.JobInsertParams{Owner: "alice", Name: "sc", ModuleHash: store.Hash(module), Replicas: replicas,
			Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module}, Now: now}
		for i := range n {
			in := fmt.Appendf(nil, "sc %d", i)
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in), Seed: uint64(i)})
		}
		j, err := s.JobInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	a := insert(3, 2) // 3 tasks × 2 replicas
	insert(2, 1)
	check("two jobs queued", jobs(2, 0, 0), tasks(5, 0, 0, 0), reps(8, 0, 0, 0))

	ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: "w", Slots: 8, Remote: "127.0.0.1:1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 8,
		Deadline: now.Add(time.Minute), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 5 { // one replica of each task: never two of a task to one worker
		t.Fatalf("leased %d, want one of each of the 5 tasks", len(ls))
	}
	check("one of each task leased", jobs(2, 0, 0), tasks(5, 0, 0, 0), reps(3, 5, 0, 0))

	var results []store.ReplicaResult
	for _, l := range ls {
		results = append(results, store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: []byte("out"), Fuel: 7})
	}
	if _, err := s.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: results, Now: now}); err != nil {
		t.Fatal(err)
	}
	check("results in", jobs(2, 0, 0), tasks(5, 0, 0, 0), reps(3, 0, 5, 0))

	// Job b settles (one task done, one disputed): it finishes, and its
	// replicas leave the count; job a is cancelled after one task settled.
	settle := func(task int64, state store.TaskState) {
		t.Helper()
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: task, State: state, Result: store.Result{Status: "ok", Fuel: 7},
			Verification: store.VerifyNone, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	var aTasks, bTasks []int64
	for _, l := range ls {
		if l.JobID == a.ID {
			aTasks = append(aTasks, l.TaskID)
		} else {
			bTasks = append(bTasks, l.TaskID)
		}
	}
	settle(bTasks[0], store.TaskDone)
	settle(bTasks[1], store.TaskDisputed)
	check("job b finished", jobs(1, 1, 0), tasks(3, 1, 1, 0), reps(3, 0, 3, 0))

	settle(aTasks[0], store.TaskDone) // its queued partner is cancelled
	check("a task of a settled", jobs(1, 1, 0), tasks(2, 2, 1, 0), reps(2, 0, 3, 1))
	if err := s.TaskReopen(ctx, &store.TaskReopenParams{TaskID: aTasks[0], Now: now}); err != nil {
		t.Fatal(err)
	}
	check("reopened", jobs(1, 1, 0), tasks(3, 1, 1, 0), reps(3, 0, 3, 1))

	if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: a.ID, Owner: "alice", Now: now}); err != nil {
		t.Fatal(err)
	}
	check("a cancelled", jobs(0, 1, 1), tasks(0, 1, 1, 3), reps(0, 0, 0, 0))
}

func strs[K ~string](m map[K]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}
