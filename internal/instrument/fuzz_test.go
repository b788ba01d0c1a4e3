package instrument

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// FuzzInstrument checks that Instrument never panics, that every error
// matches one of the package's sentinels, and, differentially against
// wazero's validator, that the output is valid exactly when the input is:
// instrumenting never turns a valid module invalid, nor an invalid one valid
// (an out-of-range index must not come to name crowdrun's own globals).
//
// The corpus is seeded with the binary modules of wazero's v2 spec tests
// (every tenth one with -short) and testdata/fuel.wasm.
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
	if data, err := os.ReadFile("testdata/fuel.wasm"); err == nil {
		f.Add(data)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)

	f.Fuzz(func(t *testing.T, data []byte) {
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
