package jsruntime_test

import (
	"testing"
)

// The JS host instruments every module it is given, as the Go host does
// (js/prepare.js runs Go's internal/prepare compiled to wasm): an original
// module is metered in both, to the same fuel, under the same memory cap
// and call depth limit. (It used to run such a module unmetered: fuel 0,
// no depth limit.)
func TestSubmittedModulesAreInstrumentedInJS(t *testing.T) {
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
		{Name: "factor/fuel", Module: "factor.wasm", Stdin: "600851475143\n", Limits: VectorLimits{Fuel: 1000}},
		{Name: "recurse/stack", Module: "recurse.wasm", Limits: VectorLimits{Stack: 50}},
	}
	for _, v := range cases {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			exclusive.RLock()
			defer exclusive.RUnlock()
			mod := modulePath(t, v)
			g := runGo(t, v, mod)
			j := runJS(t, v, mod)
			if j.rep.Fuel == 0 {
				t.Errorf("the JS host ran %s unmetered (fuel 0)", v.Module)
			}
			sameRun(t, g, j)
		})
	}
}
