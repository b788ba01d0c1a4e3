package browser

import (
	"context"
	"testing"
	"time"
)

// The factorer's inputs: small and large numbers, a prime that takes a
// while, a token that is not a number and one too large (exit 1, stderr).
var factorInputs = []string{"600851475143", "1000000007", "97", "12", "0", "99999999999973",
	"18446744073709551557", "abc 42", "999999000001 1234567890123"}

// A job completes with browser workers only — two Chromium instances (two
// profiles, so two worker names), every task replicated on both, so each
// result is accepted only if both browsers agree — and its results equal a
// native worker's (wazero): status, exit code, output and fuel.
func TestJobByBrowsersOnly(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	job := e.submitFactor(factorInputs, 2)
	b1, b2 := newBrowser(t), newBrowser(t)
	for _, b := range []context.Context{b1, b2} {
		openContribute(t, b, e.srv.URL, "")
		// Nothing runs before consent.
		if s := stats(t, b); s.Enabled || s.State != "off" || guestWorkers(t, b) != 0 {
			t.Fatalf("before consent: %+v, %d guest workers", s, guestWorkers(t, b))
		}
	}
	// The page shows what would run and for whom before anything runs.
	waitFor(t, b1, "the public summary", `document.getElementById('jobs').textContent.includes('alice') &&
		document.getElementById('jobs').textContent.includes(`+"`"+job.ModuleHash+"`"+`)`, 30*time.Second)
	if j := e.job(job.ID); j.Tasks.Running != 0 || j.Tasks.Done != 0 {
		t.Fatalf("work started before consent: %+v", j.Tasks)
	}
	click(t, b1)
	click(t, b2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := e.results(ctx, job.ID)
	want := nativeResults(t, factorInputs)
	if len(got) != len(factorInputs) {
		t.Fatalf("%d results, want %d", len(got), len(factorInputs))
	}
	for i := range factorInputs {
		g, w := got[i], want[i]
		if g.State != "done" {
			t.Errorf("task %d: %s (the two browsers disagreed?) %s", i, g.State, show(g))
		}
		t.Logf("task %d: %s", i, show(g))
		if !sameResult(g, w) {
			t.Errorf("task %d:\n browsers %s\n native   %s", i, show(g), show(w))
		}
	}
	// Both browsers worked, and the coordinator credits them.
	for _, b := range []context.Context{b1, b2} {
		if s := stats(t, b); s.Tasks == 0 {
			t.Errorf("a browser ran no task: %+v", s)
		}
		eval[any](t, b, `crowdrun.refreshCredit()`)
		waitFor(t, b, "the credit", `Number(document.getElementById('credit-tasks').textContent) > 0`, 20*time.Second)
	}
}
