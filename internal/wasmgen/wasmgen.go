// Package wasmgen generates random, valid WebAssembly modules for
// differential testing of crowdrun's engines (internal/enginediff).
//
// A module is a wasm32-wasi command that imports only fd_write and
// proc_exit. Its _start calls each generated function in turn with
// constant arguments, folds every result into a 64-bit digest (a mutable
// global) and prints the digest as hex after each call; at the end it folds
// in every global and the whole linear memory and prints again. So whatever
// two engines disagree on — a result, a NaN's bits, a trap, the point where
// fuel runs out — shows in stdout, the verdict or the fuel.
//
// The generated functions take and return i32, i64, f32 and f64 values and
// use every numeric instruction of WebAssembly 2.0 — the trapping ones (div
// and rem by zero, signed overflow, trunc of NaN or out of range) and the
// NaN-producing ones included, with constants chosen at the edges (NaNs with
// payloads, signalling NaNs, infinities, -0, the truncation bounds) — blocks,
// loops (bounded by a counter, so most terminate; some branch back past the
// counter and run until fuel is exhausted), if/else, br, br_if, br_table,
// return, direct and indirect calls with recursion (most calls are guarded by
// a call budget; some are not and reach the call-depth limit), loads and
// stores of every width at addresses in and out of bounds, memory.size,
// memory.grow, memory.fill, memory.copy, memory.init, data.drop, globals and
// select.
//
// Generate is driven by a byte string, so that `go test -fuzz` can steer
// it: each choice reads the next byte or two, and an exhausted string reads
// zeros, which always choose the simplest option, so every string gives a
// finite, valid module.
package wasmgen

import (
	"encoding/binary"
	"math"
)

// Value types.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
	F32 byte = 0x7d
	F64 byte = 0x7c
)

var valTypes = []byte{I32, I64, F32, F64}

// Fixed function indices: the two imports, then the print helper and
// _start, then the generated functions.
const (
	fnFdWrite  = 0
	fnProcExit = 1
	fnPrint    = 2
	fnStart    = 3
	fnFirst    = 4
)

// Fixed globals: the digest and the call budget, then the generated ones.
const (
	gAcc    = 0
	gBudget = 1
	gFirst  = 2
)

// Module is a generated module and what the run of it needs.
type Module struct {
	Wasm []byte
	// MemoryPages is the memory limit the module is meant to run under
	// (between its initial size and a few pages above it), so that some
	// memory.grow calls fail at the cap.
	MemoryPages uint32
}

type funcType struct {
	params, results []byte
}

func (t funcType) key() string {
	return string(rune(len(t.params))) + string(t.params) + string(t.results)
}

type genFunc struct {
	typ    int // index into gen.types
	params []byte
	res    []byte
	locals []byte // declared locals (after the params)
	nUser  int    // the first nUser locals are random code's; the rest are loop counters and temporaries
	body   []byte
}

type global struct {
	t       byte
	mutable bool
	init    []byte // constant expression, without end
}

type label struct {
	types []byte // what a branch to it carries
}

type fctx struct {
	f      *genFunc
	labels []label
	budget int // instructions left for this function
}

type gen struct {
	src      source
	types    []funcType
	typeIdx  map[string]int
	funcs    []*genFunc
	globals  []global
	tableLen int
	memMin   uint32
	memMax   uint32 // 0: none
	capPages uint32
	data     []byte // the passive segment
}

// Generate returns the module the byte string b describes.
func Generate(b []byte) Module {
	g := &gen{src: source{b: b}, typeIdx: map[string]int{}}
	return g.module()
}

func (g *gen) typeOf(params, results []byte) int {
	t := funcType{params, results}
	if i, ok := g.typeIdx[t.key()]; ok {
		return i
	}
	g.types = append(g.types, t)
	g.typeIdx[t.key()] = len(g.types) - 1
	return len(g.types) - 1
}

func (g *gen) module() Module {
	// Types of the fixed functions first.
	g.typeOf([]byte{I32, I32, I32, I32}, []byte{I32}) // fd_write
	g.typeOf([]byte{I32}, nil)                        // proc_exit, print... and _start is [] -> []
	g.typeOf(nil, nil)

	g.memMin = 1 + uint32(g.src.intn(2))
	if g.src.intn(3) == 0 {
		g.memMax = g.memMin + uint32(g.src.intn(4))
	}
	g.capPages = g.memMin + uint32(g.src.intn(6))

	nfuncs := 1 + g.src.intn(6)
	for range nfuncs {
		f := &genFunc{}
		for range g.src.intn(4) {
			f.params = append(f.params, g.valType())
		}
		// Results: mostly one, sometimes none or two (multi-value).
		switch g.src.intn(6) {
		case 0:
			f.res = []byte{g.valType()}
		case 1:
		case 2:
			f.res = []byte{g.valType(), g.valType()}
		default:
			f.res = []byte{g.valType()}
		}
		for range g.src.intn(5) {
			f.locals = append(f.locals, g.valType())
		}
		f.nUser = len(f.locals)
		f.typ = g.typeOf(f.params, f.res)
		g.funcs = append(g.funcs, f)
	}
	g.tableLen = nfuncs + g.src.intn(3)

	g.globals = []global{
		{I64, true, constBytes(I64, 0x9e3779b97f4a7c15)},
		{I32, true, constBytes(I32, 0)},
	}
	for range g.src.intn(6) {
		t := g.valType()
		g.globals = append(g.globals, global{t, g.src.intn(5) != 0, g.constOf(t)})
	}
	for range 8 + g.src.intn(24) {
		g.data = append(g.data, g.src.byte())
	}

	for _, f := range g.funcs {
		g.body(f)
	}
	return Module{Wasm: g.encode(), MemoryPages: g.capPages}
}

func (g *gen) valType() byte { return valTypes[g.src.intn(4)] }

// ---- function bodies ----

func (g *gen) body(f *genFunc) {
	c := &fctx{f: f, budget: 60 + g.src.intn(400)}
	c.labels = []label{{types: f.res}} // the function body
	g.stmts(c, f, 1+g.src.intn(8))
	for _, t := range f.res {
		g.expr(c, f, t, 3)
	}
	f.body = append(f.body, 0x0b)
}

func (g *gen) emit(f *genFunc, b ...byte) { f.body = append(f.body, b...) }

// local returns a new local of type t.
func (g *gen) newLocal(f *genFunc, t byte) uint32 {
	f.locals = append(f.locals, t)
	return uint32(len(f.params) + len(f.locals) - 1)
}

// localsOf are the locals of type t random code may read and write: the
// params and the first n declared locals.
func localsOf(f *genFunc, t byte, n int) []uint32 {
	var out []uint32
	for i, lt := range f.params {
		if lt == t {
			out = append(out, uint32(i))
		}
	}
	for i, lt := range f.locals[:n] {
		if lt == t {
			out = append(out, uint32(len(f.params)+i))
		}
	}
	return out
}

func (g *gen) stmts(c *fctx, f *genFunc, n int) {
	for range n {
		if c.budget <= 0 {
			return
		}
		g.stmt(c, f)
	}
}

// maxNest bounds the nesting of blocks, loops and ifs. crowdrun's suspend
// rewrite costs code quadratic in the nesting depth (every level of a
// rewind dispatches again; docs/fuzzing.md), and modules nested a hundred
// deep would spend the fuzzer's time in wazero's compiler.
const maxNest = 12

// nesting kinds of stmt and expr, which become a nop (a constant) when the
// code is nested maxNest deep.
var nestingStmt = map[int]bool{7: true, 8: true, 9: true, 10: true, 14: true, 15: true}

func (g *gen) stmt(c *fctx, f *genFunc) {
	c.budget--
	k := g.src.intn(24)
	if nestingStmt[k] && len(c.labels) > maxNest {
		g.emit(f, 0x01)
		return
	}
	switch k {
	case 0, 1: // mix a value into the digest
		t := g.valType()
		g.emit(f, 0x23, gAcc)
		g.expr(c, f, t, 3)
		toI64(f, t)
		g.emit(f, 0x42)
		f.body = sleb(f.body, 29)
		g.emit(f, 0x89, 0x85) // i64.rotl, i64.xor
		g.emit(f, 0x42)
		f.body = sleb(f.body, 0x100000001b3)
		g.emit(f, 0x7e, 0x24, gAcc) // i64.mul, global.set
	case 2, 3: // local.set
		t := g.valType()
		ls := localsOf(f, t, f.nUser)
		if len(ls) == 0 {
			g.emit(f, 0x01)
			return
		}
		g.expr(c, f, t, 3)
		g.emit(f, 0x21)
		f.body = uleb(f.body, uint64(ls[g.src.intn(len(ls))]))
	case 4: // global.set
		var ms []int
		for i, gl := range g.globals[gFirst:] {
			if gl.mutable {
				ms = append(ms, gFirst+i)
			}
		}
		if len(ms) == 0 {
			g.emit(f, 0x01)
			return
		}
		i := ms[g.src.intn(len(ms))]
		g.expr(c, f, g.globals[i].t, 3)
		g.emit(f, 0x24)
		f.body = uleb(f.body, uint64(i))
	case 5, 6: // store
		g.store(c, f)
	case 7: // block
		g.emit(f, 0x02, 0x40)
		c.labels = append(c.labels, label{})
		g.stmts(c, f, 1+g.src.intn(4))
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	case 8, 9: // a loop bounded by a counter
		g.loop(c, f)
	case 10: // if/else
		g.expr(c, f, I32, 3)
		g.emit(f, 0x04, 0x40)
		c.labels = append(c.labels, label{})
		g.stmts(c, f, 1+g.src.intn(3))
		if g.src.intn(2) == 0 {
			g.emit(f, 0x05)
			g.stmts(c, f, 1+g.src.intn(3))
		}
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	case 11: // br_if
		d := g.src.intn(len(c.labels))
		for _, t := range c.labels[len(c.labels)-1-d].types {
			g.expr(c, f, t, 2)
		}
		g.expr(c, f, I32, 3)
		g.emit(f, 0x0d)
		f.body = uleb(f.body, uint64(d))
		for range c.labels[len(c.labels)-1-d].types {
			g.emit(f, 0x1a)
		}
	case 12: // br or return, rarely: the rest of the block is dead
		if g.src.intn(3) != 0 {
			g.emit(f, 0x01)
			return
		}
		d := g.src.intn(len(c.labels))
		for _, t := range c.labels[len(c.labels)-1-d].types {
			g.expr(c, f, t, 2)
		}
		if d == len(c.labels)-1 && g.src.intn(2) == 0 {
			g.emit(f, 0x0f) // return
		} else {
			g.emit(f, 0x0c)
			f.body = uleb(f.body, uint64(d))
		}
	case 13: // br_table over the labels of the same type as a random one
		d := g.src.intn(len(c.labels))
		want := c.labels[len(c.labels)-1-d].types
		var same []int
		for i := range c.labels {
			if string(c.labels[len(c.labels)-1-i].types) == string(want) {
				same = append(same, i)
			}
		}
		for _, t := range want {
			g.expr(c, f, t, 2)
		}
		g.expr(c, f, I32, 2)
		n := g.src.intn(4)
		g.emit(f, 0x0e)
		f.body = uleb(f.body, uint64(n))
		for range n {
			f.body = uleb(f.body, uint64(same[g.src.intn(len(same))]))
		}
		f.body = uleb(f.body, uint64(d))
	case 14, 15: // a call, results folded into the digest or dropped
		g.call(c, f)
	case 16: // memory.grow, its result in the digest
		g.emit(f, 0x23, gAcc)
		g.expr(c, f, I32, 2)
		g.emit(f, 0x41, 3, 0x71)    // & 3
		g.emit(f, 0x40, 0x00, 0xad) // memory.grow, i64.extend_i32_u
		g.emit(f, 0x85, 0x24, gAcc)
	case 17: // memory.fill
		g.addr(c, f)
		g.expr(c, f, I32, 2)
		g.length(c, f)
		g.emit(f, 0xfc, 11, 0x00)
	case 18: // memory.copy
		g.addr(c, f)
		g.addr(c, f)
		g.length(c, f)
		g.emit(f, 0xfc, 10, 0x00, 0x00)
	case 19: // memory.init or, rarely, data.drop
		if g.src.intn(5) == 0 {
			g.emit(f, 0xfc, 9, 0x00)
			return
		}
		g.addr(c, f)
		g.emit(f, 0x41)
		f.body = sleb(f.body, int64(g.src.intn(len(g.data)+2)))
		g.emit(f, 0x41)
		f.body = sleb(f.body, int64(g.src.intn(len(g.data)+2)))
		g.emit(f, 0xfc, 8, 0x00, 0x00)
	case 20: // unreachable, rarely
		if g.src.intn(4) != 0 {
			g.emit(f, 0x01)
			return
		}
		g.emit(f, 0x00)
	case 21: // an expression dropped
		g.expr(c, f, g.valType(), 3)
		g.emit(f, 0x1a)
	default: // nop
		g.emit(f, 0x01)
	}
}

// loop emits `n → counter; loop { body; counter-- ; br_if counter > 0 }`.
// A branch to the loop from its body skips the decrement: such a loop runs
// until fuel runs out, as does one whose bound is huge.
func (g *gen) loop(c *fctx, f *genFunc) {
	ctr := g.newLocal(f, I32)
	n := int64(g.src.intn(12))
	if g.src.intn(16) == 0 {
		n = 1 << 30
	}
	g.emit(f, 0x41)
	f.body = sleb(f.body, n)
	g.emit(f, 0x21)
	f.body = uleb(f.body, uint64(ctr))
	g.emit(f, 0x03, 0x40)
	c.labels = append(c.labels, label{})
	g.stmts(c, f, 1+g.src.intn(4))
	c.labels = c.labels[:len(c.labels)-1]
	g.emit(f, 0x20)
	f.body = uleb(f.body, uint64(ctr))
	g.emit(f, 0x41, 1, 0x6b, 0x22) // i32.const 1, i32.sub, local.tee
	f.body = uleb(f.body, uint64(ctr))
	g.emit(f, 0x41, 0, 0x4a, 0x0d, 0, 0x0b) // i32.const 0, i32.gt_s, br_if 0, end
}

// call emits a call (direct or indirect), guarded by the call budget most
// of the time, its results folded into the digest.
func (g *gen) call(c *fctx, f *genFunc) {
	callee := g.funcs[g.src.intn(len(g.funcs))]
	guarded := g.src.intn(16) != 0
	if guarded {
		// if budget == 0 {} else { budget--; call }
		g.emit(f, 0x23, gBudget, 0x45, 0x04, 0x40, 0x05)
		g.emit(f, 0x23, gBudget, 0x41, 1, 0x6b, 0x24, gBudget)
		c.labels = append(c.labels, label{})
	}
	for _, t := range callee.params {
		g.expr(c, f, t, 2)
	}
	g.callInstr(c, f, callee)
	for i := len(callee.res) - 1; i >= 0; i-- {
		t := callee.res[i]
		if g.src.intn(3) == 0 {
			g.emit(f, 0x1a)
			continue
		}
		// value → local, then mix the local in
		tmp := g.newLocal(f, t)
		g.emit(f, 0x21)
		f.body = uleb(f.body, uint64(tmp))
		g.emit(f, 0x23, gAcc, 0x20)
		f.body = uleb(f.body, uint64(tmp))
		toI64(f, t)
		g.emit(f, 0x85, 0x42)
		f.body = sleb(f.body, 0x100000001b3)
		g.emit(f, 0x7e, 0x24, gAcc)
	}
	if guarded {
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	}
}

func (g *gen) callInstr(c *fctx, f *genFunc, callee *genFunc) {
	if g.src.intn(3) != 0 {
		g.emit(f, 0x10)
		f.body = uleb(f.body, uint64(fnFirst+g.indexOf(callee)))
		return
	}
	// call_indirect through the table: mostly the callee's own slot,
	// sometimes another, which may hold a function of another type or
	// none, or a computed index.
	switch k := g.src.intn(8); {
	case k < 5:
		g.emit(f, 0x41)
		f.body = sleb(f.body, int64(g.slotOf(callee)))
	case k < 7:
		g.emit(f, 0x41)
		f.body = sleb(f.body, int64(g.src.intn(g.tableLen)))
	default:
		g.expr(c, f, I32, 2)
	}
	g.emit(f, 0x11)
	f.body = uleb(f.body, uint64(callee.typ))
	g.emit(f, 0x00)
}

// slot is the table slot the element segment (encode) puts the i-th
// generated function in, of n.
func slot(s, n int) int { return (s*3 + n/2) % n }

// slotOf is the table slot holding f (or 0 if none does: then the call
// traps or calls another function).
func (g *gen) slotOf(f *genFunc) int {
	i := g.indexOf(f)
	for s := range len(g.funcs) {
		if slot(s, len(g.funcs)) == i {
			return s
		}
	}
	return 0
}

func (g *gen) indexOf(x *genFunc) int {
	for i, f := range g.funcs {
		if f == x {
			return i
		}
	}
	panic("wasmgen: unknown function")
}

// addr emits an i32 address: mostly inside the initial memory, sometimes
// near its current end, sometimes anywhere.
func (g *gen) addr(c *fctx, f *genFunc) {
	switch k := g.src.intn(32); {
	case k < 12:
		g.emit(f, 0x41)
		f.body = sleb(f.body, int64(g.src.intn(256)))
	case k < 30:
		g.expr(c, f, I32, 2)
		g.emit(f, 0x41)
		if k < 28 {
			f.body = sleb(f.body, []int64{0xff, 0xfff8, 0xffff}[g.src.intn(3)])
		} else {
			f.body = sleb(f.body, 0x1ffff) // beyond a one-page memory
		}
		g.emit(f, 0x71)
	case k == 30: // memory.size·64Ki − k
		g.emit(f, 0x3f, 0x00, 0x41, 16, 0x74, 0x41)
		f.body = sleb(f.body, int64(g.src.intn(20)))
		g.emit(f, 0x6b)
	default:
		g.expr(c, f, I32, 2)
	}
}

// length emits an i32 length for the bulk-memory instructions: small
// mostly, sometimes past the end.
func (g *gen) length(c *fctx, f *genFunc) {
	if g.src.intn(4) == 0 {
		g.expr(c, f, I32, 2)
		return
	}
	g.emit(f, 0x41)
	f.body = sleb(f.body, int64(g.src.intn(2048)))
}

type memOp struct {
	op    byte
	t     byte
	align uint32 // log2 of the natural alignment
}

var loads = []memOp{
	{0x28, I32, 2}, {0x29, I64, 3}, {0x2a, F32, 2}, {0x2b, F64, 3},
	{0x2c, I32, 0}, {0x2d, I32, 0}, {0x2e, I32, 1}, {0x2f, I32, 1},
	{0x30, I64, 0}, {0x31, I64, 0}, {0x32, I64, 1}, {0x33, I64, 1}, {0x34, I64, 2}, {0x35, I64, 2},
}

var stores = []memOp{
	{0x36, I32, 2}, {0x37, I64, 3}, {0x38, F32, 2}, {0x39, F64, 3},
	{0x3a, I32, 0}, {0x3b, I32, 1}, {0x3c, I64, 0}, {0x3d, I64, 1}, {0x3e, I64, 2},
}

func (g *gen) memarg(f *genFunc, m memOp) {
	f.body = uleb(f.body, uint64(g.src.intn(int(m.align)+1)))
	off := uint64(0)
	switch g.src.intn(48) {
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
		off = uint64(g.src.intn(64))
	case 11:
		off = 0xfffffff0
	}
	f.body = uleb(f.body, off)
}

func (g *gen) store(c *fctx, f *genFunc) {
	m := stores[g.src.intn(len(stores))]
	g.addr(c, f)
	g.expr(c, f, m.t, 3)
	g.emit(f, m.op)
	g.memarg(f, m)
}

// ---- expressions ----

type op struct {
	code []byte
	in   []byte
}

func o(in []byte, code ...byte) op { return op{code, in} }

var (
	i1  = []byte{I32}
	i2  = []byte{I32, I32}
	l1  = []byte{I64}
	l2  = []byte{I64, I64}
	f1  = []byte{F32}
	f2  = []byte{F32, F32}
	d1  = []byte{F64}
	d2  = []byte{F64, F64}
	ops = map[byte][]op{
		I32: {
			o(i1, 0x45), o(i1, 0x67), o(i1, 0x68), o(i1, 0x69), o(i1, 0xc0), o(i1, 0xc1),
			o(i2, 0x46), o(i2, 0x47), o(i2, 0x48), o(i2, 0x49), o(i2, 0x4a), o(i2, 0x4b), o(i2, 0x4c), o(i2, 0x4d), o(i2, 0x4e), o(i2, 0x4f),
			o(i2, 0x6a), o(i2, 0x6b), o(i2, 0x6c), o(i2, 0x6d), o(i2, 0x6e), o(i2, 0x6f), o(i2, 0x70),
			o(i2, 0x71), o(i2, 0x72), o(i2, 0x73), o(i2, 0x74), o(i2, 0x75), o(i2, 0x76), o(i2, 0x77), o(i2, 0x78),
			o(l1, 0x50), o(l2, 0x51), o(l2, 0x52), o(l2, 0x53), o(l2, 0x54), o(l2, 0x55), o(l2, 0x56), o(l2, 0x57), o(l2, 0x58), o(l2, 0x59), o(l2, 0x5a),
			o(f2, 0x5b), o(f2, 0x5c), o(f2, 0x5d), o(f2, 0x5e), o(f2, 0x5f), o(f2, 0x60),
			o(d2, 0x61), o(d2, 0x62), o(d2, 0x63), o(d2, 0x64), o(d2, 0x65), o(d2, 0x66),
			o(l1, 0xa7), o(f1, 0xa8), o(f1, 0xa9), o(d1, 0xaa), o(d1, 0xab), o(f1, 0xbc),
			o(f1, 0xfc, 0), o(f1, 0xfc, 1), o(d1, 0xfc, 2), o(d1, 0xfc, 3),
		},
		I64: {
			o(l1, 0x79), o(l1, 0x7a), o(l1, 0x7b), o(l1, 0xc2), o(l1, 0xc3), o(l1, 0xc4),
			o(l2, 0x7c), o(l2, 0x7d), o(l2, 0x7e), o(l2, 0x7f), o(l2, 0x80), o(l2, 0x81), o(l2, 0x82),
			o(l2, 0x83), o(l2, 0x84), o(l2, 0x85), o(l2, 0x86), o(l2, 0x87), o(l2, 0x88), o(l2, 0x89), o(l2, 0x8a),
			o(i1, 0xac), o(i1, 0xad), o(f1, 0xae), o(f1, 0xaf), o(d1, 0xb0), o(d1, 0xb1), o(d1, 0xbd),
			o(f1, 0xfc, 4), o(f1, 0xfc, 5), o(d1, 0xfc, 6), o(d1, 0xfc, 7),
		},
		F32: {
			o(f1, 0x8b), o(f1, 0x8c), o(f1, 0x8d), o(f1, 0x8e), o(f1, 0x8f), o(f1, 0x90), o(f1, 0x91),
			o(f2, 0x92), o(f2, 0x93), o(f2, 0x94), o(f2, 0x95), o(f2, 0x96), o(f2, 0x97), o(f2, 0x98),
			o(i1, 0xb2), o(i1, 0xb3), o(l1, 0xb4), o(l1, 0xb5), o(d1, 0xb6), o(i1, 0xbe),
		},
		F64: {
			o(d1, 0x99), o(d1, 0x9a), o(d1, 0x9b), o(d1, 0x9c), o(d1, 0x9d), o(d1, 0x9e), o(d1, 0x9f),
			o(d2, 0xa0), o(d2, 0xa1), o(d2, 0xa2), o(d2, 0xa3), o(d2, 0xa4), o(d2, 0xa5), o(d2, 0xa6),
			o(i1, 0xb7), o(i1, 0xb8), o(l1, 0xb9), o(l1, 0xba), o(f1, 0xbb), o(l1, 0xbf),
		},
	}
)

// expr emits an expression of type t, at most depth deep.
func (g *gen) expr(c *fctx, f *genFunc, t byte, depth int) {
	c.budget--
	k := 0
	if depth > 0 && c.budget > 0 {
		k = g.src.intn(16)
	} else {
		k = g.src.intn(3)
	}
	if (k == 10 || k == 11 || k == 13) && len(c.labels) > maxNest {
		k = 0
	}
	switch k {
	case 0: // constant
		g.emit(f, g.constOf(t)...)
	case 1: // local
		ls := localsOf(f, t, f.nUser)
		if len(ls) == 0 {
			g.emit(f, g.constOf(t)...)
			return
		}
		g.emit(f, 0x20)
		f.body = uleb(f.body, uint64(ls[g.src.intn(len(ls))]))
	case 2: // global
		var gs []int
		for i, gl := range g.globals[gFirst:] {
			if gl.t == t {
				gs = append(gs, gFirst+i)
			}
		}
		if len(gs) == 0 {
			g.emit(f, g.constOf(t)...)
			return
		}
		g.emit(f, 0x23)
		f.body = uleb(f.body, uint64(gs[g.src.intn(len(gs))]))
	case 3, 4, 5, 6, 7: // an operator
		list := ops[t]
		p := list[g.src.intn(len(list))]
		for _, in := range p.in {
			g.expr(c, f, in, depth-1)
		}
		g.emit(f, p.code...)
	case 8: // load
		var ls []memOp
		for _, m := range loads {
			if m.t == t {
				ls = append(ls, m)
			}
		}
		m := ls[g.src.intn(len(ls))]
		g.addr(c, f)
		g.emit(f, m.op)
		g.memarg(f, m)
	case 9: // select
		g.expr(c, f, t, depth-1)
		g.expr(c, f, t, depth-1)
		g.expr(c, f, I32, depth-1)
		g.emit(f, 0x1b)
	case 10: // if/else with a result
		g.expr(c, f, I32, depth-1)
		g.emit(f, 0x04, t)
		c.labels = append(c.labels, label{types: []byte{t}})
		g.stmts(c, f, g.src.intn(3))
		g.expr(c, f, t, depth-1)
		g.emit(f, 0x05)
		g.stmts(c, f, g.src.intn(3))
		g.expr(c, f, t, depth-1)
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	case 11: // block with a result, which its statements may branch out of
		g.emit(f, 0x02, t)
		c.labels = append(c.labels, label{types: []byte{t}})
		g.stmts(c, f, g.src.intn(4))
		g.expr(c, f, t, depth-1)
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	case 12: // local.tee
		ls := localsOf(f, t, f.nUser)
		if len(ls) == 0 {
			g.emit(f, g.constOf(t)...)
			return
		}
		g.expr(c, f, t, depth-1)
		g.emit(f, 0x22)
		f.body = uleb(f.body, uint64(ls[g.src.intn(len(ls))]))
	case 13: // a call of a function returning just t, guarded by the budget
		var cs []*genFunc
		for _, x := range g.funcs {
			if len(x.res) == 1 && x.res[0] == t {
				cs = append(cs, x)
			}
		}
		if len(cs) == 0 {
			g.emit(f, g.constOf(t)...)
			return
		}
		callee := cs[g.src.intn(len(cs))]
		g.emit(f, 0x23, gBudget, 0x45, 0x04, t)
		c.labels = append(c.labels, label{types: []byte{t}})
		g.expr(c, f, t, 0)
		g.emit(f, 0x05, 0x23, gBudget, 0x41, 1, 0x6b, 0x24, gBudget)
		for _, pt := range callee.params {
			g.expr(c, f, pt, depth-1)
		}
		g.callInstr(c, f, callee)
		c.labels = c.labels[:len(c.labels)-1]
		g.emit(f, 0x0b)
	case 14: // memory.size / memory.grow
		switch t {
		case I32:
			if g.src.intn(2) == 0 {
				g.emit(f, 0x3f, 0x00)
			} else {
				g.expr(c, f, I32, depth-1)
				g.emit(f, 0x41, 3, 0x71, 0x40, 0x00)
			}
		default:
			g.emit(f, g.constOf(t)...)
		}
	default: // an operator again
		list := ops[t]
		p := list[g.src.intn(len(list))]
		for _, in := range p.in {
			g.expr(c, f, in, depth-1)
		}
		g.emit(f, p.code...)
	}
}

// Edge values of each type.
var (
	i32Edges = []uint64{0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 2, 31, 32, 7, 0xfff8, 0x10000, 100}
	i64Edges = []uint64{0, 1, math.MaxUint64, 1 << 63, 1<<63 - 1, 2, 63, 64, 0xffffffff, 0x100000000, 5, 1000}
	f32Edges = []uint32{
		0, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0x7f800000, 0xff800000,
		0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x7fc12345, 0xff812345, // NaNs: canonical, negative, signalling, with payloads
		0x7f7fffff, 0x00000001, 0x4f000000, 0xcf000000, 0x4f800000, 0xcf000001, 0x3fc00000, 0x40200000,
	}
	f64Edges = []uint64{
		0, 1 << 63, 0x3ff0000000000000, 0xbff0000000000000, 0x3fe0000000000000, 0x7ff0000000000000, 0xfff0000000000000,
		0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0x7ff4000000000000, 0x7ff8000012345678, 0xfff0000000abcdef,
		0x7fefffffffffffff, 1, 0x41e0000000000000, 0xc1e0000000200000, 0x41f0000000000000, 0x43e0000000000000, 0xc3e0000000000000, 0x43f0000000000000,
		0x3ff8000000000000, 0x4004000000000000,
	}
)

// constOf is a constant instruction of type t: an edge value or random bits.
func (g *gen) constOf(t byte) []byte {
	edge := g.src.intn(4) != 0
	switch t {
	case I32:
		v := uint64(g.src.uint32())
		if edge {
			v = i32Edges[g.src.intn(len(i32Edges))]
		}
		return constBytes(I32, v)
	case I64:
		v := g.src.uint64()
		if edge {
			v = i64Edges[g.src.intn(len(i64Edges))]
		}
		return constBytes(I64, v)
	case F32:
		v := g.src.uint32()
		if edge {
			v = f32Edges[g.src.intn(len(f32Edges))]
		}
		return constBytes(F32, uint64(v))
	default:
		v := g.src.uint64()
		if edge {
			v = f64Edges[g.src.intn(len(f64Edges))]
		}
		return constBytes(F64, v)
	}
}

// constBytes is the const instruction of type t with the bits v.
func constBytes(t byte, v uint64) []byte {
	switch t {
	case I32:
		return sleb([]byte{0x41}, int64(int32(uint32(v))))
	case I64:
		return sleb([]byte{0x42}, int64(v))
	case F32:
		return binary.LittleEndian.AppendUint32([]byte{0x43}, uint32(v))
	default:
		return binary.LittleEndian.AppendUint64([]byte{0x44}, v)
	}
}

// toI64 emits the conversion of the value of type t on the stack to its
// bits as an i64.
func toI64(f *genFunc, t byte) {
	switch t {
	case I32:
		f.body = append(f.body, 0xad)
	case F32:
		f.body = append(f.body, 0xbc, 0xad)
	case F64:
		f.body = append(f.body, 0xbd)
	}
}

// ---- the byte source ----

type source struct {
	b []byte
	i int
}

func (s *source) byte() byte {
	if s.i >= len(s.b) {
		return 0
	}
	s.i++
	return s.b[s.i-1]
}

// intn is in [0, n); 0 when the string is exhausted.
func (s *source) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if n <= 256 {
		return int(s.byte()) % n
	}
	return int(uint16(s.byte())|uint16(s.byte())<<8) % n
}

func (s *source) uint32() uint32 {
	return uint32(s.byte()) | uint32(s.byte())<<8 | uint32(s.byte())<<16 | uint32(s.byte())<<24
}

func (s *source) uint64() uint64 { return uint64(s.uint32()) | uint64(s.uint32())<<32 }

// ---- LEB128 ----

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
		} else {
			return append(b, c)
		}
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
