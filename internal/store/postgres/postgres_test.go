package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
	"github.com/crowdrun/crowdrun/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on a fresh schema, closed when t ends.
func open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

var (
	ctx    = context.Background()
	now    = time.UnixMilli(1_700_000_000_000)
	module = []byte("\x00asm fake module")
)

// insertJob inserts a job of n tasks of r replicas.
func insertJob(t *testing.T, s store.Store, n, r int, suspendable bool) *store.Job {
	t.Helper()
	p := &store.JobInsertParams{Owner: "alice", Name: "j", ModuleHash: store.Hash(module), Replicas: r, Suspendable: suspendable,
		Limits: store.Limits{Fuel: 1000}, Blobs: [][]byte{module}, Now: now}
	for i := 0; i < n; i++ {
		in := []byte(fmt.Sprint(i))
		p.Blobs = append(p.Blobs, in)
		p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in), Seed: uint64(i)})
	}
	j, err := s.JobInsert(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func startSession(t *testing.T, s store.Store, worker string) *store.Session {
	t.Helper()
	ss, err := s.SessionStart(ctx, &store.SessionStartParams{Worker: worker, Slots: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// Two coordinators (two pools on one database) with four dispatchers each
// drain one queue: every replica is leased exactly once.
func TestConcurrentLeaseOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	var dbs []*postgres.DB
	for i := 0; i < 2; i++ {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	const tasks = 300
	j := insertJob(t, dbs[0], tasks, 1, false)
	var mu sync.Mutex
	got := map[int64]string{}
	var wg sync.WaitGroup
	var errs []error // under mu
	for i := 0; i < 8; i++ {
		db := dbs[i%2]
		ss := startSession(t, db, fmt.Sprintf("w%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// record notes what one lease call got; false: stop.
			record := func(ls []*store.Lease, err error) bool {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return false
				}
				for _, l := range ls {
					if w, dup := got[l.ReplicaID]; dup {
						errs = append(errs, fmt.Errorf("replica %d leased to %s and %s", l.ReplicaID, w, ss.Worker))
					}
					got[l.ReplicaID] = ss.Worker
				}
				if len(ls) > 0 {
					return true
				}
				// Empty: the queue is, or what is left of it is locked by
				// another dispatcher's lease for a moment.
				n, err := db.ReplicaCountQueued(ctx)
				if err != nil {
					errs = append(errs, err)
				}
				return n > 0
			}
			for record(db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Max: 3, Deadline: now.Add(time.Minute), Now: now})) {
			}
		}()
	}
	wg.Wait()
	for _, err := range errs[:min(len(errs), 5)] {
		t.Error(err)
	}
	c, err := dbs[1].JobCounts(ctx, j.ID)
	if err != nil || len(got) != tasks || c.ReplicasLeased != tasks || c.ReplicasQueued != 0 {
		t.Fatalf("%d replicas leased, counts %+v %v", len(got), c, err)
	}
}

// Each task is settled by two coordinators at the same moment: one
// settlement wins, the other is ErrTaskSettled; results are numbered 1..n
// without gaps and the job finishes once.
func TestConcurrentSettle(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const tasks = 60
	j := insertJob(t, a, tasks, 2, false)
	w1, w2 := startSession(t, a, "w1"), startSession(t, b, "w2")
	l1, err := a.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w1.ID, Worker: "w1", Max: tasks, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(l1) != tasks {
		t.Fatalf("w1: %d leases, %v", len(l1), err)
	}
	// w2 holds the other replica of each task: every settlement takes one
	// lease back.
	l2, err := b.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w2.ID, Worker: "w2", Max: tasks, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(l2) != tasks {
		t.Fatalf("w2: %d leases, %v", len(l2), err)
	}
	for _, l := range l1 {
		o, err := a.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: w1.ID, LeaseID: l.LeaseID, Status: "ok", Fuel: 7}}, Now: now})
		if err != nil || o[0].Err != nil || o[0].TaskID != l.TaskID {
			t.Fatalf("complete %s: %+v %v", l.LeaseID, o, err)
		}
	}
	var won, lost, jobDone, revoked atomic.Int64
	var wg sync.WaitGroup
	settle := func(db *postgres.DB, l *store.Lease) {
		defer wg.Done()
		st, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: l.TaskID, State: store.TaskDone, Result: store.Result{Status: "ok", Fuel: 7},
			Verification: store.VerifyNone, VerifiedBy: []string{"anon:w1"}, Now: now})
		switch {
		case errors.Is(err, store.ErrTaskSettled):
			lost.Add(1)
		case err != nil:
			t.Errorf("settle task %d: %v", l.TaskID, err)
		default:
			won.Add(1)
			revoked.Add(int64(len(st.Revoked)))
			if st.JobFinished {
				jobDone.Add(1)
			}
		}
	}
	for _, l := range l1 {
		wg.Add(2)
		go settle(a, l)
		go settle(b, l)
	}
	wg.Wait()
	c, err := a.JobCounts(ctx, j.ID)
	if err != nil || won.Load() != tasks || lost.Load() != tasks || jobDone.Load() != 1 || revoked.Load() != tasks ||
		c.TasksDone != tasks || c.Fuel != 7*tasks || c.ReplicasLeased != 0 {
		t.Fatalf("%d settled, %d refused, job finished %d times, %d leases revoked, counts %+v %v", won.Load(), lost.Load(), jobDone.Load(), revoked.Load(), c, err)
	}
	res, err := a.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID, Limit: 1000})
	if err != nil || len(res) != tasks {
		t.Fatalf("%d results, %v", len(res), err)
	}
	for i, r := range res {
		if r.ResultSeq != int64(i+1) {
			t.Fatalf("result %d has seq %d", i, r.ResultSeq)
		}
	}
}

// Two coordinators append to the ledger at once: the entries are numbered
// 1..n, none twice, none skipped.
func TestConcurrentLedgerAppend(t *testing.T) {
	dsn := pgtest.Schema(t)
	var dbs []*postgres.DB
	for i := 0; i < 2; i++ {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	const appenders, batches, per = 6, 20, 3
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := 0; i < appenders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < batches; k++ {
				var es []store.LedgerEntry
				for e := 0; e < per; e++ {
					es = append(es, store.LedgerEntry{Kind: store.LedgerGrant, Account: fmt.Sprintf("acct%d", i), Fuel: 10, Day: 1, At: now})
				}
				got, err := dbs[i%2].LedgerAppend(ctx, &store.LedgerAppendParams{Entries: es})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for e, g := range got {
					if seen[g.Seq] {
						t.Errorf("seq %d given twice", g.Seq)
					}
					if e > 0 && g.Seq != got[e-1].Seq+1 {
						t.Errorf("one batch numbered %d then %d", got[e-1].Seq, g.Seq)
					}
					seen[g.Seq] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	all, err := dbs[0].LedgerList(ctx, &store.LedgerListParams{})
	if err != nil || len(all) != appenders*batches*per {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d numbered %d", i, e.Seq)
		}
	}
	credit, err := dbs[1].CreditList(ctx, &store.CreditListParams{})
	if err != nil || len(credit) != appenders || credit[0].Fuel != batches*per*10 {
		t.Fatalf("credit %+v %v", credit, err)
	}
}

// Two workers of one account, through two coordinators, lease from one
// queue at once: the account never gets two replicas of one task.
func TestConcurrentAccountLease(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const tasks = 80
	insertJob(t, a, tasks, 2, false)
	var mu sync.Mutex
	byTask := map[int64]string{} // task → worker of alice that got it
	var wg sync.WaitGroup
	for i, db := range []*postgres.DB{a, b} {
		ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: fmt.Sprintf("w%d", i), Account: "alice", Slots: 1, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 3, Deadline: now.Add(time.Minute), Now: now})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ls) == 0 {
					return // alice holds a replica of every task
				}
				mu.Lock()
				for _, l := range ls {
					if w, dup := byTask[l.TaskID]; dup {
						t.Errorf("task %d leased to alice twice: %s and %s", l.TaskID, w, ss.Worker)
					}
					byTask[l.TaskID] = ss.Worker
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(byTask) != tasks {
		t.Fatalf("alice got %d tasks of %d", len(byTask), tasks)
	}
	n, err := a.ReplicaCountQueued(ctx)
	if err != nil || n != tasks {
		t.Fatalf("%d replicas left queued, %v", n, err)
	}
}

// Two workers lease the two replicas of each task at once, asking for
// different grids: each task keeps one.
func TestConcurrentGrid(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const tasks = 100
	insertJob(t, a, tasks, 2, true)
	grids := [2]map[int64]uint64{{}, {}}
	var wg sync.WaitGroup
	for i, db := range []*postgres.DB{a, b} {
		ss := startSession(t, db, fmt.Sprintf("w%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Until it has one replica of each task (an empty lease: the
			// other worker's lease holds the rest locked for a moment).
			for len(grids[i]) < tasks {
				ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Max: 4, Deadline: now.Add(time.Minute), Now: now,
					CheckpointEvery: uint64(100 * (i + 1)), Resume: true})
				if err != nil {
					t.Error(err)
					return
				}
				for _, l := range ls {
					grids[i][l.TaskID] = l.CheckpointEvery
				}
			}
		}()
	}
	wg.Wait()
	if len(grids[0]) != tasks || len(grids[1]) != tasks {
		t.Fatalf("leased %d and %d", len(grids[0]), len(grids[1]))
	}
	for id, g := range grids[0] {
		if g == 0 || grids[1][id] != g {
			t.Fatalf("task %d: grids %d and %d", id, g, grids[1][id])
		}
	}
}

// Sessions end while their worker leases: nothing stays leased to a
// session that has ended.
func TestConcurrentSessionEndAndLease(t *testing.T) {
	db := open(t)
	j := insertJob(t, db, 400, 1, false)
	for i := 0; i < 30; i++ {
		ss := startSession(t, db, fmt.Sprintf("w%d", i))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				_, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Max: 2, Deadline: now.Add(time.Minute), Now: now})
				if errors.Is(err, store.ErrNotFound) {
					return // ended
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := db.SessionEnd(ctx, &store.SessionEndParams{ID: ss.ID, Reason: "gone", Now: now}); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if c, err := db.JobCounts(ctx, j.ID); err != nil || c.ReplicasLeased != 0 {
			t.Fatalf("round %d: a replica stays leased to an ended session: %+v %v", i, c, err)
		}
	}
}

// A seed uses all 64 bits.
func TestSeedBits(t *testing.T) {
	db := open(t)
	seed := uint64(1<<63 + 12345)
	in := []byte("x")
	j, err := db.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, Blobs: [][]byte{module, in},
		Tasks: []store.TaskSpec{{StdinHash: store.Hash(in), Seed: seed}}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ss := startSession(t, db, "w")
	ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: "w", Max: 1, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(ls) != 1 || ls[0].Seed != seed {
		t.Fatalf("lease %+v %v", ls, err)
	}
	db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: ss.ID, LeaseID: ls[0].LeaseID, Status: "ok"}}, Now: now})
	if _, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: ls[0].TaskID, State: store.TaskDone, Result: store.Result{Status: "ok"}, Verification: store.VerifyNone, Now: now}); err != nil {
		t.Fatal(err)
	}
	res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID})
	if err != nil || len(res) != 1 || res[0].Seed != seed {
		t.Fatalf("results %+v %v", res, err)
	}
}

// Open applies the migrations once, records each version, and refuses a
// database a newer coordinator wrote. Coordinators starting together on an
// empty database all open it.
func TestMigrations(t *testing.T) {
	dsn := pgtest.Schema(t)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, max int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max); err != nil || n != postgres.SchemaVersion() || max != postgres.SchemaVersion() {
		t.Fatalf("schema_migrations: %d rows, version %d, %v", n, max, err)
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations(version) VALUES(99)`); err != nil {
		t.Fatal(err)
	}
	if db, err := postgres.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("opened a database of a newer schema: %v", err)
	}
}

// Bad connection strings and unreachable servers are errors that say so,
// never a password.
func TestOpenErrors(t *testing.T) {
	if _, err := postgres.Open(ctx, "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unreachable server: %v", err)
	}
	if _, err := postgres.Open(ctx, "postgres://%zz"); err == nil {
		t.Fatal("bad URL accepted")
	}
	if got := postgres.Redact("postgres://u:secret@h/db?password=x2"); strings.Contains(got, "secret") || strings.Contains(got, "x2") {
		t.Fatalf("Redact = %q", got)
	}
}

// Workers of two accounts lease and report through one coordinator while a
// verifier on another adds replicas to tasks and settles each task as soon
// as one replica is in: whatever interleaving (and deadlock retry) occurs,
// every task settles once, results are numbered without gaps, and nothing
// stays queued or leased once the job is done.
func TestConcurrentSettleWhileLeasing(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const tasks = 60
	j := insertJob(t, a, tasks, 2, false)
	var done atomic.Bool
	var wg sync.WaitGroup
	for _, acct := range []string{"alice", "bob"} {
		ss, err := a.SessionStart(ctx, &store.SessionStartParams{Worker: acct + "-w", Account: acct, Slots: 4, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				ls, err := a.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 4, Deadline: now.Add(time.Minute), Now: now})
				if err != nil {
					t.Error(err)
					return
				}
				var rs []store.ReplicaResult
				for _, l := range ls {
					rs = append(rs, store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Fuel: 3})
				}
				if len(rs) == 0 {
					continue
				}
				os, err := a.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: rs, Now: now})
				if err != nil {
					t.Error(err)
					return
				}
				for _, o := range os {
					if o.Err != nil && !errors.Is(o.Err, store.ErrLeaseNotHeld) { // taken back by a settlement meanwhile
						t.Error(o.Err)
					}
				}
			}
		}()
	}
	settled := map[int64]bool{}
	jobDone := 0
	for len(settled) < tasks && !t.Failed() {
		for id := int64(1); id <= tasks; id++ { // a fresh schema numbers the job's tasks from 1
			if settled[id] {
				continue
			}
			ev, err := b.TaskEvidence(ctx, id)
			if err != nil || ev.Task.JobID != j.ID {
				t.Fatalf("task %d: %+v %v", id, ev, err)
			}
			var res *store.Result
			for _, r := range ev.Replicas {
				if r.Result != nil {
					res = r.Result
				}
			}
			if res == nil {
				continue
			}
			if id%3 == 0 { // a replica added while the others run and report
				if _, err := b.ReplicaAdd(ctx, &store.ReplicaAddParams{TaskID: id, Role: store.RoleRun, Now: now}); err != nil {
					t.Fatal(err)
				}
			}
			st, err := b.TaskSettle(ctx, &store.TaskSettleParams{TaskID: id, State: store.TaskDone, Result: *res, Verification: store.VerifyNone, Now: now})
			if err != nil {
				t.Fatalf("settle %d: %v", id, err)
			}
			settled[id] = true
			if st.JobFinished {
				jobDone++
			}
		}
	}
	done.Store(true)
	wg.Wait()
	c, err := b.JobCounts(ctx, j.ID)
	if err != nil || jobDone != 1 || c.TasksDone != tasks || c.ReplicasQueued != 0 || c.ReplicasLeased != 0 || c.Fuel != 3*tasks {
		t.Fatalf("job finished %d times, counts %+v %v", jobDone, c, err)
	}
	res, err := b.TaskListResults(ctx, &store.TaskListResultsParams{JobID: j.ID, Limit: 1000})
	if err != nil || len(res) != tasks {
		t.Fatalf("%d results, %v", len(res), err)
	}
	for i, r := range res {
		if r.ResultSeq != int64(i+1) {
			t.Fatalf("result %d has seq %d", i, r.ResultSeq)
		}
	}
}

// A settlement notifies the other coordinators only when its job verifies
// (an account on probation may lease again); a job that does not verify
// settles without a NOTIFY (followers of results poll). Notifications
// arrive in commit order, so a marker sent after both settlements closes
// the list of what they sent.
func TestSettleNotifies(t *testing.T) {
	dsn := pgtest.Schema(t)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	var tasks []int64 // of the job that does not verify, then of the one that does
	ss := startSession(t, db, "w")
	for _, maxErr := range []float64{1, 1e-6} {
		in := []byte(fmt.Sprint(maxErr))
		if _, err := db.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1, MaxError: maxErr,
			Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now}); err != nil {
			t.Fatal(err)
		}
		ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: "w", Max: 1, Deadline: now.Add(time.Minute), Now: now})
		if err != nil || len(ls) != 1 {
			t.Fatalf("lease %+v %v", ls, err)
		}
		if _, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: ss.ID, LeaseID: ls[0].LeaseID, Status: "ok"}}, Now: now}); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, ls[0].TaskID)
	}
	if _, err := listener.Exec(ctx, `LISTEN crowdrun_work`); err != nil {
		t.Fatal(err)
	}
	for _, id := range tasks {
		if _, err := db.TaskSettle(ctx, &store.TaskSettleParams{TaskID: id, State: store.TaskDone, Result: store.Result{Status: "ok"}, Verification: store.VerifyNone, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := listener.Exec(ctx, `SELECT pg_notify('crowdrun_work', 'marker')`); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		n, err := listener.WaitForNotification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n.Payload == "marker" {
			break
		}
		got = append(got, n.Payload)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "w:") {
		t.Fatalf("the two settlements sent %q; want one w: notification (the verifying job's)", got)
	}
}

// JobCounts' tasks being verified and TaskListOrphaned's candidates are
// found from a job's pending tasks while they are no more than its
// finished ones, from its finished replicas before: the same answers
// either way, at every step from the first settlement to the last.
func TestCountsFromEitherSide(t *testing.T) {
	s := open(t)
	const n = 6
	j := insertJob(t, s, n+1, 1, false) // the last task stays queued
	if err := s.CoordinatorStart(ctx, &store.CoordinatorStartParams{ID: "c1", Now: now}); err != nil {
		t.Fatal(err)
	}
	ss, err := s.SessionStart(ctx, &store.SessionStartParams{Coordinator: "c1", Worker: "w1", Slots: n, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: "w1", Max: n, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(ls) != n {
		t.Fatalf("%d leases, %v", len(ls), err)
	}
	var tasks []int64
	for _, l := range ls {
		o, err := s.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Fuel: 7}}, Now: now})
		if err != nil || o[0].Err != nil {
			t.Fatalf("complete %s: %+v %v", l.LeaseID, o, err)
		}
		tasks = append(tasks, l.TaskID)
	}
	for k := 0; k <= n; k++ {
		c, err := s.JobCounts(ctx, j.ID)
		if err != nil || c.TasksVerifying != n-k || c.TasksPending != n+1-k || c.TasksDone != k || c.ReplicasQueued != 1 {
			t.Fatalf("after %d settled: counts %+v %v", k, c, err)
		}
		// Idle: every task whose result is in and not settled is listed.
		got, err := s.TaskListOrphaned(ctx, &store.TaskListOrphanedParams{StaleBefore: now.Add(-time.Hour), IdleBefore: now.Add(time.Second)})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tasks[k:]) {
			t.Fatalf("after %d settled: orphans %v, want %v (%v)", k, got, tasks[k:], err)
		}
		if k < n {
			if _, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: tasks[k], State: store.TaskDone, Result: store.Result{Status: "ok", Fuel: 7},
				Verification: store.VerifyNone, VerifiedBy: []string{"anon:w1"}, Now: now}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A settlement takes its tasks first and their live replicas NOWAIT; when
// another transaction holds one of those, it starts again in the lock
// order (replicas, then tasks) and waits for it, and settles.
func TestSettleFallsBackToLockOrder(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j := insertJob(t, s, 1, 2, false)
	w := startSession(t, s, "w1")
	ls, err := s.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: w.ID, Worker: "w1", Max: 1, Deadline: now.Add(time.Minute), Now: now})
	if err != nil || len(ls) != 1 {
		t.Fatalf("%d leases, %v", len(ls), err)
	}
	if o, err := s.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: w.ID, LeaseID: ls[0].LeaseID, Status: "ok", Fuel: 7}}, Now: now}); err != nil || o[0].Err != nil {
		t.Fatalf("complete: %+v %v", o, err)
	}
	// Another transaction holds the task's other replica, still queued.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mon, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close(ctx)
	holder, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	var other int64
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid(), (SELECT id FROM replicas WHERE task_id = $1 AND state = 'queued' FOR UPDATE)`, ls[0].TaskID).Scan(&pid, &other); err != nil || other == 0 {
		t.Fatalf("holding the queued replica: %d %v", other, err)
	}
	type settled struct {
		st  *store.TaskSettled
		err error
	}
	done := make(chan settled, 1)
	go func() {
		st, err := s.TaskSettle(ctx, &store.TaskSettleParams{TaskID: ls[0].TaskID, State: store.TaskDone, Result: store.Result{Status: "ok", Fuel: 7},
			Verification: store.VerifyNone, VerifiedBy: []string{"anon:w1"}, Now: now})
		done <- settled{st, err}
	}()
	// The settlement waits for the holder in the lock order's first
	// statement (not the NOWAIT one, which failed).
	for waiting := 0; waiting == 0; {
		select {
		case r := <-done:
			t.Fatalf("settled while the replica was held: %+v %v", r.st, r.err)
		default:
		}
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND query NOT LIKE '%NOWAIT%'`, pid).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.st.JobID != j.ID || !r.st.JobFinished {
		t.Fatalf("settled %+v %v", r.st, r.err)
	}
	if c, err := s.JobCounts(ctx, j.ID); err != nil || c.TasksDone != 1 || c.ReplicasQueued != 0 || c.ReplicasLeased != 0 {
		t.Fatalf("counts %+v %v", c, err)
	}
}
