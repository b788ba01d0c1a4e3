package cli

import (
	"context"
	"errors"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

// urlWriter passes on the URL serve prints when it listens.
type urlWriter struct {
	once sync.Once
	url  chan string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func (w *urlWriter) Write(b []byte) (int, error) {
	if m := listening.FindSubmatch(b); m != nil {
		w.once.Do(func() { w.url <- string(m[1]) })
	}
	return len(b), nil
}

// TestServeLimitFlags: the abuse limits given to crowdrun serve hold: a
// submission past --quota-jobs answers 429 quota_exceeded, requests past
// --owner-burst 429 rate_limited; a negative cap is a usage error.
func TestServeLimitFlags(t *testing.T) {
	if code, _, errOut := runCLI(t, "", "serve", "--data", t.TempDir(), "--max-pending", "-1"); code != exitUsage || !strings.Contains(errOut, "--max-pending") {
		t.Fatalf("--max-pending -1: exit %d, %q", code, errOut)
	}
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &urlWriter{url: make(chan string, 1)}
	done := make(chan int, 1)
	go func() {
		m := &Main{Stdin: strings.NewReader(""), Stdout: out, Stderr: &strings.Builder{}}
		done <- m.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--quiet",
			"--quota-jobs", "1", "--owner-rate", "0.001", "--owner-burst", "4", "--ip-rate", "-1"})
	}()
	var url string
	select {
	case url = <-out.url:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d", code)
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()
	code, tok, errOut := runCLI(t, "", "token", "create", "--data", data, "--owner", "alice")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	c := &api.Client{Server: url, Token: strings.TrimSpace(tok)}
	mod, err := os.ReadFile(examplePath("echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	req := &api.SubmitRequest{Module: mod, Tasks: []api.TaskSpec{{Stdin: []byte("x")}}, MaxError: 1}
	if _, err := c.Submit(ctx, req); err != nil {
		t.Fatal(err)
	}
	var ae *api.Error
	if _, err := c.Submit(ctx, req); !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Err.Code != api.CodeQuotaExceeded || ae.Err.Quota == nil || ae.Err.Quota.Limit != 1 {
		t.Fatalf("a second job past --quota-jobs 1: %v", err)
	}
	for i := 0; i < 2; i++ { // the burst of 4: two submissions, two more
		if _, err := c.Jobs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Jobs(ctx); !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Err.Code != api.CodeRateLimited {
		t.Fatalf("past --owner-burst 4: %v", err)
	}
}
