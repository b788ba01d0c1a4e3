package storetest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// history checks JobHistory and TaskList: a job's events, recorded at known
// times, come back in the right buckets, and nothing of another job's.
func history(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	module := []byte("\x00asm history")
	s := open(t)
	newJob := func() *store.Job {
		p := &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, Suspendable: true, MaxError: 1,
			Limits: store.Limits{Fuel: 10000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module}, Now: t0}
		for i := range 2 {
			in := []byte{'h', byte('a' + i)}
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in)})
		}
		j, err := s.JobInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := newJob()
	sess := func(worker string, now time.Time) *store.Session {
		ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: worker, Slots: 2, Remote: "127.0.0.1:1", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	lease := func(ss *store.Session, now time.Time) []*store.Lease {
		ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 2,
			Deadline: now.Add(time.Hour), Now: now, CheckpointEvery: 100, Resume: true})
		if err != nil || len(ls) != 2 {
			t.Fatalf("leases %+v %v", ls, err)
		}
		return ls
	}
	// w1 leases both tasks, checkpoints one at 1 s, and leaves at 2 s
	// having reached fuel 150 on it: two lost segments, 49 fuel lost.
	w1 := sess("w1", t0)
	l1 := lease(w1, t0)
	if _, err := s.CheckpointAdd(ctx, &store.CheckpointAddParams{SessionID: w1.ID, LeaseID: l1[0].LeaseID, Seq: 1, Fuel: 101, StateHash: "h1",
		Snapshot: []byte("snap"), CostMS: 1, Now: at(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w1.ID, Reason: "gone", Now: at(2), Progress: map[string]uint64{l1[0].LeaseID: 150}}); err != nil {
		t.Fatal(err)
	}
	// w2 resumes one, runs the other from the start, both done at 4 s.
	w2 := sess("w2", at(3))
	l2 := lease(w2, at(3))
	var rs []store.ReplicaResult
	for _, l := range l2 {
		rs = append(rs, store.ReplicaResult{SessionID: w2.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: []byte("out"), Fuel: 300})
	}
	if o, err := s.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: rs, Now: at(4)}); err != nil || o[0].Err != nil || o[1].Err != nil {
		t.Fatalf("complete %+v %v", o, err)
	}
	// Settled at 5 s: the first task done by a trusted re-run, the
	// second disputed.
	for i, l := range l2 {
		state, how := store.TaskDone, store.VerifyTrusted
		if l.TaskIndex == 1 {
			state, how = store.TaskDisputed, store.VerifyNone
		}
		ev, err := s.TaskEvidence(ctx, l.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: l.TaskID, State: state, Result: *ev.Replicas[0].Result, Verification: how, Now: at(5)}); err != nil {
			t.Fatalf("settle %d: %v", i, err)
		}
	}
	// Another job's events at the same times count for nothing here.
	other := newJob()
	w3 := sess("w3", t0)
	if ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w3.ID, Worker: "w3", Account: w3.Account, Max: 2, Deadline: at(60), Now: t0, CheckpointEvery: 100}); err != nil || len(ls) != 2 || ls[0].JobID != other.ID {
		t.Fatalf("other job's leases %+v %v", ls, err)
	}
	if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w3.ID, Reason: "gone", Now: at(2)}); err != nil {
		t.Fatal(err)
	}

	h, err := s.JobHistory(ctx, &store.JobHistoryParams{JobID: j.ID, Start: t0, Step: time.Second, Buckets: 10})
	if err != nil || len(h) != 10 {
		t.Fatalf("history %v %v", h, err)
	}
	want := make([]store.HistoryBucket, 10)
	want[1] = store.HistoryBucket{Checkpoints: 1}
	want[2] = store.HistoryBucket{Segments: 2, Saved: 1, Fuel: 101, Workers: 1, Lost: 2, FuelLost: 49}
	want[4] = store.HistoryBucket{Segments: 2, Saved: 2, Fuel: 300 - 101 + 300, Workers: 1}
	want[5] = store.HistoryBucket{TasksDone: 1, TasksDisputed: 1, Trusted: 1}
	for i := range want {
		if h[i] != want[i] {
			t.Errorf("bucket %d: %+v, want %+v", i, h[i], want[i])
		}
	}
	// The totals agree with the job's counters.
	c, err := s.JobCounts(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var cks, lost int
	var fuelLost uint64
	for _, b := range h {
		cks, lost, fuelLost = cks+b.Checkpoints, lost+b.Lost, fuelLost+b.FuelLost
	}
	if cks != c.Checkpoints || lost != c.LostSegments || fuelLost != c.FuelLost {
		t.Errorf("history totals %d checkpoints, %d lost (%d fuel); counts %+v", cks, lost, fuelLost, c)
	}
	// Events outside the buckets are left out; 500 ms buckets split time.
	h, err = s.JobHistory(ctx, &store.JobHistoryParams{JobID: j.ID, Start: at(2), Step: 500 * time.Millisecond, Buckets: 4})
	if err != nil || len(h) != 4 || h[0] != want[2] || h[1] != (store.HistoryBucket{}) || h[2] != (store.HistoryBucket{}) || h[3] != (store.HistoryBucket{}) {
		t.Fatalf("history from 2 s: %+v %v", h, err)
	}
	for _, p := range []store.JobHistoryParams{{JobID: j.ID, Start: t0, Step: time.Second}, {JobID: j.ID, Start: t0, Buckets: 2},
		{JobID: j.ID, Start: t0, Step: time.Second, Buckets: store.MaxHistoryBuckets + 1}} {
		if _, err := s.JobHistory(ctx, &p); err == nil {
			t.Errorf("JobHistory(%+v) succeeded", p)
		}
	}

	list := func(state store.TaskState, after, limit int) []int {
		ts, err := s.TaskList(ctx, &store.TaskListParams{JobID: j.ID, State: state, AfterIndex: after, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		out := []int{}
		for _, x := range ts {
			if x.JobID != j.ID || (state != "" && x.State != state) {
				t.Fatalf("task %+v listed for job %d state %q", x, j.ID, state)
			}
			out = append(out, x.Index)
		}
		return out
	}
	for _, c := range []struct {
		state        store.TaskState
		after, limit int
		want         []int
	}{
		{"", -1, 0, []int{0, 1}}, {"", 0, 0, []int{1}}, {"", -1, 1, []int{0}},
		{store.TaskDone, -1, 0, []int{0}}, {store.TaskDisputed, -1, 0, []int{1}}, {store.TaskPending, -1, 0, []int{}},
	} {
		if got := list(c.state, c.after, c.limit); !equalInts(toInt64(got), toInt64(c.want)) {
			t.Errorf("TaskList(%q, after %d, limit %d) = %v, want %v", c.state, c.after, c.limit, got, c.want)
		}
	}
	if ts, err := s.TaskList(ctx, &store.TaskListParams{JobID: other.ID, State: store.TaskPending, AfterIndex: -1}); err != nil || len(ts) != 2 {
		t.Fatalf("other job's pending tasks %+v %v", ts, err)
	}

	// Size grows with what is stored (2 MiB that do not compress).
	before, err := s.Size(ctx)
	if err != nil || before <= 0 {
		t.Fatalf("Size = %d, %v", before, err)
	}
	big := make([]byte, 2<<20)
	rand.Read(big)
	if _, err := s.BlobPut(ctx, &store.BlobPutParams{Data: big}); err != nil {
		t.Fatal(err)
	}
	if after, err := s.Size(ctx); err != nil || after < before+1<<20 {
		t.Fatalf("Size after a 2 MiB blob: %d (before %d), %v", after, before, err)
	}
}

func toInt64(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}
