package coordinator_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/store"
)

// countingStore counts the reads the dashboard's rounds make.
type countingStore struct {
	store.Store
	history, lists atomic.Int64
}

func (s *countingStore) JobHistory(ctx context.Context, p *store.JobHistoryParams) ([]store.HistoryBucket, error) {
	s.history.Add(1)
	return s.Store.JobHistory(ctx, p)
}

func (s *countingStore) JobList(ctx context.Context, p *store.JobListParams) ([]*store.Job, error) {
	s.lists.Add(1)
	return s.Store.JobList(ctx, p)
}

// openEvents opens GET /v1/events as owner and returns the status and,
// on 200, a reader of its lines (closed with the test).
func openEvents(t *testing.T, e *env, owner, query string) (int, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer tok-"+owner)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return resp.StatusCode, bufio.NewScanner(resp.Body)
}

// nextEvent reads the stream up to its next event of that name.
func nextEvent(t *testing.T, sc *bufio.Scanner, name string) string {
	t.Helper()
	for sc.Scan() {
		if sc.Text() == "event: "+name && sc.Scan() {
			return strings.TrimPrefix(sc.Text(), "data: ")
		}
	}
	t.Fatalf("the stream ended before a %q event: %v", name, sc.Err())
	return ""
}

// TestEventsShared: twenty pages open on one job and twenty on one
// owner's list cost the store one history read and one list read per
// round, not one per page; and the streams refuse what their token may not
// see.
func TestEventsShared(t *testing.T) {
	var cs *countingStore
	e := newEnv(t, func(c *coordinator.Config) {
		cs = &countingStore{Store: c.Store}
		c.Store = cs
		c.Operators = []string{"op"}
	})
	e.client("op")
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 3, 1)) // no worker: it keeps running
	if err != nil {
		t.Fatal(err)
	}
	bobJob, err := e.bob.Submit(ctx, echoJob(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		owner, query string
		want         int
	}{
		{"alice", fmt.Sprintf("?job=%d", bobJob.ID), http.StatusNotFound},
		{"alice", "?job=x", http.StatusBadRequest},
		{"alice", "?overview=1", http.StatusForbidden},
		{"alice", "?overview=yes", http.StatusBadRequest},
		{"nobody", "", http.StatusUnauthorized},
	} {
		if st, _ := openEvents(t, e, c.owner, c.query); st != c.want {
			t.Errorf("%s GET /v1/events%s: %d, want %d", c.owner, c.query, st, c.want)
		}
	}
	const pages = 20
	var streams []*bufio.Scanner
	for range pages {
		_, sc := openEvents(t, e, "alice", fmt.Sprintf("?job=%d", job.ID))
		streams = append(streams, sc)
		_, sc = openEvents(t, e, "alice", "")
		streams = append(streams, sc)
	}
	// Every page gets its first events: its job, or alice's list, never bob's job.
	for i, sc := range streams {
		if i%2 == 0 {
			if d := nextEvent(t, sc, "job"); !strings.Contains(d, fmt.Sprintf(`"id":%d,`, job.ID)) {
				t.Fatalf("job event %s", d)
			}
		} else if d := nextEvent(t, sc, "jobs"); !strings.Contains(d, fmt.Sprintf(`"id":%d,`, job.ID)) || strings.Contains(d, fmt.Sprintf(`"id":%d,`, bobJob.ID)) {
			t.Fatalf("jobs event %s", d)
		}
	}
	// Over a few rounds with every page open, one read of each per round.
	r0, h0, l0 := e.c.DashRounds(), cs.history.Load(), cs.lists.Load()
	deadline := time.Now().Add(hangGuard)
	for e.c.DashRounds() < r0+3 {
		if time.Now().After(deadline) {
			t.Fatal("the hub does not tick")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r1, h1, l1 := e.c.DashRounds(), cs.history.Load(), cs.lists.Load()
	// A round may be under way at either end of the window: one more read
	// of each is allowed at each end. The list is read every round; a job's
	// history only when it moved or a bucket passed (fewer is fine).
	rounds, hist, lists := r1-r0, h1-h0, l1-l0
	if hist > rounds+1 || lists > rounds+1 || lists < rounds-1 {
		t.Fatalf("%d rounds with %d pages open read the history %d times and the list %d times; want one each per round", rounds, 2*pages, hist, lists)
	}
	t.Logf("%d rounds with %d pages open: %d history reads, %d list reads", rounds, 2*pages, hist, lists)
	// The operator's stream carries the overview.
	_, sc := openEvents(t, e, "op", "?overview=1")
	if d := nextEvent(t, sc, "overview"); !strings.Contains(d, `"store_bytes":`) || !strings.Contains(d, `"native":0`) {
		t.Fatalf("overview event %s", d)
	}
}

// TestEventsRevoked: a token revoked while its stream is open ends the
// stream, and opening another is refused.
func TestEventsRevoked(t *testing.T) {
	coordinator.SetDashKeepalive(t, 50*time.Millisecond)
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.alice.Submit(ctx, echoJob(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	_, sc := openEvents(t, e, "alice", "")
	nextEvent(t, sc, "jobs")
	toks, err := e.db.TokenList(ctx, &store.TokenListParams{Owner: "alice"})
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens %+v %v", toks, err)
	}
	if _, err := e.db.TokenRevoke(ctx, &store.TokenRevokeParams{ID: toks[0].ID, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		for sc.Scan() { // keepalives, until the stream ends
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(time.Minute): // a hang guard: the check runs every 50 ms
		t.Fatal("the stream of a revoked token stays open")
	}
	if st, _ := openEvents(t, e, "alice", ""); st != http.StatusUnauthorized {
		t.Fatalf("a revoked token opens a stream: %d", st)
	}
}

// TestEventsBounded: streams beyond the bound are refused with 503 and
// Retry-After; one closed makes room for another.
func TestEventsBounded(t *testing.T) {
	coordinator.SetMaxDashSubscribers(t, 2)
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	open := func(ctx context.Context) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer tok-alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	first := open(ctx)
	if first.StatusCode != http.StatusOK || open(context.Background()).StatusCode != http.StatusOK {
		t.Fatal("the first two streams were refused")
	}
	third := open(context.Background())
	if third.StatusCode != http.StatusServiceUnavailable || third.Header.Get("Retry-After") == "" {
		t.Fatalf("a third stream: %d, Retry-After %q", third.StatusCode, third.Header.Get("Retry-After"))
	}
	cancel()                                // the first page closes: its place is free once its handler returned
	deadline := time.Now().Add(time.Minute) // a hang guard
	for open(context.Background()).StatusCode != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("a closed stream's place is never freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
