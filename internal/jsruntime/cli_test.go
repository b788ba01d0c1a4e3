package jsruntime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/crowdrun/crowdrun/internal/cli"
	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// `node js/node/run.mjs` and `crowdrun run` take the same flags and give the
// same verdicts, fuel, exit codes, report JSON and messages. Both are given
// the original module and instrument it themselves (the JS command through
// js/prepare.js); a module that says it is instrumented already is refused
// by both.
func TestNodeCommandMatchesCrowdrunRun(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	example := func(name string) string { return filepath.Join(repo, "examples", name) }
	factor, recurse := example("factor.wasm"), example("recurse.wasm")
	notWasm := filepath.Join(dir, "notwasm.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A module that claims to meter itself: hand-instrumented (fuel_test.go),
	// and the output of `crowdrun instrument`.
	forged := filepath.Join(dir, "forged.wasm")
	if err := os.WriteFile(forged, fuelModule, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(factor)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := instrument.Instrument(bin, instrument.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	instrumented := filepath.Join(dir, "factor.wasm")
	if err := os.WriteFile(instrumented, inst, 0o644); err != nil {
		t.Fatal(err)
	}
	const numbers = "600851475143\n"
	type want struct {
		status string
		code   int
		fuel   uint64
	}
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
		want  *want // checked in the report of both, with --report -
	}{
		{"ok with report on stderr", []string{"--report", "-", factor}, "12 97\n", &want{"ok", 0, 0}},
		{"fuel exhausted, message on stderr", []string{"--fuel", "1000", factor}, numbers, nil},
		{"fuel exhausted, report", []string{"--fuel=1000", "--report", "-", factor, "--", "x"}, numbers, &want{"fuel_exhausted", 120, 1003}},
		{"fuel enough", []string{"--fuel", "15210", "--report", "-", factor}, numbers, &want{"ok", 0, 15210}},
		{"stack bomb", []string{"-report", "-", recurse}, "", &want{"stack_overflow", 121, 22614}},
		{"stack limit", []string{"--stack", "100", "--report", "-", recurse, "500"}, "", &want{"stack_overflow", 121, 3986}},
		{"stack overflow message on stderr", []string{"--stack", "100", recurse, "500"}, "", nil},
		{"trap message on stderr", []string{example("trap.wasm")}, "", nil},
		{"memory limit hit", []string{"--report", "-", "--memory", "1MiB", example("membomb.wasm")}, "", &want{"memory_limit", 123, 0}},
		{"memory below one page", []string{"--report", "-", "--memory", "1KiB", factor}, "", nil},
		{"memory rounded to pages", []string{"--report", "-", "--memory", "100KiB", factor}, "", nil},
		{"forbidden import", []string{"--report", "-", example("forbidden.wasm")}, "", &want{"forbidden_import", 127, 0}},
		// The Rust and AssemblyScript guests (docs/guests.md), and their own error paths.
		{"rust guest", []string{"--report", "-", example("rust/raytrace.wasm"), "32", "24"}, "", &want{"ok", 0, 0}},
		{"rust guest, bad arguments", []string{example("rust/raytrace.wasm"), "32", "x"}, "", nil},
		{"assemblyscript guest", []string{"--report", "-", example("assemblyscript/sweep.wasm")}, "3 4 8 500\n", &want{"ok", 0, 0}},
		{"assemblyscript guest, bad line", []string{"--report", "-", example("assemblyscript/sweep.wasm")}, "4 3 1 1\n", &want{"exit", 2, 0}},
		{"invalid module", []string{notWasm}, "", nil},
		{"forged instrumented module", []string{"--report", "-", forged}, "", &want{"invalid_module", 126, 0}},
		{"forged instrumented module, message on stderr", []string{"--fuel", "100", forged}, "", nil},
		{"forged instrumented module with checkpoints", []string{"--report", "-", "--checkpoint-every", "100", "--checkpoint-dir", filepath.Join(dir, "never"), forged}, "", &want{"invalid_module", 126, 0}},
		{"output of crowdrun instrument", []string{"--report", "-", instrumented}, numbers, &want{"invalid_module", 126, 0}},
		{"no module", nil, "", nil},
		{"bad size", []string{"--memory", "lots", factor}, "", nil},
		{"zero memory", []string{"--memory", "0", factor}, "", nil},
		{"too much memory", []string{"--memory", "5GiB", factor}, "", nil},
		{"zero max output", []string{"--max-output", "0", factor}, "", nil},
		{"negative timeout", []string{"--timeout", "-1s", factor}, "", nil},
		{"bad duration", []string{"--timeout", "soon", factor}, "", nil},
		{"bad stack", []string{"--stack", "0", factor}, "", nil},
		{"bad seed", []string{"--seed", "-1", factor}, "", nil},
		{"unknown flag", []string{"--frobnicate", factor}, "", nil},
		{"flag without value", []string{factor, "--seed"}, numbers, nil}, // after the module: a guest argument
		{"missing value", []string{"--seed"}, "", nil},
		{"missing module file", []string{filepath.Join(dir, "nope.wasm")}, "", nil},
		{"missing input file", []string{"--file", "a=" + filepath.Join(dir, "nope"), factor}, "", nil},
		{"malformed file flag", []string{"--file", "a", factor}, "", nil},
		{"help", []string{"-h"}, "", nil},
		{"unwritable report", []string{"--report", filepath.Join(dir, "no-such-dir", "r.json"), factor}, numbers, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var gout, gerr bytes.Buffer
			m := &cli.Main{Stdin: bytes.NewReader([]byte(c.stdin)), Stdout: &gout, Stderr: &gerr}
			gcode := m.Run(context.Background(), append([]string{"run"}, c.args...))
			j := nodeRaw(t, []byte(c.stdin), append([]string{filepath.Join(jsDir, "node", "run.mjs")}, c.args...)...)
			if gcode != j.code {
				t.Errorf("exit code: Go %d, JS %d\nGo stderr: %s\nJS stderr: %s", gcode, j.code, gerr.Bytes(), j.stderr)
			}
			help := len(c.args) > 0 && c.args[0] == "-h"
			switch {
			case help:
				// Asked-for help goes to stdout in both; its text is each
				// command's own.
				if !bytes.HasPrefix(gout.Bytes(), []byte("usage: crowdrun run")) || !bytes.HasPrefix(j.stdout, []byte("usage: crowdrun run")) {
					t.Errorf("help on stdout: Go %q, JS %q", gout.Bytes(), j.stdout)
				}
			case !bytes.Equal(gout.Bytes(), j.stdout):
				t.Errorf("stdout: Go %q, JS %q", gout.Bytes(), j.stdout)
			}
			// Usage text and the wording of flag-parsing errors are each
			// command's own; the rest of stderr (reports, verdict lines) is
			// the same but for the wall-clock time.
			if gcode != 2 && !help {
				if g, js := normalize(gerr.Bytes()), normalize(j.stderr); !bytes.Equal(g, js) {
					t.Errorf("stderr:\nGo: %s\nJS: %s", g, js)
				}
			}
			if c.want != nil {
				for host, r := range map[string]struct {
					code   int
					stderr []byte
				}{"Go": {gcode, gerr.Bytes()}, "JS": {j.code, j.stderr}} {
					var rep sandbox.Report
					// The report follows whatever the guest wrote to stderr.
					if err := json.Unmarshal(r.stderr[max(0, bytes.LastIndex(r.stderr, []byte("{\n"))):], &rep); err != nil {
						t.Fatalf("%s: no report on stderr: %v\n%s", host, err, r.stderr)
					}
					if string(rep.Status) != c.want.status || r.code != c.want.code || (c.want.fuel != 0 && rep.Fuel != c.want.fuel) {
						t.Errorf("%s: %s exit %d fuel %d, want %s exit %d fuel %d", host, rep.Status, r.code, rep.Fuel, c.want.status, c.want.code, c.want.fuel)
					}
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); !os.IsNotExist(err) {
		t.Errorf("a refused module's checkpoint directory was created (%v)", err)
	}
}

var wallMS = regexp.MustCompile(`"wall_ms": [0-9]+`)

func normalize(b []byte) []byte { return wallMS.ReplaceAll(b, []byte(`"wall_ms": 0`)) }
