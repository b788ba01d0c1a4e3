package wasm

import "fmt"

// Opcode identifies an instruction. One-byte opcodes have their byte value;
// prefixed opcodes are prefix<<16 | sub-opcode, e.g. memory.fill is
// 0xFC<<16 | 11 and i32x4.add is 0xFD<<16 | 0xAE.
type Opcode uint32

// Opcode prefixes of the binary format.
const (
	PrefixGC      = 0xFB // rejected
	PrefixMisc    = 0xFC // saturating truncation, bulk memory and table ops
	PrefixSIMD    = 0xFD // fixed-width SIMD
	PrefixThreads = 0xFE // rejected
)

// MiscOp returns the opcode of a 0xFC-prefixed instruction.
func MiscOp(sub uint32) Opcode { return PrefixMisc<<16 | Opcode(sub) }

// SIMDOp returns the opcode of a 0xFD-prefixed instruction.
func SIMDOp(sub uint32) Opcode { return PrefixSIMD<<16 | Opcode(sub) }

// Prefix returns the prefix byte of op, or 0 for one-byte opcodes.
func (op Opcode) Prefix() byte {
	if op > 0xff {
		return byte(op >> 16)
	}
	return 0
}

// Sub returns the sub-opcode of a prefixed opcode, or the byte of a one-byte one.
func (op Opcode) Sub() uint32 {
	if op > 0xff {
		return uint32(op & 0xffff)
	}
	return uint32(op)
}

// ImmKind is the shape of an instruction's immediates; see Instr.
type ImmKind byte

// Immediate kinds.
const (
	ImmNone ImmKind = iota
	ImmBlockType
	ImmLabel
	ImmBrTable
	ImmFunc
	ImmCallIndirect
	ImmLocal
	ImmGlobal
	ImmTable
	ImmTableCopy
	ImmTableInit
	ImmElem
	ImmMemory
	ImmMemoryCopy
	ImmMemoryInit
	ImmData
	ImmMemArg
	ImmMemArgLane
	ImmLane
	ImmI32
	ImmI64
	ImmF32
	ImmF64
	ImmV128
	ImmShuffle
	ImmSelectT
	ImmRefType
)

// Category is a set of properties of an opcode.
type Category uint32

// Opcode categories. An opcode may belong to several.
const (
	// CatControl: structured control and branches (block, loop, if, else,
	// end, br, br_if, br_table, return, unreachable).
	CatControl Category = 1 << iota
	// CatBlockStart: block, loop, if.
	CatBlockStart
	// CatBranch: br, br_if, br_table, return.
	CatBranch
	// CatCall: call, call_indirect.
	CatCall
	// CatParametric: drop, select.
	CatParametric
	// CatVariable: local.* and global.*.
	CatVariable
	// CatTable: table.* and elem.drop.
	CatTable
	// CatMemory: memory.* and data.drop (not plain loads and stores).
	CatMemory
	// CatMemoryGrow: memory.grow.
	CatMemoryGrow
	// CatBulk: instructions whose work is proportional to an operand:
	// memory.copy, memory.fill, memory.init, table.copy, table.fill,
	// table.init, table.grow.
	CatBulk
	// CatLoad, CatStore: linear memory accesses (scalar and SIMD).
	CatLoad
	CatStore
	// CatConst: *.const.
	CatConst
	// CatNumeric: scalar numeric instructions.
	CatNumeric
	// CatFloat: instructions with a floating-point operand or result
	// (scalar or SIMD lanes).
	CatFloat
	// CatNaN: floating-point instructions whose result may be a NaN with a
	// non-deterministic payload: add, sub, mul, div, sqrt, min, max, ceil,
	// floor, trunc, nearest, demote, promote, for f32/f64 and f32x4/f64x2.
	// abs, neg, copysign, loads, reinterpretations and pmin/pmax only move
	// bits and are deterministic.
	CatNaN
	// CatTrap: scalar instructions that trap on some operands (integer
	// division and remainder, float-to-int truncation, bulk range checks).
	CatTrap
	// CatSIMD: 0xFD-prefixed instructions.
	CatSIMD
	// CatReference: ref.null, ref.is_null, ref.func.
	CatReference
)

type opInfo struct {
	op      Opcode
	name    string
	imm     ImmKind
	cat     Category
	params  []ValType
	results []ValType
	fixed   bool
}

var (
	opByte [256]*opInfo
	opMisc [32]*opInfo
	opSIMD [256]*opInfo
)

func init() {
	for i := range opTable {
		in := &opTable[i]
		switch in.op.Prefix() {
		case 0:
			opByte[in.op] = in
		case PrefixMisc:
			opMisc[in.op.Sub()] = in
		case PrefixSIMD:
			opSIMD[in.op.Sub()] = in
		}
	}
}

func lookup(op Opcode) *opInfo {
	switch {
	case op <= 0xff:
		return opByte[op]
	case op>>16 == PrefixMisc && op&0xffff < Opcode(len(opMisc)):
		return opMisc[op&0xffff]
	case op>>16 == PrefixSIMD && op&0xffff < Opcode(len(opSIMD)):
		return opSIMD[op&0xffff]
	}
	return nil
}

// Known reports whether op is a WebAssembly 2.0 instruction supported here.
func (op Opcode) Known() bool { return lookup(op) != nil }

// Name returns the text-format name, e.g. "i32.add" or "memory.fill".
func (op Opcode) Name() string {
	if in := lookup(op); in != nil {
		return in.name
	}
	return ""
}

func (op Opcode) String() string {
	if in := lookup(op); in != nil {
		return in.name
	}
	if op > 0xff {
		return fmt.Sprintf("opcode(0x%02x 0x%x)", op.Prefix(), op.Sub())
	}
	return fmt.Sprintf("opcode(0x%02x)", uint32(op))
}

// Imm returns the immediate kind of op.
func (op Opcode) Imm() ImmKind {
	if in := lookup(op); in != nil {
		return in.imm
	}
	return ImmNone
}

// Category returns the categories op belongs to.
func (op Opcode) Category() Category {
	if in := lookup(op); in != nil {
		return in.cat
	}
	return 0
}

// Is reports whether op belongs to every category in c.
func (op Opcode) Is(c Category) bool { return op.Category()&c == c }

// OpProducesNaN reports whether op may produce a NaN with a non-deterministic
// payload (CatNaN).
func OpProducesNaN(op Opcode) bool { return op.Is(CatNaN) }

// StackEffect returns the operand types op pops and the types it pushes when
// they are fixed by the opcode alone. ok is false for instructions whose
// effect depends on immediates or context: control, calls, drop, select,
// locals, globals, ref.*, table.get/set/grow/fill.
// The returned slices are shared and must not be modified.
func StackEffect(op Opcode) (params, results []ValType, ok bool) {
	in := lookup(op)
	if in == nil || !in.fixed {
		return nil, nil, false
	}
	return in.params, in.results, true
}

// Opcodes returns every supported opcode in table order.
func Opcodes() []Opcode {
	ops := make([]Opcode, len(opTable))
	for i := range opTable {
		ops[i] = opTable[i].op
	}
	return ops
}
