package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
)

// trapStackOverflow is crowdrun.trap's code for the call-depth limit
// (docs/fuel.md).
const trapStackOverflow = 1

// DefaultSlice is how much fuel the host hands out at a time: small enough
// that a wall-clock timeout is noticed within milliseconds, large enough that
// the host call is rare.
const DefaultSlice = 10_000_000

var (
	errFuelExhausted = errors.New("fuel exhausted")
	errStackOverflow = errors.New("call depth limit exceeded")
	errTimeout       = errors.New("wall-clock timeout")
	errCancelled     = errors.New("run cancelled")
	errBadSnapshot   = errors.New("invalid snapshot")
	// errHost: the host failed mid-run (compiling the full module to
	// leave the lite variant): no verdict on the guest.
	errHost = errors.New("host")
)

// meter follows one run's fuel: slices handed out, the budget, the deadline.
type meter struct {
	ctx      context.Context
	budget   uint64 // 0: unlimited
	slice    uint64
	deadline time.Time // zero: none

	global api.MutableGlobal
	base   uint64 // fuel used before the current slice
	s      uint64 // size of the current slice

	// Checkpoints (docs/continuations.md, "Checkpoints"): with every > 0 and
	// a suspendable module (state non-nil), the guest is asked to unwind at
	// the first check where the fuel used exceeds next·every.
	every   uint64
	next    uint64
	running bool              // _start has begun: checkpoints allowed
	state   api.MutableGlobal // crowdrun.suspend_state, nil if not suspendable
	host    *suspend.Host
	pending bool      // the guest is unwinding for a checkpoint
	asked   time.Time // when it was asked to
}

// gridPoint is the fuel the next checkpoint waits for, saturating.
func (m *meter) gridPoint() uint64 {
	if m.next > math.MaxUint64/m.every {
		return math.MaxUint64
	}
	return m.next * m.every
}

func (m *meter) checkpointing() bool { return m.every > 0 && m.running && m.state != nil }

// begin marks the start of _start (or of a resumed run): from here on,
// checkpoints are taken, the first at the first grid point the fuel used
// has not exceeded yet.
func (m *meter) begin() {
	m.running = true
	if m.every > 0 {
		// The first grid point not exceeded yet.
		m.next = max(1, m.base/m.every)
		if m.base%m.every != 0 {
			m.next = m.base/m.every + 1
		}
	}
}

// bind attaches the meter to the module's fuel counter. The counter starts
// at 0, so before the first slice (as during a start function) it holds minus
// what was used: that is a slice of size 0.
func (m *meter) bind(mod api.Module) error {
	if m.global != nil {
		return nil
	}
	g, ok := mod.ExportedGlobal(instrument.FuelExport).(api.MutableGlobal)
	if !ok {
		return fmt.Errorf("instrumented module does not export a mutable global %q", instrument.FuelExport)
	}
	m.global, m.s = g, 0
	return nil
}

// start hands out the first slice once the module is instantiated.
func (m *meter) start(mod api.Module) error {
	if err := m.bind(mod); err != nil {
		return err
	}
	m.closeSlice()
	m.begin()
	m.openSlice()
	return nil
}

// used is the fuel consumed so far.
func (m *meter) used() uint64 {
	if m.global == nil {
		return m.base
	}
	return m.base + m.s - m.global.Get() // wraps correctly for a negative counter
}

// refill closes the current slice, stopping the run beyond the budget, and
// hands out the next one.
func (m *meter) refill() {
	m.closeSlice()
	m.openSlice()
}

func (m *meter) closeSlice() {
	m.base = m.used()
	m.s = 0
	m.global.Set(0)
	if m.budget > 0 && m.base > m.budget {
		panic(errFuelExhausted)
	}
}

func (m *meter) openSlice() {
	s := m.slice
	if m.budget > 0 {
		s = min(s, m.budget-m.base)
	}
	if m.checkpointing() {
		// A slice never ends beyond the next grid point, so the checkpoint
		// is the same check whatever other slices there were.
		if g := m.gridPoint(); g > m.base {
			s = min(s, g-m.base)
		} else {
			s = 0
		}
	}
	m.s = s
	m.global.Set(s)
}

// outOfFuel is crowdrun.out_of_fuel: called by mod when its counter went
// negative at a check. Exhaustion, deterministic, wins over the wall clock.
func (m *meter) outOfFuel(mod api.Module) {
	if err := m.bind(mod); err != nil {
		panic(err)
	}
	if m.state != nil {
		switch m.state.Get() {
		case suspend.StateRewinding:
			// The rewind arrived where the guest suspended: its fuel was
			// accounted for then.
			if err := m.host.RewindDone(); err != nil {
				panic(fmt.Errorf("%w: %w", errBadSnapshot, err))
			}
			m.state.Set(suspend.StateNormal)
			return
		case suspend.StateNormal:
		default:
			panic(fmt.Errorf("%w: out_of_fuel called while unwinding", errBadSnapshot))
		}
	}
	m.closeSlice()
	if !m.deadline.IsZero() && !time.Now().Before(m.deadline) {
		panic(errTimeout)
	}
	if m.ctx.Err() != nil {
		panic(errCancelled)
	}
	if m.checkpointing() && m.base > m.gridPoint() {
		// Unwind to the host; the counter stays 0 (the canonical state).
		m.state.Set(suspend.StateUnwinding)
		m.pending = true
		m.asked = time.Now()
		return
	}
	m.openSlice()
}

type trapError struct{ code uint32 }

func (e *trapError) Error() string { return fmt.Sprintf("crowdrun trap %d", e.code) }

type meterKey struct{}

// installMeterHost adds the "crowdrun" host module to rt.
func installMeterHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(instrument.HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		meterFrom(ctx).outOfFuel(mod)
	}), nil, nil).Export(instrument.OutOfFuelName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
		if uint32(stack[0]) == trapStackOverflow {
			panic(errStackOverflow)
		}
		panic(&trapError{code: uint32(stack[0])})
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(instrument.TrapName)
	for _, f := range suspend.HostFunctions() {
		b.NewFunctionBuilder().WithGoModuleFunction(f.Func, f.Params, f.Results).Export(f.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	if m == nil {
		panic("sandbox: instrumented guest called without a meter in its context")
	}
	return m
}
