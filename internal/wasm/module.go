package wasm

// SectionID identifies a section of the binary format.
type SectionID byte

// Section IDs. SectionNone is used as CustomSection.After for custom sections
// that come before every standard section.
const (
	SectionCustom    SectionID = 0
	SectionType      SectionID = 1
	SectionImport    SectionID = 2
	SectionFunction  SectionID = 3
	SectionTable     SectionID = 4
	SectionMemory    SectionID = 5
	SectionGlobal    SectionID = 6
	SectionExport    SectionID = 7
	SectionStart     SectionID = 8
	SectionElement   SectionID = 9
	SectionCode      SectionID = 10
	SectionData      SectionID = 11
	SectionDataCount SectionID = 12
	SectionTag       SectionID = 13 // exception handling; rejected

	SectionNone SectionID = 0
)

// SectionOrder is the order in which standard sections must appear.
var SectionOrder = [...]SectionID{
	SectionType, SectionImport, SectionFunction, SectionTable, SectionMemory,
	SectionGlobal, SectionExport, SectionStart, SectionElement, SectionDataCount,
	SectionCode, SectionData,
}

func (id SectionID) String() string {
	switch id {
	case SectionCustom:
		return "custom"
	case SectionType:
		return "type"
	case SectionImport:
		return "import"
	case SectionFunction:
		return "function"
	case SectionTable:
		return "table"
	case SectionMemory:
		return "memory"
	case SectionGlobal:
		return "global"
	case SectionExport:
		return "export"
	case SectionStart:
		return "start"
	case SectionElement:
		return "element"
	case SectionCode:
		return "code"
	case SectionData:
		return "data"
	case SectionDataCount:
		return "datacount"
	case SectionTag:
		return "tag"
	}
	return "unknown"
}

// Module is a decoded WebAssembly 2.0 module. Index spaces follow the spec:
// imported functions (globals, tables, memories) come first, then defined ones.
type Module struct {
	Types   []FuncType
	Imports []Import
	// Funcs are the defined functions: the function and code sections merged.
	Funcs    []Func
	Tables   []TableType
	Memories []MemoryType
	Globals  []Global
	Exports  []Export
	// Start is the start function index, or nil when there is none.
	Start *uint32
	Elems []Elem
	// DataCount is the datacount section's value, or nil when absent.
	DataCount *uint32
	Datas     []Data
	// Customs are the custom sections in their original order.
	Customs []CustomSection
}

// Import is one entry of the import section. Exactly one of the descriptor
// fields is meaningful, selected by Kind.
type Import struct {
	Module string
	Name   string
	Kind   ExternKind
	Type   uint32 // ExternFunc: type index
	Table  TableType
	Memory MemoryType
	Global GlobalType
}

// Func is a defined function: its type index, local declarations and body.
type Func struct {
	Type uint32
	// Locals are the local declarations as run-length groups, kept as in the
	// binary so re-encoding is byte-identical. Params are not included.
	Locals []LocalGroup
	// Body is the flat instruction sequence, including the final OpEnd.
	Body []Instr
}

// LocalGroup declares Count locals of type Type.
type LocalGroup struct {
	Count uint32
	Type  ValType
}

// NumLocals returns the number of declared locals (excluding params).
func (f *Func) NumLocals() uint64 {
	var n uint64
	for _, g := range f.Locals {
		n += uint64(g.Count)
	}
	return n
}

// Global is a defined global with its constant initialiser (ending in OpEnd).
type Global struct {
	Type GlobalType
	Init []Instr
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// ElemMode is the mode of an element or data segment.
type ElemMode byte

// Segment modes.
const (
	ModeActive      ElemMode = 0
	ModePassive     ElemMode = 1
	ModeDeclarative ElemMode = 2 // element segments only
)

// Elem is an element segment. The eight binary encodings map onto it as:
// bit 0 of the flags selects passive/declarative (Mode), bit 1 an explicit
// table index or element kind (ExplicitTable for active segments), bit 2
// expressions (Exprs != nil) instead of function indices (Funcs).
type Elem struct {
	Mode   ElemMode
	Table  uint32  // active only
	Offset []Instr // active only; constant expression ending in OpEnd
	Type   ValType // FuncRef or ExternRef
	// Funcs holds function indices for the index encodings (flags 0-3).
	Funcs []uint32
	// Exprs holds one constant expression (ending in OpEnd) per element for
	// the expression encodings (flags 4-7). Non-nil selects those encodings.
	Exprs [][]Instr
	// ExplicitTable keeps an active segment with table 0 and funcref in the
	// flags-2/6 form (table index and element kind spelled out) when encoded.
	ExplicitTable bool
}

// Len returns the number of elements of the segment.
func (e *Elem) Len() int {
	if e.Exprs != nil {
		return len(e.Exprs)
	}
	return len(e.Funcs)
}

// Data is a data segment.
type Data struct {
	Mode   ElemMode // ModeActive or ModePassive
	Memory uint32   // active only; always 0 (multi-memory is rejected)
	Offset []Instr  // active only; constant expression ending in OpEnd
	Init   []byte
	// ExplicitMemory keeps the flags-2 form (memory index spelled out).
	ExplicitMemory bool
}

// CustomSection is a custom section with its position: After is the ID of the
// last standard section preceding it in the binary (SectionNone if none).
// Encoding emits custom sections after that section, in slice order, even if
// that section is itself empty and omitted.
type CustomSection struct {
	Name  string
	Data  []byte
	After SectionID
}
