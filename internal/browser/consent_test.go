package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Tasks that keep a guest busy for a while: 9999999999999937 is a prime
// (about 0.7 s natively, 0.45 s in Chromium here).
var slowInputs = []string{"9999999999999937", "9999999999999937 1", "9999999999999937 2", "9999999999999937 3",
	"9999999999999937 4"}

// busyWindowJS starts recording the main thread's long tasks (≥ 50 ms, the
// PerformanceObserver 'longtask' entries) and the guests' run times.
const busyWindowJS = `(() => {
	globalThis.longTasks = [];
	new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push(e.duration); }).observe({ type: 'longtask' });
	return true;
})()`

// While the browser works, the page stays responsive: guests run in Web
// Workers, so the main thread has no long task anywhere near a guest's run
// time. Turning contribution off really stops the work: the guest workers
// are gone, the leases are back at the coordinator, no result follows.
// Hiding the tab (another tab of the window made active — a real
// visibilitychange, not a simulated one) pauses the same way; showing it
// again resumes, and the job completes.
func TestResponsiveStopAndHide(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	// Enough tasks that work is left for every stage (two done, the
	// observer's check, off, on again, hidden): the job must not end early
	// however the guests' pace compares with the checks'.
	inputs := append([]string(nil), slowInputs...)
	for i := len(inputs); i < 12; i++ {
		inputs = append(inputs, fmt.Sprintf("9999999999999937 %d", i))
	}
	job := e.submitFactor(inputs, 1)
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "?slots=2")
	if !eval[bool](t, b, busyWindowJS) {
		t.Fatal("no PerformanceObserver")
	}
	click(t, b)
	waitFor(t, b, "two tasks done", `crowdrun.worker.stats.tasks >= 2`, 90*time.Second)
	s := stats(t, b)
	busy := eval[float64](t, b, `crowdrun.worker.stats.busyMs / crowdrun.worker.stats.tasks`)
	long := eval[[]float64](t, b, `longTasks`)
	maxLong := 0.0
	for _, d := range long {
		maxLong = max(maxLong, d)
	}
	t.Logf("%d tasks, mean guest run %.0f ms; main thread: %d long tasks, longest %.0f ms", s.Tasks, busy, len(long), maxLong)
	// A guest that ran on the main thread would show as a long task as long
	// as its run. Long tasks are reported from 50 ms, so any run of three
	// times that tells the two apart; the inputs give ~0.45 s here, so the
	// test holds on a machine three times faster, and on any slower one.
	if busy < 150 {
		t.Fatalf("guest runs of %.0f ms are too short to tell a blocked main thread (long tasks start at 50 ms)", busy)
	}
	if maxLong >= busy/2 {
		t.Errorf("the main thread had a long task of %.0f ms while guests ran %.0f ms each: guests block the page", maxLong, busy)
	}
	// The instrument works: blocking the main thread for one guest run's
	// length is seen as a long task of about that length.
	eval[bool](t, b, fmt.Sprintf(`(setTimeout(() => { const t0 = performance.now(); while (performance.now() - t0 < %.0f) {} }), true)`, busy))
	waitFor(t, b, "the observer to see a long task", fmt.Sprintf(`longTasks.some((d) => d >= %.0f)`, busy*0.9), 10*time.Second)

	// Off: every guest worker terminated, leases given back at once.
	waitFor(t, b, "runs in progress", `crowdrun.worker.sess && crowdrun.worker.sess.running.size > 0`, 60*time.Second)
	if n := guestWorkers(t, b); n == 0 {
		t.Fatal("working, yet no guest worker")
	}
	click(t, b)
	waitFor(t, b, "contribution off", `crowdrun.worker.state === 'off' && crowdrun.worker.inflight.size === 0`, 10*time.Second)
	waitUntil(t, "the guest workers to end", 10*time.Second, func() bool { return guestWorkers(t, b) == 0 })
	waitUntil(t, "the leases to come back", 10*time.Second, func() bool { return e.job(job.ID).Tasks.Running == 0 })
	off := stats(t, b)
	if off.Released == 0 {
		t.Errorf("turned off while running, but nothing was released: %+v", off)
	}
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || stats(t, b).Tasks != off.Tasks {
		t.Fatalf("work went on after contribution was turned off: %+v, %+v", j.Tasks, stats(t, b))
	}
	if got := eval[string](t, b, `document.getElementById('toggle').getAttribute('aria-pressed')`); got != "false" {
		t.Errorf("toggle shows %s after turning off", got)
	}

	// Hidden: a second tab of the same window becomes the active one.
	click(t, b)
	waitFor(t, b, "runs in progress again", `crowdrun.worker.sess && crowdrun.worker.sess.running.size > 0`, 60*time.Second)
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
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || stats(t, b).Tasks != hidden.Tasks {
		t.Fatalf("work went on in a hidden tab: %+v, %+v", j.Tasks, stats(t, b))
	}

	// Visible again: it resumes by itself and finishes the job.
	if _, err := chromedp.CallBrowser(b, target.ActivateTarget, target.ActivateTargetParams{TargetID: chromedp.FromContext(b).Target.TargetID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the tab to be visible", `document.visibilityState === 'visible'`, 10*time.Second)
	ctx, cancelR := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelR()
	got := e.results(ctx, job.ID)
	for i := range inputs {
		if r := got[i]; r.State != "done" || r.Status != "ok" || !strings.HasPrefix(string(r.Stdout), strings.Fields(inputs[i])[0]+": ") {
			t.Errorf("task %d: %s", i, show(r))
		}
	}
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
