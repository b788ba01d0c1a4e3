package instrument

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// The reference run of FuzzInstrument: the original module and its
// instrumented form (NaN canonicalisation off, so that every bit must
// agree) are instantiated side by side, every exported function is called
// once with zero arguments, in export order, and each call must end alike:
// the same results, or the same trap. The instrumented run is bounded by
// its fuel (refBudget) — a run out of fuel, or stopped by crowdrun's depth
// limit, proves nothing and ends the comparison — and the original, which
// has no fuel, only by a deadline (refDeadline) that stands far above what
// refBudget instructions take and that, if reached, also ends the
// comparison as unknown rather than failing: only what both runs finished
// is compared. Memory and exported globals are compared at the end.

// refBudget is the fuel of one instrumented call.
const refBudget = 1_000_000

// refDeadline bounds one uninstrumented call. The instrumented call before
// it finished within refBudget instructions, so the original, which runs
// the same ones, finishes in a small fraction of it.
const refDeadline = 20 * time.Second

var errRefFuel = errors.New("reference run: out of fuel")

// refMemoryPages caps the memories of the reference run (both sides alike:
// a larger minimum fails to compile on both, a larger grow fails on both).
// Without it one input declaring 6,173 pages made the fuzzer allocate
// 800 MB per execution, twice, until its worker process died
// (testdata/fuzz/FuzzInstrument/0ad399eb51857387).
const refMemoryPages = 256

// refMeter counts the fuel of one instrumented call.
type refMeter struct{ used uint64 }

type refMeterKey struct{}

// refSlice is the fuel handed out per out_of_fuel call.
const refSlice = 50_000

// newRefRuntime is an interpreter runtime with the spectest module (which
// many spec modules import) and a crowdrun host module metering by
// refMeter; wazero closes a module whose call's context is done.
func newRefRuntime(ctx context.Context, t testing.TB) wazero.Runtime {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2).
		WithCloseOnContextDone(true).WithMemoryLimitPages(refMemoryPages))
	spectestWasm, err := os.ReadFile(filepath.Join(wazeroSpecDir(t), "testdata", "spectest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateWithConfig(ctx, spectestWasm, wazero.NewModuleConfig().WithName("spectest")); err != nil {
		t.Fatal(err)
	}
	_, err = rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		fuel := mod.ExportedGlobal(FuelExport).(api.MutableGlobal)
		m, _ := ctx.Value(refMeterKey{}).(*refMeter)
		if m == nil {
			panic(errRefFuel) // never: every call carries a meter
		}
		// used = what was handed out less what is left (the global is
		// negative, as signed, once a block overdrew it).
		m.used += refSlice - fuel.Get()
		if m.used > refBudget {
			panic(errRefFuel)
		}
		fuel.Set(refSlice)
	}), nil, nil).Export(OutOfFuelName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if stack[0] == TrapStackOverflow {
			panic(errDepthTrap)
		}
		panic(fmt.Errorf("crowdrun trap %d", stack[0]))
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(TrapName).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// refOutcome is how one call (or instantiation) ended.
type refOutcome struct {
	results []uint64
	trap    string // "": returned
}

func (o refOutcome) String() string {
	if o.trap != "" {
		return "trap: " + o.trap
	}
	return fmt.Sprintf("returned %v", o.results)
}

// trapOf is the first line of a wasm error from "wasm error:" on
// ("wasm error: unreachable"): the stack trace after it, and the "start
// function[N]" before it, name functions by indices the rewrite shifts.
// An error that is not a trap (an import wazero cannot resolve) is compared
// by kind only: which of several missing modules wazero names first
// varies from one instantiation to the next.
func trapOf(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if i := strings.Index(s, "wasm error:"); i >= 0 {
		return s[i:]
	}
	return "not instantiated (not a trap)"
}

// unknown reports whether an instrumented call's error says nothing about
// the module: out of fuel, or crowdrun's own depth limit (below the
// engine's), or the engine's own stack overflow (reached at a different
// depth with the rewrite's larger frames).
func unknown(err error) bool {
	return errors.Is(err, errRefFuel) || errors.Is(err, errDepthTrap) || strings.Contains(err.Error(), "stack overflow")
}

// compareReference runs orig and inst (orig instrumented without NaN
// canonicalisation) side by side and fails t at the first call that ends
// differently, with an error saying how; calls is the number of calls
// both runs finished and compared. A module importing anything but
// functions is not compared: it would share spectest's memory, table or
// globals between both sides. Each instance gets a fresh name: names are
// per runtime.
func compareReference(ctx context.Context, rt wazero.Runtime, orig, inst []byte, n int) (calls int, err error) {
	m, err := binary.Decode(orig)
	if err != nil {
		return 0, nil
	}
	var globals []string
	for _, imp := range m.Imports {
		if imp.Kind != wasm.ExternFunc {
			return 0, nil
		}
	}
	for _, e := range m.Exports {
		if e.Kind == wasm.ExternGlobal {
			globals = append(globals, e.Name)
		}
	}
	// The start function runs at instantiation, under a meter.
	im, ierr := rt.InstantiateWithConfig(context.WithValue(ctx, refMeterKey{}, &refMeter{}), inst, wazero.NewModuleConfig().WithName(fmt.Sprintf("inst%d", n)))
	if ierr == nil {
		defer im.Close(ctx)
	} else if unknown(ierr) {
		return 0, nil
	}
	octx, cancel := context.WithTimeout(ctx, refDeadline)
	om, oerr := rt.InstantiateWithConfig(octx, orig, wazero.NewModuleConfig().WithName(fmt.Sprintf("orig%d", n)))
	cancel()
	if oerr == nil {
		defer om.Close(ctx)
	}
	if octx.Err() == context.DeadlineExceeded {
		return 0, nil // the deadline: unknown
	}
	if (ierr == nil) != (oerr == nil) || ierr != nil && trapOf(ierr) != trapOf(oerr) {
		return 0, fmt.Errorf("instantiation: original %v, instrumented %v", oerr, ierr)
	}
	if ierr != nil {
		return 0, nil
	}
	names := make([]string, 0, len(om.ExportedFunctionDefinitions()))
	for name := range om.ExportedFunctionDefinitions() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		args := make([]uint64, len(om.ExportedFunction(name).Definition().ParamTypes()))
		ires, ierr := im.ExportedFunction(name).Call(context.WithValue(ctx, refMeterKey{}, &refMeter{}), args...)
		if ierr != nil && unknown(ierr) {
			return calls, nil // the instances' states part here
		}
		octx, cancel := context.WithTimeout(ctx, refDeadline)
		ores, oerr := om.ExportedFunction(name).Call(octx, args...)
		cancel()
		if octx.Err() == context.DeadlineExceeded {
			return calls, nil
		}
		// After a trap both instances are left in the same state, and
		// wazero lets them be called again.
		if o, i := outcomeOf(ores, oerr), outcomeOf(ires, ierr); o.String() != i.String() {
			return calls, fmt.Errorf("call %q: original %s, instrumented %s", name, o, i)
		}
		calls++
	}
	if len(m.Memories) > 0 && memHash(om) != memHash(im) {
		return calls, errors.New("memory differs after the calls")
	}
	for _, name := range globals {
		switch om.ExportedGlobal(name).Type() {
		case api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64:
		default:
			continue // a reference: an address in this instance
		}
		if a, b := om.ExportedGlobal(name).Get(), im.ExportedGlobal(name).Get(); a != b {
			return calls, fmt.Errorf("global %s: original %#x, instrumented %#x", name, a, b)
		}
	}
	return calls, nil
}

func outcomeOf(res []uint64, err error) refOutcome {
	if err != nil {
		return refOutcome{trap: trapOf(err)}
	}
	return refOutcome{results: res}
}

func memHash(m api.Module) [32]byte {
	mem := m.Memory()
	b, _ := mem.Read(0, mem.Size())
	return sha256.Sum256(bytes.Clone(b))
}

// The reference run compares, and can fail: a module returning 1 against
// the instrumented form of one returning 2 is a mismatch, and each against
// its own instrumented form is not.
func TestCompareReference(t *testing.T) {
	ret := func(c byte) []byte {
		return []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x07\x05\x01\x01f\x00\x00\x0a\x06\x01\x04\x00\x41" + string(c) + "\x0b")
	}
	ctx := context.Background()
	rt := newRefRuntime(ctx, t)
	defer rt.Close(ctx)
	opts := DefaultOptions()
	opts.CanonicalizeNaN = false
	one, two := ret(1), ret(2)
	inst := func(b []byte) []byte {
		out, err := Instrument(b, opts)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if calls, err := compareReference(ctx, rt, one, inst(one), 1); err != nil || calls != 1 {
		t.Errorf("same module: %d calls, %v", calls, err)
	}
	if _, err := compareReference(ctx, rt, one, inst(two), 2); err == nil || !strings.Contains(err.Error(), `call "f"`) {
		t.Errorf("different modules: %v, want a mismatch of call f", err)
	}
	fuel, err := os.ReadFile("testdata/fuel.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if calls, err := compareReference(ctx, rt, fuel, inst(fuel), 3); err != nil || calls == 0 {
		t.Errorf("fuel.wasm: %d calls, %v", calls, err)
	}
}
