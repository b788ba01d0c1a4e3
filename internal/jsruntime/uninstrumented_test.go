package jsruntime_test

import (
	"testing"
)

// The JS host also runs modules that were not instrumented (fuel 0, no call
// depth limit): it then enforces the memory limit by rewriting the module
// (js/rewrite.js). Everything but the fuel must still be what the Go host
// gives for the instrumented module.
func TestUninstrumentedModulesInJS(t *testing.T) {
	needNode(t)
	cases := []Vector{
		{Name: "membomb/1MiB", Module: "membomb.wasm", Limits: VectorLimits{Memory: "1MiB"}},
		{Name: "membomb/3MiB", Module: "membomb.wasm", Limits: VectorLimits{Memory: "3MiB"}},
		{Name: "membomb/16MiB", Module: "membomb.wasm", Limits: VectorLimits{Memory: "16MiB"}},
		{Name: "echo", Module: "echo.wasm", Args: []string{"a", "b"}, Env: []string{"K=V"}, Stdin: "in\n"},
		{Name: "wasitest/ls", Module: "wasitest.wasm", Args: []string{"ls", "/"}, Files: map[string]string{"a": "1", "b/c": "2"}},
		{Name: "wasitest/cat", Module: "wasitest.wasm", Args: []string{"cat", "4096"}, Stdin: "0123456789", StdinRep: 3000},
		{Name: "trap/oob", Module: "trap.wasm", Args: []string{"oob"}},
		{Name: "flood", Module: "flood.wasm", Limits: VectorLimits{MaxOutput: "10KiB"}},
		{Name: "kernels/sort", Module: "kernels/sort.wasm", Args: []string{"3000"}},
	}
	for _, v := range cases {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			exclusive.RLock()
			defer exclusive.RUnlock()
			mod := modulePath(t, v)
			g, _ := runGo(t, v, mod)
			j := runJS(t, v, mod)
			if j.rep.Fuel != 0 {
				t.Errorf("an uninstrumented module reported fuel %d", j.rep.Fuel)
			}
			j.rep.Fuel = g.rep.Fuel
			sameRun(t, g, j)
		})
	}
}
