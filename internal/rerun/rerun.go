// Package rerun is the coordinator's trusted ground (docs/trust.md,
// "Dispute"): it re-executes exactly one link of a replica's chain
// in-process — from the snapshot of one checkpoint to the next checkpoint,
// or from the last checkpoint to the end of the run — and says what the
// honest answer is: the end state hash and fuel, the output of the link, and
// for the final link how the run ended.
//
// Nothing here trusts a worker: the start snapshot is whatever the caller
// verified it to be (its hash checked against the chain), the module is the
// coordinator's own prepared bytes, and the cost of a re-run is bounded by
// the grid, not by anything claimed.
package rerun

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// Argv0 is the program name every task sees as argv[0] (the worker's).
const Argv0 = "main.wasm"

var (
	// ErrEnded: the run ended before reaching the link's end checkpoint.
	// The Outcome returned with it says how (Report, output, fuel): that is
	// the honest continuation of the link's start state.
	ErrEnded = errors.New("rerun: the run ended before the checkpoint")
	// ErrSkipped: the run passed the link's grid point without a checkpoint
	// there (its first checkpoint after the start was a later one, or it
	// used more than a grid's worth of fuel beyond the grid point). The
	// Outcome returned with it holds the checkpoint it did reach, if any.
	ErrSkipped = errors.New("rerun: the run passed the grid point without the expected checkpoint")
	// ErrLink: the link itself is malformed (no module, no grid, a start
	// snapshot at or past the end checkpoint, ...).
	ErrLink = errors.New("rerun: invalid link")
)

// Link is one link of a replica's chain to re-execute.
type Link struct {
	// Module is the task's suspendable module, compiled from the
	// coordinator's prepared bytes (sandbox.Engine.CompileInstrumented).
	Module *sandbox.Module
	// Args are argv[1:] (argv[0] is Argv0), as in a lease.
	Args, Env []string
	Stdin     []byte
	Files     []wasi.File
	Seed      uint64
	// Limits are the job's. Fuel and CheckpointEvery are set here: a
	// non-final link runs at most up to one grid point past its end
	// checkpoint's; a final link within the job's fuel limit.
	Limits sandbox.Limits
	// Grid is the task's checkpoint grid in fuel.
	Grid uint64
	// From is the snapshot the link starts from: nil for the start of the
	// run; else the checkpoint before Seq in the chain (normally Seq−1).
	// It is read, never changed.
	From *snapshot.Snapshot
	// Seq is the link's end checkpoint: the run stops right after it is
	// captured. Ignored for a final link.
	Seq uint64
	// Final: run to the end instead (the link from the last checkpoint to
	// the result).
	Final bool
	// Keep: return the end checkpoint's snapshot (a copy) in the Outcome,
	// for a chain that continues from the trusted state.
	Keep bool
	// Trace, with Final: record every checkpoint the run passes on the
	// grid (Outcome.Trace) instead of checking one link: the whole rest of
	// a chain confirmed by one run.
	Trace bool
}

// TracePoint is one checkpoint a traced run passed: its seq, fuel and
// state hash, and the output since the previous traced point (or From).
type TracePoint struct {
	Seq, Fuel      uint64
	StateHash      string
	Stdout, Stderr []byte
}

// Outcome is what the trusted re-run of a link gave.
type Outcome struct {
	// Seq and Fuel are the end checkpoint's (for a final link: Seq is the
	// last grid point the run passed, (Fuel−1)/Grid, and Fuel the run's
	// total).
	Seq, Fuel uint64
	// StateHash is the hex state hash at checkpoint Seq ("" for a final
	// link).
	StateHash string
	// Stdout and Stderr are the output produced during this link only.
	Stdout, Stderr []byte
	// Report says how the run ended, for a final link (and with ErrEnded).
	// For a link stopped at its checkpoint it is zero.
	Report sandbox.Report
	// FuelUsed is what the re-run cost: the fuel executed from From.
	FuelUsed uint64
	// Snapshot and Digest are the end checkpoint's, with Link.Keep (pages
	// copied: they do not alias guest memory).
	Snapshot *snapshot.Snapshot
	Digest   *snapshot.Digest
	// Trace is every checkpoint a Link.Trace run passed, in order.
	Trace []TracePoint
}

// errStop ends a run right after its end checkpoint.
var errStop = errors.New("rerun: end checkpoint reached")

// Run re-executes l on eng. It returns ErrLink (wrapped) for a malformed
// link, ErrEnded or ErrSkipped with the Outcome of what did happen, or any
// other error when the run could not be carried out (a start snapshot the
// sandbox refuses, the context ended, a wall-clock timeout): then nothing
// is known about the link.
func Run(ctx context.Context, eng *sandbox.Engine, l Link) (*Outcome, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	var start uint64 // fuel at From
	if l.From != nil {
		start = l.From.Fuel
	}
	var stdout, stderr bytes.Buffer
	in := sandbox.Input{Args: append([]string{Argv0}, l.Args...), Env: l.Env, Stdin: bytes.NewReader(l.Stdin),
		Stdout: &stdout, Stderr: &stderr, Files: l.Files, Seed: l.Seed, Resume: l.From}
	lim := l.Limits
	lim.CheckpointEvery = 0

	out := &Outcome{}
	var reached, skipped bool
	if l.Final && l.Trace {
		lim.CheckpointEvery = l.Grid
		var outAt, errAt int
		in.OnCheckpoint = func(cp *sandbox.Checkpoint) error {
			o, e := stdout.Bytes(), stderr.Bytes()
			out.Trace = append(out.Trace, TracePoint{Seq: cp.Seq, Fuel: cp.Snapshot.Fuel, StateHash: hex.EncodeToString(cp.Digest.State[:]),
				Stdout: bytes.Clone(o[outAt:]), Stderr: bytes.Clone(e[errAt:])})
			outAt, errAt = len(o), len(e)
			return nil
		}
	}
	if !l.Final {
		// Checkpoint Seq is taken at the first fuel check past Seq·Grid;
		// if that check comes after (Seq+1)·Grid it is not checkpoint Seq
		// at all. So a budget of (Seq+1)·Grid (below the job's, if lower)
		// bounds the cost to about two grid intervals from From.
		budget := uint64(math.MaxUint64)
		if l.Seq < math.MaxUint64/l.Grid-1 {
			budget = (l.Seq + 1) * l.Grid
		}
		if lim.Fuel == 0 || budget < lim.Fuel {
			lim.Fuel = budget
		}
		lim.CheckpointEvery = l.Grid
		in.OnCheckpoint = func(cp *sandbox.Checkpoint) error {
			out.Seq, out.Fuel = cp.Seq, cp.Snapshot.Fuel
			out.StateHash = hex.EncodeToString(cp.Digest.State[:])
			out.Stdout, out.Stderr = bytes.Clone(stdout.Bytes()), bytes.Clone(stderr.Bytes())
			if cp.Seq != l.Seq {
				skipped = true
				return errStop
			}
			reached = true
			if l.Keep {
				out.Snapshot, out.Digest = copySnapshot(cp.Snapshot), cp.Digest
			}
			return errStop
		}
	}
	rep := eng.Run(ctx, l.Module, in, lim)
	if rep.HostError != nil {
		return out, rep.HostError
	}
	if rep.Fuel >= start {
		out.FuelUsed = rep.Fuel - start
	}
	switch {
	case reached:
		return out, nil
	case skipped:
		return out, fmt.Errorf("%w: wanted checkpoint %d, the first after fuel %d was %d (fuel %d)", ErrSkipped, l.Seq, start, out.Seq, out.Fuel)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rerun: %w", err)
	}
	switch rep.Status {
	case sandbox.StatusInvalidSnapshot:
		return nil, fmt.Errorf("rerun: the start snapshot was refused: %s", rep.Message)
	case sandbox.StatusTimeout:
		// Wall clock: a property of this machine, not of the link.
		return nil, fmt.Errorf("rerun: %s", rep.Message)
	}
	out.Report, out.Fuel = rep, rep.Fuel
	out.Stdout, out.Stderr = stdout.Bytes(), stderr.Bytes()
	if l.Final {
		if rep.Fuel > 0 {
			out.Seq = (rep.Fuel - 1) / l.Grid
		}
		return out, nil
	}
	if rep.Status == sandbox.StatusFuelExhausted && (l.Limits.Fuel == 0 || lim.Fuel < l.Limits.Fuel) {
		// Our budget, not the job's, stopped it: a whole grid interval past
		// Seq·Grid without a fuel check, so checkpoint Seq does not exist.
		out.Report = sandbox.Report{}
		return out, fmt.Errorf("%w: wanted checkpoint %d, no fuel check between fuel %d and %d", ErrSkipped, l.Seq, l.Seq*l.Grid, lim.Fuel)
	}
	return out, fmt.Errorf("%w: wanted checkpoint %d, the run ended (%s) at fuel %d", ErrEnded, l.Seq, rep.Status, rep.Fuel)
}

func (l *Link) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrLink, fmt.Sprintf(format, args...))
	}
	switch {
	case l.Module == nil:
		return bad("no module")
	case !l.Module.Suspendable():
		return bad("the module is not suspendable")
	case l.Grid == 0:
		return bad("no checkpoint grid")
	}
	if l.From != nil {
		if l.From.ModuleHash != l.Module.Hash {
			return bad("the start snapshot belongs to module %x, not %x", l.From.ModuleHash[:8], l.Module.Hash[:8])
		}
		if l.From.Fuel == 0 {
			return bad("a start snapshot at fuel 0")
		}
		if l.Limits.Fuel != 0 && l.From.Fuel > l.Limits.Fuel {
			return bad("the start snapshot (fuel %d) is past the job's fuel limit %d", l.From.Fuel, l.Limits.Fuel)
		}
	}
	if l.Final {
		return nil
	}
	if l.Trace {
		return bad("a trace runs to the end (Final)")
	}
	if l.Seq == 0 {
		return bad("checkpoint 0 is the start, not the end of a link")
	}
	if l.From != nil {
		if from := (l.From.Fuel - 1) / l.Grid; from >= l.Seq {
			return bad("the start snapshot is checkpoint %d (fuel %d), not before %d", from, l.From.Fuel, l.Seq)
		}
	}
	return nil
}

// copySnapshot copies s so that it outlives the guest memory its pages
// alias.
func copySnapshot(s *snapshot.Snapshot) *snapshot.Snapshot {
	c := *s
	c.Pages = make([][]byte, len(s.Pages))
	for i, p := range s.Pages {
		if p != nil {
			c.Pages[i] = bytes.Clone(p)
		}
	}
	c.Globals = append([]snapshot.Global(nil), s.Globals...)
	c.Frames = bytes.Clone(s.Frames)
	c.Host = bytes.Clone(s.Host)
	return &c
}
