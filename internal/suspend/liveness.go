package suspend

import (
	"math/bits"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// liveAfterSites returns, for each site (by instruction index), the locals
// of the original body that are live after the call: read on some path
// before being written. Only those need saving.
func liveAfterSites(body []wasm.Instr, nLocals int, ti *fnTypes) map[int][]uint32 {
	n := len(body)
	words := (nLocals + 63) / 64
	// Successors.
	succ := make([][]int32, n)
	var opens []int
	target := func(d uint32) int32 {
		if int(d) >= len(opens) {
			return int32(n - 1) // the function's end
		}
		s := opens[len(opens)-1-int(d)]
		if body[s].Op == wasm.OpLoop {
			return int32(s + 1)
		}
		return int32(ti.match[s])
	}
	for i := 0; i < n; i++ {
		in := &body[i]
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop:
			opens = append(opens, i)
			succ[i] = []int32{int32(i + 1)}
		case wasm.OpIf:
			opens = append(opens, i)
			alt := int32(ti.match[i])
			if e := ti.elseAt[i]; e >= 0 {
				alt = int32(e + 1)
			}
			succ[i] = []int32{int32(i + 1), alt}
		case wasm.OpElse:
			succ[i] = []int32{int32(ti.match[opens[len(opens)-1]])}
		case wasm.OpEnd:
			if len(opens) > 0 {
				opens = opens[:len(opens)-1]
				succ[i] = []int32{int32(i + 1)}
			}
		case wasm.OpBr:
			succ[i] = []int32{target(in.Index)}
		case wasm.OpBrIf:
			succ[i] = []int32{int32(i + 1), target(in.Index)}
		case wasm.OpBrTable:
			s := make([]int32, 0, len(in.Labels)+1)
			for _, l := range in.Labels {
				s = append(s, target(l))
			}
			succ[i] = append(s, target(in.Index))
		case wasm.OpReturn, wasm.OpUnreachable:
		default:
			succ[i] = []int32{int32(i + 1)}
		}
	}
	// Backward fixpoint on live-in sets.
	live := make([]uint64, n*words)
	out := make([]uint64, words)
	for changed := true; changed; {
		changed = false
		for i := n - 1; i >= 0; i-- {
			clear(out)
			for _, s := range succ[i] {
				ls := live[int(s)*words : int(s+1)*words]
				for w := range out {
					out[w] |= ls[w]
				}
			}
			in := &body[i]
			switch in.Op {
			case wasm.OpLocalSet, wasm.OpLocalTee:
				out[in.Index/64] &^= 1 << (in.Index % 64)
			case wasm.OpLocalGet:
				out[in.Index/64] |= 1 << (in.Index % 64)
			}
			li := live[i*words : (i+1)*words]
			for w := range out {
				if li[w] != out[w] {
					li[w] = out[w]
					changed = true
				}
			}
		}
	}
	res := map[int][]uint32{}
	for i := range n {
		if !ti.site[i] {
			continue
		}
		var ls []uint32
		next := live[(i+1)*words : (i+2)*words] // a call falls through
		for w, word := range next {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				ls = append(ls, uint32(w*64+b))
				word &^= 1 << b
			}
		}
		res[i] = ls
	}
	return res
}
