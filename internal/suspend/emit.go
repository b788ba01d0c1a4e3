package suspend

import (
	"fmt"
	"slices"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Pool roles of the locals the rewrite adds. Locals are shared by the items
// of one nesting level: siblings never hold them at the same time.
const (
	roleIn   = 'i' // inputs of an item (call arguments, block params): short-lived
	roleCond = 'c' // an if's condition: live while inside the if
	roleLive = 'b' // values below an item: live across it
	roleOut  = 'o' // an item's outputs while the values below are pushed back
)

type poolKey struct {
	level int
	role  byte
	t     wasm.ValType
	ord   int
}

// fw rewrites one function.
type fw struct {
	x          *xform
	fidx       uint32
	body       []wasm.Instr
	ti         *fnTypes
	cnt        []int // cnt[i]: sites before instruction i
	localTypes []wasm.ValType
	pools      map[poolKey]uint32
	k          uint32 // the site index, set before unwinding and by load_frame
	out        []wasm.Instr
	ctl        []bool // the new control stack: true for an original frame
	origPos    []int  // position in ctl of each open original frame
	// loopParams holds, by position in ctl, the locals that carry the
	// params of a loop whose params were moved into locals: branches to
	// it set them instead of carrying values.
	loopParams map[int][]uint32
	liveOrig   map[int][]uint32 // original locals live after each site
	nOrig      int              // params and declared locals of the original
	chain      []uint32         // added locals live across the current point
	siteSaved  [][]uint32       // by site: the locals its frame holds
	dispatch   bool             // emit the rewind dispatch (the twin)
}

func (w *fw) newLocal(t wasm.ValType) uint32 {
	w.localTypes = append(w.localTypes, t)
	return uint32(len(w.localTypes) - 1)
}

func (w *fw) local(level int, role byte, t wasm.ValType, ord int) uint32 {
	key := poolKey{level, role, t, ord}
	if l, ok := w.pools[key]; ok {
		return l
	}
	l := w.newLocal(t)
	w.pools[key] = l
	return l
}

func (w *fw) emit(ins ...wasm.Instr) { w.out = append(w.out, ins...) }

func (w *fw) open(in wasm.Instr, orig bool) {
	w.emit(in)
	w.ctl = append(w.ctl, orig)
	if orig {
		w.origPos = append(w.origPos, len(w.ctl)-1)
	}
}

func (w *fw) close() {
	if w.ctl[len(w.ctl)-1] {
		w.origPos = w.origPos[:len(w.origPos)-1]
	}
	delete(w.loopParams, len(w.ctl)-1)
	w.ctl = w.ctl[:len(w.ctl)-1]
	w.emit(wasm.Plain(wasm.OpEnd))
}

// remap translates an original label depth into the rewritten body.
func (w *fw) remap(d uint32) (uint32, error) {
	nd, _, err := w.remapTarget(d)
	return nd, err
}

// remapTarget is remap, also returning the params locals of the target if
// it is a loop whose params moved into locals.
func (w *fw) remapTarget(d uint32) (uint32, []uint32, error) {
	if int(d) >= len(w.origPos) {
		return 0, nil, fmt.Errorf("%w: branch depth %d", ErrInvalid, d)
	}
	target := w.origPos[len(w.origPos)-1-int(d)]
	return uint32(len(w.ctl) - 1 - target), w.loopParams[target], nil
}

func (w *fw) blockType(results []wasm.ValType) wasm.BlockType {
	switch len(results) {
	case 0:
		return wasm.BlockEmpty
	case 1:
		return wasm.BlockOf(results[0])
	}
	return wasm.BlockTypeIndex(w.x.m.AddType(wasm.FuncType{Results: results}))
}

// function rewrites f (function index fidx) and returns its rewind twin,
// which will have the index twinIdx.
//
// The twin is the function with the dispatch code that lets a rewind branch
// through every construct down to the call it stopped in; f keeps only the
// unwind checks after its calls, and when entered rewinding calls its twin
// with its own arguments and returns what the twin returns. Both save and
// load frames as function fidx, with the same sites and the same locals, so
// a frame saved by either is rewound by the twin. Only the frames on the
// stack at a suspension ever run in twins, until they return.
func (x *xform) function(fidx uint32, f *wasm.Func, twinIdx uint32) (wasm.Func, error) {
	ti, err := typeBody(x.m, f, x.callSuspends)
	if err != nil {
		return wasm.Func{}, err
	}
	ft := x.m.Types[f.Type]
	w := &fw{x: x, fidx: fidx, body: f.Body, ti: ti, pools: map[poolKey]uint32{}}
	w.localTypes = append(w.localTypes, ft.Params...)
	for _, g := range f.Locals {
		for range g.Count {
			w.localTypes = append(w.localTypes, g.Type)
		}
	}
	nOrig := len(w.localTypes)
	w.nOrig = nOrig
	w.liveOrig = liveAfterSites(f.Body, nOrig, ti)
	for _, ls := range w.liveOrig {
		for _, l := range ls {
			if w.localTypes[l].IsRef() {
				return wasm.Func{}, fmt.Errorf("%w: reference-typed local live across a call that may suspend", ErrUnsupported)
			}
		}
	}
	n := len(f.Body)
	w.cnt = make([]int, n+1)
	for i := range n {
		w.cnt[i+1] = w.cnt[i]
		if ti.site[i] {
			w.cnt[i+1]++
		}
	}
	w.k = w.newLocal(wasm.I32)
	// Two passes over the body, sharing the added locals: with dispatch
	// (the twin), then without (f).
	pass := func(dispatch bool) ([]wasm.Instr, error) {
		w.dispatch = dispatch
		w.out = make([]wasm.Instr, 0, n+n/4+64)
		w.ctl = []bool{false, true} // $unwind, $body (the function's own label)
		w.origPos = []int{1}
		w.loopParams = map[int][]uint32{}
		w.chain, w.siteSaved = nil, nil
		if err := w.seq(0, n-1, 0, nil); err != nil {
			return nil, err
		}
		return w.out, nil
	}
	twinInner, err := pass(true)
	if err != nil {
		return wasm.Func{}, err
	}
	twinSaved := w.siteSaved
	inner, err := pass(false)
	if err != nil {
		return wasm.Func{}, err
	}
	if !slices.EqualFunc(twinSaved, w.siteSaved, slices.Equal) {
		return wasm.Func{}, fmt.Errorf("%w: the two passes disagree on the saved locals", ErrInvalid)
	}
	for _, ls := range w.siteSaved {
		for _, l := range ls {
			if w.localTypes[l].IsRef() {
				return wasm.Func{}, fmt.Errorf("%w: reference-typed value live across a call that may suspend", ErrUnsupported)
			}
		}
	}

	// The twin: prologue (load the frame's locals, per site), $unwind {
	// $body { ... } return }, save_frame.
	var out []wasm.Instr
	emit := func(ins ...wasm.Instr) { out = append(out, ins...) }
	emit(wasm.I32Const(int32(fidx)), wasm.WithIndex(wasm.OpCall, x.loadFrame), wasm.WithIndex(wasm.OpLocalSet, w.k))
	// Sites with the same locals share their load code.
	var groups [][]uint32
	siteGroup := make([]uint32, len(w.siteSaved))
	seen := map[string]uint32{}
	for j, ls := range w.siteSaved {
		key := fmt.Sprint(ls)
		g, ok := seen[key]
		if !ok {
			g = uint32(len(groups))
			seen[key] = g
			groups = append(groups, ls)
		}
		siteGroup[j] = g
	}
	nG := len(groups)
	emit(wasm.Block(wasm.OpBlock, wasm.BlockEmpty), wasm.Block(wasm.OpBlock, wasm.BlockEmpty)) // $done, $bad
	for range nG {
		emit(wasm.Block(wasm.OpBlock, wasm.BlockEmpty))
	}
	emit(wasm.WithIndex(wasm.OpLocalGet, w.k),
		wasm.Instr{Op: wasm.OpBrTable, Labels: slices.Clone(siteGroup), Index: uint32(nG)})
	for j, ls := range groups {
		emit(wasm.Plain(wasm.OpEnd))
		for _, l := range ls {
			if w.localTypes[l] == wasm.V128 {
				emit(wasm.WithIndex(wasm.OpCall, x.load[wasm.I64]), wasm.Plain(wasm.OpI64x2Splat),
					wasm.WithIndex(wasm.OpCall, x.load[wasm.I64]), wasm.WithIndex(wasm.OpI64x2ReplaceLane, 1))
			} else {
				emit(wasm.WithIndex(wasm.OpCall, x.load[w.localTypes[l]]))
			}
			emit(wasm.WithIndex(wasm.OpLocalSet, l))
		}
		emit(wasm.WithIndex(wasm.OpBr, uint32(nG-j)))
	}
	emit(wasm.Plain(wasm.OpEnd), wasm.Plain(wasm.OpUnreachable), wasm.Plain(wasm.OpEnd)) // $bad, $done
	w.wrap(emit, twinInner, ft)
	twin := wasm.Func{Type: f.Type, Locals: w.localGroups(len(ft.Params)), Body: out}

	// f: if rewinding, the twin does it all.
	out = nil
	emit(wasm.WithIndex(wasm.OpGlobalGet, x.state), wasm.I32Const(StateRewinding), wasm.Plain(wasm.OpI32Eq),
		wasm.Block(wasm.OpIf, wasm.BlockEmpty))
	for i := range ft.Params {
		emit(wasm.WithIndex(wasm.OpLocalGet, uint32(i)))
	}
	emit(wasm.WithIndex(wasm.OpCall, twinIdx), wasm.Plain(wasm.OpReturn), wasm.Plain(wasm.OpEnd))
	w.wrap(emit, inner, ft)
	f.Body = out
	f.Locals = twin.Locals
	return twin, nil
}

// wrap emits $unwind { $body { inner } return } save_frame(fidx, k) and zero
// results.
func (w *fw) wrap(emit func(...wasm.Instr), inner []wasm.Instr, ft wasm.FuncType) {
	emit(wasm.Block(wasm.OpBlock, wasm.BlockEmpty), wasm.Block(wasm.OpBlock, w.blockType(ft.Results)))
	emit(inner...)
	emit(wasm.Plain(wasm.OpEnd), wasm.Plain(wasm.OpReturn), wasm.Plain(wasm.OpEnd))
	emit(wasm.I32Const(int32(w.fidx)), wasm.WithIndex(wasm.OpLocalGet, w.k), wasm.WithIndex(wasm.OpCall, w.x.saveFrame))
	for _, t := range ft.Results {
		emit(zero(t))
	}
	emit(wasm.Plain(wasm.OpEnd))
}

// localGroups run-length encodes the locals after the first nParams.
func (w *fw) localGroups(nParams int) []wasm.LocalGroup {
	var lgs []wasm.LocalGroup
	for _, t := range w.localTypes[nParams:] {
		if len(lgs) > 0 && lgs[len(lgs)-1].Type == t {
			lgs[len(lgs)-1].Count++
			continue
		}
		lgs = append(lgs, wasm.LocalGroup{Count: 1, Type: t})
	}
	return lgs
}

func zero(t wasm.ValType) wasm.Instr {
	switch t {
	case wasm.I32:
		return wasm.I32Const(0)
	case wasm.I64:
		return wasm.I64Const(0)
	case wasm.F32:
		return wasm.F32Const(0)
	case wasm.F64:
		return wasm.F64Const(0)
	case wasm.V128:
		return wasm.V128Const([16]byte{})
	}
	return wasm.RefNull(t)
}

// plain copies body[from:to], which holds no item, remapping branches.
func (w *fw) plain(from, to int) error {
	for i := from; i < to; i++ {
		in := w.body[i]
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			w.open(in, true)
			continue
		case wasm.OpEnd:
			w.close()
			continue
		case wasm.OpBr, wasm.OpBrIf:
			d, params, err := w.remapTarget(in.Index)
			if err != nil {
				return err
			}
			in.Index = d
			if params != nil {
				w.branchToParamLoop(in, params)
				continue
			}
		case wasm.OpBrTable:
			labels := make([]uint32, len(in.Labels))
			for j, l := range in.Labels {
				d, params, err := w.remapTarget(l)
				if err != nil {
					return err
				}
				if params != nil {
					return fmt.Errorf("%w: br_table to a loop with parameters around a suspension point", ErrUnsupported)
				}
				labels[j] = d
			}
			if _, params, _ := w.remapTarget(in.Index); params != nil {
				return fmt.Errorf("%w: br_table to a loop with parameters around a suspension point", ErrUnsupported)
			}
			d, err := w.remap(in.Index)
			if err != nil {
				return err
			}
			in.Labels, in.Index = labels, d
		}
		w.emit(in)
	}
	return nil
}

// itemEnd is the index after the item starting at i.
func (w *fw) itemEnd(i int) int {
	if w.ti.site[i] {
		return i + 1
	}
	return w.ti.match[i] + 1
}

// inputs is the number of operands the item at i takes from the stack.
func (w *fw) inputs(i int) (int, error) {
	in := &w.body[i]
	switch in.Op {
	case wasm.OpCall:
		ct, _ := w.x.m.FuncType(in.Index)
		return len(ct.Params), nil
	case wasm.OpCallIndirect:
		return len(w.x.m.Types[in.Index].Params) + 1, nil
	}
	params, _, ok := in.Block.Signature(w.x.m)
	if !ok {
		return 0, fmt.Errorf("%w: bad block type", ErrInvalid)
	}
	if in.Op == wasm.OpIf {
		return len(params) + 1, nil
	}
	return len(params), nil
}

// seq rewrites the instruction sequence body[from:to] (a function body or
// one arm of a construct) at nesting level level. prefix are locals to push
// first (the construct's params).
//
// With items X1..Xn (calls that may suspend and constructs holding one) and
// segments S0..Sn between them, it emits
//
//	block $Ln ... block $L1
//	  block $L0  (if rewinding: br_table on the site index to $Li) end
//	  prefix S0 [inputs of X1 and values below them -> locals]
//	end $L1
//	[inputs] X1 [values below pushed back under X1's outputs] S1 ...
//	end $Ln
//	[inputs] Xn [...] Sn
func (w *fw) seq(from, to, level int, prefix []uint32) error {
	var items []int
	for i := from; i < to; {
		switch {
		case w.ti.site[i]:
			items = append(items, i)
			i++
		case w.body[i].Op == wasm.OpBlock || w.body[i].Op == wasm.OpLoop || w.body[i].Op == wasm.OpIf:
			e := w.ti.match[i]
			if w.ti.live[i] && w.cnt[e] > w.cnt[i] {
				items = append(items, i)
			}
			i = e + 1
		default:
			i++
		}
	}
	push := func(ls []uint32) {
		for _, l := range ls {
			w.emit(wasm.WithIndex(wasm.OpLocalGet, l))
		}
	}
	if len(items) == 0 {
		push(prefix)
		return w.plain(from, to)
	}
	if w.dispatch {
		w.dispatchTo(items)
	}
	push(prefix)
	seg := from
	for _, it := range items {
		if err := w.plain(seg, it); err != nil {
			return err
		}
		stk := w.ti.stack[it]
		nin, err := w.inputs(it)
		if err != nil {
			return err
		}
		if nin > len(stk) {
			return fmt.Errorf("%w: operand stack underflow at %d", ErrInvalid, it)
		}
		below, ins := stk[:len(stk)-nin], stk[len(stk)-nin:]
		isIf := w.body[it].Op == wasm.OpIf
		var cond uint32
		if isIf {
			cond = w.local(level, roleCond, wasm.I32, 0)
			w.emit(wasm.WithIndex(wasm.OpLocalSet, cond))
			ins = ins[:len(ins)-1]
		}
		inLocals := w.spill(level, roleIn, ins)
		liveLocals := w.spill(level, roleLive, below)
		if w.dispatch {
			w.close() // $Lj
		}
		mark := len(w.chain)
		w.chain = append(w.chain, liveLocals...)
		if isIf {
			w.chain = append(w.chain, cond)
		}
		var outs []wasm.ValType
		if w.ti.site[it] {
			push(inLocals)
			var extra []uint32
			if w.body[it].Op == wasm.OpCallIndirect {
				extra = inLocals[len(inLocals)-1:] // the table index picks the callee again
			}
			outs, err = w.call(it, extra)
		} else {
			if isIf {
				w.emit(wasm.WithIndex(wasm.OpLocalGet, cond))
			}
			outs, err = w.construct(it, level, inLocals)
		}
		w.chain = w.chain[:mark]
		if err != nil {
			return err
		}
		if len(liveLocals) > 0 {
			outLocals := w.spill(level, roleOut, outs)
			push(liveLocals)
			push(outLocals)
		}
		seg = w.itemEnd(it)
	}
	return w.plain(seg, to)
}

// dispatchTo opens the blocks $Ln ... $L1 of a sequence with items (see
// seq) and emits its dispatch, in $L0: when rewinding, a br_table on the
// site index to the block that ends just before the item holding the site.
func (w *fw) dispatchTo(items []int) {
	n := len(items)
	lo, hi := w.cnt[items[0]], w.cnt[w.itemEnd(items[n-1])]
	for range n + 1 { // $Ln ... $L1, $L0
		w.open(wasm.Block(wasm.OpBlock, wasm.BlockEmpty), false)
	}
	w.emit(wasm.WithIndex(wasm.OpGlobalGet, w.x.state), wasm.Plain(wasm.OpI32Eqz), wasm.WithIndex(wasm.OpBrIf, 0))
	w.open(wasm.Block(wasm.OpBlock, wasm.BlockEmpty), false) // $bad
	labels := make([]uint32, hi-lo)
	for j, it := range items {
		for s := w.cnt[it]; s < w.cnt[w.itemEnd(it)]; s++ {
			labels[s-lo] = uint32(j + 2) // $bad, $L0, $L1 ...
		}
	}
	w.emit(wasm.WithIndex(wasm.OpLocalGet, w.k))
	if lo != 0 {
		w.emit(wasm.I32Const(int32(lo)), wasm.Plain(wasm.OpI32Sub))
	}
	w.emit(wasm.Instr{Op: wasm.OpBrTable, Labels: labels, Index: 0})
	w.close()
	w.emit(wasm.Plain(wasm.OpUnreachable))
	w.close() // $L0
}

// spill pops values of types ts (the last on top) into locals of the pool
// (level, role) and returns the locals in stack order.
func (w *fw) spill(level int, role byte, ts []wasm.ValType) []uint32 {
	ls := make([]uint32, len(ts))
	ord := map[wasm.ValType]int{}
	for i, t := range ts {
		ls[i] = w.local(level, role, t, ord[t])
		ord[t]++
	}
	for i := len(ls) - 1; i >= 0; i-- {
		w.emit(wasm.WithIndex(wasm.OpLocalSet, ls[i]))
	}
	return ls
}

// call emits the call at i, whose inputs are on the stack, and the check
// after it, which saves the frame's live locals when unwinding; it returns
// the call's results.
func (w *fw) call(i int, extra []uint32) ([]wasm.ValType, error) {
	in := w.body[i]
	var results []wasm.ValType
	if in.Op == wasm.OpCall {
		ct, _ := w.x.m.FuncType(in.Index)
		results = ct.Results
	} else {
		results = w.x.m.Types[in.Index].Results
	}
	w.emit(in, wasm.WithIndex(wasm.OpGlobalGet, w.x.state))
	w.open(wasm.Block(wasm.OpIf, wasm.BlockEmpty), false)
	// The saves are inline: out-of-line code shared by the sites would make
	// every saved local live after every site.
	saved := slices.Concat(w.liveOrig[i], w.chain, extra)
	slices.Sort(saved)
	saved = slices.Compact(saved)
	w.siteSaved = append(w.siteSaved, saved)
	x := w.x
	for _, l := range saved {
		switch t := w.localTypes[l]; {
		case t == wasm.V128:
			w.emit(wasm.WithIndex(wasm.OpLocalGet, l), wasm.WithIndex(wasm.OpI64x2ExtractLane, 0),
				wasm.WithIndex(wasm.OpCall, x.save[wasm.I64]),
				wasm.WithIndex(wasm.OpLocalGet, l), wasm.WithIndex(wasm.OpI64x2ExtractLane, 1),
				wasm.WithIndex(wasm.OpCall, x.save[wasm.I64]))
		case t.IsRef():
			// refused once the body is done
		default:
			w.emit(wasm.WithIndex(wasm.OpLocalGet, l), wasm.WithIndex(wasm.OpCall, x.save[t]))
		}
	}
	w.emit(wasm.I32Const(int32(w.cnt[i])), wasm.WithIndex(wasm.OpLocalSet, w.k),
		wasm.WithIndex(wasm.OpBr, uint32(len(w.ctl)-1))) // to $unwind
	w.close()
	return results, nil
}

// construct emits the block, loop or if at i with its params moved into
// locals (an if's condition is already on the stack).
func (w *fw) construct(i, level int, params []uint32) ([]wasm.ValType, error) {
	in := w.body[i]
	_, results, _ := in.Block.Signature(w.x.m)
	w.open(wasm.Block(in.Op, w.blockType(results)), true)
	if in.Op == wasm.OpLoop && len(params) > 0 {
		w.loopParams[len(w.ctl)-1] = params
	}
	end, els := w.ti.match[i], w.ti.elseAt[i]
	armEnd := end
	if els >= 0 {
		armEnd = els
	}
	if err := w.seq(i+1, armEnd, level+1, params); err != nil {
		return nil, err
	}
	switch {
	case els >= 0:
		w.emit(wasm.Plain(wasm.OpElse))
		if err := w.seq(els+1, end, level+1, params); err != nil {
			return nil, err
		}
	case in.Op == wasm.OpIf && len(params) > 0:
		// The implicit else passes the params through as results.
		w.emit(wasm.Plain(wasm.OpElse))
		for _, l := range params {
			w.emit(wasm.WithIndex(wasm.OpLocalGet, l))
		}
	}
	w.close()
	return results, nil
}

// branchToParamLoop emits br or br_if (already remapped) to a loop whose
// params live in locals: the values the branch carries go to those locals.
func (w *fw) branchToParamLoop(in wasm.Instr, params []uint32) {
	if in.Op == wasm.OpBr {
		for i := len(params) - 1; i >= 0; i-- {
			w.emit(wasm.WithIndex(wasm.OpLocalSet, params[i]))
		}
		w.emit(in)
		return
	}
	// br_if: the values stay on the stack when the branch is not taken.
	c := w.local(-1, 't', wasm.I32, 0)
	w.emit(wasm.WithIndex(wasm.OpLocalSet, c))
	for i := len(params) - 1; i >= 0; i-- {
		w.emit(wasm.WithIndex(wasm.OpLocalSet, params[i]))
	}
	for _, l := range params {
		w.emit(wasm.WithIndex(wasm.OpLocalGet, l))
	}
	w.emit(wasm.WithIndex(wasm.OpLocalGet, c), wasm.Block(wasm.OpIf, wasm.BlockEmpty),
		wasm.WithIndex(wasm.OpBr, in.Index+1), wasm.Plain(wasm.OpEnd))
}
