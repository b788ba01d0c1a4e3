package coordinator

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
)

// conn is one worker connection. One goroutine reads (serve); a writer
// goroutine runs only while messages are queued, so an idle connection
// holds one goroutine, parked in a read of a small buffer
// (docs/coordinator-speed.md). Both stop when ctx is cancelled.
type conn struct {
	c       *Coordinator
	ws      *websocket.Conn
	nc      net.Conn      // under ws: read deadlines; close closes it
	br      *bufio.Reader // ws reads through it: what it has buffered is readable
	raw     syscall.RawConn
	peek    func(fd uintptr) bool // waitReadable's, made once
	peekBuf [1]byte
	// readerDone: the reader has returned on its own (end); close no
	// longer closes nc, so that closeWith can still say why.
	readerDone atomic.Bool
	session    *store.Session
	ctx        context.Context
	cancel     context.CancelCauseFunc

	// credible: the session's account is off probation and counted in
	// Coordinator.credibleConns (set under Coordinator.mu).
	credible atomic.Bool

	// trusted: the hello's token is of kind trusted (checked in the
	// store) and the worker can re-run links (protocol.FeatureRerun): the
	// session may be asked to (rerun.go).
	trusted bool
	resume  bool   // the worker declared protocol.FeatureCheckpoint
	kind    string // native, browser, node or other (workerKind): the dashboard's overview
	slots   int    // the hello's: the most leases the session may hold at once
	token   string // authenticates the session's HTTP requests
	bye     bool   // the worker said bye (set by the reader before it returns)

	mu        sync.Mutex
	queue     [][]byte // messages for the writer, grown on demand: idle workers hold nothing
	queued    int      // their bytes
	writing   bool     // a writer goroutine is draining queue
	stopped   bool     // the connection is ending: no writer starts any more
	writers   sync.WaitGroup
	nextID    uint64
	leases    map[string]*leaseState
	lastRenew time.Time
	reruns    map[uint64]*pendingRerun // asked of a trusted session, by rerun id
	// rerunFails counts the trusted session's failed re-runs in a row;
	// it is not asked again before rerunRetry (rerun.go, backOff).
	rerunFails int
	rerunRetry time.Time
}

// leaseState is what the connection knows of a lease it holds. The fields
// after ckMu belong to the checkpoint path, which runs on the reader
// goroutine only.
type leaseState struct {
	id        string
	maxOutput uint64
	memory    uint64
	module    string // hex module hash: every snapshot must name it
	grid      uint64
	resume    *store.Checkpoint
	// What the lease runs, for the contribute page (volunteer.go).
	job       int64
	part      int // task index
	fuelLimit uint64

	progress uint64 // fuel reached, from heartbeats (under conn.mu)
	// saved: the grant or the last accepted checkpoint (under conn.mu);
	// timeout: the job's wall-clock limit of a run. A lease that saves
	// nothing for longer than the hold limit is taken back (limits.go).
	saved   time.Time
	timeout time.Duration

	// The replica's latest accepted checkpoint (the resumed one until the
	// first of this segment), the base of the next delta; decoded lazily.
	base   *snapshot.Snapshot
	digest *snapshot.Digest
	seq    uint64
	output uint64    // output bytes accepted with checkpoints in this segment
	at     time.Time // lease grant or last accepted checkpoint
	fuelAt uint64    // fuel then
	// fromGrant: at is the lease grant, so the time since also covers the
	// worker fetching and compiling the module (checkpoint.RunTime).
	fromGrant bool
	// verifies: the lease's job verifies its results (probation counts it).
	verifies bool
}

// A worker whose unsent messages exceed these limits does not read them and
// is dropped rather than allowed to hold coordinator memory. A healthy worker
// has at most one ack per slot, one leases message and a few others pending.
const (
	maxQueuedMessages = 4*protocol.MaxSlots + 64
	maxQueuedBytes    = 64 << 20
)

func (cn *conn) isDone() bool { return cn.ctx.Err() != nil }

// close ends the connection with cause: it cancels ctx and, unless the
// reader has already returned on its own, closes the socket, which ends a
// read or write in flight (a worker that does not read, shutdown).
// Cancelling the coordinator's context alone does not close the socket:
// Close closes every connection it holds through this (closeConns).
func (cn *conn) close(cause error) {
	cn.cancel(cause)
	if !cn.readerDone.Load() {
		cn.nc.Close()
	}
}

func (cn *conn) hold(ls *leaseState) {
	if ls.resume != nil {
		ls.seq = ls.resume.Seq
	}
	cn.mu.Lock()
	if cn.leases == nil {
		cn.leases = map[string]*leaseState{} // made on the first lease: idle workers hold none
	}
	cn.leases[ls.id] = ls
	cn.mu.Unlock()
}

func (cn *conn) lease(id string) *leaseState {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.leases[id]
}

func (cn *conn) recordProgress(p map[string]uint64) {
	if len(p) == 0 {
		return
	}
	cn.mu.Lock()
	for id, f := range p {
		if ls := cn.leases[id]; ls != nil && f > ls.progress {
			ls.progress = f
		}
	}
	cn.mu.Unlock()
}

// progress is the fuel each held lease reached (for the store).
func (cn *conn) progress(ids ...string) map[string]uint64 {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	out := map[string]uint64{}
	if len(ids) == 0 {
		for id, ls := range cn.leases {
			if ls.progress > 0 {
				out[id] = ls.progress
			}
		}
		return out
	}
	for _, id := range ids {
		if ls := cn.leases[id]; ls != nil && ls.progress > 0 {
			out[id] = ls.progress
		}
	}
	return out
}

// held is how many leases the session holds.
func (cn *conn) held() int {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return len(cn.leases)
}

func (cn *conn) forget(ids ...string) {
	cn.mu.Lock()
	for _, id := range ids {
		delete(cn.leases, id)
	}
	cn.mu.Unlock()
}

// send queues m for the writer without blocking.
func (cn *conn) send(m protocol.Message) {
	cn.mu.Lock()
	cn.nextID++
	protocol.Hdr(m).ID = cn.nextID
	b, err := protocol.Encode(m)
	if err != nil {
		cn.mu.Unlock()
		cn.c.cfg.Logger.Error("encoding a message", "err", err)
		return
	}
	if len(cn.queue) >= maxQueuedMessages || cn.queued+len(b) > maxQueuedBytes {
		cn.mu.Unlock()
		cn.close(errors.New("worker does not read its messages"))
		return
	}
	cn.queue = append(cn.queue, b)
	cn.queued += len(b)
	start := !cn.writing && !cn.stopped
	if start {
		cn.writing = true
		cn.writers.Add(1)
	}
	cn.mu.Unlock()
	if start {
		go cn.writer()
	}
}

// writer writes what is queued, in order, and returns once the queue is
// empty (one writer at a time: writing). An idle connection has none.
func (cn *conn) writer() {
	defer cn.writers.Done()
	for {
		cn.mu.Lock()
		batch := cn.queue
		cn.queue, cn.queued = nil, 0
		if len(batch) == 0 || cn.ctx.Err() != nil {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		cn.mu.Unlock()
		for i, b := range batch {
			// Not derived from cn.ctx: cancelling that while a write is in
			// flight would tear the connection down before the close frame.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := cn.ws.Write(ctx, websocket.MessageText, b)
			cancel()
			batch[i] = nil
			if err != nil {
				cn.close(fmt.Errorf("writing: %w", err))
			}
			if cn.ctx.Err() != nil {
				cn.mu.Lock()
				cn.writing = false
				cn.mu.Unlock()
				return
			}
		}
	}
}

// stopWriting lets no writer start any more and waits for the one running.
func (cn *conn) stopWriting() {
	cn.mu.Lock()
	cn.stopped = true
	cn.mu.Unlock()
	cn.writers.Wait()
}

// protocolError tells the worker why and closes the connection.
type protocolError struct {
	code, msg string
	status    websocket.StatusCode
}

func (e *protocolError) Error() string { return e.code + ": " + e.msg }

func (c *Coordinator) serveWorker(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "the coordinator is shutting down")
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	cn, helloID := c.openSession(w, r)
	if cn == nil {
		c.wg.Done()
		return
	}
	// The session lives on in goroutines of its own (serve, run; they
	// call c.wg.Done and c.connWG.Done when it ends) and the handler
	// returns: net/http lets go of the request, its headers and its
	// goroutine's stack, grown by the upgrade, the hello and the store.
	go cn.serve(helloID)
}

// hijackWriter hands websocket.Accept the hijacked connection with read
// and write buffers of wsReadBuffer and wsWriteBuffer bytes instead of
// net/http's 4 KiB each, and keeps the net.Conn for read deadlines.
type hijackWriter struct {
	http.ResponseWriter
	nc net.Conn
	br *bufio.Reader
}

// The buffers of a worker connection. A frame's header and a small message
// (heartbeat, ack) pass through them; a larger payload is read into, or
// written from, the message itself.
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 512
)

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http flushed the 101 before handing the connection over; what
	// the client sent since (its hello, once it read the 101) may already
	// be buffered. It is moved into the new buffer, where Accept looks
	// for it (it replaces the reader under the buffer).
	br := bufio.NewReaderSize(nc, wsReadBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), nc), max(n, wsReadBuffer))
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	h.nc, h.br = nc, br
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, wsWriteBuffer)), nil
}

// openSession upgrades the request, reads and checks the hello and starts
// the session; nil if the connection was refused (and closed).
func (c *Coordinator) openSession(w http.ResponseWriter, r *http.Request) (*conn, uint64) {
	// Until its hello is accepted a connection is pending: capped per
	// address and in all, given HelloTimeout and MaxHelloBytes.
	remote := remoteKey(r)
	if ok, perIP := c.pending.enter(remote); !ok {
		w.Header().Set("Retry-After", "1")
		if perIP {
			c.metrics.refused("pending_ip")
			writeError(w, http.StatusTooManyRequests, api.CodeRateLimited, fmt.Sprintf("more than %d connections from this address are waiting to say hello", c.cfg.MaxPendingPerIP))
			return nil, 0
		}
		c.metrics.refused("pending_total")
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("more than %d connections are waiting to say hello; retry", c.cfg.MaxPending))
		return nil, 0
	}
	pending := true
	welcomed := func() {
		if pending {
			pending = false
			c.pending.leave(remote)
		}
	}
	defer welcomed()

	hw := &hijackWriter{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		Subprotocols:       []string{protocol.Subprotocol},
		InsecureSkipVerify: true, // workers may be browsers on any origin; they hold no credentials
	})
	if err != nil {
		return nil, 0
	}
	opened := false
	defer func() {
		if !opened {
			ws.CloseNow()
		}
	}()
	if ws.Subprotocol() != protocol.Subprotocol {
		ws.Close(websocket.StatusProtocolError, "the WebSocket subprotocol must be "+protocol.Subprotocol)
		return nil, 0
	}
	ws.SetReadLimit(c.cfg.MaxHelloBytes)

	hello, err := c.readHello(r.Context(), ws)
	if err != nil {
		c.metrics.refused("hello")
		closeWith(ws, err)
		return nil, 0
	}
	account, err := c.account(r.Context(), hello)
	var trusted bool
	if err == nil {
		trusted, err = c.trustedToken(r.Context(), hello)
	}
	if err != nil {
		var pe *protocolError
		if errors.As(err, &pe) && pe.code == protocol.CodeUnauthorized {
			// A failed authentication costs its address a request more:
			// guessing tokens is rate limited like any anonymous request.
			c.ipRate.take(remote)
		}
		closeWith(ws, err)
		return nil, 0
	}
	trusted = trusted && hello.Has(protocol.FeatureRerun)
	ws.SetReadLimit(c.cfg.MaxMessage)
	welcomed()
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.connWG.Add(1)
	}
	c.mu.Unlock()
	if closed {
		ws.Close(websocket.StatusGoingAway, "coordinator shutting down")
		return nil, 0
	}
	sess, err := c.store.SessionStart(r.Context(), &store.SessionStartParams{Coordinator: c.ID(), Worker: hello.Worker, Account: account, Site: hello.Site, Slots: hello.Slots, Remote: r.RemoteAddr, Now: c.cfg.Now()})
	if err != nil {
		ws.Close(websocket.StatusInternalError, "cannot record the session")
		c.connWG.Done()
		return nil, 0
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	cn := &conn{c: c, ws: ws, nc: hw.nc, br: hw.br, session: sess, ctx: ctx, cancel: cancel,
		resume: hello.Has(protocol.FeatureCheckpoint) && !c.cfg.NoCheckpoints, token: newToken(), trusted: trusted, kind: workerKind(hello.Runtime),
		slots: hello.Slots}
	c.mu.Lock()
	c.conns[sess.ID] = cn
	closed = c.closed
	c.mu.Unlock()
	if closed {
		// Close began after the check above and may have closed the
		// connections it held before this one was among them.
		cn.close(errShutdown)
	}
	c.metrics.sessionStarted(sess.ID, hello.Runtime)
	if tc, ok := hw.nc.(*net.TCPConn); ok {
		cn.raw, _ = tc.SyscallConn()
	}
	opened = true
	return cn, hello.ID
}

// serve runs an open session until the worker leaves or the connection
// breaks, then ends it.
func (cn *conn) serve(helloID uint64) {
	cn.start(helloID)
	cn.run()
}

//go:noinline
func (cn *conn) start(helloID uint64) {
	c := cn.c
	cn.send(&protocol.Welcome{Header: protocol.Header{ReplyTo: helloID}, SessionID: cn.session.ID,
		HeartbeatMS: c.cfg.HeartbeatInterval.Milliseconds(), LeaseMS: c.cfg.LeaseTTL.Milliseconds(), MaxMessage: protocol.MaxMessage,
		SessionToken: cn.token})
}

// run reads and handles the worker's messages until it leaves, breaks the
// protocol, or falls silent for three heartbeat intervals, and then ends
// the session.
//
// An idle connection's goroutine waits in run for the socket to become
// readable (waitReadable), on a small stack. Reading and handling a message
// grows the stack (the WebSocket reader, JSON, the store); a grown stack is
// only shrunk by a garbage collection, and the next heartbeat grows it
// again. So once a message is handled and nothing more is buffered, the
// goroutine hands the next wait to a fresh goroutine and exits, and its
// stack is freed: one goroutine start per burst of messages
// (docs/coordinator-speed.md).
func (cn *conn) run() {
	for {
		err := cn.waitReadable()
		if err == nil {
			err = cn.readOne()
			if err == nil {
				if cn.raw != nil && cn.br.Buffered() == 0 {
					go cn.run()
					return
				}
				continue
			}
		}
		cn.end(err)
		return
	}
}

// waitReadable sets the read deadline of the next message and, when
// nothing is buffered, waits until the socket has something to read:
// without reading it, so the wait holds no buffer and only a few frames of
// stack (the WebSocket reader would park deep in its frame parser).
func (cn *conn) waitReadable() error {
	// A deadline on the socket, not a context: no timer, context or
	// callback per read held while the worker is idle. Cancelling cn.ctx
	// closes the socket (start).
	cn.nc.SetReadDeadline(time.Now().Add(3 * cn.c.cfg.HeartbeatInterval))
	if cn.raw == nil || cn.br.Buffered() > 0 {
		return nil
	}
	if cn.peek == nil {
		cn.peek = func(fd uintptr) bool { return readable(fd, &cn.peekBuf) }
	}
	return cn.raw.Read(cn.peek)
}

// readOne reads one message and handles it. Not inlined into run: its
// frame is on the stack only while a message is handled.
//
//go:noinline
func (cn *conn) readOne() error {
	typ, b, err := cn.ws.Read(context.Background())
	if err != nil {
		return err
	}
	return cn.handle(typ, b)
}

// end ends the session: err is why the reading stopped (nil: bye).
//
//go:noinline
func (cn *conn) end(err error) {
	c, ws, sess := cn.c, cn.ws, cn.session
	defer c.wg.Done()
	defer c.connWG.Done()
	defer ws.CloseNow()
	defer c.metrics.sessionEnded(sess.ID)
	err = cn.readError(err)
	cn.readerDone.Store(true)
	cn.close(err)
	cn.stopWriting()

	c.mu.Lock()
	delete(c.conns, sess.ID)
	if cn.credible.Load() {
		c.credibleConns--
	}
	c.mu.Unlock()
	reason := "closed"
	if err != nil {
		reason = err.Error()
	}
	// A worker that said bye left on purpose: leases it still holds were
	// granted while its release and bye were in flight, and never ran.
	n, serr := c.store.SessionEnd(context.WithoutCancel(cn.ctx), &store.SessionEndParams{ID: sess.ID, Reason: reason, Now: c.cfg.Now(),
		Progress: cn.progress(), Graceful: cn.bye})
	if serr != nil && !errors.Is(serr, store.ErrNotFound) {
		c.cfg.Logger.Error("ending a session", "session", sess.ID, "err", serr)
	}
	if n > 0 {
		c.wake()
	}
	closeWith(ws, err)
}

// readError is why the session ends, from what stopped run: nil for bye,
// the cause the connection was closed with, a message too large, or
// silence.
func (cn *conn) readError(err error) error {
	if err == errBye {
		return nil
	}
	var pe *protocolError
	if err == nil || errors.As(err, &pe) {
		return err
	}
	if cause := context.Cause(cn.ctx); cause != nil {
		return cause
	}
	if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
		return &protocolError{protocol.CodeTooLarge, fmt.Sprintf("message larger than %d bytes", cn.c.cfg.MaxMessage), websocket.StatusMessageTooBig}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no message for %v (missed heartbeats)", 3*cn.c.cfg.HeartbeatInterval)
	}
	return err
}

func closeWith(ws *websocket.Conn, err error) {
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		// Best effort: the reason a worker was refused, then the close frame.
		b, _ := protocol.Encode(&protocol.ErrorMsg{Header: protocol.Header{ID: 1 << 62}, Code: pe.code, Message: pe.msg})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ws.Write(ctx, websocket.MessageText, b)
		cancel()
		reason := pe.msg
		if len(reason) > 120 {
			reason = reason[:120]
		}
		ws.Close(pe.status, reason)
	case errors.Is(err, errShutdown):
		ws.Close(websocket.StatusGoingAway, "coordinator shutting down")
	default:
		ws.Close(websocket.StatusNormalClosure, "")
	}
}

func badMessage(err error) error {
	var de *protocol.Error
	if errors.As(err, &de) {
		st := websocket.StatusPolicyViolation
		if de.Code == protocol.CodeTooLarge {
			st = websocket.StatusMessageTooBig
		}
		return &protocolError{code: de.Code, msg: de.Message, status: st}
	}
	return &protocolError{code: protocol.CodeBadMessage, msg: err.Error(), status: websocket.StatusPolicyViolation}
}

func (c *Coordinator) readHello(ctx context.Context, ws *websocket.Conn) (*protocol.Hello, error) {
	// Whatever the peer sends, or does not, the connection ends by then:
	// a slow sender (a byte a minute) is closed like a silent one.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HelloTimeout)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &protocolError{protocol.CodeBadMessage, fmt.Sprintf("no hello within %v", c.cfg.HelloTimeout), websocket.StatusPolicyViolation}
		}
		if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
			return nil, &protocolError{protocol.CodeTooLarge, fmt.Sprintf("a message before hello is accepted may be at most %d bytes", c.cfg.MaxHelloBytes), websocket.StatusMessageTooBig}
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, &protocolError{protocol.CodeBadMessage, "messages are JSON text frames", websocket.StatusUnsupportedData}
	}
	m, err := protocol.Decode(b)
	if err != nil {
		return nil, badMessage(err)
	}
	h, ok := m.(*protocol.Hello)
	if !ok {
		return nil, &protocolError{protocol.CodeNotReady, "the first message must be hello", websocket.StatusPolicyViolation}
	}
	return h, nil
}

// account is who a session's work is credited to and checked against: the
// owner of the volunteer token in its hello, or, without a token, an
// anonymous account of its own name — a fresh identity, with no
// credibility to lend anyone.
func (c *Coordinator) account(ctx context.Context, h *protocol.Hello) (string, error) {
	if h.Token == "" {
		return "anon:" + h.Worker, nil
	}
	sum := sha256.Sum256([]byte(h.Token))
	t, err := c.store.TokenLookup(ctx, &store.TokenLookupParams{Hash: sum[:]})
	if errors.Is(err, store.ErrNotFound) {
		return "", &protocolError{protocol.CodeUnauthorized, "hello: the token is unknown or revoked", websocket.StatusPolicyViolation}
	}
	if err != nil {
		return "", &protocolError{protocol.CodeInternal, "hello: the token could not be checked", websocket.StatusInternalError}
	}
	return t.Owner, nil
}

// trustedToken reports whether the hello's token is of kind trusted, as
// the store records it (never what the worker says): such a session
// settles disputes (rerun.go).
func (c *Coordinator) trustedToken(ctx context.Context, h *protocol.Hello) (bool, error) {
	if h.Token == "" {
		return false, nil
	}
	sum := sha256.Sum256([]byte(h.Token))
	t, err := c.store.TokenLookup(ctx, &store.TokenLookupParams{Hash: sum[:]})
	if errors.Is(err, store.ErrNotFound) {
		return false, &protocolError{protocol.CodeUnauthorized, "hello: the token is unknown or revoked", websocket.StatusPolicyViolation}
	}
	if err != nil {
		return false, &protocolError{protocol.CodeInternal, "hello: the token could not be checked", websocket.StatusInternalError}
	}
	return t.Kind == store.TokenTrusted, nil
}

// errBye: the worker said bye (handle).
var errBye = errors.New("bye")

// handle handles one message from the worker: nil to read on.
func (cn *conn) handle(typ websocket.MessageType, b []byte) error {
	c := cn.c
	if typ != websocket.MessageText {
		return &protocolError{protocol.CodeBadMessage, "messages are JSON text frames", websocket.StatusUnsupportedData}
	}
	m, err := protocol.Decode(b)
	if err != nil {
		return badMessage(err)
	}
	switch m := m.(type) {
	case *protocol.LeaseRequest:
		select {
		case c.waitCh <- &waiter{conn: cn, reqID: m.ID, max: m.Max}:
		case <-cn.ctx.Done():
			return context.Cause(cn.ctx)
		}
	case *protocol.Progress:
		cn.recordProgress(m.Progress)
	case *protocol.Heartbeat:
		cn.recordProgress(m.Progress)
		cn.renew()
		cn.send(&protocol.HeartbeatAck{Header: protocol.Header{ReplyTo: m.ID}})
	case *protocol.Result:
		ls := cn.lease(m.LeaseID)
		switch {
		case ls == nil:
			cn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: m.ID}, Code: protocol.CodeLeaseNotHeld,
				Message: fmt.Sprintf("lease %q is not held by this session (expired, revoked or already reported); the result was not recorded", m.LeaseID)})
		case uint64(len(m.Stdout))+uint64(len(m.Stderr)) > ls.maxOutput:
			// No run within the job's limits makes such output (the
			// sandbox stops at max_output): the lease goes back to the
			// queue, and the worker's slot is free, as it expects.
			n, err := c.store.ReplicaRelease(cn.ctx, &store.ReplicaReleaseParams{SessionID: cn.session.ID, LeaseIDs: []string{m.LeaseID},
				Progress: cn.progress(m.LeaseID), Now: c.cfg.Now()})
			if err != nil {
				return err
			}
			cn.forget(m.LeaseID)
			if n > 0 {
				c.wake()
			}
			cn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: m.ID}, Code: protocol.CodeTooLarge,
				Message: fmt.Sprintf("output of %d bytes exceeds the job's limit of %d; the lease is released", len(m.Stdout)+len(m.Stderr), ls.maxOutput)})
		default:
			// The worker's slot is free from now on: a lease_request
			// that follows may use it (grant counts what is held).
			// The store still refuses a second report of the lease.
			cn.forget(m.LeaseID)
			cp := *ls // the reader goroutine owns ls; the committer gets a copy
			select {
			case c.resultCh <- pendingResult{conn: cn, msg: m, lease: &cp}:
			case <-cn.ctx.Done():
				return context.Cause(cn.ctx)
			}
		}
	case *protocol.Checkpoint:
		evaluated, err := c.acceptCheckpoint(cn, m)
		if err != nil {
			var ce *checkpointError
			if !errors.As(err, &ce) {
				return err
			}
			cn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: m.ID}, Code: ce.code, Message: ce.msg})
			return nil
		}
		ack := &protocol.Ack{Header: protocol.Header{ReplyTo: m.ID}}
		if evaluated == nil {
			cn.send(ack)
			return nil
		}
		// Answered once the verifier has compared it, after any
		// revocation that comparison sends (acceptCheckpoint); the
		// reader goes on meanwhile.
		go func() {
			select {
			case <-evaluated:
				cn.send(ack)
			case <-cn.ctx.Done():
			}
		}()
	case *protocol.Release:
		n, err := c.store.ReplicaRelease(cn.ctx, &store.ReplicaReleaseParams{SessionID: cn.session.ID, LeaseIDs: m.LeaseIDs,
			Progress: cn.progress(m.LeaseIDs...), Now: c.cfg.Now()})
		if err != nil {
			return err
		}
		cn.forget(m.LeaseIDs...)
		if n > 0 {
			c.wake()
		}
		cn.send(&protocol.Ack{Header: protocol.Header{ReplyTo: m.ID}})
	case *protocol.RerunResult:
		cn.mu.Lock()
		p := cn.reruns[m.RerunID]
		delete(cn.reruns, m.RerunID)
		cn.mu.Unlock()
		if p == nil {
			cn.send(&protocol.ErrorMsg{Header: protocol.Header{ReplyTo: m.ID}, Code: protocol.CodeLeaseNotHeld,
				Message: fmt.Sprintf("no re-run %d is pending for this session (never asked, timed out or answered)", m.RerunID)})
			return nil
		}
		p.done <- m
	case *protocol.Bye:
		cn.bye = true
		return errBye
	case *protocol.ErrorMsg:
		c.cfg.Logger.Warn("worker reports an error", "session", cn.session.ID, "code", m.Code, "message", m.Message)
	default:
		return &protocolError{protocol.CodeBadMessage, fmt.Sprintf("a worker may not send %q", protocol.Hdr(m).Type), websocket.StatusPolicyViolation}
	}
	return nil
}

// renew extends the session's leases, at most a few times per lease TTL and
// only when it holds any, so idle workers cost the store nothing.
func (cn *conn) renew() {
	c := cn.c
	now := c.cfg.Now()
	cn.mu.Lock()
	if len(cn.leases) == 0 || now.Sub(cn.lastRenew) < c.cfg.LeaseTTL/4 {
		cn.mu.Unlock()
		return
	}
	cn.lastRenew = now
	cn.mu.Unlock()
	if err := c.store.ReplicaRenew(cn.ctx, &store.ReplicaRenewParams{SessionID: cn.session.ID, Deadline: now.Add(c.cfg.LeaseTTL), Progress: cn.progress()}); err != nil && cn.ctx.Err() == nil {
		c.cfg.Logger.Error("renewing leases", "session", cn.session.ID, "err", err)
	}
}
