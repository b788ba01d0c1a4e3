package binary

import (
	"fmt"
	"unicode/utf8"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// reader reads the binary format with a sticky error: after the first
// failure every read returns zero values, so loops need only check r.err.
// All reads are bounded by end, the end of the current section or body.
type reader struct {
	b   []byte
	pos int
	end int
	sec wasm.SectionID
	err error
}

func (r *reader) failAt(pos int, err error) {
	if r.err == nil {
		r.err = &DecodeError{Offset: pos, Section: r.sec, Err: err}
	}
	// Park at the end so that no further progress is made.
	r.pos = r.end
}

func (r *reader) fail(format string, args ...any) {
	r.failAt(r.pos, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...))
}

func (r *reader) unsupported(pos int, feature string) {
	r.failAt(pos, &UnsupportedError{Feature: feature})
}

func (r *reader) limit(what string, n, max uint64) {
	r.failAt(r.pos, fmt.Errorf("%w: %s: %d > %d", ErrLimit, what, n, max))
}

func (r *reader) remaining() int { return r.end - r.pos }

func (r *reader) byte() byte {
	if r.pos >= r.end {
		r.eof()
		return 0
	}
	b := r.b[r.pos]
	r.pos++
	return b
}

func (r *reader) eof() {
	if r.end < len(r.b) {
		r.fail("%w: unexpected end of section or function", errVectorTooLong)
	} else {
		r.fail("%w: unexpected end", errVectorTooLong)
	}
}

func (r *reader) bytes(n uint32) []byte {
	if uint64(n) > uint64(r.remaining()) {
		r.fail("%w: length out of bounds: %d bytes, %d remain", errVectorTooLong, n, r.remaining())
		return nil
	}
	b := r.b[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return b
}

func (r *reader) u32() uint32 {
	if r.pos < r.end && r.b[r.pos] < 0x80 {
		v := r.b[r.pos]
		r.pos++
		return uint32(v)
	}
	var v uint32
	for i := 0; i < 5; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		if i == 4 {
			if b&0x80 != 0 {
				r.fail("integer representation too long")
				return 0
			}
			if b&0x70 != 0 {
				r.fail("integer too large")
				return 0
			}
		}
		v |= uint32(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v
		}
	}
	return v
}

// signed reads a signed LEB128 integer of the given bit width (32, 33 or 64).
func (r *reader) signed(bits int) int64 {
	maxBytes := (bits + 6) / 7
	var v int64
	shift := 0
	for i := 0; i < maxBytes; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		if i == maxBytes-1 {
			if b&0x80 != 0 {
				r.fail("integer representation too long")
				return 0
			}
			// The unused high bits must be a sign extension of the last used bit.
			used := bits - 7*i // value bits in this byte, the top one being the sign
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if s := b & mask; s != 0 && s != mask {
				r.failAt(r.pos-1, fmt.Errorf("%w: %w", ErrMalformed, errIntegerTooLarge))
				return 0
			}
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b < 0x80 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	return v
}

func (r *reader) name() string {
	n := r.u32()
	b := r.bytes(n)
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.fail("malformed UTF-8 encoding")
		return ""
	}
	return string(b)
}

// count reads a vector length and checks that at least minSize bytes per
// element remain, so that no allocation is larger than the input permits.
func (r *reader) count(what string, minSize int, max uint32) uint32 {
	pos := r.pos
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		r.failAt(pos, fmt.Errorf("%w: %w: %s count %d exceeds the remaining %d bytes", ErrMalformed, errVectorTooLong, what, n, r.remaining()))
		return 0
	}
	if n > max {
		r.limit(what+" count", uint64(n), uint64(max))
		return 0
	}
	return n
}

func (r *reader) valType() wasm.ValType {
	pos := r.pos
	b := r.byte()
	t := wasm.ValType(b)
	if t.Valid() || r.err != nil {
		return t
	}
	r.badType(pos, b, "malformed value type")
	return 0
}

func (r *reader) refType() wasm.ValType {
	pos := r.pos
	b := r.byte()
	t := wasm.ValType(b)
	if t.IsRef() || r.err != nil {
		return t
	}
	r.badType(pos, b, "malformed reference type")
	return 0
}

// badType classifies a byte that is not a WebAssembly 2.0 value type.
func (r *reader) badType(pos int, b byte, msg string) {
	switch b {
	case 0x64, 0x63: // (ref ht), (ref null ht)
		r.unsupported(pos, FeatureFuncRefs)
	case 0x69, 0x74: // exnref, noexn
		r.unsupported(pos, FeatureExceptions)
	case 0x6e, 0x6d, 0x6c, 0x6b, 0x6a, 0x71, 0x72, 0x73: // any, eq, i31, struct, array, none, noextern, nofunc
		r.unsupported(pos, FeatureGC)
	default:
		if msg == "malformed reference type" && wasm.ValType(b).Valid() {
			r.failAt(pos, fmt.Errorf("%w: %s 0x%02x", ErrMalformed, msg, b))
			return
		}
		r.failAt(pos, fmt.Errorf("%w: %s 0x%02x", ErrMalformed, msg, b))
	}
}

func (r *reader) limits(isMemory bool) wasm.Limits {
	pos := r.pos
	flag := r.byte()
	var l wasm.Limits
	switch {
	case flag > 0x0f:
		r.failAt(pos, fmt.Errorf("%w: integer too large: limits flags 0x%02x", ErrMalformed, flag))
		return l
	case flag&0x08 != 0:
		r.unsupported(pos, FeatureCustomPageSizes)
		return l
	case flag&0x04 != 0:
		r.unsupported(pos, FeatureMemory64)
		return l
	case flag&0x02 != 0:
		if isMemory {
			r.unsupported(pos, FeatureSharedMemory)
		} else {
			r.failAt(pos, fmt.Errorf("%w: integer too large: table limits flags 0x%02x", ErrMalformed, flag))
		}
		return l
	}
	l.Min = r.u32()
	if flag&1 != 0 {
		l.Max = r.u32()
		l.HasMax = true
	}
	return l
}

func (r *reader) tableType() wasm.TableType {
	pos := r.pos
	if r.pos < r.end && r.b[r.pos] == 0x40 { // table with initialiser expression
		r.unsupported(pos, FeatureFuncRefs)
		return wasm.TableType{}
	}
	t := r.refType()
	return wasm.TableType{Elem: t, Limits: r.limits(false)}
}

func (r *reader) globalType() wasm.GlobalType {
	t := r.valType()
	pos := r.pos
	m := r.byte()
	switch m {
	case 0:
		return wasm.GlobalType{Type: t}
	case 1:
		return wasm.GlobalType{Type: t, Mutable: true}
	}
	if r.err == nil {
		r.failAt(pos, fmt.Errorf("%w: malformed mutability 0x%02x", ErrMalformed, m))
	}
	return wasm.GlobalType{}
}
