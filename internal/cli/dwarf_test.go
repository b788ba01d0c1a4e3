package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// dwarfTrap is a `clang -g` build of a guest that traps, its DWARF kept
// (internal/sandbox/testdata/dwarftrap.c).
var dwarfTrap = filepath.Join("..", "sandbox", "testdata", "dwarftrap.wasm")

// A trap in a module that carries DWARF is reported as a trap, from the
// guest's own code, under `--timeout 50ms`: the verdict is the trap's, with
// no source positions (no DWARF read for it), and the run ends under the
// timeout's control — a verdict other than timeout arrives within the
// timeout. (A DWARF-annotated trap cost tens of milliseconds here, over
// 0.5 s for a large module: host code that the guest's fuel checks, which
// enforce the timeout, cannot interrupt.) A run that a loaded machine
// deschedules for 50 ms once is not that failure: three are tried, one
// must finish in time.
func TestRunTrapWithDWARF(t *testing.T) {
	for mode, want := range map[string]string{"div": "integer divide by zero", "unreachable": "unreachable"} {
		inTime := false
		for attempt := 1; attempt <= 3 && !inTime; attempt++ {
			code, out, errOut := runCLI(t, "", "run", "--timeout", "50ms", "--report", "-", dwarfTrap, mode)
			var rep sandbox.Report
			if err := json.Unmarshal([]byte(errOut), &rep); err == nil && rep.Status == sandbox.StatusTimeout {
				// A stalled machine (not the trap) can spend the 50 ms:
				// try again; three stalls in a row fail below.
				t.Logf("%s, attempt %d: timed out after %d ms", mode, attempt, rep.WallMS)
				continue
			}
			if err := json.Unmarshal([]byte(errOut), &rep); err != nil || code != 122 || out != "about to trap: "+mode+"\n" ||
				rep.Status != sandbox.StatusTrap || !strings.Contains(rep.Message, want) {
				t.Fatalf("run --timeout 50ms dwarftrap.wasm %s: exit %d, stdout %q, stderr %q; want exit 122 and a trap: %s", mode, code, out, errOut, want)
			}
			if strings.Contains(rep.Message, ".c:") {
				t.Errorf("%s: the trap was annotated from DWARF: %q", mode, rep.Message)
			}
			if inTime = rep.WallMS <= 50; !inTime {
				t.Logf("%s, attempt %d: the trap was reported after %d ms, past the 50 ms timeout", mode, attempt, rep.WallMS)
			}
		}
		if !inTime {
			t.Errorf("%s: a trap outlived --timeout 50ms in 3 runs of 3", mode)
		}
	}
}

// `crowdrun instrument` drops the DWARF sections of a module built with
// -g (their code offsets would no longer match the rewritten code) and
// keeps the name section.
func TestInstrumentDropsDWARF(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.wasm")
	if code, stdout, errOut := runCLI(t, "", "instrument", dwarfTrap, "-o", out, "-q"); code != 0 || stdout != "" || errOut != "" {
		t.Fatalf("instrument: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	names := func(path string) map[string]bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := binary.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, c := range m.Customs {
			have[c.Name] = true
		}
		return have
	}
	if in := names(dwarfTrap); !in[".debug_info"] || !in[".debug_line"] {
		t.Fatalf("%s carries no DWARF: %v", dwarfTrap, in)
	}
	have := names(out)
	for name := range have {
		if strings.HasPrefix(name, ".debug_") {
			t.Errorf("instrument output keeps %s", name)
		}
	}
	if !have["name"] {
		t.Errorf("instrument output lost the name section: %v", have)
	}
}
