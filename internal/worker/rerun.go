package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/rerun"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// RerunTamper is an optional extension of Tamper, for tests of trusted
// ground only: it is called before a trusted worker re-runs a link, and an
// error makes the worker answer that the re-run failed. It may block (until
// ctx ends) to play a worker that never answers.
type RerunTamper interface {
	Rerun(ctx context.Context, m *protocol.Rerun) error
}

// rerun re-executes one link for the coordinator (a session whose token is
// of kind trusted is asked to; docs/trust.md §2): the module by hash, the
// start snapshot with the session's token, like a resumed lease's, and the
// link run by internal/rerun exactly as the coordinator would run it.
func (w *Worker) rerun(ctx context.Context, s *sess, m *protocol.Rerun) *protocol.RerunResult {
	res := &protocol.RerunResult{RerunID: m.RerunID}
	fail := func(err error) *protocol.RerunResult {
		return &protocol.RerunResult{RerunID: m.RerunID, Error: clip(err.Error(), 4000)}
	}
	if t, ok := w.cfg.Tamper.(RerunTamper); ok {
		if err := t.Rerun(ctx, m); err != nil {
			return fail(err)
		}
	}
	mod, err := w.module(ctx, m.ModuleHash)
	if err != nil {
		return fail(fmt.Errorf("the module: %w", err))
	}
	l := rerun.Link{Module: mod, Args: m.Args, Env: m.Env, Stdin: m.Stdin, Seed: m.Seed, Grid: m.Grid, Seq: m.Seq, Final: m.Final, Trace: m.Trace,
		Limits: sandbox.Limits{MemoryBytes: m.Limits.MemoryBytes, MaxOutput: int64(m.Limits.MaxOutput),
			Timeout: time.Duration(m.Limits.TimeoutMS) * time.Millisecond, Fuel: m.Limits.Fuel}}
	for _, f := range m.Files {
		l.Files = append(l.Files, wasi.File{Name: f.Name, Data: f.Data})
	}
	if m.From != nil {
		snap, _, err := w.snapshot(ctx, s, &protocol.Lease{Resume: m.From, Limits: m.Limits})
		if err != nil {
			return fail(err)
		}
		l.From = snap
	}
	if m.Trace {
		w.Stats.RerunTraces.Add(1)
	} else {
		w.Stats.Reruns.Add(1)
	}
	out, err := rerun.Run(ctx, w.eng, l)
	switch {
	case err == nil:
	case out != nil && (errors.Is(err, rerun.ErrEnded) || errors.Is(err, rerun.ErrSkipped)) && !m.Final:
		// No state at checkpoint Seq: whoever claims one lies.
		res.Missed, res.FuelUsed = true, out.FuelUsed
		return res
	default:
		return fail(err)
	}
	res.Seq, res.Fuel, res.StateHash, res.FuelUsed = out.Seq, out.Fuel, out.StateHash, out.FuelUsed
	res.Stdout, res.Stderr = out.Stdout, out.Stderr
	if res.Stdout == nil {
		res.Stdout = []byte{}
	}
	if res.Stderr == nil {
		res.Stderr = []byte{}
	}
	if m.Final {
		res.Status, res.ExitCode, res.Message = string(out.Report.Status), out.Report.ExitCode, clip(out.Report.Message, 4000)
		if len(out.Trace) > protocol.MaxTrace {
			return fail(fmt.Errorf("a trace of %d points is more than a message carries (%d)", len(out.Trace), protocol.MaxTrace))
		}
		for _, p := range out.Trace {
			res.Trace = append(res.Trace, protocol.TracePoint{Seq: p.Seq, Fuel: p.Fuel, StateHash: p.StateHash,
				StdoutLen: uint64(len(p.Stdout)), StderrLen: uint64(len(p.Stderr))})
		}
	}
	return res
}
