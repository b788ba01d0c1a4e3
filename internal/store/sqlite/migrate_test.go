package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// A data directory written by the first coordinator (schema version 1, no
// user_version) opens, upgrades, keeps its rows and works.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	mod := []byte("\x00asm old module")
	in := []byte("7\n")
	for _, q := range []string{
		schema,
		`INSERT INTO blobs VALUES('` + store.Hash(mod) + `', x'0061736d206f6c64206d6f64756c65', 15, 0)`,
		`INSERT INTO blobs VALUES('` + store.Hash(in) + `', x'370a', 2, 0)`,
		`INSERT INTO jobs(id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, tasks_finished, fuel_done, created_at)
		 VALUES(1, 'alice', 'old', '` + store.Hash(mod) + `', 'running', 0, 1, 0, 65536, 1024, 1000, 2, 1, 42, 1)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at)
		 VALUES(1, 1, 0, 'done', '` + store.Hash(in) + `', '[]', '[]', '[]', 0, 'ok', 0, '', '` + store.Hash(nil) + `', '` + store.Hash(nil) + `', 42, 1, 2)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed) VALUES(2, 1, 1, 'pending', '` + store.Hash(in) + `', '[]', '[]', '[]', 0)`,
		`INSERT INTO sessions(id, worker, slots, remote, started_at, ended_at) VALUES(1, 'w1', 1, 'x', 1, 2)`,
		`INSERT INTO replicas(id, task_id, job_id, idx, priority, state, worker, session_id, attempts, status, exit_code, stdout_hash, stderr_hash, fuel, finished_at)
		 VALUES(1, 1, 1, 0, 0, 'done', 'w1', 1, 1, 'ok', 0, '` + store.Hash(nil) + `', '` + store.Hash(nil) + `', 42, 2)`,
		`INSERT INTO replicas(id, task_id, job_id, idx, priority, state) VALUES(2, 2, 1, 0, 0, 'queued')`,
		`INSERT INTO segments(replica_id, seq, state, worker, session_id, fuel_start, fuel_end, finished_at) VALUES(1, 0, 'done', 'w1', 1, 0, 42, 2)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	db.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	if v != len(migrations)+1 {
		t.Fatalf("user_version %d", v)
	}
	j, err := db.JobGet(ctx, &store.JobGetParams{ID: 1})
	if err != nil || j.Name != "old" || j.Suspendable {
		t.Fatalf("old job %+v %v", j, err)
	}
	now := time.Now()
	ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w1", Slots: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// w1 ran task 0's replica; task 1's is another task: it may have it.
	ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: "w1", Max: 5, Deadline: now.Add(time.Minute), Now: now, CheckpointEvery: 64, Resume: true})
	if err != nil || len(ls) != 1 || ls[0].ReplicaID != 2 || ls[0].CheckpointEvery != 0 {
		t.Fatalf("lease %+v %v", ls, err)
	}
	o, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: ss.ID, LeaseID: ls[0].LeaseID, Status: "ok", Stdout: []byte("7: 7\n"), Fuel: 50}}, Now: now})
	if err != nil || o[0].Err != nil || o[0].TaskID != 2 {
		t.Fatalf("complete %+v %v", o, err)
	}
	ev, err := db.TaskEvidence(ctx, 2)
	if err != nil || len(ev.Replicas) != 1 || ev.Replicas[0].Result == nil || ev.Job.MaxError != 1 {
		t.Fatalf("evidence %+v %v", ev, err)
	}
	if st, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: 2, State: store.TaskDone, Result: *ev.Replicas[0].Result, Verification: store.VerifyNone, Now: now}); err != nil || !st.JobFinished {
		t.Fatalf("settle %+v %v", st, err)
	}
	if res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 1}); err != nil || len(res) != 2 || res[1].ResultSeq != 2 || res[0].Verification != store.VerifyNone {
		t.Fatalf("results %+v %v", res, err)
	}
	st, err := db.WorkerStats(ctx)
	if err != nil || len(st) != 1 || st[0].Segments != 2 || st[0].Fuel != 92 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// Opening again is a no-op.
	db.Close()
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
}

// A data directory at schema version 2 with a task the old rules left
// disputed: migration 3 reopens it (its replicas' results kept) for the
// verifier to settle, renumbers nothing already streamed, and gives every
// old row its anonymous account.
func TestMigrateFromVersion2Disputed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	mod, in := []byte("\x00asm v2 module"), []byte("7\n")
	e := store.Hash(nil)
	a, b := store.Hash([]byte("A")), store.Hash([]byte("B"))
	for _, q := range []string{
		schema,
		migrations[0],
		`PRAGMA user_version = 2`,
		`INSERT INTO blobs VALUES('` + store.Hash(mod) + `', x'0061736d207632206d6f64756c65', 14, 0)`,
		`INSERT INTO blobs VALUES('` + store.Hash(in) + `', x'370a', 2, 0)`,
		`INSERT INTO blobs VALUES('` + a + `', x'41', 1, 0)`,
		`INSERT INTO blobs VALUES('` + b + `', x'42', 1, 0)`,
		`INSERT INTO tokens(id, owner, name, hash, created_at) VALUES(1, 'alice', 'cli', x'00', 1)`,
		// Job 1, done: task 1 agreed (result 1), task 2 disputed (result 2).
		`INSERT INTO jobs(id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, tasks_finished, tasks_disputed, fuel_done, created_at, finished_at, suspendable, checkpoints)
		 VALUES(1, 'alice', 'v2', '` + store.Hash(mod) + `', 'done', 0, 2, 0, 65536, 1024, 1000, 2, 2, 1, 42, 1, 5, 1, 1)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at, grid)
		 VALUES(1, 1, 0, 'done', '` + store.Hash(in) + `', '[]', '[]', '[]', 0, 'ok', 0, '', '` + a + `', '` + e + `', 42, 1, 3, 100)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at, grid)
		 VALUES(2, 1, 1, 'disputed', '` + store.Hash(in) + `', '[]', '[]', '[]', 0, 'ok', 0, '', '` + a + `', '` + e + `', 150, 2, 5, 100)`,
		// Job 2, cancelled with a disputed task: it stays as it was.
		`INSERT INTO jobs(id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count, tasks_finished, tasks_disputed, tasks_cancelled, created_at, finished_at)
		 VALUES(2, 'alice', 'gone', '` + store.Hash(mod) + `', 'cancelled', 0, 2, 0, 65536, 1024, 1000, 2, 1, 1, 1, 1, 6)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at)
		 VALUES(3, 2, 0, 'disputed', '` + store.Hash(in) + `', '[]', '[]', '[]', 0, 'ok', 0, '', '` + a + `', '` + e + `', 9, 1, 4)`,
		`INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, finished_at) VALUES(4, 2, 1, 'cancelled', '` + store.Hash(in) + `', '[]', '[]', '[]', 0, 6)`,
		`INSERT INTO sessions(id, worker, slots, remote, started_at, ended_at) VALUES(1, 'w1', 1, 'x', 1, 9), (2, 'w2', 1, 'y', 1, 9)`,
		`INSERT INTO replicas(id, task_id, job_id, idx, priority, state, worker, session_id, attempts, status, exit_code, stdout_hash, stderr_hash, fuel, finished_at) VALUES
		 (1, 1, 1, 0, 0, 'done', 'w1', 1, 1, 'ok', 0, '` + a + `', '` + e + `', 42, 2),
		 (2, 1, 1, 1, 0, 'done', 'w2', 2, 1, 'ok', 0, '` + a + `', '` + e + `', 42, 3),
		 (3, 2, 1, 0, 0, 'done', 'w1', 1, 1, 'ok', 0, '` + a + `', '` + e + `', 150, 4),
		 (4, 2, 1, 1, 0, 'done', 'w2', 2, 1, 'ok', 0, '` + b + `', '` + e + `', 150, 5)`,
		`INSERT INTO segments(replica_id, job_id, seq, state, worker, session_id, fuel_start, fuel_end, fuel_reached, started_at, finished_at) VALUES
		 (1, 1, 1, 'done', 'w1', 1, 0, 42, 42, 1, 2), (2, 1, 1, 'done', 'w2', 2, 0, 42, 42, 1, 3),
		 (3, 1, 1, 'done', 'w1', 1, 0, 150, 150, 1, 4), (4, 1, 1, 'done', 'w2', 2, 0, 150, 150, 1, 5)`,
		`INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, session_id, cost_ms, created_at)
		 VALUES(3, 2, 1, 101, 'h1', '` + a + `', '` + e + `', '` + e + `', 'w1', 1, 1, 3)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	db.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	if v != len(migrations)+1 || v < 3 {
		t.Fatalf("user_version %d", v)
	}
	j, err := db.JobGet(ctx, &store.JobGetParams{ID: 1})
	if err != nil || j.State != store.JobRunning || !j.FinishedAt.IsZero() || j.MaxError != 1 {
		t.Fatalf("job %+v %v", j, err)
	}
	c, err := db.JobCounts(ctx, 1)
	if err != nil || c.TasksDone != 1 || c.TasksDisputed != 0 || c.TasksPending != 1 || c.TasksVerifying != 1 || c.Fuel != 42 || c.Checkpoints != 1 {
		t.Fatalf("counts %+v %v", c, err)
	}
	res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 1})
	if err != nil || len(res) != 1 || res[0].ID != 1 || res[0].Verification != store.VerifyNone || res[0].ResultSeq != 1 {
		t.Fatalf("results %+v %v", res, err)
	}
	ev, err := db.TaskEvidence(ctx, 2)
	if err != nil || ev.Task.State != store.TaskPending || ev.Task.ResultSeq != 0 || ev.Task.Result.StdoutHash != "" || ev.Grid != 100 ||
		!strings.Contains(ev.Task.Note, "migration 3") || len(ev.Replicas) != 2 {
		t.Fatalf("evidence %+v %v", ev, err)
	}
	for i, r := range ev.Replicas {
		w := []string{"w1", "w2"}[i]
		if r.State != store.ReplicaDone || r.Role != store.RoleRun || r.Result == nil || r.Account != "anon:"+w || len(r.Accounts) != 1 || r.Accounts[0] != "anon:"+w {
			t.Fatalf("replica %d %+v", i, r)
		}
	}
	if cs := ev.Replicas[0].Checkpoints; len(cs) != 1 || cs[0].Account != "anon:w1" {
		t.Fatalf("checkpoints %+v", cs)
	}
	if ids, err := db.TaskListUnsettled(ctx, 10); err != nil || len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("unsettled %v %v", ids, err)
	}
	if res, _ := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 2}); len(res) != 1 || res[0].State != store.TaskDisputed {
		t.Fatalf("cancelled job's results %+v", res)
	}
	if toks, err := db.TokenList(ctx, &store.TokenListParams{}); err != nil || len(toks) != 1 || toks[0].Kind != store.TokenOwner {
		t.Fatalf("tokens %+v %v", toks, err)
	}
	if ss, err := db.SessionList(ctx, &store.SessionListParams{}); err != nil || len(ss) != 2 || ss[0].Account != "anon:w2" {
		t.Fatalf("sessions %+v %v", ss, err)
	}
	if segs, err := db.SegmentList(ctx, &store.SegmentListParams{JobID: 1}); err != nil || len(segs) != 4 || segs[3].Account != "anon:w2" {
		t.Fatalf("segments %+v %v", segs, err)
	}

	// The verifier asks for a third replica: w1's account ran one of the
	// task's, so not w1.
	now := time.Now()
	if _, err := db.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: 2, Role: store.RoleRun, Now: now}); err != nil {
		t.Fatal(err)
	}
	s1, _ := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w1b", Account: "anon:w1", Slots: 1, Now: now})
	if ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s1.ID, Worker: "w1b", Account: "anon:w1", Max: 5, Deadline: now.Add(time.Minute), Now: now}); err != nil || len(ls) != 0 {
		t.Fatalf("w1's account leased %+v %v", ls, err)
	}
	s3, _ := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w3", Slots: 1, Now: now})
	ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s3.ID, Worker: "w3", Max: 5, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(ls) != 1 || ls[0].TaskID != 2 {
		t.Fatalf("w3 leased %+v %v", ls, err)
	}
	if o, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: s3.ID, LeaseID: ls[0].LeaseID, Status: "ok", Stdout: []byte("A"), Fuel: 150}}, Now: now}); err != nil || o[0].Err != nil {
		t.Fatalf("complete %+v %v", o, err)
	}
	st, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: 2, State: store.TaskDone, Result: *ev.Replicas[0].Result, Verification: store.VerifyQuorum,
		VerifiedBy: []string{"anon:w1", "anon:w3"}, Now: now})
	if err != nil || !st.JobFinished {
		t.Fatalf("settle %+v %v", st, err)
	}
	// A new number: result 2 was streamed before the migration.
	res, err = db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 1})
	if err != nil || len(res) != 2 || res[1].ID != 2 || res[1].ResultSeq != 3 || res[1].State != store.TaskDone || res[1].Result.Fuel != 150 {
		t.Fatalf("results after settling %+v %v", res, err)
	}
	if c, _ := db.JobCounts(ctx, 1); c.TasksDone != 2 || c.Fuel != 192 || c.TasksVerifying != 0 {
		t.Fatalf("counts after settling %+v", c)
	}
}
