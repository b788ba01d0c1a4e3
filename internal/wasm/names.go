package wasm

import (
	"errors"
	"unicode/utf8"
)

var errNameSection = errors.New("malformed name section")

// Name section subsections whose maps are keyed by function index.
const (
	nameSubModule    = 0 // one name
	nameSubFunctions = 1 // namemap
	nameSubLocals    = 2 // indirectnamemap
	nameSubLabels    = 3 // indirectnamemap (extended name section)
)

// shiftNameSection returns a copy of the "name" custom section contents with
// every function index >= from incremented. It refuses a section whose
// module, function, local or label names do not parse exactly (lengths
// within their subsection, UTF-8), so that what it returns is a section
// engines read without surprises; other subsections are kept verbatim
// (engines skip them by their size).
func shiftNameSection(data []byte, from uint32) ([]byte, error) {
	out := make([]byte, 0, len(data)+16)
	p := nameParser{b: data}
	for p.pos < len(p.b) {
		id := p.byte()
		size := p.u32()
		if p.err != nil || uint64(size) > uint64(len(p.b)-p.pos) {
			return nil, errNameSection
		}
		sub := p.b[p.pos : p.pos+int(size)]
		p.pos += int(size)
		switch id {
		case nameSubModule:
			// Checked, not only copied: an engine reads the name's length
			// before its bytes, and wazero allocates that length (up to
			// 4 GiB) before finding that the subsection is shorter.
			q := nameParser{b: sub}
			l := q.u32()
			if q.err != nil || uint64(l) != uint64(len(sub)-q.pos) || !utf8.Valid(sub[q.pos:]) {
				return nil, errNameSection
			}
			out = append(out, id)
			out = appendLEB(out, size)
			out = append(out, sub...)
		case nameSubFunctions, nameSubLocals, nameSubLabels:
			q := nameParser{b: sub}
			var body []byte
			if id == nameSubFunctions {
				body = q.nameMap(nil, from, true)
			} else {
				body = q.indirectNameMap(nil, from)
			}
			if q.err != nil || q.pos != len(q.b) {
				return nil, errNameSection
			}
			out = append(out, id)
			out = appendLEB(out, uint32(len(body)))
			out = append(out, body...)
		default:
			out = append(out, id)
			out = appendLEB(out, size)
			out = append(out, sub...)
		}
	}
	if p.err != nil {
		return nil, errNameSection
	}
	return out, nil
}

type nameParser struct {
	b   []byte
	pos int
	err error
}

func (p *nameParser) byte() byte {
	if p.pos >= len(p.b) {
		p.err = errNameSection
		return 0
	}
	p.pos++
	return p.b[p.pos-1]
}

func (p *nameParser) u32() uint32 {
	var v uint32
	for i := 0; i < 5; i++ {
		b := p.byte()
		if p.err != nil {
			return 0
		}
		v |= uint32(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v
		}
	}
	p.err = errNameSection
	return 0
}

// nameMap copies a namemap, shifting its keys if shift is set.
func (p *nameParser) nameMap(out []byte, from uint32, shift bool) []byte {
	n := p.u32()
	out = appendLEB(out, n)
	for i := uint32(0); i < n && p.err == nil; i++ {
		idx := p.u32()
		if shift && idx >= from {
			idx++
		}
		l := p.u32()
		// A name that is not UTF-8 makes engines (wazero) refuse the
		// whole module, although a custom section cannot make one invalid.
		if p.err != nil || uint64(l) > uint64(len(p.b)-p.pos) || !utf8.Valid(p.b[p.pos:p.pos+int(l)]) {
			p.err = errNameSection
			return out
		}
		out = appendLEB(out, idx)
		out = appendLEB(out, l)
		out = append(out, p.b[p.pos:p.pos+int(l)]...)
		p.pos += int(l)
	}
	return out
}

// indirectNameMap copies an indirectnamemap keyed by function index.
func (p *nameParser) indirectNameMap(out []byte, from uint32) []byte {
	n := p.u32()
	out = appendLEB(out, n)
	for i := uint32(0); i < n && p.err == nil; i++ {
		idx := p.u32()
		if idx >= from {
			idx++
		}
		out = appendLEB(out, idx)
		out = p.nameMap(out, from, false)
	}
	return out
}

func appendLEB(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// FuncNames parses the function names of the "name" custom section, if any.
// It returns nil when the section is absent or malformed.
func (m *Module) FuncNames() map[uint32]string {
	c := m.CustomSection("name")
	if c == nil {
		return nil
	}
	p := nameParser{b: c.Data}
	for p.pos < len(p.b) && p.err == nil {
		id := p.byte()
		size := p.u32()
		if p.err != nil || uint64(size) > uint64(len(p.b)-p.pos) {
			return nil
		}
		sub := p.b[p.pos : p.pos+int(size)]
		p.pos += int(size)
		if id != nameSubFunctions {
			continue
		}
		q := nameParser{b: sub}
		n := q.u32()
		names := make(map[uint32]string, min(int(n), len(sub)))
		for i := uint32(0); i < n && q.err == nil; i++ {
			idx := q.u32()
			l := q.u32()
			if q.err != nil || uint64(l) > uint64(len(q.b)-q.pos) {
				return nil
			}
			names[idx] = string(q.b[q.pos : q.pos+int(l)])
			q.pos += int(l)
		}
		if q.err != nil {
			return nil
		}
		return names
	}
	return nil
}
