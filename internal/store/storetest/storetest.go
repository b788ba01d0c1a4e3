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
		st, err := s.WorkerStats(ctx)
		if err != nil || len(st) != 2 || st[0].Worker != "w1" || st[0].Segments != 1 || st[0].Fuel != 42 || st[0].Open != 1 || st[1].Segments != 0 {
			t.Fatalf("stats %+v %v", st, err)
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
}
