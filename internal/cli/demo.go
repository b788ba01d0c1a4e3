package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/crowdrun/crowdrun/examples"
	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func (m *Main) demoCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("demo", "[--tasks N] [--workers N] [flags]")
	nTasks := fs.Int("tasks", 300, "`N` integers to factor, one task each")
	nWorkers := fs.Int("workers", 4, "`N` native worker processes")
	seed := fs.Uint64("seed", 1, "seed `N` of the random integers and of the chaos")
	module := fs.String("module", "", "the factoring `MODULE` (default: examples/factor.wasm, built into crowdrun)")
	replicas := fs.Int("replicas", 1, "`N` replicas per task")
	maxError := fs.Float64("max-error", 1e-6, "the job's highest acceptable probability `P` that an accepted result is wrong (1: accept unchecked)")
	chaos := fs.Bool("chaos", true, "SIGKILL and restart workers at random while the job runs")
	verify := fs.Int("verify", 30, "re-run `N` tasks locally and compare (0: all)")
	keep := fs.Bool("keep", false, "keep the temporary store and logs")
	stay := fs.Bool("stay", false, "keep the coordinator up after the job, until interrupted (Ctrl-C), to look at its dashboard, /leaderboard and the volunteer pages")
	storeURL := fs.String("store", os.Getenv(envStore), "run the coordinator on the PostgreSQL database at this `URL` (default $"+envStore+"), instead of SQLite in a temporary directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("demo takes no arguments")
	}
	if *nTasks < 1 || *nWorkers < 1 || *replicas < 1 || *replicas > *nWorkers {
		return usageError("--tasks and --workers must be positive, and --replicas at most --workers")
	}
	if !(*maxError > 0 && *maxError <= 1) {
		return usageError("--max-error must be in (0, 1]")
	}
	if *nWorkers < 2 && *maxError < 1 {
		return usageError("verifying results takes at least two workers (each its own account, one checking the other): use --workers 2 or more, or --max-error 1 to accept results unchecked")
	}
	if err := checkStoreURL(*storeURL); err != nil {
		return err
	}
	wasm := examples.Factor
	if *module != "" {
		var err error
		if wasm, err = os.ReadFile(*module); err != nil {
			return usageError("%v", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "crowdrun-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(m.Stdout, "store and logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	started := time.Now()

	// The coordinator: in this process, on a fresh SQLite store (or the
	// PostgreSQL database given).
	db, err := openTokenStore(ctx, dir, *storeURL, true)
	if err != nil {
		return err
	}
	token, err := createToken(ctx, db, store.TokenOwner, "demo", "demo")
	db.Close()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "coordinator.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	sctx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	urlc := make(chan string, 1)
	serveErr := make(chan error, 1)
	go func() {
		// A short session prior: the demo's workers live seconds, not the
		// minutes the default prior assumes, and the estimate starts there.
		serveErr <- serve(sctx, &Main{Stdout: io.Discard, Stderr: logf}, serveOptions{addr: "127.0.0.1:0", data: dir, storeURL: *storeURL, maxRequest: 64 << 20,
			log: slog.New(slog.NewTextHandler(logf, nil)), ready: func(u string) { urlc <- u }, operators: []string{"demo"},
			sessionPrior: checkpoint.Prior{Mean: 2 * time.Second, Weight: checkpoint.DefaultPrior.Weight}})
	}()
	var url string
	select {
	case url = <-urlc:
	case err := <-serveErr:
		return fmt.Errorf("starting the coordinator: %w", err)
	}
	defer func() { stopServe(); <-serveErr }()
	where := "SQLite store in a temporary directory"
	if *storeURL != "" {
		where = "PostgreSQL store " + postgres.Redact(*storeURL)
	}
	fmt.Fprintf(m.Stdout, "coordinator on %s (%s)\n", url, where)
	fmt.Fprintf(m.Stdout, "leaderboard (live): %s/leaderboard\n", url)

	// The workers: real processes of this binary.
	fleet := &fleet{exe: exe, url: url, dir: dir}
	for i := 1; i <= *nWorkers; i++ {
		if err := fleet.start(fmt.Sprintf("worker-%d", i)); err != nil {
			return err
		}
	}
	defer fleet.stopAll()
	fmt.Fprintf(m.Stdout, "%d native workers started (crowdrun worker --slots 1)\n", *nWorkers)

	// The job: one integer per task, some up to 10^15 so tasks take visibly
	// different times.
	rng := rand.New(rand.NewPCG(*seed, 0x63726f7764))
	nums := make([]uint64, *nTasks)
	req := &api.SubmitRequest{Name: "factor demo", Module: wasm, Replicas: *replicas, MaxError: *maxError}
	for i := range nums {
		switch r := rng.IntN(10); {
		case r < 5:
			nums[i] = 2 + rng.Uint64N(1e9)
		case r < 8:
			nums[i] = 2 + rng.Uint64N(1e15)
		case r < 9 && i%4 == 0:
			// A prime near 10^16: a second of trial division, long enough
			// to be checkpointed and, when its worker is killed, resumed.
			nums[i] = nextPrime(1e16 + rng.Uint64N(2e16))
		case r < 9:
			nums[i] = nextPrime(1e14 + rng.Uint64N(9e14)) // trial division all the way to √n
		default:
			// Two primes of 7 to 8 digits: the smaller bounds the work.
			nums[i] = nextPrime(1e6+rng.Uint64N(2e7)) * nextPrime(1e7+rng.Uint64N(2e7))
		}
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(strconv.FormatUint(nums[i], 10) + "\n")})
	}
	c := &api.Client{Server: url, Token: token}
	job, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "job %d: factor %d random integers up to 3·10^16 (some prime, some products of two large primes), %d replica(s) each\n", job.ID, *nTasks, *replicas)
	// The token is the demo's own, for a store that lives as long as the demo.
	fmt.Fprintf(m.Stdout, "dashboard: %s/dashboard#/jobs/%d (sign in with the demo's API token %s)\n\n", url, job.ID, token)

	// Chaos: kill a random worker now and then, restart it shortly after.
	var kills int
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var chaosWG sync.WaitGroup
	if *chaos {
		crng := rand.New(rand.NewPCG(*seed, 0xc4a05))
		chaosWG.Add(1)
		go func() {
			defer chaosWG.Done()
			for {
				select {
				case <-time.After(time.Duration(500+crng.IntN(1000)) * time.Millisecond):
				case <-chaosCtx.Done():
					return
				}
				name := fmt.Sprintf("worker-%d", 1+crng.IntN(*nWorkers))
				if fleet.kill(name) {
					kills++
					select {
					case <-time.After(time.Duration(100+crng.IntN(400)) * time.Millisecond):
					case <-chaosCtx.Done():
					}
					fleet.start(name)
				}
			}
		}()
	}

	// Progress.
	p := newProgress()
	tty := isTerminal(m.Stdout)
	var final *api.Job
	for {
		j, err := c.Job(ctx, job.ID)
		if err != nil {
			stopChaos()
			chaosWG.Wait()
			return err
		}
		rate, eta := p.observe(j)
		line := progressLine(j, rate, eta, 30) + fmt.Sprintf(" · %d workers killed", fleet.killed())
		if ck := j.Checkpointing; ck != nil {
			line += fmt.Sprintf(" · %d checkpoints · %d resumed", ck.Checkpoints, ck.Resumes)
		}
		if tty {
			fmt.Fprintf(m.Stdout, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(m.Stdout, line)
		}
		if j.State != "running" {
			final = j
			break
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			stopChaos()
			chaosWG.Wait()
			fmt.Fprintln(m.Stdout)
			return ctx.Err()
		}
	}
	stopChaos()
	chaosWG.Wait()
	if tty {
		fmt.Fprintln(m.Stdout)
	}
	elapsed := time.Since(started)

	// Results: every task exactly once, every factorisation correct.
	got := map[int]*api.TaskResult{}
	err = c.Results(ctx, job.ID, 0, false, func(r *api.TaskResult) error {
		if _, dup := got[r.TaskIndex]; dup {
			return fmt.Errorf("task %d appears twice in the results", r.TaskIndex)
		}
		got[r.TaskIndex] = r
		return nil
	})
	if err != nil {
		return err
	}
	var problems []string
	for i, n := range nums {
		r, ok := got[i]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("task %d (%d): no result", i, n))
		case r.State != "done" || r.Status != "ok":
			problems = append(problems, fmt.Sprintf("task %d (%d): %s %s %s", i, n, r.State, r.Status, r.Message))
		default:
			if err := checkFactors(n, string(r.Stdout)); err != nil {
				problems = append(problems, fmt.Sprintf("task %d: %v", i, err))
			}
		}
	}
	// Compare a sample with a local run of the same module and input.
	sample := *verify
	if sample <= 0 || sample > len(nums) {
		sample = len(nums)
	}
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close(context.WithoutCancel(ctx))
	// The module exactly as the coordinator stored and shipped it.
	stored, err := fetchModule(ctx, url, final.ModuleHash)
	if err != nil {
		return err
	}
	mod, err := eng.CompileInstrumented(ctx, stored)
	if err != nil {
		return err
	}
	idx := rng.Perm(len(nums))[:sample]
	mismatches := 0
	for _, i := range idx {
		var out strings.Builder
		rep := eng.Run(ctx, mod, sandbox.Input{Args: []string{worker.Argv0}, Stdin: strings.NewReader(strconv.FormatUint(nums[i], 10) + "\n"), Stdout: &out, Stderr: io.Discard},
			sandbox.Limits{MemoryBytes: final.Limits.MemoryBytes, MaxOutput: int64(final.Limits.MaxOutput)})
		if r := got[i]; r == nil || out.String() != string(r.Stdout) || string(rep.Status) != r.Status || rep.Fuel != r.Fuel {
			mismatches++
			problems = append(problems, fmt.Sprintf("task %d: differs from a local run", i))
		}
	}

	// Summary.
	fmt.Fprintf(m.Stdout, "\njob %d %s in %s: %d/%d tasks done, %d workers killed and restarted along the way\n",
		final.ID, final.State, elapsed.Round(100*time.Millisecond), final.Tasks.Done, final.Tasks.Total, fleet.killed())
	if ck := final.Checkpointing; ck != nil {
		fmt.Fprintln(m.Stdout, checkpointLine(ck))
		fmt.Fprintln(m.Stdout, policyLine(&ck.Policy))
	}
	fmt.Fprintln(m.Stdout, trustLine(&final.Trust))
	show := make([]int, len(nums)) // the five largest
	for i := range show {
		show[i] = i
	}
	sort.Slice(show, func(a, b int) bool { return nums[show[a]] > nums[show[b]] })
	show = show[:min(5, len(show))]
	for _, i := range show {
		if r := got[i]; r != nil {
			fmt.Fprintf(m.Stdout, "  task %3d  %s", i, r.Stdout)
		}
	}
	fmt.Fprintf(m.Stdout, "checked: %d results, each exactly once, every factorisation multiplied back; %d compared with a local run: %d differ\n",
		len(got), sample, mismatches)
	ws, err := c.Workers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tsessions\ttasks\tfuel\t")
	var tasks int
	var fuel uint64
	for _, w := range ws {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", w.Name, w.Sessions, w.Tasks, w.Fuel)
		tasks += w.Tasks
		fuel += w.Fuel
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t\n", tasks, fuel)
	tw.Flush()
	// Credit is the fuel of verified links only (docs/trust.md §8): what
	// the leaderboard at /leaderboard shows.
	cr, err := c.Credit(ctx, "", "")
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "account\tverified links\tcredit (fuel)\t")
	for _, a := range cr.Accounts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", a.Account, a.Verified, a.Total)
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "leaderboard: %s/leaderboard", url)
	if len(cr.Accounts) > 0 {
		fmt.Fprintf(m.Stdout, "; the first account's page: %s/volunteer/%s", url, neturl.PathEscape(cr.Accounts[0].Account))
	}
	fmt.Fprintln(m.Stdout)
	if len(problems) > 0 {
		for _, p := range problems[:min(10, len(problems))] {
			fmt.Fprintln(m.Stderr, "  "+p)
		}
		return fmt.Errorf("%d problems found", len(problems))
	}
	if *stay {
		fmt.Fprintf(m.Stdout, "the coordinator stays up (--stay): dashboard %s/dashboard#/jobs/%d (token %s); Ctrl-C ends the demo\n", url, job.ID, token)
		<-ctx.Done()
	}
	return nil
}

func fetchModule(ctx context.Context, server, hash string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/v1/modules/"+hash, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching module %s: %s", hash, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// nextPrime returns the least prime ≥ n (Baillie-PSW, exact below 2^64).
func nextPrime(n uint64) uint64 {
	for ; ; n++ {
		if new(big.Int).SetUint64(n).ProbablyPrime(0) {
			return n
		}
	}
}

// checkFactors checks a line "N: p1 p2 ..." against n: the factors multiply
// back to n and are ascending (primality is left to the local comparison).
func checkFactors(n uint64, line string) error {
	head, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok || head != strconv.FormatUint(n, 10) {
		return fmt.Errorf("output %q is not for %d", line, n)
	}
	prod, prev := uint64(1), uint64(0)
	for _, f := range strings.Fields(rest) {
		p, err := strconv.ParseUint(f, 10, 64)
		if err != nil || p < prev || p < 2 {
			return fmt.Errorf("output %q: bad factor %q", line, f)
		}
		prod *= p
		prev = p
	}
	if n >= 2 && prod != n {
		return fmt.Errorf("output %q: factors multiply to %d", line, prod)
	}
	return nil
}

// fleet owns the demo's worker processes: each has one goroutine waiting
// for it to exit.
type fleet struct {
	exe, url, dir string

	mu     sync.Mutex
	procs  map[string]*workerProc
	kills  int
	waitWG sync.WaitGroup
}

type workerProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func (f *fleet) start(name string) error {
	logf, err := os.OpenFile(filepath.Join(f.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(f.exe, "worker", "--server", f.url, "--name", name, "--slots", "1", "--grace", "2s")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &workerProc{cmd: cmd, exited: make(chan struct{})}
	f.mu.Lock()
	if f.procs == nil {
		f.procs = map[string]*workerProc{}
	}
	f.procs[name] = p
	f.mu.Unlock()
	f.waitWG.Add(1)
	go func() {
		defer f.waitWG.Done()
		cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return nil
}

// kill SIGKILLs a worker and waits until it is gone.
func (f *fleet) kill(name string) bool {
	f.mu.Lock()
	p := f.procs[name]
	delete(f.procs, name)
	f.mu.Unlock()
	if p == nil {
		return false
	}
	p.cmd.Process.Kill()
	<-p.exited
	f.mu.Lock()
	f.kills++
	f.mu.Unlock()
	return true
}

func (f *fleet) killed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kills
}

// stopAll asks every worker to stop (SIGTERM: graceful) and waits; one that
// does not stop within 5s is killed.
func (f *fleet) stopAll() {
	f.mu.Lock()
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	f.waitWG.Wait()
}
