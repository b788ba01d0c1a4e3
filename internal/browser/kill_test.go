package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
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
	// With cutAt > 0 the proxy reads the client's WebSocket frames and,
	// once it has forwarded cutAt checkpoint messages, closes its
	// listener and every connection: the cut happens at an event, not at
	// a moment, so a fast worker cannot finish its task first.
	cutAt   int
	seen    int           // checkpoint messages forwarded
	wasCut  chan struct{} // closed at that cut
	cutOnce sync.Once
}

func newCutter(t *testing.T, to string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startCutter(t, &cutter{ln: ln}, to)
}

// newCheckpointCutter is a cutter that cuts for good right after it has
// forwarded n checkpoint messages from its clients.
func newCheckpointCutter(t *testing.T, to string, n int) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startCutter(t, &cutter{ln: ln, cutAt: n, wasCut: make(chan struct{})}, to)
}

func startCutter(t *testing.T, c *cutter, to string) *cutter {
	ln := c.ln
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
			if c.cutAt > 0 {
				go func() { c.copyFrames(out, in); out.Close() }()
			} else {
				go func() { io.Copy(out, in); out.Close() }()
			}
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); c.cut() })
	return c
}

// copyFrames forwards a client's HTTP upgrade request and then its
// WebSocket frames one by one, counting the checkpoint messages (JSON text
// frames whose payload starts with {"type":"checkpoint"); after the cutAt-th
// it cuts everything.
func (c *cutter) copyFrames(dst io.Writer, src io.Reader) {
	r := bufio.NewReader(src)
	for { // the upgrade request, up to its blank line
		line, err := r.ReadSlice('\n')
		if _, werr := dst.Write(line); err != nil || werr != nil {
			return
		}
		if string(line) == "\r\n" {
			break
		}
	}
	want := []byte(`{"type":"checkpoint"`)
	for {
		var h [14]byte
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return
		}
		n, size := uint64(h[1]&0x7f), 2
		switch n {
		case 126:
			size += 2
		case 127:
			size += 8
		}
		masked := h[1]&0x80 != 0
		if masked {
			size += 4
		}
		if _, err := io.ReadFull(r, h[2:size]); err != nil {
			return
		}
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			n = binary.BigEndian.Uint64(h[2:10])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		if _, err := dst.Write(h[:size]); err != nil {
			return
		}
		if _, err := dst.Write(payload); err != nil {
			return
		}
		if h[0]&0x0f != 1 || uint64(len(want)) > n { // not a text frame that can hold a checkpoint
			continue
		}
		head := payload[:len(want)]
		if masked {
			key := h[size-4 : size]
			for i := range head {
				head[i] ^= key[i%4]
			}
		}
		if !bytes.Equal(head, want) {
			continue
		}
		c.mu.Lock()
		c.seen++
		last := c.seen >= c.cutAt
		c.mu.Unlock()
		if last {
			c.cutOnce.Do(func() {
				c.ln.Close()
				c.cut()
				close(c.wasCut)
			})
			return
		}
	}
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

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
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
