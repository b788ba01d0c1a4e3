package binary

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// wazeroLenient reports whether a Decode error is one wazero v1.12.0 does
// not raise although the spec requires it:
//   - an empty datacount section (the spec requires its u32; wazero reads
//     nothing and accepts);
//   - a signed LEB128 whose last byte's unused bits are not a sign extension
//     (i32.const 0x80 0x88 0x80 0x80 0x40).
func wazeroLenient(de *DecodeError) bool {
	return de.Section == wasm.SectionDataCount || errors.Is(de, errIntegerTooLarge)
}

// emptyCustomQuirk reports whether m has a custom section with no contents
// after its name. wazero v1.12.0 fails to read one that ends the binary
// ("failed to read custom section name[...]: EOF") although it is well formed;
// an input can avoid ending with it by a trailing empty section that Encode
// drops.
func emptyCustomQuirk(m *wasm.Module) bool {
	for _, c := range m.Customs {
		if len(c.Data) == 0 {
			return true
		}
	}
	return false
}

// namesDropped reports whether m has a "name" section that crowdrun drops
// (wasm.Module.AddFuncImport, which every instrumented module goes through,
// drops one that does not parse). wazero v1.12.0 allocates by the counts and
// lengths such a section claims: a function-name count of 2^28 kept one
// input more than 10 s in CompileModule (testdata/fuzz/FuzzDecode/
// bd6210b0866944ba). No module crowdrun hands wazero carries one, so such
// inputs skip the differential.
func namesDropped(m *wasm.Module) bool {
	if m.CustomSection("name") == nil {
		return false
	}
	// Whether the section parses does not depend on the rest of the module.
	c := wasm.Module{Customs: slices.Clone(m.Customs)}
	c.AddFuncImport("crowdrun", "probe", wasm.FuncType{})
	return c.CustomSection("name") == nil
}

// countsBounded reports whether every section header is in bounds and the
// leading vector count of every standard section is at most its size.
func countsBounded(data []byte) bool {
	if len(data) < 8 {
		return true
	}
	r := reader{b: data, pos: 8, end: len(data)}
	for r.pos < len(data) {
		id := wasm.SectionID(r.byte())
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(r.remaining()) {
			return false
		}
		end := r.pos + int(size)
		if id != wasm.SectionCustom && id != wasm.SectionStart && id != wasm.SectionDataCount {
			r.end = end
			if n := r.u32(); r.err != nil || uint64(n) > uint64(size) {
				return false
			}
			r.end = len(data)
		}
		r.pos = end
	}
	return true
}

// FuzzDecode checks that Decode never panics, that whatever it accepts
// re-encodes to a binary that decodes to the same module and encodes stably,
// and, differentially against wazero, that Decode accepts every module wazero
// compiles unless it reports a feature crowdrun refuses, and that wazero
// accepts the re-encoding of every module it accepted.
//
// The corpus is seeded with every binary module of wazero's v2 spec tests
// (every tenth one with -short) and the small examples; crashers are kept
// in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	_, mods := specModules(f)
	for i, sm := range mods {
		if testing.Short() && i%10 != 0 {
			continue // CI's brief run (scripts/fuzz.sh): every tenth
		}
		if data, err := os.ReadFile(sm.path); err == nil {
			f.Add(data)
		}
	}
	for _, p := range exampleModules(f) {
		if data, err := os.ReadFile(p); err == nil && len(data) < 1<<16 {
			f.Add(data)
		}
	}
	ctx := context.Background()
	// The runtime is replaced every 1000 inputs: memory held by one runtime
	// grows with the number of modules it has compiled, even when they are
	// closed, and reached gigabytes while the fuzzer minimised an input.
	var (
		rt    wazero.Runtime
		execs int
	)
	defer func() {
		if rt != nil {
			rt.Close(ctx)
		}
	}()
	differential := os.Getenv("CROWDRUN_FUZZ_NO_WAZERO") == ""

	f.Fuzz(func(t *testing.T, data []byte) {
		// A watchdog: the fuzzer has no per-input timeout, and an input
		// that hangs would stall it silently instead of being recorded.
		var phase atomic.Value
		phase.Store("Decode")
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("input stuck in %s for 10s", phase.Load()))
		})
		defer watchdog.Stop()
		if execs++; rt == nil || execs%1000 == 0 {
			if rt != nil {
				rt.Close(ctx)
			}
			rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		}
		m, err := Decode(data)
		phase.Store("wazero")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *DecodeError: %v", err)
			}
			// Only inputs Decode accepts are handed to wazero. wazero v1.12.0
			// allocates by untrusted counts (table and export sections,
			// element vectors, names, locals: 0xffffffff locals in a code
			// section Decode rejects for its inconsistent function count) and
			// reads vectors past section ends; every such finding of this
			// fuzzer ran it out of memory (regressions in
			// testdata/fuzz/FuzzDecode). The rejected-input direction of the
			// differential is therefore limited to errors found after every
			// count was bounded, which is what countsBounded approximates;
			// it is off by default (CROWDRUN_FUZZ_REJECTED=1 turns it on).
			if !differential || os.Getenv("CROWDRUN_FUZZ_REJECTED") == "" || !errors.Is(err, ErrMalformed) || errors.Is(err, errVectorTooLong) || !countsBounded(data) {
				return
			}
			if cm, werr := rt.CompileModule(ctx, data); werr == nil {
				cm.Close(ctx)
				if !wazeroLenient(de) {
					t.Fatalf("wazero compiles a module Decode rejects: %v", err)
				}
			}
			return
		}
		werr := errors.New("not compiled")
		if differential && !namesDropped(m) {
			var cm wazero.CompiledModule
			if cm, werr = rt.CompileModule(ctx, data); werr == nil {
				defer cm.Close(ctx)
			}
		}
		enc := Encode(m)
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoding decodes to a different module")
		}
		if enc2 := Encode(m2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable")
		}
		if werr == nil {
			cm2, err := rt.CompileModule(ctx, enc)
			if err != nil && !emptyCustomQuirk(m) {
				t.Fatalf("wazero compiles the input but not its re-encoding: %v", err)
			}
			if err == nil {
				cm2.Close(ctx)
			}
		}
	})
}
