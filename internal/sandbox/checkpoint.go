package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/prepare"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/suspend"
)

// Checkpoint is one suspension of a run at its checkpoint grid.
type Checkpoint struct {
	// Seq is the grid point just passed: the largest k with
	// Snapshot.Fuel > k·interval, (Fuel−1)/interval. The same on every
	// engine.
	Seq uint64
	// Snapshot is the continuation; its Fuel is the fuel used since the very
	// start. Its pages alias guest memory (valid during OnCheckpoint only).
	Snapshot *snapshot.Snapshot
	// Digest holds its page hashes and state hash.
	Digest *snapshot.Digest
	// Capture is the time from asking the guest to unwind to the digest.
	Capture time.Duration
}

var (
	errCheckpoint          = errors.New("checkpoint")
	errMemoryLimitOnResume = errors.New("memory limit")
)

// Prepare turns a submitted module into what runs: it checks bin against the
// host interface and instruments it with opts and, if suspendable is set,
// makes it suspendable (internal/prepare). A module the suspend rewrite
// cannot handle (a start function, reference-typed locals, v128 or imported
// globals) is returned instrumented only, with ok false. A module that
// already carries crowdrun's names is refused like any other invalid module:
// nothing a module says about itself is trusted (docs/fuel.md). A refused
// module yields an *Error.
func Prepare(bin []byte, opts instrument.Options, suspendable bool) (out []byte, ok bool, err error) {
	// The one implementation, shared with the JavaScript host (which runs
	// internal/prepare compiled to wasm), so both refuse alike.
	out, ok, err = prepare.Submitted(bin, opts, suspendable)
	if err != nil {
		return nil, false, sandboxError(err)
	}
	return out, ok, nil
}

// sandboxError is a refusal of internal/prepare as a sandbox *Error.
func sandboxError(err error) error {
	var pe *prepare.Error
	if errors.As(err, &pe) {
		return &Error{Status(pe.Status), pe.Message}
	}
	return instrumentError(err)
}

// runner drives one instance through _start, its checkpoints and rewinds.
type runner struct {
	e           *Engine
	m           *Module
	mod         api.Module
	lite        bool // mod is an instance of m.lite: it cannot rewind
	full        bool // the runner acquired m itself (after leaving the lite variant)
	met         *meter
	st          interface{ MarshalHost() []byte }
	in          Input
	tracker     snapshot.Tracker
	checkpoints int
	handoffs    int // moves from the lite instance to the full module
}

// bind points the meter at r.mod's fuel counter and, for a suspendable
// module, its suspend state.
func (r *runner) bind() error {
	if r.m.suspendable {
		g, ok := r.mod.ExportedGlobal(suspend.StateExport).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("suspendable module without a mutable %s", suspend.StateExport)
		}
		r.met.state = g
	}
	r.met.global = nil // a new instance: bind again
	return r.met.bind(r.mod)
}

func (r *runner) run(ctx context.Context) error {
	met := r.met
	if err := r.bind(); err != nil {
		return err
	}
	if r.in.Resume != nil {
		if err := r.restore(r.in.Resume); err != nil {
			return err
		}
	} else {
		met.closeSlice()
		met.begin()
		met.openSlice()
	}
	start := r.mod.ExportedFunction("_start")
	for {
		if _, err := start.Call(ctx); err != nil {
			return err
		}
		if met.state == nil || met.state.Get() == suspend.StateNormal {
			return nil
		}
		if met.state.Get() != suspend.StateUnwinding || !met.pending {
			return fmt.Errorf("%w: _start returned in suspend state %d", errBadSnapshot, met.state.Get())
		}
		frames := met.host.Frames()
		s, err := r.checkpoint(frames)
		if err != nil {
			return err
		}
		if r.lite {
			// The lite variant cannot rewind: go on in an instance of the
			// full module, restored from the state just captured, exactly
			// as a resume from this checkpoint would.
			if err := r.leaveLite(ctx, s); err != nil {
				return err
			}
			start = r.mod.ExportedFunction("_start")
			continue
		}
		// Go on in this instance: the state is what a fresh one would restore.
		met.pending = false
		met.begin()
		met.openSlice()
		met.host.StartRewind(frames)
		met.state.Set(suspend.StateRewinding)
	}
}

// capture is the canonical state of the suspended guest.
func (r *runner) capture(frames []suspend.Frame) (*snapshot.Snapshot, error) {
	s := &snapshot.Snapshot{ModuleHash: r.m.Hash, Fuel: r.met.used(), Frames: suspend.MarshalFrames(frames), Host: r.st.MarshalHost()}
	if mem := r.mod.Memory(); mem != nil {
		buf, _ := mem.Read(0, mem.Size())
		pages, err := snapshot.PagesOf(buf)
		if err != nil {
			return nil, err
		}
		s.Pages = pages
	}
	s.Globals = make([]snapshot.Global, r.m.globals)
	for i := range s.Globals {
		g := r.mod.ExportedGlobal(suspend.GlobalPrefix + strconv.Itoa(i))
		if g == nil {
			return nil, fmt.Errorf("suspendable module does not export global %d", i)
		}
		v := g.Get()
		if t := g.Type(); t == api.ValueTypeI32 || t == api.ValueTypeF32 {
			v &= 0xFFFF_FFFF
		}
		s.Globals[i] = snapshot.Global{Type: byte(g.Type()), Lo: v}
	}
	return s, nil
}

func (r *runner) checkpoint(frames []suspend.Frame) (*snapshot.Snapshot, error) {
	s, err := r.capture(frames)
	if err != nil {
		return nil, err
	}
	d, err := r.tracker.Hash(s)
	if err != nil {
		return nil, err
	}
	r.checkpoints++
	if r.in.OnCheckpoint == nil {
		return s, nil
	}
	cp := &Checkpoint{Seq: (s.Fuel - 1) / r.met.every, Snapshot: s, Digest: d, Capture: time.Since(r.met.asked)}
	if err := r.in.OnCheckpoint(cp); err != nil {
		return nil, fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	return s, nil
}

// leaveLite moves the run from its lite instance to a fresh instance of
// the full module (waiting for its compile if need be) restored from s,
// the state the lite instance was just captured in, and prepares the
// rewind there. The host state (files, output, clock) goes on as it is.
func (r *runner) leaveLite(ctx context.Context, s *snapshot.Snapshot) error {
	rt, compiled, err := r.e.acquire(ctx, r.m)
	if err != nil {
		if ctx.Err() != nil {
			return errCancelled
		}
		return fmt.Errorf("%w: %w", errHost, err)
	}
	r.full = true
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return err
	}
	// s's pages are views of the lite instance's memory: it closes once
	// they are copied.
	lite := r.mod
	defer lite.Close(context.WithoutCancel(ctx))
	r.mod, r.lite = mod, false
	r.handoffs++
	r.met.pending = false
	if err := r.bind(); err != nil {
		return err
	}
	return r.restore(s)
}

// restore puts a fresh instance in the state s describes and prepares the
// rewind. Nothing of s is trusted: every size and type is checked.
func (r *runner) restore(s *snapshot.Snapshot) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadSnapshot, fmt.Sprintf(format, args...))
	}
	if s.ModuleHash != r.m.Hash {
		return bad("it belongs to module %x, not %x", s.ModuleHash[:8], r.m.Hash[:8])
	}
	frames, err := suspend.UnmarshalFrames(s.Frames)
	if err != nil {
		return bad("%v", err)
	}
	if len(frames) == 0 {
		return bad("no frames")
	}
	mem := r.mod.Memory()
	if mem == nil {
		if len(s.Pages) != 0 {
			return bad("memory for a module without memory")
		}
	} else {
		size := mem.Size()
		have := size / wasmPage
		want := uint32(len(s.Pages))
		if want < have {
			return bad("memory of %d pages, below the module's minimum of %d", want, have)
		}
		if want > have {
			if _, ok := mem.Grow(want - have); !ok {
				return fmt.Errorf("%w: the snapshot's memory (%d pages) is above the limit", errMemoryLimitOnResume, want)
			}
		}
		buf, ok := mem.Read(0, mem.Size())
		if !ok || uint64(len(buf)) != uint64(want)*wasmPage {
			return bad("cannot map the memory")
		}
		// What the memory grew by is fresh from the allocator: zero.
		if err := s.CopyMemoryZeroed(buf, int(size)); err != nil {
			return bad("%v", err)
		}
	}
	if len(s.Globals) != r.m.globals {
		return bad("%d globals, the module has %d", len(s.Globals), r.m.globals)
	}
	for i, sg := range s.Globals {
		g := r.mod.ExportedGlobal(suspend.GlobalPrefix + strconv.Itoa(i))
		if g == nil || byte(g.Type()) != sg.Type || sg.Hi != 0 {
			return bad("global %d has the wrong type", i)
		}
		if mg, ok := g.(api.MutableGlobal); ok {
			mg.Set(sg.Lo)
			continue
		}
		v := g.Get()
		if sg.Type == snapshot.I32 || sg.Type == snapshot.F32 {
			v &= 0xFFFF_FFFF
		}
		if v != sg.Lo {
			return bad("immutable global %d differs from the module's", i)
		}
	}
	if r.met.state.Get() != suspend.StateUnwinding {
		return bad("suspend state %d, want %d", r.met.state.Get(), suspend.StateUnwinding)
	}
	if r.met.global.Get() != 0 {
		return bad("fuel counter %d, want 0", int64(r.met.global.Get()))
	}
	r.met.base, r.met.s = s.Fuel, 0
	r.met.begin()
	r.met.openSlice()
	r.met.host.StartRewind(frames)
	r.met.state.Set(suspend.StateRewinding)
	return nil
}
