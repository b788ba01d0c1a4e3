package browser

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

// Tasks that keep a guest busy for a while: 9999999999999937 is a prime
// (about 0.7 s natively, 0.45 s in Chromium here).
var slowInputs = []string{"9999999999999937", "9999999999999937 1", "9999999999999937 2", "9999999999999937 3",
	"9999999999999937 4"}

// longPrime, 10^18 + 3, is a prime: factoring it takes 3,666,673,474 fuel,
// seconds of guest time on this machine, while the stages of
// TestResponsiveStopAndHide each act within the first few hundred million
// fuel of a run (progress is reported every grid/8 fuel). A run of it
// outlasts any stage many times over, on a machine several times faster.
const longPrime = "1000000000000000003"

// runningJS lists the runs in progress, the fuel each has reached, and the
// fuel it started from (a checkpoint's, for a lease that resumes one), as
// the page's main thread sees them.
const runningJS = `(() => { const s = crowdrun.worker.sess; if (!s) return [];
	return [...s.running].map(([lease, r]) => ({lease, fuel: String(r.progress),
		from: String(r.lease.resume ? r.lease.resume.fuel : 0)})); })()`

// waitAdvancing waits until one run in progress has been seen by n
// evaluations on the page's main thread, each seeing it further on (more
// fuel) and still running: its guest ran between them while the page's own
// thread was free to run the evaluations. An event, not a duration: how long the run takes does not matter, only
// that it is seen advancing.
func waitAdvancing(t *testing.T, ctx context.Context, what string, n int, limit time.Duration) {
	t.Helper()
	seen := map[string][]uint64{} // lease → the increasing fuel seen
	deadline := time.Now().Add(limit)
	for {
		runs := eval[[]struct{ Lease, Fuel, From string }](t, ctx, runningJS)
		live := map[string]bool{}
		for _, r := range runs {
			fuel, err := strconv.ParseUint(r.Fuel, 10, 64)
			from, err2 := strconv.ParseUint(r.From, 10, 64)
			if err != nil || err2 != nil {
				t.Fatalf("a run's progress %q from %q: %v, %v", r.Fuel, r.From, err, err2)
			}
			// A resumed run is at its checkpoint's fuel before its guest
			// has run at all: only progress past it is the guest's.
			fuel = max(fuel, from)
			live[r.Lease] = true
			if s := seen[r.Lease]; len(s) == 0 || fuel > s[len(s)-1] {
				seen[r.Lease] = append(s, fuel)
			}
			if len(seen[r.Lease]) >= n {
				t.Logf("%s: run %s seen at fuel %v", what, r.Lease, seen[r.Lease])
				return
			}
		}
		for lease := range seen {
			if !live[lease] {
				delete(seen, lease) // ended: a run seen advancing must still be running
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: no run seen advancing %d times in %v (runs now %+v)", what, n, limit, runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// While the browser works, the page stays responsive: guests run in Web
// Workers, so the page's main thread sees a run advance while it runs —
// evaluations on it, one after another, each find the same run further on.
// Turning contribution off really stops the work: the guest workers are
// gone, the leases are back at the coordinator, no result follows. Hiding
// the tab (another tab of the window made active — a real
// visibilitychange, not a simulated one) pauses the same way; showing it
// again resumes, and the job completes.
//
// Nothing here is sized by time: each stage waits for the event it needs
// (a run seen advancing) before it acts, and the runs are long in fuel
// (longPrime) next to what a stage takes of them, so that none ends before
// the test is done with it.
func TestResponsiveStopAndHide(t *testing.T) {
	needChromium(t)
	// A fixed grid, so that runs report progress (every grid/8 fuel) and
	// leases given back resume from their checkpoints.
	const grid = 200_000_000
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = grid })
	// One long task per slot: a run is in progress at every stage. Max
	// error 1: one browser, and this is not about verification. The
	// wall-clock limit is a backstop for one whole run, far above its time.
	req := &api.SubmitRequest{Name: "factor", Module: readExample(t, "factor.wasm"), Replicas: 1, MaxError: 1,
		Limits: api.Limits{TimeoutMS: int64(30 * time.Minute / time.Millisecond)}}
	for range 2 {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(longPrime + "\n")})
	}
	job, err := e.alice.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "?slots=2")
	click(t, b)
	// Responsive: the main thread sees one run at three points of its
	// progress. A guest on the main thread would be seen only before or
	// after its whole run.
	waitAdvancing(t, b, "a run advancing under the page's eyes", 3, 90*time.Second)
	if n := guestWorkers(t, b); n == 0 {
		t.Fatal("working, yet no guest worker")
	}

	// Off, while a run is in progress: every guest worker terminated,
	// leases given back at once.
	waitAdvancing(t, b, "a run in progress", 2, 60*time.Second)
	click(t, b)
	waitFor(t, b, "contribution off", `crowdrun.worker.state === 'off' && crowdrun.worker.inflight.size === 0`, 10*time.Second)
	waitUntil(t, "the guest workers to end", 10*time.Second, func() bool { return guestWorkers(t, b) == 0 })
	waitUntil(t, "the leases to come back", 10*time.Second, func() bool { return e.job(job.ID).Tasks.Running == 0 })
	off := stats(t, b)
	if off.Released == 0 || off.Tasks != 0 {
		t.Errorf("turned off while running: want leases released and no task done, got %+v", off)
	}
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || stats(t, b).Tasks != off.Tasks {
		t.Fatalf("work went on after contribution was turned off: %+v, %+v", j.Tasks, stats(t, b))
	}
	if got := eval[string](t, b, `document.getElementById('toggle').getAttribute('aria-pressed')`); got != "false" {
		t.Errorf("toggle shows %s after turning off", got)
	}

	// Hidden, while a run is in progress: a second tab of the same window
	// becomes the active one.
	click(t, b)
	waitAdvancing(t, b, "a run in progress again", 2, 60*time.Second)
	other, cancel := chromedp.NewContext(b, chromedp.WithNewWindow(false))
	defer cancel()
	if err := chromedp.Do(other, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(other, target.ActivateTarget, target.ActivateTargetParams{TargetID: chromedp.FromContext(other).Target.TargetID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the tab to be hidden", `document.visibilityState === 'hidden'`, 10*time.Second)
	waitFor(t, b, "the pause", `crowdrun.worker.state === 'paused' && crowdrun.worker.inflight.size === 0`, 10*time.Second)
	if r := eval[string](t, b, `document.getElementById('pause-reason').textContent`); !strings.Contains(r, "tab hidden") {
		t.Errorf("pause reason shown: %q", r)
	}
	waitUntil(t, "the guest workers to end", 10*time.Second, func() bool { return guestWorkers(t, b) == 0 })
	waitUntil(t, "the leases to come back", 10*time.Second, func() bool { return e.job(job.ID).Tasks.Running == 0 })
	hidden := stats(t, b)
	if hidden.Released <= off.Released || hidden.Tasks != 0 {
		t.Errorf("hidden while running: want more leases released and no task done, got %+v (after off: %+v)", hidden, off)
	}
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || stats(t, b).Tasks != hidden.Tasks {
		t.Fatalf("work went on in a hidden tab: %+v, %+v", j.Tasks, stats(t, b))
	}

	// Visible again: it resumes by itself and finishes the job.
	if _, err := chromedp.CallBrowser(b, target.ActivateTarget, target.ActivateTargetParams{TargetID: chromedp.FromContext(b).Target.TargetID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the tab to be visible", `document.visibilityState === 'visible'`, 10*time.Second)
	waitAdvancing(t, b, "work resumed", 2, 60*time.Second)
	// A bound against a hang only: the whole of both runs is left to do.
	ctx, cancelR := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancelR()
	got := e.results(ctx, job.ID)
	for i := range req.Tasks {
		if r := got[i]; r.State != "done" || r.Status != "ok" || string(r.Stdout) != longPrime+": "+longPrime+"\n" {
			t.Errorf("task %d: %s", i, show(r))
		}
	}
	t.Logf("browser: %d resumes, %d checkpoints", eval[int](t, b, `crowdrun.worker.stats.resumes`), eval[int](t, b, `crowdrun.worker.stats.checkpoints`))
}

// fakeBatteryJS replaces navigator.getBattery before the page's scripts run
// (DevTools has no battery emulation): a battery manager the test can plug
// in and unplug, firing chargingchange as a real one does.
const fakeBatteryJS = `(() => {
	const b = new EventTarget();
	b.charging = false; b.level = 0.5; b.chargingTime = Infinity; b.dischargingTime = 3600;
	globalThis.__battery = b;
	globalThis.__plug = (on) => { b.charging = on; b.dispatchEvent(new Event('chargingchange')); };
	Object.defineProperty(Navigator.prototype, 'getBattery', { value: () => Promise.resolve(b), configurable: true });
})()`

// On battery, contribution pauses even when turned on: no session, no
// guest; plugged in, it works; unplugged again, it stops.
func TestPausesOnBattery(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	job := e.submitFactor(slowInputs[:3], 1)
	b := newBrowser(t)
	if _, err := chromedp.Call(b, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeBatteryJS}); err != nil {
		t.Fatal(err)
	}
	openContribute(t, b, e.srv.URL, "?slots=1")
	click(t, b)
	waitFor(t, b, "the pause on battery", `crowdrun.worker.state === 'paused' && crowdrun.worker.pauses.has('on battery')`, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || guestWorkers(t, b) != 0 {
		t.Fatalf("working on battery: %+v, %d guest workers", j.Tasks, guestWorkers(t, b))
	}
	if r := eval[string](t, b, `document.getElementById('pause-reason').textContent`); !strings.Contains(r, "on battery") {
		t.Errorf("pause reason shown: %q", r)
	}
	eval[bool](t, b, `(__plug(true), true)`)
	waitFor(t, b, "work once plugged in", `crowdrun.worker.sess && crowdrun.worker.sess.running.size > 0`, 30*time.Second)
	eval[bool](t, b, `(__plug(false), true)`)
	waitFor(t, b, "the pause when unplugged", `crowdrun.worker.state === 'paused' && crowdrun.worker.inflight.size === 0`, 10*time.Second)
	waitUntil(t, "the guest workers to end", 10*time.Second, func() bool { return guestWorkers(t, b) == 0 })
	waitUntil(t, "the lease to come back", 10*time.Second, func() bool { return e.job(job.ID).Tasks.Running == 0 })
}
