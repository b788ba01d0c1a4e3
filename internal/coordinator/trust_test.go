package coordinator_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// liar is a worker.Tamper: it lies at checkpoint seq (a flipped memory
// byte, re-hashed so the snapshot and its claimed hash agree), or in its
// final report.
type liar struct {
	mu     sync.Mutex
	seq    uint64 // lie at this checkpoint (0: never)
	output bool   // lie in the final output
	fuel   bool   // lie in the final fuel
	lies   int
}

func (l *liar) Checkpoint(_ *protocol.Lease, seq uint64, s *snapshot.Snapshot) bool {
	if seq != l.seq {
		return false
	}
	for i, p := range s.Pages {
		if len(p) > 0 {
			s.Pages[i][len(p)/2] ^= 0x5a
			l.mu.Lock()
			l.lies++
			l.mu.Unlock()
			return true
		}
	}
	return false
}

func (l *liar) Result(_ *protocol.Lease, r *sandbox.Report, stdout, _ *[]byte) {
	if l.output {
		*stdout = append(append([]byte(nil), *stdout...), "42\n"...)
	}
	if l.fuel {
		r.Fuel += 1_000_000
	}
	if l.output || l.fuel {
		l.mu.Lock()
		l.lies++
		l.mu.Unlock()
	}
}

func (e *env) startTamperer(name string, t worker.Tamper) *worker.Worker {
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: name, Slots: 1, Engine: engine, Tamper: t,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); wg.Wait() })
	return w
}

func standing(t *testing.T, db store.Store, account string) uint64 {
	t.Helper()
	rows, err := db.CreditList(context.Background(), &store.CreditListParams{Account: account})
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, r := range rows {
		sum += r.Fuel
	}
	return sum
}

// A saboteur that computes the primary replica of a task and lies once —
// in the state at checkpoint k (for several k of the chain's 14), in its
// final output, or in its final fuel — is caught: its fresh account makes
// the policy replicate the task, the partner's chain disagrees at the
// first broken link, the coordinator re-runs that one link (no more fuel
// than one grid interval and the slack the re-run allows), the liar is
// banned with no credit, and the result is the honest one, credited to
// the honest accounts exactly by the fuel of the links they computed.
func TestLiesCaught(t *testing.T) {
	in := factorInputs[0]
	cases := []struct {
		name string
		l    *liar
	}{
		{"state at checkpoint 1", &liar{seq: 1}},
		{"state at checkpoint 7", &liar{seq: 7}},
		{"state at checkpoint 13", &liar{seq: 13}},
		{"final output", &liar{output: true}},
		{"final fuel", &liar{fuel: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
			ctx := context.Background()
			req := factorJob(t)
			req.Tasks, req.MaxError = req.Tasks[:1], 0 // the default: 1e-6
			req.Tasks[0].Stdin = []byte(in)
			job, err := e.alice.Submit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// The liar alone first, so that it computes the primary.
			e.startTamperer("liar", tc.l)
			waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
			e.startWorker("h1", 1)
			e.startWorker("h2", 1)
			got := collect(t, e.alice, job.ID)[0]
			rep, out, cps := localRun(t, e, job.ModuleHash, in, testGrid)
			if got.State != "done" || got.Status != string(rep.Status) || string(got.Stdout) != out || got.Fuel != rep.Fuel {
				t.Fatalf("accepted %+v\nhonest run: %q %+v", got, out, rep)
			}
			if tc.l.lies == 0 {
				t.Fatal("the liar never lied")
			}
			if len(cps) < 13 {
				t.Fatalf("%d checkpoints: the input is too small for the cases", len(cps))
			}
			j, _ := e.alice.Job(ctx, job.ID)
			if j.Trust.LiesCaught != 1 || j.Trust.Disputes != 1 || j.Trust.Unsettled != 0 {
				t.Fatalf("trust %+v", j.Trust)
			}
			acc, err := e.db.AccountGet(ctx, "anon:liar")
			if err != nil || acc.BannedAt.IsZero() || acc.LiesCaught != 1 {
				t.Fatalf("liar's account %+v %v", acc, err)
			}
			if c := standing(t, e.db, "anon:liar"); c != 0 {
				t.Fatalf("the liar holds %d credit", c)
			}
			// Both honest accounts computed the whole chain (one replaced
			// the liar's replica, the other partnered it): each is credited
			// the task's fuel, no more.
			for _, h := range []string{"anon:h1", "anon:h2"} {
				if c := standing(t, e.db, h); c != rep.Fuel {
					t.Errorf("%s holds %d credit, want the task's fuel %d", h, c, rep.Fuel)
				}
			}
			// The dispute re-ran one link. The honest chain that won is
			// vouched for by two fresh accounts only (which could be
			// colluders): it is confirmed by one trusted trace of the
			// whole run before it is accepted.
			st := e.c.VerifierStats()
			if dispute := st.TrustedFuel - st.ConfirmFuel; st.Disputes != 1 || dispute == 0 || uint64(dispute) > 2*testGrid {
				t.Fatalf("trusted re-runs: %+v (grid %d): the dispute re-ran more than one link", st, testGrid)
			}
			if st.Confirmations != 1 || uint64(st.ConfirmFuel) != rep.Fuel {
				t.Fatalf("trusted confirmations: %+v, want one of the task's fuel %d", st, rep.Fuel)
			}
			if v := got.Verification; v.Method != store.VerifyTrusted || len(v.By) != 3 || v.By[2] != "coordinator" || slices.Contains(v.By, "anon:liar") {
				t.Errorf("verification %+v", got.Verification)
			}
		})
	}
}

// collectLatest reads a job's results until it is done, keeping each task's
// latest: a task reopened because an account it rested on was caught is
// reported again, revised.
func collectLatest(t *testing.T, c *api.Client, id int64) (map[int]*api.TaskResult, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	got, lines := map[int]*api.TaskResult{}, 0
	if err := c.Results(ctx, id, 0, true, func(r *api.TaskResult) error { got[r.TaskIndex] = r; lines++; return nil }); err != nil {
		t.Fatal(err)
	}
	return got, lines
}

// A liar whose account is already credible (a sleeper: honest until
// trusted) is no longer replicated, only audited; an audit lands on one of
// its lying links, the trusted re-run of that link catches it, and
// backtracking re-verifies every task it had got accepted: every result in
// the end is the honest one, the liar holds no credit, the honest accounts
// hold exactly the fuel of the links they computed that were accepted.
func TestAuditsCatchASleeper(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid; c.MinAudit = 0.45 })
	ctx := context.Background()
	// The sleeper's record is credible (1,000 verified segments at the
	// guard's lie rate), but no more than that: once it is caught its
	// record is the measured lie rate (1 lie in about 1,000 segments), and
	// the honest accounts' 1,000,000 stay credible at that rate. (Had the
	// sleeper waited 1,000,000 segments, a lie rate of 10⁻⁶ would be
	// measured, and no account with fewer than some 10⁷ verified segments
	// would be credible any more: docs/trust.md §7.)
	for a, k := range map[string]int64{"anon:liar": 1000, "anon:h1": 1_000_000, "anon:h2": 1_000_000} {
		if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: a, Verified: k, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	req := factorJob(t)
	req.MaxError = 0
	req.Tasks = append(req.Tasks, req.Tasks...) // 4 tasks, ≈ 14 links each
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	l := &everyCheckpoint{}
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "liar", Slots: 4, Engine: engine, Tamper: l,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go w.Run(wctx)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 4 })
	e.startWorker("h1", 2)
	e.startWorker("h2", 2)
	got, lines := collectLatest(t, e.alice, job.ID)
	for i, in := range []string{factorInputs[0], factorInputs[1], factorInputs[0], factorInputs[1]} {
		rep, out, _ := localRun(t, e, job.ModuleHash, in, 0)
		r := got[i]
		if r == nil || r.State != "done" || string(r.Stdout) != out || r.Fuel != rep.Fuel || slices.Contains(r.Verification.By, "anon:liar") {
			dumpEvidence(t, e, job.ID, 4)
			t.Fatalf("task %d: %+v\nhonest: %q", i, r, out)
		}
	}
	j, _ := e.alice.Job(ctx, job.ID)
	if j.Trust.Audits == 0 || j.Trust.LiesCaught == 0 || j.Trust.Unsettled != 0 {
		t.Fatalf("trust %+v", j.Trust)
	}
	if acc, err := e.db.AccountGet(ctx, "anon:liar"); err != nil || acc.BannedAt.IsZero() {
		t.Fatalf("liar %+v %v", acc, err)
	}
	if c := standing(t, e.db, "anon:liar"); c != 0 {
		t.Fatalf("the liar holds %d credit", c)
	}
	t.Logf("%d result lines for %d tasks; trust %+v; verifier %+v", lines, len(got), j.Trust, e.c.VerifierStats())
	if st := e.c.VerifierStats(); st.Confirmations != 0 {
		t.Errorf("%d trusted confirmations: every voucher here is credible", st.Confirmations)
	}
	// Honest credit is the fuel of the accepted links they computed.
	var honest uint64
	for _, h := range []string{"anon:h1", "anon:h2"} {
		honest += standing(t, e.db, h)
	}
	var want uint64
	for _, r := range got {
		want += r.Fuel // the accepted chain of each task, all honest
	}
	if honest < want {
		t.Fatalf("honest accounts hold %d credit, less than the %d fuel of the accepted chains", honest, want)
	}
	// Whether a task was accepted (and so reopened) before the liar was
	// caught depends on the race between audits and acceptance; either
	// way no link may hold two standing grants.
	if lines > len(got) {
		t.Logf("%d tasks reopened and accepted again", lines-len(got))
	}
	uniqueGrants(t, e.db)
}

// uniqueGrants fails if any (replica, link) holds more than one standing
// grant in the ledger.
func uniqueGrants(t *testing.T, db store.Store) {
	t.Helper()
	standing := map[[2]int64]int64{}
	for _, e := range standingGrants(t, db) {
		k := [2]int64{e.ReplicaID, int64(e.Link)}
		if first, ok := standing[k]; ok {
			t.Errorf("replica %d link %d is credited twice: grants %d and %d (to %s)", e.ReplicaID, e.Link, first, e.Seq, e.Account)
		}
		standing[k] = e.Seq
	}
}

// standingGrants is the ledger's grants that no revocation took back.
func standingGrants(t *testing.T, db store.Store) []store.LedgerEntry {
	t.Helper()
	entries, err := db.LedgerList(context.Background(), &store.LedgerListParams{})
	if err != nil {
		t.Fatal(err)
	}
	revoked := map[int64]bool{}
	for _, e := range entries {
		if e.Kind == store.LedgerRevoke {
			revoked[e.Ref] = true
		}
	}
	var out []store.LedgerEntry
	for _, e := range entries {
		if e.Kind == store.LedgerGrant && !revoked[e.Seq] {
			out = append(out, e)
		}
	}
	return out
}

// Two fresh accounts that collude — the same lie at the same checkpoint,
// so their chains agree link by link — form a quorum no comparison can
// break. Since neither is credible, the chain is confirmed by a trusted
// trace of the whole run before acceptance: it catches both, and the
// task's only result is the honest one (one result line: the wrong one
// was never accepted).
func TestColludersConfirmed(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks, req.MaxError = req.Tasks[:1], 0
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := &liar{seq: 7}, &liar{seq: 7}
	e.startTamperer("c1", c1)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	e.startTamperer("c2", c2)
	banned := func(a string) bool { acc, err := e.db.AccountGet(ctx, a); return err == nil && !acc.BannedAt.IsZero() }
	waitFor(t, func() bool { return banned("anon:c1") && banned("anon:c2") })
	if c1.lies == 0 || c2.lies == 0 {
		t.Fatalf("lies: %d, %d", c1.lies, c2.lies)
	}
	e.startWorker("h1", 1)
	e.startWorker("h2", 1)
	got, lines := collectLatest(t, e.alice, job.ID)
	rep, out, _ := localRun(t, e, job.ModuleHash, factorInputs[0], 0)
	r := got[0]
	if lines != 1 || r == nil || r.State != "done" || string(r.Stdout) != out || r.Fuel != rep.Fuel {
		dumpEvidence(t, e, job.ID, 1)
		t.Fatalf("%d result lines, %+v; honest %q", lines, r, out)
	}
	if v := r.Verification; v.Method != store.VerifyTrusted || slices.Contains(v.By, "anon:c1") || slices.Contains(v.By, "anon:c2") {
		t.Errorf("verification %+v", v)
	}
	for _, a := range []string{"anon:c1", "anon:c2"} {
		if c := standing(t, e.db, a); c != 0 {
			t.Errorf("%s holds %d credit", a, c)
		}
	}
	st := e.c.VerifierStats()
	if st.Confirmations != 2 || st.Disputes != 0 || st.Caught != 2 {
		t.Fatalf("verifier %+v: want 2 confirmations (the colluders', the honest pair's), 2 caught, no dispute", st)
	}
	for _, h := range []string{"anon:h1", "anon:h2"} {
		if c := standing(t, e.db, h); c != rep.Fuel {
			t.Errorf("%s holds %d credit, want the task's fuel %d", h, c, rep.Fuel)
		}
	}
}

// everyCheckpoint lies at every checkpoint, so that every link breaks: it
// sets a byte to a value of the checkpoint's seq. (Flipping the same byte
// each time would be one lie, in link 1, carried on consistently: a
// guest that never reads that byte gives the flipped byte back at every
// next checkpoint, and only an audit of link 1 would see it.)
type everyCheckpoint struct{ liar }

func (l *everyCheckpoint) Checkpoint(_ *protocol.Lease, seq uint64, s *snapshot.Snapshot) bool {
	for i, p := range s.Pages {
		if len(p) > 0 {
			s.Pages[i][len(p)/2] = byte(seq) ^ 0xa5
			l.mu.Lock()
			l.lies++
			l.mu.Unlock()
			return true
		}
	}
	return false
}

// A task whose replicas are all in but which no verifier decided (a
// coordinator killed between recording a result and settling it, or a task
// reopened by schema migration 3 from the old "disputed") is settled by the
// next coordinator's start-up.
func TestStartupSettlesUndecidedTasks(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mod := readWasm(t, "echo.wasm")
	job, err := db.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", Name: "j", ModuleHash: store.Hash(mod), Replicas: 1, MaxError: 1,
		Tasks: []store.TaskSpec{{StdinHash: store.Hash(nil)}}, Blobs: [][]byte{mod}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w", Slots: 1, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: "w", Max: 1, Deadline: time.Now().Add(time.Minute), Now: time.Now()})
	if err != nil || len(ls) != 1 {
		t.Fatalf("lease %v %v", ls, err)
	}
	if _, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{{SessionID: ss.ID, LeaseID: ls[0].LeaseID,
		Status: "ok", Stdout: []byte("hi\n"), Fuel: 77}}, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ids, err := db.TaskListUnsettled(ctx, 10); err != nil || len(ids) != 1 {
		t.Fatalf("unsettled %v %v", ids, err)
	}
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, func() bool { j, _ := db.JobGet(ctx, &store.JobGetParams{ID: job.ID}); return j.State == store.JobDone })
	ts, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: job.ID, Limit: 10})
	if err != nil || len(ts) != 1 || ts[0].State != store.TaskDone || ts[0].Result.Fuel != 77 || ts[0].Verification != store.VerifyNone {
		t.Fatalf("settled %+v %v", ts, err)
	}
}

// gate is a worker.Tamper that lies about nothing: every time a guest
// reaches checkpoint seq it holds it there until release is closed.
// (Every time, not once as holdAt: on a busy machine a worker may lose its
// session and run its replica again.)
type gate struct {
	seq     uint64
	release <-chan struct{}
}

func (g *gate) Checkpoint(_ *protocol.Lease, seq uint64, _ *snapshot.Snapshot) bool {
	if seq == g.seq {
		<-g.release
	}
	return false
}

func (g *gate) Result(*protocol.Lease, *sandbox.Report, *[]byte, *[]byte) {}

// holdingLiar lies at checkpoint lie (as liar does) and holds its guest at
// checkpoint hold, so that the test sees what the coordinator did while
// the liar's run was still going.
type holdingLiar struct {
	liar
	hold gate
}

func (h *holdingLiar) Checkpoint(l *protocol.Lease, seq uint64, s *snapshot.Snapshot) bool {
	lied := h.liar.Checkpoint(l, seq, s)
	h.hold.Checkpoint(l, seq, s)
	return lied
}

// A job that asks for two replicas (explicit quorum) with a liar among its
// workers: the liar's state at checkpoint 2 of 17 is a lie. The
// replicas are compared link by link as their checkpoints arrive, so the
// disagreement is found at link 1→2 while both runs are still going
// (neither can finish before the ban: each would be held at a later
// checkpoint until it is recorded, so were the chains compared only at the
// end, the ban would never come); the trusted re-run
// covers that one link; the liar is banned with no credit, its replica
// discarded unfinished; an honest replica replaces it and the honest
// result is accepted.
func TestQuorumCatchesLiarMidRun(t *testing.T) {
	// A fraction of factorInputs[0]'s fuel at a fraction of its grid: as
	// many links, so that three full runs (two honest replicas and the
	// trusted confirmation) finish under -race on a busy machine.
	const grid, in = testGrid / 8, "100000000000031\n"
	// Backstop against a hang only: nothing here bounds how long a step
	// may take.
	const backstop = 4 * time.Minute
	// Leases that outlive a busy machine: were a held worker's lease to
	// expire (newEnv's is 2 s), its replica would move to another worker,
	// and the replicas' accounts would mix — not what this test is about.
	e := newEnv(t, func(c *coordinator.Config) {
		c.CheckpointEvery, c.HeartbeatInterval, c.LeaseTTL = grid, time.Second, time.Minute
	})
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks, req.Replicas, req.MaxError = req.Tasks[:1], 2, 0
	req.Tasks[0].Stdin = []byte(in)
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	l := &holdingLiar{liar: liar{seq: 2}, hold: gate{seq: 4, release: release}}
	e.startTamperer("liar", l)
	// The liar takes one replica before h1 starts (and takes the other).
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	h1 := &gate{seq: 5, release: release}
	e.startTamperer("h1", h1)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the workers' cleanups stop them (LIFO)
	// Neither replica can finish: each is held at a later checkpoint
	// (the liar at 4, h1 at 5) or, the liar's, taken back when it is
	// caught — which may come before it reaches 4, if h1 is the faster.
	// The ban must come now. The ban entry in the ledger is the last thing catching the liar
	// writes before backtracking (after its replica's verdict and its
	// account's ban): wait for it.
	banEntry := func() string {
		entries, err := e.db.LedgerList(ctx, &store.LedgerListParams{Account: "anon:liar"})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if en.Kind == store.LedgerBan {
				return en.Reason
			}
		}
		return ""
	}
	var ban string
	for deadline := time.Now().Add(backstop); ban == ""; time.Sleep(10 * time.Millisecond) {
		if ban = banEntry(); ban == "" && time.Now().After(deadline) {
			dumpEvidence(t, e, job.ID, 1)
			t.Fatal("the liar was not banned while both replicas were held mid-run")
		}
	}
	if !strings.Contains(ban, "link 1→2 ") {
		t.Fatalf("ban %q: want the first divergent link, 1→2", ban)
	}
	if acc, err := e.db.AccountGet(ctx, "anon:liar"); err != nil || acc.BannedAt.IsZero() {
		t.Fatalf("liar's account %+v, %v", acc, err)
	}
	ev, err := e.db.TaskEvidence(ctx, jobTasks(t, e, job.ID, 1)[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ev.Replicas {
		if r.Result != nil {
			t.Errorf("replica %d (%s) finished before the ban: the liar must be caught mid-run", r.ID, r.Account)
		}
		if r.Account == "anon:liar" {
			if r.Verdict != store.VerdictLied {
				t.Errorf("the liar's replica %d has verdict %q", r.ID, r.Verdict)
			}
			if n := len(r.Checkpoints); n >= 4 {
				t.Errorf("the liar's replica has %d checkpoints, but it is held at its 4th", n)
			}
		}
	}
	l.mu.Lock()
	lies := l.lies
	l.mu.Unlock()
	if lies == 0 { // more than once if it ran its replica again
		t.Fatal("the liar never lied")
	}
	st := e.c.VerifierStats()
	if st.Disputes != 1 || st.Caught != 1 || st.Confirmations != 0 || st.TrustedFuel == 0 || uint64(st.TrustedFuel) > 2*grid {
		t.Fatalf("verifier at the ban %+v (grid %d): want one dispute re-running one link", st, grid)
	}

	free()
	e.startWorker("h2", 1) // the liar's replacement
	got, lines := map[int]*api.TaskResult{}, 0
	cctx, cancel := context.WithTimeout(ctx, backstop)
	defer cancel()
	if err := e.alice.Results(cctx, job.ID, 0, true, func(r *api.TaskResult) error { got[r.TaskIndex] = r; lines++; return nil }); err != nil {
		dumpEvidence(t, e, job.ID, 1)
		t.Fatalf("results: %v", err)
	}
	rep, out, cps := localRun(t, e, job.ModuleHash, in, grid)
	if len(cps) < 10 {
		t.Fatalf("%d checkpoints: the input is too small for the case", len(cps))
	}
	r := got[0]
	if lines != 1 || r == nil || r.State != "done" || r.Status != string(rep.Status) || string(r.Stdout) != out || r.Fuel != rep.Fuel {
		dumpEvidence(t, e, job.ID, 1)
		t.Fatalf("%d result lines, accepted %+v\nhonest run: %q %+v", lines, r, out, rep)
	}
	if slices.Contains(r.Verification.By, "anon:liar") {
		t.Errorf("verification %+v names the liar", r.Verification)
	}
	j, _ := e.alice.Job(ctx, job.ID)
	if j.Trust.LiesCaught != 1 || j.Trust.Disputes != 1 || j.Trust.Unsettled != 0 {
		t.Fatalf("trust %+v", j.Trust)
	}
	acc, err := e.db.AccountGet(ctx, "anon:liar")
	if err != nil || acc.LiesCaught != 1 {
		t.Fatalf("liar's account %+v %v", acc, err)
	}
	if c := standing(t, e.db, "anon:liar"); c != 0 {
		t.Fatalf("the liar holds %d credit", c)
	}
	// Still one dispute; whatever else trusted ground ran confirmed whole
	// chains (two fresh accounts vouch only for each other).
	st = e.c.VerifierStats()
	if dispute := st.TrustedFuel - st.ConfirmFuel; st.Disputes != 1 || dispute == 0 || uint64(dispute) > 2*grid {
		t.Fatalf("trusted re-runs %+v (grid %d): the dispute re-ran more than one link", st, grid)
	}
	t.Logf("%d checkpoints; verifier %+v; verification %+v", len(cps), st, r.Verification)
	uniqueGrants(t, e.db)
}

// An audit is a resumed lease like any other, but it is over once its
// link is compared. The worker waits for the answer to a resumed lease's
// first checkpoint, and the coordinator, having compared that link,
// revokes an audit before it answers: so no audit computes more than its
// one link, however fast the worker runs (docs/protocol.md, "Resumed
// leases wait for their first answer").
func TestAuditStopsAtItsLink(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid; c.MinAudit = 0.45 })
	ctx := context.Background()
	for _, a := range []string{"anon:h1", "anon:h2"} {
		if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: a, Verified: 1_000_000, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	req := factorJob(t)
	req.MaxError = 0
	req.Tasks = append(req.Tasks, req.Tasks...) // 4 tasks, ≈ 14 links each
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker("h1", 2)
	e.startWorker("h2", 2)
	got, _ := collectLatest(t, e.alice, job.ID)
	for i, r := range got {
		if r.State != "done" {
			t.Fatalf("task %d: %+v", i, r)
		}
	}
	audits, stopped := 0, 0
	for _, tk := range jobTasks(t, e, job.ID, 4) {
		ev, err := e.db.TaskEvidence(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Replicas {
			if r.Role != store.RoleAudit {
				continue
			}
			audits++
			var own []uint64 // the audit's own checkpoints (its copies of the audited one's come first)
			for _, c := range r.Checkpoints {
				if c.Seq >= r.AuditSeq {
					own = append(own, c.Seq)
				}
			}
			if len(own) > 1 || len(own) == 1 && r.Result != nil {
				dumpEvidence(t, e, job.ID, 4)
				t.Fatalf("audit %d of link %d ran on past it: checkpoints %v, result %v", r.ID, r.AuditSeq, own, r.Result != nil)
			}
			if len(own) == 1 {
				stopped++
			}
		}
	}
	if stopped == 0 {
		dumpEvidence(t, e, job.ID, 4)
		t.Fatalf("%d audits, none of a link before the last: nothing was tested", audits)
	}
	t.Logf("%d audits, %d stopped at their link's checkpoint", audits, stopped)
}

// A crowd of one account cannot check its own work: the partner a fresh
// account's task needs, or the audits of a credible account's links, stay
// queued. Once they have waited StrandedAfter with no worker of another
// account connected, the chain is confirmed by a trusted trace instead,
// and the task is accepted as "trusted" with the honest result, credited
// to the account that computed it. (Without the fallback the job never
// finishes.)
func TestStrandedChecksConfirmedOnTrustedGround(t *testing.T) {
	for _, credible := range []bool{false, true} {
		t.Run(map[bool]string{false: "partner", true: "audits"}[credible], func(t *testing.T) {
			e := newEnv(t, func(c *coordinator.Config) {
				c.CheckpointEvery = testGrid
				c.StrandedAfter = 100 * time.Millisecond
				c.MinAudit = 0.45
				c.Rand = rand.New(rand.NewPCG(1, 2)) // the audits drawn: the same every run
			})
			ctx := context.Background()
			if credible {
				if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: "anon:solo", Verified: 1_000_000, Now: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			req := factorJob(t)
			req.MaxError = 0 // the default: verified
			job, err := e.alice.Submit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			e.startWorker("solo", 2)
			got, lines := collectLatest(t, e.alice, job.ID)
			var fuel uint64
			for i, r := range got {
				rep, out, _ := localRun(t, e, job.ModuleHash, factorInputs[i], 0)
				if r.State != "done" || string(r.Stdout) != out || r.Fuel != rep.Fuel {
					t.Fatalf("task %d: %+v\nhonest: %q", i, r, out)
				}
				if r.Verification.Method != store.VerifyTrusted || !slices.Contains(r.Verification.By, "anon:solo") {
					t.Errorf("task %d verified by %+v, want trusted, resting on anon:solo", i, r.Verification)
				}
				fuel += r.Fuel
			}
			if lines != len(got) {
				t.Errorf("%d result lines for %d tasks", lines, len(got))
			}
			st := e.c.VerifierStats()
			if st.Stranded != int64(len(got)) || st.Confirmations != st.Stranded {
				t.Errorf("verifier %+v: want one stranded confirmation per task", st)
			}
			if c := standing(t, e.db, "anon:solo"); c != fuel {
				t.Errorf("anon:solo holds %d credit, want the %d fuel of its accepted chains", c, fuel)
			}
		})
	}
}
