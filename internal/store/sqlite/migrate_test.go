package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
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
