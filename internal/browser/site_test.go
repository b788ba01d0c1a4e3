package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// A site embeds the widget with data-site="Example.org": the widget's
// frame is /contribute?site=…, its worker names the site (lower-cased)
// in hello, and, once its visitor consents, it runs tasks of a verifying
// job (max error 10⁻⁶) beside a native worker that names no site. When
// the job is done, /v1/credit shows example.org's credit: more than
// zero, the browser's account's work only, and equal to the sum of the
// verified credit of the accounts it lists.
func TestSiteCreditFromWidget(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	ctx := context.Background()
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>example.org</title><h1>Example</h1>
<div id="donate"></div>
<script src="%s/embed.js" async data-site="Example.org" data-target="#donate" data-slots="1" data-duty="100"></script>`, e.srv.URL)
	}))
	defer host.Close()
	inputs := factorInputs[:3]
	req := &api.SubmitRequest{Name: "factor", Module: readExample(t, "factor.wasm"), Replicas: 1} // max error: the default, 1e-6
	for _, n := range inputs {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(n + "\n")})
	}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if job.Trust.MaxError >= 1 {
		t.Fatalf("the job verifies nothing: max error %g", job.Trust.MaxError)
	}

	b := newBrowser(t)
	if err := chromedp.Do(b, chromedp.Navigate(strings.Replace(host.URL, "127.0.0.1", "localhost", 1))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the widget's frame", `document.querySelector('#donate iframe.crowdrun-widget')`, 20*time.Second)
	if src := eval[string](t, b, `document.querySelector('#donate iframe').src`); !strings.Contains(src, "site=Example.org") {
		t.Fatalf("widget frame src %q does not pass the site", src)
	}
	frame := widgetFrame(t, b, e.srv.URL)
	waitFor(t, frame, "the widget's worker", `globalThis.crowdrun && crowdrun.worker`, 20*time.Second)
	if got := eval[string](t, frame, `crowdrun.worker.site`); got != "example.org" {
		t.Fatalf("the widget's worker names site %q, want example.org", got)
	}
	account := "anon:" + eval[string](t, frame, `crowdrun.worker.name`)

	// A native worker that names no site, so that each task's check has
	// another account.
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 1, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	defer func() { stop(); wg.Wait() }()

	if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#toggle"), chromedp.NodeVisible)); err != nil {
		t.Logf("a mouse click in the frame's target: %v; pressing the button from the frame instead", err)
		eval[bool](t, frame, `(document.getElementById('toggle').click(), true)`)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // against a hang only
	defer cancel()
	got := e.results(rctx, job.ID)
	want := runResults(t, inputs)
	for i := range inputs {
		if got[i].State != "done" || !sameResult(got[i], want[i]) {
			t.Errorf("task %d: %s (%+v), want %s", i, show(got[i]), got[i].Verification, show(want[i]))
		}
	}
	if s := stats(t, frame); s.Tasks == 0 {
		t.Fatalf("the widget ran no task: %+v", s)
	}

	anon := &api.Client{Server: e.srv.URL}
	c, err := anon.SiteCredit(ctx, "example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sites) != 1 || c.Sites[0].Site != "example.org" || c.Sites[0].Total == 0 {
		t.Fatalf("example.org's credit: %+v", c.Sites)
	}
	site := c.Sites[0]
	var sum uint64
	for _, p := range site.Accounts {
		if p.Account != account {
			t.Errorf("example.org's credit lists %s (%d fuel): only the widget's account %s worked for it", p.Account, p.Fuel, account)
		}
		ac, err := anon.Credit(ctx, p.Account, "")
		if err != nil || len(ac.Accounts) != 1 {
			t.Fatalf("credit of %s: %+v %v", p.Account, ac, err)
		}
		// The account worked for the site only: its part is all its
		// verified credit.
		if ac.Accounts[0].Total != p.Fuel {
			t.Errorf("%s: %d verified credit, %d of it for example.org", p.Account, ac.Accounts[0].Total, p.Fuel)
		}
		sum += ac.Accounts[0].Total
	}
	if len(site.Accounts) == 0 || sum != site.Total {
		t.Fatalf("example.org's credit %d; its accounts' verified credit sums to %d (%+v)", site.Total, sum, site.Accounts)
	}
	t.Logf("example.org: %d fuel, from %s; job trust %+v", site.Total, account, e.job(job.ID).Trust)
}
