package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// embed.js on a page of another site (http://localhost:P, while the
// coordinator is http://127.0.0.1:Q) adds the widget; nothing runs until
// the visitor presses its button; the host page cannot reach into the
// widget (so it cannot consent for the visitor); once on, the browser
// completes a job.
func TestEmbedOnAnotherSite(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>a blog</title><h1>A blog post</h1><p>Some text.</p>
<div id="donate"></div>
<script src="%s/embed.js" async data-target="#donate" data-slots="1" data-max-slots="2" data-duty="100"></script>`, e.srv.URL)
	}))
	defer host.Close()
	hostURL := strings.Replace(host.URL, "127.0.0.1", "localhost", 1)
	job := e.submitFactor(factorInputs[:4], 1)

	b := newBrowser(t)
	if err := chromedp.Do(b, chromedp.Navigate(hostURL)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the widget's frame", `document.querySelector('#donate iframe.crowdrun-widget')`, 20*time.Second)
	src := eval[string](t, b, `document.querySelector('#donate iframe').src`)
	if !strings.HasPrefix(src, e.srv.URL+"/contribute?embed=1") || !strings.Contains(src, "slots=1") {
		t.Fatalf("widget frame src %q", src)
	}
	// The host page cannot read or script the widget.
	if got := eval[string](t, b, `(() => { try { const f = document.querySelector('#donate iframe');
		return f.contentDocument === null ? 'no access' : 'access'; } catch (e) { return 'no access'; } })()`); got != "no access" {
		t.Fatalf("the host page can reach into the widget: %s", got)
	}

	// The widget's own context: the frame's DevTools target.
	frame := widgetFrame(t, b, e.srv.URL)
	waitFor(t, frame, "the widget's worker", `globalThis.crowdrun && crowdrun.worker && document.body.classList.contains('embed')`, 20*time.Second)
	if s := stats(t, frame); s.Enabled || s.State != "off" {
		t.Fatalf("the widget runs before consent: %+v", s)
	}
	time.Sleep(500 * time.Millisecond)
	if j := e.job(job.ID); j.Tasks.Running != 0 || j.Tasks.Done != 0 {
		t.Fatalf("work started before consent: %+v", j.Tasks)
	}
	if got := eval[int](t, frame, `crowdrun.worker.slots`); got != 1 {
		t.Errorf("data-slots=1, the widget offers %d", got)
	}
	if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#toggle"), chromedp.NodeVisible)); err != nil {
		t.Logf("a mouse click in the frame's target: %v; pressing the button from the frame instead", err)
		eval[bool](t, frame, `(document.getElementById('toggle').click(), true)`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := e.results(ctx, job.ID)
	want := runResults(t, factorInputs[:4])
	for i := range 4 {
		if !sameResult(got[i], want[i]) {
			t.Errorf("task %d:\n widget %s\n native %s", i, show(got[i]), show(want[i]))
		}
	}
	t.Logf("widget: crossOriginIsolated=%v, tasks=%d", eval[bool](t, frame, `globalThis.crossOriginIsolated === true`), stats(t, frame).Tasks)
}

// widgetFrame waits for the embedded widget's frame (a page of server's
// /contribute?embed=1) to appear among the browser's DevTools targets and
// returns a context attached to it.
func widgetFrame(t *testing.T, b context.Context, server string) context.Context {
	t.Helper()
	var frame context.Context
	waitUntil(t, "the widget's target", 20*time.Second, func() bool {
		ts, err := chromedp.Targets(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range ts {
			if strings.HasPrefix(ti.URL, server+"/contribute?embed=1") {
				var cancel context.CancelFunc
				frame, cancel = chromedp.NewContext(b, chromedp.WithTargetID(ti.TargetID))
				t.Cleanup(cancel)
				return true
			}
		}
		return false
	})
	return frame
}
