// Package storetest is the conformance suite every store driver runs, so the
// scheduler can rely on the same behaviour whichever database sits behind it.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
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
	// newSuspJob inserts a suspendable job: its replicas run in segments
	// between checkpoints.
	newSuspJob := func(t *testing.T, s store.Store, tasks, replicas int) *store.Job {
		t.Helper()
		p := &store.JobInsertParams{Owner: "alice", Name: "s", ModuleHash: store.Hash(module), Replicas: replicas, Suspendable: true,
			Limits: store.Limits{Fuel: 10000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module}, Now: now}
		for i := 0; i < tasks; i++ {
			in := []byte{byte('a' + i%26), '!'}
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in), Seed: uint64(i)})
		}
		j, err := s.JobInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// sessionAs starts a session of a worker credited to account ("":
	// the anonymous account of the worker).
	sessionAs := func(t *testing.T, s store.Store, worker, account string) *store.Session {
		t.Helper()
		ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: worker, Account: account, Slots: 2, Remote: "127.0.0.1:1", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		want := account
		if want == "" {
			want = "anon:" + worker
		}
		if ss.Account != want || ss.Worker != worker {
			t.Fatalf("session %+v, want account %q", ss, want)
		}
		return ss
	}
	session := func(t *testing.T, s store.Store, worker string) *store.Session {
		t.Helper()
		return sessionAs(t, s, worker, "")
	}
	lease := func(t *testing.T, s store.Store, ss *store.Session, max int) []*store.Lease {
		t.Helper()
		ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: max, Deadline: now.Add(time.Minute), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	// leaseCk leases with a fuel grid; resume: the session can continue
	// from a checkpoint.
	leaseCk := func(t *testing.T, s store.Store, ss *store.Session, max int, every uint64, resume bool) []*store.Lease {
		t.Helper()
		ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: max, Deadline: now.Add(time.Minute), Now: now,
			CheckpointEvery: every, Resume: resume})
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	ckpt := func(t *testing.T, s store.Store, ss *store.Session, l *store.Lease, seq, fuel uint64, hash, out string) *store.CheckpointAdded {
		t.Helper()
		a, err := s.CheckpointAdd(ctx, &store.CheckpointAddParams{SessionID: ss.ID, LeaseID: l.LeaseID, Seq: seq, Fuel: fuel, StateHash: hash,
			Snapshot: []byte("snap" + hash), Stdout: []byte(out), CostMS: 1, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	evidence := func(t *testing.T, s store.Store, taskID int64) *store.TaskEvidence {
		t.Helper()
		ev, err := s.TaskEvidence(ctx, taskID)
		if err != nil {
			t.Fatal(err)
		}
		// Read in a batch with others (the next task, one that does not
		// exist, itself again), it is the same.
		next, err := s.TaskEvidence(ctx, taskID+1)
		if errors.Is(err, store.ErrNotFound) {
			next, err = nil, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.TaskEvidenceBatch(ctx, []int64{taskID, taskID + 1, -1, taskID})
		if err != nil || len(evs) != 4 {
			t.Fatalf("evidence batch of task %d: %d, %v", taskID, len(evs), err)
		}
		if !reflect.DeepEqual(evs[0], ev) || !reflect.DeepEqual(evs[1], next) || evs[2] != nil || !reflect.DeepEqual(evs[3], ev) {
			t.Fatalf("evidence batch of task %d differs from TaskEvidence:\n%s\n%s\n%+v\n%+v", taskID, spew(evs[0]), spew(ev), evs[1], next)
		}
		// The records of the accounts it names come with it: each name,
		// and nothing else, with its record as AccountGet reads it (nil
		// for a name without one).
		names := ev.AccountNames()
		if len(ev.Accounts) != len(names) {
			t.Fatalf("evidence of task %d: accounts %v for names %v", taskID, ev.Accounts, names)
		}
		for _, a := range names {
			rec, ok := ev.Accounts[a]
			want, err := s.AccountGet(ctx, a)
			switch {
			case !ok:
				t.Fatalf("evidence of task %d: no entry for account %q", taskID, a)
			case errors.Is(err, store.ErrNotFound):
				if rec != nil {
					t.Fatalf("evidence of task %d: account %q has no record, got %+v", taskID, a, rec)
				}
			case err != nil:
				t.Fatal(err)
			case rec == nil || rec.Verified != want.Verified || rec.AuditsPassed != want.AuditsPassed || rec.AuditsRun != want.AuditsRun ||
				rec.LiesCaught != want.LiesCaught || rec.AuditLies != want.AuditLies || !rec.BannedAt.Equal(want.BannedAt) || !rec.CreatedAt.Equal(want.CreatedAt):
				t.Fatalf("evidence of task %d: account %q is %+v, AccountGet %+v", taskID, a, rec, want)
			}
		}
		return ev
	}
	// settle settles a pending task with the result of its first done
	// replica, verified by that replica's accounts.
	settle := func(t *testing.T, s store.Store, taskID int64, state store.TaskState, verification string) *store.TaskSettled {
		t.Helper()
		ev := evidence(t, s, taskID)
		for _, r := range ev.Replicas {
			if r.State == store.ReplicaDone {
				st, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: taskID, State: state, Result: *r.Result, Verification: verification,
					VerifiedBy: r.Accounts, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("task %d has no done replica: %+v", taskID, ev.Replicas)
		return nil
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

	t.Run("BlobGC", func(t *testing.T) {
		s := open(t)
		// Every kind of reference (store.BlobRefs): a module, a stdin and a
		// file of a task, a replica's output, a settled task's result, a
		// checkpoint's snapshot and output, a replica's latest snapshot.
		in, file := []byte("gc-stdin"), []byte("gc-file")
		j, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, Suspendable: true,
			Blobs: [][]byte{module, in, file}, Tasks: []store.TaskSpec{
				{StdinHash: store.Hash(in), Files: []store.File{{Name: "f", Hash: store.Hash(file)}}},
				{StdinHash: store.Hash(in)}}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		w := session(t, s, "w1")
		ls := leaseCk(t, s, w, 2, 100, true)
		if len(ls) != 2 {
			t.Fatalf("%d leases", len(ls))
		}
		ckpt(t, s, w, ls[1], 1, 101, "gc-h1", "gc-ckpt-out")
		if o := complete(t, s, result(w, ls[0], "gc-out")); o[0].Err != nil {
			t.Fatal(o[0].Err)
		}
		settle(t, s, ls[0].TaskID, store.TaskDone, store.VerifyNone)
		keep := map[string]string{"module": store.Hash(module), "stdin": store.Hash(in), "file": store.Hash(file),
			"output": store.Hash([]byte("gc-out")), "snapshot": store.Hash([]byte("snapgc-h1")),
			"checkpoint output": store.Hash([]byte("gc-ckpt-out")), "empty": store.Hash(nil)}
		var orphans []string
		for _, o := range []string{"orphan-1", "orphan-22", "orphan-333"} {
			h, err := s.BlobPut(ctx, &store.BlobPutParams{Data: []byte(o)})
			if err != nil {
				t.Fatal(err)
			}
			orphans = append(orphans, h)
		}
		// BlobPut stores at the wall clock: within the grace period the
		// orphans stay.
		if r, err := s.BlobGC(ctx, &store.BlobGCParams{Before: time.Now().Add(-time.Hour)}); err != nil || r.Deleted != 0 || r.More {
			t.Fatalf("young blobs: %+v %v", r, err)
		}
		later := time.Now().Add(time.Hour)
		r, err := s.BlobGC(ctx, &store.BlobGCParams{Before: later, Limit: 2})
		if err != nil || r.Deleted != 2 || !r.More {
			t.Fatalf("first round with limit 2: %+v %v", r, err)
		}
		r2, err := s.BlobGC(ctx, &store.BlobGCParams{Before: later, Limit: 2})
		if err != nil || r2.Deleted != 1 || r.Bytes+r2.Bytes != int64(len("orphan-1orphan-22orphan-333")) {
			t.Fatalf("second round: %+v %v (first %+v)", r2, err, r)
		}
		if r, err := s.BlobGC(ctx, &store.BlobGCParams{Before: later}); err != nil || r.Deleted != 0 || r.More {
			t.Fatalf("nothing left to collect: %+v %v", r, err)
		}
		for _, h := range orphans {
			if _, err := s.BlobGet(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("orphan %s: %v, want ErrNotFound", h, err)
			}
		}
		for what, h := range keep {
			if _, err := s.BlobGet(ctx, h); err != nil {
				t.Fatalf("the %s blob was collected: %v", what, err)
			}
		}
		// The job goes on: the resumed lease reads its snapshot, its result
		// its checkpointed output; a blob collected can be stored again.
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: w.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		w2 := session(t, s, "w1")
		l2 := leaseCk(t, s, w2, 1, 100, true)
		if len(l2) != 1 || l2[0].Resume == nil || string(l2[0].Stdin) != "gc-stdin" {
			t.Fatalf("resumed lease %+v", l2)
		}
		if o := complete(t, s, result(w2, l2[0], "-end")); o[0].Err != nil {
			t.Fatal(o[0].Err)
		}
		ev := evidence(t, s, l2[0].TaskID)
		if got, err := s.BlobGet(ctx, ev.Replicas[0].Result.StdoutHash); err != nil || string(got) != "gc-ckpt-out-end" {
			t.Fatalf("resumed replica's output %q %v", got, err)
		}
		if _, err := s.BlobPut(ctx, &store.BlobPutParams{Data: []byte("orphan-1")}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BlobGet(ctx, orphans[0]); err != nil || string(got) != "orphan-1" {
			t.Fatalf("stored again: %q %v", got, err)
		}
		if r, err := s.BlobGC(ctx, &store.BlobGCParams{Before: later}); err != nil || r.Deleted != 1 {
			t.Fatalf("after the job (orphan-1 again): %+v %v", r, err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.Checkpoints != 1 {
			t.Fatalf("counts %+v", c)
		}
	})

	// BlobGCConcurrent collects with no grace at all while jobs are inserted
	// and results and checkpoints recorded, many of them naming blobs that
	// were garbage a moment before: nothing a row names may go missing.
	t.Run("BlobGCConcurrent", func(t *testing.T) {
		s := open(t)
		gctx, stop := context.WithCancel(ctx)
		gcDone := make(chan error, 1)
		rounds, deleted := 0, 0
		go func() {
			for gctx.Err() == nil {
				r, err := s.BlobGC(gctx, &store.BlobGCParams{Before: time.Now().Add(time.Hour)})
				if err != nil {
					if gctx.Err() != nil {
						err = nil
					}
					gcDone <- err
					return
				}
				rounds++
				deleted += r.Deleted
			}
			gcDone <- nil
		}()
		blob := func(i int) []byte { return []byte(fmt.Sprintf("shared-%d", i%7)) }
		var refs []string
		for i := 0; i < 30; i++ {
			// Garbage that the next rows will name.
			for k := 0; k < 7; k++ {
				if _, err := s.BlobPut(ctx, &store.BlobPutParams{Data: blob(k)}); err != nil {
					t.Fatal(err)
				}
			}
			in := blob(i + 1)
			j, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(blob(i)), Replicas: 1, Suspendable: true,
				Blobs: [][]byte{blob(i), in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}, {StdinHash: store.Hash(in)}}, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			w := session(t, s, fmt.Sprintf("w%d", i))
			ls := leaseCk(t, s, w, 2, 100, true)
			if len(ls) != 2 || string(ls[0].Stdin) != string(in) {
				t.Fatalf("job %d: leases %+v", j.ID, ls)
			}
			ckpt(t, s, w, ls[1], 1, 101, fmt.Sprintf("c%d", i%3), string(blob(i+2)))
			if o := complete(t, s, result(w, ls[0], string(blob(i+3)))); o[0].Err != nil {
				t.Fatal(o[0].Err)
			}
			refs = append(refs, store.Hash(blob(i)), store.Hash(in), store.Hash(blob(i+2)), store.Hash(blob(i+3)),
				store.Hash([]byte(fmt.Sprintf("snapc%d", i%3))))
			for _, h := range refs {
				if _, err := s.BlobGet(ctx, h); err != nil {
					t.Fatalf("round %d: a blob named by a row was collected: %v", i, err)
				}
			}
		}
		stop()
		if err := <-gcDone; err != nil {
			t.Fatal(err)
		}
		if rounds == 0 {
			t.Fatal("no collection ran")
		}
		t.Logf("%d collections deleted %d blobs", rounds, deleted)
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
		settle(t, s, ls[0].TaskID, store.TaskDone, store.VerifyNone)
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != 1 || res[0].Seed != seed {
			t.Fatalf("results %+v %v", res, err)
		}
	})

	// Recording results never settles a task: the verifier does, with
	// TaskSettle.
	t.Run("LeaseCompleteSettle", func(t *testing.T) {
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
		for i, x := range o {
			if x.Err != nil || x.ReplicaID != l1[i].ReplicaID || x.TaskID != l1[i].TaskID || x.JobID != j.ID || x.Role != store.RoleRun {
				t.Fatalf("first replica: %+v", x)
			}
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksVerifying != 2 || c.TasksPending != 2 || c.TasksDone != 0 {
			t.Fatalf("counts with one replica of each task in %+v", c)
		}
		o = complete(t, s, result(w2, l2[0], "same"), result(w2, l2[1], "different"))
		for i, x := range o {
			if x.Err != nil || x.TaskID != l2[i].TaskID || x.Role != store.RoleRun {
				t.Fatalf("second replica: %+v", x)
			}
		}
		if res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID}); len(res) != 0 {
			t.Fatalf("a task settled by ReplicaComplete: %+v", res[0])
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID}); jj.State != store.JobRunning {
			t.Fatalf("job finished by ReplicaComplete: %+v", jj)
		}
		ev := evidence(t, s, l1[0].TaskID)
		if len(ev.Replicas) != 2 || ev.Task.ID != l1[0].TaskID || ev.Job.ID != j.ID || ev.Task.State != store.TaskPending {
			t.Fatalf("evidence %+v", ev)
		}
		for i, r := range ev.Replicas {
			w := []*store.Session{w1, w2}[i]
			if r.State != store.ReplicaDone || r.Role != store.RoleRun || r.Verdict != store.VerdictNone || r.Result == nil ||
				r.Result.StdoutHash != store.Hash([]byte("same")) || r.Result.Fuel != 42 || r.Worker != w.Worker || r.Account != w.Account ||
				len(r.Accounts) != 1 || r.Accounts[0] != w.Account {
				t.Fatalf("replica %d: %+v %+v", i, r, r.Result)
			}
		}
		if st := settle(t, s, l1[0].TaskID, store.TaskDone, store.VerifyQuorum); st.JobID != j.ID || st.JobFinished || len(st.Revoked) != 0 {
			t.Fatalf("settled %+v", st)
		}
		if st := settle(t, s, l1[1].TaskID, store.TaskDisputed, store.VerifyTrusted); !st.JobFinished {
			t.Fatalf("the last task settled: %+v", st)
		}
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != 2 || res[0].ResultSeq != 1 || res[1].ResultSeq != 2 || res[1].State != store.TaskDisputed {
			t.Fatalf("results %v %v", res, err)
		}
		if res[0].Result.StdoutHash != store.Hash([]byte("same")) || res[0].Result.Fuel != 42 || res[0].Verification != store.VerifyQuorum ||
			len(res[0].VerifiedBy) != 1 || res[0].VerifiedBy[0] != "anon:w1" {
			t.Fatalf("result %+v", res[0])
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
		if o := complete(t, s, result(w1, l[0], "x")); o[0].Err != nil || o[0].ReplicaID != l[0].ReplicaID {
			t.Fatalf("genuine result: %+v", o[0])
		}
		if o := complete(t, s, result(w1, l[0], "y")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatalf("second report accepted: %+v", o[0])
		}
		ev := evidence(t, s, l[0].TaskID)
		if len(ev.Replicas) != 1 || ev.Replicas[0].Result == nil || ev.Replicas[0].Result.StdoutHash != store.Hash([]byte("x")) {
			t.Fatalf("second report changed the result: %+v", ev.Replicas)
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

	// Several coordinators on one store: a session belongs to the
	// coordinator holding its connection; a coordinator whose heartbeat is
	// stale is reaped by a live one — it ends, its sessions end and their
	// replicas are requeued — and the live ones' sessions are untouched.
	t.Run("Coordinators", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 4, 1)
		for _, id := range []string{"c1", "c2"} {
			if err := s.CoordinatorStart(ctx, &store.CoordinatorStartParams{ID: id, Now: now}); err != nil {
				t.Fatal(err)
			}
		}
		start := func(coord, worker string) (*store.Session, error) {
			return s.SessionStart(ctx, &store.SessionStartParams{Coordinator: coord, Worker: worker, Slots: 2, Now: now})
		}
		if _, err := start("nobody", "w0"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a session of an unknown coordinator: %v", err)
		}
		w1, err := start("c1", "w1")
		if err != nil || w1.Coordinator != "c1" {
			t.Fatalf("session %+v, %v", w1, err)
		}
		w2, err := start("c2", "w2")
		if err != nil {
			t.Fatal(err)
		}
		w3 := session(t, s, "w3") // held by no coordinator: a dead one's, for any live one
		l1, l2 := lease(t, s, w1, 2), lease(t, s, w2, 1)
		if len(l1) != 2 || len(l2) != 1 {
			t.Fatalf("leases %d, %d", len(l1), len(l2))
		}
		later := now.Add(10 * time.Second)
		if err := s.CoordinatorHeartbeat(ctx, &store.CoordinatorHeartbeatParams{ID: "c1", Now: later}); err != nil {
			t.Fatal(err)
		}
		r, err := s.CoordinatorReap(ctx, &store.CoordinatorReapParams{Self: "c1", StaleBefore: now.Add(5 * time.Second), Reason: "heartbeat stale", Now: later})
		if err != nil || len(r.Coordinators) != 1 || r.Coordinators[0] != "c2" || r.Sessions != 2 || r.Requeued != 1 {
			t.Fatalf("reap = %+v, %v; want c2 reaped, its session and w3's ended, 1 replica requeued", r, err)
		}
		if o := complete(t, s, result(w2, l2[0], "late")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatal("a result of a reaped coordinator's session accepted")
		}
		if o := complete(t, s, result(w1, l1[0], "ok")); o[0].Err != nil {
			t.Fatalf("the live coordinator's session lost its lease: %v", o[0].Err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.ReplicasQueued != 2 || c.ReplicasLeased != 1 {
			t.Fatalf("counts after the reap %+v", c)
		}
		ss, _ := s.SessionList(ctx, &store.SessionListParams{})
		for _, x := range ss {
			if open := x.EndedAt.IsZero(); open != (x.ID == w1.ID) {
				t.Fatalf("session %+v open %v after c2 was reaped", x, open)
			}
		}
		_ = w3
		// The reaped coordinator learns it at its next heartbeat, and can
		// start no session.
		if err := s.CoordinatorHeartbeat(ctx, &store.CoordinatorHeartbeatParams{ID: "c2", Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("heartbeat of a reaped coordinator: %v", err)
		}
		if _, err := start("c2", "w2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a session of a reaped coordinator: %v", err)
		}
		// Reaping again finds nothing; a fresh heartbeat is never stale.
		if r, err := s.CoordinatorReap(ctx, &store.CoordinatorReapParams{Self: "c2", StaleBefore: later, Now: later}); err != nil || len(r.Coordinators) != 0 || r.Sessions != 0 {
			t.Fatalf("reap again = %+v, %v", r, err)
		}
		// A coordinator that stops ends its sessions.
		if r, err := s.CoordinatorEnd(ctx, &store.CoordinatorEndParams{ID: "c1", Reason: "stopped", Now: later}); err != nil || r.Sessions != 1 || r.Requeued != 1 {
			t.Fatalf("end = %+v, %v", r, err)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.ReplicasQueued != 3 || c.ReplicasLeased != 0 {
			t.Fatalf("counts after c1 stopped %+v", c)
		}
		// One store, one coordinator (All): every other is ended.
		for _, id := range []string{"c3", "c4"} {
			if err := s.CoordinatorStart(ctx, &store.CoordinatorStartParams{ID: id, Now: later}); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.CoordinatorReap(ctx, &store.CoordinatorReapParams{Self: "c4", All: true, Reason: "restart", Now: later}); err != nil || len(r.Coordinators) != 1 || r.Coordinators[0] != "c3" {
			t.Fatalf("reap all = %+v, %v", r, err)
		}
		cs, err := s.CoordinatorList(ctx, 0)
		if err != nil || len(cs) != 4 {
			t.Fatalf("coordinators %+v, %v", cs, err)
		}
		for _, c := range cs {
			if live := c.EndedAt.IsZero(); live != (c.ID == "c4") {
				t.Fatalf("coordinator %+v live %v", c, live)
			}
		}
	})

	// A task whose latest event was recorded through a dead coordinator's
	// session, or long ago, is orphaned: no live verifier was told of it.
	t.Run("TaskListOrphaned", func(t *testing.T) {
		s := open(t)
		newJob(t, s, "alice", 3, 1)
		for _, id := range []string{"c1", "c2"} {
			if err := s.CoordinatorStart(ctx, &store.CoordinatorStartParams{ID: id, Now: now}); err != nil {
				t.Fatal(err)
			}
		}
		var tasks []int64
		for _, c := range []string{"c1", "c2"} {
			ss, err := s.SessionStart(ctx, &store.SessionStartParams{Coordinator: c, Worker: "w-" + c, Slots: 1, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			l := lease(t, s, ss, 1)
			complete(t, s, result(ss, l[0], "out"))
			tasks = append(tasks, l[0].TaskID)
		}
		orphans := func(stale, idle time.Time) []int64 {
			t.Helper()
			ids, err := s.TaskListOrphaned(ctx, &store.TaskListOrphanedParams{StaleBefore: stale, IdleBefore: idle})
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
		// The third task is queued: never listed.
		if got := orphans(now.Add(-time.Hour), now.Add(-time.Hour)); len(got) != 0 {
			t.Fatalf("orphans with both coordinators live: %v", got)
		}
		if got := orphans(now.Add(time.Second), now.Add(-time.Hour)); !equalInts(got, tasks) {
			t.Fatalf("orphans with both heartbeats stale: %v, want %v", got, tasks)
		}
		if got := orphans(now.Add(-time.Hour), now.Add(time.Second)); !equalInts(got, tasks) {
			t.Fatalf("orphans idle: %v, want %v", got, tasks)
		}
		if _, err := s.CoordinatorEnd(ctx, &store.CoordinatorEndParams{ID: "c2", Reason: "stopped", Now: now}); err != nil {
			t.Fatal(err)
		}
		if got := orphans(now.Add(-time.Hour), now.Add(-time.Hour)); !equalInts(got, tasks[1:]) {
			t.Fatalf("orphans after c2 stopped: %v, want %v", got, tasks[1:])
		}
		settle(t, s, tasks[1], store.TaskDone, store.VerifyNone)
		if got := orphans(now.Add(time.Second), now.Add(time.Second)); !equalInts(got, tasks[:1]) {
			t.Fatalf("orphans after one settled: %v, want %v", got, tasks[:1])
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

	t.Run("History", func(t *testing.T) { history(t, open) })

	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		in := []byte("in")
		j, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 2, Suspendable: true,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
		if err != nil || !j.Suspendable {
			t.Fatalf("job %+v %v", j, err)
		}
		w1, w2 := session(t, s, "w1"), session(t, s, "w2")
		l1 := leaseCk(t, s, w1, 5, 100, true)
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
		if a, err := add(w1, l1[0].LeaseID, 1, 101, "h1", "a"); err != nil || a.ReplicaID != r0 || a.TaskID != l1[0].TaskID || a.JobID != j.ID || a.Role != store.RoleRun {
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
		l2 := leaseCk(t, s, w1b, 5, 7, true)
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
		l3 := leaseCk(t, s, w2, 5, 999, true)
		if len(l3) != 1 || l3[0].ReplicaID == r0 || l3[0].CheckpointEvery != 100 || l3[0].Resume != nil {
			t.Fatalf("second replica %+v", l3)
		}
		// Comparing state hashes is the verifier's business: the store
		// records a differing one like any other.
		if a, err := add(w2, l3[0].LeaseID, 1, 101, "other", "a"); err != nil || a.ReplicaID != l3[0].ReplicaID {
			t.Fatalf("differing checkpoint: %+v %v", a, err)
		}
		if o := complete(t, s, store.ReplicaResult{SessionID: w2.ID, LeaseID: l3[0].LeaseID, Status: "ok", Stdout: []byte("abc"), Fuel: 300}); o[0].Err != nil {
			t.Fatal(o[0].Err)
		}
		// Both replicas' whole outputs: the checkpoints' chunks up to the
		// one resumed from, then the last segment's.
		ev := evidence(t, s, l1[0].TaskID)
		if ev.Grid != 100 || len(ev.Replicas) != 2 {
			t.Fatalf("evidence %+v", ev)
		}
		for _, r := range ev.Replicas {
			if r.Result == nil || r.Result.StdoutHash != store.Hash([]byte("abc")) || r.Result.Fuel != 300 {
				t.Fatalf("assembled output of replica %d: %+v", r.ID, r.Result)
			}
		}
		if cs := ev.Replicas[1].Checkpoints; len(cs) != 1 || cs[0].StateHash != "other" || cs[0].Account != "anon:w2" {
			t.Fatalf("second replica's checkpoints %+v", cs)
		}
		settle(t, s, l1[0].TaskID, store.TaskDone, store.VerifyQuorum)
		res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if got, _ := s.BlobGet(ctx, res[0].Result.StdoutHash); len(res) != 1 || string(got) != "abc" {
			t.Fatalf("assembled output %q", got)
		}
		c, _ := s.JobCounts(ctx, j.ID)
		if c.Checkpoints != 3 || c.Resumes != 1 || c.Mismatches != 0 || c.LostSegments != 1 || c.FuelLost != 49 {
			t.Fatalf("counts %+v", c)
		}
		cks, err := s.CheckpointList(ctx, &store.CheckpointListParams{ReplicaID: r0})
		if err != nil || len(cks) != 2 || cks[1].Seq != 2 || cks[1].Fuel != 201 || cks[1].Worker != "w1" || cks[1].Account != "anon:w1" ||
			cks[1].StdoutHash != store.Hash([]byte("b")) || cks[1].CostMS != 1.5 {
			t.Fatalf("checkpoints %+v %v", cks, err)
		}
		segs, err := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		if err != nil || len(segs) != 3 {
			t.Fatalf("segments %+v %v", segs, err)
		}
		if g := segs[0]; g.State != store.SegmentLost || g.Worker != "w1" || g.Account != "anon:w1" || g.FuelStart != 0 || g.FuelEnd != 201 || g.FuelReached != 250 || g.StartedAt.IsZero() || g.EndedAt.IsZero() {
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
		settle(t, s, ls[0].TaskID, store.TaskDone, store.VerifyNone)
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
	t.Run("TokenKinds", func(t *testing.T) {
		s := open(t)
		hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }
		for i, c := range []struct{ kind, want string }{{"", store.TokenOwner}, {store.TokenOwner, store.TokenOwner},
			{store.TokenVolunteer, store.TokenVolunteer}, {store.TokenTrusted, store.TokenTrusted}} {
			secret := string(rune('a' + i))
			tok, err := s.TokenInsert(ctx, &store.TokenInsertParams{Kind: c.kind, Owner: "alice", Hash: hash(secret), Now: now})
			if err != nil || tok.Kind != c.want {
				t.Fatalf("insert kind %q: %+v %v", c.kind, tok, err)
			}
			if got, err := s.TokenLookup(ctx, &store.TokenLookupParams{Hash: hash(secret)}); err != nil || got.Kind != c.want {
				t.Fatalf("lookup kind %q: %+v %v", c.kind, got, err)
			}
		}
		if _, err := s.TokenInsert(ctx, &store.TokenInsertParams{Kind: "admin", Owner: "alice", Hash: hash("z"), Now: now}); err == nil {
			t.Fatal("a token of an unknown kind was inserted")
		}
		toks, err := s.TokenList(ctx, &store.TokenListParams{})
		if err != nil || len(toks) != 4 || toks[0].Kind != store.TokenOwner || toks[2].Kind != store.TokenVolunteer || toks[3].Kind != store.TokenTrusted {
			t.Fatalf("list %+v %v", toks, err)
		}
		if got, err := s.TokenRevoke(ctx, &store.TokenRevokeParams{ID: toks[3].ID, Now: now}); err != nil || got.Kind != store.TokenTrusted {
			t.Fatalf("revoke %+v %v", got, err)
		}
	})

	t.Run("JobMaxError", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 1, 1)
		if j.MaxError != store.DefaultMaxError {
			t.Fatalf("default max error %v", j.MaxError)
		}
		in := []byte("x")
		j2, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, MaxError: 0.01,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
		if err != nil || j2.MaxError != 0.01 {
			t.Fatalf("job %+v %v", j2, err)
		}
		if g, err := s.JobGet(ctx, &store.JobGetParams{ID: j2.ID}); err != nil || g.MaxError != 0.01 {
			t.Fatalf("get %+v %v", g, err)
		}
		if l, _ := s.JobList(ctx, &store.JobListParams{Owner: "alice"}); len(l) != 2 || l[0].MaxError != 0.01 || l[1].MaxError != store.DefaultMaxError {
			t.Fatalf("list %+v", l)
		}
		ev := evidence(t, s, lease(t, s, session(t, s, "w"), 1)[0].TaskID)
		if ev.Job.MaxError == 0 {
			t.Fatalf("evidence job %+v", ev.Job)
		}
	})

	// One account's workers never check each other: an account gets no
	// replica of a task it holds or ran another replica of, ran a segment
	// of, or uploaded a checkpoint of (an audit's copies too). It may
	// resume its own replica. A banned account gets nothing.
	// Exclusion is relative to what a replica will be compared with: an
	// audit excludes the audited replica's accounts only (one auditor may
	// check several links of one chain); a run replica excludes the other
	// run chains' accounts, not the auditors'; a replica proved wrong or
	// voided excludes no one.
	t.Run("VerificationFirst", func(t *testing.T) {
		s := open(t)
		newSuspJob(t, s, 3, 1)
		a1 := sessionAs(t, s, "a1", "alice")
		l := leaseCk(t, s, a1, 1, 100, true)
		complete(t, s, store.ReplicaResult{SessionID: a1.ID, LeaseID: l[0].LeaseID, Status: "ok", Fuel: 50})
		p, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: l[0].TaskID, Role: store.RoleRun, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "b1", "bob"), 1, 100, true); len(got) != 1 || got[0].ReplicaID != p {
			t.Fatalf("bob gets %+v, want the partner %d before the job's older queued replicas", got, p)
		}
	})

	// An account on probation leases only verification work (VerifyOnly):
	// audits, replicas beyond a task's first, and work of jobs that verify
	// nothing. AccountPending counts its reported, unsettled claims of
	// verifying jobs by kind; a settled task, a lie or a void drops out.
	t.Run("Probation", func(t *testing.T) {
		s := open(t)
		newSuspJob(t, s, 3, 1) // max error: the default (verifies)
		unverified, err := s.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, MaxError: 1, Priority: -1,
			Blobs: [][]byte{module, []byte("u")}, Tasks: []store.TaskSpec{{StdinHash: store.Hash([]byte("u"))}}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		pending := func(acc string) store.Pending {
			t.Helper()
			p, err := s.AccountPending(ctx, acc)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		verifyOnly := func(ss *store.Session, max int) []*store.Lease {
			t.Helper()
			ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: max,
				Deadline: now.Add(time.Minute), Now: now, Probation: &store.LeaseProbation{Max: max, VerifyOnly: true}})
			if err != nil {
				t.Fatal(err)
			}
			return ls
		}
		if p := pending("anon:fresh"); p != (store.Pending{}) {
			t.Fatalf("an account never seen has pending %+v", p)
		}
		a1 := sessionAs(t, s, "a1", "alice")
		la := leaseCk(t, s, a1, 1, 100, true)
		if len(la) != 1 || !la[0].Verifies {
			t.Fatalf("alice leases %+v (of a job that verifies)", la)
		}
		if p := pending("alice"); p != (store.Pending{}) {
			t.Fatalf("a held lease is no claim yet: %+v", p)
		}
		complete(t, s, store.ReplicaResult{SessionID: a1.ID, LeaseID: la[0].LeaseID, Status: "ok", Fuel: 50})
		if p := pending("alice"); p != (store.Pending{Own: 1}) {
			t.Fatalf("alice after her result: %+v", p)
		}
		// Bob on probation: none of the job's first replicas, only the
		// job that verifies nothing — and, once it exists, the partner.
		b1 := sessionAs(t, s, "b1", "bob")
		got := verifyOnly(b1, 5)
		if len(got) != 1 || got[0].JobID != unverified.ID || got[0].Verifies {
			t.Fatalf("bob on probation leases %+v, want only the unverified job's task", got)
		}
		partner, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: la[0].TaskID, Role: store.RoleRun, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		got = verifyOnly(b1, 5)
		if len(got) != 1 || got[0].ReplicaID != partner {
			t.Fatalf("bob on probation leases %+v, want the partner %d", got, partner)
		}
		complete(t, s, store.ReplicaResult{SessionID: b1.ID, LeaseID: got[0].LeaseID, Status: "ok", Fuel: 50})
		if p := pending("bob"); p != (store.Pending{Verification: 1}) {
			t.Fatalf("bob after his partner result: %+v (the unverified job's result is no claim to verify)", p)
		}
		// An audit is verification work too.
		a2 := sessionAs(t, s, "a2", "alice")
		lb := leaseCk(t, s, a2, 1, 100, true)
		complete(t, s, store.ReplicaResult{SessionID: a2.ID, LeaseID: lb[0].LeaseID, Status: "ok", Fuel: 50})
		audit, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: lb[0].TaskID, Role: store.RoleAudit, AuditOf: lb[0].ReplicaID, AuditSeq: 1, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		b2 := sessionAs(t, s, "b2", "bob")
		la2 := verifyOnly(b2, 5)
		if len(la2) != 1 || la2[0].ReplicaID != audit {
			t.Fatalf("bob on probation leases %+v, want the audit %d", la2, audit)
		}
		// Bob's audit result is a claim until its link is found to agree
		// (verdict agreed): then it has settled, whatever else the task
		// still waits for — other audits that accounts on probation must
		// be able to take (TestWorkerFailsOverVerified hung when they
		// could not).
		complete(t, s, store.ReplicaResult{SessionID: b2.ID, LeaseID: la2[0].LeaseID, Status: "ok", Fuel: 50})
		if p := pending("bob"); p != (store.Pending{Verification: 2}) {
			t.Fatalf("bob after his audit result: %+v", p)
		}
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: audit, Verdict: store.VerdictAgreed, Now: now}); err != nil {
			t.Fatal(err)
		}
		if p := pending("bob"); p != (store.Pending{Verification: 1}) {
			t.Fatalf("bob after his audit agreed: %+v", p)
		}
		if p := pending("alice"); p != (store.Pending{Own: 2}) {
			t.Fatalf("alice with two results: %+v", p)
		}
		// Settling the first task settles both accounts' claims on it; a
		// replica proved wrong is no claim either.
		settle(t, s, la[0].TaskID, store.TaskDone, store.VerifyQuorum)
		if p := pending("alice"); p != (store.Pending{Own: 1}) {
			t.Fatalf("alice after her first task settled: %+v", p)
		}
		if p := pending("bob"); p != (store.Pending{}) {
			t.Fatalf("bob after the task he partnered settled: %+v", p)
		}
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: lb[0].ReplicaID, Verdict: store.VerdictLied, Now: now}); err != nil {
			t.Fatal(err)
		}
		if p := pending("alice"); p != (store.Pending{}) {
			t.Fatalf("alice after her second result was proved wrong: %+v", p)
		}

		// Max caps the leases of verifying jobs only; Max 0 leaves only
		// the work of jobs that verify nothing.
		s2 := open(t)
		newSuspJob(t, s2, 4, 1)
		p := &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, MaxError: 1, Priority: -1, Blobs: [][]byte{module}, Now: now}
		for _, in := range []string{"u1", "u2", "u3", "u4"} {
			p.Blobs = append(p.Blobs, []byte(in))
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash([]byte(in))})
		}
		if _, err := s2.JobInsert(ctx, p); err != nil {
			t.Fatal(err)
		}
		leaseP := func(ss *store.Session, max int, pr *store.LeaseProbation) (verifying, other int) {
			t.Helper()
			ls, err := s2.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: max,
				Deadline: now.Add(time.Minute), Now: now, Probation: pr})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.Verifies {
					verifying++
				} else {
					other++
				}
			}
			return
		}
		if v, o := leaseP(sessionAs(t, s2, "c1", "carol"), 3, &store.LeaseProbation{Max: 1}); v != 1 || o != 2 {
			t.Fatalf("carol (probation, 1 of verifying work, asks 3) leases %d of verifying jobs and %d others, want 1 and 2", v, o)
		}
		if v, o := leaseP(sessionAs(t, s2, "d1", "dave"), 5, &store.LeaseProbation{Max: 0}); v != 0 || o != 2 {
			t.Fatalf("dave (probation, none of verifying work) leases %d of verifying jobs and %d others, want 0 and 2", v, o)
		}
		if v, o := leaseP(sessionAs(t, s2, "e1", "erin"), 5, nil); v != 3 || o != 0 {
			t.Fatalf("erin (no probation) leases %d of verifying jobs and %d others, want the 3 left", v, o)
		}
	})

	// An audit of link k is never leased to whoever computed that link,
	// but may go to an account that computed other links of the chain:
	// with two accounts every link of a chain they shared can be checked.
	t.Run("AuditExcludesTheLinksComputer", func(t *testing.T) {
		s := open(t)
		newSuspJob(t, s, 1, 1)
		a1 := sessionAs(t, s, "a1", "alice")
		l := leaseCk(t, s, a1, 1, 100, true)
		r, task := l[0].ReplicaID, l[0].TaskID
		ckpt(t, s, a1, l[0], 1, 101, "h1", "a")
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: a1.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		b1 := sessionAs(t, s, "b1", "bob")
		lb := leaseCk(t, s, b1, 1, 100, true)
		if len(lb) != 1 || lb[0].ReplicaID != r {
			t.Fatalf("bob resumes %+v", lb)
		}
		ckpt(t, s, b1, lb[0], 2, 201, "h2", "b")
		complete(t, s, store.ReplicaResult{SessionID: b1.ID, LeaseID: lb[0].LeaseID, Status: "ok", Fuel: 250})
		audit := func(seq uint64) int64 {
			id, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: seq, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		x1 := audit(1) // alice's link
		if got := leaseCk(t, s, sessionAs(t, s, "a2", "alice"), 5, 100, true); len(got) != 0 {
			t.Fatalf("alice audits her own link: %+v", got[0])
		}
		if got := leaseCk(t, s, sessionAs(t, s, "b2", "bob"), 5, 100, true); len(got) != 1 || got[0].ReplicaID != x1 {
			t.Fatalf("bob audits alice's link: %+v", got)
		}
		x2 := audit(2) // bob's link
		x3 := audit(3) // the final link, bob's
		if got := leaseCk(t, s, sessionAs(t, s, "b3", "bob"), 5, 100, true); len(got) != 0 {
			t.Fatalf("bob audits his own link: %+v", got[0])
		}
		got := leaseCk(t, s, sessionAs(t, s, "a3", "alice"), 5, 100, true)
		if len(got) != 1 || got[0].ReplicaID != x2 {
			t.Fatalf("alice audits bob's link: %+v", got)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "a4", "alice"), 5, 100, true); len(got) != 1 || got[0].ReplicaID != x3 {
			t.Fatalf("alice audits bob's final link: %+v", got)
		}
	})

	t.Run("ExclusionRelative", func(t *testing.T) {
		s := open(t)
		newSuspJob(t, s, 1, 1)
		a1 := sessionAs(t, s, "a1", "alice")
		l := leaseCk(t, s, a1, 1, 100, true)
		r := l[0].ReplicaID
		ckpt(t, s, a1, l[0], 1, 101, "h1", "a")
		ckpt(t, s, a1, l[0], 2, 201, "h2", "b")
		complete(t, s, store.ReplicaResult{SessionID: a1.ID, LeaseID: l[0].LeaseID, Status: "ok", Stdout: []byte("abc"), Fuel: 250})
		task := l[0].TaskID
		for _, seq := range []uint64{2, 3} {
			if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: seq, Now: now}); err != nil {
				t.Fatal(err)
			}
		}
		if got := leaseCk(t, s, sessionAs(t, s, "a2", "alice"), 5, 100, true); len(got) != 0 {
			t.Fatalf("alice audits her own replica: %+v", got[0])
		}
		b1 := sessionAs(t, s, "b1", "bob")
		if got := leaseCk(t, s, b1, 1, 100, true); len(got) != 1 {
			t.Fatalf("bob's first audit: %+v", got)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "b2", "bob"), 1, 100, true); len(got) != 1 {
			t.Fatalf("bob's second worker may audit another link of alice's chain: %+v", got)
		}
		// A partner run replica: not to alice (another run chain), but to
		// bob, who only audited.
		p, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleRun, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "a3", "alice"), 5, 100, true); len(got) != 0 {
			t.Fatalf("alice partners her own chain: %+v", got[0])
		}
		if got := leaseCk(t, s, sessionAs(t, s, "b3", "bob"), 5, 100, true); len(got) != 1 || got[0].ReplicaID != p {
			t.Fatalf("bob partners alice's chain: %+v", got)
		}
		// Alice's replica proved wrong: she may compute the task again (her
		// account's ban, not this rule, keeps a liar out).
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: r, Verdict: store.VerdictLied, Now: now}); err != nil {
			t.Fatal(err)
		}
		q, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleRun, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "a4", "alice"), 5, 100, true); len(got) != 1 || got[0].ReplicaID != q {
			t.Fatalf("alice after her replica was discarded: %+v", got)
		}
	})

	t.Run("AccountExclusion", func(t *testing.T) {
		s := open(t)
		j := newSuspJob(t, s, 1, 3)
		a1, a2 := sessionAs(t, s, "a1", "alice"), sessionAs(t, s, "a2", "alice")
		b1, c1 := sessionAs(t, s, "b1", "bob"), sessionAs(t, s, "c1", "carol")
		la := leaseCk(t, s, a1, 5, 100, true)
		if len(la) != 1 {
			t.Fatalf("alice's first worker: %d leases", len(la))
		}
		if got := leaseCk(t, s, a2, 5, 100, true); len(got) != 0 {
			t.Fatalf("alice's second worker got a replica of a task alice holds: %+v", got[0])
		}
		r0 := la[0].ReplicaID
		ckpt(t, s, a1, la[0], 1, 101, "h1", "a")
		// a1 leaves: r0 goes back to the queue, alice's segment and
		// checkpoint stay.
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: a1.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		if got := leaseCk(t, s, a2, 5, 100, true); len(got) != 1 || got[0].ReplicaID != r0 || got[0].Resume == nil || got[0].Resume.Seq != 1 {
			t.Fatalf("alice resumes her own replica: %+v", got)
		}
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: a2.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		// Carol takes r0 on; alice now holds nothing of the task, but ran
		// segments and a checkpoint of r0: never r1 nor r2.
		lc := leaseCk(t, s, c1, 5, 100, true)
		if len(lc) != 1 || lc[0].ReplicaID != r0 {
			t.Fatalf("carol: %+v", lc)
		}
		a3 := sessionAs(t, s, "a3", "alice")
		if got := leaseCk(t, s, a3, 5, 100, true); len(got) != 0 {
			t.Fatalf("alice got another replica of a task she ran a segment of: %+v", got[0])
		}
		lb := leaseCk(t, s, b1, 5, 100, true)
		if len(lb) != 1 || lb[0].ReplicaID == r0 {
			t.Fatalf("bob: %+v", lb)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "b2", "bob"), 5, 100, true); len(got) != 0 {
			t.Fatalf("bob's second worker got a replica of a task bob holds: %+v", got[0])
		}
		if got := leaseCk(t, s, sessionAs(t, s, "c2", "carol"), 5, 100, true); len(got) != 0 {
			t.Fatalf("carol's second worker got a replica of a task carol holds: %+v", got[0])
		}
		// The worker-name rule still holds across accounts.
		if got := leaseCk(t, s, sessionAs(t, s, "c1", "dave"), 5, 100, true); len(got) != 0 {
			t.Fatalf("worker c1 under another account got a second replica: %+v", got[0])
		}
		d1 := sessionAs(t, s, "d1", "dave")
		if got := leaseCk(t, s, d1, 5, 100, true); len(got) != 1 {
			t.Fatalf("dave, a stranger to the task: %d leases", len(got))
		}
		segs, err := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		if err != nil || len(segs) != 2 || segs[0].Account != "alice" || segs[1].Account != "alice" || segs[1].Worker != "a2" {
			t.Fatalf("segments %+v %v", segs, err)
		}
		ev := evidence(t, s, la[0].TaskID)
		if r := ev.Replicas[0]; r.ID != r0 || r.Worker != "c1" || r.Account != "carol" || len(r.Accounts) != 1 || r.Accounts[0] != "alice" ||
			len(r.Checkpoints) != 1 || r.Checkpoints[0].Account != "alice" {
			t.Fatalf("r0 %+v", r)
		}

		// An audit's copied checkpoints: alice ran the whole of task 2's
		// replica; its audit carries her checkpoints.
		j2 := newSuspJob(t, s, 1, 1)
		a4 := sessionAs(t, s, "a4", "alice")
		l := leaseCk(t, s, a4, 5, 100, true)
		if len(l) != 1 || l[0].JobID != j2.ID {
			t.Fatalf("alice on job 2: %+v", l)
		}
		ckpt(t, s, a4, l[0], 1, 101, "h1", "a")
		ckpt(t, s, a4, l[0], 2, 201, "h2", "b")
		complete(t, s, store.ReplicaResult{SessionID: a4.ID, LeaseID: l[0].LeaseID, Status: "ok", Stdout: []byte("c"), Fuel: 250})
		x, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: l[0].TaskID, Role: store.RoleAudit, AuditOf: l[0].ReplicaID, AuditSeq: 2, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := leaseCk(t, s, sessionAs(t, s, "a5", "alice"), 5, 100, true); len(got) != 0 {
			t.Fatalf("alice got the audit of her own replica: %+v", got[0])
		}
		if got := leaseCk(t, s, sessionAs(t, s, "e1", "erin"), 5, 100, true); len(got) != 1 || got[0].ReplicaID != x {
			t.Fatalf("erin: %+v", got)
		}

		// A segment lost before any checkpoint claimed nothing: it does
		// not exclude (a small crowd would otherwise run out of strangers
		// to a task whose replicas moved between workers).
		newJob(t, s, "alice", 1, 2)
		g1 := sessionAs(t, s, "g1", "gina")
		if got := lease(t, s, g1, 5); len(got) != 1 {
			t.Fatalf("gina: %d leases", len(got))
		}
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: g1.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		if got := lease(t, s, sessionAs(t, s, "h1", "hank"), 1); len(got) != 1 {
			t.Fatalf("hank: %d leases", len(got))
		}
		if got := lease(t, s, sessionAs(t, s, "g2", "gina"), 5); len(got) != 1 {
			t.Fatalf("gina, whose lost segment claimed nothing: %d leases", len(got))
		}

		// Banned: nothing at all.
		newJob(t, s, "alice", 2, 1)
		if _, err := s.AccountAdd(ctx, &store.AccountAddParams{ID: "mallory", Ban: true, Now: now}); err != nil {
			t.Fatal(err)
		}
		if got := lease(t, s, sessionAs(t, s, "m1", "mallory"), 5); len(got) != 0 {
			t.Fatalf("a banned account got %d leases", len(got))
		}
		// Frank: the new job's two (gina took the other replica).
		if got := lease(t, s, sessionAs(t, s, "f1", "frank"), 5); len(got) != 2 {
			t.Fatalf("frank got %d leases", len(got))
		}
		ss, err := s.SessionList(ctx, &store.SessionListParams{})
		if err != nil || ss[0].Account != "frank" || ss[1].Account != "mallory" {
			t.Fatalf("sessions %+v %v", ss, err)
		}
	})

	t.Run("AuditReplica", func(t *testing.T) {
		s := open(t)
		j := newSuspJob(t, s, 1, 1)
		a1 := sessionAs(t, s, "a1", "alice")
		l := leaseCk(t, s, a1, 1, 100, true)
		r := l[0].ReplicaID
		ckpt(t, s, a1, l[0], 1, 101, "h1", "a")
		ckpt(t, s, a1, l[0], 2, 201, "h2", "b")
		ckpt(t, s, a1, l[0], 3, 301, "h3", "c")
		complete(t, s, store.ReplicaResult{SessionID: a1.ID, LeaseID: l[0].LeaseID, Status: "ok", Stdout: []byte("abcd"), Fuel: 350})
		task := l[0].TaskID

		for _, p := range []store.ReplicaAddParams{
			{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: 0},        // no link 0
			{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: 5},        // beyond the last checkpoint + 1
			{TaskID: task, Role: store.RoleAudit, AuditOf: r + 1000, AuditSeq: 1}, // no such replica
			{TaskID: task, Role: "judge"},
		} {
			if id, err := s.ReplicaAdd(ctx, &p); err == nil {
				t.Fatalf("ReplicaAdd %+v = %d, want an error", p, id)
			}
		}
		if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task + 1000, Role: store.RoleRun, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ReplicaAdd on no task: %v", err)
		}
		// Another task's replica is not this task's to audit.
		j2 := newSuspJob(t, s, 1, 1)
		ev2 := evidence(t, s, task+1)
		if ev2.Job.ID != j2.ID {
			t.Fatalf("second job's task %+v", ev2.Task)
		}
		if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task + 1, Role: store.RoleAudit, AuditOf: r, AuditSeq: 1, Now: now}); err == nil {
			t.Fatal("audited a replica of another task")
		}
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j2.ID, Owner: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}

		x, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: 3, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		last, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: 4, Now: now})
		if err != nil {
			t.Fatalf("audit of the link past the last checkpoint: %v", err)
		}
		first, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleAudit, AuditOf: r, AuditSeq: 1, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ev := evidence(t, s, task)
		if len(ev.Replicas) != 4 || ev.Replicas[1].ID != x || ev.Replicas[2].ID != last || ev.Replicas[3].ID != first {
			t.Fatalf("replicas %+v", ev.Replicas)
		}
		xi := ev.Replicas[1]
		if xi.Role != store.RoleAudit || xi.AuditOf != r || xi.AuditSeq != 3 || xi.State != store.ReplicaQueued || xi.Result != nil ||
			len(xi.Accounts) != 1 || xi.Accounts[0] != "alice" || len(xi.Checkpoints) != 2 {
			t.Fatalf("audit replica %+v", xi)
		}
		for i, c := range xi.Checkpoints {
			o := ev.Replicas[0].Checkpoints[i]
			if c.ReplicaID != x || c.Seq != o.Seq || c.Fuel != o.Fuel || c.StateHash != o.StateHash || c.SnapshotHash != o.SnapshotHash ||
				c.StdoutHash != o.StdoutHash || c.Account != "alice" || c.Worker != "a1" {
				t.Fatalf("copy %d: %+v of %+v", i, c, o)
			}
		}
		if len(ev.Replicas[2].Checkpoints) != 3 || len(ev.Replicas[3].Checkpoints) != 0 || ev.Replicas[3].Accounts != nil && len(ev.Replicas[3].Accounts) != 0 {
			t.Fatalf("audits of links 4 and 1: %+v %+v", ev.Replicas[2], ev.Replicas[3])
		}
		if cks, err := s.CheckpointList(ctx, &store.CheckpointListParams{ReplicaID: x}); err != nil || len(cks) != 2 {
			t.Fatalf("CheckpointList of the audit %+v %v", cks, err)
		}

		// Bob's lease of the audit resumes from checkpoint 2, like any
		// resumed segment.
		b1 := sessionAs(t, s, "b1", "bob")
		lb := leaseCk(t, s, b1, 1, 7, true)
		if len(lb) != 1 || lb[0].ReplicaID != x || lb[0].CheckpointEvery != 100 || lb[0].Resume == nil {
			t.Fatalf("audit lease %+v (want replica %d)", lb[0], x)
		}
		if rs := lb[0].Resume; rs.Seq != 2 || rs.Fuel != 201 || rs.StateHash != "h2" || rs.SnapshotHash != store.Hash([]byte("snaph2")) {
			t.Fatalf("resumes from %+v", rs)
		}
		if a := ckpt(t, s, b1, lb[0], 3, 301, "h3", "c"); a.Role != store.RoleAudit || a.ReplicaID != x {
			t.Fatalf("audit checkpoint %+v", a)
		}
		o := complete(t, s, store.ReplicaResult{SessionID: b1.ID, LeaseID: lb[0].LeaseID, Status: "ok", Stdout: []byte("cd"), Fuel: 350})
		if o[0].Err != nil || o[0].Role != store.RoleAudit || o[0].ReplicaID != x || o[0].TaskID != task {
			t.Fatalf("audit outcome %+v", o[0])
		}
		ev = evidence(t, s, task)
		xi = ev.Replicas[1]
		if xi.State != store.ReplicaDone || xi.Result == nil || xi.Result.StdoutHash != store.Hash([]byte("abcd")) || xi.Result.Fuel != 350 ||
			xi.Worker != "b1" || xi.Account != "bob" || len(xi.Accounts) != 2 || xi.Accounts[0] != "alice" || xi.Accounts[1] != "bob" ||
			len(xi.Checkpoints) != 3 || xi.Checkpoints[2].Account != "bob" {
			t.Fatalf("audit done %+v %+v", xi, xi.Result)
		}
		// The audit of the link past the last checkpoint resumes from it;
		// the audit of link 1 runs from the start.
		lc := leaseCk(t, s, sessionAs(t, s, "c1", "carol"), 5, 100, true)
		if len(lc) != 1 || lc[0].ReplicaID != last || lc[0].Resume == nil || lc[0].Resume.Seq != 3 {
			t.Fatalf("carol's leases %+v", lc)
		}
		lc = leaseCk(t, s, sessionAs(t, s, "d1", "dave"), 5, 100, true)
		if len(lc) != 1 || lc[0].ReplicaID != first || lc[0].Resume != nil {
			t.Fatalf("dave's leases %+v", lc)
		}
		if st := settle(t, s, task, store.TaskDone, store.VerifyAudit); st.JobID != j.ID || len(st.Revoked) != 2 {
			t.Fatalf("settled %+v", st)
		}
		if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task, Role: store.RoleRun, Now: now}); !errors.Is(err, store.ErrTaskSettled) {
			t.Fatalf("ReplicaAdd on a settled task: %v", err)
		}
		if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: task + 1, Role: store.RoleRun, Now: now}); !errors.Is(err, store.ErrTaskSettled) {
			t.Fatalf("ReplicaAdd on a cancelled task: %v", err)
		}
	})

	t.Run("ReplicaVerdictRevokes", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 1, 3)
		wa, wb := sessionAs(t, s, "wa", "alice"), sessionAs(t, s, "wb", "bob")
		la, lb := lease(t, s, wa, 1), lease(t, s, wb, 1)
		complete(t, s, result(wa, la[0], "x"))
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: la[0].ReplicaID + 1000, Verdict: store.VerdictLied, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("verdict on no replica: %v", err)
		}
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: la[0].ReplicaID, Verdict: "maybe", Now: now}); err == nil {
			t.Fatal("an unknown verdict was recorded")
		}
		rv, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: lb[0].ReplicaID, Verdict: store.VerdictLied, Now: now})
		if err != nil || len(rv) != 1 || rv[0].LeaseID != lb[0].LeaseID || rv[0].SessionID != wb.ID {
			t.Fatalf("verdict on a leased replica: %+v %v", rv, err)
		}
		if o := complete(t, s, result(wb, lb[0], "y")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatalf("result of a revoked replica: %+v", o[0])
		}
		if rv, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: la[0].ReplicaID, Verdict: store.VerdictAgreed, Now: now}); err != nil || len(rv) != 0 {
			t.Fatalf("verdict on a done replica: %+v %v", rv, err)
		}
		ev := evidence(t, s, la[0].TaskID)
		queued := ev.Replicas[2].ID
		if rv, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: queued, Verdict: store.VerdictVoid, Now: now}); err != nil || len(rv) != 0 {
			t.Fatalf("verdict on a queued replica: %+v %v", rv, err)
		}
		ev = evidence(t, s, la[0].TaskID)
		for i, want := range []struct {
			st store.ReplicaState
			v  store.Verdict
		}{{store.ReplicaDone, store.VerdictAgreed}, {store.ReplicaCancelled, store.VerdictLied}, {store.ReplicaCancelled, store.VerdictVoid}} {
			if r := ev.Replicas[i]; r.State != want.st || r.Verdict != want.v {
				t.Fatalf("replica %d: %+v, want %v %v", i, r, want.st, want.v)
			}
		}
		if ev.Replicas[1].Result != nil || ev.Replicas[1].Account != "bob" && ev.Replicas[1].Account != "" {
			t.Fatalf("revoked replica %+v", ev.Replicas[1])
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.ReplicasQueued != 0 || c.ReplicasLeased != 0 || c.TasksPending != 1 {
			t.Fatalf("counts %+v", c)
		}
		segs, _ := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		if len(segs) != 2 || segs[1].State != store.SegmentRevoked || segs[1].Account != "bob" {
			t.Fatalf("segments %+v", segs)
		}
		if got := lease(t, s, sessionAs(t, s, "wc", "carol"), 5); len(got) != 0 {
			t.Fatalf("leased a replica with a verdict: %+v", got[0])
		}
	})

	t.Run("TaskSettleAndNumbering", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 3, 2)
		wa, wb := sessionAs(t, s, "wa", "alice"), sessionAs(t, s, "wb", "bob")
		la, lb := lease(t, s, wa, 5), lease(t, s, wb, 5)
		if len(la) != 3 || len(lb) != 3 {
			t.Fatalf("leases %d %d", len(la), len(lb))
		}
		for i := range la {
			complete(t, s, store.ReplicaResult{SessionID: wa.ID, LeaseID: la[i].LeaseID, Status: "ok", Stdout: []byte{'0' + byte(i)}, Fuel: uint64(10 * (i + 1))})
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksVerifying != 3 || c.ReplicasLeased != 3 {
			t.Fatalf("counts %+v", c)
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[0].TaskID + 1000, State: store.TaskDone, Verification: store.VerifyNone, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("settle no task: %v", err)
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[0].TaskID, State: store.TaskPending, Verification: store.VerifyNone, Now: now}); err == nil {
			t.Fatal("settled as pending")
		}
		// Task 0 settles on alice's word: bob's lease is taken back.
		st := settle(t, s, la[0].TaskID, store.TaskDone, store.VerifyNone)
		if st.JobID != j.ID || st.JobFinished || len(st.Revoked) != 1 || st.Revoked[0].LeaseID != lb[0].LeaseID || st.Revoked[0].SessionID != wb.ID {
			t.Fatalf("settled %+v", st)
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[0].TaskID, State: store.TaskDone, Verification: store.VerifyNone, Now: now}); !errors.Is(err, store.ErrTaskSettled) {
			t.Fatalf("settled twice: %v", err)
		}
		if o := complete(t, s, result(wb, lb[0], "late")); !errors.Is(o[0].Err, store.ErrLeaseNotHeld) {
			t.Fatalf("result after settlement: %+v", o[0])
		}
		ev := evidence(t, s, la[0].TaskID)
		if ev.Task.State != store.TaskDone || ev.Replicas[1].State != store.ReplicaCancelled || ev.Replicas[1].Verdict != store.VerdictVoid {
			t.Fatalf("after settlement %+v %+v", ev.Task, ev.Replicas[1])
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksVerifying != 2 || c.ReplicasLeased != 2 || c.TasksDone != 1 || c.Fuel != 10 {
			t.Fatalf("counts %+v", c)
		}
		// Task 2 is disputed, with why; task 1 done last finishes the job.
		ev = evidence(t, s, la[2].TaskID)
		st, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[2].TaskID, State: store.TaskDisputed, Result: *ev.Replicas[0].Result,
			Verification: store.VerifyTrusted, Note: "the trusted re-run failed", Now: now})
		if err != nil || st.JobFinished || len(st.Revoked) != 1 {
			t.Fatalf("disputed %+v %v", st, err)
		}
		ev = evidence(t, s, la[1].TaskID)
		// The evidence a settlement earns is added to the accounts' records
		// in its transaction.
		if _, err := s.AccountAdd(ctx, &store.AccountAddParams{ID: "carol", Verified: 5, Now: now}); err != nil {
			t.Fatal(err)
		}
		earned := []store.AccountAddParams{{ID: "carol", Verified: 1, AuditsRun: 1}, {ID: "alice", Verified: 2, AuditsPassed: 1}}
		st, err = s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[1].TaskID, State: store.TaskDone, Result: *ev.Replicas[0].Result,
			Verification: store.VerifyAudit, VerifiedBy: []string{"alice", "carol"}, Accounts: earned, Now: now.Add(time.Second)})
		if err != nil || !st.JobFinished || len(st.Revoked) != 1 {
			t.Fatalf("last %+v %v", st, err)
		}
		// Settled already: nothing is added again.
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: la[1].TaskID, State: store.TaskDone, Result: *ev.Replicas[0].Result,
			Verification: store.VerifyAudit, Accounts: earned, Now: now.Add(time.Second)}); !errors.Is(err, store.ErrTaskSettled) {
			t.Fatalf("settled twice: %v", err)
		}
		if a, err := s.AccountGet(ctx, "alice"); err != nil || a.Verified != 2 || a.AuditsPassed != 1 || a.AuditsRun != 0 || !a.BannedAt.IsZero() {
			t.Fatalf("alice after settlement %+v %v", a, err)
		}
		if a, err := s.AccountGet(ctx, "carol"); err != nil || a.Verified != 6 || a.AuditsRun != 1 || !a.CreatedAt.Equal(now) {
			t.Fatalf("carol after settlement %+v %v", a, err)
		}
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != 3 {
			t.Fatalf("results %+v %v", res, err)
		}
		for i, want := range []struct {
			task  int64
			state store.TaskState
			ver   string
			by    int
			note  string
		}{{la[0].TaskID, store.TaskDone, store.VerifyNone, 1, ""}, {la[2].TaskID, store.TaskDisputed, store.VerifyTrusted, 0, "the trusted re-run failed"},
			{la[1].TaskID, store.TaskDone, store.VerifyAudit, 2, ""}} {
			r := res[i]
			if r.ID != want.task || r.ResultSeq != int64(i+1) || r.State != want.state || r.Verification != want.ver || len(r.VerifiedBy) != want.by || r.Note != want.note {
				t.Fatalf("result %d: %+v", i, r)
			}
		}
		if res[2].VerifiedBy[1] != "carol" || !res[2].FinishedAt.Equal(now.Add(time.Second)) || res[2].Result.StdoutHash != store.Hash([]byte("1")) {
			t.Fatalf("last result %+v", res[2])
		}
		c, _ := s.JobCounts(ctx, j.ID)
		if c.TasksDone != 2 || c.TasksDisputed != 1 || c.TasksPending != 0 || c.TasksVerifying != 0 || c.Fuel != 30 || c.ReplicasLeased != 0 || c.ReplicasQueued != 0 {
			t.Fatalf("counts %+v", c)
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID}); jj.State != store.JobDone || jj.FinishedAt.IsZero() {
			t.Fatalf("job %+v", jj)
		}
		segs, _ := s.SegmentList(ctx, &store.SegmentListParams{JobID: j.ID})
		revoked := 0
		for _, g := range segs {
			if g.State == store.SegmentRevoked {
				revoked++
			}
		}
		if len(segs) != 6 || revoked != 3 {
			t.Fatalf("segments %+v", segs)
		}
		// A cancelled job's tasks are settled already.
		j2 := newJob(t, s, "alice", 1, 1)
		w := session(t, s, "w")
		l := lease(t, s, w, 1)
		complete(t, s, result(w, l[0], "x"))
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j2.ID, Owner: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: l[0].TaskID, State: store.TaskDone, Verification: store.VerifyNone, Now: now}); !errors.Is(err, store.ErrTaskSettled) {
			t.Fatalf("settled a cancelled task: %v", err)
		}
	})

	t.Run("TaskSettleBatch", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 4, 2)
		j2 := newJob(t, s, "bob", 1, 1)
		wa, wb := sessionAs(t, s, "wa", "alice"), sessionAs(t, s, "wb", "bob")
		la := lease(t, s, wa, 10) // j's first replicas and j2's one
		lb := lease(t, s, wb, 10) // j's second replicas
		if len(la) != 5 || len(lb) != 4 {
			t.Fatalf("leases %d %d", len(la), len(lb))
		}
		byTask := map[int64]*store.Lease{}
		for i, l := range la {
			complete(t, s, store.ReplicaResult{SessionID: wa.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: []byte{'0' + byte(i)}, Fuel: uint64(10 * (i + 1))})
			byTask[l.TaskID] = l
		}
		var t0, t1, t2, t3, u0 int64 // j's tasks in order, j2's
		for _, l := range la {
			if l.JobID == j2.ID {
				u0 = l.TaskID
			}
		}
		for _, l := range lb {
			switch {
			case t0 == 0:
				t0 = l.TaskID
			case t1 == 0:
				t1 = l.TaskID
			case t2 == 0:
				t2 = l.TaskID
			default:
				t3 = l.TaskID
			}
		}
		res := func(task int64) store.Result {
			t.Helper()
			ev := evidence(t, s, task)
			for _, r := range ev.Replicas {
				if r.Result != nil {
					return *r.Result
				}
			}
			t.Fatalf("task %d: no result", task)
			return store.Result{}
		}
		grant := func(task int64, fuel uint64, acct string) store.LedgerEntry {
			l := byTask[task]
			return store.LedgerEntry{Kind: store.LedgerGrant, Account: acct, JobID: l.JobID, TaskID: task, ReplicaID: l.ReplicaID, Link: 1, Fuel: fuel, Day: 1, At: now}
		}
		later := now.Add(time.Second)
		ps := []*store.TaskSettleParams{
			{TaskID: t0, State: store.TaskDone, Result: res(t0), Verification: store.VerifyNone, VerifiedBy: []string{"alice"},
				Ledger: []store.LedgerEntry{grant(t0, 10, "alice")}, Accounts: []store.AccountAddParams{{ID: "alice", Verified: 1}, {ID: "carol", AuditsRun: 1}}, Now: now},
			{TaskID: t1, State: store.TaskPending, Verification: store.VerifyNone, Now: now},                                   // invalid
			{TaskID: t1, State: store.TaskDisputed, Result: res(t1), Verification: store.VerifyTrusted, Note: "why", Now: now}, // disputed
			{TaskID: t0, State: store.TaskDone, Result: res(t0), Verification: store.VerifyNone,
				Ledger: []store.LedgerEntry{grant(t0, 10, "alice")}, Accounts: []store.AccountAddParams{{ID: "alice", Verified: 100}}, Now: now}, // twice
			{TaskID: t3 + 1000, State: store.TaskDone, Verification: store.VerifyNone, Now: now}, // no such task
			{TaskID: u0, State: store.TaskDone, Result: res(u0), Verification: store.VerifyNone, Now: now},
			{TaskID: t2, State: store.TaskDone, Result: res(t2), Verification: store.VerifyAudit, VerifiedBy: []string{"alice", "carol"},
				Ledger: []store.LedgerEntry{grant(t2, 30, "alice")}, Accounts: []store.AccountAddParams{{ID: "alice", Verified: 2, AuditsPassed: 1}}, Now: later},
		}
		out, err := s.TaskSettleBatch(ctx, ps)
		if err != nil || len(out) != len(ps) {
			t.Fatalf("batch: %v, %d outcomes", err, len(out))
		}
		for i, want := range []error{nil, errors.New("invalid"), nil, store.ErrTaskSettled, store.ErrNotFound, nil, nil} {
			o := out[i]
			switch {
			case want == nil && (o.Err != nil || o.Settled == nil):
				t.Fatalf("outcome %d: %+v", i, o)
			case want != nil && (o.Err == nil || o.Settled != nil):
				t.Fatalf("outcome %d: %+v, want an error", i, o)
			case want != nil && (errors.Is(want, store.ErrTaskSettled) || errors.Is(want, store.ErrNotFound)) && !errors.Is(o.Err, want):
				t.Fatalf("outcome %d: %v, want %v", i, o.Err, want)
			}
		}
		// Bob's leases of the settled tasks are taken back, each with its
		// settlement; j2 finished, j not.
		for _, i := range []int{0, 2, 6} {
			st := out[i].Settled
			if st.JobID != j.ID || st.JobFinished || len(st.Revoked) != 1 || st.Revoked[0].SessionID != wb.ID || st.Revoked[0].LeaseID != byTaskOf(lb, ps[i].TaskID).LeaseID {
				t.Fatalf("settled %d: %+v", i, st)
			}
		}
		if st := out[5].Settled; st.JobID != j2.ID || !st.JobFinished || len(st.Revoked) != 0 {
			t.Fatalf("settled j2: %+v", st)
		}
		// Numbered in the batch's order; each wholly recorded.
		rs, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(rs) != 3 {
			t.Fatalf("results %+v %v", rs, err)
		}
		for i, want := range []struct {
			task  int64
			state store.TaskState
			ver   string
			note  string
			at    time.Time
		}{{t0, store.TaskDone, store.VerifyNone, "", now}, {t1, store.TaskDisputed, store.VerifyTrusted, "why", now}, {t2, store.TaskDone, store.VerifyAudit, "", later}} {
			r := rs[i]
			if r.ID != want.task || r.ResultSeq != int64(i+1) || r.State != want.state || r.Verification != want.ver || r.Note != want.note || !r.FinishedAt.Equal(want.at) ||
				r.Result.StdoutHash != res(want.task).StdoutHash || r.Result.Fuel != res(want.task).Fuel {
				t.Fatalf("result %d: %+v", i, r)
			}
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksDone != 2 || c.TasksDisputed != 1 || c.TasksVerifying != 1 || c.ReplicasLeased != 1 ||
			c.Fuel != res(t0).Fuel+res(t2).Fuel {
			t.Fatalf("counts %+v", c)
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j2.ID}); jj.State != store.JobDone || jj.FinishedAt.IsZero() {
			t.Fatalf("j2 %+v", jj)
		}
		// Accounts and ledger: the refused settlements added nothing.
		if a, err := s.AccountGet(ctx, "alice"); err != nil || a.Verified != 3 || a.AuditsPassed != 1 || !a.CreatedAt.Equal(now) {
			t.Fatalf("alice %+v %v", a, err)
		}
		if a, err := s.AccountGet(ctx, "carol"); err != nil || a.Verified != 0 || a.AuditsRun != 1 {
			t.Fatalf("carol %+v %v", a, err)
		}
		led, err := s.LedgerList(ctx, &store.LedgerListParams{})
		if err != nil || len(led) != 2 || led[0].TaskID != t0 || led[1].TaskID != t2 || led[0].Seq != 1 || led[1].Seq != 2 || led[1].Fuel != 30 {
			t.Fatalf("ledger %+v %v", led, err)
		}
		// The last task with one settled already: the job finishes.
		out, err = s.TaskSettleBatch(ctx, []*store.TaskSettleParams{
			{TaskID: t2, State: store.TaskDone, Result: res(t2), Verification: store.VerifyNone, Now: later},
			{TaskID: t3, State: store.TaskDone, Result: res(t3), Verification: store.VerifyNone, Now: later},
		})
		if err != nil || !errors.Is(out[0].Err, store.ErrTaskSettled) || out[1].Err != nil || !out[1].Settled.JobFinished {
			t.Fatalf("last batch %+v %v", out, err)
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID}); jj.State != store.JobDone {
			t.Fatalf("job %+v", jj)
		}
		// Nothing valid, or nothing at all: no error.
		if out, err := s.TaskSettleBatch(ctx, []*store.TaskSettleParams{{TaskID: t0, State: store.TaskDone, Verification: "bogus", Now: now}}); err != nil || out[0].Err == nil {
			t.Fatalf("invalid batch %+v %v", out, err)
		}
		if out, err := s.TaskSettleBatch(ctx, nil); err != nil || len(out) != 0 {
			t.Fatalf("empty batch %+v %v", out, err)
		}
	})

	// Batches settling overlapping tasks, in different orders, at once:
	// each task settled and credited exactly once, its job's results
	// numbered 1..n without a gap.
	t.Run("TaskSettleBatchConcurrent", func(t *testing.T) {
		s := open(t)
		const n = 40
		j := newJob(t, s, "alice", n, 1)
		w := session(t, s, "w")
		ls := lease(t, s, w, n)
		if len(ls) != n {
			t.Fatalf("%d leases", len(ls))
		}
		var rs []store.ReplicaResult
		for _, l := range ls {
			rs = append(rs, result(w, l, "x"))
		}
		complete(t, s, rs...)
		var wg sync.WaitGroup
		var mu sync.Mutex
		settled := map[int64]int{}
		finished := 0
		errs := make(chan error, 8)
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := make([]*store.Lease, len(ls))
				copy(order, ls)
				if g%2 == 1 {
					slices.Reverse(order)
				}
				for k := 0; k < len(order); k += 3 + g {
					var ps []*store.TaskSettleParams
					for _, l := range order[k:min(k+3+g, len(order))] {
						ps = append(ps, &store.TaskSettleParams{TaskID: l.TaskID, State: store.TaskDone, Result: store.Result{Status: "ok", Fuel: 42},
							Verification: store.VerifyNone, Ledger: []store.LedgerEntry{{Kind: store.LedgerGrant, Account: "anon:w", JobID: j.ID, TaskID: l.TaskID,
								ReplicaID: l.ReplicaID, Link: 1, Fuel: 42, Day: 1, At: now}},
							Accounts: []store.AccountAddParams{{ID: "anon:w", Verified: 1}}, Now: now})
					}
					out, err := s.TaskSettleBatch(ctx, ps)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for i, o := range out {
						switch {
						case o.Err == nil:
							settled[ps[i].TaskID]++
							if o.Settled.JobFinished {
								finished++
							}
						case !errors.Is(o.Err, store.ErrTaskSettled):
							errs <- o.Err
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(settled) != n || finished != 1 {
			t.Fatalf("settled %d tasks, finished the job %d times", len(settled), finished)
		}
		for task, k := range settled {
			if k != 1 {
				t.Fatalf("task %d settled %d times", task, k)
			}
		}
		res, err := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if err != nil || len(res) != n {
			t.Fatalf("results %d %v", len(res), err)
		}
		for i, r := range res {
			if r.ResultSeq != int64(i+1) {
				t.Fatalf("result %d numbered %d", i, r.ResultSeq)
			}
		}
		led, _ := s.LedgerList(ctx, &store.LedgerListParams{})
		if a, err := s.AccountGet(ctx, "anon:w"); len(led) != n || err != nil || a.Verified != n {
			t.Fatalf("ledger %d entries, account %+v %v", len(led), a, err)
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID}); jj.State != store.JobDone {
			t.Fatalf("job %+v", jj)
		}
	})

	t.Run("TaskReopen", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 2, 1)
		wa := sessionAs(t, s, "wa", "alice")
		la := lease(t, s, wa, 5)
		complete(t, s, result(wa, la[0], "x"), result(wa, la[1], "y"))
		if err := s.TaskReopen(ctx, &store.TaskReopenParams{TaskID: la[0].TaskID, Now: now}); err == nil {
			t.Fatal("reopened a pending task")
		}
		settle(t, s, la[0].TaskID, store.TaskDone, store.VerifyNone)
		settle(t, s, la[1].TaskID, store.TaskDone, store.VerifyNone)
		if err := s.TaskReopen(ctx, &store.TaskReopenParams{TaskID: la[0].TaskID + 1000, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("reopen no task: %v", err)
		}
		if err := s.TaskReopen(ctx, &store.TaskReopenParams{TaskID: la[0].TaskID, Now: now}); err != nil {
			t.Fatal(err)
		}
		jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j.ID})
		if jj.State != store.JobRunning || !jj.FinishedAt.IsZero() {
			t.Fatalf("job after reopen %+v", jj)
		}
		c, _ := s.JobCounts(ctx, j.ID)
		if c.TasksDone != 1 || c.TasksPending != 1 || c.ReplicasQueued != 1 || c.Fuel != 42 {
			t.Fatalf("counts after reopen %+v", c)
		}
		res, _ := s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if len(res) != 1 || res[0].ID != la[1].TaskID || res[0].ResultSeq != 2 {
			t.Fatalf("results after reopen %+v", res)
		}
		ev := evidence(t, s, la[0].TaskID)
		if ev.Task.State != store.TaskPending || ev.Task.ResultSeq != 0 || ev.Task.Result.StdoutHash != "" || len(ev.Replicas) != 2 ||
			ev.Replicas[0].State != store.ReplicaDone || ev.Replicas[1].State != store.ReplicaQueued || ev.Replicas[1].Role != store.RoleRun {
			t.Fatalf("evidence after reopen %+v %+v", ev.Task, ev.Replicas)
		}
		// The fresh replica goes to another account.
		if got := lease(t, s, sessionAs(t, s, "wa2", "alice"), 5); len(got) != 0 {
			t.Fatalf("alice got the fresh replica: %+v", got[0])
		}
		wb := sessionAs(t, s, "wb", "bob")
		lb := lease(t, s, wb, 5)
		if len(lb) != 1 || lb[0].ReplicaID != ev.Replicas[1].ID {
			t.Fatalf("bob %+v", lb)
		}
		complete(t, s, result(wb, lb[0], "x"))
		if st := settle(t, s, la[0].TaskID, store.TaskDone, store.VerifyQuorum); !st.JobFinished {
			t.Fatalf("resettled %+v", st)
		}
		res, _ = s.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
		if len(res) != 2 || res[1].ID != la[0].TaskID || res[1].ResultSeq != 3 || res[1].Verification != store.VerifyQuorum {
			t.Fatalf("results after re-settling %+v", res)
		}
		if c, _ := s.JobCounts(ctx, j.ID); c.TasksDone != 2 || c.TasksPending != 0 || c.Fuel != 84 {
			t.Fatalf("counts %+v", c)
		}
		// A disputed task is not reopened.
		j2 := newJob(t, s, "alice", 1, 1)
		l := lease(t, s, wb, 1)
		complete(t, s, result(wb, l[0], "z"))
		settle(t, s, l[0].TaskID, store.TaskDisputed, store.VerifyTrusted)
		if err := s.TaskReopen(ctx, &store.TaskReopenParams{TaskID: l[0].TaskID, Now: now}); err == nil {
			t.Fatal("reopened a disputed task")
		}
		if jj, _ := s.JobGet(ctx, &store.JobGetParams{ID: j2.ID}); jj.State != store.JobDone {
			t.Fatalf("job 2 %+v", jj)
		}
	})

	t.Run("JobNote", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 1, 1)
		if err := s.JobNote(ctx, &store.JobNoteParams{JobID: j.ID + 1000, Audits: 1}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("note on no job: %v", err)
		}
		for i := 0; i < 2; i++ {
			if err := s.JobNote(ctx, &store.JobNoteParams{JobID: j.ID, Mismatches: 1, Audits: 2, Disputes: 3, LiesCaught: 4, Reopened: 5, Unsettled: 6, ReplicasRun: 7}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := s.JobCounts(ctx, j.ID)
		if err != nil || c.Mismatches != 2 || c.Audits != 4 || c.Disputes != 6 || c.LiesCaught != 8 || c.Reopened != 10 || c.Unsettled != 12 || c.ReplicasRun != 14 {
			t.Fatalf("counts %+v %v", c, err)
		}
	})

	t.Run("Accounts", func(t *testing.T) {
		s := open(t)
		if _, err := s.AccountGet(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown account: %v", err)
		}
		a, err := s.AccountAdd(ctx, &store.AccountAddParams{ID: "bob", Verified: 2, AuditsPassed: 1, Now: now})
		if err != nil || a.ID != "bob" || a.Verified != 2 || a.AuditsPassed != 1 || a.LiesCaught != 0 || !a.BannedAt.IsZero() || !a.CreatedAt.Equal(now) {
			t.Fatalf("new account %+v %v", a, err)
		}
		if a, err = s.AccountAdd(ctx, &store.AccountAddParams{ID: "bob", Verified: 3, Now: now.Add(time.Hour)}); err != nil || a.Verified != 5 || a.AuditsPassed != 1 || !a.CreatedAt.Equal(now) {
			t.Fatalf("added %+v %v", a, err)
		}
		// Work as an auditor is counted apart, within Verified and LiesCaught.
		if a, err = s.AccountAdd(ctx, &store.AccountAddParams{ID: "bob", Verified: 2, AuditsRun: 2, Now: now.Add(time.Hour)}); err != nil || a.Verified != 7 || a.AuditsRun != 2 || a.AuditsPassed != 1 {
			t.Fatalf("audits run %+v %v", a, err)
		}
		t1 := now.Add(2 * time.Hour)
		if a, err = s.AccountAdd(ctx, &store.AccountAddParams{ID: "bob", LiesCaught: 1, Ban: true, Now: t1}); err != nil || !a.BannedAt.Equal(t1) || a.LiesCaught != 1 {
			t.Fatalf("banned %+v %v", a, err)
		}
		if a, err = s.AccountAdd(ctx, &store.AccountAddParams{ID: "bob", LiesCaught: 1, AuditLies: 1, Ban: true, Now: t1.Add(time.Hour)}); err != nil || !a.BannedAt.Equal(t1) || a.LiesCaught != 2 || a.AuditLies != 1 {
			t.Fatalf("banned again %+v %v", a, err)
		}
		if g, err := s.AccountGet(ctx, "bob"); err != nil || g.ID != a.ID || g.Verified != a.Verified || g.AuditsPassed != a.AuditsPassed ||
			g.AuditsRun != a.AuditsRun || g.AuditLies != a.AuditLies ||
			g.LiesCaught != a.LiesCaught || !g.BannedAt.Equal(a.BannedAt) || !g.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("get %+v %v, want %+v", g, err, a)
		}
		if _, err := s.AccountAdd(ctx, &store.AccountAddParams{ID: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccountAdd(ctx, &store.AccountAddParams{ID: "carol", Verified: 1, Now: now}); err != nil {
			t.Fatal(err)
		}
		l, err := s.AccountList(ctx, &store.AccountListParams{})
		if err != nil || len(l) != 3 || l[0].ID != "alice" || l[1].ID != "bob" || l[2].ID != "carol" || l[1].LiesCaught != 2 || l[2].Verified != 1 {
			t.Fatalf("list %+v %v", l, err)
		}
		if l, err := s.AccountList(ctx, &store.AccountListParams{Limit: 2}); err != nil || len(l) != 2 || l[1].ID != "bob" {
			t.Fatalf("list of 2 %+v %v", l, err)
		}
	})

	t.Run("Ledger", func(t *testing.T) {
		s := open(t)
		at := now
		grant := func(acct string, day int64, fuel uint64) store.LedgerEntry {
			return store.LedgerEntry{Kind: store.LedgerGrant, Account: acct, JobID: 1, TaskID: 2, ReplicaID: 3, Link: 1, Fuel: fuel, Day: day, At: at, Reason: "audit agreed"}
		}
		got, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{grant("alice", 10, 100), grant("alice", 11, 50), grant("bob", 10, 70)}})
		if err != nil || len(got) != 3 {
			t.Fatalf("append %+v %v", got, err)
		}
		for i, e := range got {
			if e.Seq != int64(i+1) {
				t.Fatalf("entry %d numbered %d", i, e.Seq)
			}
		}
		// Refused as a whole: a revoke of another account's grant, of a
		// ban, of no entry; an unknown kind. Nothing is appended.
		for _, bad := range [][]store.LedgerEntry{
			{grant("carol", 10, 1), {Kind: store.LedgerRevoke, Account: "alice", Fuel: 70, Ref: 3, At: at}},
			{{Kind: store.LedgerRevoke, Account: "alice", Fuel: 1, Ref: 99, At: at}},
			{{Kind: "gift", Account: "alice", Fuel: 1, At: at}},
		} {
			if got, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: bad}); err == nil {
				t.Fatalf("appended %+v", got)
			}
		}
		// Alice is caught on day 12: her grants are revoked; each revoke
		// counts against its grant's day.
		got, err = s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
			{Kind: store.LedgerBan, Account: "alice", At: at, Day: 12, Reason: "lied"},
			{Kind: store.LedgerRevoke, Account: "alice", Fuel: 100, Ref: 1, Day: 10, At: at, Reason: "banned"},
		}})
		if err != nil || len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 || got[1].Ref != 1 || got[1].Day != 10 {
			t.Fatalf("ban %+v %v", got, err)
		}
		if got, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{{Kind: store.LedgerRevoke, Account: "alice", Fuel: 100, Ref: 4, Day: 12, At: at}}}); err == nil {
			t.Fatalf("revoked a ban: %+v", got)
		}
		if got, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{{Kind: store.LedgerRevoke, Account: "alice", Fuel: 100, Ref: 1, Day: 10, At: at}}}); err == nil {
			t.Fatalf("revoked a grant twice: %+v", got)
		}
		got, err = s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{{Kind: store.LedgerRevoke, Account: "alice", Fuel: 50, Ref: 2, Day: 11, At: at.Add(time.Hour)}, grant("bob", 12, 30)}})
		if err != nil || got[0].Seq != 6 || got[1].Seq != 7 {
			t.Fatalf("append %+v %v", got, err)
		}

		all, err := s.LedgerList(ctx, &store.LedgerListParams{})
		if err != nil || len(all) != 7 {
			t.Fatalf("list %+v %v", all, err)
		}
		for i, e := range all {
			if e.Seq != int64(i+1) {
				t.Fatalf("list entry %d: %+v", i, e)
			}
		}
		if e := all[0]; e.Kind != store.LedgerGrant || e.Account != "alice" || e.JobID != 1 || e.TaskID != 2 || e.ReplicaID != 3 || e.Link != 1 ||
			e.Fuel != 100 || e.Day != 10 || !e.At.Equal(at) || e.Reason != "audit agreed" {
			t.Fatalf("entry 1 %+v", e)
		}
		if e := all[5]; e.Kind != store.LedgerRevoke || e.Ref != 2 || e.Fuel != 50 || !e.At.Equal(at.Add(time.Hour)) {
			t.Fatalf("entry 6 %+v", e)
		}
		seqs := func(es []store.LedgerEntry) (out []int64) {
			for _, e := range es {
				out = append(out, e.Seq)
			}
			return out
		}
		for _, c := range []struct {
			p    store.LedgerListParams
			want []int64
		}{
			{store.LedgerListParams{Account: "alice"}, []int64{1, 2, 4, 5, 6}},
			{store.LedgerListParams{Account: "bob", AfterSeq: 3}, []int64{7}},
			{store.LedgerListParams{AfterSeq: 2, Limit: 3}, []int64{3, 4, 5}},
			{store.LedgerListParams{Account: "carol"}, nil},
			{store.LedgerListParams{TaskID: 2}, []int64{1, 2, 3, 7}}, // the grants name task 2; the ban and revokes here name none
			{store.LedgerListParams{TaskID: 2, Account: "bob"}, []int64{3, 7}},
			{store.LedgerListParams{TaskID: 99}, nil},
		} {
			l, err := s.LedgerList(ctx, &c.p)
			if got := seqs(l); err != nil || len(got) != len(c.want) || (len(got) > 0 && !equalInts(got, c.want)) {
				t.Fatalf("LedgerList %+v = %v %v, want %v", c.p, got, err, c.want)
			}
		}

		// Credit: alice has none left; days whose credit was all revoked
		// are left out.
		credit, err := s.CreditList(ctx, &store.CreditListParams{})
		want := []store.CreditRow{{Account: "bob", Day: 10, Fuel: 70}, {Account: "bob", Day: 12, Fuel: 30}}
		if err != nil || len(credit) != len(want) || credit[0] != want[0] || credit[1] != want[1] {
			t.Fatalf("credit %+v %v, want %+v", credit, err, want)
		}
		// Before alice's second revoke, her day 11 stood.
		if _, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{grant("carol", 11, 5), grant("carol", 11, 6), grant("carol", 13, 1)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{{Kind: store.LedgerRevoke, Account: "carol", Fuel: 5, Ref: 8, Day: 11, At: at}}}); err != nil {
			t.Fatal(err)
		}
		credit, err = s.CreditList(ctx, &store.CreditListParams{Account: "carol"})
		if err != nil || len(credit) != 2 || credit[0] != (store.CreditRow{Account: "carol", Day: 11, Fuel: 6}) || credit[1] != (store.CreditRow{Account: "carol", Day: 13, Fuel: 1}) {
			t.Fatalf("carol's credit %+v %v", credit, err)
		}
		credit, err = s.CreditList(ctx, &store.CreditListParams{SinceDay: 12})
		if err != nil || len(credit) != 2 || credit[0] != (store.CreditRow{Account: "bob", Day: 12, Fuel: 30}) || credit[1] != (store.CreditRow{Account: "carol", Day: 13, Fuel: 1}) {
			t.Fatalf("credit since day 12 %+v %v", credit, err)
		}
	})

	// Sites: a session names one (credit attribution only); the evidence
	// carries, per checkpoint, the site its uploading session named and,
	// per replica, its holder's; grants carry a site, a revoke its
	// grant's; SiteCreditList sums exactly the standing grants attributed
	// to each site.
	t.Run("Sites", func(t *testing.T) {
		s := open(t)
		startAt := func(worker, account, site string) *store.Session {
			t.Helper()
			ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: worker, Account: account, Site: site, Slots: 1, Now: now})
			if err != nil || ss.Site != site {
				t.Fatalf("session %+v %v, want site %q", ss, err, site)
			}
			return ss
		}
		wa := startAt("wa", "", "example.org")
		wb := startAt("wb", "", "")
		wc := startAt("wc", "carol", "other.example")
		sess, err := s.SessionList(ctx, &store.SessionListParams{})
		if err != nil || len(sess) != 3 || sess[0].Site != "other.example" || sess[1].Site != "" || sess[2].Site != "example.org" {
			t.Fatalf("sessions %+v %v", sess, err)
		}

		// One task, two replicas. wa (for example.org) checkpoints twice
		// and leaves; wb (no site) resumes and finishes; carol (for
		// other.example) runs the second replica.
		newSuspJob(t, s, 1, 2)
		la := leaseCk(t, s, wa, 1, 100, true)
		ckpt(t, s, wa, la[0], 1, 101, "h1", "a")
		ckpt(t, s, wa, la[0], 2, 201, "h2", "b")
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: wa.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		lb := leaseCk(t, s, wb, 1, 100, true)
		if len(lb) != 1 || lb[0].ReplicaID != la[0].ReplicaID || lb[0].Resume == nil {
			t.Fatalf("wb's lease %+v", lb)
		}
		ckpt(t, s, wb, lb[0], 3, 301, "h3", "c")
		lc := leaseCk(t, s, wc, 1, 100, true)
		if len(lc) != 1 || lc[0].ReplicaID == la[0].ReplicaID {
			t.Fatalf("carol's lease %+v", lc)
		}
		ev := evidence(t, s, la[0].TaskID)
		if r := ev.Replicas[1]; r.Site != "other.example" || r.Account != "carol" {
			t.Fatalf("leased replica %+v: want its holder's site", r)
		}
		complete(t, s, store.ReplicaResult{SessionID: wb.ID, LeaseID: lb[0].LeaseID, Status: "ok", Stdout: []byte("d"), Fuel: 350},
			store.ReplicaResult{SessionID: wc.ID, LeaseID: lc[0].LeaseID, Status: "ok", Stdout: []byte("abcd"), Fuel: 350})
		ev = evidence(t, s, la[0].TaskID)
		r0, r1 := ev.Replicas[0], ev.Replicas[1]
		if len(r0.Checkpoints) != 3 || r0.Checkpoints[0].Site != "example.org" || r0.Checkpoints[1].Site != "example.org" || r0.Checkpoints[2].Site != "" {
			t.Fatalf("checkpoints' sites %+v %+v %+v", r0.Checkpoints[0], r0.Checkpoints[1], r0.Checkpoints[2])
		}
		if r0.Site != "" || r0.Account != "anon:wb" || r1.Site != "other.example" || r1.Account != "carol" {
			t.Fatalf("finished replicas: %+v / %+v", r0, r1)
		}
		if cks, err := s.CheckpointList(ctx, &store.CheckpointListParams{ReplicaID: r0.ID}); err != nil || len(cks) != 3 || cks[0].Site != "example.org" || cks[2].Site != "" {
			t.Fatalf("CheckpointList %+v %v", cks, err)
		}

		// Credit: the settlement grants each link to its account, with its
		// computing session's site.
		grant := func(r *store.ReplicaInfo, link, fuel uint64, acct, site string, day int64) store.LedgerEntry {
			return store.LedgerEntry{Kind: store.LedgerGrant, Account: acct, Site: site, JobID: ev.Job.ID, TaskID: ev.Task.ID, ReplicaID: r.ID,
				Link: link, Fuel: fuel, Day: day, At: now}
		}
		if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: ev.Task.ID, State: store.TaskDone, Result: *r0.Result, Verification: store.VerifyQuorum,
			VerifiedBy: []string{"anon:wa", "anon:wb", "carol"}, Now: now, Ledger: []store.LedgerEntry{
				grant(r0, 1, 101, "anon:wa", "example.org", 10),
				grant(r0, 2, 100, "anon:wa", "example.org", 11),
				grant(r0, 3, 100, "anon:wb", "", 11),
				grant(r0, 4, 49, "anon:wb", "", 11),
				grant(r1, 1, 101, "carol", "other.example", 11),
			}}); err != nil {
			t.Fatal(err)
		}
		// A token account contributing for example.org too (another
		// session of carol's, say).
		if _, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{grant(r1, 2, 100, "carol", "example.org", 11)}}); err != nil {
			t.Fatal(err)
		}
		sites := func(p store.SiteCreditListParams) []store.SiteCreditRow {
			t.Helper()
			rows, err := s.SiteCreditList(ctx, &p)
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		same := func(what string, got, want []store.SiteCreditRow) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %+v, want %+v", what, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: %+v, want %+v", what, got, want)
				}
			}
		}
		same("every site", sites(store.SiteCreditListParams{}), []store.SiteCreditRow{
			{Site: "example.org", Account: "anon:wa", Day: 10, Fuel: 101},
			{Site: "example.org", Account: "anon:wa", Day: 11, Fuel: 100},
			{Site: "example.org", Account: "carol", Day: 11, Fuel: 100},
			{Site: "other.example", Account: "carol", Day: 11, Fuel: 101},
		})
		same("example.org since day 11", sites(store.SiteCreditListParams{Site: "example.org", SinceDay: 11}), []store.SiteCreditRow{
			{Site: "example.org", Account: "anon:wa", Day: 11, Fuel: 100},
			{Site: "example.org", Account: "carol", Day: 11, Fuel: 100},
		})
		same("no such site", sites(store.SiteCreditListParams{Site: "nobody.example"}), nil)

		// anon:wa is caught: its grants are revoked (the revokes name no
		// site: the store gives each its grant's), and example.org's
		// credit falls by exactly theirs. The site itself is no account:
		// nothing bans it.
		all, err := s.LedgerList(ctx, &store.LedgerListParams{Account: "anon:wa"})
		if err != nil || len(all) != 2 || all[0].Site != "example.org" {
			t.Fatalf("anon:wa's ledger %+v %v", all, err)
		}
		revs, err := s.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
			{Kind: store.LedgerBan, Account: "anon:wa", Day: 12, At: now, Reason: "lied"},
			{Kind: store.LedgerRevoke, Account: "anon:wa", Fuel: all[0].Fuel, Ref: all[0].Seq, At: now, Reason: "banned"},
			{Kind: store.LedgerRevoke, Account: "anon:wa", Fuel: all[1].Fuel, Ref: all[1].Seq, At: now, Reason: "banned"},
		}})
		if err != nil || revs[1].Site != "example.org" || revs[2].Site != "example.org" || revs[1].Day != 10 {
			t.Fatalf("revokes %+v %v", revs, err)
		}
		same("after the revocations", sites(store.SiteCreditListParams{}), []store.SiteCreditRow{
			{Site: "example.org", Account: "carol", Day: 11, Fuel: 100},
			{Site: "other.example", Account: "carol", Day: 11, Fuel: 101},
		})
		// Whatever the history, a site's credit is the sum of the standing
		// grants attributed to it, and each of those is its account's too.
		led, err := s.LedgerList(ctx, &store.LedgerListParams{})
		if err != nil {
			t.Fatal(err)
		}
		revoked := map[int64]bool{}
		for _, e := range led {
			if e.Kind == store.LedgerRevoke {
				revoked[e.Ref] = true
			}
		}
		want := map[string]uint64{}
		for _, e := range led {
			if e.Kind == store.LedgerGrant && !revoked[e.Seq] && e.Site != "" {
				want[e.Site] += e.Fuel
			}
		}
		got := map[string]uint64{}
		for _, r := range sites(store.SiteCreditListParams{}) {
			got[r.Site] += r.Fuel
		}
		if len(got) != len(want) || got["example.org"] != want["example.org"] || got["other.example"] != want["other.example"] || got["example.org"] != 100 {
			t.Fatalf("site credit %v, standing grants by site %v", got, want)
		}
		if c, err := s.CreditList(ctx, &store.CreditListParams{Account: "anon:wa"}); err != nil || len(c) != 0 {
			t.Fatalf("anon:wa's credit %+v %v", c, err)
		}
	})

	t.Run("TaskListUnsettled", func(t *testing.T) {
		s := open(t)
		j := newJob(t, s, "alice", 4, 1)
		if ids, err := s.TaskListUnsettled(ctx, 10); err != nil || len(ids) != 0 {
			t.Fatalf("queued tasks are not unsettled: %v %v", ids, err)
		}
		w := session(t, s, "w")
		l := lease(t, s, w, 4)
		complete(t, s, result(w, l[0], "a"), result(w, l[1], "b"))
		// Task 2's replica is proved wrong and cancelled: it waits on the
		// verifier too.
		if _, err := s.ReplicaVerdict(ctx, &store.ReplicaVerdictParams{ReplicaID: l[2].ReplicaID, Verdict: store.VerdictLied, Now: now}); err != nil {
			t.Fatal(err)
		}
		ids, err := s.TaskListUnsettled(ctx, 10)
		if err != nil || !equalInts(ids, []int64{l[0].TaskID, l[1].TaskID, l[2].TaskID}) {
			t.Fatalf("unsettled %v %v", ids, err)
		}
		if ids, _ := s.TaskListUnsettled(ctx, 2); !equalInts(ids, []int64{l[0].TaskID, l[1].TaskID}) {
			t.Fatalf("unsettled, 2 %v", ids)
		}
		settle(t, s, l[0].TaskID, store.TaskDone, store.VerifyNone)
		if _, err := s.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: l[2].TaskID, Role: store.RoleRun, Now: now}); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.TaskListUnsettled(ctx, 10); !equalInts(ids, []int64{l[1].TaskID}) {
			t.Fatalf("unsettled after settling and adding %v", ids)
		}
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j.ID, Owner: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.TaskListUnsettled(ctx, 10); len(ids) != 0 {
			t.Fatalf("a cancelled job's tasks %v", ids)
		}
	})

	t.Run("TasksRestingOn", func(t *testing.T) {
		s := open(t)
		newSuspJob(t, s, 4, 1)
		a1 := sessionAs(t, s, "a1", "alice")
		la := leaseCk(t, s, a1, 5, 100, true)
		if len(la) != 4 {
			t.Fatalf("%d leases", len(la))
		}
		for i := 0; i < 3; i++ {
			complete(t, s, result(a1, la[i], "x"))
		}
		// Task 3: alice checkpoints and leaves; bob finishes it.
		ckpt(t, s, a1, la[3], 1, 101, "h1", "a")
		if _, err := s.SessionEnd(ctx, &store.SessionEndParams{ID: a1.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		b1 := sessionAs(t, s, "b1", "bob")
		lb := leaseCk(t, s, b1, 5, 100, true)
		if len(lb) != 1 || lb[0].TaskID != la[3].TaskID {
			t.Fatalf("bob %+v", lb)
		}
		complete(t, s, store.ReplicaResult{SessionID: b1.ID, LeaseID: lb[0].LeaseID, Status: "ok", Stdout: []byte("b"), Fuel: 150})
		if ids, err := s.TasksRestingOn(ctx, "alice"); err != nil || len(ids) != 0 {
			t.Fatalf("pending tasks rest on no one yet: %v %v", ids, err)
		}
		settle(t, s, la[0].TaskID, store.TaskDone, store.VerifyNone)
		settle(t, s, la[1].TaskID, store.TaskDone, store.VerifyQuorum)
		settle(t, s, la[2].TaskID, store.TaskDisputed, store.VerifyTrusted)
		settle(t, s, la[3].TaskID, store.TaskDone, store.VerifyAudit)
		// Whatever the verification: a quorum too rests on its members.
		for acct, want := range map[string][]int64{"alice": {la[0].TaskID, la[1].TaskID, la[3].TaskID}, "bob": {la[3].TaskID}, "carol": nil} {
			ids, err := s.TasksRestingOn(ctx, acct)
			if err != nil || len(ids) != len(want) || (len(ids) > 0 && !equalInts(ids, want)) {
				t.Fatalf("resting on %s: %v %v, want %v", acct, ids, err, want)
			}
		}
	})

	// Many evidence reads at once on a fresh store, more than a pool of
	// readers has connections: none may wait for another (a driver that
	// prepared a statement inside the read transaction took a second
	// connection, and with every reader in a transaction it waited
	// forever).
	t.Run("EvidenceConcurrent", func(t *testing.T) {
		s := open(t)
		const n = 32
		newJob(t, s, "alice", n, 1)
		w := sessionAs(t, s, "w", "")
		ls := lease(t, s, w, n)
		if len(ls) != n {
			t.Fatalf("%d leases, want %d", len(ls), n)
		}
		for _, l := range ls {
			complete(t, s, store.ReplicaResult{SessionID: w.ID, LeaseID: l.LeaseID, Status: "ok", Fuel: 1})
		}
		// Bounded only against a hang, not sized to any machine's speed.
		hctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		errs := make(chan error, n)
		start := make(chan struct{})
		for _, l := range ls {
			go func() {
				<-start
				ev, err := s.TaskEvidence(hctx, l.TaskID)
				if err == nil && (len(ev.Replicas) != 1 || ev.Replicas[0].Result == nil) {
					err = fmt.Errorf("task %d: evidence %+v", l.TaskID, ev.Replicas)
				}
				errs <- err
			}()
		}
		close(start)
		for range ls {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("StateCounts", func(t *testing.T) { stateCounts(t, open(t)) })
	t.Run("OwnerQuota", func(t *testing.T) { ownerQuota(t, open) })
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// byTaskOf is the lease of a task among ls (nil if none).
func byTaskOf(ls []*store.Lease, task int64) *store.Lease {
	for _, l := range ls {
		if l.TaskID == task {
			return l
		}
	}
	return nil
}

// spew renders evidence for a failure message.
func spew(ev *store.TaskEvidence) string {
	if ev == nil {
		return "<nil>"
	}
	out := fmt.Sprintf("task %+v\njob %+v\ngrid %d\naccounts", *ev.Task, *ev.Job, ev.Grid)
	for k, a := range ev.Accounts {
		out += fmt.Sprintf(" %s=%+v", k, a)
	}
	for _, r := range ev.Replicas {
		out += fmt.Sprintf("\nreplica %+v result %+v", *r, r.Result)
		for _, c := range r.Checkpoints {
			out += fmt.Sprintf("\n  ckpt %+v", *c)
		}
	}
	return out
}
