package coordinator_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
)

// An idle worker connection holds one goroutine of the coordinator
// (docs/coordinator-speed.md): none writes while nothing is queued, and
// the HTTP handler returned after the upgrade.
func TestIdleConnectionGoroutines(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.HeartbeatInterval, c.LeaseTTL = time.Hour, 3*time.Hour })
	const n = 200
	// The test's own side of a connection (coder/websocket's client) holds
	// no goroutine while nobody reads; counted here anyway, with the
	// coordinator's.
	settle := func() int {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	base := settle()
	ws := make([]*rawWorker, n)
	for i := range ws {
		ws[i] = dialRaw(t, e, fmt.Sprintf("idle-%d", i))
		ws[i].send(&protocol.LeaseRequest{Max: 1}) // waits: there is no work
		ws[i].send(&protocol.Heartbeat{})
		if _, ok := ws[i].readAny().(*protocol.HeartbeatAck); !ok {
			t.Fatal("no heartbeat_ack")
		}
	}
	// Writers end once their queue is empty: wait for that rather than
	// for a time.
	const most = 1.0 // goroutines per idle connection
	var delta int
	for range 200 {
		if delta = settle() - base; float64(delta) <= most*n {
			break
		}
	}
	t.Logf("%d idle connections: %d goroutines more (%.2f each)", n, delta, float64(delta)/n)
	if float64(delta) > most*n {
		t.Fatalf("%d idle connections hold %d goroutines (%.2f each), want at most %.0f each", n, delta, float64(delta)/n, most)
	}
}

// readAny reads the next message, heartbeat_ack included.
func (r *rawWorker) readAny() protocol.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	m, err := protocol.Decode(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// A client may send its first frames right behind the upgrade request,
// before it reads the 101: they are buffered with the request when the
// connection is handed to the WebSocket reader, and must reach it.
func TestPipelinedHello(t *testing.T) {
	e := newEnv(t, nil)
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hangGuard))
	req := "GET /v1/workers/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol.Subprotocol + "\r\n\r\n"
	b := []byte(req)
	for i, m := range []protocol.Message{&protocol.Hello{Protocol: protocol.Version, Worker: "eager", Slots: 1}, &protocol.Heartbeat{}} {
		protocol.Hdr(m).ID = uint64(i + 1)
		p, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, maskedFrame(p)...)
	}
	if _, err := nc.Write(b); err != nil { // one write: request, hello, heartbeat
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	var got []string
	for len(got) < 2 {
		m, err := protocol.Decode(readFrame(t, br))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, protocol.Hdr(m).Type)
	}
	if got[0] != "welcome" || got[1] != "heartbeat_ack" {
		t.Fatalf("got %v, want welcome then heartbeat_ack", got)
	}
}

// maskedFrame is p as one masked text frame (a client's).
func maskedFrame(p []byte) []byte {
	f := []byte{0x81}
	switch {
	case len(p) < 126:
		f = append(f, 0x80|byte(len(p)))
	default:
		f = append(f, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	for i, c := range p {
		f = append(f, c^key[i%4])
	}
	return f
}

// readFrame reads one unmasked, unfragmented frame's payload (a server's).
func readFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			t.Fatal(err)
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			t.Fatal(err)
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A worker that sends but never reads is disconnected once its unread
// replies exceed the queue's limits (docs/protocol.md, "Slow readers"),
// although no writer goroutine waits on an idle connection.
func TestSlowReaderDropped(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.HeartbeatInterval, c.LeaseTTL = time.Hour, 3*time.Hour })
	// A small receive window: the coordinator's writes block sooner.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/v1/workers/ws", &websocket.DialOptions{
		Subprotocols: []string{protocol.Subprotocol}, HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	r := &rawWorker{t: t, ws: ws}
	r.send(&protocol.Hello{Protocol: protocol.Version, Worker: "deaf", Slots: 1})
	if _, ok := r.readAny().(*protocol.Welcome); !ok {
		t.Fatal("no welcome")
	}
	// Each result for a lease it does not hold is answered lease_not_held;
	// none is read from here on.
	b, err := protocol.Encode(&protocol.Result{Header: protocol.Header{ID: 9}, LeaseID: strings.Repeat("9", 64), Status: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	sent := 0
	for ; sent < 1_000_000; sent++ {
		if err := ws.Write(wctx, websocket.MessageText, b); err != nil {
			break
		}
	}
	if sent == 1_000_000 {
		t.Fatal("the coordinator kept a worker that reads nothing")
	}
	for range 1000 {
		sessions, err := e.db.SessionList(ctx, &store.SessionListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) == 1 && sessions[0].EndReason != "" {
			if !strings.Contains(sessions[0].EndReason, "does not read") {
				t.Fatalf("session ended: %q", sessions[0].EndReason)
			}
			t.Logf("closed after %d unread replies: %s", sent, sessions[0].EndReason)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the session did not end")
}
