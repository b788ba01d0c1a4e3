package suspend

import (
	"testing"
)

type diffCase struct {
	name  string
	path  string
	in    input
	slice uint64
	every []int
}

var diffCases = []diffCase{
	{"factor", "examples/factor.wasm", input{args: []string{"factor"}, stdin: "600851475143 1000000007 97 12 x9\n"}, 2000, []int{1, 7, 100}},
	{"fib", "examples/kernels/fib.wasm", input{args: []string{"fib", "15"}}, 500, []int{1, 7, 100}},
	{"sort", "examples/kernels/sort.wasm", input{args: []string{"sort", "300"}}, 2000, []int{1, 7, 100}},
	{"matmul", "examples/kernels/matmul.wasm", input{args: []string{"matmul", "12"}}, 2000, []int{1, 7, 100}},
}

func TestDifferential(t *testing.T) {
	e := newEnv(t)
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			bin := readExample(t, tc.path)
			plain := e.prepare(t, bin, false)
			susp := e.prepare(t, bin, true)
			want, err := e.runAll(plain, tc.in, 0, tc.slice, 1)
			if err != nil {
				t.Fatal(err)
			}
			if want.err != nil {
				t.Fatalf("uninterrupted: %v", want.err)
			}
			got, err := e.runAll(susp, tc.in, 0, tc.slice, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.out != want.out || got.fuel != want.fuel || got.exit != want.exit || got.err != nil {
				t.Fatalf("transformed, no suspension: out %q fuel %d exit %d err %v; want %q %d %d", got.out, got.fuel, got.exit, got.err, want.out, want.fuel, want.exit)
			}
			t.Logf("%s: fuel %d, %d checks, output %q", tc.name, want.fuel, want.checks, want.out)
			for _, every := range tc.every {
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
