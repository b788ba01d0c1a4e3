package coordinator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
)

// conn is one worker connection: its HTTP handler goroutine reads, a writer
// goroutine writes; both stop when ctx is cancelled.
type conn struct {
	c       *Coordinator
	ws      *websocket.Conn
	session *store.Session
	wakeW   chan struct{} // the writer has something to write
	ctx     context.Context
	cancel  context.CancelCauseFunc

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

func (cn *conn) close(cause error) { cn.cancel(cause) }

func (cn *conn) hold(ls *leaseState) {
	if ls.resume != nil {
		ls.seq = ls.resume.Seq
	}
	cn.mu.Lock()
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
	cn.mu.Unlock()
	select {
	case cn.wakeW <- struct{}{}:
	default:
	}
}

func (cn *conn) writer() {
	var batch [][]byte
	for {
		select {
		case <-cn.wakeW:
		case <-cn.ctx.Done():
			return
		}
		cn.mu.Lock()
		batch, cn.queue = cn.queue, batch[:0]
		cn.queued = 0
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
				return
			}
			if cn.ctx.Err() != nil {
				return
			}
		}
		if cap(batch) > 64 {
			batch = nil // let a burst's buffer go
		}
	}
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
	defer c.wg.Done()

	// Until its hello is accepted a connection is pending: capped per
	// address and in all, given HelloTimeout and MaxHelloBytes.
	remote := remoteKey(r)
	if ok, perIP := c.pending.enter(remote); !ok {
		w.Header().Set("Retry-After", "1")
		if perIP {
			c.metrics.refused("pending_ip")
			writeError(w, http.StatusTooManyRequests, api.CodeRateLimited, fmt.Sprintf("more than %d connections from this address are waiting to say hello", c.cfg.MaxPendingPerIP))
			return
		}
		c.metrics.refused("pending_total")
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("more than %d connections are waiting to say hello; retry", c.cfg.MaxPending))
		return
	}
	pending := true
	welcomed := func() {
		if pending {
			pending = false
			c.pending.leave(remote)
		}
	}
	defer welcomed()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{protocol.Subprotocol},
		InsecureSkipVerify: true, // workers may be browsers on any origin; they hold no credentials
	})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != protocol.Subprotocol {
		ws.Close(websocket.StatusProtocolError, "the WebSocket subprotocol must be "+protocol.Subprotocol)
		return
	}
	ws.SetReadLimit(c.cfg.MaxHelloBytes)

	hello, err := c.readHello(r.Context(), ws)
	if err != nil {
		c.metrics.refused("hello")
		closeWith(ws, err)
		return
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
		return
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
		return
	}
	defer c.connWG.Done()
	sess, err := c.store.SessionStart(r.Context(), &store.SessionStartParams{Coordinator: c.ID(), Worker: hello.Worker, Account: account, Site: hello.Site, Slots: hello.Slots, Remote: r.RemoteAddr, Now: c.cfg.Now()})
	if err != nil {
		ws.Close(websocket.StatusInternalError, "cannot record the session")
		return
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	cn := &conn{c: c, ws: ws, session: sess, wakeW: make(chan struct{}, 1), ctx: ctx, cancel: cancel, leases: map[string]*leaseState{},
		resume: hello.Has(protocol.FeatureCheckpoint) && !c.cfg.NoCheckpoints, token: newToken(), trusted: trusted, kind: workerKind(hello.Runtime),
		slots: hello.Slots}
	c.mu.Lock()
	c.conns[sess.ID] = cn
	c.mu.Unlock()
	c.metrics.sessionStarted(sess.ID, hello.Runtime)
	defer c.metrics.sessionEnded(sess.ID)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); cn.writer() }()
	cn.send(&protocol.Welcome{Header: protocol.Header{ReplyTo: hello.ID}, SessionID: sess.ID,
		HeartbeatMS: c.cfg.HeartbeatInterval.Milliseconds(), LeaseMS: c.cfg.LeaseTTL.Milliseconds(), MaxMessage: protocol.MaxMessage,
		SessionToken: cn.token})

	err = cn.readLoop()
	cn.close(err)
	wg.Wait()

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
	n, serr := c.store.SessionEnd(context.WithoutCancel(ctx), &store.SessionEndParams{ID: sess.ID, Reason: reason, Now: c.cfg.Now(),
		Progress: cn.progress(), Graceful: cn.bye})
	if serr != nil && !errors.Is(serr, store.ErrNotFound) {
		c.cfg.Logger.Error("ending a session", "session", sess.ID, "err", serr)
	}
	if n > 0 {
		c.wake()
	}
	closeWith(ws, err)
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

// readLoop handles the worker's messages until it leaves, breaks the
// protocol, or falls silent for three heartbeat intervals.
func (cn *conn) readLoop() error {
	c := cn.c
	silence := 3 * c.cfg.HeartbeatInterval
	for {
		ctx, cancel := context.WithTimeout(cn.ctx, silence)
		typ, b, err := cn.ws.Read(ctx)
		cancel()
		if err != nil {
			if cause := context.Cause(cn.ctx); cause != nil {
				return cause
			}
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				return &protocolError{protocol.CodeTooLarge, fmt.Sprintf("message larger than %d bytes", c.cfg.MaxMessage), websocket.StatusMessageTooBig}
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("no message for %v (missed heartbeats)", silence)
			}
			return err
		}
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
				continue
			}
			ack := &protocol.Ack{Header: protocol.Header{ReplyTo: m.ID}}
			if evaluated == nil {
				cn.send(ack)
				continue
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
				continue
			}
			p.done <- m
		case *protocol.Bye:
			cn.bye = true
			return nil
		case *protocol.ErrorMsg:
			c.cfg.Logger.Warn("worker reports an error", "session", cn.session.ID, "code", m.Code, "message", m.Message)
		default:
			return &protocolError{protocol.CodeBadMessage, fmt.Sprintf("a worker may not send %q", protocol.Hdr(m).Type), websocket.StatusPolicyViolation}
		}
	}
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
