package wasm

import (
	"encoding/binary"
	"math"
)

// Instr is one instruction of a flat instruction sequence. Which fields carry
// immediates depends on the opcode's ImmKind (see Opcode.Imm):
//
//	ImmBlockType     Block
//	ImmLabel         Index = label depth
//	ImmBrTable       Labels = targets, Index = default label
//	ImmFunc          Index = function index (call, ref.func)
//	ImmCallIndirect  Index = type index, Index2 = table index
//	ImmLocal         Index = local index
//	ImmGlobal        Index = global index
//	ImmTable         Index = table index
//	ImmTableCopy     Index = destination table, Index2 = source table
//	ImmTableInit     Index = element segment, Index2 = table index
//	ImmElem          Index = element segment
//	ImmMemory        Index = memory index (always 0)
//	ImmMemoryCopy    Index = destination memory, Index2 = source memory (both 0)
//	ImmMemoryInit    Index = data segment, Index2 = memory index (0)
//	ImmData          Index = data segment
//	ImmMemArg        Align = log2 alignment, Imm = offset
//	ImmMemArgLane    Align, Imm = offset, Index = lane
//	ImmLane          Index = lane
//	ImmI32           Imm = uint64(uint32(value))
//	ImmI64           Imm = uint64(value)
//	ImmF32           Imm = uint64(math.Float32bits(value)) (raw bits, NaN payloads kept)
//	ImmF64           Imm = math.Float64bits(value)
//	ImmV128          Imm = bytes 0-7, Imm2 = bytes 8-15, little endian
//	ImmShuffle       lane indices as for ImmV128
//	ImmSelectT       Types = the result type vector (one type in valid code)
//	ImmRefType       Index = uint32(ValType) of the reference type
//
// Unused fields are zero; decoders produce exactly that, so Instr values can be
// compared with ==-like deep equality.
type Instr struct {
	Op     Opcode
	Index  uint32
	Index2 uint32
	Align  uint32
	Block  BlockType
	Imm    uint64
	Imm2   uint64
	Labels []uint32
	Types  []ValType
}

// I32 returns the value of an i32.const.
func (in *Instr) I32() int32 { return int32(uint32(in.Imm)) }

// I64 returns the value of an i64.const.
func (in *Instr) I64() int64 { return int64(in.Imm) }

// F32 returns the value of an f32.const.
func (in *Instr) F32() float32 { return math.Float32frombits(uint32(in.Imm)) }

// F64 returns the value of an f64.const.
func (in *Instr) F64() float64 { return math.Float64frombits(in.Imm) }

// V128 returns the 16 immediate bytes of v128.const or i8x16.shuffle.
func (in *Instr) V128() (b [16]byte) {
	binary.LittleEndian.PutUint64(b[:8], in.Imm)
	binary.LittleEndian.PutUint64(b[8:], in.Imm2)
	return b
}

// RefType returns the reference type of ref.null.
func (in *Instr) RefType() ValType { return ValType(in.Index) }

// Instruction constructors for the instructions passes commonly insert.

// Plain returns an instruction without immediates.
func Plain(op Opcode) Instr { return Instr{Op: op} }

// WithIndex returns an instruction whose only immediate is an index (call,
// local.get, global.set, br, memory.grow, ...).
func WithIndex(op Opcode, idx uint32) Instr { return Instr{Op: op, Index: idx} }

// I32Const returns i32.const v.
func I32Const(v int32) Instr { return Instr{Op: OpI32Const, Imm: uint64(uint32(v))} }

// I64Const returns i64.const v.
func I64Const(v int64) Instr { return Instr{Op: OpI64Const, Imm: uint64(v)} }

// F32Const returns f32.const with the given raw bits.
func F32Const(bits uint32) Instr { return Instr{Op: OpF32Const, Imm: uint64(bits)} }

// F64Const returns f64.const with the given raw bits.
func F64Const(bits uint64) Instr { return Instr{Op: OpF64Const, Imm: bits} }

// V128Const returns v128.const b.
func V128Const(b [16]byte) Instr {
	return Instr{Op: OpV128Const, Imm: binary.LittleEndian.Uint64(b[:8]), Imm2: binary.LittleEndian.Uint64(b[8:])}
}

// Block returns a block, loop or if instruction with block type bt.
func Block(op Opcode, bt BlockType) Instr { return Instr{Op: op, Block: bt} }

// Load returns a load or store with the given alignment exponent and offset.
func Load(op Opcode, align uint32, offset uint64) Instr {
	return Instr{Op: op, Align: align, Imm: offset}
}

// RefNull returns ref.null t.
func RefNull(t ValType) Instr { return Instr{Op: OpRefNull, Index: uint32(t)} }

// ConstExpr returns the constant expression [in, end].
func ConstExpr(in Instr) []Instr { return []Instr{in, {Op: OpEnd}} }
