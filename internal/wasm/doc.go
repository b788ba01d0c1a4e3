// Package wasm is crowdrun's in-memory representation of a WebAssembly 2.0
// module: the unit the instrumenter rewrites. Package binary decodes and
// encodes it; validation is left to wazero, which compiles the result.
//
// # Module
//
// A Module holds one field per section: Types, Imports, Funcs, Tables,
// Memories, Globals, Exports, Start, Elems, DataCount, Datas and Customs. The
// function and code sections are merged into Funcs (type index, local groups,
// body). Imports come first in every index space: function index
// i < NumImportedFuncs() is an import, the others are
// Funcs[i-NumImportedFuncs()] (see DefinedFunc, FuncType, GlobalType,
// TableType, MemoryType). At most one memory exists, since multi-memory is
// refused.
//
// Element segments cover the eight binary encodings with Mode (active,
// passive, declarative), Table and Offset (active), Type (funcref or
// externref) and either Funcs (function indices) or Exprs (one constant
// expression per element); ExplicitTable remembers the encodings that spell
// out table 0. Data segments are active or passive likewise.
//
// Custom sections are kept verbatim with the standard section they follow
// (CustomSection.After), so that re-encoding reproduces their order. Their
// contents are opaque, except the "name" section, whose function indices
// AddFuncImport renumbers. DWARF sections (.debug_*) refer to code offsets and
// become stale once code changes; passes that care should drop them.
//
// # Instructions
//
// Function bodies and constant expressions (global initialisers, segment
// offsets, element expressions) are flat []Instr. block, loop, if, else and
// end are ordinary instructions, and a body or constant expression ends with
// its own OpEnd, so the body's structure is the sequence of block-start and
// end instructions and basic blocks are computed by scanning it. Branch
// targets are relative label depths: inserting instructions that open or
// close no block keeps every branch valid.
//
// An Opcode is one number for every instruction: the byte of one-byte
// opcodes, prefix<<16|sub for 0xFC- and 0xFD-prefixed ones (OpMemoryFill is
// 0xFC000B, OpI32x4Add 0xFD00AE). The opcode table gives, for each of the 437
// supported opcodes, its text-format name (Opcode.Name), immediate kind
// (Opcode.Imm), categories (Opcode.Category, Opcode.Is: branches, calls,
// memory.grow, bulk operations whose cost is proportional to an operand,
// loads and stores, SIMD, floating point, and CatNaN / OpProducesNaN for the
// arithmetic that may produce a NaN with a non-deterministic payload) and,
// where the opcode alone fixes it, its stack effect (StackEffect).
//
// An Instr stores its immediates in the fields listed on Instr for its
// ImmKind; unused fields are zero. Constants are raw bits (NaN payloads are
// preserved), v128 immediates two little-endian uint64 halves. Block types
// are the signed 33-bit value of their encoding (BlockEmpty, BlockOf,
// BlockTypeIndex). An Instr is 88 bytes, about 70 MB for the 780k
// instructions of a 2.7 MB Go-compiled module.
//
// # Editing
//
// AddType (deduplicating), AddFuncImport (which renumbers every function
// reference in the module), AddFunc, AddGlobal and AddExport are the edits
// the instrumenter needs. Instruction constructors (I32Const, WithIndex,
// Block, Load, ConstExpr, ...) build the code it inserts.
package wasm
