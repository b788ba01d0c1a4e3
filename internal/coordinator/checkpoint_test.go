package coordinator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Two large primes and a composite per task: about 2.3·10⁸ fuel, output
// produced between checkpoints.
var factorInputs = []string{
	"999999999999989 600851475143 999999999999947\n",
	"12 999999999999877 35\n",
}

const testGrid = 1 << 24 // ≈ 14 checkpoints per task

func factorJob(t testing.TB) *api.SubmitRequest {
	b, err := os.ReadFile("../../examples/factor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	req := &api.SubmitRequest{Name: "factor", Module: b, MaxError: 1} // continuations, not verification (trust_test.go)
	for _, in := range factorInputs {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(in)})
	}
	return req
}

// localRun runs the stored module as `crowdrun run` would, collecting its
// checkpoints at grid (0: none).
type localCheckpoint struct {
	seq, fuel   uint64
	state       string
	full, delta []byte // delta against the previous one (nil for the first)
	base        string
	stdout      []byte // output since the previous checkpoint
}

func localRun(t testing.TB, e *env, moduleHash, stdin string, grid uint64) (sandbox.Report, string, []localCheckpoint) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/v1/modules/" + moduleHash)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The coordinator's own prepared bytes, checked against their content
	// hash as a worker checks them: trusted, so compiled as they are.
	if h := sha256.Sum256(bin); hex.EncodeToString(h[:]) != moduleHash {
		t.Fatalf("module %s: the coordinator served bytes hashing to %x", moduleHash, h)
	}
	mod, err := engine.CompileInstrumented(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var cps []localCheckpoint
	var prev *snapshot.Digest
	sent := 0
	in := sandbox.Input{Args: []string{worker.Argv0}, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: io.Discard}
	if grid > 0 {
		in.OnCheckpoint = func(cp *sandbox.Checkpoint) error {
			var full, delta bytes.Buffer
			if err := snapshot.Encode(&full, cp.Snapshot, cp.Digest, snapshot.Options{}); err != nil {
				return err
			}
			lc := localCheckpoint{seq: cp.Seq, fuel: cp.Snapshot.Fuel, state: hex.EncodeToString(cp.Digest.State[:]), full: full.Bytes(),
				stdout: bytes.Clone(out.Bytes()[sent:])}
			if prev != nil {
				if err := snapshot.EncodeDelta(&delta, prev, cp.Snapshot, cp.Digest, snapshot.Options{}); err != nil {
					return err
				}
				lc.delta, lc.base = delta.Bytes(), hex.EncodeToString(prev.State[:])
			}
			prev, sent = cp.Digest, out.Len()
			cps = append(cps, lc)
			return nil
		}
	}
	rep := engine.Run(context.Background(), mod, in, sandbox.Limits{MemoryBytes: 64 << 20, MaxOutput: 1 << 20, CheckpointEvery: grid})
	return rep, out.String(), cps
}

func checkLikeLocal(t *testing.T, e *env, job *api.Job, got map[int]*api.TaskResult) {
	t.Helper()
	if len(got) != len(factorInputs) {
		t.Fatalf("%d results", len(got))
	}
	for i, in := range factorInputs {
		rep, out, _ := localRun(t, e, job.ModuleHash, in, 0)
		r := got[i]
		if r.State != "done" || r.Status != string(rep.Status) || string(r.Stdout) != out || r.Fuel != rep.Fuel {
			t.Fatalf("task %d: %+v\nlocal run: %q %+v", i, r, out, rep)
		}
	}
}

func TestCheckpointsAndResume(t *testing.T) {
	// w1's segments must end released, which only its graceful stop does:
	// heartbeats and leases long enough that a busy machine cannot end
	// them first (a lapsed lease or a silent coordinator ends them lost).
	e := newEnv(t, func(c *coordinator.Config) {
		c.CheckpointEvery = testGrid
		c.HeartbeatInterval, c.LeaseTTL = 5*time.Second, time.Minute
	})
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, factorJob(t))
	if err != nil {
		t.Fatal(err)
	}
	if ck := job.Checkpointing; ck == nil || !ck.Suspendable || ck.Policy.IntervalFuel != testGrid || !ck.Policy.Fixed {
		t.Fatalf("checkpointing %+v", job.Checkpointing)
	}
	// w1 runs until one of its tasks is about to take its third
	// checkpoint (two are in), and is held there while it stops (its
	// leases go back, released); w2 resumes them. Holding the guest makes
	// the stop land mid-task however fast or slow this machine is.
	wctx, stop := context.WithCancel(ctx)
	gate := &holdAt{seq: 3, reached: make(chan struct{}), release: wctx.Done()}
	w1, err := worker.New(worker.Config{Server: e.srv.URL, Name: "w1", Slots: 2, Engine: engine, Grace: time.Millisecond, Tamper: gate})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w1.Run(wctx) }()
	select {
	case <-gate.reached:
	case <-time.After(hangGuard):
		t.Fatal("w1 never reached its third checkpoint")
	}
	stop()
	wg.Wait()
	e.startWorker("w2", 2)
	got := collect(t, e.alice, job.ID)
	checkLikeLocal(t, e, job, got)
	j, _ := e.alice.Job(ctx, job.ID)
	if ck := j.Checkpointing; ck.Resumes < 1 || ck.Checkpoints < 10 || ck.Mismatches != 0 {
		t.Fatalf("checkpointing %+v", ck)
	}
	segs, err := e.alice.Segments(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for _, g := range segs {
		// A task w1 finished before it stopped is done; the others it
		// held were given back when it stopped gracefully, never lost.
		if g.Worker == "w1" && g.State != "released" && g.State != "done" {
			t.Errorf("w1 stopped gracefully, its segment should be released or done: %+v", g)
		}
		if g.State == "done" && g.ResumeSeq > 0 && g.Worker == "w2" && g.FuelStart > 0 {
			resumed++
		}
	}
	if resumed == 0 {
		t.Fatalf("no segment resumed from a checkpoint: %+v", segs)
	}
	// A result resumed from w1's checkpoint was computed by w1, then w2.
	both := 0
	for _, r := range got {
		if slices.Equal(r.Workers, []string{"w1", "w2"}) {
			both++
		} else if !slices.Equal(r.Workers, []string{"w1"}) && !slices.Equal(r.Workers, []string{"w2"}) {
			t.Errorf("task %d: workers %q", r.TaskIndex, r.Workers)
		}
	}
	if both == 0 {
		t.Errorf("no result names both workers, though %d segments resumed from w1's checkpoints", resumed)
	}
	t.Logf("%d checkpoints, %d resumes, segments %+v", j.Checkpointing.Checkpoints, j.Checkpointing.Resumes, segs)
}

// holdAt is a worker.Tamper that lies about nothing: the first time a
// guest reaches checkpoint seq it says so on reached and holds the guest
// there until release is closed.
type holdAt struct {
	seq     uint64
	once    sync.Once
	reached chan struct{}
	release <-chan struct{}
}

func (h *holdAt) Checkpoint(_ *protocol.Lease, seq uint64, _ *snapshot.Snapshot) bool {
	if seq == h.seq {
		first := false
		h.once.Do(func() { first = true; close(h.reached) })
		if first {
			<-h.release
		}
	}
	return false
}

func (h *holdAt) Result(*protocol.Lease, *sandbox.Report, *[]byte, *[]byte) {}

// waitFor polls a condition the coordinator reaches asynchronously.
// hangGuard bounds a wait for an event that must come: only a hang
// reaches it. Tests never assert on how long work takes (a busy or slow
// machine takes longer), so it is far above any run's time.
const hangGuard = 10 * time.Minute

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v: a hang", hangGuard)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialCheckpointing(t *testing.T, e *env, name string) *rawWorker {
	r := dialRaw(t, e, "")
	r.send(&protocol.Hello{Protocol: protocol.Version, Worker: name, Slots: 1, Features: []string{protocol.FeatureCheckpoint}})
	w, ok := r.read().(*protocol.Welcome)
	if !ok {
		t.Fatal("no welcome")
	}
	r.welcome = w
	return r
}

// Bad checkpoints are refused with a reason, the connection stays open and
// nothing changes; the genuine ones that follow are accepted and the result
// assembled from them is the uninterrupted run's.
func TestBadCheckpoints(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		// The raw workers send no heartbeats: long enough for -race.
		c.CheckpointEvery, c.MaxCheckpoint = testGrid, 256<<10
		c.HeartbeatInterval, c.LeaseTTL = 10*time.Second, time.Minute
	})
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks = req.Tasks[:1]
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The genuine run first: the raw workers below send no heartbeats, so
	// they must not idle long.
	rep, out, cps := localRun(t, e, job.ModuleHash, factorInputs[0], testGrid)
	if len(cps) < 3 {
		t.Fatalf("%d local checkpoints", len(cps))
	}
	honest := dialCheckpointing(t, e, "honest")
	mallory := dialCheckpointing(t, e, "mallory")
	honest.send(&protocol.LeaseRequest{Max: 1})
	ls, ok := honest.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 || ls.Leases[0].CheckpointEvery != testGrid {
		t.Fatalf("leases %+v", ls)
	}
	lease := ls.Leases[0].LeaseID
	c1, c2 := cps[0], cps[1]
	ck := func(c localCheckpoint) *protocol.Checkpoint {
		return &protocol.Checkpoint{LeaseID: lease, Seq: c.seq, Fuel: c.fuel, StateHash: c.state, Snapshot: c.full, Stdout: c.stdout, Stderr: []byte{}, CostMS: 1}
	}
	refused := func(who *rawWorker, m *protocol.Checkpoint, code, why string) {
		t.Helper()
		id := who.send(m)
		em, ok := who.read().(*protocol.ErrorMsg)
		if !ok || em.ReplyTo != id || em.Code != code || !strings.Contains(em.Message, why) {
			t.Fatalf("%s: got %+v, want %s (%q)", why, em, code, why)
		}
	}
	corrupt := ck(c1)
	corrupt.Snapshot = bytes.Clone(c1.full)
	corrupt.Snapshot[len(corrupt.Snapshot)/2] ^= 1
	wrongHash := ck(c1)
	wrongHash.StateHash = strings.Repeat("0", 64)
	wrongBase := ck(c2)
	wrongBase.Snapshot, wrongBase.Base = c2.delta, strings.Repeat("1", 64)
	deltaFirst := ck(c2)
	deltaFirst.Snapshot, deltaFirst.Base = c2.delta, c2.base
	offGrid := ck(c1)
	offGrid.Seq = c1.seq + 1
	other := ck(c1)
	other.LeaseID = "12345.1"
	big := ck(c1)
	big.Stdout = make([]byte, 256<<10)
	lateSeq := ck(c2)

	refused(mallory, ck(c1), protocol.CodeLeaseNotHeld, "not held")
	refused(honest, other, protocol.CodeLeaseNotHeld, "not held")
	refused(honest, corrupt, protocol.CodeBadCheckpoint, "checkpoint 1")
	refused(honest, wrongHash, protocol.CodeBadCheckpoint, "state hash")
	refused(honest, deltaFirst, protocol.CodeBadCheckpoint, "no previous checkpoint")
	refused(honest, offGrid, protocol.CodeBadCheckpoint, "grid")
	refused(honest, big, protocol.CodeTooLarge, "exceeds")
	if j, _ := e.alice.Job(ctx, job.ID); j.Checkpointing.Checkpoints != 0 || j.Tasks.Running != 1 {
		t.Fatalf("after refusals: %+v %+v", j.Checkpointing, j.Tasks)
	}
	// The genuine ones: checkpoint 1 full, checkpoint 2 as a delta.
	if a, ok := honest.read2(honest.send(ck(c1))).(*protocol.Ack); !ok {
		t.Fatalf("checkpoint 1 not acked: %+v", a)
	}
	refused(honest, wrongBase, protocol.CodeBadCheckpoint, "delta against")
	refused(honest, ck(c1), protocol.CodeBadCheckpoint, "does not follow")
	if a, ok := honest.read2(honest.send(deltaFirst)).(*protocol.Ack); !ok {
		t.Fatalf("checkpoint 2 not acked: %+v", a)
	}
	refused(honest, lateSeq, protocol.CodeBadCheckpoint, "does not follow")
	// The worker leaves; another resumes from checkpoint 2 (its snapshot
	// downloaded with its session credentials), and reports the output
	// after it only.
	honest.ws.CloseNow()
	w2 := dialCheckpointing(t, e, "w2")
	w2.send(&protocol.LeaseRequest{Max: 1})
	ls, ok = w2.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 || ls.Leases[0].Resume == nil || ls.Leases[0].Resume.Seq != c2.seq || ls.Leases[0].Resume.StateHash != c2.state {
		t.Fatalf("resumed lease %+v", ls)
	}
	rl := ls.Leases[0]
	httpGet := func(auth string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/workers/snapshots/"+rl.Resume.Snapshot, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := httpGet(""); st != http.StatusUnauthorized {
		t.Fatalf("snapshot without credentials: %d", st)
	}
	if st, _ := httpGet("Session 1:wrong"); st != http.StatusUnauthorized {
		t.Fatalf("snapshot with a wrong token: %d", st)
	}
	if st, _ := httpGet("Session " + strconv.FormatInt(w2.welcome.SessionID, 10) + ":" + w2.welcome.SessionToken); st != http.StatusOK {
		t.Fatalf("snapshot for its holder: %d", st)
	}
	// The rest of the output, after checkpoint 2.
	rest := out[len(c1.stdout)+len(c2.stdout):]
	rid := w2.send(&protocol.Result{LeaseID: rl.LeaseID, Status: string(rep.Status), Stdout: []byte(rest), Stderr: []byte{}, Fuel: rep.Fuel})
	if _, ok := w2.read2(rid).(*protocol.Ack); !ok {
		t.Fatal("result not acked")
	}
	got := collect(t, e.alice, job.ID)
	if string(got[0].Stdout) != out || got[0].Fuel != rep.Fuel {
		t.Fatalf("assembled %q fuel %d, want %q fuel %d", got[0].Stdout, got[0].Fuel, out, rep.Fuel)
	}
	j, _ := e.alice.Job(ctx, job.ID)
	if ck := j.Checkpointing; ck.Checkpoints != 2 || ck.Resumes != 1 || ck.LostSegments != 1 {
		t.Fatalf("checkpointing %+v", ck)
	}
}

// read2 reads the reply to message id.
func (r *rawWorker) read2(id uint64) protocol.Message {
	r.t.Helper()
	m := r.read()
	if protocol.Hdr(m).ReplyTo != id {
		r.t.Fatalf("expected a reply to %d, got %+v", id, m)
	}
	return m
}

// A module the suspend rewrite refuses (here: it has a start function) is
// still accepted and runs whole, without checkpoints; the job says so.
func TestNotSuspendable(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()
	mod := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type 0: [] -> []
		"\x03\x03\x02\x00\x00" + // two functions of type 0
		"\x07\x0a\x01\x06_start\x00\x00" + // export _start = func 0
		"\x08\x01\x01" + // start = func 1
		"\x0a\x07\x02\x02\x00\x0b\x02\x00\x0b") // two empty bodies
	job, err := e.alice.Submit(ctx, &api.SubmitRequest{Module: mod, Tasks: []api.TaskSpec{{}}, MaxError: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ck := job.Checkpointing; ck == nil || ck.Suspendable || !strings.Contains(ck.Note, "without checkpoints") {
		t.Fatalf("checkpointing %+v", job.Checkpointing)
	}
	e.startWorker("w", 1)
	got := collect(t, e.alice, job.ID)
	if len(got) != 1 || got[0].State != "done" || got[0].Status != "ok" {
		t.Fatalf("results %+v", got)
	}
	if j, _ := e.alice.Job(ctx, job.ID); j.Checkpointing.Checkpoints != 0 {
		t.Fatalf("checkpoints of a module that cannot suspend: %+v", j.Checkpointing)
	}
}
