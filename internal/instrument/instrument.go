package instrument

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// Names of the contract between an instrumented module and its host
// (docs/fuel.md, "The contract").
const (
	HostModule        = "crowdrun"
	OutOfFuelName     = "out_of_fuel"
	TrapName          = "trap"
	FuelExport        = "crowdrun.fuel"
	MemLimitExport    = "crowdrun.mem_limit_hit"
	CustomSection     = "crowdrun"
	reservedPrefix    = "crowdrun."
	TrapStackOverflow = 1
)

// Fuel schedules (docs/fuel.md). Both count the same instructions at the
// same weights; they differ in where the count is checked (and so where a
// run can stop or suspend) and in which frames the depth limit counts.
const (
	// ScheduleV1 checks at every function entry and loop header, and
	// counts the frame of every function that makes calls.
	ScheduleV1 = "v1"
	// ScheduleV2 checks neither the entry nor the depth of a function
	// whose whole call tree is small and free of loops, recursion and
	// indirect calls (see unchecked.go).
	ScheduleV2 = "v2"
	// ScheduleV3 (the default) is ScheduleV2 with a shorter NaN test in
	// the canonicalisation (x >= x instead of x != x, see canonNaN): the
	// same counts, checks and values, but other bytes, so a module
	// instrumented under v1 or v2 (whose checkpoints name it by hash)
	// comes out exactly as before.
	ScheduleV3 = "v3"
	// DefaultSchedule is the schedule of DefaultOptions.
	DefaultSchedule = ScheduleV3
)

// DefaultStackLimit is the default call-depth limit. See docs/fuel.md ("Call
// depth") for the measurements behind it: it is far below the depth at which
// wazero (interpreter: ~2,000 frames; compiler) and V8 with its default stack
// overflow for heavy frames.
const DefaultStackLimit = 1000

// Errors returned by Instrument and InstrumentModule; test with errors.Is.
var (
	// ErrUnsupported: the module uses a feature crowdrun refuses (threads and
	// atomics, relaxed SIMD, multi-memory, memory64, ...). Errors from the
	// codec's own refusals also match binary.ErrUnsupported.
	ErrUnsupported = errors.New("unsupported feature")
	// ErrForbiddenImport: Options.AllowImport refused an import.
	ErrForbiddenImport = errors.New("forbidden import")
	// ErrReserved: the module uses a name reserved for crowdrun (imports from
	// module "crowdrun", exports named "crowdrun.*", a "crowdrun" custom
	// section), for example because it was already instrumented.
	ErrReserved = errors.New("reserved name")
	// ErrInvalid: the module is not a valid WebAssembly module.
	ErrInvalid = errors.New("invalid module")
	// ErrMemoryCap: the module's initial memory is above Options.MemoryCapPages.
	ErrMemoryCap = errors.New("initial memory above the cap")
	// ErrOptions: the options are invalid (e.g. an unknown schedule).
	ErrOptions = errors.New("invalid instrumentation options")
)

// Options configure the rewrite. The zero value is not the default: start
// from DefaultOptions.
type Options struct {
	// Schedule names the fuel schedule; "" means ScheduleV1, the schedule
	// of every module instrumented before ScheduleV2 existed.
	Schedule string
	// StackLimit is the call-depth limit (frames of functions that make
	// calls); 0 means DefaultStackLimit.
	StackLimit uint32
	// MemoryCapPages caps linear memory in 64 KiB pages; 0 means no cap
	// beyond the module's own maximum (and the 4 GiB of wasm32).
	MemoryCapPages uint32
	// CanonicalizeNaN replaces every NaN produced by a float operation with
	// the canonical NaN of its type.
	CanonicalizeNaN bool
	// AllowImport decides whether a function import is acceptable; a non-nil
	// error refuses the module (wrapped in ErrForbiddenImport). Nil allows
	// every import outside module "crowdrun".
	AllowImport func(module, name string, typ wasm.FuncType) error

	// exportDepth, when set, exports the depth counter under that name.
	// Only tests use it: a host that reuses an instance after a trap must
	// reset the counter, which the contract never needs.
	exportDepth string
}

// DefaultOptions returns the default options: DefaultSchedule,
// DefaultStackLimit, no memory cap, NaN canonicalisation on, all imports
// allowed.
func DefaultOptions() Options {
	return Options{Schedule: DefaultSchedule, StackLimit: DefaultStackLimit, CanonicalizeNaN: true}
}

func (o Options) withDefaults() (Options, error) {
	if o.Schedule == "" {
		o.Schedule = ScheduleV1
	}
	if o.Schedule != ScheduleV1 && o.Schedule != ScheduleV2 && o.Schedule != ScheduleV3 {
		return o, fmt.Errorf("%w: unknown fuel schedule %q (known: %s, %s, %s)", ErrOptions, o.Schedule, ScheduleV1, ScheduleV2, ScheduleV3)
	}
	if o.StackLimit == 0 {
		o.StackLimit = DefaultStackLimit
	}
	if o.StackLimit > 1<<30 {
		return o, fmt.Errorf("%w: stack limit %d is too large", ErrOptions, o.StackLimit)
	}
	if o.MemoryCapPages > 65536 {
		return o, fmt.Errorf("%w: memory cap of %d pages is above the 4 GiB of wasm32", ErrOptions, o.MemoryCapPages)
	}
	return o, nil
}

// Metadata is the JSON content of the "crowdrun" custom section of an
// instrumented module.
type Metadata struct {
	Version         int    `json:"version"`
	Schedule        string `json:"schedule"`
	StackLimit      uint32 `json:"stack_limit"`
	MemoryCapPages  uint32 `json:"memory_cap_pages,omitempty"`
	CanonicalizeNaN bool   `json:"nan_canonicalization"`
}

// Instrument decodes bin, instruments it with opts and encodes the result.
func Instrument(bin []byte, opts Options) ([]byte, error) {
	m, err := binary.Decode(bin)
	if err != nil {
		if errors.Is(err, binary.ErrUnsupported) {
			return nil, &unsupportedError{err}
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := InstrumentModule(m, opts); err != nil {
		return nil, err
	}
	return binary.Encode(m), nil
}

// unsupportedError wraps a codec refusal so that it matches both
// ErrUnsupported and binary.ErrUnsupported (and keeps the feature name).
type unsupportedError struct{ err error }

func (e *unsupportedError) Error() string   { return e.err.Error() }
func (e *unsupportedError) Unwrap() []error { return []error{ErrUnsupported, e.err} }

// InstrumentModule rewrites m in place. On error m may be partly modified and
// must be discarded.
func InstrumentModule(m *wasm.Module, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := checkModule(m, opts); err != nil {
		return err
	}
	if err := validateIndices(m); err != nil {
		return err
	}

	dropCodeOffsetSections(m)

	in := &inst{m: m, opts: opts}
	// Imports first: AddFuncImport renumbers every defined function.
	in.oof = m.AddFuncImport(HostModule, OutOfFuelName, wasm.FuncType{})
	in.trap = m.AddFuncImport(HostModule, TrapName, wasm.FuncType{Params: []wasm.ValType{wasm.I32}})
	in.fuel = m.AddGlobal(wasm.GlobalType{Type: wasm.I64, Mutable: true}, wasm.ConstExpr(wasm.I64Const(0)))
	in.memHit = m.AddGlobal(wasm.GlobalType{Type: wasm.I32, Mutable: true}, wasm.ConstExpr(wasm.I32Const(0)))
	in.depth = m.AddGlobal(wasm.GlobalType{Type: wasm.I32, Mutable: true}, wasm.ConstExpr(wasm.I32Const(0)))
	if err := m.AddExport(FuelExport, wasm.ExternGlobal, in.fuel); err != nil {
		return fmt.Errorf("%w: %w", ErrReserved, err)
	}
	if err := m.AddExport(MemLimitExport, wasm.ExternGlobal, in.memHit); err != nil {
		return fmt.Errorf("%w: %w", ErrReserved, err)
	}
	if opts.exportDepth != "" {
		if err := m.AddExport(opts.exportDepth, wasm.ExternGlobal, in.depth); err != nil {
			return err
		}
	}
	if err := in.memoryCap(); err != nil {
		return err
	}
	if opts.Schedule != ScheduleV1 {
		in.unchecked = uncheckedFuncs(m)
	}
	for i := range m.Funcs {
		if err := in.function(uint32(i)+m.NumImportedFuncs(), &m.Funcs[i]); err != nil {
			return fmt.Errorf("function %d: %w", uint32(i)+m.NumImportedFuncs(), err)
		}
	}
	meta, _ := json.Marshal(Metadata{
		Version: 1, Schedule: opts.Schedule, StackLimit: opts.StackLimit,
		MemoryCapPages: opts.MemoryCapPages, CanonicalizeNaN: opts.CanonicalizeNaN,
	})
	m.Customs = append(m.Customs, wasm.CustomSection{Name: CustomSection, Data: meta, After: wasm.SectionData})
	return nil
}

// inst is the state of one module's rewrite.
type inst struct {
	m    *wasm.Module
	opts Options
	// function indices of the crowdrun imports, global indices of ours
	oof, trap           uint32
	fuel, memHit, depth uint32
	importedMemory      bool
	capCheck            bool // memory.grow must check the cap inline
	// unchecked[i]: defined function i gets no entry check and no depth
	// count (schedule v2 only; nil under v1).
	unchecked []bool
}

// checkModule enforces the reserved names, the import policy and the
// features crowdrun refuses that the codec lets through.
func checkModule(m *wasm.Module, opts Options) error {
	if m.NumMemories() > 1 {
		return fmt.Errorf("%w: multi-memory (%d memories)", ErrUnsupported, m.NumMemories())
	}
	for _, c := range m.Customs {
		if c.Name == CustomSection {
			return fmt.Errorf("%w: the module has a %q custom section (already instrumented?)", ErrReserved, CustomSection)
		}
	}
	for _, e := range m.Exports {
		if strings.HasPrefix(e.Name, reservedPrefix) {
			return fmt.Errorf("%w: export %q (names starting with %q are crowdrun's)", ErrReserved, e.Name, reservedPrefix)
		}
	}
	for _, imp := range m.Imports {
		if imp.Module == HostModule {
			return fmt.Errorf("%w: import %s.%s (module %q is crowdrun's)", ErrReserved, imp.Module, imp.Name, HostModule)
		}
		if imp.Kind != wasm.ExternFunc {
			continue
		}
		if uint64(imp.Type) >= uint64(len(m.Types)) {
			return fmt.Errorf("%w: import %s.%s has type index %d out of range", ErrInvalid, imp.Module, imp.Name, imp.Type)
		}
		if opts.AllowImport != nil {
			if err := opts.AllowImport(imp.Module, imp.Name, m.Types[imp.Type]); err != nil {
				return &ImportError{Module: imp.Module, Name: imp.Name, Type: m.Types[imp.Type], Err: err}
			}
		}
	}
	return nil
}

// ImportError reports an import refused by Options.AllowImport. It matches
// ErrForbiddenImport and the policy's own error with errors.Is.
type ImportError struct {
	Module, Name string
	Type         wasm.FuncType
	Err          error
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("forbidden import: function %s.%s %v: %v", e.Module, e.Name, e.Type, e.Err)
}

// Unwrap returns ErrForbiddenImport and the policy's error.
func (e *ImportError) Unwrap() []error { return []error{ErrForbiddenImport, e.Err} }

// memoryCap lowers the memory's maximum to the cap. An imported memory's
// declared maximum cannot be lowered without changing what links, so
// memory.grow checks the cap inline there.
func (in *inst) memoryCap() error {
	capPages := in.opts.MemoryCapPages
	for i := range in.m.Imports {
		imp := &in.m.Imports[i]
		if imp.Kind != wasm.ExternMemory {
			continue
		}
		in.importedMemory = true
		if capPages == 0 {
			return nil
		}
		if imp.Memory.Limits.Min > capPages {
			return fmt.Errorf("%w: imported memory %s.%s starts with %d pages, the cap is %d", ErrMemoryCap, imp.Module, imp.Name, imp.Memory.Limits.Min, capPages)
		}
		if !imp.Memory.Limits.HasMax || imp.Memory.Limits.Max > capPages {
			in.capCheck = true
		}
		return nil
	}
	if capPages == 0 || len(in.m.Memories) == 0 {
		return nil
	}
	l := &in.m.Memories[0].Limits
	if l.Min > capPages {
		return fmt.Errorf("%w: the memory starts with %d pages (%d MiB), the cap is %d pages", ErrMemoryCap, l.Min, uint64(l.Min)*64/1024, capPages)
	}
	if !l.HasMax || l.Max > capPages {
		l.HasMax, l.Max = true, capPages
	}
	return nil
}

// dropCodeOffsetSections removes the custom sections that describe the code
// by byte offsets: DWARF (".debug_*"), "external_debug_info" and
// "sourceMappingURL". Their offsets are those of the original code, which
// the rewrite moves, so kept they would be wrong; and engines that read
// DWARF to annotate a trap (wazero does) can spend far longer on that than
// on the run (a trap in a module built with -g cost ~0.5 s). The "name"
// section stays: it names functions by index, and index shifts remap it.
func dropCodeOffsetSections(m *wasm.Module) {
	kept := m.Customs[:0]
	for _, c := range m.Customs {
		if strings.HasPrefix(c.Name, ".debug_") || c.Name == "external_debug_info" || c.Name == "sourceMappingURL" {
			continue
		}
		kept = append(kept, c)
	}
	m.Customs = kept
}
