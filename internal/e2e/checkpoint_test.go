package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiGet reads a JSON document of the coordinator's API as the submitter.
func apiGet(t *testing.T, env []string, path string, out any) {
	t.Helper()
	var server, token string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "CROWDRUN_SERVER="); ok {
			server = v
		}
		if v, ok := strings.CutPrefix(e, "CROWDRUN_TOKEN="); ok {
			token = v
		}
	}
	req, _ := http.NewRequest(http.MethodGet, server+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type jobDoc struct {
	State string `json:"state"`
	Tasks struct {
		Done, Running int
	} `json:"tasks"`
	Checkpointing struct {
		Suspendable  bool   `json:"suspendable"`
		Checkpoints  int    `json:"checkpoints"`
		Resumes      int    `json:"resumes"`
		LostSegments int    `json:"lost_segments"`
		FuelLost     uint64 `json:"fuel_lost"`
		Mismatches   int    `json:"mismatches"`
		Policy       struct {
			IntervalFuel uint64 `json:"interval_fuel"`
		} `json:"policy"`
	} `json:"checkpointing"`
}

type segmentDoc struct {
	Replica     int64  `json:"replica"`
	Task        int    `json:"task"`
	Worker      string `json:"worker"`
	State       string `json:"state"`
	ResumeSeq   uint64 `json:"resume_seq"`
	FuelStart   uint64 `json:"fuel_start"`
	FuelEnd     uint64 `json:"fuel_end"`
	FuelReached uint64 `json:"fuel_reached"`
}

func job(t *testing.T, env []string, id string) jobDoc {
	var j jobDoc
	apiGet(t, env, "/v1/jobs/"+id, &j)
	return j
}

func segments(t *testing.T, env []string, id string) []segmentDoc {
	var s struct{ Segments []segmentDoc }
	apiGet(t, env, "/v1/jobs/"+id+"/segments", &s)
	return s.Segments
}

// setupWith starts a coordinator with extra serve flags.
func setupWith(t *testing.T, flags ...string) (*server, []string) {
	data := t.TempDir()
	tok := strings.TrimSpace(must(t, nil, nil, "token", "create", "--create", "--data", data, "--owner", "alice"))
	p, stdout := start(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--quiet"}, flags...)...)
	s := readServer(t, p, stdout, data)
	return s, []string{"CROWDRUN_SERVER=" + s.url, "CROWDRUN_TOKEN=" + tok}
}

// localRun is `crowdrun run` of one input: stdout, fuel.
func localRun(t *testing.T, stdin string) (string, uint64) {
	out, fuel, _ := localRunWall(t, stdin)
	return out, fuel
}

// localRunWall is localRun, also returning the run's wall time (compilation
// left out).
func localRunWall(t *testing.T, stdin string) (string, uint64, time.Duration) {
	report := filepath.Join(t.TempDir(), "report.json")
	out, _, code := crowdrun(t, nil, []byte(stdin), "run", "--report", report, factorW)
	var rep struct {
		Status string `json:"status"`
		Fuel   uint64 `json:"fuel"`
		WallMS int64  `json:"wall_ms"`
	}
	b, _ := os.ReadFile(report)
	if err := json.Unmarshal(b, &rep); err != nil || code != 0 || rep.Status != "ok" {
		t.Fatalf("crowdrun run: exit %d, %s %v", code, b, err)
	}
	return out, rep.Fuel, time.Duration(rep.WallMS) * time.Millisecond
}

// A job of long tasks, workers SIGKILLed mid-task: every task completes
// exactly once with the output and fuel of an uninterrupted `crowdrun
// run`, and replicas visibly resumed from checkpoints taken by workers that
// were killed.
func TestCheckpointsSurviveKills(t *testing.T) {
	// A fine grid (≈ 80 checkpoints per task), so that a killed worker has
	// nearly always checkpointed the replica it held.
	const grid = 1 << 22
	s, env := setupWith(t, "--checkpoint-every", strconv.Itoa(grid))
	names := []string{"w1", "w2", "w3"}
	workers := map[string]*proc{}
	for _, n := range names {
		workers[n] = startWorker(t, s.url, n)
	}
	inputs := []string{
		"999999999999989 600851475143 999999999999947 999999999999863\n",
		"12 999999999999877 35 999999999999863 999999999999989\n",
		"999999999999989 999999999999947 999999999999877\n",
		"1000000007 999999999999877 97 999999999999947\n",
		"999999999999863 999999999999989 999999999999947\n",
		"600851475143 999999999999947 999999999999877 999999999999863\n",
	}
	path := filepath.Join(t.TempDir(), "tasks.ndjson")
	var nd strings.Builder
	for _, in := range inputs {
		b, _ := json.Marshal(map[string]string{"stdin": in})
		nd.Write(append(b, '\n'))
	}
	os.WriteFile(path, []byte(nd.String()), 0o644)
	id := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--tasks", path))
	// Each kill is chosen by what the store shows, not by time: a worker is
	// killed only while the replica it holds has a checkpoint from its
	// current lease, and the next kill waits until that replica has been
	// leased again from that checkpoint (or finished). So every kill loses
	// a segment that a resume must pick up, on any machine's speed.
	db := openStoreReadOnly(t, s.data)
	const wantKills = 3
	kills := 0
	for kills < wantKills {
		if j := job(t, env, id); j.State != "running" {
			break
		}
		victim, replica, seq, ok := checkpointedLease(t, db)
		if !ok {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		w := workers[victim]
		if w == nil {
			t.Fatalf("the store names worker %q, not one of %v", victim, names)
		}
		w.kill()
		kills++
		workers[victim] = startWorker(t, s.url, victim)
		waitUntil(t, fmt.Sprintf("replica %d to resume from checkpoint %d after %s was killed", replica, seq, victim), func() bool {
			return replicaMovedOn(t, db, replica, seq)
		})
	}
	if kills < wantKills {
		t.Fatalf("the job ended after %d kills: too little work to kill %d workers mid-segment", kills, wantKills)
	}
	got := results(t, env, id)
	if len(got) != len(inputs) {
		t.Fatalf("%d results for %d tasks", len(got), len(inputs))
	}
	for i, in := range inputs {
		out, fuel := localRun(t, in)
		if r := got[i]; r.State != "done" || r.Status != "ok" || r.Stdout != out || r.Fuel != fuel {
			t.Errorf("task %d: %+v\nwant stdout %q fuel %d", i, r, out, fuel)
		}
	}
	j := job(t, env, id)
	ck := j.Checkpointing
	if !ck.Suspendable || ck.Resumes < 1 || ck.LostSegments < 1 || ck.Mismatches != 0 || ck.Policy.IntervalFuel != grid {
		t.Fatalf("checkpointing %+v after %d kills", ck, kills)
	}
	st := must(t, env, nil, "status", id)
	if !strings.Contains(st, fmt.Sprintf("checkpoints: %d accepted · %d resumes", ck.Checkpoints, ck.Resumes)) ||
		!strings.Contains(st, fmt.Sprintf("interval: %.3g fuel", float64(grid))) || !strings.Contains(st, "T* ") || !strings.Contains(st, "τ ") || !strings.Contains(st, "δ ") {
		t.Errorf("crowdrun status does not show the checkpoints and the interval:\n%s", st)
	}
	resumedAfterLoss := 0
	lostBy := map[int64]bool{}
	for _, g := range segments(t, env, id) {
		if g.State == "lost" && g.FuelEnd > g.FuelStart {
			lostBy[g.Replica] = true // its worker was killed after checkpointing
		}
		if g.State == "done" && g.ResumeSeq > 0 && g.FuelStart > 0 && lostBy[g.Replica] {
			resumedAfterLoss++
		}
	}
	if resumedAfterLoss == 0 {
		t.Fatal("no replica finished from a checkpoint taken by a killed worker")
	}
	t.Logf("%d kills: %d checkpoints, %d resumes, %d segments lost (%d fuel), %d replicas finished from a killed worker's checkpoint",
		kills, ck.Checkpoints, ck.Resumes, ck.LostSegments, ck.FuelLost, resumedAfterLoss)
}

// The coordinator SIGKILLed mid-job: the checkpoints it had accepted
// survive, replicas resume from them after the restart, and the results are
// those of uninterrupted runs.
func TestCheckpointsSurviveCoordinatorKill(t *testing.T) {
	const grid = 1 << 24
	s, env := setupWith(t, "--checkpoint-every", strconv.Itoa(grid))
	addr := strings.TrimPrefix(s.url, "http://")
	startWorker(t, s.url, "w1")
	startWorker(t, s.url, "w2")
	in := "999999999999989 999999999999947 999999999999877\n"
	lines := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(lines, []byte(strings.Repeat(strings.TrimSpace(in)+"\n", 4)), 0o644)
	id := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", lines))
	var before jobDoc
	for {
		before = job(t, env, id)
		if before.Checkpointing.Checkpoints >= 6 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	if before.State != "running" {
		t.Fatal("the job finished before the coordinator was killed")
	}
	startServer(t, s.data, addr, "--checkpoint-every", strconv.Itoa(grid))
	after := job(t, env, id)
	if after.Checkpointing.Checkpoints < before.Checkpointing.Checkpoints {
		t.Fatalf("checkpoints lost in the kill: %d before, %d after", before.Checkpointing.Checkpoints, after.Checkpointing.Checkpoints)
	}
	got := results(t, env, id)
	out, fuel := localRun(t, in)
	for i := 0; i < 4; i++ {
		if r := got[i]; r.State != "done" || r.Stdout != out || r.Fuel != fuel {
			t.Fatalf("task %d: %+v, want %q fuel %d", i, r, out, fuel)
		}
	}
	if ck := job(t, env, id).Checkpointing; ck.Resumes < 1 {
		t.Fatalf("no replica resumed after the restart: %+v", ck)
	}
}

// Churn: worker processes with exponentially distributed lifetimes, killed
// for real. Every task completes correctly, and the work the coordinator
// reports lost to churn matches the theory for the interval
// (docs/checkpointing.md, "Work lost per failure"), computed from the
// failures that actually happened.
//
// CROWDRUN_CHURN_LONG=1 runs a longer, more precise variant.
func TestChurn(t *testing.T) {
	const (
		grid  = 1 << 24
		ticks = 32 // progress reports per interval
	)
	nWorkers, nTasks := 4, 36
	if os.Getenv("CROWDRUN_CHURN_LONG") != "" {
		nTasks = 160
	}
	s, env := setupWith(t, "--checkpoint-every", strconv.Itoa(grid))
	in := "9999999999999937\n" // a prime: ≈ 3.7·10⁸ fuel of trial division
	want, wantFuel, wall := localRunWall(t, in)
	// The mean lifetime follows the machine's speed, so that the number of
	// failures does not (a fixed lifetime gave 24 failures on an idle
	// machine, 60 on a loaded one). A worker takes about six times as long
	// as the local run for a task here (four workers on two cores, 22
	// checkpoints uploaded and stored), so a worker is killed about once
	// per task: 40-50 failures.
	meanLife := min(max(5*wall, 500*time.Millisecond), 10*time.Second)
	t.Logf("local run %v: mean worker lifetime %v", wall, meanLife)
	lines := filepath.Join(t.TempDir(), "in.txt")

	// Each slot runs one worker process at a time, SIGKILLed after an
	// Exp(meanLife) lifetime and replaced at once by a fresh one.
	rng := rand.New(rand.NewPCG(7, 11))
	var mu sync.Mutex
	life := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.ExpFloat64() * float64(meanLife))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < nWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gen := 0; ; gen++ {
				// No compile cache: the model below was calibrated with
				// workers that compile at every start; with the cache the
				// measured loss came out 1.3–1.5× the theory (against
				// 0.96–1.26 without), which is not understood yet
				// (docs/worker-speed.md).
				p, stdout := start(t, "worker", "--server", s.url, "--name", fmt.Sprintf("w%d.%d", w, gen), "--slots", "1",
					"--progress-ticks", strconv.Itoa(ticks), "--compile-cache", "")
				go io.Copy(p, stdout)
				// The lifetime starts once the worker has compiled the
				// whole module (about a second here, every time: nothing
				// caches compiled code across processes; its first runs
				// start in the lite variant while the rewind twins
				// compile, and wait for them at their first checkpoint),
				// so that the failures fall on running work, as they would
				// with a warm worker.
				for !strings.Contains(p.log(), `msg="module ready to rewind"`) {
					select {
					case <-time.After(10 * time.Millisecond):
					case <-stop:
						p.kill()
						return
					case <-p.exited:
						t.Errorf("worker exited: %s", p.log())
						return
					}
				}
				select {
				case <-time.After(life()):
					p.kill()
				case <-stop:
					p.kill()
					return
				}
			}
		}()
	}
	// Jobs of nTasks run one after another until the failures are enough
	// for the comparison: how many a job sees depends on the machine's
	// load (the lifetime was scaled by one local run), so the test counts
	// failures, not jobs.
	const wantFailures, maxRounds = 30, 6
	var segs []segmentDoc
	var m churnResult
	tasks, tasksRun := nTasks, 0
	for round := 1; ; round++ {
		os.WriteFile(lines, []byte(strings.Repeat(in, tasks)), 0o644)
		id := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", lines))
		got := results(t, env, id)
		if len(got) != tasks {
			t.Fatalf("%d results for %d tasks", len(got), tasks)
		}
		tasksRun += tasks
		for i := 0; i < tasks; i++ {
			if r := got[i]; r.State != "done" || r.Stdout != want || r.Fuel != wantFuel {
				t.Fatalf("task %d: %+v, want %q fuel %d", i, r, want, wantFuel)
			}
		}
		j := job(t, env, id)
		js := segments(t, env, id)
		jm := churnTheory(js, grid, grid/ticks, wantFuel)
		if jm.lostTotal != j.Checkpointing.FuelLost || jm.failuresAll != j.Checkpointing.LostSegments {
			t.Fatalf("job %s reports %d lost segments and %d fuel lost; its segments say %d and %d", id, j.Checkpointing.LostSegments, j.Checkpointing.FuelLost, jm.failuresAll, jm.lostTotal)
		}
		segs = append(segs, js...)
		m = churnTheory(segs, grid, grid/ticks, wantFuel)
		t.Logf("round %d: %d failures while running so far", round, m.failures)
		if m.failures >= wantFailures || round == maxRounds {
			break
		}
		// The next job: enough tasks for the failures still missing, at the
		// rate seen so far, with a third to spare.
		perTask := max(float64(m.failures), 1) / float64(tasksRun)
		tasks = min(nTasks, max(4, int(math.Ceil(1.33*float64(wantFailures-m.failures)/perTask))))
	}
	close(stop)
	wg.Wait()
	t.Logf("%d failures while running (%d lost segments in all), τ̂ = %.3g fuel (%.2f intervals); work lost: measured %.4g fuel, theory %.4g ± %.2g (1σ): ratio %.3f",
		m.failures, m.failuresAll, m.tau, m.tau/grid, m.measured, m.expected, m.sd, m.measured/m.expected)
	if m.failures < wantFailures {
		t.Fatalf("only %d failures in %d rounds: the comparison would mean nothing", m.failures, maxRounds)
	}
	// The tolerance: 3σ of the sum of the failures' losses (each has the
	// variance of its truncated exponential), plus 15% for what the model
	// leaves out: progress reported at 1/ticks of the interval, and kills
	// between a checkpoint's capture and its acceptance, which lose the
	// interval before it too. The second grows with the machine's load (an
	// upload takes longer in wall time while no fuel passes): at a load
	// average of 15 on 2 cores one run in five measured 1.37× the theory.
	// A checkpointing fault loses whole tasks (many intervals), far beyond.
	if tol := 3*m.sd + 0.15*m.expected; math.Abs(m.measured-m.expected) > tol {
		t.Fatalf("work lost to churn: measured %.4g, theory %.4g (tolerance %.2g)", m.measured, m.expected, tol)
	}
}

type churnResult struct {
	failures, failuresAll  int
	lostTotal              uint64
	tau                    float64 // mean run length before a kill, fuel
	measured, expected, sd float64
}

// churnTheory compares the work lost per failure with the theory. Time is
// measured in fuel: kills are memoryless, so while a guest runs, its fuel
// until the kill is exponential with a mean τ estimated from the segments
// themselves (maximum likelihood with censoring: exposure over failures).
// A failure in a cycle of length c (from the last checkpoint to the next
// grid point, or to the end of the task) then loses U ~ Exp(τ) conditioned
// on U < c: E = τ − c/(e^(c/τ) − 1), minus half a progress tick (progress
// is reported at tick granularity). Failures before the guest made any
// progress (the worker killed while starting) lose nothing and are left out
// of both sides.
func churnTheory(segs []segmentDoc, grid, tick, total uint64) churnResult {
	var r churnResult
	var exposure float64
	type fail struct{ start, lost uint64 }
	var fails []fail
	for _, g := range segs {
		if g.State == "lost" {
			r.failuresAll++
			r.lostTotal += g.FuelReached - g.FuelEnd
		}
		if g.FuelReached <= g.FuelStart {
			continue
		}
		exposure += float64(g.FuelReached - g.FuelStart)
		if g.State == "lost" {
			fails = append(fails, fail{g.FuelEnd, g.FuelReached - g.FuelEnd})
		}
	}
	r.failures = len(fails)
	if r.failures == 0 {
		return r
	}
	tau := exposure / float64(r.failures)
	r.tau = tau
	var variance float64
	for _, f := range fails {
		c := float64(min(grid*(f.start/grid+1), total) - f.start)
		x := c / tau
		mean := tau - c/math.Expm1(x)
		// E[U²] for U ~ Exp(τ) truncated at c.
		m2 := 2*tau*tau - (c*c+2*tau*c)/math.Expm1(x)
		variance += m2 - mean*mean
		r.expected += mean - float64(tick)/2
		r.measured += float64(f.lost)
	}
	r.sd = math.Sqrt(variance)
	return r
}
