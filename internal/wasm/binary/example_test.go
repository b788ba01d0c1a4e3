package binary_test

import (
	"errors"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// A pass decodes a module, edits its flat instruction lists and encodes it.
func Example() {
	// (module (func (export "f") (result i32) i32.const 41 i32.const 1 i32.add))
	in := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
		0x03, 0x02, 0x01, 0x00,
		0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00,
		0x0a, 0x09, 0x01, 0x07, 0x00, 0x41, 0x29, 0x41, 0x01, 0x6a, 0x0b,
	}
	m, err := binary.Decode(in)
	if err != nil {
		panic(err)
	}
	hook := m.AddFuncImport("crowdrun", "enter", wasm.FuncType{})
	f := m.DefinedFunc(m.ExportByName("f").Index)
	f.Body = append([]wasm.Instr{wasm.WithIndex(wasm.OpCall, hook)}, f.Body...)
	for _, ins := range f.Body {
		fmt.Println(ins.Op)
	}
	fmt.Println(len(binary.Encode(m)), "bytes")
	// Output:
	// call
	// i32.const
	// i32.const
	// i32.add
	// end
	// 62 bytes
}

// Refused features are reported by name.
func ExampleUnsupportedError() {
	// A memory section declaring a shared memory.
	_, err := binary.Decode([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01})
	var ue *binary.UnsupportedError
	fmt.Println(errors.Is(err, binary.ErrUnsupported), errors.As(err, &ue) && ue.Feature == binary.FeatureSharedMemory)
	fmt.Println(err)
	// Output:
	// true true
	// wasm: memory section, offset 0xb: unsupported feature: threads (shared memory)
}
