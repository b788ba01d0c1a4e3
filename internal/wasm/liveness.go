package wasm

import "math/bits"

// Liveness holds, for each instruction of a function body, the locals that
// are live before it: read on some path from there before being written.
type Liveness struct {
	words int
	live  []uint64 // live-in of instruction i: live[i*words:(i+1)*words]
}

// LocalLiveness computes the live locals before every instruction of body
// (and, at index len(body), after its last). body must be structurally valid
// (every block, loop and if closed by its end); nLocals counts the params and
// the declared locals. Branch targets follow the structure: a branch to a
// loop goes to its header, to a block or if past its end, past the
// function's own end to the function's exit.
func LocalLiveness(body []Instr, nLocals int) *Liveness {
	n := len(body)
	words := (nLocals + 63) / 64
	// Where each construct ends, and where an if's else is.
	match := make([]int, n)
	elseAt := make([]int, n)
	var opens []int
	for i := range body {
		switch body[i].Op {
		case OpBlock, OpLoop, OpIf:
			opens = append(opens, i)
			elseAt[i] = -1
		case OpElse:
			if len(opens) > 0 {
				elseAt[opens[len(opens)-1]] = i
			}
		case OpEnd:
			if len(opens) > 0 {
				match[opens[len(opens)-1]] = i
				opens = opens[:len(opens)-1]
			}
		}
	}
	opens = opens[:0]
	exit := int32(n) // past the function's end: nothing is live
	target := func(d uint32) int32 {
		if int(d) >= len(opens) {
			return exit
		}
		s := opens[len(opens)-1-int(d)]
		if body[s].Op == OpLoop {
			return int32(s + 1)
		}
		return int32(match[s] + 1)
	}
	succ := make([][]int32, n)
	for i := range n {
		in := &body[i]
		switch in.Op {
		case OpBlock, OpLoop:
			opens = append(opens, i)
			succ[i] = []int32{int32(i + 1)}
		case OpIf:
			opens = append(opens, i)
			alt := int32(match[i] + 1)
			if e := elseAt[i]; e >= 0 {
				alt = int32(e + 1)
			}
			succ[i] = []int32{int32(i + 1), alt}
		case OpElse:
			succ[i] = []int32{int32(match[opens[len(opens)-1]] + 1)}
		case OpEnd:
			if len(opens) > 0 {
				opens = opens[:len(opens)-1]
			}
			succ[i] = []int32{int32(i + 1)}
		case OpBr:
			succ[i] = []int32{target(in.Index)}
		case OpBrIf:
			succ[i] = []int32{int32(i + 1), target(in.Index)}
		case OpBrTable:
			s := make([]int32, 0, len(in.Labels)+1)
			for _, l := range in.Labels {
				s = append(s, target(l))
			}
			succ[i] = append(s, target(in.Index))
		case OpReturn, OpUnreachable:
		default:
			succ[i] = []int32{int32(i + 1)}
		}
	}
	lv := &Liveness{words: words, live: make([]uint64, (n+1)*words)}
	out := make([]uint64, words)
	for changed := true; changed; {
		changed = false
		for i := n - 1; i >= 0; i-- {
			clear(out)
			for _, s := range succ[i] {
				ls := lv.live[int(s)*words : int(s+1)*words]
				for w := range out {
					out[w] |= ls[w]
				}
			}
			in := &body[i]
			switch in.Op {
			case OpLocalSet, OpLocalTee:
				if int(in.Index) < nLocals {
					out[in.Index/64] &^= 1 << (in.Index % 64)
				}
			case OpLocalGet:
				if int(in.Index) < nLocals {
					out[in.Index/64] |= 1 << (in.Index % 64)
				}
			}
			li := lv.live[i*words : (i+1)*words]
			for w := range out {
				if li[w] != out[w] {
					li[w] = out[w]
					changed = true
				}
			}
		}
	}
	return lv
}

// Live reports whether local is live before instruction i.
func (lv *Liveness) Live(i int, local uint32) bool {
	w := int(local / 64)
	if w >= lv.words {
		return false
	}
	return lv.live[i*lv.words+w]&(1<<(local%64)) != 0
}

// Locals returns the locals live before instruction i, in increasing order.
func (lv *Liveness) Locals(i int) []uint32 {
	var ls []uint32
	for w, word := range lv.live[i*lv.words : (i+1)*lv.words] {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			ls = append(ls, uint32(w*64+b))
			word &^= 1 << b
		}
	}
	return ls
}
