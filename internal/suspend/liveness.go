package suspend

import "github.com/crowdrun/crowdrun/internal/wasm"

// liveAfterSites returns, for each site (by instruction index), the locals
// of the original body that are live after the call: read on some path
// before being written. Only those need saving.
func liveAfterSites(body []wasm.Instr, nLocals int, ti *fnTypes) map[int][]uint32 {
	lv := wasm.LocalLiveness(body, nLocals)
	res := map[int][]uint32{}
	for i := range body {
		if ti.site[i] {
			res[i] = lv.Locals(i + 1) // a call falls through
		}
	}
	return res
}
