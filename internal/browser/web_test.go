package browser

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The pages and scripts are served with the right types and headers, and
// only what a browser needs: not the tests, not the Node commands, nothing
// outside package js.
func TestWebFiles(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		path, ctype string
		status      int
		header      map[string]string
	}{
		{"/contribute", "text/html; charset=utf-8", 200, map[string]string{"Cross-Origin-Opener-Policy": "same-origin",
			"Cross-Origin-Embedder-Policy": "require-corp", "Content-Security-Policy": "script-src 'self' 'wasm-unsafe-eval'"}},
		{"/embed.js", "text/javascript; charset=utf-8", 200, map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"/js/runtime.js", "text/javascript; charset=utf-8", 200, map[string]string{"Cross-Origin-Embedder-Policy": "require-corp"}},
		{"/js/guest-worker.js", "text/javascript; charset=utf-8", 200, nil},
		{"/js/browser/client.js", "text/javascript; charset=utf-8", 200, nil},
		{"/js/browser/contribute.css", "text/css; charset=utf-8", 200, nil},
		{"/js/protocol.test.js", "", 404, nil},
		{"/js/node/run.mjs", "", 404, nil},
		{"/js/browser/contribute.html", "", 404, nil},
		{"/js/../go.mod", "", 404, nil},
		{"/js/embed.go", "", 404, nil},
		{"/js/nope.js", "", 404, nil},
	} {
		resp, body := get(t, e.srv.URL+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		for k, v := range c.header {
			if got := resp.Header.Get(k); !strings.Contains(got, v) {
				t.Errorf("%s: %s %q, want it to contain %q", c.path, k, got, v)
			}
		}
		if len(body) == 0 {
			t.Errorf("%s: empty", c.path)
		}
	}
}

// The public summary lists the running jobs of every owner (grouped by
// module), picks up jobs submitted later, drops finished ones, and shows
// no job names or tokens; the credit endpoint counts a worker's work.
func TestWebSummaryAndCredit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "bob", Name: "bob", Hash: coordinator.HashToken("tok-bob"), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	bob := &api.Client{Server: e.srv.URL, Token: "tok-bob"}
	summary := func() coordinator.PublicSummary {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // the summary is cached for a second
		resp, body := get(t, e.srv.URL+"/v1/contribute/summary")
		if resp.StatusCode != 200 {
			t.Fatalf("summary: %d %s", resp.StatusCode, body)
		}
		for _, secret := range []string{"tok-", "factor", "secret-name"} {
			if strings.Contains(body, secret) {
				t.Errorf("the public summary shows %q: %s", secret, body)
			}
		}
		var s coordinator.PublicSummary
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := summary(); len(s.Jobs) != 0 || s.Coordinator.Name == "" {
		t.Fatalf("empty coordinator: %+v", s)
	}
	j1 := e.submitFactor([]string{"1", "2"}, 1)
	e.submitFactor([]string{"3"}, 1)
	req := &api.SubmitRequest{Name: "secret-name", Module: readExample(t, "echo.wasm"), Tasks: []api.TaskSpec{{Args: []string{"hi"}}}, MaxError: 1} // one worker
	jb, err := bob.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s := summary()
	// Every job here accepts one unchecked replica (max error 1): the page
	// says so.
	const unchecked = "results are accepted unchecked: each is what one volunteer's computer reported"
	want := []coordinator.PublicJobGroup{{Owner: "alice", ModuleHash: j1.ModuleHash, Jobs: 2, TasksPending: 3, Verification: unchecked},
		{Owner: "bob", ModuleHash: jb.ModuleHash, Jobs: 1, TasksPending: 1, Verification: unchecked}}
	if len(s.Jobs) != 2 || s.Jobs[0] != want[0] || s.Jobs[1] != want[1] {
		t.Fatalf("summary jobs %+v, want %+v", s.Jobs, want)
	}

	// A native worker runs everything: the jobs leave the summary, and it
	// has credit.
	credit := func(name string) coordinator.Credit {
		t.Helper()
		resp, body := get(t, e.srv.URL+"/v1/contribute/credit?worker="+name)
		if resp.StatusCode != 200 {
			t.Fatalf("credit: %d %s", resp.StatusCode, body)
		}
		var c coordinator.Credit
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := credit("native"); c.Tasks != 0 || c.Fuel != 0 {
		t.Fatalf("credit before any work: %+v", c)
	}
	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 2, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	e.results(rctx, j1.ID)
	if err := bob.Results(rctx, jb.ID, 0, true, func(*api.TaskResult) error { return nil }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every job done", time.Minute, func() bool { return len(summary().Jobs) == 0 })
	c := credit("native")
	stop()
	<-done
	if c.Tasks != 4 || c.Fuel == 0 || c.Sessions != 1 {
		t.Errorf("credit after 4 tasks: %+v", c)
	}
	for _, q := range []string{"", "?worker=", "?worker=" + strings.Repeat("x", 129)} {
		if resp, _ := get(t, e.srv.URL+"/v1/contribute/credit"+q); resp.StatusCode != 400 {
			t.Errorf("credit%s: %d, want 400", q, resp.StatusCode)
		}
	}
}
