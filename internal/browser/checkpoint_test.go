package browser

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// One long task migrates between engines through checkpoints: Chromium
// runs it and uploads checkpoints, its tab is closed mid-task; a native
// worker (wazero) resumes from the last checkpoint, checkpoints further,
// and loses its connection for good; a second Chromium resumes from the
// native worker's checkpoint and finishes. The result equals an
// uninterrupted native run's (output and fuel), no checkpoint's state hash
// is disputed, and the work lost to each departure is at most one
// checkpoint interval.
func TestClosedTabResumesElsewhere(t *testing.T) {
	needChromium(t)
	const grid = 100_000_000
	const primeFuel = 366_672_845 // factoring 9999999999999937
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = grid })
	var (
		input []string
		job   *api.Job
		n1    int
	)
	checkpoints := func() int { return e.job(job.ID).Checkpointing.Checkpoints }

	// 1. Chromium, then its tab is closed. The tab runs on while the test
	// sees its second checkpoint and closes it: a fast machine can take
	// most of a short task's checkpoints meanwhile. The steps after need
	// three more (two from the native worker, one for the second tab), so
	// a task that had fewer left is cancelled and a twice longer one tried:
	// the work is sized by what this machine did, not guessed.
	for primes := 2; ; primes *= 2 {
		input = []string{strings.TrimSpace(strings.Repeat("9999999999999937 ", primes))}
		job = e.submitFactor(input, 1)
		if ck := e.job(job.ID).Checkpointing; ck == nil || !ck.Suspendable {
			t.Fatalf("the job is not suspendable: %+v", ck)
		}
		a := newBrowser(t)
		t.Logf("%v: start (%d primes)", time.Now().Format("15:04:05.000"), primes)
		openContribute(t, a, e.srv.URL, "")
		click(t, a)
		waitUntil(t, "two checkpoints from Chromium", 5*time.Minute, func() bool { return checkpoints() >= 2 })
		if err := chromedp.Cancel(a); err != nil {
			t.Fatalf("closing the tab: %v", err)
		}
		n1 = checkpoints()
		t.Logf("%v: tab closed after %d checkpoints", time.Now().Format("15:04:05.000"), n1)
		if left := primes*primeFuel/grid - n1; left >= 3 {
			break
		} else if primes >= 32 {
			t.Fatalf("the tab took all but %d of %d checkpoints before it was closed", left, primes*primeFuel/grid)
		}
		if _, err := e.alice.Cancel(context.Background(), job.ID); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the cancelled job's lease to end", time.Minute, func() bool { return e.job(job.ID).Tasks.Running == 0 })
	}

	// 2. A native worker resumes it, then its connection is cut for good
	// right after its second checkpoint reaches the coordinator.
	px := newCheckpointCutter(t, strings.TrimPrefix(e.srv.URL, "http://"), 2)
	w, err := worker.New(worker.Config{Server: px.url(), Name: "native", Slots: 1, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopW := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	defer func() { stopW(); <-wdone }()
	select {
	case <-px.wasCut:
	case <-time.After(5 * time.Minute):
		t.Fatalf("the native worker sent no two checkpoints in 5 minutes (a hang) (resumes %d)", w.Stats.Resumes.Load())
	}
	if w.Stats.Resumes.Load() < 1 {
		t.Fatalf("the native worker checkpointed without resuming")
	}
	// Its first checkpoint is recorded; the second may not be: the cut
	// ends its session at once, and when the coordinator handles that end
	// before the message, the lease is gone and the checkpoint refused
	// (seen under a CPU hog, 2 runs in 5).
	waitUntil(t, "the native worker's checkpoint to be recorded", 2*time.Minute, func() bool { return checkpoints() >= n1+1 })
	n2 := checkpoints()
	t.Logf("%v: native worker cut off after %d checkpoints", time.Now().Format("15:04:05.000"), n2)

	// 3. Another Chromium resumes from the native worker's checkpoint.
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "")
	click(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	got := e.results(ctx, job.ID)[0]
	if s := stats(t, b); s.Tasks != 1 || eval[int](t, b, `crowdrun.worker.stats.resumes`) < 1 {
		t.Errorf("the second browser did not resume the task: %+v", s)
	}
	t.Logf("%v: done", time.Now().Format("15:04:05.000"))
	want := runResults(t, input)[0]
	t.Logf("%v: native reference done", time.Now().Format("15:04:05.000"))
	if got.State != "done" || !sameResult(got, want) {
		t.Errorf("migrated result:\n got  %s\n want %s", show(got), show(want))
	}
	ck := e.job(job.ID).Checkpointing
	t.Logf("checkpoints %d, resumes %d, lost segments %d, fuel lost %d (grid %d)", ck.Checkpoints, ck.Resumes, ck.LostSegments, ck.FuelLost, grid)
	// Closing the tab gives the lease back (pagehide: release, bye), so only
	// the cut native session counts as lost; both segments resumed.
	if ck.Resumes < 2 || ck.LostSegments < 1 {
		t.Errorf("want ≥ 2 resumes and ≥ 1 lost segment: %+v", ck)
	}
	if ck.FuelLost > uint64(ck.LostSegments)*grid {
		t.Errorf("lost %d fuel over %d departures: more than one interval (%d) each", ck.FuelLost, ck.LostSegments, grid)
	}
	if ck.Mismatches != 0 {
		t.Errorf("%d checkpoint state hashes disagreed", ck.Mismatches)
	}
}

// The same replica run by Chromium, Node and wazero: three replicas of one
// task, one per engine, checkpointing on one grid. The coordinator compares
// the replicas' state hashes at every checkpoint and their results: no
// mismatch, and the task is done (all agree) with an uninterrupted run's
// output and fuel.
func TestThreeEnginesAgree(t *testing.T) {
	needChromium(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found (install it with scripts/setup.sh)")
	}
	const grid = 50_000_000
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = grid })
	input := []string{"9999999999999937"} // 366,672,845 fuel: 7 checkpoints
	job := e.submitFactor(input, 3)

	w, err := worker.New(worker.Config{Server: e.srv.URL, Name: "native", Slots: 1, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopW := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	defer func() { stopW(); <-wdone }()
	script, _ := filepath.Abs(filepath.Join("..", "..", "js", "node", "net-worker.mjs"))
	cmd := exec.Command(node, script, "--server", e.srv.URL, "--name", "node", "--slots", "1", "--quiet")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "")
	click(t, b)

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	got := e.results(ctx, job.ID)[0]
	want := runResults(t, input)[0]
	if got.State != "done" || !sameResult(got, want) {
		t.Errorf("result:\n got  %s\n want %s\nnode worker:\n%s", show(got), show(want), out.String())
	}
	ck := e.job(job.ID).Checkpointing
	t.Logf("checkpoints %d, mismatches %d; browser sent %d", ck.Checkpoints, ck.Mismatches, eval[int](t, b, `crowdrun.worker.stats.checkpoints`))
	if ck.Mismatches != 0 {
		t.Errorf("%d checkpoints where the engines' state hashes differ", ck.Mismatches)
	}
	// 7 checkpoints a replica, 21 in all. On a busy machine a lease can
	// expire (a heartbeat late) and another engine resume that replica from
	// its last checkpoint, so an engine may send more than its 7 (the
	// coordinator compared them all the same): each engine must have sent
	// some, and the accepted ones cover every replica's chain.
	chromium, wazero := eval[int](t, b, `crowdrun.worker.stats.checkpoints`), w.Stats.Checkpoints.Load()
	if ck.Checkpoints < 3*7 || chromium < 1 || wazero < 1 {
		t.Errorf("want 7 checkpoints from each replica: %d accepted in all, %d from Chromium, %d from wazero (resumes %d, lost segments %d)",
			ck.Checkpoints, chromium, wazero, ck.Resumes, ck.LostSegments)
	}
	if ck.Resumes == 0 && (chromium != 7 || wazero != 7) {
		t.Errorf("no replica moved, yet Chromium sent %d and wazero %d checkpoints, not 7 each", chromium, wazero)
	}
}
