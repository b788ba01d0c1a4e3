package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// TestCheckpointAndResume: `run --checkpoint-every` changes neither output
// nor fuel, and `resume` of every checkpoint prints the whole output and
// reports the whole run's fuel, with stdin, args, env and input files.
func TestCheckpointAndResume(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(data, []byte("file contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"factor", "600851475143 1000000007 97 12\n", []string{examplePath("factor.wasm")}},
		{"file", "", []string{"--file", "in.txt=" + data, examplePath("wasitest.wasm"), "--", "file", "/in.txt"}},
		{"echo", "some\nstdin\n", []string{"--env", "K=V", examplePath("echo.wasm"), "--", "x", "y"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkpointAndResume(t, dir, tc.name, tc.stdin, 500, tc.args) })
	}
}

// checkpointAndResume runs `crowdrun run ARGS` plainly and with a checkpoint
// every EVERY fuel into DIR/NAME, and resumes from the first, middle and
// last checkpoints: every run must print the same output and report the
// same fuel.
func checkpointAndResume(t *testing.T, dir, name, stdin string, every uint64, args []string) {
	t.Helper()
	wantReport := filepath.Join(dir, name+"-plain.json")
	code, want, _ := runCLI(t, stdin, append([]string{"run", "--report", wantReport}, args...)...)
	if code != 0 {
		t.Fatalf("plain run: exit %d", code)
	}
	ck := filepath.Join(dir, name)
	report := filepath.Join(dir, name+".json")
	code, got, errOut := runCLI(t, stdin, append([]string{"run", "--report", report, "--checkpoint-every", strconv.FormatUint(every, 10), "--checkpoint-dir", ck}, args...)...)
	if code != 0 || got != want {
		t.Fatalf("checkpointed run: exit %d, stdout %q (want %q), stderr %q", code, got, want, errOut)
	}
	wantFuel := readReport(t, wantReport).Fuel
	rep := readReport(t, report)
	if rep.Fuel != wantFuel || rep.Checkpoints == 0 {
		t.Fatalf("checkpointed run: fuel %d (want %d), %d checkpoints", rep.Fuel, wantFuel, rep.Checkpoints)
	}
	t.Logf("fuel %d, %d checkpoints", rep.Fuel, rep.Checkpoints)
	snaps, _ := filepath.Glob(filepath.Join(ck, "*.snap"))
	if len(snaps) != rep.Checkpoints {
		t.Fatalf("%d snapshots, %d checkpoints", len(snaps), rep.Checkpoints)
	}
	for i, snap := range snaps {
		if i != 0 && i != len(snaps)/2 && i != len(snaps)-1 {
			continue
		}
		resReport := filepath.Join(dir, "resumed.json")
		code, got, errOut := runCLI(t, "", "resume", "--report", resReport, snap)
		if code != 0 || got != want {
			t.Fatalf("resume %s: exit %d, stdout %q (want %q), stderr %q", filepath.Base(snap), code, got, want, errOut)
		}
		if r := readReport(t, resReport); r.Fuel != wantFuel || r.Status != sandbox.StatusOK {
			t.Fatalf("resume %s: %+v, want fuel %d", filepath.Base(snap), r, wantFuel)
		}
	}
}

func readReport(t *testing.T, path string) sandbox.Report {
	t.Helper()
	var rep sandbox.Report
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// factorCheckpoints runs factor.wasm on "12 97" with a checkpoint every 300
// fuel into DIR/ck, for the resume tests: DIR, DIR/ck.
func factorCheckpoints(t *testing.T) (dir, ck string) {
	t.Helper()
	dir = t.TempDir()
	ck = filepath.Join(dir, "ck")
	if code, _, errOut := runCLI(t, "12 97\n", "run", "--checkpoint-every", "300", "--checkpoint-dir", ck, examplePath("factor.wasm")); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	return dir, ck
}

// TestResumeRefusesBadInput: a corrupt snapshot, a snapshot outside a
// checkpoint directory, one that does not match its sidecar, and flags
// that do not go together are refused with a clear message.
func TestResumeRefusesBadInput(t *testing.T) {
	dir, ck := factorCheckpoints(t)
	snap := filepath.Join(ck, "000001.snap")
	good, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "run", "--checkpoint-every", "300", examplePath("factor.wasm"))
	if code != exitUsage || !strings.Contains(errOut, "go together") {
		t.Fatalf("--checkpoint-every alone: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "run", "--checkpoint-every", "300", "--checkpoint-dir", ck, examplePath("factor.wasm"))
	if code != exitUsage || !strings.Contains(errOut, "not empty") {
		t.Fatalf("existing checkpoint dir: exit %d, %q", code, errOut)
	}
	lone := filepath.Join(dir, "lone.snap")
	os.WriteFile(lone, good, 0o644)
	code, _, errOut = runCLI(t, "", "resume", lone)
	if code != exitUsage || !strings.Contains(errOut, "not in a checkpoint directory") {
		t.Fatalf("lone snapshot: exit %d, %q", code, errOut)
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"flipped":   func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b },
		"empty":     func([]byte) []byte { return nil },
	} {
		if err := os.WriteFile(snap, mutate(append([]byte(nil), good...)), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "", "resume", snap)
		if code != 126 || out != "" || !strings.Contains(errOut, "snapshot") {
			t.Fatalf("%s snapshot: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	// Another checkpoint's (valid) snapshot under this one's name.
	other, err := os.ReadFile(filepath.Join(ck, "000002.snap"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(snap, other, 0o644)
	if code, _, errOut := runCLI(t, "", "resume", snap); code != 126 || !strings.Contains(errOut, "does not match its sidecar") {
		t.Fatalf("swapped snapshot: exit %d, %q", code, errOut)
	}
}
