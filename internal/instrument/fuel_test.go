package instrument

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

//go:generate wat2wasm testdata/fuel.wat -o testdata/fuel.wasm

// testMeter is a host following the contract of docs/fuel.md: fuel is
// handed out in slices, used = base + s - crowdrun.fuel.
type testMeter struct {
	slice, budget uint64 // budget 0: unlimited
	base, s       uint64
	calls         int
	global        api.MutableGlobal
}

var errTestFuelExhausted = errors.New("fuel exhausted")

func (m *testMeter) used() uint64 { return m.base + m.s - m.global.Get() }

func (m *testMeter) next() {
	s := m.slice
	if m.budget > 0 {
		s = min(s, m.budget-m.base)
	}
	m.s = s
	m.global.Set(s)
}

func (m *testMeter) outOfFuel() {
	m.calls++
	m.base = m.used()
	m.s = 0
	m.global.Set(0)
	if m.budget > 0 && m.base > m.budget {
		panic(errTestFuelExhausted)
	}
	m.next()
}

// start binds the meter to an instance and hands out the first slice.
func (m *testMeter) start(mod api.Module) {
	m.global = mod.ExportedGlobal(FuelExport).(api.MutableGlobal)
	m.base, m.calls = 0, 0
	m.next()
}

type meterKey struct{}

// testHost is a wazero runtime with a crowdrun host module whose
// out_of_fuel drives the meter found in the call's context.
func testHost(t testing.TB) (context.Context, wazero.Runtime) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	_, err := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		if m, ok := ctx.Value(meterKey{}).(*testMeter); ok {
			m.outOfFuel()
			return
		}
		mod.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(1 << 40)
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
	return ctx, rt
}

// refillingHost instantiates crowdrun's host module in rt: out_of_fuel
// refills the fuel, and the trap function panics with trap.
func refillingHost(t testing.TB, ctx context.Context, rt wazero.Runtime, trap any) {
	t.Helper()
	_, err := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, mod api.Module) {
		mod.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(1 << 40)
	}).Export(OutOfFuelName).
		NewFunctionBuilder().WithFunc(func(uint32) { panic(trap) }).Export(TrapName).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
}

func instrumentFile(t testing.TB, path string, opts Options) []byte {
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Instrument(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// call runs export name with args under a fresh meter and returns the
// results, the fuel used and the error.
func call(t testing.TB, ctx context.Context, mod api.Module, m *testMeter, name string, args ...uint64) ([]uint64, uint64, error) {
	t.Helper()
	m.start(mod)
	res, err := mod.ExportedFunction(name).Call(context.WithValue(ctx, meterKey{}, m), args...)
	return res, m.used(), err
}

func TestFuelExact(t *testing.T) {
	ctx, rt := testHost(t)
	opts := DefaultOptions()
	opts.exportDepth = depthExport
	mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", opts))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fn   string
		arg  uint64
		want uint64
	}{
		{"loop", 0, 5}, {"loop", 1, 18}, {"loop", 1000, 13*1000 + 5}, {"loop", 123457, 13*123457 + 5},
		{"rec", 0, 5}, {"rec", 1, 14}, {"rec", 500, 9*500 + 5},
		{"branch", 1, 9}, {"branch", 2, 10},
		{"fill", 0, 4}, {"fill", 7, 4}, {"fill", 8, 5}, {"fill", 1000, 4 + 125}, {"fill", 65536, 4 + 8192},
		{"copy", 800, 4 + 100},
		{"grow", 0, 2}, {"grow", 1, 2 + 8192}, {"grow", 3, 2 + 3*8192},
	}
	for _, slice := range []uint64{1, 2, 7, 1000, 1 << 40} {
		for _, c := range cases {
			m := &testMeter{slice: slice}
			_, used, err := call(t, ctx, mod, m, c.fn, c.arg)
			if err != nil {
				t.Fatalf("%s(%d): %v", c.fn, c.arg, err)
			}
			if used != c.want {
				t.Errorf("slice %d: %s(%d) used %d fuel, want %d", slice, c.fn, c.arg, used, c.want)
			}
		}
	}
	// The loop's result is unchanged by the instrumentation.
	res, _, _ := call(t, ctx, mod, &testMeter{slice: 1 << 40}, "loop", 100)
	if got, want := res[0], uint64(4950); got != want {
		t.Errorf("loop(100) = %d, want %d", got, want)
	}
}

// TestFuelExhaustion checks that a budget stops the run at the same check
// point whatever the slice size: the first function entry or loop header at
// which more than the budget has been used.
func TestFuelExhaustion(t *testing.T) {
	ctx, rt := testHost(t)
	mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", DefaultOptions()))
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []uint64{1, 4, 5, 17, 18, 1000, 13*1000 - 1} {
		var first uint64
		for i, slice := range []uint64{1, 3, 10, 999, budget} {
			m := &testMeter{slice: slice, budget: budget}
			_, used, err := call(t, ctx, mod, m, "loop", 1000)
			if !errors.Is(err, errTestFuelExhausted) {
				t.Fatalf("budget %d, slice %d: %v, want fuel exhausted", budget, slice, err)
			}
			// The loop checks at each header after charging 4 (the exit
			// test) and at entry; the first check above the budget stops it.
			if used <= budget || used > budget+13 {
				t.Errorf("budget %d, slice %d: stopped at %d", budget, slice, used)
			}
			if i == 0 {
				first = used
			} else if used != first {
				t.Errorf("budget %d: slice %d stopped at %d, slice 1 at %d", budget, slice, used, first)
			}
		}
		t.Logf("budget %d: stopped at %d", budget, first)
	}
	// The last block (after the last check) cannot be stopped: a budget of
	// 13004 lets loop(1000) finish with 13005 used; the host sees it after
	// the call returns.
	if _, used, err := call(t, ctx, mod, &testMeter{slice: 7, budget: 13*1000 + 4}, "loop", 1000); err != nil || used != 13*1000+5 {
		t.Errorf("budget below the total, above the last check: used %d, %v", used, err)
	}
	// A budget that suffices is never exceeded.
	m := &testMeter{slice: 10, budget: 13*1000 + 5}
	if _, used, err := call(t, ctx, mod, m, "loop", 1000); err != nil || used != 13*1000+5 {
		t.Errorf("exact budget: used %d, %v", used, err)
	}
}

func TestDepthLimit(t *testing.T) {
	for _, limit := range []uint32{1, 2, 50, DefaultStackLimit} {
		ctx, rt := testHost(t)
		opts := DefaultOptions()
		opts.StackLimit = limit
		opts.exportDepth = depthExport
		mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", opts))
		if err != nil {
			t.Fatal(err)
		}
		depth := mod.ExportedGlobal(depthExport)
		// rec(n) has n+1 frames.
		m := &testMeter{slice: 1 << 40}
		if _, _, err := call(t, ctx, mod, m, "rec", uint64(limit-1)); err != nil {
			t.Errorf("limit %d: %d frames: %v", limit, limit, err)
		}
		if got := depth.Get(); got != 0 {
			t.Errorf("limit %d: depth %d after return, want 0", limit, got)
		}
		if _, _, err := call(t, ctx, mod, m, "rec", uint64(limit)); !errors.Is(err, errDepthTrap) {
			t.Errorf("limit %d: %d frames: %v, want the depth trap", limit, limit+1, err)
		}
		rt.Close(ctx)
	}

	// Every exit path restores the counter.
	ctx, rt := testHost(t)
	opts := DefaultOptions()
	opts.StackLimit = 3
	opts.exportDepth = depthExport
	mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", opts))
	if err != nil {
		t.Fatal(err)
	}
	for k := uint64(0); k <= 5; k++ {
		for range 10 {
			res, _, err := call(t, ctx, mod, &testMeter{slice: 1 << 40}, "exits", k)
			if err != nil {
				t.Fatalf("exits(%d): %v", k, err)
			}
			if want := 10 + min(k, 4); res[0] != want {
				t.Fatalf("exits(%d) = %d, want %d", k, res[0], want)
			}
		}
		if got := mod.ExportedGlobal(depthExport).Get(); got != 0 {
			t.Errorf("exits(%d): depth %d after return, want 0", k, got)
		}
	}
}

func TestMemoryCap(t *testing.T) {
	ctx, rt := testHost(t)
	opts := DefaultOptions()
	opts.MemoryCapPages = 4
	bin := instrumentFile(t, "testdata/fuel.wasm", opts)
	mod, err := rt.Instantiate(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	hit := mod.ExportedGlobal(MemLimitExport)
	m := &testMeter{slice: 1 << 40}
	for _, step := range []struct {
		delta, want uint64
		hit         uint64
	}{{0, 1, 0}, {2, 1, 0}, {2, ^uint64(0), 1}, {1, 3, 1}, {0, 4, 1}, {1, ^uint64(0), 1}} {
		res, _, err := call(t, ctx, mod, m, "grow", step.delta)
		if err != nil {
			t.Fatal(err)
		}
		if got := uint64(int32(res[0])); got != step.want {
			t.Errorf("grow(%d) = %d, want %d", step.delta, int32(res[0]), int32(step.want))
		}
		if got := hit.Get(); got != step.hit {
			t.Errorf("after grow(%d): mem_limit_hit %d, want %d", step.delta, got, step.hit)
		}
	}
	dm, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	if l := dm.Memories[0].Limits; !l.HasMax || l.Max != 4 {
		t.Errorf("memory limits %+v, want max 4", l)
	}

	// A zero-delta grow never sets the flag; a failed non-zero one does even
	// without a cap (here: beyond 4 GiB).
	mod2, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", DefaultOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if res, _, _ := call(t, ctx, mod2, m, "grow", 70000); int32(res[0]) != -1 || mod2.ExportedGlobal(MemLimitExport).Get() != 1 {
		t.Errorf("grow(70000) = %d, flag %d", int32(res[0]), mod2.ExportedGlobal(MemLimitExport).Get())
	}

	// A grow refused by the module's own maximum, below the cap, is not the
	// memory limit.
	ownBin, err := os.ReadFile("testdata/fuel.wasm")
	if err != nil {
		t.Fatal(err)
	}
	own, err := binary.Decode(ownBin)
	if err != nil {
		t.Fatal(err)
	}
	own.Memories[0].Limits.HasMax, own.Memories[0].Limits.Max = true, 2
	if err := InstrumentModule(own, opts); err != nil {
		t.Fatal(err)
	}
	mod3, err := rt.Instantiate(ctx, binary.Encode(own))
	if err != nil {
		t.Fatal(err)
	}
	if res, _, _ := call(t, ctx, mod3, m, "grow", 3); int32(res[0]) != -1 || mod3.ExportedGlobal(MemLimitExport).Get() != 0 {
		t.Errorf("grow past the module's own max: %d, flag %d; want -1, 0", int32(res[0]), mod3.ExportedGlobal(MemLimitExport).Get())
	}

	// Initial memory above the cap.
	opts.MemoryCapPages = 0
	big := &wasm.Module{Memories: []wasm.MemoryType{{Limits: wasm.Limits{Min: 10}}}}
	opts.MemoryCapPages = 5
	if err := InstrumentModule(big, opts); !errors.Is(err, ErrMemoryCap) {
		t.Errorf("initial memory above the cap: %v", err)
	}
}

// TestMemoryCapImported checks the inline cap of an imported memory, whose
// declared maximum cannot be lowered.
func TestMemoryCapImported(t *testing.T) {
	ctx, rt := testHost(t)
	provider := &wasm.Module{Memories: []wasm.MemoryType{{Limits: wasm.Limits{Min: 1}}}}
	provider.Exports = []wasm.Export{{Name: "mem", Kind: wasm.ExternMemory}}
	if _, err := rt.InstantiateWithConfig(ctx, binary.Encode(provider), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	m := &wasm.Module{
		Types:   []wasm.FuncType{{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I32}}},
		Imports: []wasm.Import{{Module: "env", Name: "mem", Kind: wasm.ExternMemory, Memory: wasm.MemoryType{Limits: wasm.Limits{Min: 1}}}},
		Funcs: []wasm.Func{{Type: 0, Body: []wasm.Instr{
			wasm.WithIndex(wasm.OpLocalGet, 0), wasm.WithIndex(wasm.OpMemoryGrow, 0), wasm.Plain(wasm.OpEnd)}}},
		Exports: []wasm.Export{{Name: "grow", Kind: wasm.ExternFunc, Index: 0}},
	}
	opts := DefaultOptions()
	opts.MemoryCapPages = 3
	if err := InstrumentModule(m, opts); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, binary.Encode(m))
	if err != nil {
		t.Fatal(err)
	}
	meter := &testMeter{slice: 1 << 40}
	for _, step := range []struct{ delta, want uint64 }{{1, 1}, {2, ^uint64(0)}, {1, 2}, {1, ^uint64(0)}, {0, 3}} {
		res, _, err := call(t, ctx, mod, meter, "grow", step.delta)
		if err != nil {
			t.Fatal(err)
		}
		if int32(res[0]) != int32(step.want) {
			t.Errorf("grow(%d) = %d, want %d", step.delta, int32(res[0]), int32(step.want))
		}
	}
	if mod.ExportedGlobal(MemLimitExport).Get() != 1 {
		t.Error("mem_limit_hit not set")
	}
}

func TestRefusals(t *testing.T) {
	fuel, err := os.ReadFile("testdata/fuel.wasm")
	if err != nil {
		t.Fatal(err)
	}
	withImport := func(module, name string) *wasm.Module {
		return &wasm.Module{
			Types:   []wasm.FuncType{{}},
			Imports: []wasm.Import{{Module: module, Name: name, Kind: wasm.ExternFunc}},
		}
	}
	errPolicy := errors.New("not offered")
	cases := []struct {
		name string
		m    *wasm.Module
		opts Options
		want error
	}{
		{"crowdrun import", withImport("crowdrun", "out_of_fuel"), DefaultOptions(), ErrReserved},
		{"crowdrun export", &wasm.Module{Globals: []wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32}, Init: wasm.ConstExpr(wasm.I32Const(0))}},
			Exports: []wasm.Export{{Name: "crowdrun.fuel", Kind: wasm.ExternGlobal}}}, DefaultOptions(), ErrReserved},
		{"crowdrun section", &wasm.Module{Customs: []wasm.CustomSection{{Name: "crowdrun"}}}, DefaultOptions(), ErrReserved},
		{"policy", withImport("env", "socket"), Options{AllowImport: func(mod, name string, _ wasm.FuncType) error {
			return fmt.Errorf("%s.%s: %w", mod, name, errPolicy)
		}}, ErrForbiddenImport},
		{"schedule", &wasm.Module{}, Options{Schedule: "v0"}, ErrOptions},
		{"global index", &wasm.Module{Types: []wasm.FuncType{{}}, Funcs: []wasm.Func{{Body: []wasm.Instr{
			wasm.WithIndex(wasm.OpGlobalGet, 0), wasm.Plain(wasm.OpDrop), wasm.Plain(wasm.OpEnd)}}}}, DefaultOptions(), ErrInvalid},
		{"label", &wasm.Module{Types: []wasm.FuncType{{}}, Funcs: []wasm.Func{{Body: []wasm.Instr{
			wasm.WithIndex(wasm.OpBr, 1), wasm.Plain(wasm.OpEnd)}}}}, DefaultOptions(), ErrInvalid},
		{"unbalanced", &wasm.Module{Types: []wasm.FuncType{{}}, Funcs: []wasm.Func{{Body: []wasm.Instr{
			wasm.Block(wasm.OpBlock, wasm.BlockEmpty), wasm.Plain(wasm.OpEnd)}}}}, DefaultOptions(), ErrInvalid},
	}
	for _, c := range cases {
		err := InstrumentModule(c.m, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.name == "policy" && !errors.Is(err, errPolicy) {
			t.Errorf("policy error lost: %v", err)
		}
	}

	// Instrumenting twice is refused (the custom section and the imports).
	once, err := Instrument(fuel, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Instrument(once, DefaultOptions()); !errors.Is(err, ErrReserved) {
		t.Errorf("instrumenting twice: %v", err)
	}
	// Features the codec refuses match ErrUnsupported.
	atomic := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" + "\x05\x03\x01\x00\x01" +
		"\x0a\x0b\x01\x09\x00\x41\x00\xfe\x10\x02\x00\x1a\x0b")
	if _, err := Instrument(atomic, DefaultOptions()); !errors.Is(err, ErrUnsupported) || !errors.Is(err, binary.ErrUnsupported) {
		t.Errorf("atomics: %v", err)
	}
	if _, err := Instrument([]byte("\x00asm\x01\x00\x00\x00\x01"), DefaultOptions()); !errors.Is(err, ErrInvalid) {
		t.Errorf("truncated: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	opts := DefaultOptions()
	opts.MemoryCapPages = 100
	out := instrumentFile(t, "testdata/fuel.wasm", opts)
	m, err := binary.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	c := m.CustomSection(CustomSection)
	if c == nil {
		t.Fatal("no crowdrun section")
	}
	if got, want := string(c.Data), `{"version":1,"schedule":"v3","stack_limit":1000,"memory_cap_pages":100,"nan_canonicalization":true}`; got != want {
		t.Errorf("metadata %s, want %s", got, want)
	}
	for _, name := range []string{FuelExport, MemLimitExport} {
		e := m.ExportByName(name)
		if e == nil || e.Kind != wasm.ExternGlobal {
			t.Errorf("no global export %s", name)
		}
	}
}

func TestNaNCanonicalisation(t *testing.T) {
	for _, canon := range []bool{false, true} {
		ctx, rt := testHost(t)
		opts := DefaultOptions()
		opts.CanonicalizeNaN = canon
		mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/fuel.wasm", opts))
		if err != nil {
			t.Fatal(err)
		}
		m := &testMeter{slice: 1 << 40}
		get := func(name string, args ...uint64) uint64 {
			res, _, err := call(t, ctx, mod, m, name, args...)
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		nan32 := uint32(get("nan32"))
		nan64 := get("nan64", math.Float64bits(0), math.Float64bits(math.Inf(1)))
		nanv := get("nanv")
		if canon {
			if nan32 != canonF32 || nan64 != canonF64 || nanv != canonF32|uint64(math.Float32bits(1))<<32 {
				t.Errorf("canonicalised: %#x %#x %#x", nan32, nan64, nanv)
			}
		} else {
			t.Logf("this engine's NaNs: f32 0/0 = %#x, f64 0*inf+inf = %#x, f32x4 0/0 lane = %#x", nan32, nan64, uint32(nanv))
		}
		// f32.neg of a constant NaN: the bits move, exactly as in the original.
		if got := uint32(get("nanconst")); got != 0x7f801234 {
			t.Errorf("canon %v: -(-nan:0x1234) = %#x, want 0x7f801234", canon, got)
		}
	}
}

// TestDeterministicOutput: the coordinator stores instrumented modules by
// content hash, so the same input and options must give the same bytes.
func TestDeterministicOutput(t *testing.T) {
	for _, p := range []string{"testdata/fuel.wasm", "../../examples/kernels/nbody.wasm", "../../examples/kernels/simd.wasm"} {
		bin, err := os.ReadFile(p)
		if err != nil {
			t.Skip(err)
		}
		a, err := Instrument(bin, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, err := Instrument(bin, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: two instrumentations differ", p)
			}
		}
	}
}
