package coordinator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Abuse of the service (docs/abuse.md): each attack meets a bound, a clear
// error, and no harm to the other users.

func quotaError(t *testing.T, err error, name string, limit, usage, requested uint64) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Err.Code != api.CodeQuotaExceeded || ae.Err.Quota == nil {
		t.Fatalf("want 429 %s on the %s quota, got %v", api.CodeQuotaExceeded, name, err)
	}
	want := api.QuotaDetail{Name: name, Limit: limit, Usage: usage, Requested: requested}
	if *ae.Err.Quota != want || !strings.Contains(ae.Err.Message, name) {
		t.Fatalf("quota error %+v %q, want %+v", *ae.Err.Quota, ae.Err.Message, want)
	}
}

// Each quota refuses the submission that would pass it, whole, saying
// which quota, its value and the usage; other owners are not affected; a
// finished or cancelled job frees what it held.
func TestQuotas(t *testing.T) {
	ctx := context.Background()
	t.Run("jobs", func(t *testing.T) {
		e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Jobs = 2 })
		a, err := e.alice.Submit(ctx, echoJob(t, 1, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.alice.Submit(ctx, echoJob(t, 1, 1)); err != nil {
			t.Fatal(err)
		}
		_, err = e.alice.Submit(ctx, echoJob(t, 1, 1))
		quotaError(t, err, "jobs", 2, 2, 1)
		// The body is the documented error, with the quota.
		body, _ := json.Marshal(echoJob(t, 1, 1))
		r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/jobs", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer tok-alice")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkSchema(t, loadOpenAPI(t, e.srv.URL), "Error", b)
		if l, _ := e.alice.Jobs(ctx); len(l) != 2 {
			t.Fatalf("alice has %d jobs after a refusal, want 2", len(l))
		}
		if _, err := e.bob.Submit(ctx, echoJob(t, 1, 1)); err != nil {
			t.Fatalf("bob refused for alice's jobs: %v", err)
		}
		if _, err := e.alice.Cancel(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.alice.Submit(ctx, echoJob(t, 1, 1)); err != nil {
			t.Fatalf("a cancelled job still counted: %v", err)
		}
		// A finished job frees its place too.
		e.startWorker("w", 2)
		l, _ := e.alice.Jobs(ctx)
		for _, j := range l {
			collect(t, e.alice, j.ID)
		}
		if _, err := e.alice.Submit(ctx, echoJob(t, 1, 1)); err != nil {
			t.Fatalf("finished jobs still counted: %v", err)
		}
	})
	t.Run("tasks", func(t *testing.T) {
		e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Tasks = 5 })
		if _, err := e.alice.Submit(ctx, echoJob(t, 3, 2)); err != nil {
			t.Fatal(err)
		}
		_, err := e.alice.Submit(ctx, echoJob(t, 3, 1))
		quotaError(t, err, "tasks", 5, 3, 3)
		_, err = e.bob.Submit(ctx, echoJob(t, 6, 1)) // more than the quota on its own
		quotaError(t, err, "tasks", 5, 0, 6)
		if _, err := e.alice.Submit(ctx, echoJob(t, 2, 1)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		mod := int64(len(readWasm(t, "echo.wasm")))
		e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Bytes = 2*mod + 1000 })
		req := echoJob(t, 1, 1)
		req.Tasks[0].Stdin = make([]byte, 500)
		req.Tasks[0].Args = []string{"0123456789"}
		if _, err := e.alice.Submit(ctx, req); err != nil {
			t.Fatal(err)
		}
		_, err := e.alice.Submit(ctx, req)
		quotaError(t, err, "bytes", uint64(2*mod+1000), uint64(mod+510), uint64(mod+510))
		req.Tasks[0].Stdin = make([]byte, 400)
		if _, err := e.alice.Submit(ctx, req); err != nil {
			t.Fatalf("a job that fits refused: %v", err)
		}
	})
	t.Run("fuel", func(t *testing.T) {
		e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Fuel = 1_000_000 })
		req := echoJob(t, 4, 2)
		_, err := e.alice.Submit(ctx, req) // no fuel limit: cannot be counted
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Err.Code != api.CodeQuotaExceeded || !strings.Contains(ae.Err.Message, `"limits.fuel"`) {
			t.Fatalf("a job without a fuel limit under a fuel quota: %v", err)
		}
		req.Limits.Fuel = 100_000
		if _, err := e.alice.Submit(ctx, req); err != nil { // 4 tasks × 2 replicas × 100,000
			t.Fatal(err)
		}
		_, err = e.alice.Submit(ctx, req)
		quotaError(t, err, "fuel", 1_000_000, 800_000, 800_000)
		req.Replicas = 1
		req.Limits.Fuel = 50_000
		if _, err := e.alice.Submit(ctx, req); err != nil {
			t.Fatalf("a job that fits refused: %v", err)
		}
	})
	t.Run("default fuel", func(t *testing.T) {
		// A job without a fuel limit counts at the coordinator's default.
		e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Fuel, c.DefaultLimits.Fuel = 1000, 300 })
		if _, err := e.alice.Submit(ctx, echoJob(t, 3, 1)); err != nil {
			t.Fatal(err)
		}
		_, err := e.alice.Submit(ctx, echoJob(t, 1, 1))
		quotaError(t, err, "fuel", 1000, 900, 300)
	})
}

// Submissions racing for an owner's last places: exactly the quota's worth
// is admitted, the others refused whole.
func TestQuotaRace(t *testing.T) {
	const quota, racers = 3, 12
	e := newEnv(t, func(c *coordinator.Config) { c.Quotas.Jobs = quota })
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.alice.Submit(context.Background(), echoJob(t, 1+i, 1))
		}()
	}
	wg.Wait()
	admitted := 0
	for _, err := range errs {
		if err == nil {
			admitted++
		} else if !isAPIError(err, http.StatusTooManyRequests) {
			t.Fatalf("racing submission: %v", err)
		}
	}
	l, err := e.alice.Jobs(context.Background())
	if err != nil || admitted != quota || len(l) != quota {
		t.Fatalf("%d admitted, %d stored, want %d", admitted, len(l), quota)
	}
}

func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Rate limits: an owner's requests, and an address's requests without a
// valid token, each from a token bucket; beyond it 429 rate_limited with
// Retry-After, and other owners and addresses unaffected.
func TestRateLimits(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_800_000_000_000)}
	e := newEnv(t, func(c *coordinator.Config) {
		c.Now = clk.Now
		c.HeartbeatInterval, c.LeaseTTL = 10*time.Second, time.Hour
		c.OwnerRate = coordinator.Rate{PerSecond: 0.5, Burst: 4}
		c.IPRate = coordinator.Rate{PerSecond: 0.25, Burst: 3}
	})
	ctx := context.Background()
	for i := range 4 {
		if _, err := e.alice.Jobs(ctx); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	resp := get(t, e.srv.URL+"/v1/jobs", "tok-alice")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("alice's 5th request: %s, Retry-After %q; want 429 after 2 s", resp.Status, resp.Header.Get("Retry-After"))
	}
	if _, err := e.alice.Jobs(ctx); !isAPIError(err, http.StatusTooManyRequests) || !strings.Contains(err.Error(), api.CodeRateLimited) {
		t.Fatalf("alice: %v", err)
	}
	if _, err := e.bob.Jobs(ctx); err != nil {
		t.Fatalf("bob limited by alice's requests: %v", err)
	}
	clk.Add(2 * time.Second) // one token back
	if _, err := e.alice.Jobs(ctx); err != nil {
		t.Fatalf("alice after the refill: %v", err)
	}
	// Without a valid token: by address. A bad token costs the address.
	for i, tok := range []string{"", "tok-mallory", ""} {
		if resp := get(t, e.srv.URL+"/healthz", tok); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("anonymous request %d refused", i)
		}
	}
	resp = get(t, e.srv.URL+"/v1/jobs", "tok-mallory")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "4" {
		t.Fatalf("4th anonymous request: %s, Retry-After %q; want 429 after 4 s", resp.Status, resp.Header.Get("Retry-After"))
	}
	if _, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}}); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("a worker connection from a limited address: %v", err)
	}
	// Owners are counted apart from their address.
	if _, err := e.bob.Jobs(ctx); err != nil {
		t.Fatalf("bob limited by the anonymous requests: %v", err)
	}
}

// rawUpgrade opens a WebSocket to the coordinator from the loopback
// address local by hand, so the test controls every byte; it returns the
// connection (nil unless switched) and the response.
func rawUpgrade(t *testing.T, e *env, local string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /v1/workers/ws HTTP/1.1\r\nHost: crowdrun\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", protocol.Subprotocol)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		conn.Close()
		return nil, nil, resp
	}
	t.Cleanup(func() { conn.Close() })
	return conn, br, resp
}

// waitClosed reads until the peer closes; it reports an error if that
// takes longer than the hang guard.
func waitClosed(t *testing.T, conn net.Conn, r io.Reader) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(hangGuard))
	_, err := io.Copy(io.Discard, r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the coordinator never closed the connection")
	}
}

// Slowloris: a connection that sends nothing, or a byte at a time, is
// closed once its deadline passes — before hello, in the headers, in a
// body — whatever it does meanwhile.
func TestSlowloris(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		c.HelloTimeout, c.HeaderTimeout, c.BodyTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	})
	trickle := func(conn net.Conn, r io.Reader, prefix []byte) int {
		t.Helper()
		closed := make(chan struct{})
		go func() { defer close(closed); waitClosed(t, conn, r) }()
		n := 0
		if _, err := conn.Write(prefix); err != nil {
			<-closed
			return n
		}
		for {
			select {
			case <-closed:
				return n
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{'a'}); err != nil {
				<-closed
				return n
			}
			n++
		}
	}
	// Silent after the upgrade.
	conn, br, _ := rawUpgrade(t, e, "127.0.0.1")
	waitClosed(t, conn, br)
	// A masked text frame of 65,535 bytes, sent a byte at a time: it
	// never completes before the hello deadline.
	conn, br, _ = rawUpgrade(t, e, "127.0.0.1")
	if n := trickle(conn, br, []byte{0x81, 0xFE, 0xFF, 0xFF, 0, 0, 0, 0}); n >= 65535 {
		t.Fatalf("the frame was read whole (%d bytes)", n)
	}
	waitFor(t, func() bool { now, _ := e.c.Pending(); return now == 0 })

	// Headers, a byte at a time, on the server serve runs (Server).
	srv := e.c.Server()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	trickle(conn, conn, []byte("GET /healthz HTTP/1.1\r\nHost: crowdrun\r\nX-Slow: "))
	// Headers past their size limit: refused at once.
	conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: crowdrun\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", coordinator.DefaultMaxHeaderBytes+4096))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %v %v", resp, err)
	}
	// A submission's body, a byte at a time.
	conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out strings.Builder
	trickle(conn, io.TeeReader(conn, &out), []byte("POST /v1/jobs HTTP/1.1\r\nHost: crowdrun\r\nAuthorization: Bearer tok-alice\r\nContent-Length: 100000\r\n\r\n{\"module\":\""))
	if !strings.Contains(out.String(), "400 Bad Request") || !strings.Contains(out.String(), "timeout") {
		t.Fatalf("a slow body was answered %q", out.String())
	}
	if l, _ := e.alice.Jobs(context.Background()); len(l) != 0 {
		t.Fatalf("%d jobs", len(l))
	}
}

// Connections waiting to say hello are capped per address and in all;
// beyond the caps upgrades are refused with Retry-After, and once the
// waiting ones leave others get in.
func TestPendingCap(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		c.HelloTimeout, c.MaxPendingPerIP, c.MaxPending = hangGuard, 3, 4
	})
	var held []net.Conn
	for range 3 {
		conn, _, _ := rawUpgrade(t, e, "127.0.0.1")
		held = append(held, conn)
	}
	_, _, resp := rawUpgrade(t, e, "127.0.0.1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th from one address: %s", resp.Status)
	}
	conn, _, resp := rawUpgrade(t, e, "127.0.0.2") // another address: in, up to the total
	if conn == nil {
		t.Fatalf("another address refused: %s", resp.Status)
	}
	held = append(held, conn)
	_, _, resp = rawUpgrade(t, e, "127.0.0.3")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("beyond the total: %s", resp.Status)
	}
	if now, peak := e.c.Pending(); now != 4 || peak != 4 {
		t.Fatalf("pending %d, peak %d; want 4", now, peak)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, func() bool { now, _ := e.c.Pending(); return now == 0 })
	dialRaw(t, e, "honest") // welcomed: no longer pending
	if now, _ := e.c.Pending(); now != 0 {
		t.Fatalf("a welcomed worker still counts as pending")
	}
	fams := scrape(t, e.srv.URL)
	if ip, total := fams.get(t, "crowdrun_refused_total", "reason", "pending_ip"), fams.get(t, "crowdrun_refused_total", "reason", "pending_total"); ip != 1 || total != 1 {
		t.Fatalf("refusals counted: pending_ip %v, pending_total %v", ip, total)
	}
}

// Before hello the largest message accepted is MaxHelloBytes: a larger one
// closes the connection (1009) without the coordinator reading it whole.
func TestHelloTooLarge(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		c.MaxHelloBytes = 4096
		c.HeartbeatInterval, c.LeaseTTL = time.Minute, time.Hour // a raw worker sends no heartbeats
	})
	w := dialRaw(t, e, "")
	hello, _ := protocol.Encode(&protocol.Hello{Header: protocol.Header{ID: 1}, Protocol: protocol.Version, Worker: strings.Repeat("x", 5000), Slots: 1})
	w.writeRaw(hello)
	if em, st := w.readClose(); st != websocket.StatusMessageTooBig && st != -1 {
		t.Fatalf("oversized hello: %+v %v", em, st)
	}
	// After hello, messages up to MaxMessage.
	w = dialRaw(t, e, "w")
	w.send(&protocol.ErrorMsg{Code: "x", Message: strings.Repeat("m", 100_000)})
	hb := w.send(&protocol.Heartbeat{})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, b, err := w.ws.Read(ctx)
	if err != nil {
		t.Fatalf("after a large message: %v", err)
	}
	if m, err := protocol.Decode(b); err != nil || m.(*protocol.HeartbeatAck).ReplyTo != hb {
		t.Fatalf("after a large message: %+v %v", m, err)
	}
}

// A worker that takes leases and then falls silent: its session ends after
// three missed heartbeats, its leases are requeued, and an honest worker
// finishes the job with results of its own.
func TestLeaseNeverAnswered(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	job, err := e.alice.Submit(ctx, echoJob(t, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	silent := dialRaw(t, e, "silent")
	silent.send(&protocol.LeaseRequest{Max: 3})
	if ls, ok := silent.read().(*protocol.Leases); !ok || len(ls.Leases) != 3 {
		t.Fatalf("leases %+v", ls)
	}
	// It says nothing more; the coordinator closes it and ends its
	// session.
	silent.readClose()
	waitFor(t, func() bool {
		sessions, err := e.db.SessionList(ctx, &store.SessionListParams{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(sessions) == 1 && !sessions[0].EndedAt.IsZero()
	})
	if sessions, _ := e.db.SessionList(ctx, &store.SessionListParams{Limit: 10}); !strings.Contains(sessions[0].EndReason, "missed heartbeats") {
		t.Fatalf("silent session %+v", sessions[0])
	}
	e.startWorker("honest", 2)
	got := collect(t, e.alice, job.ID)
	for i := range 3 {
		r := got[i]
		if r == nil || string(r.Stdout) != fmt.Sprintf("task %d\n", i) || len(r.Workers) != 1 || r.Workers[0] != "honest" {
			t.Fatalf("task %d: %+v", i, r)
		}
	}
}

// No harm to other users: while connections flood the worker endpoint
// from four other addresses — silent, garbage, oversized, bad tokens, far
// more at once than the caps — and another owner keeps submitting past his
// quota, an honest job runs to completion with its results right; the
// flood never holds more connections than the cap, and once it stops the
// coordinator is back to its goroutines of before.
func TestNoHarmUnderFlood(t *testing.T) {
	const perIP, total = 2, 16
	e := newEnv(t, func(c *coordinator.Config) {
		c.HelloTimeout, c.MaxPendingPerIP, c.MaxPending = 200*time.Millisecond, perIP, total
		c.Quotas.Jobs = 1
		c.IPRate = coordinator.Rate{PerSecond: -1} // the caps alone, here
	})
	ctx := context.Background()
	// Bob's job stays running: its second replica needs a second worker,
	// and only one comes. It fills his quota of one.
	if _, err := e.bob.Submit(ctx, echoJob(t, 1, 2)); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var refused, switched, bobRefused atomic.Int64
	// Client frames, masked with a zero key (the payload as it is).
	frame := func(op byte, payload []byte) []byte {
		return append([]byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	}
	forged, _ := protocol.Encode(&protocol.Hello{Header: protocol.Header{ID: 1}, Protocol: protocol.Version, Worker: "m", Slots: 1, Token: "forged"})
	if len(forged) > 125 {
		t.Fatalf("forged hello of %d bytes: too long for a short frame", len(forged))
	}
	garbage := [][]byte{
		nil,                         // silent
		frame(1, []byte("garbage")), // not JSON
		frame(2, []byte{1, 2, 3}),   // binary
		{0x81, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0}, // 1 MiB announced, beyond MaxHelloBytes
		frame(1, forged), // a token nobody issued
	}
	for a := range 4 {
		addr := fmt.Sprintf("127.0.0.%d", 2+a)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns sync.WaitGroup
			defer conns.Wait()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
				conn, err := d.Dial("tcp", e.srv.Listener.Addr().String())
				if err != nil {
					continue
				}
				fmt.Fprintf(conn, "GET /v1/workers/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", protocol.Subprotocol)
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					refused.Add(1)
					conn.Close()
					continue
				}
				switched.Add(1)
				conn.Write(garbage[i%len(garbage)])
				// Held open until the coordinator closes it: the flood
				// keeps as many as it can.
				conns.Add(1)
				go func() {
					defer conns.Done()
					defer conn.Close()
					conn.SetReadDeadline(time.Now().Add(hangGuard))
					io.Copy(io.Discard, br)
				}()
			}
		}()
	}
	wg.Add(1)
	go func() { // bob, past his quota, again and again
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.bob.Submit(ctx, echoJob(t, 1, 1)); isAPIError(err, http.StatusTooManyRequests) {
				bobRefused.Add(1)
			} else {
				t.Errorf("bob's submission past his quota: %v", err)
				return
			}
		}
	}()
	// Under way before the honest job starts.
	waitFor(t, func() bool { return refused.Load() > 10 && bobRefused.Load() > 2 })

	w := e.startConfigured(worker.Config{Name: "honest", Slots: 2})
	job, err := e.alice.Submit(ctx, echoJob(t, 10, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, e.alice, job.ID)
	close(stop)
	wg.Wait()
	w.stop()
	if len(got) != 10 {
		t.Fatalf("%d results", len(got))
	}
	for i, r := range got {
		if string(r.Stdout) != fmt.Sprintf("task %d\n", i) || r.State != "done" {
			t.Fatalf("task %d: %+v", i, r)
		}
	}
	_, peak := e.c.Pending()
	t.Logf("flood: %d connections switched, %d refused; bob refused %d times; pending peak %d (cap %d)", switched.Load(), refused.Load(), bobRefused.Load(), peak, total)
	if peak > total || peak > 5*perIP { // 4 flooding addresses and the honest worker's
		t.Fatalf("pending peak %d above the caps (%d per address × 5, %d in all)", peak, perIP, total)
	}
	if l, _ := e.bob.Jobs(ctx); len(l) != 1 {
		t.Fatalf("bob has %d jobs, quota 1", len(l))
	}
	waitFor(t, func() bool {
		http.DefaultClient.CloseIdleConnections()
		now, _ := e.c.Pending()
		return now == 0 && runtime.NumGoroutine() <= base+5
	})
}

// Owners cannot read, list, follow or cancel each other's jobs: every
// route that names a job answers another owner 404, as for a job that does
// not exist, and the job is untouched. A route added with {id} must be
// added here.
func TestOwnerIsolation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	req := echoJob(t, 2, 1)
	req.Name = "alice-private-job"
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, rt := range []struct{ method, pattern, path string }{
		{"GET", "/v1/jobs/{id}", "/v1/jobs/%d"},
		{"GET", "/v1/jobs/{id}/results", "/v1/jobs/%d/results"},
		{"GET", "/v1/jobs/{id}/results", "/v1/jobs/%d/results?follow=true"},
		{"POST", "/v1/jobs/{id}/cancel", "/v1/jobs/%d/cancel"},
		{"GET", "/v1/jobs/{id}/segments", "/v1/jobs/%d/segments"},
		{"GET", "/v1/jobs/{id}/history", "/v1/jobs/%d/history"},
		{"GET", "/v1/jobs/{id}/tasks", "/v1/jobs/%d/tasks"},
		{"GET", "/v1/events", "/v1/events?job=%d"},
	} {
		checked[rt.method+" "+rt.pattern] = true
		for _, id := range []int64{job.ID, job.ID + 1000} { // alice's, and none
			r, _ := http.NewRequest(rt.method, e.srv.URL+fmt.Sprintf(rt.path, id), nil)
			r.Header.Set("Authorization", "Bearer tok-bob")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var ae api.Error
			json.NewDecoder(resp.Body).Decode(&ae)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || ae.Err.Code != api.CodeNotFound || strings.Contains(ae.Err.Message, req.Name) {
				t.Errorf("bob: %s %s: %d %+v, want 404 not_found", rt.method, fmt.Sprintf(rt.path, id), resp.StatusCode, ae.Err)
			}
		}
	}
	for _, r := range e.c.Routes() {
		if strings.Contains(r, "{id}") && !checked[r] {
			t.Errorf("%s names a job and is not checked here", r)
		}
	}
	if l, err := e.bob.Jobs(ctx); err != nil || len(l) != 0 {
		t.Errorf("bob lists %v %v", l, err)
	}
	// The jobs stream of bob's dashboard: its first event is his jobs (none).
	sctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	r, _ := http.NewRequestWithContext(sctx, http.MethodGet, e.srv.URL+"/v1/events", nil)
	r.Header.Set("Authorization", "Bearer tok-bob")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && sc.Text() != "event: jobs" {
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "data: ") {
		t.Fatalf("bob's jobs event: %q %v", sc.Text(), sc.Err())
	}
	if strings.Contains(sc.Text(), req.Name) || strings.Contains(sc.Text(), job.ModuleHash) {
		t.Errorf("bob's event stream shows alice's job: %s", sc.Text())
	}
	cancel()
	resp.Body.Close()
	// Alice's job was not cancelled, and runs.
	if j, err := e.alice.Job(ctx, job.ID); err != nil || j.State != "running" || j.Tasks.Cancelled != 0 {
		t.Fatalf("alice's job after bob: %+v %v", j, err)
	}
	e.startWorker("w", 1)
	if got := collect(t, e.alice, job.ID); len(got) != 2 {
		t.Fatalf("%d results", len(got))
	}
}

// A worker holds at most its hello's slots of leases, however often it
// asks: a lease_request beyond them is refused (slots_full) and the
// connection stays open; reporting a lease frees its slot.
func TestSlotsBound(t *testing.T) {
	// A raw worker sends no heartbeats: give it time enough on any machine.
	e := newEnv(t, func(c *coordinator.Config) { c.HeartbeatInterval, c.LeaseTTL = time.Minute, time.Hour })
	ctx := context.Background()
	req := echoJob(t, 5, 1)
	req.Limits.MaxOutput = 64
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w := dialRaw(t, e, "")
	w.send(&protocol.Hello{Protocol: protocol.Version, Worker: "greedy", Slots: 2})
	if _, ok := w.read().(*protocol.Welcome); !ok {
		t.Fatal("no welcome")
	}
	w.send(&protocol.LeaseRequest{Max: 5})
	ls, ok := w.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 2 {
		t.Fatalf("asked 5 with 2 slots: %+v", ls)
	}
	rid := w.send(&protocol.LeaseRequest{Max: 1})
	if em, ok := w.read().(*protocol.ErrorMsg); !ok || em.ReplyTo != rid || em.Code != protocol.CodeSlotsFull {
		t.Fatalf("a request beyond the slots: %+v", em)
	}
	l := ls.Leases[0]
	w.send(&protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin, Stderr: []byte{}})
	if _, ok := w.read().(*protocol.Ack); !ok {
		t.Fatal("result not acked")
	}
	w.send(&protocol.LeaseRequest{Max: 3})
	more, ok := w.read().(*protocol.Leases)
	if !ok || len(more.Leases) != 1 {
		t.Fatalf("after a report, one slot free: %+v", more)
	}
	if j, err := e.alice.Job(ctx, job.ID); err != nil || j.Tasks.Running != 2 {
		t.Fatalf("job %+v %v", j, err)
	}
	// A result over the job's output limit is refused, and its lease
	// released: its slot is free again and the task back in the queue.
	l = more.Leases[0]
	w.send(&protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: make([]byte, 65), Stderr: []byte{}})
	if em, ok := w.read().(*protocol.ErrorMsg); !ok || em.Code != protocol.CodeTooLarge {
		t.Fatalf("output over the limit: %+v", em)
	}
	if j, err := e.alice.Job(ctx, job.ID); err != nil || j.Tasks.Running != 1 {
		t.Fatalf("job after a refused result %+v %v", j, err)
	}
	w.send(&protocol.LeaseRequest{Max: 1})
	if again, ok := w.read().(*protocol.Leases); !ok || len(again.Leases) != 1 {
		t.Fatalf("after a refused result, one slot free: %+v", again)
	}
}

// A worker that keeps its connection and its leases alive but never
// reports: each lease is taken back once it has saved nothing for the
// hold limit (LeaseHoldFactor × the job's timeout + LeaseHoldGrace), the
// worker is told (revoke), its late result is refused, and an honest
// worker finishes the task.
func TestLeaseHeldTooLong(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) {
		c.HeartbeatInterval, c.LeaseTTL = time.Minute, time.Hour // neither silence nor expiry ends it
		c.LeaseHoldFactor, c.LeaseHoldGrace = 1, time.Nanosecond
	})
	ctx := context.Background()
	req := echoJob(t, 1, 1)
	req.Limits.TimeoutMS = 200
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w := dialRaw(t, e, "hoarder")
	w.send(&protocol.LeaseRequest{Max: 1})
	ls, ok := w.read().(*protocol.Leases)
	if !ok || len(ls.Leases) != 1 {
		t.Fatalf("leases %+v", ls)
	}
	lease := ls.Leases[0].LeaseID
	w.send(&protocol.Heartbeat{Progress: map[string]uint64{lease: 1000}}) // alive, and "working"
	rv, ok := w.read().(*protocol.Revoke)
	if !ok || len(rv.LeaseIDs) != 1 || rv.LeaseIDs[0] != lease || !strings.Contains(rv.Reason, "held too long") {
		t.Fatalf("want the lease revoked: %+v", rv)
	}
	rid := w.send(&protocol.Result{LeaseID: lease, Status: "ok", Stdout: []byte("late"), Stderr: []byte{}})
	if em, ok := w.read().(*protocol.ErrorMsg); !ok || em.ReplyTo != rid || em.Code != protocol.CodeLeaseNotHeld {
		t.Fatalf("a late result: %+v", em)
	}
	e.startWorker("honest", 1)
	got := collect(t, e.alice, job.ID)
	if r := got[0]; r == nil || string(r.Stdout) != "task 0\n" || len(r.Workers) != 1 || r.Workers[0] != "honest" {
		t.Fatalf("result %+v", r)
	}
}
