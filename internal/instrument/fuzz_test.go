package instrument

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// FuzzInstrument checks that Instrument never panics, that every error
// matches one of the package's sentinels, and, differentially against
// wazero's validator, that the output is valid exactly when the input is:
// instrumenting never turns a valid module invalid, nor an invalid one valid
// (an out-of-range index must not come to name crowdrun's own globals).
// For a valid module it then compares a reference run of the original with
// one of its instrumented form (compareReference): same results, same traps,
// same memory and globals, wherever the instrumented run finished within its
// fuel.
//
// The corpus is seeded with the binary modules of wazero's v2 spec tests
// (every tenth one with -short), testdata/fuel.wasm and examples/*.wasm;
// crashers are kept in testdata/fuzz/FuzzInstrument.
func FuzzInstrument(f *testing.F) {
	dir := filepath.Join(wazeroSpecDir(f), "v2", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	for i, p := range files {
		if testing.Short() && i%10 != 0 {
			continue
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.wasm"))
	for _, p := range append([]string{"testdata/fuel.wasm"}, examples...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	// The reference runtime is replaced every 500 inputs: memory held by
	// one runtime grows with the modules it has compiled.
	var (
		ref   wazero.Runtime
		execs int
	)
	defer func() {
		if ref != nil {
			ref.Close(ctx)
		}
	}()
	noNaN := DefaultOptions()
	noNaN.CanonicalizeNaN = false

	f.Fuzz(func(t *testing.T, data []byte) {
		// A watchdog: the fuzzer has no per-input timeout, and an input
		// that hangs would stall it silently instead of being recorded.
		watchdog := time.AfterFunc(2*refDeadline+30*time.Second, func() { panic("input stuck") })
		defer watchdog.Stop()
		out, err := Instrument(data, DefaultOptions())
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrReserved) &&
				!errors.Is(err, ErrMemoryCap) && !errors.Is(err, ErrForbiddenImport) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		if _, derr := binary.Decode(out); derr != nil {
			t.Fatalf("output does not decode: %v", derr)
		}
		origOK, instOK := compiles(ctx, rt, withoutCustoms(t, data)), compiles(ctx, rt, withoutCustoms(t, out))
		if origOK != instOK {
			t.Fatalf("input compiles: %v, output compiles: %v", origOK, instOK)
		}
		if !origOK {
			return
		}
		inst, err := Instrument(data, noNaN)
		if err != nil {
			t.Fatalf("instrumenting without NaN canonicalisation: %v", err)
		}
		// Under the race detector (scripts/test.sh's go test -race runs
		// every seed) one input in ten gets the reference run: it is the
		// slowest part, and the fuzz step runs it on every input.
		if execs++; raceEnabled && execs%10 != 1 {
			return
		}
		if ref == nil || execs%500 == 0 {
			if ref != nil {
				ref.Close(ctx)
			}
			ref = newRefRuntime(ctx, t)
		}
		if _, err := compareReference(ctx, ref, withoutCustoms(t, data), withoutCustoms(t, inst), execs); err != nil {
			t.Fatal(err)
		}
	})
}

// withoutCustoms drops custom sections, which do not affect validity but
// which wazero parses with quirks of its own (it rejects a malformed "name"
// section, which renumbering drops, and an empty custom section at the very
// end of a module).
func withoutCustoms(t *testing.T, bin []byte) []byte {
	m, err := binary.Decode(bin)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	m.Customs = nil
	return binary.Encode(m)
}

func compiles(ctx context.Context, rt wazero.Runtime, bin []byte) bool {
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return false
	}
	cm.Close(ctx)
	return true
}
