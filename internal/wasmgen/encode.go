package wasmgen

// The binary encoding of the generated module.

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint64(len(body)))
	return append(out, body...)
}

func vec(b []byte, n int) []byte { return uleb(b, uint64(n)) }

func name(b []byte, s string) []byte {
	b = uleb(b, uint64(len(s)))
	return append(b, s...)
}

// Scratch memory of the print helper: the iovec at 0, nwritten at 8, the
// text at 16.
const (
	scratchIov  = 0
	scratchN    = 8
	scratchText = 16
)

func (g *gen) encode() []byte {
	printFn := g.printBody()
	startFn := g.startBody()

	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

	var b []byte
	b = vec(b, len(g.types))
	for _, t := range g.types {
		b = append(b, 0x60)
		b = vec(b, len(t.params))
		b = append(b, t.params...)
		b = vec(b, len(t.results))
		b = append(b, t.results...)
	}
	out = section(out, 1, b)

	b = vec(nil, 2)
	b = name(b, "wasi_snapshot_preview1")
	b = name(b, "fd_write")
	b = append(b, 0x00)
	b = uleb(b, uint64(g.typeOf([]byte{I32, I32, I32, I32}, []byte{I32})))
	b = name(b, "wasi_snapshot_preview1")
	b = name(b, "proc_exit")
	b = append(b, 0x00)
	b = uleb(b, uint64(g.typeOf([]byte{I32}, nil)))
	out = section(out, 2, b)

	b = vec(nil, 2+len(g.funcs))
	b = uleb(b, uint64(g.typeOf(nil, nil))) // print
	b = uleb(b, uint64(g.typeOf(nil, nil))) // _start
	for _, f := range g.funcs {
		b = uleb(b, uint64(f.typ))
	}
	out = section(out, 3, b)

	b = vec(nil, 1)
	b = append(b, 0x70, 0x01)
	b = uleb(b, uint64(g.tableLen))
	b = uleb(b, uint64(g.tableLen))
	out = section(out, 4, b)

	b = vec(nil, 1)
	if g.memMax > 0 {
		b = append(b, 0x01)
		b = uleb(b, uint64(g.memMin))
		b = uleb(b, uint64(g.memMax))
	} else {
		b = append(b, 0x00)
		b = uleb(b, uint64(g.memMin))
	}
	out = section(out, 5, b)

	b = vec(nil, len(g.globals))
	for _, gl := range g.globals {
		b = append(b, gl.t)
		if gl.mutable {
			b = append(b, 0x01)
		} else {
			b = append(b, 0x00)
		}
		b = append(b, gl.init...)
		b = append(b, 0x0b)
	}
	out = section(out, 6, b)

	b = vec(nil, 2)
	b = name(b, "memory")
	b = append(b, 0x02, 0x00)
	b = name(b, "_start")
	b = append(b, 0x00)
	b = uleb(b, fnStart)
	out = section(out, 7, b)

	// One active segment at 0: the generated functions in a stirred order,
	// the slots beyond them left null.
	b = vec(nil, 1)
	b = append(b, 0x00, 0x41, 0x00, 0x0b)
	b = vec(b, len(g.funcs))
	for i := range g.funcs {
		b = uleb(b, uint64(fnFirst+slot(i, len(g.funcs))))
	}
	out = section(out, 9, b)

	out = section(out, 12, uleb(nil, 2)) // data count

	b = vec(nil, 2+len(g.funcs))
	for _, body := range append([][]byte{printFn, startFn}, g.funcBodies()...) {
		b = uleb(b, uint64(len(body)))
		b = append(b, body...)
	}
	out = section(out, 10, b)

	// Data: the passive segment (for memory.init), and an active one in
	// page 0.
	b = vec(nil, 2)
	b = append(b, 0x01)
	b = vec(b, len(g.data))
	b = append(b, g.data...)
	b = append(b, 0x00, 0x41, 0xc0, 0x00, 0x0b) // at 64
	b = vec(b, len(g.data))
	b = append(b, g.data...)
	out = section(out, 11, b)
	return out
}

// locals encodes a list of local types in runs.
func locals(b []byte, ts []byte) []byte {
	type run struct {
		n int
		t byte
	}
	var runs []run
	for _, t := range ts {
		if len(runs) > 0 && runs[len(runs)-1].t == t {
			runs[len(runs)-1].n++
		} else {
			runs = append(runs, run{1, t})
		}
	}
	b = vec(b, len(runs))
	for _, r := range runs {
		b = uleb(b, uint64(r.n))
		b = append(b, r.t)
	}
	return b
}

func (g *gen) funcBodies() [][]byte {
	var out [][]byte
	for _, f := range g.funcs {
		b := locals(nil, f.locals)
		out = append(out, append(b, f.body...))
	}
	return out
}

// printBody writes the digest as 16 hex digits and a newline to stdout.
func (g *gen) printBody() []byte {
	b := locals(nil, []byte{I32})
	for i := range 16 {
		b = append(b, 0x41)
		b = sleb(b, int64(scratchText+i))
		b = append(b, 0x23, gAcc, 0x42)
		b = sleb(b, int64(60-4*i))
		b = append(b, 0x88, 0xa7, 0x41, 15, 0x71, 0x22, 0) // shr_u, wrap, &15, tee n
		b = append(b, 0x41, 48, 0x6a, 0x20, 0, 0x41, 9, 0x4b, 0x41, 39, 0x6c, 0x6a)
		b = append(b, 0x3a, 0, 0) // i32.store8
	}
	b = append(b, 0x41)
	b = sleb(b, scratchText+16)
	b = append(b, 0x41, 10, 0x3a, 0, 0)
	// iovec {text, 17}
	b = append(b, 0x41, scratchIov, 0x41, scratchText, 0x36, 2, 0)
	b = append(b, 0x41, scratchIov, 0x41, 17, 0x36, 2, 4)
	b = append(b, 0x41, 1, 0x41, scratchIov, 0x41, 1, 0x41, scratchN, 0x10, fnFdWrite, 0x1a)
	return append(b, 0x0b)
}

// mixLocal emits acc = (rotl(acc, 29) ^ bits(l)) · p for local l of
// type t.
func mixLocal(b []byte, l uint32, t byte) []byte {
	b = append(b, 0x23, gAcc, 0x42, 29, 0x89, 0x20)
	b = uleb(b, uint64(l))
	f := &genFunc{body: b}
	toI64(f, t)
	b = f.body
	b = append(b, 0x85, 0x42)
	b = sleb(b, 0x100000001b3)
	return append(b, 0x7e, 0x24, gAcc)
}

// startBody calls every generated function with constant arguments,
// printing the digest after each, then folds in the globals and memory.
func (g *gen) startBody() []byte {
	// locals: one temporary of each type (0-3), the memory cursor (4)
	tmp := map[byte]uint32{I32: 0, I64: 1, F32: 2, F64: 3}
	b := locals(nil, []byte{I32, I64, F32, F64, I32})
	for i, f := range g.funcs {
		b = append(b, 0x41)
		b = sleb(b, int64(20+g.src.intn(300)))
		b = append(b, 0x24, gBudget)
		for _, t := range f.params {
			b = append(b, g.constOf(t)...)
		}
		b = append(b, 0x10)
		b = uleb(b, uint64(fnFirst+i))
		for j := len(f.res) - 1; j >= 0; j-- {
			b = append(b, 0x21)
			b = uleb(b, uint64(tmp[f.res[j]]))
			b = mixLocal(b, tmp[f.res[j]], f.res[j])
		}
		b = append(b, 0x10, fnPrint)
	}
	for i, gl := range g.globals[gFirst:] {
		b = append(b, 0x23)
		b = uleb(b, uint64(gFirst+i))
		b = append(b, 0x21)
		b = uleb(b, uint64(tmp[gl.t]))
		b = mixLocal(b, tmp[gl.t], gl.t)
	}
	b = append(b, 0x10, fnPrint)
	// for i := 0; i < memory.size<<16; i += 8 { mix(i64.load i) }
	b = append(b, 0x41, 0, 0x21, 4)
	b = append(b, 0x02, 0x40, 0x03, 0x40)
	b = append(b, 0x20, 4, 0x3f, 0, 0x41, 16, 0x74, 0x4f, 0x0d, 1) // i >= size<<16: br_if 1
	b = append(b, 0x20, 4, 0x29, 3, 0, 0x21, 1)
	b = mixLocal(b, 1, I64)
	b = append(b, 0x20, 4, 0x41, 8, 0x6a, 0x21, 4, 0x0c, 0)
	b = append(b, 0x0b, 0x0b)
	b = append(b, 0x10, fnPrint)
	// Exit with a status from the digest, now and then.
	if g.src.intn(4) == 0 {
		b = append(b, 0x23, gAcc, 0xa7, 0x41, 7, 0x71, 0x10, fnProcExit)
	}
	return append(b, 0x0b)
}
