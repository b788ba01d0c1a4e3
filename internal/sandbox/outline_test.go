package sandbox

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// The outline of a module is the module but for its function bodies: every
// example, as submitted and as prepared (instrumented, suspendable).
func TestDecodeOutline(t *testing.T) {
	names, _ := filepath.Glob("../../examples/*.wasm")
	for _, dir := range []string{"kernels", "rust", "assemblyscript"} {
		more, _ := filepath.Glob("../../examples/" + dir + "/*.wasm")
		names = append(names, more...)
	}
	if len(names) < 10 {
		t.Fatalf("%d examples", len(names))
	}
	for _, name := range names {
		bin := readExample(t, name[len("../../examples/"):])
		variants := [][]byte{bin}
		// Preparing the Go guest takes tens of seconds under the race
		// detector; the other guests' rewrites have the same sections.
		if !strings.Contains(name, "gokernel") {
			if out, _, err := Prepare(bin, instrument.DefaultOptions(), true); err == nil {
				variants = append(variants, out)
			}
		}
		for i, b := range variants {
			full, err := binary.Decode(b)
			got, oerr := decodeOutline(b)
			if (err == nil) != (oerr == nil) {
				t.Fatalf("%s/%d: decode %v, outline %v", name, i, err, oerr)
			}
			if err != nil {
				continue
			}
			if len(got.Funcs) != len(full.Funcs) {
				t.Fatalf("%s/%d: %d functions, want %d", name, i, len(got.Funcs), len(full.Funcs))
			}
			got.Funcs, full.Funcs = nil, nil
			if !reflect.DeepEqual(got, full) {
				t.Fatalf("%s/%d: outline differs from the module", name, i)
			}
		}
	}
}

// Bytes whose sections cannot be walked are decoded whole: the same error.
func TestDecodeOutlineMalformed(t *testing.T) {
	bin := readExample(t, "echo.wasm")
	for _, b := range [][]byte{nil, bin[:7], bin[:len(bin)-1], append(append([]byte{}, bin[:8]...), 10, 0xff)} {
		_, err := binary.Decode(b)
		_, oerr := decodeOutline(b)
		if err == nil || oerr == nil || err.Error() != oerr.Error() {
			t.Fatalf("%d bytes: decode %v, outline %v", len(b), err, oerr)
		}
	}
}
