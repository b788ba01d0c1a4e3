package sandbox

import (
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// decodeOutline decodes bin with every function body replaced by
// `unreachable`: the module's types, imports, exports, globals and custom
// sections — all the sandbox reads of a module it hands to wazero, which
// decodes and validates the real code itself. For a suspendable Go guest
// (9 MB) this is milliseconds where a full decode builds an instruction per
// byte or so and took 0.2–2 s on a busy machine, twice per compile. Bytes
// whose sections cannot be walked are decoded whole, so that the decoder
// explains what is wrong.
func decodeOutline(bin []byte) (*wasm.Module, error) {
	if out, ok := outline(bin); ok {
		if m, err := binary.Decode(out); err == nil {
			return m, nil
		}
	}
	return binary.Decode(bin)
}

// outline is bin with the code section's bodies replaced by `unreachable`
// (one body per entry, so the function and code sections still agree); ok
// is false if bin's sections cannot be walked.
func outline(bin []byte) (out []byte, ok bool) {
	if len(bin) < wasmHeader {
		return nil, false
	}
	out = make([]byte, 0, 1024)
	out = append(out, bin[:wasmHeader]...)
	ok = sections(bin, func(id byte, at, start, end int) bool {
		if id != byte(wasm.SectionCode) {
			out = append(out, bin[at:end]...)
			return true
		}
		body := bin[start:end]
		count, k := uleb32(body)
		if k == 0 || uint64(count) > uint64(len(body)) { // a body takes at least one byte
			return false
		}
		sec := appendULEB(nil, count)
		for range count {
			sec = append(sec, stubBody...)
		}
		out = append(out, id)
		out = appendULEB(out, uint32(len(sec)))
		out = append(out, sec...)
		return true
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// wasmHeader is the length of a module's magic and version.
const wasmHeader = 8

// stubBody is a function body of no locals and `unreachable`, with its
// size: it validates for any function type.
var stubBody = []byte{3, 0, 0x00, 0x0b}

// sections calls fn for each section of bin with its id and bounds: bin[at:end]
// the whole section, bin[start:end] its contents. It reports false if bin's
// sections cannot be walked or fn returned false.
func sections(bin []byte, fn func(id byte, at, start, end int) bool) bool {
	if len(bin) < wasmHeader {
		return false
	}
	for pos := wasmHeader; pos < len(bin); {
		size, n := uleb32(bin[pos+1:])
		if n == 0 || uint64(pos+1+n)+uint64(size) > uint64(len(bin)) {
			return false
		}
		start, end := pos+1+n, pos+1+n+int(size)
		if !fn(bin[pos], pos, start, end) {
			return false
		}
		pos = end
	}
	return true
}

// uleb32 reads an unsigned LEB128 of at most 5 bytes; n is 0 if b does not
// start with one.
func uleb32(b []byte) (v uint32, n int) {
	var x uint64
	for i := 0; i < 5 && i < len(b); i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if x > 1<<32-1 {
				return 0, 0
			}
			return uint32(x), i + 1
		}
	}
	return 0, 0
}

func appendULEB(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// liteModule is bin, a suspendable module, with the bodies of its rewind
// twins (docs/continuations.md) replaced by `unreachable`, or ok false if
// bin has no twins or its code cannot be walked. A twin runs only while a
// frame is rewound; the lite module can run and unwind (take a
// checkpoint's capture) but not rewind, and compiles in a fraction of the
// time: the twins are most of a suspendable module's code (4.8 of the Go
// guest's 8.6 MB) and nearly all of its compile time.
//
// The twins are found by the suspend rewrite's prologue of the functions
// that may suspend, which hands a rewinding call to the function's twin:
//
//	global.get $state  i32.const 2  i32.eq  if  local.get 0..n-1  call $twin  return  end
//
// with $state the global exported as crowdrun.suspend_state. Nothing a
// submitted module contains can take that form: the state global is the
// rewrite's own, added after the module's. bin is trusted (the sandbox's
// own rewrite, or a coordinator's checked by hash); the result only ever
// runs until its first unwind.
func liteModule(bin []byte, state, nImportedFuncs uint32) (out []byte, ok bool) {
	type span struct{ from, to int } // a body's bytes, size excluded
	var bodies []span
	codeAt, codeEnd := -1, -1
	walked := sections(bin, func(id byte, at, start, end int) bool {
		if id != byte(wasm.SectionCode) {
			return true
		}
		count, k := uleb32(bin[start:end])
		if k == 0 {
			return false
		}
		p := start + k
		for range count {
			sz, m := uleb32(bin[p:end])
			if m == 0 || uint64(p+m)+uint64(sz) > uint64(end) {
				return false
			}
			bodies = append(bodies, span{p + m, p + m + int(sz)})
			p += m + int(sz)
		}
		codeAt, codeEnd = at, end
		return true
	})
	if !walked || codeAt < 0 {
		return nil, false
	}
	twins := map[int]bool{}
	for _, b := range bodies {
		if t, ok := twinOf(bin[b.from:b.to], state); ok && t >= nImportedFuncs && int(t-nImportedFuncs) < len(bodies) {
			twins[int(t-nImportedFuncs)] = true
		}
	}
	if len(twins) == 0 {
		return nil, false
	}
	sec := appendULEB(nil, uint32(len(bodies)))
	for i, b := range bodies {
		if twins[i] {
			sec = append(sec, stubBody...)
			continue
		}
		sec = appendULEB(sec, uint32(b.to-b.from))
		sec = append(sec, bin[b.from:b.to]...)
	}
	out = make([]byte, 0, len(bin)/2)
	out = append(out, bin[:codeAt]...)
	out = append(out, byte(wasm.SectionCode))
	out = appendULEB(out, uint32(len(sec)))
	out = append(out, sec...)
	return append(out, bin[codeEnd:]...), true
}

// twinOf returns the twin a function body hands a rewinding call to, if it
// starts with the suspend rewrite's prologue (liteModule).
func twinOf(body []byte, state uint32) (uint32, bool) {
	groups, n := uleb32(body)
	if n == 0 {
		return 0, false
	}
	p := n
	for range groups { // the locals: count, type
		_, m := uleb32(body[p:])
		if m == 0 || p+m >= len(body) {
			return 0, false
		}
		p += m + 1
	}
	next := func(op byte) bool {
		if p < len(body) && body[p] == op {
			p++
			return true
		}
		return false
	}
	leb := func() (uint32, bool) {
		v, m := uleb32(body[min(p, len(body)):])
		p += m
		return v, m != 0
	}
	if !next(0x23) { // global.get
		return 0, false
	}
	if g, ok := leb(); !ok || g != state {
		return 0, false
	}
	if !next(0x41) || !next(0x02) || !next(0x46) || !next(0x04) || !next(0x40) { // i32.const 2, i32.eq, if (empty)
		return 0, false
	}
	for want := uint32(0); next(0x20); want++ { // local.get 0, 1, ...
		if l, ok := leb(); !ok || l != want {
			return 0, false
		}
	}
	if !next(0x10) { // call
		return 0, false
	}
	t, ok := leb()
	if !ok || !next(0x0f) || !next(0x0b) { // return, end
		return 0, false
	}
	return t, true
}

// LiteOf returns the lite variant of a suspendable module's bytes (see
// liteModule), or ok false if it has none. For measurements: engines make
// it themselves.
func LiteOf(bin []byte) ([]byte, bool) {
	m, err := decodeOutline(bin)
	if err != nil {
		return nil, false
	}
	st := m.ExportByName(suspend.StateExport)
	if st == nil || st.Kind != wasm.ExternGlobal {
		return nil, false
	}
	return liteModule(bin, st.Index, m.NumImportedFuncs())
}
