package binary

import (
	"bytes"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Decoder limits. They bound memory use on hostile input beyond the rule that
// no vector is allocated larger than the remaining input permits, and are far
// above what real toolchains emit (a large Go program has ~30k functions).
const (
	MaxTypes    = 1 << 20
	MaxImports  = 1 << 20
	MaxFuncs    = 1 << 20
	MaxTables   = 1 << 16
	MaxGlobals  = 1 << 20
	MaxExports  = 1 << 20
	MaxSegments = 1 << 20
	MaxParams   = 1000 // per signature, like V8
	MaxLocals   = 50000
	// MaxTotalLocals bounds the locals of all functions together: wazero's
	// compiler allocates per local, so 200 functions of 50000 v128 locals
	// (1.6 kB of wasm) cost it 628 MB and 2 s to compile.
	MaxTotalLocals   = 1 << 21
	MaxBlockDepth    = 1 << 16
	MaxInstructions  = 1 << 26 // in the whole module
	maxCustomSection = 1 << 30
)

var magic = []byte{0x00, 0x61, 0x73, 0x6d}

// Decode decodes a WebAssembly 2.0 binary module. It checks the binary format
// (structure, LEB128 encodings, UTF-8 names, section order and sizes, opcode
// and immediate encodings) but does not validate types; wazero does that when
// the module is compiled. Errors are *DecodeError wrapping ErrMalformed,
// ErrLimit or an *UnsupportedError.
//
// The returned module aliases data for custom section contents and data
// segment initialisers; callers must not modify data afterwards.
func Decode(data []byte) (*wasm.Module, error) {
	d := &decoder{r: reader{b: data, end: len(data)}}
	m := d.module()
	if d.r.err != nil {
		return nil, d.r.err
	}
	return m, nil
}

type decoder struct {
	r       reader
	m       *wasm.Module
	funcs   []uint32 // function section type indices
	hasFunc bool
	// arenas for instruction sequences, sliced with full slice expressions
	// so appending to one body never overwrites another.
	instrs      []wasm.Instr
	exprs       []wasm.Instr
	scratch     []wasm.Instr
	labels      []uint32
	total       int
	needsDC     bool // memory.init or data.drop seen
	totalLocals uint64
	depthBuf    []byte
}

func (d *decoder) module() *wasm.Module {
	r := &d.r
	if len(r.b) < 4 || !bytes.Equal(r.b[:4], magic) {
		r.fail("magic header not detected")
		return nil
	}
	r.pos = 4
	if len(r.b) < 8 {
		r.fail("unexpected end: binary version")
		return nil
	}
	switch v := r.b[4:8]; {
	case bytes.Equal(v, []byte{1, 0, 0, 0}):
	case v[2] == 1 && v[3] == 0: // layer 1: component
		r.unsupported(4, FeatureComponentModel)
		return nil
	default:
		r.fail("unknown binary version % x", v)
		return nil
	}
	r.pos = 8
	m := &wasm.Module{}
	d.m = m
	var (
		last     = -1 // position in wasm.SectionOrder of the last standard section
		lastID   = wasm.SectionNone
		codeSeen bool
		dataSeen bool
	)
	for r.pos < len(r.b) && r.err == nil {
		r.sec = wasm.SectionCustom
		r.end = len(r.b)
		start := r.pos
		id := wasm.SectionID(r.byte())
		size := r.u32()
		if r.err != nil {
			return nil
		}
		if uint64(size) > uint64(r.remaining()) {
			r.failAt(start, fmt.Errorf("%w: section size mismatch: %s section of %d bytes, %d remain", ErrMalformed, id, size, r.remaining()))
			return nil
		}
		r.end = r.pos + int(size)
		r.sec = id
		if id == wasm.SectionCustom {
			name := r.name()
			if r.err != nil {
				return nil
			}
			m.Customs = append(m.Customs, wasm.CustomSection{Name: name, Data: r.bytes(uint32(r.remaining())), After: lastID})
			continue
		}
		if id == wasm.SectionTag {
			r.unsupported(start, FeatureExceptions)
			return nil
		}
		order := -1
		for i, s := range wasm.SectionOrder {
			if s == id {
				order = i
			}
		}
		if order < 0 {
			r.failAt(start, fmt.Errorf("%w: malformed section id %d", ErrMalformed, id))
			return nil
		}
		if order <= last {
			r.failAt(start, fmt.Errorf("%w: unexpected content after last section: %s section after %s section", ErrMalformed, id, lastID))
			return nil
		}
		last, lastID = order, id
		switch id {
		case wasm.SectionType:
			d.typeSection()
		case wasm.SectionImport:
			d.importSection()
		case wasm.SectionFunction:
			d.functionSection()
		case wasm.SectionTable:
			d.tableSection()
		case wasm.SectionMemory:
			d.memorySection()
		case wasm.SectionGlobal:
			d.globalSection()
		case wasm.SectionExport:
			d.exportSection()
		case wasm.SectionStart:
			s := r.u32()
			m.Start = &s
		case wasm.SectionElement:
			d.elementSection()
		case wasm.SectionDataCount:
			c := r.u32()
			m.DataCount = &c
		case wasm.SectionCode:
			codeSeen = true
			d.codeSection()
		case wasm.SectionData:
			dataSeen = true
			d.dataSection()
		}
		if r.err == nil && r.pos != r.end {
			r.fail("section size mismatch: %d bytes left in %s section", r.end-r.pos, id)
		}
	}
	if r.err != nil {
		return nil
	}
	r.sec = wasm.SectionCustom
	if !codeSeen && len(d.funcs) > 0 {
		r.fail("function and code section have inconsistent lengths: %d functions, no code section", len(d.funcs))
		return nil
	}
	if m.DataCount != nil && !dataSeen && *m.DataCount != 0 {
		r.fail("data count and data section have inconsistent lengths")
		return nil
	}
	if d.needsDC && m.DataCount == nil {
		r.fail("data count section required")
		return nil
	}
	return m
}

func (d *decoder) typeSection() {
	r := &d.r
	n := r.count("type", 1, MaxTypes)
	d.m.Types = makeSlice[wasm.FuncType](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		pos := r.pos
		switch form := r.byte(); form {
		case 0x60:
		case 0x5e, 0x5f, 0x50, 0x4f, 0x4e: // array, struct, sub, sub final, rec
			r.unsupported(pos, FeatureGC)
			return
		default:
			if r.err == nil {
				r.failAt(pos, fmt.Errorf("%w: integer representation too long: function type form 0x%02x", ErrMalformed, form))
			}
			return
		}
		var ft wasm.FuncType
		ft.Params = d.valTypes()
		ft.Results = d.valTypes()
		d.m.Types = append(d.m.Types, ft)
	}
}

func (d *decoder) valTypes() []wasm.ValType {
	r := &d.r
	n := r.count("value type", 1, MaxParams)
	if n == 0 {
		return nil
	}
	ts := make([]wasm.ValType, n)
	for i := range ts {
		ts[i] = r.valType()
	}
	return ts
}

func (d *decoder) importSection() {
	r := &d.r
	n := r.count("import", 4, MaxImports)
	d.m.Imports = makeSlice[wasm.Import](n)
	mems := 0
	for i := uint32(0); i < n && r.err == nil; i++ {
		im := wasm.Import{Module: r.name(), Name: r.name()}
		pos := r.pos
		kind := r.byte()
		im.Kind = wasm.ExternKind(kind)
		switch im.Kind {
		case wasm.ExternFunc:
			tpos := r.pos
			if im.Type = r.u32(); im.Type >= uint32(len(d.m.Types)) && r.err == nil {
				r.failAt(tpos, fmt.Errorf("%w: unknown type %d for imported function", ErrInvalid, im.Type))
			}
		case wasm.ExternTable:
			im.Table = r.tableType()
		case wasm.ExternMemory:
			im.Memory = wasm.MemoryType{Limits: r.limits(true)}
			if mems++; mems > 1 && r.err == nil {
				r.unsupported(pos, FeatureMultiMemory)
			}
		case wasm.ExternGlobal:
			im.Global = r.globalType()
		case 4:
			r.unsupported(pos, FeatureExceptions)
		default:
			if r.err == nil {
				r.failAt(pos, fmt.Errorf("%w: malformed import kind %d", ErrMalformed, kind))
			}
		}
		d.m.Imports = append(d.m.Imports, im)
	}
}

func (d *decoder) functionSection() {
	r := &d.r
	n := r.count("function", 1, MaxFuncs)
	d.funcs = makeSlice[uint32](n)[:n]
	for i := range d.funcs {
		pos := r.pos
		if d.funcs[i] = r.u32(); d.funcs[i] >= uint32(len(d.m.Types)) && r.err == nil {
			r.failAt(pos, fmt.Errorf("%w: unknown type %d for function %d", ErrInvalid, d.funcs[i], i))
		}
	}
}

func (d *decoder) tableSection() {
	r := &d.r
	n := r.count("table", 2, MaxTables)
	d.m.Tables = makeSlice[wasm.TableType](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		d.m.Tables = append(d.m.Tables, r.tableType())
	}
}

func (d *decoder) memorySection() {
	r := &d.r
	pos := r.pos
	n := r.count("memory", 2, 1<<16)
	if n+d.m.NumImportedMemories() > 1 {
		r.unsupported(pos, FeatureMultiMemory)
		return
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		d.m.Memories = append(d.m.Memories, wasm.MemoryType{Limits: r.limits(true)})
	}
}

func (d *decoder) globalSection() {
	r := &d.r
	n := r.count("global", 3, MaxGlobals)
	d.m.Globals = makeSlice[wasm.Global](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		g := wasm.Global{Type: r.globalType()}
		g.Init = d.expr()
		d.m.Globals = append(d.m.Globals, g)
	}
}

func (d *decoder) exportSection() {
	r := &d.r
	n := r.count("export", 3, MaxExports)
	d.m.Exports = makeSlice[wasm.Export](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := wasm.Export{Name: r.name()}
		pos := r.pos
		kind := r.byte()
		e.Kind = wasm.ExternKind(kind)
		e.Index = r.u32()
		if r.err != nil {
			return
		}
		switch {
		case kind == 4:
			r.unsupported(pos, FeatureExceptions)
		case kind > 4:
			r.failAt(pos, fmt.Errorf("%w: malformed export kind %d", ErrMalformed, kind))
		}
		d.m.Exports = append(d.m.Exports, e)
	}
}

func (d *decoder) elemKind() {
	r := &d.r
	pos := r.pos
	if k := r.byte(); k != 0 && r.err == nil {
		r.failAt(pos, fmt.Errorf("%w: malformed element kind 0x%02x", ErrMalformed, k))
	}
}

func (d *decoder) elementSection() {
	r := &d.r
	n := r.count("element segment", 2, MaxSegments)
	d.m.Elems = makeSlice[wasm.Elem](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		pos := r.pos
		flags := r.u32()
		if flags > 7 {
			if r.err == nil {
				r.failAt(pos, fmt.Errorf("%w: malformed elements segment kind %d", ErrMalformed, flags))
			}
			return
		}
		e := wasm.Elem{Type: wasm.FuncRef}
		switch {
		case flags&1 == 0:
			e.Mode = wasm.ModeActive
		case flags&2 == 0:
			e.Mode = wasm.ModePassive
		default:
			e.Mode = wasm.ModeDeclarative
		}
		if e.Mode == wasm.ModeActive {
			if flags&2 != 0 {
				e.ExplicitTable = true
				e.Table = r.u32()
			}
			e.Offset = d.expr()
		}
		exprs := flags&4 != 0
		if flags&3 != 0 { // element kind or reference type spelled out
			if exprs {
				e.Type = r.refType()
			} else {
				d.elemKind()
			}
		}
		if exprs {
			c := r.count("element", 1, MaxInstructions)
			e.Exprs = make([][]wasm.Instr, 0, c)
			for j := uint32(0); j < c && r.err == nil; j++ {
				e.Exprs = append(e.Exprs, d.expr())
			}
		} else {
			c := r.count("element", 1, MaxInstructions)
			e.Funcs = make([]uint32, c)
			for j := range e.Funcs {
				e.Funcs[j] = r.u32()
			}
		}
		d.m.Elems = append(d.m.Elems, e)
	}
}

func (d *decoder) dataSection() {
	r := &d.r
	n := r.count("data segment", 2, MaxSegments)
	if dc := d.m.DataCount; dc != nil && *dc != n && r.err == nil {
		r.fail("data count and data section have inconsistent lengths: %d and %d", *dc, n)
		return
	}
	d.m.Datas = makeSlice[wasm.Data](n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		pos := r.pos
		flags := r.u32()
		var s wasm.Data
		switch flags {
		case 0:
			s.Offset = d.expr()
		case 1:
			s.Mode = wasm.ModePassive
		case 2:
			s.ExplicitMemory = true
			mpos := r.pos
			if s.Memory = r.u32(); s.Memory != 0 && r.err == nil {
				r.unsupported(mpos, FeatureMultiMemory)
			}
			s.Offset = d.expr()
		default:
			if r.err == nil {
				r.failAt(pos, fmt.Errorf("%w: malformed data segment kind %d", ErrMalformed, flags))
			}
			return
		}
		s.Init = r.bytes(r.u32())
		d.m.Datas = append(d.m.Datas, s)
	}
}

func (d *decoder) codeSection() {
	r := &d.r
	pos := r.pos
	n := r.count("code", 2, MaxFuncs)
	if r.err != nil {
		return
	}
	if int(n) != len(d.funcs) {
		r.failAt(pos, fmt.Errorf("%w: function and code section have inconsistent lengths: %d and %d", ErrMalformed, len(d.funcs), n))
		return
	}
	// Reserve the instruction arena from the section size; real code
	// averages well over two bytes per instruction.
	d.instrs = make([]wasm.Instr, 0, r.remaining()/3+16)
	d.m.Funcs = makeSlice[wasm.Func](n)[:n]
	secEnd := r.end
	for i := range d.m.Funcs {
		if r.err != nil {
			return
		}
		f := &d.m.Funcs[i]
		f.Type = d.funcs[i]
		size := r.u32()
		if uint64(size) > uint64(r.remaining()) {
			r.fail("section size mismatch: function body of %d bytes, %d remain", size, r.remaining())
			return
		}
		r.end = r.pos + int(size)
		d.locals(f)
		f.Body = d.body()
		if r.err == nil && r.pos != r.end {
			r.fail("section size mismatch: %d bytes after the end of function %d", r.end-r.pos, i)
		}
		r.end = secEnd
	}
}

func (d *decoder) locals(f *wasm.Func) {
	r := &d.r
	n := r.count("local group", 2, MaxLocals)
	if n == 0 {
		return
	}
	f.Locals = make([]wasm.LocalGroup, n)
	var total uint64
	for i := range f.Locals {
		pos := r.pos
		f.Locals[i].Count = r.u32()
		total += uint64(f.Locals[i].Count)
		if total > 1<<32-1 && r.err == nil {
			r.failAt(pos, fmt.Errorf("%w: too many locals", ErrMalformed))
			return
		}
		f.Locals[i].Type = r.valType()
	}
	if total > MaxLocals && r.err == nil {
		r.limit("locals", total, MaxLocals)
	}
	if d.totalLocals += total; d.totalLocals > MaxTotalLocals && r.err == nil {
		r.limit("locals in the module", d.totalLocals, MaxTotalLocals)
	}
}

// body decodes instructions up to and including the end closing the current
// function or constant expression, and returns them as a full slice of the
// arena.
func (d *decoder) body() []wasm.Instr {
	d.scratch = d.instructions(d.scratch[:0])
	if d.r.err != nil {
		return nil
	}
	n := len(d.scratch)
	if d.total += n; d.total > MaxInstructions {
		d.r.limit("instructions", uint64(d.total), MaxInstructions)
		return nil
	}
	if cap(d.instrs)-len(d.instrs) < n {
		d.instrs = make([]wasm.Instr, 0, max(n, d.r.remaining()/3+16))
	}
	start := len(d.instrs)
	d.instrs = append(d.instrs, d.scratch...)
	return d.instrs[start : start+n : start+n]
}

// expr decodes a constant expression. They are short but may be many (Go
// emits thousands of data segments), so they share an arena whose chunks
// double in size.
func (d *decoder) expr() []wasm.Instr {
	d.scratch = d.instructions(d.scratch[:0])
	if d.r.err != nil {
		return nil
	}
	n := len(d.scratch)
	if d.total += n; d.total > MaxInstructions {
		d.r.limit("instructions", uint64(d.total), MaxInstructions)
		return nil
	}
	if cap(d.exprs)-len(d.exprs) < n {
		d.exprs = make([]wasm.Instr, 0, max(n, min(2*cap(d.exprs), 4096), 8))
	}
	start := len(d.exprs)
	d.exprs = append(d.exprs, d.scratch...)
	return d.exprs[start : start+n : start+n]
}

// makeSlice returns an empty slice with capacity n, or nil when n is 0, so
// that absent and empty sections decode alike.
func makeSlice[T any](n uint32) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}
