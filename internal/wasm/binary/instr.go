package binary

import (
	"encoding/binary"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// instructions appends to dst the instructions up to and including the end
// that closes the enclosing function body or constant expression.
func (d *decoder) instructions(dst []wasm.Instr) []wasm.Instr {
	r := &d.r
	depth := 0
	for r.err == nil {
		if r.pos >= r.end {
			r.fail("END opcode expected")
			return dst
		}
		pos := r.pos
		op := d.opcode()
		if r.err != nil {
			return dst
		}
		in := wasm.Instr{Op: op}
		d.immediates(&in, pos)
		dst = append(dst, in)
		switch op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			if depth++; depth > MaxBlockDepth {
				r.limit("block depth", uint64(depth), MaxBlockDepth)
			}
		case wasm.OpEnd:
			if depth == 0 {
				return dst
			}
			depth--
		}
	}
	return dst
}

// opcode reads an opcode, classifying the ones crowdrun refuses.
func (d *decoder) opcode() wasm.Opcode {
	r := &d.r
	pos := r.pos
	b := r.byte()
	switch b {
	case wasm.PrefixMisc, wasm.PrefixSIMD:
		sub := r.u32()
		if r.err != nil {
			return 0
		}
		op := wasm.Opcode(b)<<16 | wasm.Opcode(sub&0xffff)
		if sub <= 0xffff && op.Known() {
			return op
		}
		switch {
		case b == wasm.PrefixSIMD && sub >= 0x100 && sub <= 0x1ff:
			r.unsupported(pos, FeatureRelaxedSIMD)
		case b == wasm.PrefixMisc && sub >= 18 && sub <= 19: // memory.discard
			r.unsupported(pos, FeatureMemory64)
		default:
			r.failAt(pos, fmt.Errorf("%w: illegal opcode 0x%02x 0x%x", ErrMalformed, b, sub))
		}
		return 0
	case wasm.PrefixThreads:
		r.unsupported(pos, FeatureThreads)
		return 0
	case wasm.PrefixGC:
		r.unsupported(pos, FeatureGC)
		return 0
	}
	op := wasm.Opcode(b)
	if op.Known() {
		return op
	}
	switch b {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f: // try, catch, throw, rethrow, throw_ref, delegate, catch_all, try_table
		r.unsupported(pos, FeatureExceptions)
	case 0x12, 0x13, 0x15: // return_call, return_call_indirect, return_call_ref
		r.unsupported(pos, FeatureTailCalls)
	case 0x14, 0xd3, 0xd4, 0xd6: // call_ref, ref.as_non_null, br_on_null, br_on_non_null
		r.unsupported(pos, FeatureFuncRefs)
	case 0xd5: // ref.eq
		r.unsupported(pos, FeatureGC)
	default:
		if r.err == nil {
			r.failAt(pos, fmt.Errorf("%w: illegal opcode 0x%02x", ErrMalformed, b))
		}
	}
	return 0
}

func (d *decoder) zeroByte(pos int) {
	r := &d.r
	b := r.byte()
	switch {
	case r.err != nil || b == 0:
	case b >= 0x80:
		r.failAt(pos, fmt.Errorf("%w: zero byte expected", ErrMalformed))
	default:
		r.unsupported(pos, FeatureMultiMemory)
	}
}

func (d *decoder) immediates(in *wasm.Instr, pos int) {
	r := &d.r
	switch in.Op.Imm() {
	case wasm.ImmNone:
	case wasm.ImmBlockType:
		in.Block = d.blockType()
	case wasm.ImmLabel, wasm.ImmFunc, wasm.ImmLocal, wasm.ImmGlobal, wasm.ImmTable, wasm.ImmElem, wasm.ImmData:
		in.Index = r.u32()
		if in.Op == wasm.OpDataDrop {
			d.needsDC = true
		}
	case wasm.ImmBrTable:
		n := r.count("br_table label", 1, uint32(MaxInstructions))
		if r.err != nil {
			return
		}
		if cap(d.labels)-len(d.labels) < int(n) {
			d.labels = make([]uint32, 0, max(int(n), 256))
		}
		start := len(d.labels)
		for i := uint32(0); i < n; i++ {
			d.labels = append(d.labels, r.u32())
		}
		in.Labels = d.labels[start : start+int(n) : start+int(n)]
		in.Index = r.u32()
	case wasm.ImmCallIndirect, wasm.ImmTableCopy, wasm.ImmTableInit:
		in.Index = r.u32()
		in.Index2 = r.u32()
	case wasm.ImmMemory:
		d.zeroByte(r.pos)
	case wasm.ImmMemoryCopy:
		d.zeroByte(r.pos)
		d.zeroByte(r.pos)
	case wasm.ImmMemoryInit:
		d.needsDC = true
		in.Index = r.u32()
		d.zeroByte(r.pos)
	case wasm.ImmMemArg, wasm.ImmMemArgLane:
		apos := r.pos
		in.Align = r.u32()
		if in.Align >= 32 && r.err == nil {
			if in.Align&0x40 != 0 && in.Align < 0x80 {
				r.unsupported(apos, FeatureMultiMemory)
			} else {
				r.failAt(apos, fmt.Errorf("%w: malformed memop flags 0x%x", ErrMalformed, in.Align))
			}
			return
		}
		in.Imm = uint64(r.u32())
		if in.Op.Imm() == wasm.ImmMemArgLane {
			in.Index = uint32(r.byte())
		}
	case wasm.ImmLane:
		in.Index = uint32(r.byte())
	case wasm.ImmI32:
		in.Imm = uint64(uint32(int32(r.signed(32))))
	case wasm.ImmI64:
		in.Imm = uint64(r.signed(64))
	case wasm.ImmF32:
		if b := r.bytes(4); b != nil {
			in.Imm = uint64(binary.LittleEndian.Uint32(b))
		}
	case wasm.ImmF64:
		if b := r.bytes(8); b != nil {
			in.Imm = binary.LittleEndian.Uint64(b)
		}
	case wasm.ImmV128, wasm.ImmShuffle:
		if b := r.bytes(16); b != nil {
			in.Imm = binary.LittleEndian.Uint64(b[:8])
			in.Imm2 = binary.LittleEndian.Uint64(b[8:])
		}
	case wasm.ImmSelectT:
		n := r.count("select type", 1, MaxParams)
		if r.err == nil {
			in.Types = make([]wasm.ValType, n)
			for i := range in.Types {
				in.Types[i] = r.valType()
			}
		}
	case wasm.ImmRefType:
		in.Index = uint32(r.refType())
	}
}

func (d *decoder) blockType() wasm.BlockType {
	r := &d.r
	pos := r.pos
	if r.pos < r.end {
		b := r.b[r.pos]
		switch {
		case b == 0x40:
			r.pos++
			return wasm.BlockEmpty
		case wasm.ValType(b).Valid():
			r.pos++
			return wasm.BlockOf(wasm.ValType(b))
		case b >= 0x40 && b < 0x80:
			r.pos++
			r.badType(pos, b, "malformed block type")
			return 0
		}
	}
	v := r.signed(33)
	if v < 0 && r.err == nil {
		r.failAt(pos, fmt.Errorf("%w: malformed block type %d", ErrMalformed, v))
	}
	return wasm.BlockType(v)
}
