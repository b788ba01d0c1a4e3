package instrument

import "github.com/crowdrun/crowdrun/internal/wasm"

// A NaN result needs canonicalising only if its bits can be observed. When
// the value's one consumer is itself NaN-blind -- another operation whose
// NaN results are canonicalised, a comparison, a float-to-int truncation (a
// NaN traps or gives 0) or drop -- its payload can never be seen, and the
// canonicalisation is skipped. This removes most of them from float
// expressions (in a*b + c*d only the sum is canonicalised) without changing
// a single observable bit.

// nanBlind reports whether op's results do not depend on the sign and
// payload of NaN operands (beyond their being NaN), or are canonicalised.
func nanBlind(op wasm.Opcode) bool {
	switch {
	case wasm.OpProducesNaN(op):
		return true
	case op >= wasm.OpF32Eq && op <= wasm.OpF64Ge: // f32/f64 comparisons
		return true
	case op >= wasm.OpI32TruncF32S && op <= wasm.OpI64TruncF64U: // trapping truncations (and i64.extend_i32_*, integer-only)
		return true
	case op >= wasm.OpI32TruncSatF32S && op <= wasm.OpI64TruncSatF64U:
		return true
	case op >= wasm.OpF32x4Eq && op <= wasm.OpF64x2Ge: // lane-wise comparisons
		return true
	case op == wasm.OpDrop:
		return true
	}
	return false
}

// nanSkips returns, for each instruction of body, whether its NaN
// canonicalisation can be skipped. It follows the operand stack through
// straight-line code only: a value whose consumer it cannot see for sure
// (across a block boundary or a call, through a local) keeps its
// canonicalisation. So every NaN that can be in a local, a global, memory or
// on the operand stack at a check point or call -- everything a suspended
// state holds -- is canonical.
func nanSkips(m *wasm.Module, body []wasm.Instr) []bool {
	skip := make([]bool, len(body))
	var stack []int32 // producer of each value: an instruction index, or -1
	pop := func(n int, blind bool) {
		for ; n > 0; n-- {
			if len(stack) == 0 {
				return // a value from before the last flush
			}
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if p >= 0 && blind {
				skip[p] = true
			}
		}
	}
	push := func(n int, producer int32) {
		for ; n > 0; n-- {
			stack = append(stack, producer)
		}
	}
	for i := range body {
		in := &body[i]
		switch in.Op {
		case wasm.OpDrop:
			pop(1, true)
		case wasm.OpLocalGet, wasm.OpGlobalGet, wasm.OpRefNull, wasm.OpRefFunc:
			push(1, -1)
		case wasm.OpLocalSet, wasm.OpGlobalSet:
			pop(1, false)
		case wasm.OpLocalTee:
			pop(1, false)
			push(1, -1)
		case wasm.OpSelect, wasm.OpSelectT:
			pop(3, false)
			push(1, -1)
		case wasm.OpCall, wasm.OpCallIndirect:
			var ft wasm.FuncType
			ok := false
			if in.Op == wasm.OpCall {
				ft, ok = m.FuncType(in.Index)
			} else if uint64(in.Index) < uint64(len(m.Types)) {
				ft, ok = m.Types[in.Index], true
				pop(1, false)
			}
			if !ok {
				stack = stack[:0]
				continue
			}
			pop(len(ft.Params), false)
			// Values below the arguments stay on this frame's stack
			// during the call, where a suspension (continuations) saves
			// them: they count as observed.
			stack = stack[:0]
			push(len(ft.Results), -1)
		default:
			params, results, ok := wasm.StackEffect(in.Op)
			if !ok || in.Op.Is(wasm.CatControl) {
				stack = stack[:0] // control or unknown: forget everything
				continue
			}
			pop(len(params), nanBlind(in.Op))
			producer := int32(-1)
			if wasm.OpProducesNaN(in.Op) {
				producer = int32(i)
			}
			push(len(results), producer)
		}
	}
	return skip
}
