// Package instrument rewrites a WebAssembly module so that it meters itself
// deterministically: the same instrumented module reaches the same fuel
// count, the same call-depth limit and the same memory limit on every engine.
//
// Instrument (or InstrumentModule on a decoded module) adds, following the
// contract and the fuel schedule in docs/fuel.md:
//
//   - fuel: each basic block is charged at its start by decrementing the
//     exported i64 global crowdrun.fuel; at every function entry and loop
//     header a negative counter calls the host import crowdrun.out_of_fuel;
//     bulk memory and table operations and memory.grow are charged in
//     proportion to their size;
//   - a call-depth limit: a depth counter maintained at the entry and every
//     exit of each function that calls; exceeding Options.StackLimit calls
//     crowdrun.trap(1);
//   - a memory cap: the memory's declared maximum is lowered to
//     Options.MemoryCapPages, so memory.grow fails at the same size
//     everywhere, and crowdrun.mem_limit_hit records a failed non-zero grow;
//   - NaN canonicalisation after every instruction whose NaN result payload
//     the spec leaves open (scalar and SIMD lanes).
//
// It refuses what cannot be deterministic (threads, relaxed SIMD; the codec
// rejects them while decoding), what crowdrun does not support (multi-memory,
// memory64), imports the caller's policy does not allow, and modules that use
// crowdrun's reserved names. Errors match ErrUnsupported, ErrForbiddenImport,
// ErrReserved, ErrInvalid or ErrMemoryCap with errors.Is.
package instrument
