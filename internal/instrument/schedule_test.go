package instrument

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
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
	for _, sched := range []string{ScheduleV1, ScheduleV2, ScheduleV3} {
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
	opts.Schedule = "v4"
	bin, err := os.ReadFile("testdata/v2.wasm")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Instrument(bin, opts)
	if !errors.Is(err, ErrOptions) {
		t.Fatalf("schedule v4: %v, want ErrOptions", err)
	}
	if got := fmt.Sprint(err); got != `invalid instrumentation options: unknown fuel schedule "v4" (known: v1, v2, v3)` {
		t.Errorf("error %q", got)
	}
}

// TestScheduleBytesUnchanged: a checkpoint names the instrumented module by
// hash, and resuming re-instruments the submitted module with the schedule
// its run.json records, so v1 and v2 must keep giving exactly the bytes they
// gave (these hashes are of crowdrun at commit 3e66389, before v3). A change
// to what is emitted needs a new schedule.
func TestScheduleBytesUnchanged(t *testing.T) {
	golden := []struct{ path, schedule, sha string }{
		{"testdata/fuel.wasm", ScheduleV1, "751ce4bdf928c38179a93c473b66a638d842028242a199388a5013e6b9bcba0c"},
		{"testdata/fuel.wasm", ScheduleV2, "6e44fc478ff48c5c2f46e51cd112c10d6949c39981c99bcfd11905afe5a2ea85"},
		{"../../examples/kernels/nbody.wasm", ScheduleV1, "5bba7bd7e55fa7e721cc4d3345391d45749f77c5bffc2457fccfb7c492def82f"},
		{"../../examples/kernels/nbody.wasm", ScheduleV2, "702b7524f4f9c3c0c2c2123f9ef0dbbfbe4149e5f884c33069496cd63910284d"},
		{"../../examples/kernels/simd.wasm", ScheduleV1, "e25e4b7545bb7e5a05909072191e6f6903e19ad29bc3cf30021098e0e888148d"},
		{"../../examples/kernels/simd.wasm", ScheduleV2, "5b9de06385f6bd0bb9261498bb7121cd484600c36bd71b185fdb4ec20dcbf48e"},
		{"../../examples/kernels/floats.wasm", ScheduleV1, "a6deebd6c19dbc6b99c630c0d69a4f746f65581ba6a54e42652ca5acb05ebcf7"},
		{"../../examples/kernels/floats.wasm", ScheduleV2, "96d63e50be72eee601aca0bd19db55b0701e85b67000f54bb4638a497b7a3286"},
	}
	for _, g := range golden {
		opts := DefaultOptions()
		opts.Schedule = g.schedule
		sum := sha256.Sum256(instrumentFile(t, g.path, opts))
		if got := hex.EncodeToString(sum[:]); got != g.sha {
			t.Errorf("%s under %s: sha256 %s, want %s", g.path, g.schedule, got, g.sha)
		}
	}
}

// TestScheduleV3OnlyNaNTest: v3 emits exactly what v2 emits but for the
// test of the scalar NaN canonicalisation (x >= x ? x : canonical for
// x != x ? canonical : x), and its metadata.
func TestScheduleV3OnlyNaNTest(t *testing.T) {
	for _, path := range []string{"testdata/fuel.wasm", "../../examples/kernels/nbody.wasm", "../../examples/kernels/simd.wasm", "../../examples/kernels/floats.wasm"} {
		decode := func(schedule string) *wasm.Module {
			opts := DefaultOptions()
			opts.Schedule = schedule
			m, err := binary.Decode(instrumentFile(t, path, opts))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		v2, v3 := decode(ScheduleV2), decode(ScheduleV3)
		rewritten := 0
		for i := range v2.Funcs {
			b := v2.Funcs[i].Body
			for k := 0; k+6 < len(b); k++ {
				ne, ge := b[k+2].Op, wasm.OpF64Ge
				switch ne {
				case wasm.OpF64Ne:
				case wasm.OpF32Ne:
					ge = wasm.OpF32Ge
				default:
					continue
				}
				if b[k].Op != wasm.OpLocalTee || b[k+1].Op != wasm.OpLocalGet || b[k+1].Index != b[k].Index ||
					b[k+3].Op != wasm.OpIf || b[k+5].Op != wasm.OpElse || b[k+6].Op != wasm.OpLocalGet || b[k+6].Index != b[k].Index {
					continue
				}
				b[k+2].Op = ge
				b[k+4], b[k+6] = b[k+6], b[k+4]
				rewritten++
			}
			if !reflect.DeepEqual(b, v3.Funcs[i].Body) {
				t.Errorf("%s: function %d differs beyond the NaN test", path, i)
			}
		}
		if path != "testdata/fuel.wasm" && rewritten == 0 {
			t.Errorf("%s: no canonicalisation found", path)
		}
		v2.CustomSection(CustomSection).Data = []byte(strings.Replace(string(v2.CustomSection(CustomSection).Data), `"schedule":"v2"`, `"schedule":"v3"`, 1))
		if !bytes.Equal(binary.Encode(v2), binary.Encode(v3)) {
			t.Errorf("%s: v3 differs from v2 beyond the NaN test and the schedule's name", path)
		}
	}
}
