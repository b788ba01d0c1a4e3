package instrument

import (
	"fmt"
	"strings"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// mark describes the basic block that starts before an instruction.
type mark struct {
	start bool  // a basic block starts here
	loop  bool  // ... at a loop header: check the fuel
	dead  bool  // ... but it can never execute: no charge needed
	cost  int64 // static cost of the block
}

// plan is the result of the analysis pass over one function body.
type plan struct {
	marks []mark
	leaf  bool // no call or call_indirect: cannot recurse
}

type ctrlFrame struct {
	op       wasm.Opcode // OpBlock, OpLoop, OpIf; OpEnd for the function itself
	targeted bool        // a branch targets this label
	hasElse  bool
}

// analyse splits body into basic blocks and checks its structure.
//
// A basic block is a maximal run of instructions entered only at its first
// instruction and left only after its last one (calls return; traps end the
// instance). A new block starts:
//   - at the function entry;
//   - after loop (the header, a branch target), if and else (branch arms);
//   - after br_if (its fall-through);
//   - after the end of an if, or of a block some branch targets (joins);
//   - after br, br_table, return and unreachable (dead code until the
//     enclosing else/end: never charged).
//
// The end of a loop, or of a block no branch targets, is reached only by
// falling through, so the block simply goes on.
func analyse(body []wasm.Instr) (*plan, error) {
	n := len(body)
	if n == 0 || body[n-1].Op != wasm.OpEnd {
		return nil, fmt.Errorf("%w: function body does not end with end", ErrInvalid)
	}
	p := &plan{marks: make([]mark, n+1), leaf: true}
	ctrl := make([]ctrlFrame, 1, 16)
	ctrl[0] = ctrlFrame{op: wasm.OpEnd}
	cur, acc := 0, int64(0)
	p.marks[0].start = true
	begin := func(i int, dead bool) {
		p.marks[cur].cost = acc
		cur, acc = i, 0
		p.marks[i] = mark{start: true, dead: dead}
	}
	label := func(depth uint32) error {
		if uint64(depth) >= uint64(len(ctrl)) {
			return fmt.Errorf("%w: branch depth %d with %d enclosing labels", ErrInvalid, depth, len(ctrl))
		}
		ctrl[len(ctrl)-1-int(depth)].targeted = true
		return nil
	}
	for i := 0; i < n; i++ {
		in := &body[i]
		if !in.Op.Known() {
			return nil, fmt.Errorf("%w: unknown opcode %v", ErrUnsupported, in.Op)
		}
		acc += staticCost(in.Op)
		switch in.Op {
		case wasm.OpBlock:
			ctrl = append(ctrl, ctrlFrame{op: in.Op})
		case wasm.OpLoop:
			ctrl = append(ctrl, ctrlFrame{op: in.Op})
			begin(i+1, false)
			p.marks[i+1].loop = true
		case wasm.OpIf:
			ctrl = append(ctrl, ctrlFrame{op: in.Op})
			begin(i+1, false)
		case wasm.OpElse:
			top := &ctrl[len(ctrl)-1]
			if top.op != wasm.OpIf || top.hasElse {
				return nil, fmt.Errorf("%w: else outside if", ErrInvalid)
			}
			top.hasElse = true
			begin(i+1, false)
		case wasm.OpEnd:
			top := ctrl[len(ctrl)-1]
			ctrl = ctrl[:len(ctrl)-1]
			if len(ctrl) == 0 {
				if i != n-1 {
					return nil, fmt.Errorf("%w: instructions after the function's end", ErrInvalid)
				}
				p.marks[cur].cost = acc
				return p, nil
			}
			if top.op == wasm.OpIf || (top.op == wasm.OpBlock && top.targeted) {
				begin(i+1, false)
			}
		case wasm.OpBr:
			if err := label(in.Index); err != nil {
				return nil, err
			}
			begin(i+1, true)
		case wasm.OpBrIf:
			if err := label(in.Index); err != nil {
				return nil, err
			}
			begin(i+1, false)
		case wasm.OpBrTable:
			for _, l := range in.Labels {
				if err := label(l); err != nil {
					return nil, err
				}
			}
			if err := label(in.Index); err != nil {
				return nil, err
			}
			begin(i+1, true)
		case wasm.OpReturn, wasm.OpUnreachable:
			begin(i+1, true)
		case wasm.OpCall, wasm.OpCallIndirect:
			p.leaf = false
		}
	}
	return nil, fmt.Errorf("%w: function body ends inside a block", ErrInvalid)
}

// fnWriter emits one instrumented function body.
type fnWriter struct {
	in      *inst
	f       *wasm.Func
	nLocals uint32 // params + declared locals of the original
	scratch map[wasm.ValType][]uint32
	used    map[wasm.ValType]int
	extra   []wasm.LocalGroup
	out     []wasm.Instr
	weight  uint32 // depth units of one frame
	// fuelLocal caches crowdrun.fuel while the function runs.
	fuelLocal uint32
}

// local returns the k-th scratch local of type t, declaring it if needed.
func (w *fnWriter) local(t wasm.ValType, k int) uint32 {
	s := w.scratch[t]
	for len(s) <= k {
		idx := w.nLocals + uint32(len(w.extra))
		w.extra = append(w.extra, wasm.LocalGroup{Count: 1, Type: t})
		s = append(s, idx)
	}
	w.scratch[t] = s
	return s[k]
}

func (w *fnWriter) emit(ins ...wasm.Instr) { w.out = append(w.out, ins...) }

func (in *inst) function(idx uint32, f *wasm.Func) error {
	p, err := analyse(f.Body)
	if err != nil {
		return err
	}
	ft := in.m.Types[f.Type]
	nLocals := uint64(len(ft.Params)) + f.NumLocals()
	if nLocals+8 > 50000 {
		return fmt.Errorf("%w: %d locals leave no room for crowdrun's scratch locals", ErrUnsupported, nLocals)
	}
	w := &fnWriter{in: in, f: f, nLocals: uint32(nLocals), scratch: map[wasm.ValType][]uint32{},
		out: make([]wasm.Instr, 0, len(f.Body)+len(f.Body)/2+16)}

	unchecked := in.unchecked != nil && in.unchecked[idx-in.m.NumImportedFuncs()]
	countDepth := !p.leaf && !unchecked
	if countDepth {
		w.weight = frameWeight(in.m, f)
		w.depthEnter()
	}
	// The fuel counter lives in a local while the function runs (a
	// register, where the global would be a memory round trip per basic
	// block); it is written back to the global before every call and
	// return and read again after every call.
	w.fuelLocal = w.local(wasm.I64, 0)
	w.emit(wasm.WithIndex(wasm.OpGlobalGet, in.fuel))
	if unchecked {
		if c := p.marks[0].cost; c != 0 {
			w.emit(wasm.I64Const(c), wasm.Plain(wasm.OpI64Sub))
		}
		w.emit(wasm.WithIndex(wasm.OpLocalSet, w.fuelLocal))
	} else {
		w.chargeCheck(p.marks[0].cost, true)
	}
	// Every exit goes through the end of this wrapper block, where the
	// counters are written back.
	w.emit(wasm.Block(wasm.OpBlock, in.resultBlockType(ft.Results)))
	// One frame per open original block; a loop whose check has an
	// out-of-line slow path sits inside three extra labels (see
	// loopOutOfLine), which branches crossing it must count.
	frames := make([]emitFrame, 1, 16)
	label := func(d uint32) uint32 {
		extra := uint32(0)
		for k := 0; k < int(d); k++ {
			if frames[len(frames)-1-k].outOfLine {
				extra += 3
			}
		}
		return d + extra
	}
	body := f.Body
	var nanSkip []bool
	if in.opts.CanonicalizeNaN {
		nanSkip = nanSkips(in.m, body, int(nLocals))
	}
	headerDone := -1
	for i := range body {
		ins := &body[i]
		if mk := &p.marks[i]; mk.start && i > 0 && i != headerDone {
			switch {
			case mk.loop:
				w.emit(wasm.WithIndex(wasm.OpLocalGet, w.fuelLocal))
				w.chargeCheck(mk.cost, false)
			case !mk.dead:
				w.charge(mk.cost)
			}
		}
		switch ins.Op {
		case wasm.OpBlock, wasm.OpIf:
			frames = append(frames, emitFrame{})
		case wasm.OpLoop:
			if params, _, ok := ins.Block.Signature(in.m); ok && len(params) == 0 {
				cost := p.marks[i+1].cost
				w.loopOutOfLine(ins, cost)
				frames = append(frames, emitFrame{outOfLine: true, cost: cost})
				headerDone = i + 1
				continue
			}
			frames = append(frames, emitFrame{})
		case wasm.OpEnd:
			top := frames[len(frames)-1]
			frames = frames[:len(frames)-1]
			if len(frames) == 0 {
				w.emit(wasm.Plain(wasm.OpEnd))
				w.spill()
				if countDepth {
					w.depthExit()
				}
				w.emit(*ins)
				continue
			}
			if top.outOfLine {
				w.loopOutOfLineEnd(top.cost)
				continue
			}
		case wasm.OpBr, wasm.OpBrIf:
			w.emit(wasm.WithIndex(ins.Op, label(ins.Index)))
			continue
		case wasm.OpBrTable:
			labels := make([]uint32, len(ins.Labels))
			for k, l := range ins.Labels {
				labels[k] = label(l)
			}
			w.emit(wasm.Instr{Op: wasm.OpBrTable, Labels: labels, Index: label(ins.Index)})
			continue
		case wasm.OpReturn:
			// Branch to the wrapper block instead.
			w.emit(wasm.WithIndex(wasm.OpBr, label(uint32(len(frames)-1))))
			continue
		case wasm.OpCall, wasm.OpCallIndirect:
			w.spill()
			w.emit(*ins)
			w.reload()
			continue
		}
		switch dynamicCost(ins.Op) {
		case dynMemBytes:
			w.chargeOperand(memBytesShift, false)
		case dynTableElems:
			w.chargeOperand(0, false)
		case dynGrowPages:
			w.memoryGrow(ins)
			continue
		}
		w.emit(*ins)
		if in.opts.CanonicalizeNaN && wasm.OpProducesNaN(ins.Op) && !nanSkip[i] {
			w.canonNaN(ins.Op)
		}
	}
	f.Body = w.out
	f.Locals = append(f.Locals, mergeGroups(w.extra)...)
	return nil
}

type emitFrame struct {
	outOfLine bool  // a loop emitted by loopOutOfLine
	cost      int64 // its header block's cost
}

// loopOutOfLine opens a loop without params whose fuel check branches out
// of the loop to a slow path instead of calling out_of_fuel inside it: a
// call in a loop body, even one never taken, makes engines (wazero's
// compiler) keep the loop's values out of registers around it.
//
//	block $done (results)
//	  loop $retry (results)
//	    block $slow
//	      loop $L (type)              ;; the original loop
//	        fuel -= cost
//	        br_if $slow (fuel < 0)
//	        ...body...
//	      end
//	      br $done                    ;; (loopOutOfLineEnd)
//	    end
//	    spill; call out_of_fuel; fuel = global + cost; br $retry
//	  end
//	end
//
// Re-entering $L charges its header again, so the slow path gives that
// charge back first: the count is exactly as with the check inline.
func (w *fnWriter) loopOutOfLine(loop *wasm.Instr, cost int64) {
	_, results, _ := loop.Block.Signature(w.in.m)
	outer := w.in.resultBlockType(results)
	w.emit(wasm.Block(wasm.OpBlock, outer), wasm.Block(wasm.OpLoop, outer),
		wasm.Block(wasm.OpBlock, wasm.BlockEmpty), *loop,
		wasm.WithIndex(wasm.OpLocalGet, w.fuelLocal))
	if cost != 0 {
		w.emit(wasm.I64Const(cost), wasm.Plain(wasm.OpI64Sub), wasm.WithIndex(wasm.OpLocalTee, w.fuelLocal))
	}
	w.emit(wasm.I64Const(0), wasm.Plain(wasm.OpI64LtS), wasm.WithIndex(wasm.OpBrIf, 1))
}

// loopOutOfLineEnd closes what loopOutOfLine opened.
func (w *fnWriter) loopOutOfLineEnd(cost int64) {
	w.emit(wasm.Plain(wasm.OpEnd), wasm.WithIndex(wasm.OpBr, 2), wasm.Plain(wasm.OpEnd))
	w.spill()
	w.emit(wasm.WithIndex(wasm.OpCall, w.in.oof), wasm.WithIndex(wasm.OpGlobalGet, w.in.fuel))
	if cost != 0 {
		w.emit(wasm.I64Const(cost), wasm.Plain(wasm.OpI64Add))
	}
	w.emit(wasm.WithIndex(wasm.OpLocalSet, w.fuelLocal), wasm.WithIndex(wasm.OpBr, 0),
		wasm.Plain(wasm.OpEnd), wasm.Plain(wasm.OpEnd))
}

// mergeGroups run-length encodes consecutive locals of one type.
func mergeGroups(gs []wasm.LocalGroup) []wasm.LocalGroup {
	var out []wasm.LocalGroup
	for _, g := range gs {
		if len(out) > 0 && out[len(out)-1].Type == g.Type {
			out[len(out)-1].Count += g.Count
			continue
		}
		out = append(out, g)
	}
	return out
}

// resultBlockType returns a block type with no params and the given results.
func (in *inst) resultBlockType(results []wasm.ValType) wasm.BlockType {
	switch len(results) {
	case 0:
		return wasm.BlockEmpty
	case 1:
		return wasm.BlockOf(results[0])
	}
	return wasm.BlockTypeIndex(in.m.AddType(wasm.FuncType{Results: results}))
}

// spill writes the cached fuel counter back to the global.
func (w *fnWriter) spill() {
	w.emit(wasm.WithIndex(wasm.OpLocalGet, w.fuelLocal), wasm.WithIndex(wasm.OpGlobalSet, w.in.fuel))
}

// reload reads the global fuel counter into the cache.
func (w *fnWriter) reload() {
	w.emit(wasm.WithIndex(wasm.OpGlobalGet, w.in.fuel), wasm.WithIndex(wasm.OpLocalSet, w.fuelLocal))
}

// charge emits fuel -= cost on the cached counter.
func (w *fnWriter) charge(cost int64) {
	if cost == 0 {
		return
	}
	w.emit(wasm.WithIndex(wasm.OpLocalGet, w.fuelLocal), wasm.I64Const(cost), wasm.Plain(wasm.OpI64Sub),
		wasm.WithIndex(wasm.OpLocalSet, w.fuelLocal))
}

// chargeCheck expects the fuel counter on the stack, subtracts cost, stores
// the result in the cache and calls out_of_fuel if it is negative. Unless
// entry (where the counter comes from the global), a zero cost leaves the
// cache as it is.
func (w *fnWriter) chargeCheck(cost int64, entry bool) {
	if cost != 0 {
		w.emit(wasm.I64Const(cost), wasm.Plain(wasm.OpI64Sub))
	}
	if cost != 0 || entry {
		w.emit(wasm.WithIndex(wasm.OpLocalTee, w.fuelLocal))
	}
	w.emit(wasm.I64Const(0), wasm.Plain(wasm.OpI64LtS),
		wasm.Block(wasm.OpIf, wasm.BlockEmpty))
	w.spill()
	w.emit(wasm.WithIndex(wasm.OpCall, w.in.oof))
	w.reload()
	w.emit(wasm.Plain(wasm.OpEnd))
}

// chargeOperand charges the i32 operand on top of the stack, shifted by
// shift (left if left), leaving the operand in place.
func (w *fnWriter) chargeOperand(shift int64, left bool) {
	t := w.local(wasm.I32, 0)
	w.emit(wasm.WithIndex(wasm.OpLocalTee, t),
		wasm.WithIndex(wasm.OpLocalGet, w.fuelLocal),
		wasm.WithIndex(wasm.OpLocalGet, t), wasm.Plain(wasm.OpI64ExtendI32U))
	if shift != 0 {
		w.emit(wasm.I64Const(shift))
		if left {
			w.emit(wasm.Plain(wasm.OpI64Shl))
		} else {
			w.emit(wasm.Plain(wasm.OpI64ShrU))
		}
	}
	w.emit(wasm.Plain(wasm.OpI64Sub), wasm.WithIndex(wasm.OpLocalSet, w.fuelLocal))
}

// memoryGrow emits a charged, capped memory.grow that records a failed
// non-zero grow in crowdrun.mem_limit_hit.
func (w *fnWriter) memoryGrow(grow *wasm.Instr) {
	w.chargeOperand(growPagesShift, true)
	d := w.local(wasm.I32, 0) // holds the delta after chargeOperand
	r := w.local(wasm.I32, 1)
	if w.in.capCheck {
		// size + delta > cap ? -1 : memory.grow(delta)
		w.emit(wasm.Plain(wasm.OpDrop),
			wasm.WithIndex(wasm.OpMemorySize, 0), wasm.Plain(wasm.OpI64ExtendI32U),
			wasm.WithIndex(wasm.OpLocalGet, d), wasm.Plain(wasm.OpI64ExtendI32U),
			wasm.Plain(wasm.OpI64Add), wasm.I64Const(int64(w.in.opts.MemoryCapPages)), wasm.Plain(wasm.OpI64GtU),
			wasm.Block(wasm.OpIf, wasm.BlockOf(wasm.I32)),
			wasm.I32Const(-1),
			wasm.Plain(wasm.OpElse),
			wasm.WithIndex(wasm.OpLocalGet, d), *grow,
			wasm.Plain(wasm.OpEnd))
	} else {
		w.emit(*grow)
	}
	w.emit(wasm.WithIndex(wasm.OpLocalTee, r),
		wasm.I32Const(-1), wasm.Plain(wasm.OpI32Eq),
		wasm.WithIndex(wasm.OpLocalGet, d), wasm.I32Const(0), wasm.Plain(wasm.OpI32Ne),
		wasm.Plain(wasm.OpI32And))
	if c := w.in.opts.MemoryCapPages; c != 0 {
		// Only a grow the cap refused is the memory limit; one the module's
		// own smaller maximum refused is the guest's business.
		w.emit(wasm.WithIndex(wasm.OpMemorySize, 0), wasm.Plain(wasm.OpI64ExtendI32U),
			wasm.WithIndex(wasm.OpLocalGet, d), wasm.Plain(wasm.OpI64ExtendI32U),
			wasm.Plain(wasm.OpI64Add), wasm.I64Const(int64(c)), wasm.Plain(wasm.OpI64GtU),
			wasm.Plain(wasm.OpI32And))
	}
	w.emit(wasm.Block(wasm.OpIf, wasm.BlockEmpty),
		wasm.I32Const(1), wasm.WithIndex(wasm.OpGlobalSet, w.in.memHit),
		wasm.Plain(wasm.OpEnd),
		wasm.WithIndex(wasm.OpLocalGet, r))
}

// depthEnter adds the frame's weight to the depth counter and traps beyond
// the limit.
func (w *fnWriter) depthEnter() {
	g := w.in.depth
	t := w.local(wasm.I32, 0)
	w.emit(wasm.WithIndex(wasm.OpGlobalGet, g), wasm.I32Const(int32(w.weight)), wasm.Plain(wasm.OpI32Add),
		wasm.WithIndex(wasm.OpLocalTee, t), wasm.WithIndex(wasm.OpGlobalSet, g),
		wasm.WithIndex(wasm.OpLocalGet, t), wasm.I32Const(int32(w.in.opts.StackLimit)), wasm.Plain(wasm.OpI32GtU),
		wasm.Block(wasm.OpIf, wasm.BlockEmpty),
		wasm.I32Const(TrapStackOverflow), wasm.WithIndex(wasm.OpCall, w.in.trap), wasm.Plain(wasm.OpUnreachable),
		wasm.Plain(wasm.OpEnd))
}

// depthExit takes the frame's weight off the depth counter.
func (w *fnWriter) depthExit() {
	g := w.in.depth
	w.emit(wasm.WithIndex(wasm.OpGlobalGet, g), wasm.I32Const(int32(w.weight)), wasm.Plain(wasm.OpI32Sub),
		wasm.WithIndex(wasm.OpGlobalSet, g))
}

// Canonical NaNs: positive, quiet, zero payload.
const (
	canonF32 = 0x7fc00000
	canonF64 = 0x7ff8000000000000
)

// canonNaN replaces a NaN result of op on top of the stack with the
// canonical NaN: x >= x ? x : canonical for scalars (v1, v2: x != x ?
// canonical : x), x == x lane-wise for vectors. Only results
// of operations that may produce a NaN are canonicalised, so NaNs that come
// from constants, memory or the host keep their bits, as in the original.
func (w *fnWriter) canonNaN(op wasm.Opcode) {
	_, results, ok := wasm.StackEffect(op)
	if !ok || len(results) != 1 {
		return
	}
	switch results[0] {
	case wasm.F32, wasm.F64:
		// A branch: NaNs are rare, and a well-predicted branch keeps the
		// test off the value's dependency chain, where select (or a
		// branch-free v128 bitselect) would put it.
		t := w.local(results[0], 0)
		ge, ne, canon := wasm.OpF32Ge, wasm.OpF32Ne, wasm.F32Const(canonF32)
		if results[0] == wasm.F64 {
			ge, ne, canon = wasm.OpF64Ge, wasm.OpF64Ne, wasm.F64Const(canonF64)
		}
		get := wasm.WithIndex(wasm.OpLocalGet, t)
		// v3: x >= x ? x : canonical, the same values: x >= x is false
		// exactly when x is a NaN, and unlike x != x (unordered *or*
		// unequal) it is one flags condition on x86, which V8 tests with
		// one conditional jump instead of two (docs/fuel.md, "NaN
		// canonicalisation").
		test, then, els := ge, get, canon
		if w.in.opts.Schedule == ScheduleV1 || w.in.opts.Schedule == ScheduleV2 {
			// v1, v2: x != x ? canonical : x (their bytes stay as they were).
			test, then, els = ne, canon, get
		}
		w.emit(wasm.WithIndex(wasm.OpLocalTee, t), get, wasm.Plain(test),
			wasm.Block(wasm.OpIf, wasm.BlockOf(results[0])), then,
			wasm.Plain(wasm.OpElse), els,
			wasm.Plain(wasm.OpEnd))
	case wasm.V128:
		var canon wasm.Instr
		var eq wasm.Opcode
		switch name := op.Name(); {
		case strings.HasPrefix(name, "f32x4."):
			canon = wasm.Instr{Op: wasm.OpV128Const, Imm: canonF32 | canonF32<<32, Imm2: canonF32 | canonF32<<32}
			eq = wasm.OpF32x4Eq
		case strings.HasPrefix(name, "f64x2."):
			canon = wasm.Instr{Op: wasm.OpV128Const, Imm: canonF64, Imm2: canonF64}
			eq = wasm.OpF64x2Eq
		default:
			return
		}
		t := w.local(wasm.V128, 0)
		w.emit(wasm.WithIndex(wasm.OpLocalTee, t), canon,
			wasm.WithIndex(wasm.OpLocalGet, t), wasm.WithIndex(wasm.OpLocalGet, t), wasm.Plain(eq),
			wasm.Plain(wasm.OpV128Bitselect))
	}
}
