package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crowdrun/crowdrun/internal/rerun"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/verify"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// reruns is the coordinator's trusted ground: a disputed link re-executed
// in-process, from the coordinator's own prepared module and its own
// verified copy of the start snapshot.
type reruns struct{ c *Coordinator }

func (r *reruns) run(ctx context.Context, req *verify.RerunRequest) (*verify.RerunResult, error) {
	c, ev := r.c, req.Evidence
	if ev.Grid == 0 && !req.Final {
		return nil, errors.New("the task has no checkpoint grid")
	}
	bin, err := c.store.BlobGet(ctx, ev.Job.ModuleHash)
	if err != nil {
		return nil, fmt.Errorf("loading the module: %w", err)
	}
	mod, err := c.engine.CompileInstrumented(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compiling the module: %w", err)
	}
	stdin, err := c.store.BlobGet(ctx, ev.Task.StdinHash)
	if err != nil {
		return nil, fmt.Errorf("loading stdin: %w", err)
	}
	l := rerun.Link{Module: mod, Args: ev.Task.Args, Env: ev.Task.Env, Stdin: stdin, Seed: ev.Task.Seed, Grid: ev.Grid, Seq: req.Seq, Final: req.Final, Trace: req.Trace,
		Limits: sandbox.Limits{MemoryBytes: ev.Job.Limits.MemoryBytes, MaxOutput: int64(ev.Job.Limits.MaxOutput),
			Timeout: time.Duration(ev.Job.Limits.TimeoutMS) * time.Millisecond, Fuel: ev.Job.Limits.Fuel}}
	if l.Limits.Fuel == 0 && req.Final {
		l.Limits.Fuel = c.cfg.TrustedFuel
	}
	for _, f := range ev.Task.Files {
		data, err := c.store.BlobGet(ctx, f.Hash)
		if err != nil {
			return nil, fmt.Errorf("loading file %s: %w", f.Name, err)
		}
		l.Files = append(l.Files, wasi.File{Name: f.Name, Data: data})
	}
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
	out, err := rerun.Run(ctx, c.engine, l)
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
		o, err := c.store.BlobGet(ctx, ck.StdoutHash)
		if err != nil {
			return nil, err
		}
		e, err := c.store.BlobGet(ctx, ck.StderrHash)
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
