package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
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
	m.refill()
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
	m.s = s
	m.global.Set(s)
}

// outOfFuel is crowdrun.out_of_fuel: called by mod when its counter went
// negative at a check. Exhaustion, deterministic, wins over the wall clock.
func (m *meter) outOfFuel(mod api.Module) {
	if err := m.bind(mod); err != nil {
		panic(err)
	}
	m.closeSlice()
	if !m.deadline.IsZero() && !time.Now().Before(m.deadline) {
		panic(errTimeout)
	}
	if m.ctx.Err() != nil {
		panic(errCancelled)
	}
	m.openSlice()
}

type trapError struct{ code uint32 }

func (e *trapError) Error() string { return fmt.Sprintf("crowdrun trap %d", e.code) }

type meterKey struct{}

// installMeterHost adds the "crowdrun" host module to rt.
func installMeterHost(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(instrument.HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		meterFrom(ctx).outOfFuel(mod)
	}), nil, nil).Export(instrument.OutOfFuelName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
		if uint32(stack[0]) == trapStackOverflow {
			panic(errStackOverflow)
		}
		panic(&trapError{code: uint32(stack[0])})
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(instrument.TrapName).
		Instantiate(ctx)
	return err
}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	if m == nil {
		panic("sandbox: instrumented guest called without a meter in its context")
	}
	return m
}
