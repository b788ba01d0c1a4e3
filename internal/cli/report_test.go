package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// TestReportUnwritableBeforeRun: a --report that cannot be written is a
// usage error before the guest runs, not an internal error after it.
func TestReportUnwritableBeforeRun(t *testing.T) {
	dir := t.TempDir()
	for _, dest := range []string{filepath.Join(dir, "no", "such", "dir", "r.json"), dir} {
		code, out, errOut := runCLI(t, "12\n", "run", "--report", dest, examplePath("factor.wasm"))
		if code != exitUsage || out != "" || !strings.Contains(errOut, "--report") || !strings.Contains(errOut, dest) {
			t.Errorf("run --report %s: exit %d, stdout %q, stderr %q; want exit 2 before the guest runs", dest, code, out, errOut)
		}
	}
	// A usage error found later leaves no empty report behind, and a report
	// that was there is not truncated.
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	fresh := filepath.Join(dir, "fresh.json")
	if code, _, _ := runCLI(t, "", "run", "--report", fresh, "--checkpoint-every", "300", "--checkpoint-dir", full, examplePath("factor.wasm")); code != exitUsage {
		t.Fatalf("checkpoint dir not empty: exit %d", code)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("an empty report was left: %v", err)
	}
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte("previous report\n"), 0o644)
	if code, _, _ := runCLI(t, "", "run", "--report", old, "--checkpoint-every", "300", "--checkpoint-dir", full, examplePath("factor.wasm")); code != exitUsage {
		t.Fatalf("checkpoint dir not empty: exit %d", code)
	}
	if b, _ := os.ReadFile(old); string(b) != "previous report\n" {
		t.Fatalf("the old report became %q", b)
	}
	// And a report that is written replaces the old one entirely.
	if code, _, _ := runCLI(t, "12\n", "run", "--report", old, examplePath("factor.wasm")); code != 0 {
		t.Fatalf("run: exit %d", code)
	}
	if rep := readReport(t, old); rep.Status != sandbox.StatusOK {
		t.Fatalf("report %+v", rep)
	}
	if code, out, errOut := runCLI(t, "", "resume", "--report", filepath.Join(dir, "no", "r.json"), filepath.Join(dir, "x.snap")); code != exitUsage || out != "" || !strings.Contains(errOut, "snap") {
		t.Errorf("resume: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestResumeInvalidSnapshotReport: invalid_snapshot is a verdict with a
// report, like the others.
func TestResumeInvalidSnapshotReport(t *testing.T) {
	dir, ck := factorCheckpoints(t)
	snap := filepath.Join(ck, "000001.snap")
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snap, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "resume", "--report", "-", snap)
	var rep sandbox.Report
	if code != 126 || out != "" || json.Unmarshal([]byte(errOut), &rep) != nil || rep.Status != sandbox.StatusInvalidSnapshot || !strings.Contains(rep.Message, snap) {
		t.Fatalf("resume --report - CORRUPT: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	report := filepath.Join(dir, "r.json")
	if code, out, errOut := runCLI(t, "", "resume", snap, "--report", report); code != 126 || out != "" || errOut != "" {
		t.Fatalf("resume CORRUPT --report FILE: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if rep := readReport(t, report); rep.Status != sandbox.StatusInvalidSnapshot || rep.Message == "" {
		t.Fatalf("report %+v", rep)
	}
}
