package instrument

import (
	"os"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// Sections that locate code by byte offsets are dropped (the rewrite moves
// the code, so their offsets would be wrong, and an engine reading DWARF on
// a trap can spend longer on it than on the run); the others are kept, and
// the name section is remapped to the shifted function indices.
func TestDropsCodeOffsetSections(t *testing.T) {
	raw, err := os.ReadFile("../../examples/trap.wasm")
	if err != nil {
		t.Fatal(err)
	}
	m, err := binary.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".debug_info", ".debug_line", ".debug_str", ".debug_abbrev", "external_debug_info", "sourceMappingURL"} {
		m.Customs = append(m.Customs, wasm.CustomSection{Name: name, Data: []byte("offsets of the original code"), After: wasm.SectionData})
	}
	m.Customs = append(m.Customs, wasm.CustomSection{Name: "my.metadata", Data: []byte("kept"), After: wasm.SectionData})
	out, err := Instrument(binary.Encode(m), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := binary.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range got.Customs {
		have[c.Name] = true
	}
	for _, name := range []string{".debug_info", ".debug_line", ".debug_str", ".debug_abbrev", "external_debug_info", "sourceMappingURL"} {
		if have[name] {
			t.Errorf("instrumented module keeps %q", name)
		}
	}
	for _, name := range []string{"producers", "my.metadata", CustomSection} {
		if !have[name] {
			t.Errorf("instrumented module lost %q (has %v)", name, have)
		}
	}

	// A real `clang -g` build: DWARF that describes its code, wasi-libc's
	// included, and a name section.
	raw, err = os.ReadFile("../sandbox/testdata/dwarftrap.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, err = Instrument(raw, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bin   []byte
		debug bool
	}{{raw, true}, {out, false}} {
		m, err := binary.Decode(c.bin)
		if err != nil {
			t.Fatal(err)
		}
		var debug []string
		for _, s := range m.Customs {
			if strings.HasPrefix(s.Name, ".debug_") {
				debug = append(debug, s.Name)
			}
		}
		if (len(debug) > 0) != c.debug || m.CustomSection("name") == nil {
			t.Errorf("dwarftrap.wasm (instrumented: %v): DWARF sections %v, name section %v", !c.debug, debug, m.CustomSection("name") != nil)
		}
	}
}
