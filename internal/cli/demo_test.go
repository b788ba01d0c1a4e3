package cli

import (
	"strings"
	"testing"
)

// TestDemoAnywhere: the demo runs from any directory (its module is built
// into the binary), with real worker processes (this test binary acting as
// crowdrun). Seed 5 draws three integers below 10^9: little fuel.
func TestDemoAnywhere(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(testAsMain, "1") // for the worker processes
	code, out, errOut := runCLI(t, "", "demo", "--tasks", "3", "--workers", "2", "--chaos=false", "--verify", "0", "--seed", "5")
	if code != 0 || !strings.Contains(out, "3/3 tasks done") || !strings.Contains(out, "3 compared with a local run: 0 differ") {
		t.Fatalf("demo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// It says where the leaderboard is, and the accounts it shows.
	if !strings.Contains(out, "leaderboard (live): http://127.0.0.1:") || !strings.Contains(out, "/volunteer/anon:worker-") {
		t.Errorf("the demo does not print the leaderboard's address and an account's page: %q", out)
	}
}
