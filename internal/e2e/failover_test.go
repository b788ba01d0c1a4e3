package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

// A coordinator SIGKILLed while a worker runs a task for it: the worker,
// given both coordinators of one PostgreSQL store (--server A,B), goes on
// with B; B requeues the dead coordinator's lease when it lapses, and the
// replica resumes from the last checkpoint A accepted. The result is that
// of an uninterrupted run.
func TestCoordinatorDiesWorkerFailsOver(t *testing.T) {
	dsn := pgtest.Schema(t)
	const grid = 1 << 22
	serveOn := func() *server {
		p, stdout := start(t, "serve", "--addr", "127.0.0.1:0", "--store", dsn, "--quiet", "--checkpoint-every", strconv.Itoa(grid))
		return readServer(t, p, stdout, "")
	}
	a, b := serveOn(), serveOn()
	tok := strings.TrimSpace(must(t, nil, nil, "token", "create", "--store", dsn, "--owner", "alice"))
	envA := []string{"CROWDRUN_SERVER=" + a.url, "CROWDRUN_TOKEN=" + tok}
	envB := []string{"CROWDRUN_SERVER=" + b.url, "CROWDRUN_TOKEN=" + tok}
	in := "999999999999989 999999999999947 999999999999877 999999999999863\n"
	lines := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(lines, []byte(in), 0o644)
	// One worker, so max error 1: this is about failover, not verification
	// (which needs a second account).
	id := strings.TrimSpace(must(t, envA, nil, "submit", "--module", factorW, "--lines", lines, "--max-error", "1"))
	startWorker(t, a.url+","+b.url, "w1")
	waitUntil(t, "checkpoints accepted by A", func() bool { return job(t, envB, id).Checkpointing.Checkpoints >= 2 })
	a.kill()
	got := results(t, envB, id)
	out, fuel := localRun(t, in)
	if r := got[0]; len(got) != 1 || r.State != "done" || r.Status != "ok" || r.Stdout != out || r.Fuel != fuel {
		t.Fatalf("result after the failover: %+v, want stdout %q fuel %d", got, out, fuel)
	}
	j := job(t, envB, id)
	if ck := j.Checkpointing; ck.Resumes < 1 || ck.LostSegments < 1 || ck.Mismatches != 0 {
		t.Fatalf("checkpointing after the failover: %+v", ck)
	}
	t.Logf("resumed on B after A's death: %d checkpoints, %d resumes, %d fuel lost", j.Checkpointing.Checkpoints, j.Checkpointing.Resumes, j.Checkpointing.FuelLost)
}
