package instrument

import (
	"context"
	"math"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// TestNaNSkipsThroughLocals: a NaN written to a local keeps its
// canonicalisation exactly when the local's value can be seen: read by an
// operation that is not NaN-blind, or live after a call or at a loop header
// (where a suspension saves it), or read after a branch.
func TestNaNSkipsThroughLocals(t *testing.T) {
	var (
		get    = func(l uint32) wasm.Instr { return wasm.WithIndex(wasm.OpLocalGet, l) }
		set    = func(l uint32) wasm.Instr { return wasm.WithIndex(wasm.OpLocalSet, l) }
		tee    = func(l uint32) wasm.Instr { return wasm.WithIndex(wasm.OpLocalTee, l) }
		div    = wasm.Plain(wasm.OpF64Div)
		sqrt   = wasm.Plain(wasm.OpF64Sqrt)
		drop   = wasm.Plain(wasm.OpDrop)
		end    = wasm.Plain(wasm.OpEnd)
		zero   = wasm.F64Const(0)
		store  = wasm.Instr{Op: wasm.OpF64Store}
		addr   = wasm.I32Const(0)
		call   = wasm.WithIndex(wasm.OpCall, 0)
		loop   = wasm.Block(wasm.OpLoop, wasm.BlockEmpty)
		brIf   = wasm.WithIndex(wasm.OpBrIf, 0)
		i32one = wasm.I32Const(1)
	)
	m := &wasm.Module{Types: []wasm.FuncType{{}}, Funcs: []wasm.Func{{Type: 0}}}
	const nLocals = 2 // two f64 locals
	cases := []struct {
		name string
		body []wasm.Instr
		skip bool // whether the div's canonicalisation is skipped
	}{
		{"local read blindly, then dead", []wasm.Instr{zero, zero, div, set(0), get(0), sqrt, drop, end}, true},
		{"local read by a store", []wasm.Instr{zero, zero, div, set(0), addr, get(0), store, end}, false},
		{"local copied to a local read blindly", []wasm.Instr{zero, zero, div, set(0), get(0), set(1), get(1), sqrt, drop, end}, true},
		{"local copied to a local stored", []wasm.Instr{zero, zero, div, set(0), get(0), set(1), addr, get(1), store, end}, false},
		{"local live after a call", []wasm.Instr{zero, zero, div, set(0), call, get(0), sqrt, drop, end}, false},
		{"local overwritten before a call", []wasm.Instr{zero, zero, div, set(0), get(0), sqrt, drop, zero, set(0), call, get(0), sqrt, drop, end}, true},
		{"local live at a loop header", []wasm.Instr{zero, zero, div, set(0), loop, get(0), sqrt, drop, i32one, brIf, end, end}, false},
		{"local written in a loop, dead at its header", []wasm.Instr{loop, zero, zero, div, set(0), get(0), sqrt, drop, i32one, brIf, end, end}, true},
		{"tee'd value stored", []wasm.Instr{addr, zero, zero, div, tee(0), store, end}, false},
		{"tee'd value read blindly, the local stored", []wasm.Instr{zero, zero, div, tee(0), sqrt, drop, addr, get(0), store, end}, false},
		{"tee'd value and local read blindly", []wasm.Instr{zero, zero, div, tee(0), sqrt, drop, get(0), sqrt, drop, end}, true},
		{"local read after a branch", []wasm.Instr{wasm.Block(wasm.OpBlock, wasm.BlockEmpty), zero, zero, div, set(0), i32one, brIf, end, get(0), sqrt, drop, end}, false},
	}
	for _, c := range cases {
		skip := nanSkips(m, c.body, nLocals)
		at := -1
		for i, in := range c.body {
			if in.Op == wasm.OpF64Div {
				at = i
			}
		}
		if skip[at] != c.skip {
			t.Errorf("%s: div skipped = %v, want %v", c.name, skip[at], c.skip)
		}
	}
}

// TestCanonNaNSequence runs the scalar canonicalisation sequence on every
// kind of value, in wazero's interpreter and compiler: x + -0 and x * 1 give
// x back for every number (±0, subnormals, ±inf included) and an arithmetic
// NaN for every NaN; their results, reinterpreted as integers, are observed.
// A number must come out with its bits unchanged and a NaN, whatever its
// sign and payload (signalling ones too), as the canonical NaN. The test
// fails if the sequence's test is wrong either way (a NaN let through, a
// number replaced) or if the canonicalisation is skipped (x86 keeps the
// payload of a NaN operand).
func TestCanonNaNSequence(t *testing.T) {
	i64 := []wasm.ValType{wasm.I64}
	m := &wasm.Module{Types: []wasm.FuncType{{Params: i64, Results: i64}}}
	get := wasm.WithIndex(wasm.OpLocalGet, 0)
	end := wasm.Plain(wasm.OpEnd)
	for _, f := range []struct {
		name string
		body []wasm.Instr
	}{
		{"add64", []wasm.Instr{get, wasm.Plain(wasm.OpF64ReinterpretI64), wasm.F64Const(1 << 63), wasm.Plain(wasm.OpF64Add), wasm.Plain(wasm.OpI64ReinterpretF64), end}},
		{"mul64", []wasm.Instr{get, wasm.Plain(wasm.OpF64ReinterpretI64), wasm.F64Const(math.Float64bits(1)), wasm.Plain(wasm.OpF64Mul), wasm.Plain(wasm.OpI64ReinterpretF64), end}},
		{"add32", []wasm.Instr{get, wasm.Plain(wasm.OpI32WrapI64), wasm.Plain(wasm.OpF32ReinterpretI32), wasm.F32Const(1 << 31), wasm.Plain(wasm.OpF32Add),
			wasm.Plain(wasm.OpI32ReinterpretF32), wasm.Plain(wasm.OpI64ExtendI32U), end}},
		{"mul32", []wasm.Instr{get, wasm.Plain(wasm.OpI32WrapI64), wasm.Plain(wasm.OpF32ReinterpretI32), wasm.F32Const(math.Float32bits(1)), wasm.Plain(wasm.OpF32Mul),
			wasm.Plain(wasm.OpI32ReinterpretF32), wasm.Plain(wasm.OpI64ExtendI32U), end}},
	} {
		m.Funcs = append(m.Funcs, wasm.Func{Type: 0, Body: f.body})
		m.Exports = append(m.Exports, wasm.Export{Name: f.name, Kind: wasm.ExternFunc, Index: uint32(len(m.Funcs) - 1)})
	}
	for _, schedule := range []string{ScheduleV2, ScheduleV3} {
		opts := DefaultOptions()
		opts.Schedule = schedule
		bin, err := Instrument(binary.Encode(m), opts)
		if err != nil {
			t.Fatal(err)
		}
		testCanonNaNSequence(t, schedule, bin)
	}
}

func testCanonNaNSequence(t *testing.T, schedule string, bin []byte) {
	v64 := []uint64{0, 1 << 63, 1, 0x000fffffffffffff, 0x8000000000000001, math.Float64bits(1), math.Float64bits(-1.5),
		math.Float64bits(math.MaxFloat64), 0x7ff0000000000000, 0xfff0000000000000,
		0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0x7ff4000000000000, 0x7fffffffffffffff, 0xfff8000012345678}
	v32 := []uint32{0, 1 << 31, 1, 0x007fffff, 0x80000001, math.Float32bits(1), math.Float32bits(-1.5),
		math.Float32bits(math.MaxFloat32), 0x7f800000, 0xff800000,
		0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x7fffffff, 0xffc01234}
	ctx := context.Background()
	for _, cfg := range []wazero.RuntimeConfig{wazero.NewRuntimeConfigInterpreter(), wazero.NewRuntimeConfigCompiler()} {
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		defer rt.Close(ctx)
		refillingHost(t, ctx, rt, "trap")
		mod, err := rt.Instantiate(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		mod.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(1 << 40)
		run := func(name string, x uint64) uint64 {
			res, err := mod.ExportedFunction(name).Call(ctx, x)
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		for _, x := range v64 {
			want := x
			if math.IsNaN(math.Float64frombits(x)) {
				want = canonF64
			}
			for _, fn := range []string{"add64", "mul64"} {
				if got := run(fn, x); got != want {
					t.Errorf("%s: %s(%#x) = %#x, want %#x", schedule, fn, x, got, want)
				}
			}
		}
		for _, x := range v32 {
			want := x
			if f := math.Float32frombits(x); f != f {
				want = canonF32
			}
			for _, fn := range []string{"add32", "mul32"} {
				if got := uint32(run(fn, uint64(x))); got != want {
					t.Errorf("%s: %s(%#x) = %#x, want %#x", schedule, fn, x, got, want)
				}
			}
		}
	}
}
