// Package worker is the native worker: it connects to a coordinator over
// WebSocket (internal/protocol), runs the replicas it is leased in the
// sandbox, reports their results, and reconnects with backoff when the
// connection drops.
package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// Argv0 is the program name every task sees as argv[0].
const Argv0 = "main.wasm"

// Config configures a worker.
type Config struct {
	// Server is the coordinator's base URL (http:// or https://), or
	// several separated by commas: coordinators sharing one store. The
	// worker uses one at a time and moves to the next when a session ends
	// in error (its coordinator died or is unreachable); the store's
	// checkpoints let the next one resume what the first had leased.
	Server string
	Name   string // stable worker name
	Slots  int    // parallel runs; default 1
	Logger *slog.Logger
	// Engine runs guests; nil: Run starts one, keeping compiled modules in
	// CacheDir.
	Engine *sandbox.Engine
	// CacheDir is where the engine Run starts keeps the machine code of
	// the modules it compiles (sandbox.EngineConfig.CacheDir), so that
	// the worker's next process loads in a second what took it tens of
	// seconds to compile; "": in memory only. Within a process, a module
	// is compiled once, whatever the sessions and tasks that run it. A
	// directory that cannot be used is logged and ignored.
	CacheDir string
	// Grace is how long shutdown waits for running tasks before giving
	// their leases back.
	Grace      time.Duration // default 5s
	MinBackoff time.Duration // default 100ms
	MaxBackoff time.Duration // default 5s
	HTTP       *http.Client
	// NoCheckpoints: do not declare protocol.FeatureCheckpoint; replicas
	// run whole, as before continuations.
	NoCheckpoints bool
	// Ticks is how many progress reports the worker makes per checkpoint
	// interval (heartbeats carry the fuel reached, for the work lost if
	// the worker leaves); default 8. It runs the guest at a grid Ticks
	// times finer and uploads every Ticks-th suspension.
	Ticks int
	// Token is a volunteer token (crowdrun token create --kind volunteer),
	// sent in hello: the work is credited to, and checked against, its
	// account. "": the account is "anon:" + Name, a fresh identity. A token
	// of kind trusted also makes the coordinator send the worker links to
	// re-run when workers disagree (rerun.go); its own work is checked
	// like anyone's.
	Token string
	// Site is a web site (a host name) the work is done for, sent in
	// hello: the site's credit shows it. Attribution only: the work is
	// still checked and credited as the account's. "": none.
	Site string
	// Tamper makes the worker lie: for the sabotage benchmark only
	// (tamper.go). Nil in production.
	Tamper Tamper
}

// Stats counts what a worker did.
type Stats struct {
	Sessions, Tasks, Refused atomic.Int64
	Fuel                     atomic.Uint64
	Checkpoints, Resumes     atomic.Int64
	// Reruns and RerunTraces count the links and the traces this worker
	// re-ran for the coordinator (a trusted worker's: rerun.go).
	Reruns, RerunTraces atomic.Int64
}

// Worker is a configured worker; Run runs it.
type Worker struct {
	cfg     Config
	servers []string     // from cfg.Server
	current atomic.Int64 // index into servers of the coordinator in use
	eng     *sandbox.Engine
	Stats   Stats

	modMu   sync.Mutex
	modules map[string]*moduleEntry
	modTick uint64
}

// keptModules bounds the worker's table of modules by hash: beyond it the
// least recently leased are forgotten (their machine code is the engine's
// to keep or let go of, sandbox.EngineConfig.KeepModules; a module
// forgotten here is fetched again if a lease names it again).
const keptModules = 64

type moduleEntry struct {
	once    sync.Once
	lastUse uint64 // w.modTick at its last lease
	mod     *sandbox.Module
	err     error
}

// New returns a worker.
func New(cfg Config) (*Worker, error) {
	var servers []string
	for _, u := range strings.Split(cfg.Server, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("worker: server %q must start with http:// or https://", u)
		}
		servers = append(servers, strings.TrimRight(u, "/"))
	}
	if len(servers) == 0 {
		return nil, errors.New("worker: a server URL is required")
	}
	cfg.Server = strings.Join(servers, ",")
	if cfg.Name == "" {
		return nil, errors.New("worker: a name is required")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if cfg.Slots > protocol.MaxSlots {
		return nil, fmt.Errorf("worker: at most %d slots", protocol.MaxSlots)
	}
	if cfg.Site != "" {
		site, err := protocol.ParseSite(cfg.Site)
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		cfg.Site = site
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: time.Minute}
	}
	if cfg.Ticks <= 0 {
		cfg.Ticks = 8
	}
	return &Worker{cfg: cfg, servers: servers, modules: map[string]*moduleEntry{}}, nil
}

// server is the base URL of the coordinator in use.
func (w *Worker) server() string { return w.servers[int(w.current.Load())%len(w.servers)] }

// failover moves to the next coordinator of the list, if there is one.
func (w *Worker) failover() {
	if len(w.servers) > 1 {
		w.current.Add(1)
	}
}

// Run connects and works until ctx is cancelled, reconnecting with
// exponential backoff. On cancellation it finishes (within Grace) or gives
// back what it runs, says bye, and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	w.eng = w.cfg.Engine
	if w.eng == nil {
		eng, err := sandbox.NewEngineWith(ctx, sandbox.EngineConfig{CacheDir: w.cfg.CacheDir})
		if err != nil && w.cfg.CacheDir != "" {
			w.cfg.Logger.Warn("compiled modules will not be kept on disk", "err", err)
			eng, err = sandbox.NewEngine(ctx)
		}
		if err != nil {
			return err
		}
		defer eng.Close(context.WithoutCancel(ctx))
		w.eng = eng
	}
	backoff := w.cfg.MinBackoff
	for {
		start := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 10*time.Second {
			backoff = w.cfg.MinBackoff
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		failed := w.server()
		w.failover()
		d := backoff/2 + rand.N(backoff/2+1)
		w.cfg.Logger.Warn("disconnected; reconnecting", "server", failed, "err", err, "next", w.server(), "in", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

// fatalError ends Run: retrying would not help (e.g. a protocol version the
// coordinator refuses).
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

type runDone struct {
	lease  *protocol.Lease
	report sandbox.Report
	stdout []byte
	stderr []byte
	// giveBack: the run could not start (its snapshot could not be
	// fetched); the lease is released rather than reported.
	giveBack error
}

// runState is one running lease as the session loop sees it.
type runState struct {
	cancel   context.CancelFunc
	progress atomic.Uint64 // fuel reached, reported in heartbeats
	rebase   atomic.Bool   // a checkpoint was refused: send the next one full
}

// sess is one connection's state, owned by the session goroutine.
type sess struct {
	w       *Worker
	ws      *websocket.Conn
	nextID  atomic.Uint64
	welcome *protocol.Welcome

	ckMu  sync.Mutex
	ckIDs map[uint64]*ckSent // checkpoint message id → its run, to rebase when refused
}

// ckSent is a checkpoint sent and not yet answered.
type ckSent struct {
	rs *runState
	// replied, when not nil, is closed when the coordinator answers (ack
	// or refusal): the run waits on it (checkpointer.onCheckpoint).
	replied chan struct{}
}

func (s *sess) send(ctx context.Context, m protocol.Message) error {
	protocol.Hdr(m).ID = s.nextID.Add(1)
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

func wsURL(server string) string {
	if rest, ok := strings.CutPrefix(server, "https://"); ok {
		return "wss://" + rest + "/v1/workers/ws"
	}
	return "ws://" + strings.TrimPrefix(server, "http://") + "/v1/workers/ws"
}

func (w *Worker) session(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ws, _, err := websocket.Dial(dctx, wsURL(w.server()), &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPClient: w.cfg.HTTP})
	cancel()
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxMessage)
	s := &sess{w: w, ws: ws, ckIDs: map[uint64]*ckSent{}}
	hello := &protocol.Hello{Protocol: protocol.Version, Worker: w.cfg.Name, Slots: w.cfg.Slots, Runtime: "go/wazero", Token: w.cfg.Token, Site: w.cfg.Site,
		Features: []string{protocol.FeatureRerun}}
	if !w.cfg.NoCheckpoints {
		hello.Features = append(hello.Features, protocol.FeatureCheckpoint)
	}
	if err := s.send(ctx, hello); err != nil {
		return err
	}
	// The reader hands every message to the session loop.
	inbox := make(chan protocol.Message, 64)
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx)) // outlives ctx: a draining session still hears acks
	var readErr error
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		defer close(inbox)
		for {
			_, b, err := ws.Read(rctx)
			if err != nil {
				readErr = err
				return
			}
			m, err := protocol.Decode(b)
			if err != nil {
				readErr = fmt.Errorf("coordinator sent a bad message: %w", err)
				return
			}
			select {
			case inbox <- m:
			case <-rctx.Done():
				readErr = rctx.Err()
				return
			}
		}
	}()
	defer func() { rcancel(); ws.CloseNow(); rwg.Wait() }()

	select {
	case m, ok := <-inbox:
		if !ok {
			return fmt.Errorf("waiting for welcome: %w", readErr)
		}
		switch m := m.(type) {
		case *protocol.Welcome:
			s.welcome = m
		case *protocol.ErrorMsg:
			if m.Code == protocol.CodeVersion {
				return &fatalError{fmt.Errorf("coordinator refused us: %s", m.Message)}
			}
			return fmt.Errorf("coordinator refused us: %s: %s", m.Code, m.Message)
		default:
			return fmt.Errorf("expected welcome, got %s", protocol.Hdr(m).Type)
		}
	case <-time.After(10 * time.Second):
		return errors.New("no welcome within 10s")
	case <-ctx.Done():
		return nil
	}
	w.Stats.Sessions.Add(1)
	w.cfg.Logger.Info("connected", "server", w.server(), "session", s.welcome.SessionID, "slots", w.cfg.Slots)
	return s.loop(ctx, inbox, &readErr)
}

func (s *sess) loop(ctx context.Context, inbox <-chan protocol.Message, readErr *error) error {
	w := s.w
	hb := time.Duration(s.welcome.HeartbeatMS) * time.Millisecond
	if hb <= 0 {
		hb = 2 * time.Second
	}
	ticker := time.NewTicker(hb)
	defer ticker.Stop()

	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	running := map[string]*runState{}
	done := make(chan runDone, w.cfg.Slots)
	var runs sync.WaitGroup
	defer func() {
		// Stop every run and wait for it, draining its report.
		cancelRuns()
		go func() { runs.Wait(); close(done) }()
		for range done {
		}
	}()
	requested := false
	lastHeard := time.Now()
	draining := false
	var graceC <-chan time.Time

	for {
		if !draining && ctx.Err() != nil {
			draining = true
			graceC = time.After(w.cfg.Grace)
		}
		if draining && len(running) == 0 {
			s.send(context.WithoutCancel(ctx), &protocol.Bye{})
			s.ws.Close(websocket.StatusNormalClosure, "worker shutting down")
			return nil
		}
		if !draining && !requested && len(running) < w.cfg.Slots {
			if err := s.send(ctx, &protocol.LeaseRequest{Max: w.cfg.Slots - len(running)}); err != nil {
				return err
			}
			requested = true
		}
		var ctxDone <-chan struct{}
		if !draining {
			ctxDone = ctx.Done()
		}
		select {
		case <-ctxDone:
			continue
		case <-graceC:
			// Give back what did not finish in time; the coordinator
			// requeues it at once instead of waiting for the lease to lapse.
			ids := make([]string, 0, len(running))
			for id, r := range running {
				r.cancel()
				ids = append(ids, id)
			}
			s.sendProgress(context.WithoutCancel(ctx), running)
			s.send(context.WithoutCancel(ctx), &protocol.Release{LeaseIDs: ids})
			s.send(context.WithoutCancel(ctx), &protocol.Bye{})
			s.ws.Close(websocket.StatusNormalClosure, "worker shutting down")
			return nil
		case <-ticker.C:
			if time.Since(lastHeard) > 3*hb {
				return fmt.Errorf("coordinator silent for %v", time.Since(lastHeard).Round(time.Millisecond))
			}
			if err := s.sendProgress(ctx, running); err != nil && !draining {
				return err
			}
		case d := <-done:
			if _, ok := running[d.lease.LeaseID]; !ok {
				continue // revoked while running: nobody wants it
			}
			delete(running, d.lease.LeaseID)
			if d.giveBack != nil {
				w.cfg.Logger.Warn("giving a lease back", "lease", d.lease.LeaseID, "err", d.giveBack)
				if err := s.send(context.WithoutCancel(ctx), &protocol.Release{LeaseIDs: []string{d.lease.LeaseID}}); err != nil {
					return err
				}
				continue
			}
			r := d.report
			err := s.send(context.WithoutCancel(ctx), &protocol.Result{LeaseID: d.lease.LeaseID, Status: string(r.Status), ExitCode: r.ExitCode,
				Message: clip(r.Message, 4000), Stdout: d.stdout, Stderr: d.stderr, Fuel: r.Fuel, WallMS: r.WallMS})
			if err != nil {
				return err
			}
			w.Stats.Tasks.Add(1)
			w.Stats.Fuel.Add(r.Fuel)
		case m, ok := <-inbox:
			if !ok {
				if *readErr == nil {
					return errors.New("connection closed")
				}
				return *readErr
			}
			lastHeard = time.Now()
			switch m := m.(type) {
			case *protocol.Leases:
				requested = false
				if draining {
					ids := make([]string, len(m.Leases))
					for i, l := range m.Leases {
						ids[i] = l.LeaseID
					}
					s.send(context.WithoutCancel(ctx), &protocol.Release{LeaseIDs: ids})
					continue
				}
				for i := range m.Leases {
					l := &m.Leases[i]
					rctx, cancel := context.WithCancel(runCtx)
					rs := &runState{cancel: cancel}
					if l.Resume != nil {
						rs.progress.Store(l.Resume.Fuel)
					}
					running[l.LeaseID] = rs
					runs.Add(1)
					go func() {
						defer runs.Done()
						defer cancel()
						done <- w.run(rctx, s, rs, l)
					}()
				}
			case *protocol.Rerun:
				// Beside the leases (its slots are theirs): a re-run is
				// rare and settles a dispute someone waits on.
				runs.Add(1)
				go func() {
					defer runs.Done()
					res := w.rerun(runCtx, s, m)
					if err := s.write(res); err != nil {
						w.cfg.Logger.Warn("sending a re-run's result", "rerun", m.RerunID, "err", err)
					}
				}()
			case *protocol.Revoke:
				for _, id := range m.LeaseIDs {
					if r, ok := running[id]; ok {
						r.cancel()
						delete(running, id)
					}
				}
			case *protocol.ErrorMsg:
				if m.Code == protocol.CodeLeaseNotHeld || m.Code == protocol.CodeTooLarge {
					w.Stats.Refused.Add(1)
				}
				s.ckMu.Lock()
				if ck := s.ckIDs[m.ReplyTo]; ck != nil {
					ck.rs.rebase.Store(true)
					ck.answered()
					delete(s.ckIDs, m.ReplyTo)
				}
				s.ckMu.Unlock()
				w.cfg.Logger.Warn("coordinator refused a message", "code", m.Code, "message", m.Message)
			case *protocol.Ack:
				s.ckMu.Lock()
				if ck := s.ckIDs[m.ReplyTo]; ck != nil {
					ck.answered()
					delete(s.ckIDs, m.ReplyTo)
				}
				s.ckMu.Unlock()
			case *protocol.HeartbeatAck:
			default:
				w.cfg.Logger.Warn("unexpected message", "type", protocol.Hdr(m).Type)
			}
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sendProgress sends a heartbeat with the fuel each run has reached.
func (s *sess) sendProgress(ctx context.Context, running map[string]*runState) error {
	ids := make([]string, 0, len(running))
	var prog map[string]uint64
	for id, r := range running {
		ids = append(ids, id)
		if f := r.progress.Load(); f > 0 {
			if prog == nil {
				prog = map[string]uint64{}
			}
			prog[id] = f
		}
	}
	return s.send(ctx, &protocol.Heartbeat{Running: ids, Progress: prog})
}

// run executes one lease. A module that does not compile yields a report
// saying so, which the coordinator compares like any other; one that cannot
// be fetched gives the lease back.
// With a checkpoint grid and a suspendable module, the run suspends at the
// grid and uploads each checkpoint (checkpointer); with a resume point, it
// continues from that snapshot and reports only the output that follows.
func (w *Worker) run(ctx context.Context, s *sess, rs *runState, l *protocol.Lease) runDone {
	d := runDone{lease: l}
	mod, err := w.module(ctx, l.ModuleHash)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			d.report = sandbox.Report{Status: se.Status, Message: se.Message}
		} else {
			// Not the task's verdict: the network or a coordinator going
			// away (the chaos harness, docs/chaos.md, caught this reported
			// as a trap and accepted). Another try, here or elsewhere, runs it.
			d.giveBack = fmt.Errorf("could not fetch the module: %w", err)
		}
		return d
	}
	var stdout, stderr bytes.Buffer
	in := sandbox.Input{Args: append([]string{Argv0}, l.Args...), Env: l.Env, Stdin: bytes.NewReader(l.Stdin),
		Stdout: &stdout, Stderr: &stderr, Seed: l.Seed}
	for _, f := range l.Files {
		in.Files = append(in.Files, wasi.File{Name: f.Name, Data: f.Data})
	}
	lim := sandbox.Limits{MemoryBytes: l.Limits.MemoryBytes, MaxOutput: int64(l.Limits.MaxOutput),
		Timeout: time.Duration(l.Limits.TimeoutMS) * time.Millisecond, Fuel: l.Limits.Fuel}
	ck := &checkpointer{ctx: ctx, w: w, s: s, rs: rs, lease: l, stdout: &stdout, stderr: &stderr}
	if l.Resume != nil {
		if !mod.Suspendable() {
			d.giveBack = errors.New("the lease resumes a checkpoint of a module that is not suspendable")
			return d
		}
		snap, dig, err := w.snapshot(ctx, s, l)
		if err != nil {
			d.giveBack = err
			return d
		}
		in.Resume = snap
		ck.seq, ck.base = l.Resume.Seq, dig
		w.Stats.Resumes.Add(1)
	}
	if l.CheckpointEvery > 0 && mod.Suspendable() {
		ck.every = l.CheckpointEvery
		ck.awaitFirst = true
		lim.CheckpointEvery = l.CheckpointEvery
		if t := uint64(w.cfg.Ticks); t > 1 && l.CheckpointEvery%t == 0 {
			lim.CheckpointEvery = l.CheckpointEvery / t // progress ticks between checkpoints
		}
		in.OnCheckpoint = ck.onCheckpoint
	}
	d.report = w.eng.Run(ctx, mod, in, lim)
	if d.report.HostError != nil {
		d.giveBack = d.report.HostError // not the task's verdict
		return d
	}
	d.stdout, d.stderr = stdout.Bytes(), stderr.Bytes()
	if w.cfg.Tamper != nil {
		w.cfg.Tamper.Result(l, &d.report, &d.stdout, &d.stderr)
	}
	return d
}

// checkpointer turns a run's suspensions into progress reports and, at
// every multiple of the task's grid, a checkpoint message: the snapshot as
// a delta against the replica's previous checkpoint, the output since it.
type checkpointer struct {
	ctx    context.Context // the run's: cancelled when the lease is revoked
	w      *Worker
	s      *sess
	rs     *runState
	lease  *protocol.Lease
	stdout *bytes.Buffer
	stderr *bytes.Buffer

	every    uint64           // the task's grid
	seq      uint64           // the replica's last checkpoint sent (or resumed from)
	base     *snapshot.Digest // its digest: the next delta's base (nil: send full)
	out, err int              // output already sent with checkpoints
	// awaitFirst: the lease's first checkpoint is still to be sent. The
	// run waits for the coordinator's answer to that one before it runs
	// on (docs/protocol.md, "A lease's first checkpoint waits for its
	// answer").
	awaitFirst bool
}

// ackWait bounds the wait for the answer to a lease's first checkpoint: a
// coordinator answers every checkpoint, so this only keeps a run from
// hanging on one that lost it.
const ackWait = time.Minute

func (c *checkpointer) onCheckpoint(cp *sandbox.Checkpoint) error {
	fuel := cp.Snapshot.Fuel
	c.rs.progress.Store(fuel)
	seq := (fuel - 1) / c.every
	if seq <= c.seq {
		// A progress tick between grid points. It is sent from here, while
		// the guest waits, rather than by the session loop: on a loaded
		// machine the loop's thread lags the guest's by milliseconds, and a
		// worker killed meanwhile would under-report the work it loses.
		if err := c.s.write(&protocol.Progress{Progress: map[string]uint64{c.lease.LeaseID: fuel}}); err != nil {
			return fmt.Errorf("reporting progress: %w", err)
		}
		return nil
	}
	c.seq = seq
	start := time.Now()
	var buf bytes.Buffer
	base := c.base
	if c.rs.rebase.Swap(false) {
		base = nil
	}
	snap, dig := cp.Snapshot, cp.Digest
	tsnap, tdig, err := c.tamperCheckpoint(seq, snap)
	if err != nil {
		return fmt.Errorf("tampering with checkpoint %d: %w", seq, err)
	}
	if tsnap != nil {
		snap, dig, base = tsnap, tdig, nil
	}
	opts := snapshot.Options{Compress: true}
	if base == nil {
		err = snapshot.Encode(&buf, snap, dig, opts)
	} else {
		err = snapshot.EncodeDelta(&buf, base, snap, dig, opts)
	}
	if err != nil {
		return fmt.Errorf("encoding checkpoint %d: %w", seq, err)
	}
	out, errb := c.stdout.Bytes()[c.out:], c.stderr.Bytes()[c.err:]
	if buf.Len()+len(out)+len(errb) > protocol.MaxCheckpoint {
		// Too large to send: go on without it; the next one carries the
		// output since the last one sent, against the same base.
		c.w.cfg.Logger.Warn("checkpoint too large to upload; skipped", "lease", c.lease.LeaseID, "seq", seq, "bytes", buf.Len()+len(out)+len(errb))
		return nil
	}
	m := &protocol.Checkpoint{LeaseID: c.lease.LeaseID, Seq: seq, Fuel: snap.Fuel, StateHash: hex.EncodeToString(dig.State[:]),
		Snapshot: buf.Bytes(), Stdout: bytes.Clone(out), Stderr: bytes.Clone(errb),
		CostMS: float64(cp.Capture+time.Since(start)) / float64(time.Millisecond)}
	if base != nil {
		m.Base = hex.EncodeToString(base.State[:])
	}
	await := c.awaitFirst
	c.awaitFirst = false
	replied, err := c.s.sendCheckpoint(m, c.rs, await)
	if err != nil {
		// The connection is going; the session ends and the lease with it.
		return fmt.Errorf("sending checkpoint %d: %w", seq, err)
	}
	c.base = dig // what the coordinator holds: the next delta's base
	c.out, c.err = c.stdout.Len(), c.stderr.Len()
	c.w.Stats.Checkpoints.Add(1)
	if await {
		// A lease may be an audit of exactly this link, and nothing in it
		// says so. The coordinator compares the link before it
		// answers, and revokes the lease first if that was all it wanted:
		// the revocation arrives before the answer, on the same connection,
		// so the run stops here instead of computing the rest of the task.
		t := time.NewTimer(ackWait)
		defer t.Stop()
		select {
		case <-replied:
		case <-c.ctx.Done():
		case <-t.C:
			c.w.cfg.Logger.Warn("no answer to a lease's first checkpoint; running on", "lease", c.lease.LeaseID, "seq", seq)
		}
		if err := c.ctx.Err(); err != nil {
			return err // revoked: nobody wants the rest
		}
	}
	return nil
}

// sendCheckpoint sends m; with await, the channel it returns is closed when
// the coordinator answers it.
func (s *sess) sendCheckpoint(m *protocol.Checkpoint, rs *runState, await bool) (<-chan struct{}, error) {
	m.ID = s.nextID.Add(1)
	ck := &ckSent{rs: rs}
	if await {
		ck.replied = make(chan struct{})
	}
	s.ckMu.Lock()
	s.ckIDs[m.ID] = ck
	s.ckMu.Unlock()
	return ck.replied, s.writeID(m)
}

// answered wakes a run waiting for the coordinator's answer (call with
// sess.ckMu held: each checkpoint is answered once).
func (ck *ckSent) answered() {
	if ck.replied != nil {
		close(ck.replied)
	}
}

// write sends m from a run's goroutine (websocket writes may be
// concurrent).
func (s *sess) write(m protocol.Message) error {
	protocol.Hdr(m).ID = s.nextID.Add(1)
	return s.writeID(m)
}

func (s *sess) writeID(m protocol.Message) error {
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

// snapshot downloads and decodes the snapshot a lease resumes from.
func (w *Worker) snapshot(ctx context.Context, s *sess, l *protocol.Lease) (*snapshot.Snapshot, *snapshot.Digest, error) {
	r := l.Resume
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.server()+"/v1/workers/snapshots/"+r.Snapshot, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", fmt.Sprintf("Session %d:%s", s.welcome.SessionID, s.welcome.SessionToken))
	resp, err := w.cfg.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET snapshot %s: %s", r.Snapshot[:12], resp.Status)
	}
	var b []byte
	if n := resp.ContentLength; n > 0 && n < 1<<31 {
		b = make([]byte, n) // one allocation, no copies while it arrives
		_, err = io.ReadFull(resp.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(resp.Body, 1<<31))
	}
	if err != nil {
		return nil, nil, err
	}
	// The file's hash (its name) is checked while the snapshot decodes on
	// the other cores; both must pass.
	var sum [32]byte
	var hashed sync.WaitGroup
	hashed.Go(func() { sum = sha256.Sum256(b) })
	lim := snapshot.DefaultLimits
	if p := (l.Limits.MemoryBytes + snapshot.PageSize - 1) / snapshot.PageSize; p > 0 && p < uint64(lim.MaxPages) {
		lim.MaxPages = uint32(p)
	}
	snap, dig, err := lim.DecodeBytes(b) // raw pages alias b, which nothing else holds
	hashed.Wait()
	if hex.EncodeToString(sum[:]) != r.Snapshot {
		return nil, nil, fmt.Errorf("snapshot %s: content does not match its hash", r.Snapshot[:12])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", r.Snapshot[:12], err)
	}
	if hex.EncodeToString(dig.State[:]) != r.StateHash || snap.Fuel != r.Fuel {
		return nil, nil, fmt.Errorf("snapshot %s is not checkpoint %d (state %s at fuel %d)", r.Snapshot[:12], r.Seq, r.StateHash[:12], r.Fuel)
	}
	return snap, dig, nil
}

// module fetches (once) and compiles a module by hash, checking that the
// bytes are the ones named.
func (w *Worker) module(ctx context.Context, hash string) (*sandbox.Module, error) {
	w.modMu.Lock()
	e, ok := w.modules[hash]
	if !ok {
		e = &moduleEntry{}
		w.modules[hash] = e
	}
	w.modTick++
	e.lastUse = w.modTick
	for len(w.modules) > keptModules {
		var lru string
		for h, x := range w.modules {
			if lru == "" || x.lastUse < w.modules[lru].lastUse {
				lru = h
			}
		}
		delete(w.modules, lru) // a run holding its module keeps it
	}
	w.modMu.Unlock()
	e.once.Do(func() {
		b, err := w.fetch(ctx, hash)
		if err != nil {
			e.err = err
			return
		}
		start := time.Now()
		e.mod, e.err = w.eng.CompileInstrumented(ctx, b)
		if e.err == nil {
			w.cfg.Logger.Info("module compiled", "module", hash[:12], "suspendable", e.mod.Suspendable(), "in", time.Since(start).Round(time.Millisecond))
			if e.mod.Suspendable() {
				// Runs start in the module's lite variant; the rewind
				// twins compile in the background until a run's first
				// checkpoint needs them (sandbox, docs/continuations.md).
				m := e.mod
				go func() {
					if err := w.eng.Rewindable(context.WithoutCancel(ctx), m); err == nil {
						w.cfg.Logger.Info("module ready to rewind", "module", hash[:12], "in", time.Since(start).Round(time.Millisecond))
					}
				}()
			}
		}
	})
	if e.err != nil {
		var se *sandbox.Error
		if !errors.As(e.err, &se) {
			// A transient failure: let the next lease try again.
			w.modMu.Lock()
			if w.modules[hash] == e {
				delete(w.modules, hash)
			}
			w.modMu.Unlock()
		}
	}
	return e.mod, e.err
}

func (w *Worker) fetch(ctx context.Context, hash string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.server()+"/v1/modules/"+hash, nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.cfg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET module %s: %s", hash[:12], resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("module %s: content does not match its hash", hash[:12])
	}
	return b, nil
}
