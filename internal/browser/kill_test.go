package browser

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutter is a TCP proxy in front of the coordinator whose connections the
// test can cut, as a network drop would.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, to string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); c.cut() })
	return c
}

func (c *cutter) url() string { return "http://" + c.ln.Addr().String() }

// cut closes every connection made so far.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.conns {
		x.Close()
	}
	c.conns = nil
}

// markJS records the runs in progress: each settles when its promise does;
// and the guest clients they run on.
const markJS = `(() => {
	globalThis.marked = [...crowdrun.worker.inflight].map((p) => { const o = { settled: false }; p.finally(() => { o.settled = true; }); return o; });
	globalThis.markedGuests = crowdrun.worker.guests.filter((g) => g && g.pending.size > 0);
	return marked.length;
})()`

// No promise is left hanging: when the socket dies, every run of the
// session settles and its guest workers are terminated; when a guest worker
// dies without a word (terminated under the page's feet), its run is
// declared lost by the watchdog and settles, the lease goes back, and the
// job still completes, correctly.
func TestNothingHangs(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	px := newCutter(t, strings.TrimPrefix(e.srv.URL, "http://"))
	job := e.submitFactor(slowInputs, 1)
	b := newBrowser(t)
	openContribute(t, b, px.url(), "?slots=2&stall_ms=1500")
	click(t, b)

	// The socket dies.
	waitFor(t, b, "two guests running", `crowdrun.worker.guests.filter((g) => g && g.pending.size > 0).length === 2`, 60*time.Second)
	if n := eval[int](t, b, markJS); n != 2 {
		t.Fatalf("marked %d runs", n)
	}
	px.cut()
	waitFor(t, b, "every run of the lost session to settle", `marked.every((o) => o.settled)`, 20*time.Second)
	if !eval[bool](t, b, `markedGuests.length === 2 && markedGuests.every((g) => g.lost && g.pending.size === 0)`) {
		t.Error("the lost session's guest clients are not all closed with nothing pending")
	}
	// It reconnects by itself (backoff) and works again.
	waitFor(t, b, "a new session at work", `crowdrun.worker.stats.sessions >= 2 && crowdrun.worker.inflight.size > 0`, 60*time.Second)

	// A guest worker dies silently.
	waitFor(t, b, "a run in progress", `crowdrun.worker.guests.some((g) => g && g.pending.size > 0)`, 60*time.Second)
	released := stats(t, b).Released
	if n := eval[int](t, b, `(() => { const g = crowdrun.worker.guests.find((g) => g && g.pending.size > 0);
		globalThis.killed = g; const n = `+markJS+`; g.endpoint.worker.terminate(); return n; })()`); n == 0 {
		t.Fatal("nothing marked")
	}
	waitFor(t, b, "the killed worker's run to settle", `killed.lost && killed.pending.size === 0 && marked.every((o) => o.settled || !markedGuests.includes(killed))`, 20*time.Second)
	if why := eval[string](t, b, `killed.lost.message`); !strings.Contains(why, "no sign of life") {
		t.Errorf("the killed worker was lost for another reason: %s", why)
	}
	waitFor(t, b, "its lease to go back", `crowdrun.worker.stats.released > `+strconv.Itoa(released), 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	got := e.results(ctx, job.ID)
	for i := range slowInputs {
		if r := got[i]; r.State != "done" || r.Status != "ok" || !strings.HasPrefix(string(r.Stdout), strings.Fields(slowInputs[i])[0]+": ") {
			t.Errorf("task %d: %s", i, show(r))
		}
	}
	if s := stats(t, b); s.Inflight > 1 {
		t.Errorf("after the job: %+v", s)
	}
}
