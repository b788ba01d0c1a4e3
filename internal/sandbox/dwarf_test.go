package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// customNames lists a module's custom sections.
func customNames(t *testing.T, bin []byte) []string {
	t.Helper()
	m, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range m.Customs {
		names = append(names, c.Name)
	}
	return names
}

// A trap in a module that really carries DWARF (testdata/dwarftrap.wasm, a
// `clang -g` build whose .debug_* sections describe its code) is an
// ordinary trap: the module that runs is the one its stripped twin gives —
// byte for byte, no .debug_* section left for an engine to read on a trap —
// and the report is the stripped module's, with no source positions in it
// (wazero's DWARF-annotated trace cost tens of milliseconds per trap here,
// more than a 50 ms timeout; the guest's fuel checks cannot stop host
// code).
func TestTrapWithDWARF(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join("testdata", "dwarftrap.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	have := customNames(t, raw)
	for _, name := range []string{".debug_info", ".debug_line", ".debug_str", ".debug_abbrev", "name"} {
		if !slices.Contains(have, name) {
			t.Fatalf("testdata/dwarftrap.wasm has no %s section (has %v): rebuild it with testdata/build-dwarftrap.sh", name, have)
		}
	}
	m, err := binary.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	m.Customs = slices.DeleteFunc(m.Customs, func(c wasm.CustomSection) bool { return strings.HasPrefix(c.Name, ".debug_") })
	stripped := binary.Encode(m)

	e := testEngine(t)
	dm, err := e.Compile(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := e.Compile(ctx, stripped)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range customNames(t, dm.Instrumented) {
		if strings.HasPrefix(name, ".debug_") {
			t.Errorf("the prepared module keeps %s", name)
		}
	}
	if !bytes.Equal(dm.Instrumented, sm.Instrumented) {
		t.Errorf("the module prepared from dwarftrap.wasm differs from the one prepared from it stripped")
	}

	for mode, want := range map[string]string{"div": "integer divide by zero", "unreachable": "unreachable"} {
		t.Run(mode, func(t *testing.T) {
			lim := sandbox.Limits{Timeout: 50 * time.Millisecond}
			var reps [2]sandbox.Report
			for i, mod := range []*sandbox.Module{dm, sm} {
				var stdout, stderr bytes.Buffer
				reps[i] = e.Run(ctx, mod, sandbox.Input{Args: []string{"dwarftrap.wasm", mode}, Stdout: &stdout, Stderr: &stderr}, lim)
				if stdout.String() != "about to trap: "+mode+"\n" || stderr.Len() != 0 {
					t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
				}
			}
			rep := reps[0]
			if rep.Status != sandbox.StatusTrap || !strings.Contains(rep.Message, want) || rep.Fuel == 0 {
				t.Errorf("report %+v, want a trap: %s", rep, want)
			}
			if strings.Contains(rep.Message, "dwarftrap.c") || strings.Contains(rep.Message, ".c:") {
				t.Errorf("the trap was annotated from DWARF: %q", rep.Message)
			}
			if s := reps[1]; s.Status != rep.Status || s.Message != rep.Message || s.Fuel != rep.Fuel || s.ExitCode != rep.ExitCode {
				t.Errorf("with DWARF %+v, stripped %+v", rep, s)
			}
		})
	}
}
