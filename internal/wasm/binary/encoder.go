package binary

import (
	"encoding/binary"
	"math/bits"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Encode encodes m in the binary format. Encoding is canonical: LEB128
// integers are minimal and empty sections are omitted, so for input produced
// by a canonical encoder (every toolchain we know of), Encode(Decode(b)) == b.
// Encode does not validate m; an invalid module encodes to an invalid binary.
func Encode(m *wasm.Module) []byte {
	return AppendEncode(make([]byte, 0, estimateSize(m)), m)
}

// AppendEncode appends the encoding of m to dst.
func AppendEncode(dst []byte, m *wasm.Module) []byte {
	e := encoder{}
	dst = append(dst, magic...)
	dst = append(dst, 1, 0, 0, 0)
	dst = e.customs(dst, m, wasm.SectionNone)
	for _, id := range wasm.SectionOrder {
		start := len(dst)
		dst = append(dst, byte(id), 0, 0, 0, 0, 0)
		var ok bool
		if dst, ok = e.section(dst, m, id); !ok {
			dst = dst[:start+1]
			if ok = hasCustomAfter(m, id) && emptySection(id); ok {
				dst = append(dst, 0, 0, 0, 0, 0, 0) // size and an empty vector
			}
		}
		if ok {
			dst = finishSized(dst, start+1)
		} else {
			dst = dst[:start]
		}
		dst = e.customs(dst, m, id)
	}
	return dst
}

// finishSized writes the size of the contents following the 5 bytes
// reserved at start as a minimal LEB128 and moves the contents down.
func finishSized(b []byte, start int) []byte {
	n := len(b) - start - 5
	l := sizeU32(uint32(n))
	appendU32(b[start:start], uint32(n))
	if l < 5 {
		copy(b[start+l:], b[start+5:])
		b = b[:len(b)-(5-l)]
	}
	return b
}

type encoder struct{}

func (e *encoder) customs(dst []byte, m *wasm.Module, after wasm.SectionID) []byte {
	for i := range m.Customs {
		c := &m.Customs[i]
		if c.After != after {
			continue
		}
		dst = append(dst, byte(wasm.SectionCustom))
		dst = appendU32(dst, uint32(sizeU32(uint32(len(c.Name)))+len(c.Name)+len(c.Data)))
		dst = appendName(dst, c.Name)
		dst = append(dst, c.Data...)
	}
	return dst
}

// section appends the contents of section id to b and reports whether the
// section is present.
func (e *encoder) section(b []byte, m *wasm.Module, id wasm.SectionID) ([]byte, bool) {
	switch id {
	case wasm.SectionType:
		if len(m.Types) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Types)))
		for _, t := range m.Types {
			b = append(b, 0x60)
			b = appendValTypes(b, t.Params)
			b = appendValTypes(b, t.Results)
		}
	case wasm.SectionImport:
		if len(m.Imports) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Imports)))
		for i := range m.Imports {
			im := &m.Imports[i]
			b = appendName(b, im.Module)
			b = appendName(b, im.Name)
			b = append(b, byte(im.Kind))
			switch im.Kind {
			case wasm.ExternFunc:
				b = appendU32(b, im.Type)
			case wasm.ExternTable:
				b = appendTableType(b, im.Table)
			case wasm.ExternMemory:
				b = appendLimits(b, im.Memory.Limits)
			case wasm.ExternGlobal:
				b = append(b, byte(im.Global.Type), boolByte(im.Global.Mutable))
			}
		}
	case wasm.SectionFunction:
		if len(m.Funcs) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Funcs)))
		for i := range m.Funcs {
			b = appendU32(b, m.Funcs[i].Type)
		}
	case wasm.SectionTable:
		if len(m.Tables) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Tables)))
		for _, t := range m.Tables {
			b = appendTableType(b, t)
		}
	case wasm.SectionMemory:
		if len(m.Memories) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Memories)))
		for _, mt := range m.Memories {
			b = appendLimits(b, mt.Limits)
		}
	case wasm.SectionGlobal:
		if len(m.Globals) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Globals)))
		for i := range m.Globals {
			g := &m.Globals[i]
			b = append(b, byte(g.Type.Type), boolByte(g.Type.Mutable))
			b = AppendInstrs(b, g.Init)
		}
	case wasm.SectionExport:
		if len(m.Exports) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Exports)))
		for _, x := range m.Exports {
			b = appendName(b, x.Name)
			b = append(b, byte(x.Kind))
			b = appendU32(b, x.Index)
		}
	case wasm.SectionStart:
		if m.Start == nil {
			return b, false
		}
		b = appendU32(b, *m.Start)
	case wasm.SectionElement:
		if len(m.Elems) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Elems)))
		for i := range m.Elems {
			b = appendElem(b, &m.Elems[i])
		}
	case wasm.SectionDataCount:
		if m.DataCount == nil {
			return b, false
		}
		b = appendU32(b, *m.DataCount)
	case wasm.SectionCode:
		if len(m.Funcs) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Funcs)))
		for i := range m.Funcs {
			f := &m.Funcs[i]
			start := len(b)
			b = append(b, 0, 0, 0, 0, 0)
			b = appendU32(b, uint32(len(f.Locals)))
			for _, l := range f.Locals {
				b = appendU32(b, l.Count)
				b = append(b, byte(l.Type))
			}
			b = AppendInstrs(b, f.Body)
			b = finishSized(b, start)
		}
	case wasm.SectionData:
		if len(m.Datas) == 0 {
			return b, false
		}
		b = appendU32(b, uint32(len(m.Datas)))
		for i := range m.Datas {
			s := &m.Datas[i]
			switch {
			case s.Mode == wasm.ModePassive:
				b = append(b, 1)
			case s.ExplicitMemory || s.Memory != 0:
				b = append(b, 2)
				b = appendU32(b, s.Memory)
				b = AppendInstrs(b, s.Offset)
			default:
				b = append(b, 0)
				b = AppendInstrs(b, s.Offset)
			}
			b = appendU32(b, uint32(len(s.Init)))
			b = append(b, s.Init...)
		}
	default:
		return b, false
	}
	return b, true
}

func appendElem(b []byte, s *wasm.Elem) []byte {
	exprs := s.Exprs != nil
	var flags uint32
	if exprs {
		flags |= 4
	}
	switch s.Mode {
	case wasm.ModeActive:
		if s.ExplicitTable || s.Table != 0 || s.Type != wasm.FuncRef {
			flags |= 2
		}
	case wasm.ModePassive:
		flags |= 1
	case wasm.ModeDeclarative:
		flags |= 3
	}
	b = appendU32(b, flags)
	if s.Mode == wasm.ModeActive {
		if flags&2 != 0 {
			b = appendU32(b, s.Table)
		}
		b = AppendInstrs(b, s.Offset)
	}
	if flags&3 != 0 {
		if exprs {
			b = append(b, byte(s.Type))
		} else {
			b = append(b, 0) // elemkind funcref
		}
	}
	if exprs {
		b = appendU32(b, uint32(len(s.Exprs)))
		for _, x := range s.Exprs {
			b = AppendInstrs(b, x)
		}
	} else {
		b = appendU32(b, uint32(len(s.Funcs)))
		for _, f := range s.Funcs {
			b = appendU32(b, f)
		}
	}
	return b
}

// AppendInstrs appends the encoding of a flat instruction sequence.
func AppendInstrs(b []byte, ins []wasm.Instr) []byte {
	for i := range ins {
		b = AppendInstr(b, &ins[i])
	}
	return b
}

// AppendInstr appends the encoding of one instruction.
func AppendInstr(b []byte, in *wasm.Instr) []byte {
	if p := in.Op.Prefix(); p != 0 {
		b = append(b, p)
		b = appendU32(b, in.Op.Sub())
	} else {
		b = append(b, byte(in.Op))
	}
	switch in.Op.Imm() {
	case wasm.ImmNone:
	case wasm.ImmBlockType:
		b = appendS64(b, int64(in.Block))
	case wasm.ImmLabel, wasm.ImmFunc, wasm.ImmLocal, wasm.ImmGlobal, wasm.ImmTable, wasm.ImmElem, wasm.ImmData:
		b = appendU32(b, in.Index)
	case wasm.ImmBrTable:
		b = appendU32(b, uint32(len(in.Labels)))
		for _, l := range in.Labels {
			b = appendU32(b, l)
		}
		b = appendU32(b, in.Index)
	case wasm.ImmCallIndirect, wasm.ImmTableCopy, wasm.ImmTableInit:
		b = appendU32(b, in.Index)
		b = appendU32(b, in.Index2)
	case wasm.ImmMemory:
		b = append(b, byte(in.Index))
	case wasm.ImmMemoryCopy:
		b = append(b, byte(in.Index), byte(in.Index2))
	case wasm.ImmMemoryInit:
		b = appendU32(b, in.Index)
		b = append(b, byte(in.Index2))
	case wasm.ImmMemArg:
		b = appendU32(b, in.Align)
		b = appendU32(b, uint32(in.Imm))
	case wasm.ImmMemArgLane:
		b = appendU32(b, in.Align)
		b = appendU32(b, uint32(in.Imm))
		b = append(b, byte(in.Index))
	case wasm.ImmLane:
		b = append(b, byte(in.Index))
	case wasm.ImmI32:
		b = appendS64(b, int64(int32(uint32(in.Imm))))
	case wasm.ImmI64:
		b = appendS64(b, int64(in.Imm))
	case wasm.ImmF32:
		b = binary.LittleEndian.AppendUint32(b, uint32(in.Imm))
	case wasm.ImmF64:
		b = binary.LittleEndian.AppendUint64(b, in.Imm)
	case wasm.ImmV128, wasm.ImmShuffle:
		b = binary.LittleEndian.AppendUint64(b, in.Imm)
		b = binary.LittleEndian.AppendUint64(b, in.Imm2)
	case wasm.ImmSelectT:
		b = appendValTypes(b, in.Types)
	case wasm.ImmRefType:
		b = append(b, byte(in.Index))
	}
	return b
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sizeU32(v uint32) int { return (bits.Len32(v|1) + 6) / 7 }

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendValTypes(b []byte, ts []wasm.ValType) []byte {
	b = appendU32(b, uint32(len(ts)))
	for _, t := range ts {
		b = append(b, byte(t))
	}
	return b
}

func appendLimits(b []byte, l wasm.Limits) []byte {
	if l.HasMax {
		b = append(b, 1)
		b = appendU32(b, l.Min)
		return appendU32(b, l.Max)
	}
	b = append(b, 0)
	return appendU32(b, l.Min)
}

func appendTableType(b []byte, t wasm.TableType) []byte {
	return appendLimits(append(b, byte(t.Elem)), t.Limits)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// estimateSize returns a guess of the encoded size, to size the output once.
func estimateSize(m *wasm.Module) int {
	n := 64
	for i := range m.Funcs {
		n += 4 + 2*len(m.Funcs[i].Body)
	}
	for i := range m.Datas {
		n += 8 + len(m.Datas[i].Init)
	}
	for i := range m.Customs {
		n += 8 + len(m.Customs[i].Name) + len(m.Customs[i].Data)
	}
	return n
}

func hasCustomAfter(m *wasm.Module, id wasm.SectionID) bool {
	for i := range m.Customs {
		if m.Customs[i].After == id {
			return true
		}
	}
	return false
}

// emptySection reports whether section id can be encoded as an empty vector,
// which keeps a custom section recorded after it in place. Start and
// datacount cannot.
func emptySection(id wasm.SectionID) bool {
	return id != wasm.SectionStart && id != wasm.SectionDataCount
}
