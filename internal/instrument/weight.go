package instrument

import "github.com/crowdrun/crowdrun/internal/wasm"

// slotsPerUnit is how many value slots (params, locals and operand stack
// values; a v128 counts twice) make one unit of the call-depth limit beyond
// the first: a function's frame weighs 1 + slots/slotsPerUnit units. A frame
// of fewer than 16 slots weighs 1, so for ordinary code the limit is a number
// of frames; a frame with hundreds of locals weighs more, as it does on an
// engine's native stack (docs/fuel.md, "Call depth").
const slotsPerUnit = 16

// frameWeight returns the depth units of one frame of f.
func frameWeight(m *wasm.Module, f *wasm.Func) uint32 {
	ft := m.Types[f.Type]
	slots := uint64(0)
	for _, t := range ft.Params {
		slots += slotSize(t)
	}
	for _, g := range f.Locals {
		slots += uint64(g.Count) * slotSize(g.Type)
	}
	slots += uint64(maxOperandHeight(m, f.Body))
	w := 1 + slots/slotsPerUnit
	return uint32(min(w, 1<<20))
}

func slotSize(t wasm.ValType) uint64 {
	if t == wasm.V128 {
		return 2
	}
	return 1
}

// maxOperandHeight returns the largest number of operand stack values of a
// body (v128 counted once: an upper bound is all that is needed). It
// assumes the structure analyse has checked; unknown effects count as 0.
func maxOperandHeight(m *wasm.Module, body []wasm.Instr) int {
	type frame struct{ base, params, results int }
	ctrl := []frame{{}}
	h, maxH := 0, 0
	blockArity := func(bt wasm.BlockType) (int, int) {
		p, r, ok := bt.Signature(m)
		if !ok {
			return 0, 0
		}
		return len(p), len(r)
	}
	funcArity := func(ti uint32) (int, int) {
		if uint64(ti) >= uint64(len(m.Types)) {
			return 0, 0
		}
		return len(m.Types[ti].Params), len(m.Types[ti].Results)
	}
	unreachable := func() { h = ctrl[len(ctrl)-1].base }
	for i := range body {
		in := &body[i]
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			if in.Op == wasm.OpIf {
				h--
			}
			p, r := blockArity(in.Block)
			ctrl = append(ctrl, frame{base: h - p, params: p, results: r})
		case wasm.OpElse:
			f := ctrl[len(ctrl)-1]
			h = f.base + f.params
		case wasm.OpEnd:
			f := ctrl[len(ctrl)-1]
			if len(ctrl) > 1 {
				ctrl = ctrl[:len(ctrl)-1]
			}
			h = f.base + f.results
		case wasm.OpBr, wasm.OpReturn, wasm.OpUnreachable:
			unreachable()
		case wasm.OpBrTable:
			h--
			unreachable()
		case wasm.OpBrIf, wasm.OpDrop, wasm.OpLocalSet, wasm.OpGlobalSet, wasm.OpTableGrow:
			h--
		case wasm.OpSelect, wasm.OpSelectT, wasm.OpTableSet:
			h -= 2
		case wasm.OpTableFill:
			h -= 3
		case wasm.OpLocalGet, wasm.OpGlobalGet, wasm.OpRefNull, wasm.OpRefFunc:
			h++
		case wasm.OpCall:
			if ti, ok := m.FuncTypeIndex(in.Index); ok {
				p, r := funcArity(ti)
				h += r - p
			}
		case wasm.OpCallIndirect:
			p, r := funcArity(in.Index)
			h += r - p - 1
		default:
			if p, r, ok := wasm.StackEffect(in.Op); ok {
				h += len(r) - len(p)
			}
		}
		if h < 0 {
			h = 0
		}
		maxH = max(maxH, h)
	}
	return maxH
}
