package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// checkpointRow: a native worker's wall time for a job of 4 tasks on 2
// slots with checkpoints at the grid the coordinator's policy picks (the
// churn optimum for a mean session of 20 s and the δ workers reported on a
// first job) against the same job on a worker started with NoCheckpoints,
// alternating which goes first (internal/worker BenchmarkCheckpointOverhead,
// factor/tau=20s). Unpinned: the worker's 2 slots use both cores.
func (b *bench) checkpointRow(ctx context.Context) error {
	stdin := "1000000000000000003\n" // a prime: ≈ 1.8 s a task on an idle core
	if b.opts.quick {
		stdin = "1000000007\n"
	}
	tau := 20 * time.Second
	db, err := sqlite.Open(ctx, filepath.Join(b.opts.tmp, "ckpt.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	// No API rate limits: this harness polls the job every 5 ms.
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, SessionPrior: checkpoint.Prior{Mean: tau, Weight: 1e6},
		OwnerRate: coordinator.Rate{PerSecond: -1}, IPRate: coordinator.Rate{PerSecond: -1}})
	if err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		return err
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	defer srv.CloseClientConnections()
	if _, err := db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "bench", Hash: coordinator.HashToken("t"), Now: time.Now()}); err != nil {
		return err
	}
	bin, err := os.ReadFile(filepath.Join(b.opts.root, "examples", "factor.wasm"))
	if err != nil {
		return err
	}
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	cl := &api.Client{Server: srv.URL, Token: "t"}
	n := 0
	task := api.TaskSpec{Stdin: []byte(stdin)}
	var jobCPU time.Duration // the process's CPU time in the last job
	job := func(noCk bool) (time.Duration, *api.Job, error) {
		n++
		cpu0 := cpuTime()
		w, err := worker.New(worker.Config{Server: srv.URL, Name: fmt.Sprintf("w%d", n), Slots: 2, Engine: eng, NoCheckpoints: noCk})
		if err != nil {
			return 0, nil, err
		}
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { w.Run(wctx) })
		defer func() { cancel(); wg.Wait() }()
		start := time.Now()
		j, err := cl.Submit(ctx, &api.SubmitRequest{Module: bin, Tasks: []api.TaskSpec{task, task, task, task}, MaxError: 1,
			// A generous wall-clock backstop: on the loaded machine a 1.8 s
			// task can take minutes.
			Limits: api.Limits{MemoryBytes: 256 << 20, TimeoutMS: 30 * 60 * 1000}})
		if err != nil {
			return 0, nil, err
		}
		for {
			if j, err = cl.Job(ctx, j.ID); err != nil {
				return 0, nil, err
			}
			if j.State != "running" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		jobCPU = cpuTime() - cpu0
		if j.State != "done" || j.Tasks.Done != 4 {
			return 0, nil, fmt.Errorf("job ended %s with %d tasks done", j.State, j.Tasks.Done)
		}
		err = cl.Results(ctx, j.ID, 0, false, func(r *api.TaskResult) error {
			if r.Status != "ok" {
				return fmt.Errorf("task %d: %s %s", r.TaskIndex, r.Status, r.Message)
			}
			return nil
		})
		return took, j, err
	}
	if _, _, err := job(false); err != nil { // the policy learns the fuel rate and δ; the module is compiled
		return err
	}
	var with, without, withCPU, withoutCPU []float64
	var last *api.Job
	for i := 0; i < b.opts.runs; i++ {
		for _, noCk := range [][2]bool{{false, true}, {true, false}}[i%2] {
			d, j, err := job(noCk)
			if err != nil {
				return err
			}
			fmt.Fprintf(b.opts.log, "   job %d, checkpoints %v: %.2f s, %.2f s CPU (load %s)\n", n, !noCk, d.Seconds(), jobCPU.Seconds(), loadavg())
			if noCk {
				without, withoutCPU = append(without, ms(d)), append(withoutCPU, ms(jobCPU))
			} else {
				with, withCPU, last = append(with, ms(d)), append(withCPU, ms(jobCPU)), j
			}
		}
	}
	// The goal is judged on CPU time (coordinator, worker and guests, one
	// process): on a machine shared with other work, consecutive jobs'
	// wall times differ by tens of percent whatever they run
	// (docs/worker-speed.md), the CPU they cost much less.
	r := median(withCPU) / median(withoutCPU)
	wall := median(with) / median(without)
	p := last.Checkpointing.Policy
	b.add("native worker, job with checkpoints at the churn optimum / --no-checkpoints (factor, 4 tasks, 2 slots, τ = 20 s), CPU time",
		fmt.Sprintf("%.3f× CPU (%.2f s / %.2f s; wall %.3f×: %.2f s / %.2f s; grid %.2f s, δ %.0f ms, %.1f checkpoints a task)", r,
			median(withCPU)/1000, median(withoutCPU)/1000, wall, median(with)/1000, median(without)/1000,
			p.IntervalSeconds, p.DeltaSeconds*1000, float64(last.Checkpointing.Checkpoints)/4),
		"≤ 1.05×", metLE(r, 1.05))
	return nil
}

// restoreRows: a native worker's whole path to resume a checkpoint of
// examples/bigstate.c with 64 MiB of heap (internal/sandbox
// BenchmarkRestoreGuest64MiB): check the file's SHA-256 while decoding it
// from memory (inflate, hash every page, check the state hash), then
// instantiate, grow and fill memory, rewind and run until the guest runs
// again. Wall time (unpinned: decoding and filling use every core) and
// CPU time, medians; raw and deflate (as the coordinator stores it).
func (b *bench) restoreRows(ctx context.Context) error {
	mib := 64
	if b.opts.quick {
		mib = 4
	}
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	bin, err := os.ReadFile(filepath.Join(b.opts.root, "examples", "bigstate.wasm"))
	if err != nil {
		return err
	}
	m, err := eng.CompileSuspendable(ctx, bin, instrument.DefaultOptions())
	if err != nil {
		return err
	}
	if !m.Suspendable() {
		return fmt.Errorf("bigstate is not suspendable")
	}
	args := []string{"bigstate", strconv.Itoa(mib), "100", "16"}
	threshold := uint64(50_000_000) * uint64(mib) / 64 // after the heap is filled
	files := map[bool][]byte{}
	rep := eng.Run(ctx, m, sandbox.Input{Args: args, Stdout: io.Discard, Stderr: io.Discard,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			if cp.Snapshot.Fuel < threshold || len(files) > 0 {
				return nil
			}
			for _, compress := range []bool{false, true} {
				var buf bytes.Buffer
				if err := snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{Compress: compress}); err != nil {
					return err
				}
				files[compress] = buf.Bytes()
			}
			return nil
		}}, sandbox.Limits{CheckpointEvery: 466_000})
	if rep.Status != sandbox.StatusOK || len(files) != 2 {
		return fmt.Errorf("bigstate: %s %s (%d snapshots)", rep.Status, rep.Message, len(files))
	}
	for _, compress := range []bool{false, true} {
		file := files[compress]
		var walls, cpus, decodes, resumes []float64
		for i := 0; i < b.opts.runs; i++ {
			c0 := cpuTime()
			start := time.Now()
			var sum [32]byte
			var hashed sync.WaitGroup
			hashed.Go(func() { sum = sha256.Sum256(file) })
			s, _, err := snapshot.DefaultLimits.DecodeBytes(file)
			hashed.Wait()
			if err != nil || sum == [32]byte{} {
				return fmt.Errorf("decode: %v", err)
			}
			decode := time.Since(start)
			t1 := time.Now()
			res := eng.Run(ctx, m, sandbox.Input{Args: args, Stdout: io.Discard, Stderr: io.Discard, Resume: s}, sandbox.Limits{Fuel: s.Fuel + 1})
			resume := time.Since(t1)
			if res.Status != sandbox.StatusFuelExhausted {
				return fmt.Errorf("resume: %s %s", res.Status, res.Message)
			}
			walls, cpus = append(walls, ms(time.Since(start))), append(cpus, ms(cpuTime()-c0))
			decodes, resumes = append(decodes, ms(decode)), append(resumes, ms(resume))
		}
		name := "raw"
		if compress {
			name = "deflate, as stored"
		}
		w := median(walls)
		b.add(fmt.Sprintf("restoring a %d MiB snapshot in a native worker, %s (%.1f MB file)", mib, name, float64(len(file))/1e6),
			fmt.Sprintf("%.0f ms wall (decode %.0f + resume %.0f; %.0f ms CPU)", w, median(decodes), median(resumes), median(cpus)),
			"≤ 100 ms", metLE(w, 100))
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// compileResult is the compile child's answer.
type compileResult struct {
	Cold, Disk, Memory []float64 // ms, wall: until a task can run (the lite variant)
	ColdFull, DiskFull []float64 // ms, wall: until the full module (rewind twins) is compiled too
	ColdCPU            []float64 // ms, CPU (the child's, all threads) until then
	Bytes, Orig, Lite  int
	Workers            int // goroutines compiling (the cores the child may use)
}

// compileChild (pinned) compiles the suspendable rewrite of a module as a
// worker receives it (internal/sandbox BenchmarkCompileGoGuest): cold (a
// fresh engine on an empty compile cache), disk (a fresh engine on the
// cache another filled: a new worker process) and memory (the same engine
// again: the next task of the worker). coldOnly: the cold runs only.
func compileChild(arg string, coldOnly bool) error {
	path, runsS, _ := stringsCut(arg, " ")
	runs, err := strconv.Atoi(runsS)
	if err != nil {
		return err
	}
	ctx := context.Background()
	orig, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	bin, _, err := sandbox.Prepare(orig, instrument.DefaultOptions(), true)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "crowdrun-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	res := compileResult{Bytes: len(bin), Orig: len(orig)}
	// compile returns the wall time until CompileInstrumented returns (a
	// task can start: in the lite variant, sandbox "Compiling the twins
	// lazily") and until the full module is compiled (in the background).
	compile := func(dir string, e *sandbox.Engine) (float64, float64, *sandbox.Engine, error) {
		if e == nil {
			if e, err = sandbox.NewEngineWith(ctx, sandbox.EngineConfig{CacheDir: dir}); err != nil {
				return 0, 0, nil, err
			}
		}
		t0 := time.Now()
		m, err := e.CompileInstrumented(ctx, bin)
		d := ms(time.Since(t0))
		if err == nil && !m.Suspendable() {
			err = fmt.Errorf("not suspendable")
		}
		if err != nil {
			return 0, 0, e, err
		}
		if err := e.Rewindable(ctx, m); err != nil {
			return 0, 0, e, err
		}
		return d, ms(time.Since(t0)), e, nil
	}
	if lite, ok := sandbox.LiteOf(bin); ok {
		res.Lite = len(lite)
	}
	var filled string
	for i := 0; i < runs; i++ {
		dir := filepath.Join(tmp, strconv.Itoa(i))
		c0 := cpuTime()
		d, full, e, err := compile(dir, nil)
		if err != nil {
			return err
		}
		res.ColdCPU = append(res.ColdCPU, ms(cpuTime()-c0))
		e.Close(ctx)
		res.Cold, res.ColdFull, filled = append(res.Cold, d), append(res.ColdFull, full), dir
	}
	res.Workers = runtime.GOMAXPROCS(0) // sandbox.EngineConfig.CompileWorkers' default
	for i := 0; i < runs && !coldOnly; i++ {
		d, full, e, err := compile(filled, nil)
		if err != nil {
			return err
		}
		res.Disk, res.DiskFull = append(res.Disk, d), append(res.DiskFull, full)
		d, _, _, err = compile(filled, e)
		e.Close(ctx)
		if err != nil {
			return err
		}
		res.Memory = append(res.Memory, d)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func stringsCut(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- { // the last sep: paths may hold spaces
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func (b *bench) compileRows(ctx context.Context) error {
	guest, label := filepath.Join(b.opts.root, "examples", "kernels", "gokernel.wasm"), "the Go guest (gokernel, wasip1)"
	if b.opts.quick {
		guest, label = filepath.Join(b.opts.root, "examples", "kernels", "sort.wasm"), "quick: sort.wasm standing in for the Go guest"
	}
	out, err := b.selfChild(ctx, fmt.Sprintf("compile %s %d", guest, b.opts.runs))
	if err != nil {
		return err
	}
	var r compileResult
	if err := json.Unmarshal(out, &r); err != nil {
		return err
	}
	// The same cold compile unpinned: wazero compiles functions on every
	// core the process may use (informational: the goal is pinned).
	var all compileResult
	if b.opts.cpu >= 0 && runtime.NumCPU() > 1 {
		out, err := b.child(ctx, fmt.Sprintf("compile-cold %s %d", guest, b.opts.runs), false)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &all); err != nil {
			return err
		}
	}
	cold, coldFull := median(r.Cold)/1000, median(r.ColdFull)/1000
	b.add(fmt.Sprintf("compiling %s, suspendable (%.1f → %.1f MB), in wazero, cold: a machine's first worker, until its first task runs (the lite variant without rewind twins, %.1f MB)", label, float64(r.Orig)/1e6, float64(r.Bytes)/1e6, float64(r.Lite)/1e6),
		fmt.Sprintf("%.1f s wall, pinned", cold), "≤ 5 s", metLE(cold, 5))
	b.add("the same, until the whole suspendable module is compiled (in the background; a run waits for it at its first checkpoint)",
		fmt.Sprintf("%.1f s wall, pinned (%.1f s CPU for both)", coldFull, median(r.ColdCPU)/1000), "≤ 5 s", metLE(coldFull, 5))
	if all.Workers > 1 {
		b.add(fmt.Sprintf("(the same two, unpinned: wazero compiles on the %d cores the process may use)", all.Workers),
			fmt.Sprintf("%.1f s / %.1f s wall (%.1f s CPU)", median(all.Cold)/1000, median(all.ColdFull)/1000, median(all.ColdCPU)/1000), "(informational)", "—")
	}
	disk, mem := median(r.Disk)/1000, median(r.Memory)
	b.add("the same, a later worker process (compile cache on disk)", fmt.Sprintf("%.2f s (whole module %.2f s)", disk, median(r.DiskFull)/1000), "≤ 5 s", metLE(median(r.DiskFull)/1000, 5))
	// Once per worker: the next task of the same worker finds the module
	// compiled; "met" if that costs under 1% of the cold compile.
	b.add("the same, the worker's next task (once per worker, not per task)", fmt.Sprintf("%.1f ms", mem), "once per worker", metLE(mem/1000, cold/100))
	return nil
}

// buildTools builds crowdrun and crowdrun-load once.
func (b *bench) buildTools(ctx context.Context) (crowdrun, load string, err error) {
	if b.tools[0] != "" {
		return b.tools[0], b.tools[1], nil
	}
	dir := filepath.Join(b.opts.tmp, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/crowdrun", "./cmd/crowdrun-load")
	cmd.Dir = b.opts.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %v: %s", err, out)
	}
	b.tools = [2]string{filepath.Join(dir, "crowdrun"), filepath.Join(dir, "crowdrun-load")}
	return b.tools[0], b.tools[1], nil
}

func (b *bench) load(ctx context.Context, args ...string) (string, error) {
	crowdrun, load, err := b.buildTools(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, load, append([]string{"-crowdrun", crowdrun}, args...)...)
	cmd.Dir = b.opts.root
	if b.opts.prof != "" { // the coordinator's (crowdrun serve's) profile
		cmd.Env = append(os.Environ(), "CROWDRUN_CPUPROFILE="+filepath.Join(b.opts.prof, "coordinator-"+strings.Join(args, "")+"-%d.pprof"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if b.opts.verbose {
		b.opts.log.Write(out)
	}
	if err != nil {
		return "", fmt.Errorf("crowdrun-load %v: %v: %s", args, err, firstLine(stderr.String()))
	}
	return string(out), nil
}

var tasksRate = regexp.MustCompile(`tasks done in \S+ = (\d+) tasks/s`)

// tasksRows: crowdrun-load tasks (a job of tiny echo tasks, SQLite, one
// coordinator; 4 workers × 8 slots in the load tool's process), with fake
// workers (no sandbox run) and real ones; medians of -runs runs.
func (b *bench) tasksRows(ctx context.Context) error {
	n := "20000"
	if b.opts.quick {
		n = "300"
	}
	for _, fake := range []bool{false, true} {
		var rates []float64
		for i := 0; i < b.opts.runs; i++ {
			args := []string{"tasks", "-tasks", n}
			if fake {
				args = append(args, "-fake")
			}
			out, err := b.load(ctx, args...)
			if err != nil {
				return err
			}
			m := tasksRate.FindStringSubmatch(out)
			if m == nil {
				return fmt.Errorf("no rate in crowdrun-load's output: %s", out)
			}
			v, _ := strconv.ParseFloat(m[1], 64)
			rates = append(rates, v)
		}
		r := median(rates)
		if fake {
			b.add(fmt.Sprintf("coordinator, %s tiny tasks end to end, fake workers (crowdrun-load tasks -fake), 2 cores", n), fmt.Sprintf("%.0f tasks/s", r), "≥ 15,000/s", metGE(r, 15000))
		} else {
			b.add(fmt.Sprintf("coordinator, %s tiny tasks end to end, real workers (crowdrun-load tasks), 2 cores", n), fmt.Sprintf("%.0f tasks/s", r), "≥ 5,000/s", metGE(r, 5000))
		}
	}
	return nil
}

// crowdrun-load idle's figures: connections up and the time they took,
// sessions the coordinator holds when it measures, its RSS.
var (
	idleUpRe   = regexp.MustCompile(`idle: (\d+) connections up in (\S+)`)
	idleOpenRe = regexp.MustCompile(`idle: \d+ connections, (\d+) sessions open per the coordinator`)
	idleRSSRe  = regexp.MustCompile(`coordinator RSS ([\d.]+) MiB \(([\d.]+) MiB before\): ([\d.]+) KiB per connection`)
)

// idleRow: crowdrun-load idle. Every connection costs the load tool and the
// coordinator one file descriptor each, and one of the loopback's ephemeral
// ports: the number asked for is capped to what this machine allows.
func (b *bench) idleRow(ctx context.Context) error {
	want := b.opts.conns
	if b.opts.quick {
		want = 200
	}
	n, why := idleCap(want)
	out, err := b.load(ctx, "idle", "-conns", strconv.Itoa(n))
	if err != nil {
		return err
	}
	mu, mo, mr := idleUpRe.FindStringSubmatch(out), idleOpenRe.FindStringSubmatch(out), idleRSSRe.FindStringSubmatch(out)
	if mu == nil || mo == nil || mr == nil {
		return fmt.Errorf("no figures in crowdrun-load's output: %s", out)
	}
	up, _ := strconv.Atoi(mo[1]) // sessions the coordinator held when measured
	kib, _ := strconv.ParseFloat(mr[3], 64)
	note := ""
	if n < want {
		note = fmt.Sprintf("; %d asked for, capped: %s", want, why)
	}
	met := "no"
	if up >= 100000 && kib <= 16 {
		met = "yes"
	} else if kib <= 16 {
		met = "per connection: yes; 100,000: not measured"
	}
	b.add("idle worker connections (crowdrun-load idle)", fmt.Sprintf("%d open (%s up in %s), %s KiB each (coordinator RSS %s MiB)%s", up, mu[1], mu[2], mr[3], mr[1], note),
		"100,000 at ≤ 16 KiB each", met)
	return nil
}

// idleCap raises this process's open-file limit as far as it may (the
// children inherit it) and returns how many connections the machine can
// hold: one descriptor in each process, one ephemeral port each.
func idleCap(want int) (int, string) {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	for _, n := range []uint64{1 << 18, lim.Max} {
		if n <= lim.Cur {
			break
		}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: max(n, lim.Max)}) == nil {
			break
		}
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	n, why := want, ""
	if c := int(lim.Cur) - 1000; c < n {
		n, why = c, fmt.Sprintf("open files limited to %d per process", lim.Cur)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil {
			if c := hi - lo + 1 - 3000; c < n {
				n, why = c, fmt.Sprintf("the loopback has %d ephemeral ports (ip_local_port_range %d-%d) for one client address and server port", hi-lo+1, lo, hi)
			}
		}
	}
	return max(n, 1), why
}
