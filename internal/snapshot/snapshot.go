package snapshot

import (
	"bytes"
	"errors"
	"fmt"
)

// PageSize is the size of a WebAssembly memory page, the unit in which memory
// is hashed and shipped.
const PageSize = 65536

// Hard limits of the format (a 32-bit memory holds at most 65536 pages).
// Decoders also apply the usually tighter Limits their caller passes.
const (
	MaxPages   = 65536
	MaxGlobals = 1 << 20
	MaxBlob    = 1 << 30 // frames or host state, raw
)

// Value types of globals: the WebAssembly binary encoding of each.
const (
	I32  byte = 0x7F
	I64  byte = 0x7E
	F32  byte = 0x7D
	F64  byte = 0x7C
	V128 byte = 0x7B
)

// Errors. Every decoding failure wraps one of them.
var (
	// ErrFormat: the bytes are not a well-formed snapshot.
	ErrFormat = errors.New("snapshot: malformed")
	// ErrVersion: a snapshot of a format version this build does not know.
	ErrVersion = errors.New("snapshot: unsupported version")
	// ErrLimit: a length exceeds the decoder's Limits.
	ErrLimit = errors.New("snapshot: limit exceeded")
	// ErrChecksum: the CRC-32C trailer does not match (corruption in transit).
	ErrChecksum = errors.New("snapshot: checksum mismatch")
	// ErrStateHash: the decoded content does not hash to the declared state hash.
	ErrStateHash = errors.New("snapshot: state hash mismatch")
	// ErrBase: a delta was applied to a snapshot other than its base.
	ErrBase = errors.New("snapshot: delta base mismatch")
	// ErrKind: a delta passed where a full snapshot was expected, or the reverse.
	ErrKind = errors.New("snapshot: wrong kind")
	// ErrInvalid: a Snapshot value that cannot be encoded.
	ErrInvalid = errors.New("snapshot: invalid")
)

// Global is the value of one global. Lo holds the value's bits (for I32 and
// F32 only the low 32 bits, the upper ones zero); Hi is the upper half of a
// V128 and zero otherwise. Floats are kept as bits, NaN payloads included.
type Global struct {
	Type   byte
	Lo, Hi uint64
}

// Snapshot is a suspended guest.
type Snapshot struct {
	// ModuleHash names the instrumented module the snapshot belongs to.
	ModuleHash [32]byte
	// Fuel is the fuel used since the start of the run.
	Fuel uint64
	// Pages is linear memory: len(Pages) is its size in pages. A page is
	// either nil (all zero) or exactly PageSize bytes. Pages may alias an
	// engine's memory (see PagesOf); snapshots returned by Decode and
	// ApplyDelta share unchanged pages with their base, so treat pages as
	// read-only.
	Pages [][]byte
	// Globals are the module's globals in index order.
	Globals []Global
	// Frames are the call frames saved by unwinding (opaque here).
	Frames []byte
	// Host is the host's canonical WASI state (opaque here).
	Host []byte
}

// PagesOf splits an engine's linear memory into pages without copying; the
// pages alias mem, so they are valid only while the guest is suspended.
func PagesOf(mem []byte) ([][]byte, error) {
	if len(mem)%PageSize != 0 || len(mem)/PageSize > MaxPages {
		return nil, fmt.Errorf("%w: memory of %d bytes is not a whole number of pages (≤ %d)", ErrInvalid, len(mem), MaxPages)
	}
	pages := make([][]byte, len(mem)/PageSize)
	for i := range pages {
		pages[i] = mem[i*PageSize : (i+1)*PageSize : (i+1)*PageSize]
	}
	return pages, nil
}

// MemorySize is the size of linear memory in bytes.
func (s *Snapshot) MemorySize() int { return len(s.Pages) * PageSize }

// CopyMemory writes linear memory into dst, which must hold at least
// MemorySize bytes (an engine's memory after growing it to len(Pages)).
// Zero pages are cleared.
func (s *Snapshot) CopyMemory(dst []byte) error { return s.CopyMemoryZeroed(dst, len(dst)) }

// CopyMemoryZeroed is CopyMemory into dst whose bytes from offset zeroed on
// are known to be zero — what an engine's memory has just grown by. Zero
// pages there are not written, so memory committed lazily stays so, and a
// zero page below it is cleared only if it is not zero already (reading an
// untouched page costs no memory either). Pages are copied in parallel:
// writing to fresh memory is bound by page faults more than by bandwidth.
func (s *Snapshot) CopyMemoryZeroed(dst []byte, zeroed int) error {
	if len(dst) < s.MemorySize() {
		return fmt.Errorf("%w: destination of %d bytes for %d pages", ErrInvalid, len(dst), len(s.Pages))
	}
	parallelRange(len(s.Pages), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dst[i*PageSize : (i+1)*PageSize]
			switch p := s.Pages[i]; {
			case p != nil:
				copy(d, p)
			case i*PageSize < zeroed && !bytes.Equal(d, zeroPage):
				clear(d)
			}
		}
	})
	return nil
}

// Validate reports whether s can be encoded.
func (s *Snapshot) Validate() error {
	if len(s.Pages) > MaxPages {
		return fmt.Errorf("%w: %d pages > %d", ErrInvalid, len(s.Pages), MaxPages)
	}
	for i, p := range s.Pages {
		if p != nil && len(p) != PageSize {
			return fmt.Errorf("%w: page %d has %d bytes", ErrInvalid, i, len(p))
		}
	}
	if len(s.Globals) > MaxGlobals {
		return fmt.Errorf("%w: %d globals > %d", ErrInvalid, len(s.Globals), MaxGlobals)
	}
	for i, g := range s.Globals {
		if err := checkGlobal(g); err != nil {
			return fmt.Errorf("%w: global %d: %v", ErrInvalid, i, err)
		}
	}
	if len(s.Frames) > MaxBlob || len(s.Host) > MaxBlob {
		return fmt.Errorf("%w: frames or host state over %d bytes", ErrInvalid, MaxBlob)
	}
	return nil
}

func checkGlobal(g Global) error {
	switch g.Type {
	case I32, F32:
		if g.Lo>>32 != 0 || g.Hi != 0 {
			return errors.New("32-bit value with upper bits set")
		}
	case I64, F64:
		if g.Hi != 0 {
			return errors.New("64-bit value with Hi set")
		}
	case V128:
	default:
		return fmt.Errorf("value type 0x%02x", g.Type)
	}
	return nil
}

// globalWidth is the number of value bytes of a global of type t, 0 if t is
// not a storable type.
func globalWidth(t byte) int {
	switch t {
	case I32, F32:
		return 4
	case I64, F64:
		return 8
	case V128:
		return 16
	}
	return 0
}
