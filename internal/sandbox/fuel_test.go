package sandbox

import (
	"bytes"
	"context"
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
