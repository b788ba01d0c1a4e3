package instrument

import "github.com/crowdrun/crowdrun/internal/wasm"

// Fuel schedule v2's unchecked functions (docs/fuel.md, "Fuel schedule v2").
//
// A function is *unchecked* when everything a call to it can run is small
// and finite whatever the input: it has no loop and no call_indirect, every
// function it calls is an import or unchecked itself (so it is not
// recursive), the static cost of its whole call tree is at most
// maxUncheckedCost, and the frames of its call tree that make calls weigh
// at most maxUncheckedDepth units of the depth limit. Such a function is
// charged as under v1 but never checks the counter at its entry and never
// counts its frame in the depth counter: the caller's next check sees the
// charge, at most maxUncheckedCost later than v1 would have, and the engine's
// stack holds at most maxUncheckedDepth units beyond the limit the counted
// frames enforce.
//
// Checks are what a small function costs most (a comparison, a branch, and,
// for one that makes calls, the depth counter's global read, add, compare and
// write back), and they make a function a place where a run can suspend, so
// that the suspend rewrite leaves an unchecked function untouched and its
// callers need no unwind test after calling it.
const (
	maxUncheckedCost  = 4096
	maxUncheckedDepth = 8
)

// uncheckedFuncs returns, for every defined function of m, whether it is
// unchecked. Call indices must be final (after the crowdrun imports).
func uncheckedFuncs(m *wasm.Module) []bool {
	nImp := m.NumImportedFuncs()
	n := len(m.Funcs)
	const (
		unknown = iota
		visiting
		done
	)
	state := make([]byte, n)
	ok := make([]bool, n)
	cost := make([]int64, n)   // static cost of the call tree
	depth := make([]uint32, n) // depth units of its frames that make calls
	var visit func(i int)
	visit = func(i int) {
		state[i] = visiting
		f := &m.Funcs[i]
		good := true
		c, d := int64(0), uint32(0)
		calls := false
		for k := range f.Body {
			in := &f.Body[k]
			c += staticCost(in.Op)
			switch in.Op {
			case wasm.OpLoop, wasm.OpCallIndirect:
				good = false
			case wasm.OpCall:
				calls = true
				if in.Index < nImp {
					continue
				}
				j := int(in.Index - nImp)
				if j >= n {
					good = false
					continue
				}
				switch state[j] {
				case unknown:
					visit(j)
				case visiting:
					good = false // recursion
					continue
				}
				if !ok[j] {
					good = false
					continue
				}
				c += cost[j]
				d = max(d, depth[j])
			}
			if !good || c > maxUncheckedCost {
				good = false
				break
			}
		}
		if good && calls {
			d += frameWeight(m, f)
			good = d <= maxUncheckedDepth
		}
		ok[i], cost[i], depth[i] = good, c, d
		state[i] = done
	}
	for i := range n {
		if state[i] == unknown {
			visit(i)
		}
	}
	return ok
}
