// Package wasm is crowdrun's in-memory representation of a WebAssembly 2.0
// module, the unit the instrumenter rewrites. Package binary decodes and
// encodes it.
//
// # Representation
//
// A Module holds one field per section. The function and code sections are
// merged into Funcs (type index, local groups, body); imports come first in
// every index space, so function index i < NumImportedFuncs() is an import and
// the others are Funcs[i-NumImportedFuncs()].
//
// Function bodies and constant expressions are flat []Instr: block, loop, if,
// else and end are ordinary instructions, and a body or constant expression
// always ends with its own OpEnd. Passes insert instructions by building a new
// slice; branch targets are relative label depths, so inserting instructions
// that do not open or close blocks never invalidates them.
//
// An Opcode is a single number for all instructions: the byte of one-byte
// opcodes, prefix<<16|sub for 0xFC- and 0xFD-prefixed ones. Opcode.Name,
// Opcode.Imm, Opcode.Category, StackEffect and OpProducesNaN give the metadata
// passes need (which instructions branch, call, grow memory, do bulk work, or
// may produce non-deterministic NaNs). The immediates of an instruction live
// in the Instr fields documented on Instr, chosen by its ImmKind.
//
// Custom sections are kept verbatim with the standard section they follow, so
// that decoding and re-encoding reproduces their order.
package wasm
