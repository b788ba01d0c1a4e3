package instrument

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// heavyRecursion returns a module whose export f recurses without end
// through a frame of `locals` i64 locals and `live` operand stack values
// held across the call; global d counts the frames entered.
func heavyRecursion(locals, live int) []byte {
	m := &wasm.Module{
		Types:   []wasm.FuncType{{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I64}}},
		Globals: []wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: wasm.ConstExpr(wasm.I32Const(0))}},
		Exports: []wasm.Export{{Name: "f", Kind: wasm.ExternFunc}, {Name: "d", Kind: wasm.ExternGlobal}},
	}
	locals = max(locals, 1)
	b := []wasm.Instr{wasm.WithIndex(wasm.OpGlobalGet, 0), wasm.I32Const(1), wasm.Plain(wasm.OpI32Add), wasm.WithIndex(wasm.OpGlobalSet, 0)}
	for i := range locals {
		b = append(b, wasm.WithIndex(wasm.OpLocalGet, 0), wasm.Plain(wasm.OpI64ExtendI32U), wasm.I64Const(int64(i+1)),
			wasm.Plain(wasm.OpI64Add), wasm.WithIndex(wasm.OpLocalSet, uint32(1+i)))
	}
	for i := range live {
		b = append(b, wasm.WithIndex(wasm.OpLocalGet, uint32(1+i%locals)))
	}
	b = append(b, wasm.WithIndex(wasm.OpLocalGet, 0), wasm.I32Const(1), wasm.Plain(wasm.OpI32Add), wasm.WithIndex(wasm.OpCall, 0))
	for range live {
		b = append(b, wasm.Plain(wasm.OpI64Add))
	}
	for i := range locals {
		b = append(b, wasm.WithIndex(wasm.OpLocalGet, uint32(1+i)), wasm.Plain(wasm.OpI64Add))
	}
	b = append(b, wasm.Plain(wasm.OpEnd))
	m.Funcs = []wasm.Func{{Type: 0, Locals: []wasm.LocalGroup{{Count: uint32(locals), Type: wasm.I64}}, Body: b}}
	return binary.Encode(m)
}

// TestDepthHeavyFrames checks that runaway recursion through heavy frames
// is stopped by crowdrun's limit, not by the engine's, in wazero's
// interpreter (2,000 frames whatever their size) and compiler, and that a
// frame's weight grows with its size.
func TestDepthHeavyFrames(t *testing.T) {
	ctx := context.Background()
	for _, shape := range []struct{ locals, live, weight int }{{0, 0, 1}, {12, 0, 1}, {14, 0, 2}, {100, 50, 10}, {1000, 200, 76}} {
		bin, err := Instrument(heavyRecursion(shape.locals, shape.live), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []wazero.RuntimeConfig{wazero.NewRuntimeConfigInterpreter(), wazero.NewRuntimeConfigCompiler()} {
			rt := wazero.NewRuntimeWithConfig(ctx, cfg)
			refillingHost(t, ctx, rt, errDepthTrap)
			mod, err := rt.Instantiate(ctx, bin)
			if err != nil {
				t.Fatal(err)
			}
			_, err = mod.ExportedFunction("f").Call(ctx, 0)
			frames := mod.ExportedGlobal("d").Get()
			name := fmt.Sprintf("%d locals, %d live values", shape.locals, shape.live)
			if !errors.Is(err, errDepthTrap) {
				t.Errorf("%s: %v, want crowdrun's depth trap", name, err)
			}
			if want := uint64(DefaultStackLimit / shape.weight); frames != want {
				t.Errorf("%s: trapped after %d frames, want %d (weight %d)", name, frames, want, shape.weight)
			}
			rt.Close(ctx)
		}
	}
}
