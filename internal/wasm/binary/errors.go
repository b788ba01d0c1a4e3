package binary

import (
	"errors"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

var (
	// ErrMalformed is wrapped by errors for input that is not a well-formed
	// WebAssembly binary.
	ErrMalformed = errors.New("malformed")
	// ErrUnsupported is wrapped by errors for well-formed input using a
	// feature crowdrun refuses (see UnsupportedError.Feature).
	ErrUnsupported = errors.New("unsupported feature")
	// ErrInvalid is wrapped by errors for the few validation rules Decode
	// checks although they are wazero's job: function type indices out of
	// range, on which wazero v1.12.0 panics instead of failing.
	ErrInvalid = errors.New("invalid")
	// ErrLimit is wrapped by errors for input exceeding a decoder limit
	// (see the Max constants).
	ErrLimit = errors.New("limit exceeded")
)

// errVectorTooLong marks a vector or byte-string length larger than the
// remaining input could encode, and reads past the end of a section or body. wazero v1.12.0 allocates some of them (the
// table and export sections, import names) by their declared length before
// checking it, and does not bound reads by the section size, so it runs out
// of memory or time on such input: untrusted input must never reach wazero
// without passing Decode first.
var errVectorTooLong = errors.New("vector longer than its section")

// errIntegerTooLarge marks a signed LEB128 whose unused high bits are not a
// sign extension, which the spec rejects and wazero v1.12.0 accepts.
var errIntegerTooLarge = errors.New("integer too large")

// Feature names reported by UnsupportedError.
const (
	FeatureThreads         = "threads/atomics (0xFE prefix)"
	FeatureSharedMemory    = "threads (shared memory)"
	FeatureRelaxedSIMD     = "relaxed SIMD"
	FeatureMultiMemory     = "multi-memory"
	FeatureMemory64        = "memory64"
	FeatureExceptions      = "exception handling"
	FeatureTailCalls       = "tail calls"
	FeatureGC              = "GC"
	FeatureFuncRefs        = "typed function references"
	FeatureCustomPageSizes = "custom page sizes"
	FeatureComponentModel  = "component model"
	FeatureExtendedConst   = "extended constant expressions"
)

// UnsupportedError reports a feature crowdrun refuses. It matches
// ErrUnsupported with errors.Is.
type UnsupportedError struct {
	Feature string
}

func (e *UnsupportedError) Error() string { return "unsupported feature: " + e.Feature }

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// DecodeError locates a decoding failure: Offset is the byte offset in the
// input and Section the section being decoded (SectionCustom also stands for
// the header). Err wraps ErrMalformed, ErrLimit or an *UnsupportedError.
type DecodeError struct {
	Offset  int
	Section wasm.SectionID
	Err     error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("wasm: %s section, offset %#x: %v", e.Section, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
