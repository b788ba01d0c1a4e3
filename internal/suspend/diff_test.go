package suspend

import (
	"os"
	"testing"
)

type diffCase struct {
	name  string
	path  string
	in    input
	slice uint64
	every []int
	heavy bool // 10^8 fuel or more: skipped under the race detector and in -short
}

// slowCases compile for tens of seconds once suspendable (see
// docs/continuations.md, "Costs"): run only with CROWDRUN_SLOW_TESTS=1.
var slowCases = map[string]bool{"gokernel": true}

var diffCases = []diffCase{
	{"factor", "examples/factor.wasm", input{args: []string{"factor"}, stdin: "600851475143 1000000007 97 12 x9\n"}, 2000, []int{1, 7, 100}, false},
	{"control", "internal/suspend/testdata/control.wasm", input{}, 1000, []int{1, 7, 100}, false},
	{"gokernel", "examples/kernels/gokernel.wasm", input{args: []string{"gokernel", "50"}}, 20000, []int{1, 7, 100}, true},
	{"fib", "examples/kernels/fib.wasm", input{args: []string{"fib", "15"}}, 500, []int{1, 7, 100}, false},
	{"sort", "examples/kernels/sort.wasm", input{args: []string{"sort", "100"}}, 2000, []int{1, 7, 100}, false},
	{"matmul", "examples/kernels/matmul.wasm", input{args: []string{"matmul", "12"}}, 2000, []int{1, 7, 100}, false},
	{"stencil", "examples/kernels/stencil.wasm", input{args: []string{"stencil", "10"}}, 5000, []int{1, 7, 100}, false},
	{"hash", "examples/kernels/hash.wasm", input{args: []string{"hash", "1"}}, 1000000, []int{1, 7, 100}, true},
	{"nbody", "examples/kernels/nbody.wasm", input{args: []string{"nbody", "200"}}, 4000, []int{1, 7, 100}, false},
	{"strings", "examples/kernels/strings.wasm", input{args: []string{"strings", "300"}}, 10000, []int{1, 7, 100}, false},
	{"memops", "examples/kernels/memops.wasm", input{args: []string{"memops", "1"}}, 2000000, []int{1, 7, 100}, true},
	{"memops-bulk", "examples/kernels/memops-bulk.wasm", input{args: []string{"memops", "1"}}, 2000000, []int{1, 7, 100}, true},
	{"floats", "examples/kernels/floats.wasm", input{args: []string{"floats", "500"}}, 4000, []int{1, 7, 100}, false},
	{"simd", "examples/kernels/simd.wasm", input{args: []string{"simd", "200"}}, 5000, []int{1, 7, 100}, false},
	{"recurse", "examples/recurse.wasm", input{args: []string{"recurse", "200"}}, 1000, []int{1, 7, 100}, false},
	{"wasitest-clock", "examples/wasitest.wasm", input{args: []string{"wasitest", "clock"}}, 300, []int{1, 3}, false},
	{"echo", "examples/echo.wasm", input{args: []string{"echo", "a", "b"}, stdin: "hello\nworld\n"}, 100, []int{1, 3}, false},
}

func TestDifferential(t *testing.T) {
	e := newEnv(t)
	for i, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.heavy && (raceEnabled || testing.Short()) {
				t.Skip("heavy: skipped under -race and -short")
			}
			if slowCases[tc.name] && os.Getenv("CROWDRUN_SLOW_TESTS") == "" {
				t.Skip("slow to compile: set CROWDRUN_SLOW_TESTS=1")
			}
			bin := readExample(t, tc.path)
			susp := e.prepare(t, bin, true)
			want, err := e.runAll(susp, tc.in, 0, tc.slice, 1)
			if err != nil {
				t.Fatal(err)
			}
			if want.err != nil {
				t.Fatalf("uninterrupted: %v", want.err)
			}
			// The rewrite changes neither output nor fuel (compiling twice
			// is slow under the race detector: a few cases there).
			if (!raceEnabled || i < 3) && !slowCases[tc.name] {
				plain := e.prepare(t, bin, false)
				got, err := e.runAll(plain, tc.in, 0, tc.slice, 1)
				if err != nil {
					t.Fatal(err)
				}
				if got.out != want.out || got.fuel != want.fuel || got.exit != want.exit || got.err != nil {
					t.Fatalf("instrumented only: out %q fuel %d exit %d err %v; suspendable: %q %d %d", got.out, got.fuel, got.exit, got.err, want.out, want.fuel, want.exit)
				}
			}
			t.Logf("%s: fuel %d, %d checks, output %q", tc.name, want.fuel, want.checks, want.out)
			everys := tc.every
			if raceEnabled && i >= 3 {
				everys = everys[1:] // every check only for the first cases: the race detector is slow
			}
			for _, every := range everys {
				got, err := e.runAll(susp, tc.in, every, tc.slice, 100000)
				if err != nil {
					t.Fatalf("every %d: %v", every, err)
				}
				if got.err != nil {
					t.Fatalf("every %d: %v", every, got.err)
				}
				if got.out != want.out || got.fuel != want.fuel || got.exit != want.exit {
					t.Fatalf("every %d (%d segments): out %q fuel %d exit %d; want %q %d %d", every, got.segs, got.out, got.fuel, got.exit, want.out, want.fuel, want.exit)
				}
				t.Logf("every %d: %d segments", every, got.segs)
			}
		})
	}
}

// TestControlSlices suspends the control-flow module at every check for
// slices of several sizes, so that suspensions land in many different
// places of its constructs.
func TestControlSlices(t *testing.T) {
	e := newEnv(t)
	bin := readExample(t, "internal/suspend/testdata/control.wasm")
	g := e.prepare(t, bin, true)
	want, err := e.runAll(g, input{}, 0, 1000, 1)
	if err != nil || want.err != nil {
		t.Fatal(err, want.err)
	}
	slices := []uint64{101, 353, 997}
	if raceEnabled {
		slices = slices[1:2]
	}
	for _, slice := range slices {
		ref, err := e.runAll(g, input{}, 0, slice, 1)
		if err != nil || ref.err != nil {
			t.Fatal(err, ref.err)
		}
		got, err := e.runAll(g, input{}, 1, slice, 1<<20)
		if err != nil || got.err != nil {
			t.Fatal(err, got.err)
		}
		if got.out != want.out || got.fuel != ref.fuel {
			t.Fatalf("slice %d: out %q fuel %d, want %q %d", slice, got.out, got.fuel, want.out, ref.fuel)
		}
		t.Logf("slice %d: %d segments, fuel %d", slice, got.segs, got.fuel)
	}
}
