package worker_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// BenchmarkCheckpointOverhead is a native worker's wall time for a job of 4
// tasks of about 1.8 s on 2 slots, with checkpoints at the grid the
// coordinator's policy chooses (the churn optimum T* for a mean session τ
// and the checkpoint cost δ workers report, learnt on a first job) against
// the same job on a worker started with NoCheckpoints (--no-checkpoints:
// the same suspendable module, run whole). It reports the ratio of the two
// (goal ≤ 1.05), measured side by side, and the grid, checkpoints and
// progress ticks per task. Guests: factor (a few pages of state) and
// bigstate (64 MiB, 16 pages written per round). Run with -benchtime 1x.
func BenchmarkCheckpointOverhead(b *testing.B) {
	guests := []struct {
		name, module string
		task         api.TaskSpec
	}{
		{"factor", "factor.wasm", api.TaskSpec{Stdin: []byte("1000000000000000003\n")}},
		{"bigstate64", "bigstate.wasm", api.TaskSpec{Args: []string{"64", "5000", "16"}}},
	}
	for _, g := range guests {
		for _, tau := range []time.Duration{5 * time.Minute, 20 * time.Second} {
			b.Run(fmt.Sprintf("%s/tau=%v", g.name, tau), func(b *testing.B) {
				benchCheckpointOverhead(b, g.module, g.task, tau)
			})
		}
	}
}

func benchCheckpointOverhead(b *testing.B, module string, task api.TaskSpec, tau time.Duration) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, SessionPrior: checkpoint.Prior{Mean: tau, Weight: 1e6}})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	defer srv.CloseClientConnections()
	db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "a", Hash: coordinator.HashToken("t"), Now: time.Now()})
	bin, err := os.ReadFile(filepath.Join("..", "..", "examples", module))
	if err != nil {
		b.Fatal(err)
	}
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	cl := &api.Client{Server: srv.URL, Token: "t"}
	n := 0
	var lastCPU time.Duration // the process's CPU time (coordinator, worker, guests) in the last job
	job := func(noCk bool) (time.Duration, *api.Job) {
		n++
		cpu0 := processCPU()
		w, err := worker.New(worker.Config{Server: srv.URL, Name: fmt.Sprintf("w%d", n), Slots: 2, Engine: eng, NoCheckpoints: noCk})
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { w.Run(wctx) })
		defer func() { cancel(); wg.Wait() }()
		start := time.Now()
		j, err := cl.Submit(ctx, &api.SubmitRequest{Module: bin, Tasks: []api.TaskSpec{task, task, task, task}, MaxError: 1,
			Limits: api.Limits{MemoryBytes: 256 << 20}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if j, err = cl.Job(ctx, j.ID); err != nil {
				b.Fatal(err)
			}
			if j.State != "running" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		lastCPU = processCPU() - cpu0
		if j.State != "done" || j.Tasks.Done != 4 {
			b.Fatalf("job %+v", j)
		}
		err = cl.Results(ctx, j.ID, 0, false, func(r *api.TaskResult) error {
			if r.Status != "ok" {
				return fmt.Errorf("task %d: %s %s", r.TaskIndex, r.Status, r.Message)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return took, j
	}
	job(false) // the policy learns the fuel rate and δ; the module is compiled
	var with, without, withCPU, withoutCPU time.Duration
	var last *api.Job
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first: the machine's load drifts.
		if i%2 == 0 {
			d, j := job(false)
			with, withCPU, last = with+d, withCPU+lastCPU, j
			d, _ = job(true)
			without, withoutCPU = without+d, withoutCPU+lastCPU
		} else {
			d, _ := job(true)
			without, withoutCPU = without+d, withoutCPU+lastCPU
			d, j := job(false)
			with, withCPU, last = with+d, withCPU+lastCPU, j
		}
	}
	// On a machine shared with other work the wall times measure the
	// share of the cores this process got as much as the job; the CPU
	// time it spent does not depend on that.
	b.ReportMetric(float64(withCPU)/float64(withoutCPU), "cpu-ratio")
	p := last.Checkpointing.Policy
	b.ReportMetric(float64(with)/float64(without), "ratio")
	b.ReportMetric(float64(with.Milliseconds())/float64(b.N), "with-ms")
	b.ReportMetric(float64(without.Milliseconds())/float64(b.N), "without-ms")
	b.ReportMetric(float64(last.Checkpointing.Checkpoints)/4, "ckpt/task")
	b.ReportMetric(p.IntervalSeconds, "grid-s")
	b.ReportMetric(p.DeltaSeconds*1000, "delta-ms")
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
