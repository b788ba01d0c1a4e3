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
// (across a block boundary or a call) keeps its canonicalisation.
//
// A value may also pass through a local. A write to a local starts a *def*
// the analysis follows until the local is written again or straight-line
// code ends (a control instruction or a call). The def is *observed* if a
// read of it is consumed by an operation that is not NaN-blind, or if the
// local is still live where straight-line code ends: live after a call or
// at a loop header is where a suspension (continuations) saves a frame's
// locals into its state, and a read after a branch is beyond what the
// analysis follows. A value written by a def that is not observed is never
// seen, whatever its bits.
//
// So every NaN that can be in a live local at a check point or call, a
// global, memory, a table or on the operand stack at a check point or call
// -- everything a suspended state holds -- is canonical, as is every NaN
// an operation that is not NaN-blind consumes.
func nanSkips(m *wasm.Module, body []wasm.Instr, nLocals int) []bool {
	lv := wasm.LocalLiveness(body, nLocals)
	n := len(body)
	// Nodes are instructions: a NaN producer, or a local.set/tee (a def).
	blindUse := make([]bool, n)
	observed := make([]bool, n)
	parent := make([]int32, n) // a def's value's origin, or -1
	for i := range parent {
		parent[i] = -1
	}
	type value struct{ origin int32 } // a producer or a def, or -1
	none := value{-1}
	var stack []value
	consume := func(v value, blind bool) {
		if v.origin < 0 {
			return
		}
		if blind {
			blindUse[v.origin] = true
		} else {
			observed[v.origin] = true
		}
	}
	pop := func(k int, blind bool) {
		for ; k > 0; k-- {
			if len(stack) == 0 {
				return // a value from before the last flush
			}
			consume(stack[len(stack)-1], blind)
			stack = stack[:len(stack)-1]
		}
	}
	push := func(k int, v value) {
		for ; k > 0; k-- {
			stack = append(stack, v)
		}
	}
	// The def of each local written in the current straight-line code.
	def := make(map[uint32]int32)
	// endStraight ends straight-line code before instruction at: values on
	// the stack count as observed, and so does every def whose local is
	// still live there.
	endStraight := func(at int) {
		for _, v := range stack {
			consume(v, false)
		}
		stack = stack[:0]
		for l, d := range def {
			if lv.Live(at, l) {
				observed[d] = true
			}
		}
		clear(def)
	}
	write := func(i int, l uint32) {
		var v value
		if len(stack) > 0 {
			v = stack[len(stack)-1]
		} else {
			v = none // a value from before the last flush
		}
		parent[i] = v.origin
		if v.origin >= 0 {
			blindUse[v.origin] = true // observed through the def, if at all
		}
		if uint64(l) < uint64(nLocals) {
			def[l] = int32(i)
		}
	}
	for i := range body {
		in := &body[i]
		switch in.Op {
		case wasm.OpDrop:
			pop(1, true)
		case wasm.OpLocalGet:
			v := none
			if d, ok := def[in.Index]; ok {
				v.origin = d
			}
			push(1, v)
		case wasm.OpGlobalGet, wasm.OpRefNull, wasm.OpRefFunc:
			push(1, none)
		case wasm.OpLocalSet:
			write(i, in.Index)
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case wasm.OpLocalTee:
			write(i, in.Index) // the value stays on the stack as it was
			if len(stack) == 0 {
				push(1, none)
			}
		case wasm.OpGlobalSet:
			pop(1, false)
		case wasm.OpSelect, wasm.OpSelectT:
			pop(3, false)
			push(1, none)
		case wasm.OpCall, wasm.OpCallIndirect:
			var ft wasm.FuncType
			ok := false
			if in.Op == wasm.OpCall {
				ft, ok = m.FuncType(in.Index)
			} else if uint64(in.Index) < uint64(len(m.Types)) {
				ft, ok = m.Types[in.Index], true
				pop(1, false)
			}
			if ok {
				pop(len(ft.Params), false)
			}
			// Values below the arguments stay on this frame's stack
			// during the call, and locals live after it stay in the
			// frame: a suspension inside the callee saves both.
			endStraight(i + 1)
			if ok {
				push(len(ft.Results), none)
			}
		default:
			params, results, ok := wasm.StackEffect(in.Op)
			if !ok || in.Op.Is(wasm.CatControl) {
				endStraight(i) // control or unknown: follow no further
				continue
			}
			pop(len(params), nanBlind(in.Op))
			v := none
			if wasm.OpProducesNaN(in.Op) {
				v.origin = int32(i)
			}
			push(len(results), v)
		}
	}
	endStraight(n)
	// A def's origin is earlier than the def: observation flows back.
	for i := n - 1; i >= 0; i-- {
		if observed[i] && parent[i] >= 0 {
			observed[parent[i]] = true
		}
	}
	skip := make([]bool, n)
	for i := range skip {
		skip[i] = wasm.OpProducesNaN(body[i].Op) && blindUse[i] && !observed[i]
	}
	return skip
}
