package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// dashboardPrimes are primes of 13 to 14 digits: trial division takes each
// past several checkpoints at the grid the test fixes.
var dashboardPrimes = []string{"1000000000039", "3000000000013", "7000000000009", "20000000000021", "1000000007", "999999937"}

// addOwner gives an owner an API token.
func (e *env) addOwner(owner string) *api.Client {
	e.t.Helper()
	secret := "tok-" + owner
	if _, err := e.db.TokenInsert(context.Background(), &store.TokenInsertParams{Owner: owner, Name: owner, Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return &api.Client{Server: e.srv.URL, Token: secret}
}

// signIn opens the dashboard at hash and signs in with secret.
func signIn(t *testing.T, ctx context.Context, base, hash, secret string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/dashboard"+hash)); err != nil {
		t.Fatal(err)
	}
	signInHere(t, ctx, secret)
}

// signInHere signs in on the page open.
func signInHere(t *testing.T, ctx context.Context, secret string) {
	t.Helper()
	waitFor(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#token"), secret), chromedp.Click(chromedp.CSS("#signin-form button"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "signed in", `!document.getElementById('nav').hidden`, 30*time.Second)
}

// goHash moves the page to another of its views (a same-document
// navigation, which chromedp.Navigate would wait on for a load that never
// comes).
func goHash(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, hash))); err != nil {
		t.Fatal(err)
	}
}

// screenshot writes the page as PNG into $CROWDRUN_SCREENSHOTS (the
// docs/screenshots of docs/dashboard.md), when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CROWDRUN_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ''`, id))
}

// plotTotals is what a plot of the job page says it shows: the sum of
// each of its series over the buckets.
func plotTotals(t *testing.T, ctx context.Context, id string) []float64 {
	t.Helper()
	var v []float64
	s := eval[string](t, ctx, fmt.Sprintf(`document.getElementById(%q).dataset.totals || '[]'`, id))
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDashboard: an owner signs in, watches a job that really runs on a
// native worker update live (list and job page, never reloaded), sees the
// figures the store holds in numbers and plots, filters its tasks and
// downloads its results; another owner's job is invisible to it; the
// operator's overview is refused to the owner and shows the operator the
// worker online, then gone.
func TestDashboard(t *testing.T) {
	needChromium(t)
	e := newEnv(t, func(c *coordinator.Config) {
		c.Operators = []string{"op"}
		c.CheckpointEvery = 1 << 22 // several checkpoints per task
	})
	bob := e.addOwner("bob")
	e.addOwner("op")
	ctx := context.Background()

	req := &api.SubmitRequest{Name: "primes", Module: readExample(t, "factor.wasm"), Replicas: 1, MaxError: 1}
	for _, n := range dashboardPrimes {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(n + "\n")})
	}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	bobJob, err := bob.Submit(ctx, &api.SubmitRequest{Name: "bob's", Module: readExample(t, "factor.wasm"), MaxError: 1, Tasks: []api.TaskSpec{{Stdin: []byte("12\n")}}})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	// A wrong token is refused with the API's words, and nothing is kept.
	if err := chromedp.Do(b, chromedp.Navigate(e.srv.URL+"/dashboard")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the sign-in form", `!document.getElementById('signin').hidden`, 30*time.Second)
	if err := chromedp.Do(b, chromedp.SetValue(chromedp.CSS("#token"), "wrong"), chromedp.Click(chromedp.CSS("#signin-form button"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the refusal", `document.getElementById('signin-error').textContent.includes('not valid')`, 30*time.Second)
	if eval[bool](t, b, `sessionStorage.getItem('crowdrun.token') !== null`) {
		t.Fatal("a refused token was kept")
	}

	// Alice's jobs: hers only, no worker yet, nothing done.
	signIn(t, b, e.srv.URL, "", "tok-alice")
	row := fmt.Sprintf(`document.querySelector('tr[data-job="%d"]')`, job.ID)
	waitFor(t, b, "alice's job listed", row, 30*time.Second)
	if eval[bool](t, b, fmt.Sprintf(`!!document.querySelector('tr[data-job="%d"]')`, bobJob.ID)) {
		t.Fatal("bob's job is listed for alice")
	}
	if got := eval[string](t, b, row+`.querySelector('.tasks').textContent`); got != fmt.Sprintf("0 / %d", len(dashboardPrimes)) {
		t.Fatalf("progress before any worker: %q", got)
	}
	if !eval[bool](t, b, `document.getElementById('nav-overview').hidden`) {
		t.Fatal("the overview link is shown to an owner who is no operator")
	}
	// Her token cannot open bob's job, nor the overview, through the API.
	for _, path := range []string{fmt.Sprintf("/v1/events?job=%d", bobJob.ID), fmt.Sprintf("/v1/jobs/%d/history", bobJob.ID), fmt.Sprintf("/v1/jobs/%d/tasks", bobJob.ID), "/v1/overview", "/v1/events?overview=1"} {
		st := eval[int](t, b, fmt.Sprintf(`fetch(%q, {headers: {Authorization: 'Bearer tok-alice'}}).then(r => r.status)`, path))
		want := http.StatusNotFound
		if path == "/v1/overview" || path == "/v1/events?overview=1" {
			want = http.StatusForbidden
		}
		if st != want {
			t.Errorf("alice GET %s: %d, want %d", path, st, want)
		}
	}

	// The job's page, open before any worker: it must update by itself.
	goHash(t, b, fmt.Sprintf("#/jobs/%d", job.ID))
	waitFor(t, b, "the job page", `document.getElementById('stat-total') && document.getElementById('stat-total').textContent === '6'`, 30*time.Second)
	if got := text(t, b, "stat-done"); got != "0" {
		t.Fatalf("tasks done before any worker: %q", got)
	}
	waitFor(t, b, "the tasks listed pending", `document.querySelectorAll('#tasks-body tr.state-pending').length === 6`, 30*time.Second)
	marker := eval[bool](t, b, `window.notReloaded = true`)

	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native-1", Slots: 2, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancelW := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	stopW := sync.OnceValue(func() error { cancelW(); return <-wdone })
	defer stopW()

	// Live: checkpoints and tasks appear while the job runs, then all of it.
	waitFor(t, b, "a checkpoint shown live", `Number(document.getElementById('stat-checkpoints').textContent) > 0`, 2*time.Minute)
	waitFor(t, b, "every task done, live", `document.getElementById('stat-done').textContent === '6' && document.getElementById('job-state').textContent === 'done'`, hangGuard)
	if !marker || !eval[bool](t, b, `window.notReloaded === true`) {
		t.Fatal("the page was reloaded")
	}
	// The figures are the store's.
	final := e.job(job.ID)
	ck := final.Checkpointing
	if final.Tasks.Done != 6 || ck == nil || ck.Checkpoints == 0 {
		t.Fatalf("job %+v", final)
	}
	// The page may show the round before the last: wait for its last.
	waitFor(t, b, "the final figures", fmt.Sprintf(`document.getElementById('stat-checkpoints').textContent === %q && document.getElementById('stat-fuel').textContent === %q`,
		strconv.Itoa(ck.Checkpoints), fmtEn(final.Tasks.Fuel)), 30*time.Second)
	for id, want := range map[string]string{"stat-done": "6", "stat-disputed": "0", "stat-lost": strconv.Itoa(ck.LostSegments), "stat-resumes": strconv.Itoa(ck.Resumes)} {
		if got := text(t, b, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	// The plots: tasks settled add up to the job's, checkpoints to its
	// counter, fuel per second times the step to the fuel the worker saved.
	if got := plotTotals(t, b, "plot-tasks"); len(got) != 2 || got[0] != 6 || got[1] != 0 {
		t.Errorf("tasks plot totals %v, want [6 0]", got)
	}
	if got := plotTotals(t, b, "plot-checkpoints"); len(got) != 1 || int(got[0]) != ck.Checkpoints {
		t.Errorf("checkpoints plot total %v, want %d", got, ck.Checkpoints)
	}
	var hist api.History
	getJSON(t, e.srv.URL+fmt.Sprintf("/v1/jobs/%d/history", job.ID), "tok-alice", &hist)
	var fuel float64
	for _, f := range hist.FuelPerSecond {
		fuel += f * float64(hist.StepMS) / 1000
	}
	segs, err := e.alice.Segments(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var saved uint64
	for _, g := range segs {
		if g.FuelEnd > g.FuelStart {
			saved += g.FuelEnd - g.FuelStart
		}
	}
	if uint64(fuel+0.5) != saved || saved != final.Tasks.Fuel {
		t.Errorf("fuel plotted %.0f; the job's segments saved %d; its results' fuel %d", fuel, saved, final.Tasks.Fuel)
	}
	if pts := eval[string](t, b, `document.getElementById('plot-fuel').dataset.points`); pts != strconv.Itoa(len(hist.T)) || len(hist.T) < 1 {
		t.Errorf("fuel plot has %s points, the history %d", pts, len(hist.T))
	}
	if !eval[bool](t, b, `document.querySelectorAll('#plot-fuel canvas').length === 1 && document.querySelector('#plot-fuel canvas').width > 0`) {
		t.Error("the fuel plot has no canvas")
	}
	screenshot(t, b, "job.png")

	// Tasks by state: the list, read while they were pending, shows them
	// done by itself; then filtered, every one done, none pending.
	waitFor(t, b, "the task list updated live", `document.querySelectorAll('#tasks-body tr.state-done').length === 6`, 30*time.Second)
	for _, c := range []struct {
		state string
		want  int
	}{{"done", 6}, {"pending", 0}, {"", 6}} {
		if _, err := chromedp.Run(b, chromedp.Evaluate[bool](fmt.Sprintf(`(s => (s.value = %q, s.dispatchEvent(new Event('change'))))(document.getElementById('task-state'))`, c.state))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, b, "tasks "+c.state, fmt.Sprintf(`document.getElementById('tasks-body').dataset.filter === %q && document.getElementById('tasks-body').dataset.loaded === '%d'`, c.state, c.want), 30*time.Second)
	}
	// Results as NDJSON: one line per task.
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("#download"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the results downloaded", `document.getElementById('download-status').dataset.lines === '6'`, 30*time.Second)

	// The list shows the job done; a job submitted now appears in it and
	// runs to its end there, live.
	goHash(t, b, "#/jobs")
	waitFor(t, b, "the job done in the list", row+` && `+row+`.querySelector('.tasks').textContent === '6 / 6'`, 30*time.Second)
	sweep := &api.SubmitRequest{Name: "sweep", Module: readExample(t, "factor.wasm"), MaxError: 1}
	for i := range 40 {
		sweep.Tasks = append(sweep.Tasks, api.TaskSpec{Stdin: []byte(strconv.Itoa(1_000_000_000_039+1000*i) + "\n")})
	}
	job2, err := e.alice.Submit(ctx, sweep)
	if err != nil {
		t.Fatal(err)
	}
	row2 := fmt.Sprintf(`document.querySelector('tr[data-job="%d"]')`, job2.ID)
	waitFor(t, b, "the new job listed, live", row2, 30*time.Second)
	screenshot(t, b, "jobs.png")
	waitFor(t, b, "the new job done in the list, live", row2+`.querySelector('.tasks').textContent === '40 / 40' && `+row2+`.querySelector('.state').textContent === 'done'`, 2*time.Minute)
	if got := eval[string](t, b, row2+`.querySelector('progress').value + '/' + `+row2+`.querySelector('progress').max`); got != "40/40" {
		t.Errorf("the new job's progress bar: %s", got)
	}

	// The operator's overview: the native worker online, then gone.
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("#signout"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	goHash(t, b, "#/overview")
	signInHere(t, b, "tok-op")
	if eval[bool](t, b, `document.getElementById('nav-overview').hidden`) {
		t.Fatal("the overview link is hidden from the operator")
	}
	waitFor(t, b, "the worker online", `document.getElementById('ov-native') && document.getElementById('ov-native').textContent === '1' && document.getElementById('ov-slots').textContent === '2'`, 30*time.Second)
	waitFor(t, b, "samples plotted", `Number(document.getElementById('plot-online').dataset.points) >= 2`, 30*time.Second)
	if got := text(t, b, "ov-store"); got == "" || got == "0 B" || got == "…" {
		t.Errorf("store size %q", got)
	}
	screenshot(t, b, "overview.png")
	if err := stopW(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the worker gone, live", `document.getElementById('ov-native').textContent === '0'`, 30*time.Second)
}

// fmtEn formats n as the page does (Intl.NumberFormat('en')).
func fmtEn(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
