package binary

import (
	"errors"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// TestTotalLocalsLimit: 200 functions of 50000 v128 locals are 1.6 kB of
// wasm that cost wazero's compiler 628 MB; Decode refuses them.
func TestTotalLocalsLimit(t *testing.T) {
	m := &wasm.Module{Types: []wasm.FuncType{{}}}
	for range 200 {
		m.Funcs = append(m.Funcs, wasm.Func{
			Locals: []wasm.LocalGroup{{Count: MaxLocals, Type: wasm.V128}},
			Body:   []wasm.Instr{wasm.Plain(wasm.OpEnd)},
		})
	}
	if _, err := Decode(Encode(m)); !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v, want ErrLimit", err)
	}
	m.Funcs = m.Funcs[:MaxTotalLocals/MaxLocals]
	if _, err := Decode(Encode(m)); err != nil {
		t.Fatalf("%d functions of %d locals: %v", len(m.Funcs), MaxLocals, err)
	}
	m.Funcs[0].Locals[0].Count = MaxLocals + 1
	if _, err := Decode(Encode(m)); !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v, want ErrLimit", err)
	}
}
