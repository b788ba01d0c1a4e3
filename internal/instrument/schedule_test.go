package instrument

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

//go:generate wat2wasm testdata/v2.wat -o testdata/v2.wasm

// v2Exports are the exports of testdata/v2.wat and whether schedule v2
// leaves them unchecked.
var v2Exports = map[string]bool{
	"leaf": true, "branchy": true, "mid": true,
	"rec": false, "loopy": false, "ind": false, "big": false, "callsbig": false,
	"d1": true, "d2": true, "d3": true, "d4": true, "d5": true, "d6": true, "d7": true, "d8": true,
	"d9": false, "d10": false,
}

// checks reports whether the function exported as name calls out_of_fuel
// and whether it touches the depth counter.
func checks(t *testing.T, bin []byte, name string) (fuel, depth bool) {
	t.Helper()
	m, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	var oof uint32
	for i, imp := range m.Imports {
		if imp.Module == HostModule && imp.Name == OutOfFuelName {
			oof = uint32(i)
		}
	}
	depthGlobal := m.ExportByName(FuelExport).Index + 2 // fuel, mem_limit_hit, depth
	e := m.ExportByName(name)
	if e == nil {
		t.Fatalf("no export %q", name)
	}
	for _, in := range m.DefinedFunc(e.Index).Body {
		switch {
		case in.Op == wasm.OpCall && in.Index == oof:
			fuel = true
		case (in.Op == wasm.OpGlobalGet || in.Op == wasm.OpGlobalSet) && in.Index == depthGlobal:
			depth = true
		}
	}
	return fuel, depth
}

// TestScheduleV2Unchecked checks which functions schedule v2 leaves without
// an entry check and a depth count (small loop-free, recursion-free call
// trees without call_indirect), and that v1 checks every one.
func TestScheduleV2Unchecked(t *testing.T) {
	v1 := DefaultOptions()
	v1.Schedule = ScheduleV1
	bin1 := instrumentFile(t, "testdata/v2.wasm", v1)
	bin2 := instrumentFile(t, "testdata/v2.wasm", DefaultOptions())
	for name, unchecked := range v2Exports {
		if fuel, _ := checks(t, bin1, name); !fuel {
			t.Errorf("v1: %s has no fuel check", name)
		}
		fuel, depth := checks(t, bin2, name)
		if fuel == unchecked {
			t.Errorf("v2: %s: fuel check %t, want %t", name, fuel, !unchecked)
		}
		if unchecked && depth {
			t.Errorf("v2: %s is unchecked but counts depth", name)
		}
	}
	// Functions that make calls count their frame unless unchecked.
	for _, name := range []string{"rec", "ind", "callsbig", "d9", "loopy"} {
		if _, depth := checks(t, bin2, name); !depth {
			t.Errorf("v2: %s makes calls but does not count depth", name)
		}
	}
}

// TestScheduleV2SameCount checks that both schedules count the same fuel
// for every export whatever the slice size, give the same results, and
// that a budget stops v2 at the same point whatever the slices.
func TestScheduleV2SameCount(t *testing.T) {
	ctx, rt := testHost(t)
	v1 := DefaultOptions()
	v1.Schedule = ScheduleV1
	mod1, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/v2.wasm", v1))
	if err != nil {
		t.Fatal(err)
	}
	ctx2, rt2 := testHost(t)
	mod2, err := rt2.Instantiate(ctx2, instrumentFile(t, "testdata/v2.wasm", DefaultOptions()))
	if err != nil {
		t.Fatal(err)
	}
	for name := range v2Exports {
		for _, arg := range []uint64{0, 1, 5, 300} {
			if name == "rec" && arg > 300 {
				continue
			}
			var want []uint64
			var wantUsed uint64
			for i, slice := range []uint64{1, 3, 100, 1 << 40} {
				res1, used1, err1 := call(t, ctx, mod1, &testMeter{slice: slice}, name, arg)
				res2, used2, err2 := call(t, ctx2, mod2, &testMeter{slice: slice}, name, arg)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s(%d): v1 %v, v2 %v", name, arg, err1, err2)
				}
				if used1 != used2 || res1[0] != res2[0] {
					t.Errorf("%s(%d), slice %d: v1 %d with %d fuel, v2 %d with %d", name, arg, slice, res1[0], used1, res2[0], used2)
				}
				if i == 0 {
					want, wantUsed = res2, used2
				} else if res2[0] != want[0] || used2 != wantUsed {
					t.Errorf("%s(%d), slice %d: v2 %d with %d fuel, slice 1 %d with %d", name, arg, slice, res2[0], used2, want[0], wantUsed)
				}
			}
		}
	}
	// A budget stops loopy at a loop header, the same one whatever the
	// slices: the unchecked calls inside are charged, not checked.
	_, total, _ := call(t, ctx2, mod2, &testMeter{slice: 1 << 40}, "loopy", 100)
	perIter := total / 100
	for _, budget := range []uint64{1, 10, 100, 1000, total - 1} {
		var first uint64
		for i, slice := range []uint64{1, 7, 1000, budget} {
			_, used, err := call(t, ctx2, mod2, &testMeter{slice: slice, budget: budget}, "loopy", 100)
			if budget >= total-perIter {
				// Past the last header: the run ends normally.
				if err != nil {
					t.Fatalf("budget %d: %v", budget, err)
				}
				continue
			}
			if !errors.Is(err, errTestFuelExhausted) {
				t.Fatalf("budget %d, slice %d: %v, want fuel exhausted", budget, slice, err)
			}
			if used <= budget || used > budget+perIter+5 {
				t.Errorf("budget %d, slice %d: stopped at %d (an iteration is %d)", budget, slice, used, perIter)
			}
			if i == 0 {
				first = used
			} else if used != first {
				t.Errorf("budget %d: slice %d stopped at %d, slice 1 at %d", budget, slice, used, first)
			}
		}
	}
}

// TestScheduleV2Depth checks that v2 still stops runaway recursion at the
// limit, and that unchecked calls made at the limit do not trap.
func TestScheduleV2Depth(t *testing.T) {
	for _, sched := range []string{ScheduleV1, ScheduleV2} {
		ctx, rt := testHost(t)
		opts := DefaultOptions()
		opts.Schedule = sched
		opts.StackLimit = 50
		mod, err := rt.Instantiate(ctx, instrumentFile(t, "testdata/v2.wasm", opts))
		if err != nil {
			t.Fatal(err)
		}
		// rec(n) has n+1 counted frames (rec(0) calls nothing but is a
		// function that makes calls).
		if _, _, err := call(t, ctx, mod, &testMeter{slice: 1 << 40}, "rec", 49); err != nil {
			t.Errorf("%s: rec(49): %v", sched, err)
		}
		if _, _, err := call(t, ctx, mod, &testMeter{slice: 1 << 40}, "rec", 50); !errors.Is(err, errDepthTrap) {
			t.Errorf("%s: rec(50): %v, want the depth trap", sched, err)
		}
		rt.Close(ctx)
	}
}

func TestUnknownSchedule(t *testing.T) {
	opts := DefaultOptions()
	opts.Schedule = "v3"
	bin, err := os.ReadFile("testdata/v2.wasm")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Instrument(bin, opts)
	if !errors.Is(err, ErrOptions) {
		t.Fatalf("schedule v3: %v, want ErrOptions", err)
	}
	if got := fmt.Sprint(err); got != `invalid instrumentation options: unknown fuel schedule "v3" (known: v1, v2)` {
		t.Errorf("error %q", got)
	}
}
