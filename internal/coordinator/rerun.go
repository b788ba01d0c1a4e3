package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/rerun"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/verify"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// reruns is the coordinator's trusted ground (docs/trust.md §2,
// "Dispute"): a link the verifier asks for is re-executed by a connected
// trusted worker — a session whose hello carried a token of kind trusted,
// not involved in the task — or, when there is none, it fails, or it does
// not answer in time, in-process: from the coordinator's own prepared
// module and its own verified copy of the start snapshot, within the CPU
// budget. A dispute never waits on a trusted worker longer than
// Config.TrustedTimeout.
type reruns struct {
	c      *Coordinator
	budget *cpuBudget
	nextID atomic.Uint64

	remote, remoteFailed atomic.Int64
}

// maxRemoteReruns is how many re-runs may be under way on trusted
// workers at once, beyond the in-process slots.
const maxRemoteReruns = 64

// RerunStats counts the re-runs of trusted ground since Open.
type RerunStats struct {
	// Remote is how many re-runs trusted workers settled; RemoteFailed
	// how many were handed to one that failed, left, did not answer in
	// time or answered malformed (each then ran in-process).
	Remote, RemoteFailed int64
	// Local is how many ran in-process, LocalTime the time they took (at
	// least the CPU they used: each runs on one thread), and Waiting how
	// many wait for the CPU budget now.
	Local     int64
	LocalTime time.Duration
	Waiting   int
}

// RerunStats returns what trusted ground ran.
func (c *Coordinator) RerunStats() RerunStats {
	n, d, w := c.reruns.budget.stats()
	return RerunStats{Remote: c.reruns.remote.Load(), RemoteFailed: c.reruns.remoteFailed.Load(), Local: n, LocalTime: d, Waiting: w}
}

func newReruns(c *Coordinator) *reruns {
	return &reruns{c: c, budget: newCPUBudget(c.cfg.TrustedSlots, c.cfg.TrustedCPU, time.Now, time.After)}
}

// pendingRerun is a re-run a trusted session was asked for.
type pendingRerun struct {
	snapshot string // the start snapshot it may download ("": from the start)
	done     chan *protocol.RerunResult
}

func (r *reruns) run(ctx context.Context, req *verify.RerunRequest) (*verify.RerunResult, error) {
	c, ev := r.c, req.Evidence
	if ev.Grid == 0 && !req.Final {
		return nil, errors.New("the task has no checkpoint grid")
	}
	// A link without a grid cannot be re-run anywhere (rerun.Link needs
	// one): the in-process path says why.
	if cn := r.pick(ev); cn != nil && ev.Grid > 0 {
		out, err := r.onWorker(ctx, cn, req)
		if err == nil || errors.Is(err, rerun.ErrEnded) {
			var res *verify.RerunResult
			if res, err = r.result(ctx, req, out, err); err == nil {
				r.remote.Add(1)
				r.answered(cn)
				c.cfg.Logger.Info("a trusted worker re-ran a link", "task", ev.Task.ID, "seq", req.Seq, "final", req.Final, "trace", req.Trace,
					"worker", cn.session.Worker, "fuel", res.Fuel)
				return res, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.remoteFailed.Add(1)
		wait := r.failed(cn)
		c.cfg.Logger.Warn("a trusted worker did not settle a re-run; running it in-process", "task", ev.Task.ID, "session", cn.session.ID,
			"worker", cn.session.Worker, "err", err, "not_asked_for", wait)
	}
	slot, err := r.budget.acquire(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	out, err := r.local(ctx, req)
	took := time.Since(start)
	r.budget.release(slot, took)
	n, used, waiting := r.budget.stats()
	c.cfg.Logger.Info("re-ran a link in-process", "task", ev.Task.ID, "seq", req.Seq, "final", req.Final, "trace", req.Trace,
		"took", took.Round(time.Millisecond), "reruns", n, "cpu_used", used.Round(time.Millisecond), "waiting", waiting)
	return r.result(ctx, req, out, err)
}

// A trusted session that fails a re-run (an error, a malformed answer,
// no answer in time) is not asked again for a while, so that a broken or
// overloaded trusted worker does not make every dispute wait on it (up to
// TrustedTimeout each) before running in-process: one minute after its
// first failure in a row, doubling with each further one, at most an
// hour. One settled re-run ends the back-off.
const (
	rerunBackoff    = time.Minute
	rerunBackoffMax = time.Hour
)

// backOff is how long a session that failed `fails` re-runs in a row is
// passed over.
func backOff(fails int) time.Duration {
	d := rerunBackoff
	for i := 1; i < fails && d < rerunBackoffMax; i++ {
		d *= 2
	}
	return min(d, rerunBackoffMax)
}

// failed records a failed re-run of cn and returns how long it is passed over.
func (r *reruns) failed(cn *conn) time.Duration {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.rerunFails++
	d := backOff(cn.rerunFails)
	cn.rerunRetry = r.c.cfg.Now().Add(d)
	return d
}

// answered ends cn's back-off.
func (r *reruns) answered(cn *conn) {
	cn.mu.Lock()
	cn.rerunFails, cn.rerunRetry = 0, time.Time{}
	cn.mu.Unlock()
}

// involved is every account that computed or uploaded part of the task:
// a trusted worker never settles a dispute about its own work.
func involved(ev *store.TaskEvidence) map[string]bool {
	acc := map[string]bool{}
	for _, rep := range ev.Replicas {
		acc[rep.Account] = true
		for _, a := range rep.Accounts {
			acc[a] = true
		}
		for _, ck := range rep.Checkpoints {
			acc[ck.Account] = true
		}
	}
	return acc
}

// pick chooses the least busy trusted session with a free slot whose
// account had no part in the task and that is not backing off after a
// failure; nil if none.
func (r *reruns) pick(ev *store.TaskEvidence) *conn {
	c := r.c
	skip := involved(ev)
	now := c.cfg.Now()
	var best *conn
	bestLoad := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cn := range c.conns {
		if !cn.trusted || cn.isDone() || skip[cn.session.Account] {
			continue
		}
		cn.mu.Lock()
		load, retry := len(cn.reruns), cn.rerunRetry
		cn.mu.Unlock()
		if load >= max(cn.session.Slots, 1) || now.Before(retry) {
			continue
		}
		if best == nil || load < bestLoad {
			best, bestLoad = cn, load
		}
	}
	return best
}

// inputs loads the task's stdin and files.
func (r *reruns) inputs(ctx context.Context, ev *store.TaskEvidence) ([]byte, []wasi.File, error) {
	stdin, err := r.c.store.BlobGet(ctx, ev.Task.StdinHash)
	if err != nil {
		return nil, nil, fmt.Errorf("loading stdin: %w", err)
	}
	var files []wasi.File
	for _, f := range ev.Task.Files {
		data, err := r.c.store.BlobGet(ctx, f.Hash)
		if err != nil {
			return nil, nil, fmt.Errorf("loading file %s: %w", f.Name, err)
		}
		files = append(files, wasi.File{Name: f.Name, Data: data})
	}
	return stdin, files, nil
}

// limits are the job's, with a final link's fuel capped.
func (r *reruns) limits(req *verify.RerunRequest) sandbox.Limits {
	j := req.Evidence.Job.Limits
	l := sandbox.Limits{MemoryBytes: j.MemoryBytes, MaxOutput: int64(j.MaxOutput), Timeout: time.Duration(j.TimeoutMS) * time.Millisecond, Fuel: j.Fuel}
	if l.Fuel == 0 && req.Final {
		l.Fuel = r.c.cfg.TrustedFuel
	}
	return l
}

// onWorker asks the trusted session cn to re-run the link and checks its
// answer. An error (other than rerun.ErrEnded, with its outcome) means
// nothing is known: the caller runs the link itself.
func (r *reruns) onWorker(ctx context.Context, cn *conn, req *verify.RerunRequest) (*rerun.Outcome, error) {
	ev := req.Evidence
	stdin, files, err := r.inputs(ctx, ev)
	if err != nil {
		return nil, err
	}
	lim := r.limits(req)
	m := &protocol.Rerun{RerunID: r.nextID.Add(1), JobID: ev.Job.ID, TaskID: ev.Task.ID, ModuleHash: ev.Job.ModuleHash, Stdin: stdin,
		Args: ev.Task.Args, Env: ev.Task.Env, Seed: ev.Task.Seed, Grid: ev.Grid, Seq: req.Seq, Final: req.Final, Trace: req.Trace,
		Limits: protocol.Limits{Fuel: lim.Fuel, MemoryBytes: lim.MemoryBytes, MaxOutput: uint64(lim.MaxOutput), TimeoutMS: lim.Timeout.Milliseconds()}}
	for _, f := range files {
		m.Files = append(m.Files, protocol.File{Name: f.Name, Data: f.Data})
	}
	p := &pendingRerun{done: make(chan *protocol.RerunResult, 1)}
	if f := req.From; f != nil {
		m.From = &protocol.Resume{Seq: f.Seq, Fuel: f.Fuel, StateHash: f.StateHash, Snapshot: f.SnapshotHash}
		p.snapshot = f.SnapshotHash
	}
	cn.mu.Lock()
	if cn.reruns == nil {
		cn.reruns = map[uint64]*pendingRerun{}
	}
	cn.reruns[m.RerunID] = p
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		delete(cn.reruns, m.RerunID)
		cn.mu.Unlock()
	}()
	r.c.cfg.Logger.Info("asking a trusted worker to re-run a link", "task", ev.Task.ID, "seq", req.Seq, "final", req.Final, "trace", req.Trace,
		"session", cn.session.ID, "worker", cn.session.Worker, "rerun", m.RerunID)
	cn.send(m)
	timer := time.NewTimer(r.c.cfg.TrustedTimeout)
	defer timer.Stop()
	var a *protocol.RerunResult
	select {
	case a = <-p.done:
	case <-cn.ctx.Done():
		return nil, fmt.Errorf("the trusted session ended: %w", context.Cause(cn.ctx))
	case <-timer.C:
		return nil, fmt.Errorf("no answer within %v", r.c.cfg.TrustedTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.Error != "" {
		return nil, fmt.Errorf("the trusted worker could not re-run it: %s", a.Error)
	}
	if err := checkAnswer(req, a); err != nil {
		return nil, fmt.Errorf("malformed answer: %w", err)
	}
	out := &rerun.Outcome{Seq: a.Seq, Fuel: a.Fuel, StateHash: a.StateHash, Stdout: a.Stdout, Stderr: a.Stderr, FuelUsed: a.FuelUsed}
	if a.Missed {
		return &rerun.Outcome{FuelUsed: a.FuelUsed}, fmt.Errorf("%w (on a trusted worker)", rerun.ErrEnded)
	}
	if req.Final {
		out.Report = sandbox.Report{Status: sandbox.Status(a.Status), ExitCode: a.ExitCode, Message: a.Message, Fuel: a.Fuel}
		var o, e uint64
		for _, p := range a.Trace {
			out.Trace = append(out.Trace, rerun.TracePoint{Seq: p.Seq, Fuel: p.Fuel, StateHash: p.StateHash,
				Stdout: a.Stdout[o : o+p.StdoutLen], Stderr: a.Stderr[e : e+p.StderrLen]})
			o, e = o+p.StdoutLen, e+p.StderrLen
		}
	}
	return out, nil
}

// checkAnswer checks that a trusted worker's answer is one to req
// (protocol.Decode already checked its shape: trace seqs increasing, output
// chunks within the output).
func checkAnswer(req *verify.RerunRequest, a *protocol.RerunResult) error {
	ev := req.Evidence
	var from uint64 // the start's seq and fuel
	var fromFuel uint64
	if req.From != nil {
		from, fromFuel = req.From.Seq, req.From.Fuel
	}
	if n := uint64(len(a.Stdout)) + uint64(len(a.Stderr)); n > ev.Job.Limits.MaxOutput {
		return fmt.Errorf("output of %d bytes exceeds the job's limit of %d", n, ev.Job.Limits.MaxOutput)
	}
	if !req.Final {
		switch {
		case len(a.Trace) > 0 || a.Status != "":
			return errors.New("a trace or a verdict for a link that is not final")
		case a.Missed:
			return nil
		case a.Seq != req.Seq || a.StateHash == "" || a.Fuel == 0 || (a.Fuel-1)/ev.Grid != req.Seq:
			return fmt.Errorf("checkpoint %d at fuel %d (state %q) is not checkpoint %d on the grid %d", a.Seq, a.Fuel, a.StateHash, req.Seq, ev.Grid)
		}
		return nil
	}
	switch {
	case a.Missed:
		return errors.New("a final link cannot miss its end")
	case a.Status == "":
		return errors.New("a final link needs a verdict")
	case a.Fuel < fromFuel:
		return fmt.Errorf("final fuel %d below the start's %d", a.Fuel, fromFuel)
	case len(a.Trace) > 0 && !req.Trace:
		return errors.New("a trace that was not asked for")
	}
	for _, p := range a.Trace {
		if p.Seq <= from || (p.Fuel-1)/ev.Grid != p.Seq || p.Fuel > a.Fuel {
			return fmt.Errorf("trace point %d at fuel %d is not a grid point after checkpoint %d within the run", p.Seq, p.Fuel, from)
		}
	}
	return nil
}

// local re-runs the link in-process.
func (r *reruns) local(ctx context.Context, req *verify.RerunRequest) (*rerun.Outcome, error) {
	c, ev := r.c, req.Evidence
	bin, err := c.store.BlobGet(ctx, ev.Job.ModuleHash)
	if err != nil {
		return nil, fmt.Errorf("loading the module: %w", err)
	}
	mod, err := c.engine.CompileInstrumented(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compiling the module: %w", err)
	}
	stdin, files, err := r.inputs(ctx, ev)
	if err != nil {
		return nil, err
	}
	l := rerun.Link{Module: mod, Args: ev.Task.Args, Env: ev.Task.Env, Stdin: stdin, Files: files, Seed: ev.Task.Seed, Grid: ev.Grid,
		Seq: req.Seq, Final: req.Final, Trace: req.Trace, Limits: r.limits(req)}
	if req.From != nil {
		b, err := c.store.BlobGet(ctx, req.From.SnapshotHash)
		if err != nil {
			return nil, fmt.Errorf("loading checkpoint %d: %w", req.From.Seq, err)
		}
		snap, _, err := snapshotLimits(ev.Job.Limits.MemoryBytes).Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("decoding checkpoint %d: %w", req.From.Seq, err)
		}
		l.From = snap
	}
	return rerun.Run(ctx, c.engine, l)
}

// result turns a re-run's outcome, wherever it ran, into what the
// verifier compares: the same hashes either way.
func (r *reruns) result(ctx context.Context, req *verify.RerunRequest, out *rerun.Outcome, err error) (*verify.RerunResult, error) {
	switch {
	case err == nil:
	case errors.Is(err, rerun.ErrEnded) || errors.Is(err, rerun.ErrSkipped):
		// The honest run does not reach the checkpoint claimed: no state
		// hash matches it.
		if out == nil {
			return nil, err
		}
		if req.Final {
			break
		}
		return &verify.RerunResult{Fuel: out.FuelUsed}, nil
	default:
		return nil, err
	}
	res := &verify.RerunResult{Fuel: out.FuelUsed}
	for _, p := range out.Trace {
		res.Trace = append(res.Trace, verify.TracePoint{Seq: p.Seq, StateHash: p.StateHash, StdoutHash: store.Hash(p.Stdout), StderrHash: store.Hash(p.Stderr)})
	}
	if !req.Final {
		res.StateHash, res.StdoutHash, res.StderrHash = out.StateHash, store.Hash(out.Stdout), store.Hash(out.Stderr)
		return res, nil
	}
	// The final link's result covers the whole run's output: the chain's
	// up to the start checkpoint, then the link's.
	var stdout, stderr []byte
	for _, ck := range req.Chain {
		o, err := r.c.store.BlobGet(ctx, ck.StdoutHash)
		if err != nil {
			return nil, err
		}
		e, err := r.c.store.BlobGet(ctx, ck.StderrHash)
		if err != nil {
			return nil, err
		}
		stdout, stderr = append(stdout, o...), append(stderr, e...)
	}
	stdout, stderr = append(stdout, out.Stdout...), append(stderr, out.Stderr...)
	res.Result = &store.Result{Status: string(out.Report.Status), ExitCode: out.Report.ExitCode, Message: out.Report.Message,
		StdoutHash: store.Hash(stdout), StderrHash: store.Hash(stderr), Fuel: out.Fuel}
	return res, nil
}
