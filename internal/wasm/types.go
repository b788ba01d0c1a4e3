package wasm

import "fmt"

// ValType is a value type as encoded in the binary format.
type ValType byte

// Value types of WebAssembly 2.0.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

// IsRef reports whether t is a reference type.
func (t ValType) IsRef() bool { return t == FuncRef || t == ExternRef }

// Valid reports whether t is one of the WebAssembly 2.0 value types.
func (t ValType) Valid() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

// FuncType is a function signature.
type FuncType struct {
	Params  []ValType
	Results []ValType
}

// Equal reports whether two signatures are identical.
func (ft FuncType) Equal(o FuncType) bool {
	if len(ft.Params) != len(o.Params) || len(ft.Results) != len(o.Results) {
		return false
	}
	for i := range ft.Params {
		if ft.Params[i] != o.Params[i] {
			return false
		}
	}
	for i := range ft.Results {
		if ft.Results[i] != o.Results[i] {
			return false
		}
	}
	return true
}

func (ft FuncType) String() string {
	return fmt.Sprintf("%v -> %v", ft.Params, ft.Results)
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// Extern kinds as encoded in import and export descriptors.
const (
	ExternFunc   ExternKind = 0
	ExternTable  ExternKind = 1
	ExternMemory ExternKind = 2
	ExternGlobal ExternKind = 3
)

func (k ExternKind) String() string {
	switch k {
	case ExternFunc:
		return "func"
	case ExternTable:
		return "table"
	case ExternMemory:
		return "memory"
	case ExternGlobal:
		return "global"
	}
	return fmt.Sprintf("externkind(%d)", byte(k))
}

// Limits bound the size of a table (in elements) or a memory (in 64 KiB pages).
type Limits struct {
	Min    uint32
	Max    uint32 // meaningful only if HasMax
	HasMax bool
}

// TableType describes a table.
type TableType struct {
	Elem   ValType // FuncRef or ExternRef
	Limits Limits
}

// MemoryType describes a linear memory. Shared memories (threads) and
// memory64 are rejected by the decoder, so only the limits remain.
type MemoryType struct {
	Limits Limits
}

// GlobalType describes a global variable.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// BlockType is the type of a block, loop or if, stored as the signed 33-bit
// integer of its binary encoding: BlockEmpty (0x40), a single result value
// type (negative, see BlockOf), or a non-negative type index.
type BlockType int64

// BlockEmpty is the block type with neither params nor results.
const BlockEmpty BlockType = -0x40

// BlockOf returns the block type with no params and one result of type t.
func BlockOf(t ValType) BlockType { return BlockType(int64(t) - 0x80) }

// BlockTypeIndex returns the block type referring to the function type at idx.
func BlockTypeIndex(idx uint32) BlockType { return BlockType(idx) }

// IsIndex reports whether b refers to a type index.
func (b BlockType) IsIndex() bool { return b >= 0 }

// Index returns the type index of b; valid only if b.IsIndex().
func (b BlockType) Index() uint32 { return uint32(b) }

// Result returns the single result type of a value-typed block type and
// whether b is one.
func (b BlockType) Result() (ValType, bool) {
	if b < 0 && b != BlockEmpty && b >= -0x40 {
		return ValType(b + 0x80), true
	}
	return 0, false
}

// Signature returns the params and results of b, resolving type indices in m.
func (b BlockType) Signature(m *Module) (params, results []ValType, ok bool) {
	switch {
	case b == BlockEmpty:
		return nil, nil, true
	case b.IsIndex():
		if int64(b) >= int64(len(m.Types)) {
			return nil, nil, false
		}
		ft := m.Types[b]
		return ft.Params, ft.Results, true
	default:
		t, ok := b.Result()
		if !ok {
			return nil, nil, false
		}
		return nil, []ValType{t}, true
	}
}
