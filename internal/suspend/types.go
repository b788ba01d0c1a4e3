package suspend

import (
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// unknown is the type of a value popped from the polymorphic stack of
// unreachable code.
const unknown wasm.ValType = 0

// tframe is a control frame of the type tracker.
type tframe struct {
	op          wasm.Opcode // OpBlock, OpLoop, OpIf; OpEnd for the function
	params      []wasm.ValType
	results     []wasm.ValType
	height      int  // operand stack height at the frame's start (params excluded)
	unreachable bool // the rest of the frame is dead (stack polymorphic)
	dead        bool // the whole frame is dead: it started in dead code
}

// labelTypes are the types a branch to f carries.
func (f *tframe) labelTypes() []wasm.ValType {
	if f.op == wasm.OpLoop {
		return f.params
	}
	return f.results
}

// fnTypes is what the tracker learns about one function body.
type fnTypes struct {
	// site[i] is true for a call at i that may suspend and is live.
	site []bool
	// live[i] is true for a block/loop/if at i that starts in live code.
	live []bool
	// stack[i] is the operand stack of the innermost frame before
	// instruction i, recorded for sites and live block starts.
	stack map[int][]wasm.ValType
	// match[i] is the index of the end of the construct started at i;
	// elseAt[i] the index of its else, or -1.
	match, elseAt []int
}

// tracker is a validator-style abstract interpretation of a flat body that
// follows the operand stack's types.
type tracker struct {
	m      *wasm.Module
	locals []wasm.ValType
	stack  []wasm.ValType
	ctrl   []tframe
}

func (t *tracker) top() *tframe { return &t.ctrl[len(t.ctrl)-1] }

func (t *tracker) push(ts ...wasm.ValType) { t.stack = append(t.stack, ts...) }

func (t *tracker) pop() (wasm.ValType, error) {
	f := t.top()
	if len(t.stack) == f.height {
		if f.unreachable {
			return unknown, nil
		}
		return 0, fmt.Errorf("%w: operand stack underflow", ErrInvalid)
	}
	v := t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
	return v, nil
}

func (t *tracker) popN(n int) error {
	for range n {
		if _, err := t.pop(); err != nil {
			return err
		}
	}
	return nil
}

func (t *tracker) setUnreachable() {
	f := t.top()
	t.stack = t.stack[:f.height]
	f.unreachable = true
}

func (t *tracker) label(depth uint32) (*tframe, error) {
	if int(depth) >= len(t.ctrl) {
		return nil, fmt.Errorf("%w: branch depth %d", ErrInvalid, depth)
	}
	return &t.ctrl[len(t.ctrl)-1-int(depth)], nil
}

// frameStack returns a copy of the innermost frame's operand stack.
func (t *tracker) frameStack() []wasm.ValType {
	return append([]wasm.ValType(nil), t.stack[t.top().height:]...)
}

// typeBody runs the tracker over f's body. suspends reports whether a call
// instruction may suspend.
func typeBody(m *wasm.Module, f *wasm.Func, suspends func(*wasm.Instr) bool) (*fnTypes, error) {
	ft := m.Types[f.Type]
	t := &tracker{m: m, locals: append([]wasm.ValType(nil), ft.Params...)}
	for _, g := range f.Locals {
		for range g.Count {
			t.locals = append(t.locals, g.Type)
		}
	}
	body := f.Body
	n := len(body)
	info := &fnTypes{site: make([]bool, n), live: make([]bool, n), stack: map[int][]wasm.ValType{},
		match: make([]int, n), elseAt: make([]int, n)}
	t.ctrl = []tframe{{op: wasm.OpEnd, results: ft.Results}}
	var opens []int // instruction index of each open construct
	for i := 0; i < n; i++ {
		in := &body[i]
		fr := t.top()
		liveHere := !fr.unreachable && !fr.dead
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			params, results, ok := in.Block.Signature(m)
			if !ok {
				return nil, fmt.Errorf("%w: bad block type", ErrInvalid)
			}
			if liveHere {
				info.live[i] = true
				info.stack[i] = t.frameStack()
			}
			if in.Op == wasm.OpIf {
				if _, err := t.pop(); err != nil {
					return nil, err
				}
			}
			if err := t.popN(len(params)); err != nil {
				return nil, err
			}
			dead := !liveHere
			t.ctrl = append(t.ctrl, tframe{op: in.Op, params: params, results: results, height: len(t.stack), dead: dead})
			t.push(params...)
			info.elseAt[i] = -1
			opens = append(opens, i)
		case wasm.OpElse:
			if len(opens) == 0 || fr.op != wasm.OpIf {
				return nil, fmt.Errorf("%w: else outside if", ErrInvalid)
			}
			info.elseAt[opens[len(opens)-1]] = i
			t.stack = t.stack[:fr.height]
			fr.unreachable = false
			t.push(fr.params...)
		case wasm.OpEnd:
			t.stack = t.stack[:fr.height]
			res := fr.results
			t.ctrl = t.ctrl[:len(t.ctrl)-1]
			if len(t.ctrl) == 0 {
				if i != n-1 {
					return nil, fmt.Errorf("%w: code after the function's end", ErrInvalid)
				}
				return info, nil
			}
			info.match[opens[len(opens)-1]] = i
			opens = opens[:len(opens)-1]
			t.push(res...)
		case wasm.OpBr:
			l, err := t.label(in.Index)
			if err != nil {
				return nil, err
			}
			if err := t.popN(len(l.labelTypes())); err != nil {
				return nil, err
			}
			t.setUnreachable()
		case wasm.OpBrIf:
			if _, err := t.pop(); err != nil {
				return nil, err
			}
			l, err := t.label(in.Index)
			if err != nil {
				return nil, err
			}
			lt := l.labelTypes()
			if err := t.popN(len(lt)); err != nil {
				return nil, err
			}
			t.push(lt...)
		case wasm.OpBrTable:
			if _, err := t.pop(); err != nil {
				return nil, err
			}
			t.setUnreachable()
		case wasm.OpReturn, wasm.OpUnreachable:
			t.setUnreachable()
		case wasm.OpCall, wasm.OpCallIndirect:
			var ct wasm.FuncType
			if in.Op == wasm.OpCall {
				c, ok := m.FuncType(in.Index)
				if !ok {
					return nil, fmt.Errorf("%w: call to function %d", ErrInvalid, in.Index)
				}
				ct = c
			} else {
				if int(in.Index) >= len(m.Types) {
					return nil, fmt.Errorf("%w: call_indirect type %d", ErrInvalid, in.Index)
				}
				ct = m.Types[in.Index]
			}
			if liveHere && suspends(in) {
				info.site[i] = true
				info.stack[i] = t.frameStack()
			}
			if in.Op == wasm.OpCallIndirect {
				if _, err := t.pop(); err != nil {
					return nil, err
				}
			}
			if err := t.popN(len(ct.Params)); err != nil {
				return nil, err
			}
			t.push(ct.Results...)
		case wasm.OpDrop:
			if _, err := t.pop(); err != nil {
				return nil, err
			}
		case wasm.OpSelect, wasm.OpSelectT:
			if _, err := t.pop(); err != nil {
				return nil, err
			}
			a, err := t.pop()
			if err != nil {
				return nil, err
			}
			b, err := t.pop()
			if err != nil {
				return nil, err
			}
			switch {
			case in.Op == wasm.OpSelectT && len(in.Types) == 1:
				t.push(in.Types[0])
			case a != unknown:
				t.push(a)
			default:
				t.push(b)
			}
		case wasm.OpLocalGet, wasm.OpLocalSet, wasm.OpLocalTee:
			if int(in.Index) >= len(t.locals) {
				return nil, fmt.Errorf("%w: local %d", ErrInvalid, in.Index)
			}
			lt := t.locals[in.Index]
			if in.Op != wasm.OpLocalGet {
				if _, err := t.pop(); err != nil {
					return nil, err
				}
			}
			if in.Op != wasm.OpLocalSet {
				t.push(lt)
			}
		case wasm.OpGlobalGet, wasm.OpGlobalSet:
			gt, ok := m.GlobalType(in.Index)
			if !ok {
				return nil, fmt.Errorf("%w: global %d", ErrInvalid, in.Index)
			}
			if in.Op == wasm.OpGlobalGet {
				t.push(gt.Type)
			} else if _, err := t.pop(); err != nil {
				return nil, err
			}
		case wasm.OpTableGet, wasm.OpTableSet, wasm.OpTableGrow, wasm.OpTableFill:
			tt, ok := m.TableType(in.Index)
			if !ok {
				return nil, fmt.Errorf("%w: table %d", ErrInvalid, in.Index)
			}
			var pops int
			switch in.Op {
			case wasm.OpTableGet:
				pops = 1
			case wasm.OpTableSet, wasm.OpTableGrow:
				pops = 2
			case wasm.OpTableFill:
				pops = 3
			}
			if err := t.popN(pops); err != nil {
				return nil, err
			}
			switch in.Op {
			case wasm.OpTableGet:
				t.push(tt.Elem)
			case wasm.OpTableGrow:
				t.push(wasm.I32)
			}
		case wasm.OpRefNull:
			t.push(in.RefType())
		case wasm.OpRefIsNull:
			if _, err := t.pop(); err != nil {
				return nil, err
			}
			t.push(wasm.I32)
		case wasm.OpRefFunc:
			t.push(wasm.FuncRef)
		default:
			params, results, ok := wasm.StackEffect(in.Op)
			if !ok {
				return nil, fmt.Errorf("%w: opcode %v", ErrUnsupported, in.Op)
			}
			if err := t.popN(len(params)); err != nil {
				return nil, err
			}
			t.push(results...)
		}
	}
	return nil, fmt.Errorf("%w: function body ends inside a block", ErrInvalid)
}
