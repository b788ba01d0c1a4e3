// Package binary decodes and encodes the WebAssembly binary format to and
// from the module IR of package wasm.
//
// Decode accepts WebAssembly 2.0: the MVP, multi-value, bulk memory,
// reference types, sign extension, non-trapping float-to-int conversion and
// fixed-width SIMD. It refuses, with an *UnsupportedError naming the feature
// (errors.Is(err, ErrUnsupported)), what crowdrun cannot run
// deterministically or does not support: threads and atomics, shared
// memory, relaxed SIMD, multi-memory, memory64, exception handling, tail
// calls, typed function references, GC, custom page sizes and components.
// Malformed input gets a *DecodeError with the byte offset and the section,
// wrapping ErrMalformed; Decode never panics, never allocates more elements
// than the remaining input could encode, and enforces the Max limits.
//
// Decode checks the binary format only (as the spec's assert_malformed
// tests do: all 719 binary ones of the v2 suite are rejected). Type checking
// (assert_invalid) is wazero's job when it compiles the module.
//
// Encode is canonical: minimal LEB128 and no empty sections (except an empty
// section that a custom section was recorded after, which keeps that custom
// section in place). Binaries from a canonical encoder, such as clang's, and
// 1555 of the 1599 valid spec modules re-encode byte for byte; the others,
// and Go's output (which pads section sizes to five bytes), re-encode to a
// shorter binary that decodes to the same Module and that wazero accepts.
package binary
