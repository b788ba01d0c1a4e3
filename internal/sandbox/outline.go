package sandbox

import (
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
	const header = 8 // magic, version
	if len(bin) < header {
		return nil, false
	}
	out = make([]byte, 0, 1024)
	out = append(out, bin[:header]...)
	for pos := header; pos < len(bin); {
		id := bin[pos]
		size, n := uleb32(bin[pos+1:])
		if n == 0 || uint64(pos+1+n)+uint64(size) > uint64(len(bin)) {
			return nil, false
		}
		body := bin[pos+1+n : pos+1+n+int(size)]
		if id != byte(wasm.SectionCode) {
			out = append(out, bin[pos:pos+1+n+int(size)]...)
			pos += 1 + n + int(size)
			continue
		}
		count, k := uleb32(body)
		if k == 0 || uint64(count) > uint64(len(body)) { // a body takes at least one byte
			return nil, false
		}
		sec := appendULEB(nil, count)
		for range count {
			sec = append(sec, 3, 0, 0x00, 0x0b) // 3 bytes: no locals, unreachable, end
		}
		out = append(out, id)
		out = appendULEB(out, uint32(len(sec)))
		out = append(out, sec...)
		pos += 1 + n + int(size)
	}
	return out, true
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
