package binary

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// exampleModules returns every .wasm file under the repository's examples.
func exampleModules(t testing.TB) []string {
	root := filepath.Join("..", "..", "..", "examples")
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".wasm") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return paths
}

// TestExamplesRoundTrip round-trips the example programs (clang and Go
// output). wasm-ld leaves relocated indices as padded 5-byte LEB128, which
// Encode writes minimally; such modules must decode to the same Module and
// still compile and keep their exports in wazero.
func TestExamplesRoundTrip(t *testing.T) {
	paths := exampleModules(t)
	if len(paths) == 0 {
		t.Skip("no examples built")
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	var identical, normalised int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(data)
		if filepath.Base(p) == "corrupt.wasm" {
			if err == nil {
				t.Errorf("%s: decoded a deliberately corrupt module", p)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		enc := Encode(m)
		if bytes.Equal(enc, data) {
			identical++
			continue
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Errorf("%s: re-encoding does not decode: %v", p, err)
			continue
		}
		if !reflect.DeepEqual(m, m2) {
			t.Errorf("%s: re-encoding decodes to a different module", p)
			continue
		}
		if !bytes.Equal(Encode(m2), enc) {
			t.Errorf("%s: encoding is not stable", p)
		}
		cm, err := rt.CompileModule(ctx, enc)
		if err != nil {
			t.Errorf("%s: wazero rejects the re-encoding: %v", p, err)
			continue
		}
		if got, want := len(cm.ExportedFunctions()), countFuncExports(m); got != want {
			t.Errorf("%s: %d exported functions after re-encoding, want %d", p, got, want)
		}
		normalised++
		t.Logf("%s: normalised %d -> %d bytes", p, len(data), len(enc))
	}
	t.Logf("examples: %d round-tripped byte-identical, %d normalised", identical, normalised)
}

func countFuncExports(m *wasm.Module) int {
	n := 0
	for _, e := range m.Exports {
		if e.Kind == wasm.ExternFunc {
			n++
		}
	}
	return n
}
