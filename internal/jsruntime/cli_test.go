package jsruntime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/crowdrun/crowdrun/internal/cli"
)

// `node js/node/run.mjs` and `crowdrun run` take the same flags and give the
// same exit codes, report JSON and messages. The module is instrumented
// already, so the Go command runs it as it is, like the JS one.
func TestNodeCommandMatchesCrowdrunRun(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	mod := filepath.Join(dir, "fuel.wasm")
	if err := os.WriteFile(mod, fuelModule, 0o644); err != nil {
		t.Fatal(err)
	}
	notWasm := filepath.Join(dir, "notwasm.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := string(mustHex("e803000000000000")) + "\x00"
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"ok with report on stderr", []string{"--report", "-", mod}, loop},
		{"fuel exhausted, message on stderr", []string{"--fuel", "100", mod}, loop},
		{"fuel exhausted, report", []string{"--fuel=100", "--report", "-", mod, "--", "x"}, loop},
		{"stack overflow trap", []string{"-report", "-", mod}, "\x00\x00\x00\x00\x00\x00\x00\x00\x01"},
		{"trap message on stderr", []string{mod}, "\x00\x00\x00\x00\x00\x00\x00\x00\x01"},
		{"memory limit hit", []string{"--report", "-", "--memory", "1MiB", mod}, "\x00\x00\x00\x00\x00\x00\x00\x00\x03"},
		{"memory below one page", []string{"--report", "-", "--memory", "1KiB", mod}, ""},
		{"memory rounded to pages", []string{"--report", "-", "--memory", "100KiB", mod}, ""},
		{"invalid module", []string{notWasm}, ""},
		{"no module", nil, ""},
		{"bad size", []string{"--memory", "lots", mod}, ""},
		{"zero memory", []string{"--memory", "0", mod}, ""},
		{"too much memory", []string{"--memory", "5GiB", mod}, ""},
		{"zero max output", []string{"--max-output", "0", mod}, ""},
		{"negative timeout", []string{"--timeout", "-1s", mod}, ""},
		{"bad duration", []string{"--timeout", "soon", mod}, ""},
		{"bad stack", []string{"--stack", "0", mod}, ""},
		{"bad seed", []string{"--seed", "-1", mod}, ""},
		{"unknown flag", []string{"--frobnicate", mod}, ""},
		{"flag without value", []string{mod, "--seed"}, loop}, // after the module: a guest argument
		{"missing value", []string{"--seed"}, ""},
		{"missing module file", []string{filepath.Join(dir, "nope.wasm")}, ""},
		{"missing input file", []string{"--file", "a=" + filepath.Join(dir, "nope"), mod}, ""},
		{"malformed file flag", []string{"--file", "a", mod}, ""},
		{"help", []string{"-h"}, ""},
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
			if !bytes.Equal(gout.Bytes(), j.stdout) {
				t.Errorf("stdout: Go %q, JS %q", gout.Bytes(), j.stdout)
			}
			// Usage text and the wording of flag-parsing errors are each
			// command's own; the rest of stderr (reports, verdict lines) is
			// the same but for the wall-clock time.
			if gcode != 2 && !(len(c.args) > 0 && c.args[0] == "-h") {
				if g, js := normalize(gerr.Bytes()), normalize(j.stderr); !bytes.Equal(g, js) {
					t.Errorf("stderr:\nGo: %s\nJS: %s", g, js)
				}
			}
		})
	}
}

var wallMS = regexp.MustCompile(`"wall_ms": [0-9]+`)

func normalize(b []byte) []byte { return wallMS.ReplaceAll(b, []byte(`"wall_ms": 0`)) }
