package sandbox

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Fuel is a property of the program and its input, not of how the host hands
// it out: any slice size gives the same count, the same output and the same
// exhaustion point.
func TestFuelIndependentOfSliceSize(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	m, err := e.Compile(ctx, readExample(t, "factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	const input = "12 97 600851475143 1000000007 123456789\n"
	var want Report
	var wantOut string
	for i, slice := range []uint64{DefaultSlice, 1, 7, 1000, 123457} {
		e.slice = slice
		var out bytes.Buffer
		rep := e.Run(ctx, m, Input{Args: []string{"factor"}, Stdin: strings.NewReader(input), Stdout: &out}, Limits{})
		if rep.Status != StatusOK || rep.Fuel == 0 {
			t.Fatalf("slice %d: %+v", slice, rep)
		}
		if i == 0 {
			want, wantOut = rep, out.String()
			continue
		}
		if rep.Fuel != want.Fuel || out.String() != wantOut {
			t.Fatalf("slice %d: fuel %d, output %q; slice %d: fuel %d, output %q", slice, rep.Fuel, out.String(), DefaultSlice, want.Fuel, wantOut)
		}
	}
	// A budget one below the need stops the run; the exact need completes it.
	for _, slice := range []uint64{DefaultSlice, 1000} {
		e.slice = slice
		run := func(budget uint64) Report {
			return e.Run(ctx, m, Input{Args: []string{"factor"}, Stdin: strings.NewReader(input), Stdout: &bytes.Buffer{}}, Limits{Fuel: budget})
		}
		if rep := run(want.Fuel); rep.Status != StatusOK || rep.Fuel != want.Fuel {
			t.Fatalf("slice %d, budget = need: %+v", slice, rep)
		}
		short := run(want.Fuel - 1000)
		if short.Status != StatusFuelExhausted || short.Fuel <= want.Fuel-1000 || short.Fuel > want.Fuel {
			t.Fatalf("slice %d, budget below need: %+v", slice, short)
		}
		if again := run(want.Fuel - 1000); again.Fuel != short.Fuel {
			t.Fatalf("slice %d: exhaustion at fuel %d, then at %d", slice, short.Fuel, again.Fuel)
		}
	}
}

// A start function runs during instantiation, before the host hands out the
// first slice: its fuel still counts, and its checks must find a meter.
//
// (module (import "wasi_snapshot_preview1" "fd_write" ...) (memory 1)
//
//	(func $init: a loop of 100) (start $init) (func (export "_start") write "started\n"))
const startFuncModule = "0061736d01000000010c0260047f7f7f7f017f60000002230116776173695f736e617073686f745f70726576696577310866645f77726974650000030302010105030100010606017f0141000b071302066d656d6f72790200065f737461727400020801010a38021a01017f0340200041016a2100200041e400490d000b200024000b1b004100411036020041044108360200410141004101410810001a0b0b0e010041100b08737461727465640a"

func TestStartFunctionIsMetered(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	bin, _ := hex.DecodeString(startFuncModule)
	m, err := e.Compile(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := e.Run(ctx, m, Input{Stdout: &out}, Limits{})
	if rep.Status != StatusOK || out.String() != "started\n" || rep.Fuel < 700 {
		t.Fatalf("report %+v, output %q: want ok, \"started\", fuel counting the start function's loop", rep, out.String())
	}
	// A budget the start function alone exceeds stops it there.
	if rep := e.Run(ctx, m, Input{Stdout: &out}, Limits{Fuel: 50}); rep.Status != StatusFuelExhausted {
		t.Fatalf("budget 50: %+v", rep)
	}
}
