package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

// A database written at schema version 1 (before verification) upgrades in
// place: its accepted results say they were never checked, its disputed
// tasks are reopened for the verifier (their jobs running again, the next
// result numbered after every old one), a cancelled job's disputed task is
// left alone, and every worker's past work gets its anonymous account.
func TestMigrationFromVersion1(t *testing.T) {
	dsn := pgtest.Schema(t)
	if err := postgres.MigrateTo(ctx, dsn, 1); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mod, out, other := store.Hash(module), store.Hash([]byte("out")), store.Hash([]byte("other"))
	// Job 1 (done): task 10 done (result 1), task 11 disputed (result 2),
	// each with replicas by w1 and w2. Job 2 (cancelled): task 20
	// disputed, task 21 cancelled.
	if _, err := conn.Exec(ctx, `
		INSERT INTO blobs(hash, data, size, created_at) VALUES ($1, '\x00'::bytea, 1, 0), ($2, 'out'::bytea, 3, 0), ($3, 'other'::bytea, 5, 0);
		INSERT INTO tokens(id, owner, name, hash, created_at) VALUES (1, 'alice', 'cli', '\x01'::bytea, 1);
		INSERT INTO jobs(id, owner, name, module_hash, state, priority, replicas, fuel, memory, max_output, timeout_ms, task_count,
			tasks_finished, tasks_disputed, tasks_cancelled, fuel_done, created_at, finished_at, suspendable, checkpoints)
		VALUES (1, 'alice', 'j1', $1, 'done', 0, 2, 1000, 0, 0, 0, 2, 2, 1, 0, 5, 1, 9, true, 1),
		       (2, 'alice', 'j2', $1, 'cancelled', 0, 2, 1000, 0, 0, 0, 2, 1, 1, 1, 0, 1, 9, false, 0);
		INSERT INTO tasks(id, job_id, idx, state, stdin_hash, args, env, files, seed, status, exit_code, message, stdout_hash, stderr_hash, fuel, result_seq, finished_at, grid)
		VALUES (10, 1, 0, 'done', $4, '[]', '[]', '[]', 0, 'ok', 0, '', $2, $4, 5, 1, 5, 100),
		       (11, 1, 1, 'disputed', $4, '[]', '[]', '[]', 1, 'ok', 0, '', $2, $4, 6, 2, 6, 100),
		       (20, 2, 0, 'disputed', $4, '[]', '[]', '[]', 0, 'ok', 0, '', $2, $4, 6, 1, 6, NULL),
		       (21, 2, 1, 'cancelled', $4, '[]', '[]', '[]', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 7, NULL);
		INSERT INTO sessions(id, worker, slots, remote, started_at, ended_at, end_reason)
		VALUES (1, 'w1', 1, '', 1, 9, 'bye'), (2, 'w2', 1, '', 1, 9, 'bye');
		INSERT INTO replicas(id, task_id, job_id, idx, priority, state, worker, attempts, status, exit_code, message, stdout_hash, stderr_hash, fuel, finished_at)
		VALUES (100, 10, 1, 0, 0, 'done', 'w1', 1, 'ok', 0, '', $2, $4, 5, 5),
		       (101, 10, 1, 1, 0, 'done', 'w2', 1, 'ok', 0, '', $2, $4, 5, 5),
		       (110, 11, 1, 0, 0, 'done', 'w1', 1, 'ok', 0, '', $2, $4, 6, 6),
		       (111, 11, 1, 1, 0, 'done', 'w2', 1, 'ok', 0, '', $3, $4, 6, 6),
		       (200, 20, 2, 0, 0, 'done', 'w1', 1, 'ok', 0, '', $2, $4, 6, 6),
		       (201, 20, 2, 1, 0, 'done', 'w2', 1, 'ok', 0, '', $3, $4, 6, 6),
		       (210, 21, 2, 0, 0, 'cancelled', NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		       (211, 21, 2, 1, 0, 'cancelled', NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		INSERT INTO segments(replica_id, job_id, seq, state, worker, session_id, fuel_start, fuel_end, fuel_reached, finished_at)
		SELECT id, job_id, 1, 'done', worker, CASE worker WHEN 'w1' THEN 1 ELSE 2 END, 0, fuel, fuel, finished_at FROM replicas WHERE state = 'done' ORDER BY id;
		INSERT INTO checkpoints(replica_id, task_id, seq, fuel, state_hash, snapshot_hash, stdout_hash, stderr_hash, worker, session_id, cost_ms, created_at)
		VALUES (110, 11, 1, 3, 'h1', $2, $4, $4, 'w1', 1, 1, 3);
		-- The ids above were given, not drawn: the sequences go past them.
		SELECT setval(pg_get_serial_sequence(t, 'id'), 1000) FROM unnest(ARRAY['tokens', 'jobs', 'tasks', 'sessions', 'replicas']) AS t;
		`, pgx.QueryExecModeSimpleProtocol, mod, out, other, store.Hash(nil)); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	j1, err := db.JobGet(ctx, &store.JobGetParams{ID: 1})
	if err != nil || j1.State != store.JobRunning || !j1.FinishedAt.IsZero() || j1.MaxError != 1 {
		t.Fatalf("job 1 %+v %v", j1, err)
	}
	c, err := db.JobCounts(ctx, 1)
	if err != nil || c.TasksDone != 1 || c.TasksDisputed != 0 || c.TasksPending != 1 || c.TasksVerifying != 1 || c.Fuel != 5 || c.Checkpoints != 1 {
		t.Fatalf("job 1 counts %+v %v", c, err)
	}
	res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 1})
	if err != nil || len(res) != 1 || res[0].ID != 10 || res[0].ResultSeq != 1 || res[0].Verification != store.VerifyNone || res[0].Note != "" {
		t.Fatalf("job 1 results %+v %v", res, err)
	}
	ids, err := db.TaskListUnsettled(ctx, 10)
	if err != nil || len(ids) != 1 || ids[0] != 11 {
		t.Fatalf("unsettled %v %v", ids, err)
	}
	ev, err := db.TaskEvidence(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	if tk := ev.Task; tk.State != store.TaskPending || tk.ResultSeq != 0 || tk.Result.StdoutHash != "" || tk.Result.Fuel != 0 || !tk.FinishedAt.IsZero() ||
		tk.Note != "reopened by schema migration: replicas disagreed under the old rules; re-verified" || ev.Grid != 100 {
		t.Fatalf("reopened task %+v grid %d", tk, ev.Grid)
	}
	if len(ev.Replicas) != 2 {
		t.Fatalf("replicas %+v", ev.Replicas)
	}
	for i, r := range ev.Replicas {
		w := []string{"w1", "w2"}[i]
		if r.Role != store.RoleRun || r.State != store.ReplicaDone || r.Verdict != store.VerdictNone || r.Result == nil || r.Worker != w ||
			r.Account != "anon:"+w || len(r.Accounts) != 1 || r.Accounts[0] != "anon:"+w {
			t.Fatalf("replica %d: %+v", i, r)
		}
	}
	if cs := ev.Replicas[0].Checkpoints; len(cs) != 1 || cs[0].Account != "anon:w1" {
		t.Fatalf("checkpoints %+v", cs)
	}
	if ev.Replicas[0].Result.StdoutHash == ev.Replicas[1].Result.StdoutHash {
		t.Fatal("the replicas' disagreeing results were lost")
	}

	// The cancelled job is as it was.
	j2, err := db.JobGet(ctx, &store.JobGetParams{ID: 2})
	if err != nil || j2.State != store.JobCancelled {
		t.Fatalf("job 2 %+v %v", j2, err)
	}
	if res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 2}); err != nil || len(res) != 1 || res[0].State != store.TaskDisputed || res[0].ResultSeq != 1 {
		t.Fatalf("job 2 results %+v %v", res, err)
	}

	ss, err := db.SessionList(ctx, &store.SessionListParams{})
	if err != nil || len(ss) != 2 || ss[0].Account != "anon:w2" || ss[1].Account != "anon:w1" {
		t.Fatalf("sessions %+v %v", ss, err)
	}
	segs, err := db.SegmentList(ctx, &store.SegmentListParams{JobID: 1})
	if err != nil || len(segs) != 4 || segs[0].Account != "anon:w1" || segs[1].Account != "anon:w2" {
		t.Fatalf("segments %+v %v", segs, err)
	}
	if toks, err := db.TokenList(ctx, &store.TokenListParams{}); err != nil || len(toks) != 1 || toks[0].Kind != store.TokenOwner {
		t.Fatalf("tokens %+v %v", toks, err)
	}
	// The old accounts' work cannot check itself: w1 and w2 get no new
	// replica of task 11.
	if _, err := db.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: 11, Role: store.RoleRun, Now: now}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"w1", "w2"} {
		s := startSession(t, db, w)
		if ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s.ID, Worker: w, Max: 5, Deadline: now, Now: now}); err != nil || len(ls) != 0 {
			t.Fatalf("%s leased %+v %v", w, ls, err)
		}
	}

	// Settled again, the task's result is numbered after every old one.
	st, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: 11, State: store.TaskDone, Result: *ev.Replicas[0].Result,
		Verification: store.VerifyTrusted, VerifiedBy: []string{"anon:w1"}, Now: now})
	if err != nil || !st.JobFinished {
		t.Fatalf("settle %+v %v", st, err)
	}
	res, err = db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: 1})
	if err != nil || len(res) != 2 || res[1].ID != 11 || res[1].ResultSeq != 3 || res[1].Verification != store.VerifyTrusted {
		t.Fatalf("results after settling %+v %v", res, err)
	}
	if c, err := db.JobCounts(ctx, 1); err != nil || c.TasksDone != 2 || c.TasksPending != 0 || c.Fuel != 11 {
		t.Fatalf("job 1 counts after settling %+v %v", c, err)
	}
}
