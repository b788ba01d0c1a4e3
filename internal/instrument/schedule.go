package instrument

import "github.com/crowdrun/crowdrun/internal/wasm"

// Fuel schedule v1 (docs/fuel.md, "Fuel schedule v1").
//
// Static cost: every instruction of the original module costs 1, except the
// structural markers block, loop, else and end, which cost 0 (they do no
// work; their branches are charged on br, br_if, br_table, if and return).
//
// Dynamic cost, charged just before the instruction, on top of its static 1:
//
//	memory.fill, memory.copy, memory.init   n >> 3     (n bytes: 1 per 8 bytes)
//	table.fill, table.copy, table.init      n          (n elements)
//	table.grow                              n          (n elements requested)
//	memory.grow                             d << 13    (d pages requested: 1 per 8 bytes)
//
// The dynamic part is charged whether or not the instruction then traps or
// fails: it depends on the operand only.
const (
	memBytesShift  = 3  // memory.fill/copy/init: n >> 3
	growPagesShift = 13 // memory.grow: delta << 13 (65536 bytes / 8)
)

// staticCost is the v1 cost of executing op once.
func staticCost(op wasm.Opcode) int64 {
	switch op {
	case wasm.OpBlock, wasm.OpLoop, wasm.OpElse, wasm.OpEnd:
		return 0
	}
	return 1
}

// dynKind says how an instruction's operand adds to its cost.
type dynKind byte

const (
	dynNone       dynKind = iota
	dynMemBytes           // top of stack: a byte count (i32)
	dynTableElems         // top of stack: an element count (i32)
	dynGrowPages          // memory.grow: top of stack: a page count (i32)
)

func dynamicCost(op wasm.Opcode) dynKind {
	switch op {
	case wasm.OpMemoryFill, wasm.OpMemoryCopy, wasm.OpMemoryInit:
		return dynMemBytes
	case wasm.OpTableFill, wasm.OpTableCopy, wasm.OpTableInit, wasm.OpTableGrow:
		return dynTableElems
	case wasm.OpMemoryGrow:
		return dynGrowPages
	}
	return dynNone
}
