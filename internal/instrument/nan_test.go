package instrument

import (
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
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
