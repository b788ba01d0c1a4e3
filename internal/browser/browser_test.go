// Package browser tests the browser worker (js/browser) in real headless
// Chromium driven over the DevTools protocol (chromedp): a real coordinator
// on loopback, the real /contribute page and embed.js, guests in real Web
// Workers. Without Chromium the tests skip, except in CI (CI=true), where
// they fail: scripts/setup.sh installs it.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

var (
	engine   *sandbox.Engine
	chromium string // path of the browser, "" if absent
)

// findChromium returns Chromium's path: $CROWDRUN_CHROMIUM, Debian's
// /usr/lib/chromium/chromium, or chromium on the PATH.
func findChromium() string {
	for _, p := range []string{os.Getenv("CROWDRUN_CHROMIUM"), "/usr/lib/chromium/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	chromium = findChromium()
	if chromium == "" && os.Getenv("CI") == "true" {
		fmt.Fprintln(os.Stderr, "internal/browser: Chromium is required in CI (scripts/setup.sh installs the chromium package)")
		os.Exit(1)
	}
	ctx := context.Background()
	var err error
	if engine, err = sandbox.NewEngine(ctx); err != nil {
		panic(err)
	}
	code := m.Run()
	engine.Close(ctx)
	os.Exit(code)
}

func needChromium(t testing.TB) {
	t.Helper()
	if chromium == "" {
		t.Skip("Chromium not found (install it with scripts/setup.sh, or set CROWDRUN_CHROMIUM); in CI this is a failure")
	}
}

// env is a coordinator on loopback with a submitter.
type env struct {
	t     testing.TB
	db    *sqlite.DB
	c     *coordinator.Coordinator
	srv   *httptest.Server
	alice *api.Client
}

func newEnv(t testing.TB, mods ...func(*coordinator.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := coordinator.Config{Store: db, Engine: engine, HeartbeatInterval: 500 * time.Millisecond,
		LeaseTTL: 3 * time.Second, RescueInterval: 100 * time.Millisecond}
	for _, m := range mods {
		m(&cfg)
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
	secret := "tok-alice"
	if _, err := db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "alice", Name: "alice", Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.alice = &api.Client{Server: srv.URL, Token: secret}
	t.Cleanup(func() {
		c.Close()
		srv.CloseClientConnections()
		srv.Close()
		db.Close()
	})
	return e
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submitFactor submits examples/factor.wasm, one task per number.
func (e *env) submitFactor(numbers []string, replicas int) *api.Job {
	e.t.Helper()
	var tasks []api.TaskSpec
	for _, n := range numbers {
		tasks = append(tasks, api.TaskSpec{Stdin: []byte(n + "\n")})
	}
	return e.submit("factor", "factor.wasm", tasks, replicas)
}

// submit submits examples/MODULE (a path under examples/) with these tasks.
func (e *env) submit(name, module string, tasks []api.TaskSpec, replicas int) *api.Job {
	e.t.Helper()
	// Max error 1: one browser at a time, and these tests are about
	// running in browsers, not verification (with replicas > 1 the
	// replicas still form a quorum).
	req := &api.SubmitRequest{Name: name, Module: readExample(e.t, module), Tasks: tasks, Replicas: replicas, MaxError: 1}
	j, err := e.alice.Submit(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// results waits for every result of a job, by task index.
func (e *env) results(ctx context.Context, job int64) map[int]api.TaskResult {
	e.t.Helper()
	got := map[int]api.TaskResult{}
	err := e.alice.Results(ctx, job, 0, true, func(r *api.TaskResult) error {
		got[r.TaskIndex] = *r
		return nil
	})
	if err != nil {
		e.t.Fatalf("results of job %d: %v", job, err)
	}
	return got
}

func (e *env) job(id int64) *api.Job {
	e.t.Helper()
	j, err := e.alice.Job(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// newBrowser starts a headless Chromium with its own profile (so its own
// localStorage, hence its own worker name) and returns a tab's context.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	needChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithErrorf(func(f string, a ...any) {
		// chromedp reports events it cannot decode; they do not concern us.
		if !strings.Contains(f, "unhandled") && !strings.Contains(fmt.Sprintf(f, a...), "could not unmarshal") {
			t.Logf("chromedp: "+f, a...)
		}
	}))
	if err := chromedp.Do(ctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("starting %s: %v", chromium, err)
	}
	t.Cleanup(func() {
		cancelB()
		cancelA()
	})
	return ctx
}

// eval evaluates a JavaScript expression in the tab (awaiting a promise)
// and decodes its value into T.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate every 50 ms until it holds, failing
// the test after limit (a generous bound against a hang, not a timing
// assertion).
func waitFor(t testing.TB, ctx context.Context, what, expr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+expr+")", chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({state: globalThis.crowdrun && crowdrun.worker.state, error: globalThis.crowdrun && crowdrun.worker.error, vis: document.visibilityState})`))
			t.Fatalf("waiting for %s (%s): not after %v (err %v); page: %s", what, expr, limit, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil polls a Go condition every 50 ms, failing after limit.
func waitUntil(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// guestWorkers counts the tab's live Web Workers (DevTools targets of type
// worker): the guests that exist right now.
func guestWorkers(t testing.TB, ctx context.Context) int {
	t.Helper()
	ts, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range ts {
		if ti.Type == "worker" {
			n++
		}
	}
	return n
}

// openContribute opens /contribute (with query) and waits for the page's worker.
func openContribute(t testing.TB, ctx context.Context, base, query string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/contribute"+query)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the page's worker", `globalThis.crowdrun && crowdrun.worker`, 20*time.Second)
}

// click presses the consent button with a real mouse event.
func click(t testing.TB, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#toggle"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
}

type jsStats struct {
	State    string `json:"state"`
	Tasks    int    `json:"tasks"`
	Running  int    `json:"running"`
	Inflight int    `json:"inflight"`
	Released int    `json:"released"`
	Enabled  bool   `json:"enabled"`
}

const statsJS = `(() => { const w = crowdrun.worker; return {state: w.state, tasks: w.stats.tasks, running: w.sess ? w.sess.running.size : 0,
	inflight: w.inflight.size, released: w.stats.released, enabled: w.enabled}; })()`

func stats(t testing.TB, ctx context.Context) jsStats {
	t.Helper()
	return eval[jsStats](t, ctx, statsJS)
}

// nativeResults runs the same job on a native worker (wazero) against a
// second coordinator and returns its results: what browser results must
// equal.
func nativeResults(t *testing.T, numbers []string) map[int]api.TaskResult {
	t.Helper()
	e := newEnv(t)
	j := e.submitFactor(numbers, 1)
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 2, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer rcancel()
	res := e.results(rctx, j.ID)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return res
}

// runResults runs each input as `crowdrun run examples/factor.wasm` would
// (the sandbox, uninterrupted, argv[0] main.wasm): the reference for
// results that went through workers.
func runResults(t *testing.T, numbers []string) map[int]api.TaskResult {
	t.Helper()
	ctx := context.Background()
	m, err := engine.Compile(ctx, readExample(t, "factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]api.TaskResult{}
	for i, n := range numbers {
		var stdout, stderr bytes.Buffer
		rep := engine.Run(ctx, m, sandbox.Input{Args: []string{worker.Argv0}, Stdin: strings.NewReader(n + "\n"), Stdout: &stdout, Stderr: &stderr},
			sandbox.Limits{MemoryBytes: 64 << 20})
		out[i] = api.TaskResult{TaskIndex: i, State: "done", Status: string(rep.Status), ExitCode: rep.ExitCode, Message: rep.Message,
			Fuel: rep.Fuel, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	}
	return out
}

func sameResult(a, b api.TaskResult) bool {
	return a.Status == b.Status && a.ExitCode == b.ExitCode && a.Fuel == b.Fuel && a.Message == b.Message &&
		string(a.Stdout) == string(b.Stdout) && string(a.Stderr) == string(b.Stderr)
}

func show(r api.TaskResult) string {
	b, _ := json.Marshal(struct {
		State, Status string
		Exit          uint32
		Fuel          uint64
		Out, Err, Msg string
	}{r.State, r.Status, r.ExitCode, r.Fuel, string(r.Stdout), string(r.Stderr), r.Message})
	return string(b)
}

var _ = http.StatusOK
var _ = target.ActivateTarget

// hangGuard bounds waits for events that must come (a job's results, a
// page's figures): only against hangs, never sized to one machine's speed
// (TestThreeEnginesAgree, 21 s alone under -race, went past a 3-minute
// bound beside the rest of the suite on a busy 2-core machine).
const hangGuard = 10 * time.Minute
