// Package storetest is the conformance suite every store driver runs, so the
// scheduler can rely on the same behaviour whichever database sits behind it.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Run runs the suite. open must return a fresh, empty store each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	module := []byte("\x00asm fake module")

	newJob := func(t *testing.T, s store.Store, owner string, tasks, replicas int) *store.Job {
		t.Helper()
		p := &store.JobInsertParams{Owner: owner, Name: "j", ModuleHash: store.Hash(module), Priority: 0, Replicas: replicas,
			Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module}, Now: now}
		for i := 0; i < tasks; i++ {
			in := []byte{byte('a' + i%26)}
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in), Args: []string{"x", "y"}, Seed: uint64(i)})
		}
		j, err := s.JobInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	session := func(t *testing.T, s store.Store, worker string) *store.Session {
		t.Helper()
		ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: worker, Slots: 2, Remote: "127.0.0.1:1", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	lease := func(t *testing.T, s store.Store, ss *store.Session, max int) []*store.Lease {
		t.Helper()
		ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Max: max, Deadline: now.Add(time.Minute), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	result := func(ss *store.Session, l *store.Lease, out string) store.ReplicaResult {
		return store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: []byte(out), Fuel: 42}
	}
	complete := func(t *testing.T, s store.Store, rs ...store.ReplicaResult) []store.ReplicaOutcome {
		t.Helper()
		o, err := s.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: rs, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	t.Run("Blobs", func(t *testing.T) {
		s := open(t)
		h, err := s.BlobPut(ctx, &store.BlobPutParams{Data: []byte("hello")})
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256([]byte("hello")); h != store.Hash([]byte("hello")) || len(h) != 2*len(sum) {
			t.Fatalf("hash %q", h)
		}
		if h2, _ := s.BlobPut(ctx, &store.BlobPutParams{Data: []byte("hello")}); h2 != h {
			t.Fatal("same content, different hash")
		}
		got, err := s.BlobGet(ctx, h)
		if err != nil || !bytes.Equal(got, []byte("hello")) {
			t.Fatalf("BlobGet = %q, %v", got, err)
		}
		if _, err := s.BlobGet(ctx, store.Hash([]byte("nope"))); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing blob: %v, want ErrNotFound", err)
		}
		e, err := s.BlobPut(ctx, &store.BlobPutParams{Data: nil})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.BlobGet(ctx, e); err != nil || len(got) != 0 {
			t.Fatalf("empty blob: %q %v", got, err)
		}
	})

	t.Run("JobOwnerIsolation", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 3, 1)
		if j.State != store.JobRunning || j.TaskCount != 3 || j.Limits.Fuel != 1000 {
			t.Fatalf("job %+v", j)
		}
		if _, err := s.JobGet(ctx, &store.JobGetParams{ID: j.ID, Owner: "bob"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob sees alice's job: %v", err)
		}
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j.ID, Owner: "bob", Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob cancels alice's job: %v", err)
		}
		if l, _ := s.JobList(ctx, &store.JobListParams{Owner: "bob"}); len(l) != 0 {
			t.Fatalf("bob lists %d jobs", len(l))
		}
		if l, _ := s.JobList(ctx, &store.JobListParams{Owner: "alice"}); len(l) != 1 || l[0].ID != j.ID {
			t.Fatalf("alice lists %v", l)
		}
		c, err := s.JobCounts(ctx, j.ID)
		if err != nil || c.TasksPending != 3 || c.ReplicasQueued != 3 {
			t.Fatalf("counts %+v %v", c, err)
		}
	})

	// Seeds are the submitter's 64 bits, all of them: a seed at or above
	// 2^63 is stored, leased and reported unchanged.
	t.Run("SeedBits", func(t *testing.T) {
		s := open(t)
		seed := uint64(1<<63 + 12345)
		in := []byte("x")
		j, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", Name: "j", ModuleHash: store.Hash(module), Replicas: 1,
			Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module, in},
			Tasks: []store.TaskSpec{{StdinHash: store.Hash(in), Seed: seed}}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ss := session(t, s, "w")
		ls := lease(t, s, ss, 1)
		if len(ls) != 1 || ls[0].Seed != seed {
			t.Fatalf("lease %+v", ls)
		}
		complete(t, s, result(ss, ls[0], "out"))
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != 1 || res[0].Seed != seed {
			t.Fatalf("results %+v %v", res, err)
		}
	})

	t.Run("LeaseCompleteAgree", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 2, 2)
		w1, w2 := session(t, s, "w1"), session(t, s, "w2")
		l1 := lease(t, s, w1, 10)
		if len(l1) != 2 || l1[0].TaskID == l1[1].TaskID {
			t.Fatalf("w1 got %d leases (want one per task)", len(l1))
		}
		if l1[0].ModuleHash != store.Hash(module) || len(l1[0].Args) != 2 || l1[0].Limits.Fuel != 1000 || store.Hash(l1[0].Stdin) != l1[0].StdinHash {
			t.Fatalf("lease %+v", l1[0])
		}
		if again := lease(t, s, w1, 10); len(again) != 0 {
			t.Fatalf("w1 got a second replica of a task it holds: %+v", again[0])
		}
		l2 := lease(t, s, w2, 10)
		if len(l2) != 2 {
			t.Fatalf("w2 got %d leases", len(l2))
		}
		o := complete(t, s, result(w1, l1[0], "same"), result(w1, l1[1], "same"))
		for _, x := range o {
			if x.Err != nil || x.TaskFinished != "" {
				t.Fatalf("first replica: %+v", x)
			}
		}
		o = complete(t, s, result(w2, l2[0], "same"))
		if o[0].Err != nil || o[0].TaskFinished != store.TaskDone || o[0].JobFinished {
			t.Fatalf("second replica: %+v", o[0])
		}
		o = complete(t, s, result(w2, l2[1], "different"))
		if o[0].TaskFinished != store.TaskDisputed || !o[0].JobFinished {
			t.Fatalf("disagreeing replica: %+v", o[0])
		}
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != 2 || res[0].ResultSeq != 1 || res[1].ResultSeq != 2 {
			t.Fatalf("results %v %v", res, err)
		}
		if res[0].Result.StdoutHash != store.Hash([]byte("same")) || res[0].Result.Fuel != 42 {
			t.Fatalf("result %+v", res[0].Result)
		}
		if got, _ := s.BlobGet(ctx, res[0].Result.StdoutHash); string(got) != "same" {
			t.Fatalf("stdout blob %q", got)
		}
		if c, err := s.JobCounts(ctx, j.ID); err != nil || c.TasksDone != 1 || c.TasksDisputed != 1 || c.TasksPending != 0 || c.Fuel != 42 || c.ReplicasLeased != 0 {
			t.Fatalf("counts %+v %v", c, err)
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID}); jj.State != store.JobDone || jj.FinishedAt.IsZero() {
			t.Fatalf("job %+v", jj)
		}
		if more, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID, AfterSeq: 2}); len(more) != 0 {
			t.Fatal("results after the last")
		}
	})

	t.Run("ResultRefused", func(t *testing.T) {
		s := open(t)
		newJob(t, s, "alice", 1, 1)
		w1, w2 := session(t, s, "w1"), session(t, s, "w2")
		l := lease(t, s, w1, 1)
		// Another session reporting w1's lease, and a lease that never existed.
		o := complete(t, s, result(w2, l[0], "x"), store.ReplicaResult{SessionID: w1.ID, LeaseID: "999.1"})
		for _, x := range o {
			if !errors.Is(x.Err, store.ErrLeaseNotHeld) {
				t.Fatalf("forged result accepted: %+v", x)
			}
		}
		if o := complete(t, s, result(w1, l[0], "x")); o[0].Err != nil || o[0].TaskFinished != store.TaskDone {
			t.Fatalf("genuine result: %+v", o[0])
		}
		if o := complete(t, s, result(w1, l[0], "y")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatalf("second report accepted: %+v", o[0])
		}
		res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: l[0].JobID})
		if len(res) != 1 || res[0].Result.StdoutHash != store.Hash([]byte("x")) {
			t.Fatalf("second report changed the result: %+v", res)
		}
	})

	t.Run("SessionEndRequeues", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 2, 1)
		w1 := session(t, s, "w1")
		l := lease(t, s, w1, 2)
		if n, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w1.ID, Reason: "disconnect", Now: now}); err != nil || n != 2 {
			t.Fatalf("SessionEnd = %d, %v", n, err)
		}
		if o := complete(t, s, result(w1, l[0], "late")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatal("result of an ended session accepted")
		}
		if _, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w1.ID, Worker: "w1", Max: 1, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("lease on an ended session: %v", err)
		}
		// The same worker, reconnected, may take them again: it never ran them.
		w1b := session(t, s, "w1")
		if l := lease(t, s, w1b, 5); len(l) != 2 {
			t.Fatalf("after requeue: %d leases", len(l))
		}
		ss, err := s.SessionList(ctx, &store.SessionListParams{})
		if err != nil || len(ss) != 2 || ss[1].EndedAt.IsZero() || !ss[0].EndedAt.IsZero() {
			t.Fatalf("sessions %+v %v", ss, err)
		}
		if n, err := s.SessionEndAll(ctx, &store.SessionEndAllParams{Reason: "restart", Now: now}); err != nil || n != 2 {
			t.Fatalf("SessionEndAll = %d, %v", n, err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.ReplicasQueued != 2 {
			t.Fatalf("counts %+v", c)
		}
	})

	t.Run("SessionEndGraceful", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 2, 1)
		w1 := session(t, s, "w1")
		lease(t, s, w1, 2)
		// The worker said bye: what it still holds is released, not lost.
		if n, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w1.ID, Reason: "closed", Now: now, Graceful: true}); err != nil || n != 2 {
			t.Fatalf("SessionEnd = %d, %v", n, err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.ReplicasQueued != 2 || c.LostSegments != 0 || c.FuelLost != 0 {
			t.Fatalf("counts %+v", c)
		}
		segs, err := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		if err != nil || len(segs) != 2 || segs[0].State != store.SegmentReleased || segs[1].State != store.SegmentReleased {
			t.Fatalf("segments %+v %v", segs, err)
		}
	})

	t.Run("ExpiredLeases", func(t *testing.T) {
		s := open(t)
		newJob(t, s, "alice", 1, 1)
		w1 := session(t, s, "w1")
		l := lease(t, s, w1, 1)
		if r, err := s.ReplicaRequeueExpired(ctx, &store.ReplicaRequeueExpiredParams{Now: now.Add(30 * time.Second)}); err != nil || len(r) != 0 {
			t.Fatalf("requeued a live lease: %v %v", r, err)
		}
		if err := s.ReplicaRenew(ctx, &store.ReplicaRenewParams{SessionID: w1.ID, Deadline: now.Add(2 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.ReplicaRequeueExpired(ctx, &store.ReplicaRequeueExpiredParams{Now: now.Add(90 * time.Second)}); len(r) != 0 {
			t.Fatal("renewal ignored")
		}
		r, err := s.ReplicaRequeueExpired(ctx, &store.ReplicaRequeueExpiredParams{Now: now.Add(3 * time.Minute)})
		if err != nil || len(r) != 1 || r[0].LeaseID != l[0].LeaseID || r[0].SessionID != w1.ID {
			t.Fatalf("expired: %v %v", r, err)
		}
		if o := complete(t, s, result(w1, l[0], "late")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatal("result of an expired lease accepted")
		}
		l2 := lease(t, s, w1, 1)
		if len(l2) != 1 || l2[0].LeaseID == l[0].LeaseID {
			t.Fatalf("re-lease: %+v", l2)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 3, 1)
		w1 := session(t, s, "w1")
		l := lease(t, s, w1, 1)
		jj, revoked, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j.ID, Owner: "alice", Now: now})
		if err != nil || jj.State != store.JobCancelled || len(revoked) != 1 || revoked[0].LeaseID != l[0].LeaseID {
			t.Fatalf("cancel: %+v %v %v", jj, revoked, err)
		}
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j.ID, Owner: "alice", Now: now}); !errors.Is(err, store.ErrJobFinished) {
			t.Fatalf("second cancel: %v", err)
		}
		if o := complete(t, s, result(w1, l[0], "x")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatal("result for a cancelled job accepted")
		}
		if got := lease(t, s, w1, 5); len(got) != 0 {
			t.Fatal("leased a cancelled job's replica")
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksCancelled != 3 {
			t.Fatalf("counts %+v", c)
		}
	})

	t.Run("Priority", func(t *testing.T) {
		s := open(t)
		low := newJob(t, s, "alice", 2, 1)
		p := &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Priority: 5, Replicas: 1, Blobs: [][]byte{module, nil},
			Tasks: []store.TaskSpec{{StdinHash: store.Hash(nil)}}, Now: now}
		high, err := s.JobInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		l := lease(t, s, session(t, s, "w"), 1)
		if len(l) != 1 || l[0].JobID != high.ID || l[0].JobID == low.ID {
			t.Fatalf("leased %+v, want the high-priority job", l)
		}
	})

	t.Run("ReleaseAndStats", func(t *testing.T) {
		s := open(t)
		newJob(t, s, "alice", 2, 1)
		w1, w2 := session(t, s, "w1"), session(t, s, "w2")
		l := lease(t, s, w1, 2)
		if n, _ := s.ReplicaCountQueued(ctx); n != 0 {
			t.Fatalf("queued = %d", n)
		}
		// Releasing someone else's lease changes nothing.
		if n, err := s.ReplicaRelease(ctx, &store.ReplicaReleaseParams{SessionID: w2.ID, LeaseIDs: []string{l[0].LeaseID}}); err != nil || n != 0 {
			t.Fatalf("foreign release = %d, %v", n, err)
		}
		if n, err := s.ReplicaRelease(ctx, &store.ReplicaReleaseParams{SessionID: w1.ID, LeaseIDs: []string{l[0].LeaseID}}); err != nil || n != 1 {
			t.Fatalf("release = %d, %v", n, err)
		}
		if n, _ := s.ReplicaCountQueued(ctx); n != 1 {
			t.Fatalf("queued = %d", n)
		}
		complete(t, s, result(w1, l[1], "x"))
		segs, err := s.SegmentList(ctx, &store.SegmentListParams{JobID: l[0].JobID})
		if err != nil || len(segs) != 2 || segs[0].State != store.SegmentReleased || segs[1].State != store.SegmentFinished || segs[1].FuelEnd != 42 {
			t.Fatalf("segments %+v %v", segs, err)
		}
		st, err := s.WorkerStats(ctx)
		if err != nil || len(st) != 2 || st[0].Worker != "w1" || st[0].Segments != 1 || st[0].Fuel != 42 || st[0].Open != 1 || st[1].Segments != 0 {
			t.Fatalf("stats %+v %v", st, err)
		}
	})

	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		in := []byte("in")
		j, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 2, Suspendable: true,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
		if err != nil || !j.Suspendable {
			t.Fatalf("job %+v %v", j, err)
		}
		w1, w2 := session(t, s, "w1"), session(t, s, "w2")
		leaseCk := func(ss *store.Session, every uint64, resume bool) []*store.Lease {
			t.Helper()
			ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Max: 5, Deadline: now.Add(time.Minute), Now: now,
				CheckpointEvery: every, Resume: resume})
			if err != nil {
				t.Fatal(err)
			}
			return ls
		}
		l1 := leaseCk(w1, 100, true)
		if len(l1) != 1 || l1[0].CheckpointEvery != 100 || l1[0].Resume != nil {
			t.Fatalf("first lease %+v", l1)
		}
		r0 := l1[0].ReplicaID
		add := func(ss *store.Session, lease string, seq, fuel uint64, hash, out string) (*store.CheckpointAdded, error) {
			return s.CheckpointAdd(ctx, &store.CheckpointAddParams{SessionID: ss.ID, LeaseID: lease, Seq: seq, Fuel: fuel, StateHash: hash,
				Snapshot: []byte("snap" + hash), Stdout: []byte(out), CostMS: 1.5, Now: now})
		}
		if _, err := add(w2, l1[0].LeaseID, 1, 101, "h1", "a"); !errors.Is(err, store.ErrLeaseNotHeld) {
			t.Fatalf("checkpoint from another session: %v", err)
		}
		if _, err := add(w1, "999.1", 1, 101, "h1", "a"); !errors.Is(err, store.ErrLeaseNotHeld) {
			t.Fatalf("checkpoint for no lease: %v", err)
		}
		if a, err := add(w1, l1[0].LeaseID, 1, 101, "h1", "a"); err != nil || a.ReplicaID != r0 || a.Mismatch {
			t.Fatalf("checkpoint 1: %+v %v", a, err)
		}
		for _, c := range []struct{ seq, fuel uint64 }{{1, 150}, {0, 150}, {2, 101}, {2, 50}} {
			if _, err := add(w1, l1[0].LeaseID, c.seq, c.fuel, "hx", "x"); !errors.Is(err, store.ErrCheckpointOrder) {
				t.Fatalf("checkpoint %d at %d after 1 at 101: %v", c.seq, c.fuel, err)
			}
		}
		if _, err := add(w1, l1[0].LeaseID, 2, 201, "h2", "b"); err != nil {
			t.Fatal(err)
		}
		// The worker leaves: its segment is lost beyond checkpoint 2.
		if n, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w1.ID, Reason: "gone", Now: now, Progress: map[string]uint64{l1[0].LeaseID: 250}}); err != nil || n != 1 {
			t.Fatalf("SessionEnd = %d, %v", n, err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.Checkpoints != 2 || c.LostSegments != 1 || c.FuelLost != 49 || c.ReplicasQueued != 2 {
			t.Fatalf("counts after the loss %+v", c)
		}
		// w1 back: it may resume the replica it ran, never the other one.
		w1b := session(t, s, "w1")
		l2 := leaseCk(w1b, 7, true)
		if len(l2) != 1 || l2[0].ReplicaID != r0 || l2[0].CheckpointEvery != 100 || l2[0].Resume == nil {
			t.Fatalf("resumed lease %+v", l2)
		}
		if rs := l2[0].Resume; rs.Seq != 2 || rs.Fuel != 201 || rs.StateHash != "h2" || rs.SnapshotHash != store.Hash([]byte("snaph2")) {
			t.Fatalf("resume from %+v", rs)
		}
		if got, _ := s.BlobGet(ctx, l2[0].Resume.SnapshotHash); string(got) != "snaph2" {
			t.Fatalf("snapshot blob %q", got)
		}
		// Its result carries the output since checkpoint 2 only.
		if o := complete(t, s, store.ReplicaResult{SessionID: w1b.ID, LeaseID: l2[0].LeaseID, Status: "ok", Stdout: []byte("c"), Fuel: 300}); o[0].Err != nil {
			t.Fatal(o[0].Err)
		}
		// The second replica: same grid whatever the coordinator's current
		// one, and a state hash that differs at checkpoint 1.
		l3 := leaseCk(w2, 999, true)
		if len(l3) != 1 || l3[0].ReplicaID == r0 || l3[0].CheckpointEvery != 100 || l3[0].Resume != nil {
			t.Fatalf("second replica %+v", l3)
		}
		if a, err := add(w2, l3[0].LeaseID, 1, 101, "other", "a"); err != nil || !a.Mismatch {
			t.Fatalf("mismatching checkpoint: %+v %v", a, err)
		}
		if o := complete(t, s, store.ReplicaResult{SessionID: w2.ID, LeaseID: l3[0].LeaseID, Status: "ok", Stdout: []byte("abc"), Fuel: 300}); o[0].TaskFinished != store.TaskDone {
			t.Fatalf("the replicas should agree: %+v", o[0])
		}
		res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if got, _ := s.BlobGet(ctx, res[0].Result.StdoutHash); len(res) != 1 || string(got) != "abc" {
			t.Fatalf("assembled output %q", got)
		}
		c, _ := s.JobCounts(ctx, j.ID)
		if c.Checkpoints != 3 || c.Resumes != 1 || c.Mismatches != 1 || c.LostSegments != 1 || c.FuelLost != 49 {
			t.Fatalf("counts %+v", c)
		}
		cks, err := s.CheckpointList(ctx, &store.CheckpointListParams{ReplicaID: r0})
		if err != nil || len(cks) != 2 || cks[1].Seq != 2 || cks[1].Fuel != 201 || cks[1].Worker != "w1" || cks[1].StdoutHash != store.Hash([]byte("b")) || cks[1].CostMS != 1.5 {
			t.Fatalf("checkpoints %+v %v", cks, err)
		}
		segs, err := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		if err != nil || len(segs) != 3 {
			t.Fatalf("segments %+v %v", segs, err)
		}
		if g := segs[0]; g.State != store.SegmentLost || g.Worker != "w1" || g.FuelStart != 0 || g.FuelEnd != 201 || g.FuelReached != 250 || g.StartedAt.IsZero() || g.EndedAt.IsZero() {
			t.Fatalf("lost segment %+v", g)
		}
		if g := segs[1]; g.State != store.SegmentFinished || g.ResumeSeq != 2 || g.FuelStart != 201 || g.FuelEnd != 300 || g.ReplicaID != r0 {
			t.Fatalf("resumed segment %+v", g)
		}
		st, _ := s.WorkerStats(ctx)
		if len(st) != 2 || st[0].Worker != "w1" || st[0].Segments != 2 || st[0].Fuel != 300 || st[1].Fuel != 300 {
			t.Fatalf("stats %+v %+v", st[0], st[1])
		}
	})

	t.Run("CheckpointsNoResume", func(t *testing.T) {
		s := open(t)
		in := []byte("in")
		j, _ := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, Suspendable: true,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
		w1 := session(t, s, "w1")
		ls, _ := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w1.ID, Worker: "w1", Max: 1, Deadline: now.Add(time.Minute), Now: now, CheckpointEvery: 100, Resume: true})
		if _, err := s.CheckpointAdd(ctx, &store.CheckpointAddParams{SessionID: w1.ID, LeaseID: ls[0].LeaseID, Seq: 1, Fuel: 120, StateHash: "h", Stdout: []byte("a"), Now: now}); err != nil {
			t.Fatal(err)
		}
		// Lease expiry with the progress recorded by renewals.
		if err := s.ReplicaRenew(ctx, &store.ReplicaRenewParams{SessionID: w1.ID, Deadline: now.Add(time.Minute), Progress: map[string]uint64{ls[0].LeaseID: 170}}); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.ReplicaRequeueExpired(ctx, &store.ReplicaRequeueExpiredParams{Now: now.Add(2 * time.Minute)}); len(r) != 1 {
			t.Fatalf("expired %v", r)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.LostSegments != 1 || c.FuelLost != 50 {
			t.Fatalf("counts %+v", c)
		}
		// A session that cannot resume runs it from the start, without a grid,
		// and its whole output is the result.
		w2 := session(t, s, "w2")
		ls, _ = s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w2.ID, Worker: "w2", Max: 1, Deadline: now.Add(time.Minute), Now: now, CheckpointEvery: 100})
		if len(ls) != 1 || ls[0].Resume != nil || ls[0].CheckpointEvery != 0 {
			t.Fatalf("lease without resume %+v", ls)
		}
		complete(t, s, store.ReplicaResult{SessionID: w2.ID, LeaseID: ls[0].LeaseID, Status: "ok", Stdout: []byte("ab"), Fuel: 200})
		res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if got, _ := s.BlobGet(ctx, res[0].Result.StdoutHash); string(got) != "ab" {
			t.Fatalf("output %q", got)
		}
		// Cancelling a job ends its running segments as revoked.
		j2, _ := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
		ls, _ = s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w2.ID, Worker: "w2", Max: 1, Deadline: now.Add(time.Minute), Now: now, CheckpointEvery: 100, Resume: true})
		if len(ls) != 1 || ls[0].CheckpointEvery != 0 {
			t.Fatalf("a job that is not suspendable has no grid: %+v", ls)
		}
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j2.ID, Owner: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}
		segs, _ := s.SegmentList(ctx, &store.SegmentListParams{JobID: j2.ID})
		if len(segs) != 1 || segs[0].State != store.SegmentRevoked {
			t.Fatalf("segments %+v", segs)
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		s := open(t)
		h := sha256.Sum256([]byte("secret"))
		tok, err := s.TokenInsert(ctx, &store.TokenInsertParams{Owner: "alice", Name: "laptop", Hash: h[:], Now: now})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenLookup(ctx, &store.TokenLookupParams{Hash: h[:]})
		if err != nil || got.ID != tok.ID || got.Owner != "alice" {
			t.Fatalf("lookup %+v %v", got, err)
		}
		bad := sha256.Sum256([]byte("guess"))
		if _, err := s.TokenLookup(ctx, &store.TokenLookupParams{Hash: bad[:]}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bad token: %v", err)
		}
	})

	t.Run("TokenListRevoke", func(t *testing.T) {
		s := open(t)
		if toks, err := s.TokenList(ctx, &store.TokenListParams{}); err != nil || len(toks) != 0 {
			t.Fatalf("empty store: %v %v", toks, err)
		}
		hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }
		a, err := s.TokenInsert(ctx, &store.TokenInsertParams{Owner: "alice", Name: "laptop", Hash: hash("a"), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.TokenInsert(ctx, &store.TokenInsertParams{Owner: "bob", Hash: hash("b"), Now: now.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		toks, err := s.TokenList(ctx, &store.TokenListParams{})
		if err != nil || len(toks) != 2 || toks[0].ID != a.ID || toks[1].ID != b.ID || toks[0].Name != "laptop" || toks[1].Owner != "bob" ||
			!toks[0].CreatedAt.Equal(now) || !toks[0].RevokedAt.IsZero() {
			t.Fatalf("list %+v %v", toks, err)
		}
		if toks, err := s.TokenList(ctx, &store.TokenListParams{Owner: "bob"}); err != nil || len(toks) != 1 || toks[0].ID != b.ID {
			t.Fatalf("bob's %+v %v", toks, err)
		}
		later := now.Add(time.Hour)
		got, err := s.TokenRevoke(ctx, &store.TokenRevokeParams{ID: a.ID, Now: later})
		if err != nil || got.ID != a.ID || got.Owner != "alice" || !got.RevokedAt.Equal(later) {
			t.Fatalf("revoke %+v %v", got, err)
		}
		if _, err := s.TokenLookup(ctx, &store.TokenLookupParams{Hash: hash("a")}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked token found: %v", err)
		}
		if got, err := s.TokenLookup(ctx, &store.TokenLookupParams{Hash: hash("b")}); err != nil || got.ID != b.ID {
			t.Fatalf("the other token: %+v %v", got, err)
		}
		// Revoking again keeps the first revocation's time.
		if got, err := s.TokenRevoke(ctx, &store.TokenRevokeParams{ID: a.ID, Now: later.Add(time.Hour)}); err != nil || !got.RevokedAt.Equal(later) {
			t.Fatalf("revoke again %+v %v", got, err)
		}
		if _, err := s.TokenRevoke(ctx, &store.TokenRevokeParams{ID: b.ID + 100, Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke of no token: %v", err)
		}
		toks, err = s.TokenList(ctx, &store.TokenListParams{})
		if err != nil || len(toks) != 2 || !toks[0].RevokedAt.Equal(later) || !toks[1].RevokedAt.IsZero() {
			t.Fatalf("list after revoke %+v %v", toks, err)
		}
	})
}
