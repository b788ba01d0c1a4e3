package coordinator_test

import (
	"context"
	"errors"
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
	"github.com/crowdrun/crowdrun/internal/worker"
)

// token stores a token of kind for owner and returns its secret.
func (e *env) token(kind, owner string) string {
	secret := "tok-" + kind + "-" + owner
	if _, err := e.db.TokenInsert(context.Background(), &store.TokenInsertParams{Kind: kind, Owner: owner, Name: owner,
		Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// stoppable is a worker the test can stop (gracefully) before it ends.
type stoppable struct {
	*worker.Worker
	stop func()
}

func (e *env) startWith(name, token string, t worker.Tamper) *stoppable {
	return e.startConfigured(worker.Config{Name: name, Token: token, Tamper: t})
}

// startConfigured starts a worker on the test's coordinator with cfg's
// name, slots (default 1), token, site and tamper hook; stop ends it and
// waits (also at the test's end).
func (e *env) startConfigured(cfg worker.Config) *stoppable {
	cfg.Server, cfg.Engine, cfg.Slots = e.srv.URL, engine, max(cfg.Slots, 1)
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	w, err := worker.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return &stoppable{Worker: w, stop: stop}
}

// rerunHook is a worker.Tamper (honest in its own work) and a
// worker.RerunTamper: it reports each re-run it is asked for, then fails
// it (fail), or holds it until its worker stops (hold).
type rerunHook struct {
	fail, hold bool
	asked      chan *protocol.Rerun
}

func (h *rerunHook) Checkpoint(*protocol.Lease, uint64, *snapshot.Snapshot) bool { return false }
func (h *rerunHook) Result(*protocol.Lease, *sandbox.Report, *[]byte, *[]byte)   {}
func (h *rerunHook) Rerun(ctx context.Context, m *protocol.Rerun) error {
	select {
	case h.asked <- m:
	default:
	}
	switch {
	case h.fail:
		return errors.New("told to fail")
	case h.hold:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// dispute sets up TestQuorumCatchesLiarMidRun's disagreement — a job of
// two replicas, a liar whose state at checkpoint 2 is a lie (held at its
// 4th) and an honest h1 held before it uploads its checkpoint 2 — then
// starts h2 (idle: it will take the liar's replacement), calls third to
// connect whatever worker the case is about, and lets h1 go on: the
// disagreement at link 1→2 goes to trusted ground. It returns once the
// liar is banned.
func dispute(t *testing.T, mod func(*coordinator.Config), third func(e *env) *stoppable) (*env, *api.Job, *stoppable, func()) {
	const grid, in = testGrid / 8, "100000000000031\n"
	e := newEnv(t, func(c *coordinator.Config) {
		c.CheckpointEvery, c.HeartbeatInterval, c.LeaseTTL = grid, time.Second, time.Minute
		if mod != nil {
			mod(c)
		}
	})
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks, req.Replicas, req.MaxError = req.Tasks[:1], 2, 0
	req.Tasks[0].Stdin = []byte(in)
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	release, hold := make(chan struct{}), make(chan struct{})
	var once, once2 sync.Once
	free := func() { once.Do(func() { close(release) }) }
	freeLiar := func() { once2.Do(func() { close(hold) }) }
	l := &holdingLiar{liar: liar{seq: 2}, hold: gate{seq: 4, release: hold}}
	e.startTamperer("liar", l)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	e.startTamperer("h1", &gate{seq: 2, release: release})
	t.Cleanup(freeLiar)
	t.Cleanup(free) // before the workers' cleanups stop them (LIFO)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 2 })
	h2 := e.startWith("h2", "", nil)
	waitFor(t, func() bool { return h2.Stats.Sessions.Load() > 0 })
	w := third(e)
	waitFor(t, func() bool { return w.Stats.Sessions.Load() > 0 })
	free()
	// The ban entry in the ledger is the last thing catching the liar
	// writes before backtracking.
	var ban string
	waitFor(t, func() bool {
		entries, err := e.db.LedgerList(ctx, &store.LedgerListParams{Account: "anon:liar"})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if en.Kind == store.LedgerBan {
				ban = en.Reason
			}
		}
		return ban != ""
	})
	if !strings.Contains(ban, "link 1→2 ") {
		t.Errorf("ban %q: want the first divergent link, 1→2", ban)
	}
	return e, job, w, freeLiar
}

// A worker whose token is of kind trusted settles the dispute: the
// coordinator runs nothing in-process, the trusted worker re-runs exactly
// one link (and, since two fresh accounts vouch only for each other, the
// trace that confirms the honest chain), the liar is caught and the honest
// result accepted.
func TestTrustedWorkerSettlesDispute(t *testing.T) {
	var trusty *stoppable
	e, job, _, freeLiar := dispute(t, nil, func(e *env) *stoppable {
		trusty = e.startWith("trusty", e.token(store.TokenTrusted, "carol"), nil)
		return trusty
	})
	ctx := context.Background()
	st := e.c.RerunStats()
	if st.Remote != 1 || st.RemoteFailed != 0 || st.Local != 0 {
		t.Fatalf("re-runs at the ban %+v: want the dispute's one, on the trusted worker", st)
	}
	if n := trusty.Stats.Reruns.Load(); n != 1 {
		t.Fatalf("the trusted worker re-ran %d links, want 1", n)
	}
	freeLiar()
	got, lines := collectLatest(t, e.alice, job.ID)
	rep, out, _ := localRun(t, e, job.ModuleHash, "100000000000031\n", testGrid/8)
	r := got[0]
	if lines != 1 || r == nil || r.State != "done" || r.Status != string(rep.Status) || string(r.Stdout) != out || r.Fuel != rep.Fuel {
		dumpEvidence(t, e, job.ID, 1)
		t.Fatalf("%d result lines, accepted %+v\nhonest run: %q %+v", lines, r, out, rep)
	}
	j, _ := e.alice.Job(ctx, job.ID)
	if j.Trust.LiesCaught != 1 || j.Trust.Disputes != 1 || j.Trust.Unsettled != 0 {
		t.Fatalf("trust %+v", j.Trust)
	}
	if c := standing(t, e.db, "anon:liar"); c != 0 {
		t.Fatalf("the liar holds %d credit", c)
	}
	// The honest chain is vouched for by two fresh accounts only: a trace
	// confirms it, on the trusted worker too unless it computed part of
	// the task itself (it took the liar's replacement instead of h2): it
	// never settles a check of its own work.
	st, vst := e.c.RerunStats(), e.c.VerifierStats()
	n, tr := trusty.Stats.Reruns.Load(), trusty.Stats.RerunTraces.Load()
	if n != 1 || st.RemoteFailed != 0 || st.Remote != 1+tr || st.Local != vst.Confirmations-tr {
		t.Fatalf("re-runs %+v, verifier %+v; the trusted worker re-ran %d links and %d traces", st, vst, n, tr)
	}
	if trusty.Stats.Tasks.Load() == 0 && st.Local != 0 {
		t.Fatalf("re-runs %+v: the coordinator ran one in-process while a trusted worker was free", st)
	}
	if dispute := vst.TrustedFuel - vst.ConfirmFuel; vst.Disputes != 1 || dispute == 0 || uint64(dispute) > 2*testGrid/8 {
		t.Fatalf("verifier %+v: the dispute re-ran more than one link", vst)
	}
	t.Logf("re-runs %+v; trusted worker: %d links, %d traces, %d tasks of its own", st, n, tr, trusty.Stats.Tasks.Load())
}

// A trusted worker that fails the re-run, leaves in the middle of it, or
// never answers does not leave the dispute hanging: the coordinator runs
// the link itself.
func TestTrustedWorkerFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hook    *rerunHook
		timeout time.Duration // Config.TrustedTimeout
	}{
		{"fails", &rerunHook{fail: true}, 0},
		{"disconnects", &rerunHook{hold: true}, 0},
		// It holds the re-run and stays connected; the bound is short so
		// that the test does not wait for the default's ten minutes.
		{"never answers", &rerunHook{hold: true}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.hook.asked = make(chan *protocol.Rerun, 4)
			started := make(chan *stoppable, 1)
			stopped := make(chan struct{})
			go func() {
				// Leave as soon as a re-run is under way.
				defer close(stopped)
				trusty := <-started
				if _, ok := <-tc.hook.asked; ok && tc.hook.hold && tc.timeout == 0 {
					trusty.stop()
				}
			}()
			// After the workers' own cleanups (LIFO): nothing sends on asked.
			t.Cleanup(func() { close(tc.hook.asked); <-stopped })
			e, job, _, freeLiar := dispute(t, func(c *coordinator.Config) { c.TrustedTimeout = tc.timeout }, func(e *env) *stoppable {
				trusty := e.startWith("trusty", e.token(store.TokenTrusted, "carol"), tc.hook)
				started <- trusty
				return trusty
			})
			st := e.c.RerunStats()
			if st.RemoteFailed != 1 || st.Remote != 0 || st.Local != 1 {
				t.Fatalf("re-runs at the ban %+v: want one failed on the trusted worker, then one in-process", st)
			}
			if vst := e.c.VerifierStats(); vst.Disputes != 1 || vst.Caught != 1 {
				t.Fatalf("verifier %+v", vst)
			}
			// The rest of the task's checks (the trace that confirms the
			// honest chain) run in-process: a trusted worker that failed
			// is passed over for a while, not asked again at once.
			freeLiar()
			if _, lines := collectLatest(t, e.alice, job.ID); lines != 1 {
				t.Fatalf("%d result lines", lines)
			}
			if st := e.c.RerunStats(); st.RemoteFailed != 1 || st.Remote != 0 {
				t.Fatalf("re-runs at the end %+v: the failed trusted worker was asked again", st)
			}
		})
	}
}

// A trusted worker that keeps failing is passed over for a minute after
// its first failure in a row, twice as long after each further one, an
// hour at most.
func TestTrustedBackOff(t *testing.T) {
	for fails, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 6: 32 * time.Minute, 7: time.Hour, 1000: time.Hour} {
		if got := coordinator.BackOff(fails); got != want {
			t.Errorf("after %d failures: passed over for %v, want %v", fails, got, want)
		}
	}
}

// Trust comes from the store's token kind, never from the worker: a
// volunteer token's worker and an anonymous one are never asked to re-run;
// the coordinator settles the dispute itself. An unsolicited rerun_result
// is refused.
func TestForgedTrustGetsNoReruns(t *testing.T) {
	for _, kind := range []string{store.TokenVolunteer, ""} {
		name := "volunteer token"
		if kind == "" {
			name = "anonymous"
		}
		t.Run(name, func(t *testing.T) {
			hook := &rerunHook{asked: make(chan *protocol.Rerun, 4)}
			e, _, w, _ := dispute(t, nil, func(e *env) *stoppable {
				tok := ""
				if kind != "" {
					tok = e.token(kind, "mallory")
				}
				return e.startWith("mallory", tok, hook)
			})
			st := e.c.RerunStats()
			if st.Remote != 0 || st.RemoteFailed != 0 || st.Local != 1 {
				t.Fatalf("re-runs %+v: want the dispute's one, in-process", st)
			}
			if n := w.Stats.Reruns.Load() + w.Stats.RerunTraces.Load(); n != 0 || len(hook.asked) != 0 {
				t.Fatalf("an untrusted worker was asked for %d re-runs", n)
			}
			r := dialRaw(t, e, "forger")
			id := r.send(&protocol.RerunResult{RerunID: 1, Status: "ok", Stdout: []byte{}, Stderr: []byte{}})
			if m, ok := r.read2(id).(*protocol.ErrorMsg); !ok || m.Code != protocol.CodeLeaseNotHeld {
				t.Fatalf("an unsolicited rerun_result was answered %#v", m)
			}
		})
	}
}

// A lie in the final output is settled on a trusted worker too: the final
// link re-run from the last checkpoint, its output hashed by the
// coordinator after the chain's, exactly as its own re-run would.
func TestTrustedWorkerSettlesFinalLink(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery, c.LeaseTTL = testGrid/8, time.Minute })
	ctx := context.Background()
	const in = "100000000000031\n"
	req := factorJob(t)
	req.Tasks, req.MaxError = req.Tasks[:1], 0
	req.Tasks[0].Stdin = []byte(in)
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The liar computes the primary alone; its fresh account makes the
	// policy ask for a partner, which h1 takes and is held in.
	l := &liar{output: true}
	e.startTamperer("liar", l)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	e.startTamperer("h1", &gate{seq: 1, release: release})
	t.Cleanup(free)
	task := jobTasks(t, e, job.ID, 1)[0].ID
	waitFor(t, func() bool {
		ev, err := e.db.TaskEvidence(ctx, task)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Replicas {
			if r.Worker == "h1" && r.State == store.ReplicaLeased {
				return true
			}
		}
		return false
	})
	trusty := e.startWith("trusty", e.token(store.TokenTrusted, "carol"), nil)
	waitFor(t, func() bool { return trusty.Stats.Sessions.Load() > 0 })
	free()
	got, lines := collectLatest(t, e.alice, job.ID)
	rep, out, _ := localRun(t, e, job.ModuleHash, in, testGrid/8)
	r := got[0]
	if lines != 1 || r == nil || r.State != "done" || string(r.Stdout) != out || r.Fuel != rep.Fuel {
		dumpEvidence(t, e, job.ID, 1)
		t.Fatalf("%d result lines, accepted %+v\nhonest run: %q %+v", lines, r, out, rep)
	}
	if acc, err := e.db.AccountGet(ctx, "anon:liar"); err != nil || acc.BannedAt.IsZero() || l.lies == 0 {
		t.Fatalf("liar's account %+v %v (%d lies)", acc, err, l.lies)
	}
	st, vst := e.c.RerunStats(), e.c.VerifierStats()
	n, tr := trusty.Stats.Reruns.Load(), trusty.Stats.RerunTraces.Load()
	if vst.Disputes != 1 || n != 1 || st.RemoteFailed != 0 || st.Remote != 1+tr || (trusty.Stats.Tasks.Load() == 0 && st.Local != 0) {
		t.Fatalf("re-runs %+v, verifier %+v; the trusted worker re-ran %d links and %d traces", st, vst, n, tr)
	}
}
