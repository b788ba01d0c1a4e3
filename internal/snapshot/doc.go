// Package snapshot is the canonical, versioned encoding of a suspended guest:
// the continuation that lets a replica stop on one worker and resume on
// another, in another engine.
//
// A Snapshot holds linear memory as 64 KiB pages, the module's globals in
// index order, the call frames saved by the unwinding instrumentation and the
// host's WASI state (both opaque here), the fuel used so far and the hash of
// the instrumented module it belongs to.
//
// Its identity is the state hash (Digest.State): SHA-256 over a header, the
// SHA-256 of every page, the globals, the frames and the host state. It does
// not depend on how the host lays memory out, nor on compression, so two
// engines that stop at the same fuel point produce the same state hash. The
// per-page hashes let a checkpoint ship only the pages that changed since the
// previous one (EncodeDelta, ApplyDelta); a Tracker finds them by comparing
// memory with a private copy of what it saw last, so only changed pages are
// re-hashed.
//
// Decoding is hostile-input safe: every length is checked against Limits
// before anything is allocated for it, the file carries a CRC-32C, and the
// decoded content must hash to the state hash the file declares. A corrupt
// snapshot is an error, never a panic.
//
// docs/snapshot.md is the byte-level specification that the JavaScript
// runtime implements too.
package snapshot
