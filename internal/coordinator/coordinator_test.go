package coordinator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

var engine *sandbox.Engine

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if engine, err = sandbox.NewEngine(ctx); err != nil {
		panic(err)
	}
	before := runtime.NumGoroutine()
	code := m.Run()
	engine.Close(ctx)
	http.DefaultClient.CloseIdleConnections()
	// Every goroutine has an owner: once every test has closed what it
	// opened, nothing of ours may remain.
	deadline := time.Now().Add(5 * time.Second)
	for code == 0 && runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if code == 0 && runtime.NumGoroutine() > before+2 {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", buf[:runtime.Stack(buf, true)])
		code = 1
	}
	os.Exit(code)
}

func readWasm(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type env struct {
	t     testing.TB
	db    *sqlite.DB
	c     *coordinator.Coordinator
	srv   *httptest.Server
	alice *api.Client
	bob   *api.Client
}

func newEnv(t testing.TB, mod func(*coordinator.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := coordinator.Config{Store: db, Engine: engine, HeartbeatInterval: 500 * time.Millisecond, LeaseTTL: 2 * time.Second,
		RescueInterval: 100 * time.Millisecond, MaxRequestBytes: 1 << 20, MaxMessage: 1 << 20,
		// Tests make requests as fast as the machine goes, all from one
		// address, and move injected clocks by hours: the rate limits and
		// the lease hold limit are off unless a test sets them
		// (abuse_test.go).
		OwnerRate: coordinator.Rate{PerSecond: -1}, IPRate: coordinator.Rate{PerSecond: -1}, LeaseHoldFactor: -1}
	if mod != nil {
		mod(&cfg)
	}
	c, err := coordinator.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	e := &env{t: t, db: db, c: c, srv: srv}
	e.alice = e.client("alice")
	e.bob = e.client("bob")
	t.Cleanup(func() {
		c.Close()
		srv.CloseClientConnections()
		srv.Close()
		db.Close()
	})
	return e
}

func (e *env) client(owner string) *api.Client {
	secret := "tok-" + owner
	if _, err := e.db.TokenInsert(context.Background(), &store.TokenInsertParams{Owner: owner, Name: owner, Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return &api.Client{Server: e.srv.URL, Token: secret}
}

// startWorker runs an in-process worker until the test ends.
func (e *env) startWorker(name string, slots int) *worker.Worker {
	return e.startConfigured(worker.Config{Name: name, Slots: slots}).Worker
}

func echoJob(t *testing.T, n, replicas int) *api.SubmitRequest {
	// Max error 1: these tests are about scheduling, not verification
	// (trust_test.go); with one replica a result is accepted as it is.
	req := &api.SubmitRequest{Name: "echo", Module: readWasm(t, "echo.wasm"), Replicas: replicas, MaxError: 1}
	for i := 0; i < n; i++ {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(fmt.Sprintf("task %d\n", i))})
	}
	return req
}

func collect(t *testing.T, c *api.Client, id int64) map[int]*api.TaskResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	got := map[int]*api.TaskResult{}
	err := c.Results(ctx, id, 0, true, func(r *api.TaskResult) error {
		if _, dup := got[r.TaskIndex]; dup {
			return fmt.Errorf("task %d reported twice", r.TaskIndex)
		}
		got[r.TaskIndex] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestJobEndToEnd(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.startWorker("w1", 2)
	e.startWorker("w2", 2)
	job, err := e.alice.Submit(ctx, echoJob(t, 10, 2))
	if err != nil {
		t.Fatal(err)
	}
	if job.State != "running" || job.Tasks.Total != 10 || job.Tasks.Queued != 20 {
		t.Fatalf("submitted job %+v", job)
	}
	got := collect(t, e.alice, job.ID)
	if len(got) != 10 {
		t.Fatalf("%d results, want 10", len(got))
	}
	for i, r := range got {
		if want := fmt.Sprintf("task %d\n", i); string(r.Stdout) != want || r.State != "done" || r.Status != "ok" {
			t.Fatalf("task %d: %+v, want stdout %q", i, r, want)
		}
	}
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil || j.State != "done" || j.Tasks.Done != 10 || j.FinishedAt == nil {
		t.Fatalf("job after: %+v %v", j, err)
	}
	// Two replicas per task, two workers: each worker ran each task once.
	ws, err := e.alice.Workers(ctx)
	if err != nil || len(ws) != 2 || ws[0].Tasks != 10 || ws[1].Tasks != 10 {
		t.Fatalf("workers %+v %v", ws, err)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 5, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bob.Cancel(ctx, job.ID); !isAPIError(err, http.StatusNotFound) {
		t.Fatalf("bob cancelled alice's job: %v", err)
	}
	j, err := e.alice.Cancel(ctx, job.ID)
	if err != nil || j.State != "cancelled" || j.Tasks.Cancelled != 5 {
		t.Fatalf("cancel: %+v %v", j, err)
	}
	if _, err := e.alice.Cancel(ctx, job.ID); !isAPIError(err, http.StatusConflict) {
		t.Fatalf("second cancel: %v", err)
	}
	if got := collect(t, e.alice, job.ID); len(got) != 0 {
		t.Fatalf("results of a cancelled job: %v", got)
	}
}

func isAPIError(err error, status int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == status
}

// Bad input: each refused with a clear error, and nothing else disturbed.
func TestBadSubmissions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	good, err := e.alice.Submit(ctx, echoJob(t, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	post := func(token, body string) (int, api.Error) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/jobs", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ae api.Error
		json.NewDecoder(resp.Body).Decode(&ae)
		return resp.StatusCode, ae
	}
	valid, _ := json.Marshal(echoJob(t, 1, 1))
	forbidden, _ := json.Marshal(&api.SubmitRequest{Module: readWasm(t, "forbidden.wasm"), Tasks: []api.TaskSpec{{}}})
	notWasm, _ := json.Marshal(&api.SubmitRequest{Module: []byte("hello"), Tasks: []api.TaskSpec{{}}})
	for _, tc := range []struct {
		name, token, body string
		status            int
		code, msg         string
	}{
		{"malformed", "tok-alice", `{"module": "AAA`, 400, api.CodeBadRequest, "not a valid job submission"},
		{"unknown field", "tok-alice", `{"modul": "AAAA"}`, 400, api.CodeBadRequest, "unknown field"},
		{"no tasks", "tok-alice", `{"module": "AGFzbQEAAAA="}`, 400, api.CodeBadRequest, "at least one task"},
		{"bad replicas", "tok-alice", `{"module": "AGFzbQEAAAA=", "tasks":[{}], "replicas": 50}`, 400, api.CodeBadRequest, "replicas"},
		{"oversized", "tok-alice", `{"module": "` + strings.Repeat("A", 2<<20) + `"}`, 413, api.CodeTooLarge, "exceeds"},
		{"not wasm", "tok-alice", string(notWasm), 422, "invalid_module", "not a WebAssembly binary"},
		{"forbidden import", "tok-alice", string(forbidden), 422, "forbidden_import", "env.socket"},
		{"bad token", "tok-mallory", string(valid), 401, api.CodeUnauthorized, "not valid"},
		{"no token", "", string(valid), 401, api.CodeUnauthorized, "required"},
	} {
		status, ae := post(tc.token, tc.body)
		if status != tc.status || ae.Err.Code != tc.code || !strings.Contains(ae.Err.Message, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %s containing %q", tc.name, status, ae.Err, tc.status, tc.code, tc.msg)
		}
	}
	// Another owner's job is invisible.
	if _, err := e.bob.Job(ctx, good.ID); !isAPIError(err, http.StatusNotFound) {
		t.Errorf("bob sees alice's job: %v", err)
	}
	if err := e.bob.Results(ctx, good.ID, 0, false, func(*api.TaskResult) error { return nil }); !isAPIError(err, http.StatusNotFound) {
		t.Errorf("bob reads alice's results: %v", err)
	}
	if l, err := e.bob.Jobs(ctx); err != nil || len(l) != 0 {
		t.Errorf("bob lists %v %v", l, err)
	}
	// Nothing else disturbed: only the one good job exists, and it runs.
	if l, err := e.alice.Jobs(ctx); err != nil || len(l) != 1 {
		t.Fatalf("alice lists %d jobs, %v", len(l), err)
	}
	e.startWorker("w", 1)
	if got := collect(t, e.alice, good.ID); len(got) != 2 {
		t.Fatalf("good job: %d results", len(got))
	}
}

// rawWorker speaks the protocol by hand.
type rawWorker struct {
	welcome *protocol.Welcome
	t       *testing.T
	ws      *websocket.Conn
	id      uint64
}

func dialRaw(t *testing.T, e *env, name string) *rawWorker {
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(protocol.MaxMessage)
	t.Cleanup(func() { ws.CloseNow() })
	r := &rawWorker{t: t, ws: ws}
	if name != "" {
		r.send(&protocol.Hello{Protocol: protocol.Version, Worker: name, Slots: 8})
		if _, ok := r.read().(*protocol.Welcome); !ok {
			t.Fatal("no welcome")
		}
	}
	return r
}

func (r *rawWorker) send(m protocol.Message) uint64 {
	r.id++
	protocol.Hdr(m).ID = r.id
	b, err := protocol.Encode(m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.writeRaw(b)
	return r.id
}

func (r *rawWorker) writeRaw(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := r.ws.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawWorker) read() protocol.Message {
	r.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		_, b, err := r.ws.Read(ctx)
		cancel()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		m, err := protocol.Decode(b)
		if err != nil {
			r.t.Fatal(err)
		}
		if _, ok := m.(*protocol.HeartbeatAck); !ok {
			return m
		}
	}
}

// readClose reads until the coordinator closes, returning the last error
// message and the close status.
func (r *rawWorker) readClose() (*protocol.ErrorMsg, websocket.StatusCode) {
	var last *protocol.ErrorMsg
	for {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		_, b, err := r.ws.Read(ctx)
		cancel()
		if err != nil {
			return last, websocket.CloseStatus(err)
		}
		if m, err := protocol.Decode(b); err == nil {
			if em, ok := m.(*protocol.ErrorMsg); ok {
				last = em
			}
		}
	}
}

func TestForgedResults(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	mallory := dialRaw(t, e, "mallory")
	honest := dialRaw(t, e, "honest")
	honest.send(&protocol.LeaseRequest{Max: 1})
	ls, ok := honest.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 {
		t.Fatalf("leases %+v", ls)
	}
	lease := ls.Leases[0].LeaseID
	// A result for a lease mallory does not hold, and one that never existed.
	for _, id := range []string{lease, "12345.1"} {
		rid := mallory.send(&protocol.Result{LeaseID: id, Status: "ok", Stdout: []byte("forged")})
		em, ok := mallory.read().(*protocol.ErrorMsg)
		if !ok || em.ReplyTo != rid || em.Code != protocol.CodeLeaseNotHeld {
			t.Fatalf("forged result for %s: %+v", id, em)
		}
	}
	rid := honest.send(&protocol.Result{LeaseID: lease, Status: "ok", Stdout: []byte("task 0\n")})
	if a, ok := honest.read().(*protocol.Ack); !ok || a.ReplyTo != rid {
		t.Fatalf("genuine result not acked")
	}
	// Reporting twice.
	rid = honest.send(&protocol.Result{LeaseID: lease, Status: "ok", Stdout: []byte("changed my mind")})
	if em, ok := honest.read().(*protocol.ErrorMsg); !ok || em.ReplyTo != rid || em.Code != protocol.CodeLeaseNotHeld {
		t.Fatalf("second report: %+v", em)
	}
	got := collect(t, e.alice, job.ID)
	if len(got) != 1 || string(got[0].Stdout) != "task 0\n" {
		t.Fatalf("results %+v", got)
	}
}

func TestGarbageFrames(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Garbage before hello, garbage after, an oversized frame.
	g := dialRaw(t, e, "")
	g.writeRaw([]byte("\x00\x01 not json"))
	if em, st := g.readClose(); em == nil || em.Code != protocol.CodeBadMessage || st != websocket.StatusPolicyViolation {
		t.Fatalf("garbage before hello: %+v %v", em, st)
	}
	g = dialRaw(t, e, "garbage")
	g.send(&protocol.LeaseRequest{Max: 1}) // takes a lease, then misbehaves
	if _, ok := g.read().(*protocol.Leases); !ok {
		t.Fatal("no lease")
	}
	g.writeRaw([]byte(`{"type":"result","id":9}`))
	if em, st := g.readClose(); em == nil || em.Code != protocol.CodeBadMessage || !strings.Contains(em.Message, "lease_id") || st != websocket.StatusPolicyViolation {
		t.Fatalf("bad result: %+v %v", em, st)
	}
	big := dialRaw(t, e, "big")
	b := append([]byte(`{"type":"bye","id":1,"x":"`), bytes.Repeat([]byte("a"), 1<<20+10)...)
	big.ws.Write(ctx, websocket.MessageText, append(b, `"}`...))
	// The coordinator stops reading at the limit and closes with 1009; the
	// close frame may be lost to a TCP reset since the sender was still
	// writing, so the test only requires that the connection ends.
	if _, st := big.readClose(); st != websocket.StatusMessageTooBig && st != -1 {
		t.Fatalf("oversized frame: close status %v", st)
	}
	// Nothing else disturbed: the lease the garbage worker held is requeued
	// and an honest worker finishes the job.
	e.startWorker("w", 2)
	if got := collect(t, e.alice, job.ID); len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := coordinator.New(context.Background(), coordinator.Config{Store: nil})
	if err == nil {
		t.Fatal("no store accepted")
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = coordinator.New(context.Background(), coordinator.Config{Store: db, Engine: engine, HeartbeatInterval: time.Second, LeaseTTL: time.Second})
	if err == nil || !strings.Contains(err.Error(), "LeaseTTL") {
		t.Fatalf("short lease accepted: %v", err)
	}
	for _, tc := range []struct {
		slots int
		cpu   float64
	}{{1, 1.5}, {2, 2.5}, {1, -0.1}} {
		_, err = coordinator.New(context.Background(), coordinator.Config{Store: db, Engine: engine, TrustedSlots: tc.slots, TrustedCPU: tc.cpu})
		if err == nil || !strings.Contains(err.Error(), "TrustedCPU") {
			t.Errorf("TrustedCPU %v with %d slots accepted: %v", tc.cpu, tc.slots, err)
		}
	}
	if _, err = coordinator.New(context.Background(), coordinator.Config{Store: db, Engine: engine, TrustedSlots: 2, TrustedCPU: 2}); err != nil {
		t.Errorf("TrustedCPU 2 with 2 slots refused: %v", err)
	}
}

// failFirstComplete is a store whose first ReplicaComplete fails, as on a
// full disk.
type failFirstComplete struct {
	store.Store
	mu    sync.Mutex
	calls int
}

func (f *failFirstComplete) ReplicaComplete(ctx context.Context, p *store.ReplicaCompleteParams) ([]store.ReplicaOutcome, error) {
	f.mu.Lock()
	f.calls++
	first := f.calls == 1
	f.mu.Unlock()
	if first {
		return nil, fmt.Errorf("test: %w", store.ErrFull)
	}
	return f.Store.ReplicaComplete(ctx, p)
}

// A result the store refuses (a full disk) is requeued at once: the worker
// has moved on, and the lease must not stay held, renewed with its
// session's other leases, for as long as the session lasts (the chaos
// harness found a job stuck so: docs/chaos.md). The task runs again and
// the job ends.
func TestUnrecordedResultRequeued(t *testing.T) {
	var fs *failFirstComplete
	e := newEnv(t, func(c *coordinator.Config) {
		fs = &failFirstComplete{Store: c.Store}
		c.Store = fs
	})
	e.startWorker("w1", 1)
	job, err := e.alice.Submit(context.Background(), echoJob(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, e.alice, job.ID)
	if r := got[0]; len(got) != 1 || r.Status != "ok" || string(r.Stdout) != "task 0\n" {
		t.Fatalf("results: %v", got)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.calls < 2 {
		t.Fatalf("%d ReplicaComplete calls: the failure was not exercised", fs.calls)
	}
}

// fullStore refuses every new job, as a full disk would.
type fullStore struct{ store.Store }

func (fullStore) JobInsert(context.Context, *store.JobInsertParams) (*store.Job, error) {
	return nil, fmt.Errorf("test: %w", store.ErrFull)
}

// A submission the store has no room for is refused with 507 store_full,
// not an anonymous 500, and nothing is recorded.
func TestSubmitStoreFull(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.Store = fullStore{c.Store} })
	ctx := context.Background()
	_, err := e.alice.Submit(ctx, echoJob(t, 3, 1))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusInsufficientStorage || ae.Err.Code != api.CodeStoreFull {
		t.Fatalf("submitting to a full store: %v", err)
	}
	if jobs, err := e.alice.Jobs(ctx); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs after: %v %v", jobs, err)
	}
}
