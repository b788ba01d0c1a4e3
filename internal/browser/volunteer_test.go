package browser

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// waitForAsync is waitFor for an expression whose value is a promise (of
// a boolean): waitFor's Boolean(…) of a promise would hold at once.
func waitForAsync(t *testing.T, ctx context.Context, what, expr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("(async () => Boolean(await ("+expr+")))()", chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s (%s): not after %v (err %v)", what, expr, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inWords is contribute.js's words(): two significant digits and the
// name of the power of a thousand (3200000000 → "3.2 billion").
func inWords(n uint64) string {
	v := float64(n)
	for _, u := range []struct {
		d    float64
		name string
	}{{1e15, "quadrillion"}, {1e12, "trillion"}, {1e9, "billion"}, {1e6, "million"}, {1e3, "thousand"}} {
		if v >= u.d {
			x := v / u.d               // 1 ≤ x < 1000: two significant digits
			r := math.Round(x*10) / 10 // 1.0 … 9.9
			if x >= 10 {
				p := math.Pow(10, math.Floor(math.Log10(x))-1)
				r = math.Round(x/p) * p // 10 … 990: whole numbers
			}
			return strconv.FormatFloat(r, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatUint(n, 10)
}

// The volunteers' pages with a job that really runs: a verifying job
// (max error 10⁻⁶) of two long tasks, on Chromium's /contribute and
// a native worker.
//
//   - /contribute says, in words, which part of which job the browser
//     runs — the numbers of the lease its worker holds — and the steps
//     done so far, growing while it runs;
//   - the leaderboard, opened in another browser before any credit
//     existed, fills in without a reload (server-sent events) and lists
//     every account of the ledger with exactly its verified credit;
//   - the browser's volunteer page plots that credit: the chart's running
//     total ends at the ledger's figure;
//   - /contribute then shows the visitor's verified credit, the ledger's;
//   - when the browser's account is caught, it leaves the open leaderboard.
func TestVolunteerPagesLive(t *testing.T) {
	needChromium(t)
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = 100_000_000 })
	ctx := context.Background()
	// Two long tasks (10^18 + 3, alone or with 2: billions of fuel each), so
	// that whichever the browser takes runs long enough to be seen.
	inputs := []string{longPrime, longPrime + " 2"}
	req := &api.SubmitRequest{Name: "factor", Module: readExample(t, "factor.wasm"), Replicas: 1} // max error: the default
	for _, n := range inputs {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(n + "\n")})
	}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}

	// The leaderboard, open before anything is credited.
	board := newBrowser(t)
	if err := chromedp.Do(board, chromedp.Navigate(e.srv.URL+"/leaderboard")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, board, "the empty leaderboard", `document.getElementById('note-all').textContent.includes('No account')`, 20*time.Second)
	waitFor(t, board, "the event stream", `document.getElementById('live').textContent === 'live'`, 20*time.Second)
	eval[bool](t, board, `(globalThis.notReloaded = true)`)

	// The visitor consents; alone, its worker takes a task.
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "?slots=1")
	click(t, b)
	// Waits for the words; on a timeout, says what the page said instead.
	for deadline := time.Now().Add(time.Minute); ; {
		said := eval[string](t, b, `document.getElementById('doing').textContent + ' | ' + JSON.stringify(crowdrun.me())`)
		if regexp.MustCompile(`working on part \d+ of 2`).MatchString(said) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/contribute never named a task: %s", said)
		}
		time.Sleep(50 * time.Millisecond)
	}
	doing := eval[string](t, b, `document.getElementById('doing').textContent`)
	lease := eval[struct {
		Job  int64 `json:"job"`
		Part int   `json:"part"`
	}](t, b, `(() => { const l = [...crowdrun.worker.sess.running.values()][0].lease; return {job: l.job_id, part: l.task_index + 1}; })()`)
	want := "part " + strconv.Itoa(lease.Part) + " of 2 of a job of alice's (job " + strconv.FormatInt(job.ID, 10) + ")"
	if lease.Job != job.ID || !strings.Contains(doing, want) {
		t.Fatalf("/contribute says %q; the worker holds part %d of job %d (want %q)", doing, lease.Part, lease.Job, want)
	}
	// Live: the steps the coordinator reports for the run grow while the
	// page stays open (heartbeats, then the page's next ask).
	fuelJS := `(async () => { await crowdrun.refreshMe(); const m = crowdrun.me(); return m && m.running.length ? String(m.running[0].fuel) : '0'; })()`
	first, _ := strconv.ParseUint(eval[string](t, b, fuelJS), 10, 64)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		now, _ := strconv.ParseUint(eval[string](t, b, fuelJS), 10, 64)
		if now > first && first > 0 {
			t.Logf("/contribute: %q; steps reported %d, then %d", doing, first, now)
			break
		}
		if first == 0 {
			first = now
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run's steps did not grow on /contribute: %d then %d", first, now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	screenshot(t, b, "contribute.png")

	// A native worker, so that the browser's work can be checked by another
	// account, and the job's end.
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 1, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	defer func() { stop(); wg.Wait() }()
	rctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	got := e.results(rctx, job.ID)
	for i := range inputs {
		if got[i].State != "done" {
			t.Fatalf("task %d: %s", i, show(got[i]))
		}
	}

	// The ledger's view: every account with standing credit.
	anon := &api.Client{Server: e.srv.URL}
	credit, err := anon.Credit(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ledger := map[string]uint64{}
	for _, a := range credit.Accounts {
		if a.Total > 0 {
			ledger[a.Account] = a.Total
		}
	}
	me := "anon:" + eval[string](t, b, `crowdrun.worker.name`)
	if ledger[me] == 0 || ledger["anon:native"] == 0 {
		t.Fatalf("the ledger: %v; want credit for the browser (%s) and the native worker", ledger, me)
	}

	// The leaderboard tab, never reloaded, lists them with their credit.
	rowsJS := `Object.fromEntries([...document.querySelectorAll('#rows-all tr')].map((tr) => [tr.dataset.account, tr.dataset.credit]))`
	var rows map[string]string
	waitUntil(t, "the leaderboard to show the ledger", 2*time.Minute, func() bool {
		rows = eval[map[string]string](t, board, rowsJS)
		if len(rows) != len(ledger) {
			return false
		}
		for a, c := range ledger {
			if rows[a] != strconv.FormatUint(c, 10) {
				return false
			}
		}
		return true
	})
	if !eval[bool](t, board, `globalThis.notReloaded === true`) {
		t.Fatal("the leaderboard was reloaded")
	}
	week := eval[map[string]string](t, board, `Object.fromEntries([...document.querySelectorAll('#rows-7d tr')].map((tr) => [tr.dataset.account, tr.dataset.credit]))`)
	if week[me] != rows[me] {
		t.Errorf("last 7 days: %v; all time %v (all of it earned today)", week, rows)
	}
	t.Logf("leaderboard: %v (ledger %v)", rows, ledger)
	screenshot(t, board, "leaderboard.png")

	// The browser's volunteer page: the chart's running total is the ledger's.
	if err := chromedp.Do(board, chromedp.Navigate(e.srv.URL+"/volunteer/"+me)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, board, "the chart", `globalThis.crowdrunVolunteer && crowdrunVolunteer.chart() && document.querySelector('#chart canvas')`, 20*time.Second)
	total := eval[string](t, board, `(() => { const d = crowdrunVolunteer.chart().data; return String(d[2][d[2].length - 1]); })()`)
	if total != strconv.FormatUint(ledger[me], 10) {
		t.Fatalf("the chart's total %s, the ledger's %d", total, ledger[me])
	}
	if txt := eval[string](t, board, `document.getElementById('account').textContent + ' ' + document.getElementById('rank-all').textContent`); !strings.HasPrefix(txt, me+" #") {
		t.Errorf("volunteer page heading and rank: %q", txt)
	}
	screenshot(t, board, "volunteer.png")

	// /contribute: the visitor's verified credit, the ledger's.
	waitForAsync(t, b, "the visitor's verified credit", `(async () => { await crowdrun.refreshMe(); const m = crowdrun.me(); return m && m.credit && String(m.credit.credit) === '`+strconv.FormatUint(ledger[me], 10)+`'; })()`, time.Minute)
	verified := eval[string](t, b, `document.getElementById('credited').textContent`)
	if want := "So far " + inWords(ledger[me]) + " steps of this work have been accepted and credited"; !strings.HasPrefix(verified, want) {
		t.Fatalf("/contribute says %q, want %q…", verified, want)
	}
	t.Logf("/contribute: %q", verified)
	click(t, b) // stop, so the screenshot shows the page at rest
	screenshot(t, b, "contribute-credited.png")

	// The browser's account is caught (its grants revoked, a ban, as the
	// verifier writes them): the leaderboard, open meanwhile, drops it
	// without a reload, the other account's credit unchanged, and
	// /contribute says so.
	if err := chromedp.Do(board, chromedp.Navigate(e.srv.URL+"/leaderboard")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, board, "the leaderboard's rows", `document.querySelectorAll('#rows-all tr').length === 2 && document.getElementById('live').textContent === 'live'`, 20*time.Second)
	eval[bool](t, board, `(globalThis.notReloaded = true)`)
	grants, err := e.db.LedgerList(ctx, &store.LedgerListParams{Account: me})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var caught []store.LedgerEntry
	for _, g := range grants {
		if g.Kind == store.LedgerGrant {
			caught = append(caught, store.LedgerEntry{Kind: store.LedgerRevoke, Account: me, Site: g.Site, JobID: g.JobID, TaskID: g.TaskID, ReplicaID: g.ReplicaID,
				Link: g.Link, Fuel: g.Fuel, Ref: g.Seq, Day: g.Day, At: now, Reason: "test: caught"})
		}
	}
	caught = append(caught, store.LedgerEntry{Kind: store.LedgerBan, Account: me, At: now, Reason: "test: caught"})
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: caught}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: me, LiesCaught: 1, Ban: true, Now: now}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the caught account to leave the leaderboard", 2*time.Minute, func() bool {
		rows = eval[map[string]string](t, board, rowsJS)
		return len(rows) == 1 && rows["anon:native"] == strconv.FormatUint(ledger["anon:native"], 10)
	})
	if !eval[bool](t, board, `globalThis.notReloaded === true`) {
		t.Fatal("the leaderboard was reloaded")
	}
	waitForAsync(t, b, "/contribute to say the account was caught", `(async () => { await crowdrun.refreshMe(); return document.getElementById('credited').textContent.includes('caught'); })()`, time.Minute)
}
