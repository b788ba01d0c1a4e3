// Package chaos is crowdrun's chaos harness: a job of thousands of tasks
// with checkpoints, run by native and Node worker processes through a
// loopback proxy that drops, delays and stalls their connections, while
// the harness SIGKILLs workers and coordinators on a seeded schedule and
// fills the store to its size limit. At the end it checks, from the store
// and the results API, that every task finished exactly once with the
// result an uninterrupted run gives, and that credit adds up
// (docs/chaos.md). `crowdrun-load chaos` runs it at full size; the tests
// of this package run a short version.
package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgscript"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Config is one chaos run.
type Config struct {
	Bin        string // the crowdrun binary
	Node       string // the node binary ("" with NodeWorkers 0)
	NodeWorker string // js/node/run.mjs
	Module     []byte // examples/factor.wasm
	Dir        string // a scratch directory (the SQLite store, the workers' caches)
	// DSN: "" runs on SQLite in Dir with one coordinator process; else the
	// PostgreSQL database (a fresh schema of the harness's own) that
	// Coordinators processes share. OwnCluster: a PostgreSQL cluster that
	// Run starts with PGScript, its data directory on a tmpfs of StoreCap
	// bytes that the store-full episodes fill (root only: it mounts it).
	DSN          string
	PGScript     string // scripts/pg.sh, for OwnCluster
	Coordinators int

	Tasks int    // tasks in the job
	Seed  uint64 // the inputs and the schedule
	Grid  uint64 // serve --checkpoint-every

	Native, NodeWorkers int // worker processes up at any time

	// The schedule, spread over the job's progress (tasks done).
	CoordKills, WorkerKills, Partitions int
	DiskFull                            int   // store-full episodes (SQLite, or PostgreSQL on OwnCluster)
	StoreCap                            int64 // SQLite: serve --max-store-size; OwnCluster: its tmpfs's size
	Faults                              ProxyFaults

	Out io.Writer // what it does, as it does it, and the report
	// Stuck: the run fails when no task is done, or a store-full episode
	// sees nothing happen, for this long (default 10 minutes).
	Stuck time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.Bin == "" || len(c.Module) == 0 || c.Dir == "":
		return errors.New("chaos: Bin, Module and Dir are required")
	case c.Tasks < 10:
		return errors.New("chaos: at least 10 tasks")
	case c.Native < 1 && c.NodeWorkers < 1:
		return errors.New("chaos: no workers")
	case c.NodeWorkers > 0 && (c.Node == "" || c.NodeWorker == ""):
		return errors.New("chaos: Node workers need Node and NodeWorker")
	case c.DSN == "" && c.Coordinators > 1:
		return errors.New("chaos: SQLite takes one coordinator process")
	case c.DSN != "" && c.DSN != OwnCluster && c.DiskFull > 0:
		return errors.New("chaos: the store-full fault on PostgreSQL fills the cluster's disk: it needs a cluster of the harness's own (OwnCluster)")
	case c.DSN == OwnCluster && c.PGScript == "":
		return errors.New("chaos: OwnCluster needs PGScript (scripts/pg.sh)")
	case c.DSN == OwnCluster && os.Geteuid() != 0:
		return errors.New("chaos: OwnCluster (the store-full fault on PostgreSQL) mounts a tmpfs for the cluster's data directory: it needs root")
	case c.DSN == OwnCluster && c.StoreCap < 48<<20:
		return errors.New("chaos: OwnCluster needs a StoreCap (its tmpfs) of at least 48MiB: an empty cluster takes 22MiB")
	case c.DiskFull > 0 && c.StoreCap < 1<<20:
		return errors.New("chaos: the store-full fault needs a StoreCap of at least 1MiB")
	}
	if c.Coordinators < 1 {
		c.Coordinators = 1
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Stuck <= 0 {
		c.Stuck = 10 * time.Minute
	}
	return nil
}

// Report is what a run did and what it found.
type Report struct {
	Store                       string
	Tasks, Checkpoints, Resumes int
	LostSegments                int
	CoordKills, CoordRestarts   int
	WorkerKills, WorkerRestarts int
	NativeStarts, NodeStarts    int
	SameAccount, TokenAccount   int // restarts as the killed worker's account, or a volunteer token's
	Partitions                  int
	Proxy                       ProxyCounts
	DiskFull                    int // episodes
	StoreFullErrors             int // "store full" errors the coordinators logged
	StoreFullExample            string
	SubmitsRefused              int // submissions refused with 507 store_full while the store was full
	ServerFullErrors            int // OwnCluster: "No space left on device" lines in the server's log
	ServerFullExample           string
	CheckpointsUnrecorded       int // checkpoints the coordinators could not record (logged)
	// Uncredited: fuel of the uninterrupted runs less the credit: run but
	// not credited, as a chain's final link is credited at most one grid.
	Uncredited              uint64
	Lost, Duplicated, Wrong int
	ByNode, ByNative        int // results computed (in part) by Node workers, by native workers
	Credit, Verified        uint64
	Accounts                int
	Violations              []string
	Elapsed                 time.Duration

	partitionDrops int64
}

// OK: nothing was lost, duplicated or wrong, and credit adds up.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "chaos on %s: %d tasks in %v\n", r.Store, r.Tasks, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "  did:   %d coordinator kills (SIGKILL), %d coordinator restarts; %d worker kills (SIGKILL), %d worker restarts (%d as the same account, %d with a volunteer token); %d native and %d Node worker processes started\n",
		r.CoordKills, r.CoordRestarts, r.WorkerKills, r.WorkerRestarts, r.SameAccount, r.TokenAccount, r.NativeStarts, r.NodeStarts)
	fmt.Fprintf(w, "         proxy: %d connections, %d refused (no coordinator up), %d dropped (%d by %d partitions), %d delayed, %d stalled\n",
		r.Proxy.Conns, r.Proxy.Refused, r.Proxy.Drops, r.partitionDrops, r.Partitions, r.Proxy.Delays, r.Proxy.Stalls)
	fmt.Fprintf(w, "         store full: %d episodes, %d store-full errors logged by the coordinator, %d submissions refused with 507 store_full\n", r.DiskFull, r.StoreFullErrors, r.SubmitsRefused)
	if r.StoreFullExample != "" {
		fmt.Fprintf(w, "         e.g. %s\n", r.StoreFullExample)
	}
	if r.ServerFullExample != "" {
		fmt.Fprintf(w, "         PostgreSQL logged %d \"No space left on device\" errors, e.g. %s\n", r.ServerFullErrors, r.ServerFullExample)
	}
	fmt.Fprintf(w, "  found: %d results computed (in part) by Node workers, %d by native workers; %d checkpoints, %d resumes, %d lost segments\n",
		r.ByNode, r.ByNative, r.Checkpoints, r.Resumes, r.LostSegments)
	fmt.Fprintf(w, "         %d tasks lost, %d duplicated, %d wrong; credit %d over %d accounts, verified fuel %d\n",
		r.Lost, r.Duplicated, r.Wrong, r.Credit, r.Accounts, r.Verified)
	fmt.Fprintf(w, "         %d checkpoints the coordinators could not record; %d fuel run but not credited (final links past a missing checkpoint)\n",
		r.CheckpointsUnrecorded, r.Uncredited)
	if r.OK() {
		fmt.Fprintln(w, "  OK: every task done exactly once with the uninterrupted run's result; credit = verified fuel, each link once, /v1/credit = ledger")
		return
	}
	fmt.Fprintf(w, "  %d VIOLATIONS:\n", len(r.Violations))
	for i, v := range r.Violations {
		if i == 50 {
			fmt.Fprintf(w, "    … %d more\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintln(w, "    "+v)
	}
}

// Inputs are the job's tasks: numbers to factor, mostly below 10^9 (tens
// of thousands of fuel); every tenth between 10^11 and 10^13 (millions),
// every hundredth between 10^13 and 10^14 (up to tens of millions): at a
// grid of 2^18 fuel, dozens of checkpoints.
func Inputs(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := make([]string, n)
	for i := range in {
		v := 2 + rng.Uint64N(1e9)
		switch {
		case i%100 == 50:
			v = 1e13 + rng.Uint64N(9e13)
		case i%10 == 5:
			v = 1e11 + rng.Uint64N(9e12)
		}
		in[i] = strconv.FormatUint(v, 10) + "\n"
	}
	return in
}

// Expected runs each input to its end in this process, uninterrupted and
// without checkpoints: the stdout and fuel every worker must reproduce.
func Expected(ctx context.Context, module []byte, inputs []string) ([]sandbox.Report, [][]byte, error) {
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close(context.Background())
	m, err := eng.Compile(ctx, module)
	if err != nil {
		return nil, nil, err
	}
	reps := make([]sandbox.Report, len(inputs))
	outs := make([][]byte, len(inputs))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(inputs); i += 2 {
				var out, errb bytes.Buffer
				reps[i] = eng.Run(ctx, m, sandbox.Input{Args: []string{worker.Argv0}, Stdin: strings.NewReader(inputs[i]), Stdout: &out, Stderr: &errb}, sandbox.Limits{})
				if reps[i].Status != sandbox.StatusOK {
					errs[g] = fmt.Errorf("input %d (%q): %s %s", i, inputs[i], reps[i].Status, reps[i].Message)
					return
				}
				outs[i] = out.Bytes()
			}
		}()
	}
	wg.Wait()
	return reps, outs, errors.Join(errs...)
}

// harness is one run's state.
type harness struct {
	cfg     *Config
	rng     *rand.Rand
	rep     *Report
	proxy   *Proxy
	token   string // the submitter's
	vol     string // a volunteer token: some workers restart as its account
	serveA  []string
	cluster *pgscript.Cluster // OwnCluster's

	mu     sync.Mutex
	coords []*coord
	procs  []*proc // every process ever started, for the end

	workers []*wproc
	nextW   int
	isNode  map[string]bool // worker name → a Node worker
}

type coord struct {
	p    *proc
	url  string
	addr string
}

type wproc struct {
	p     *proc
	name  string
	node  bool
	token string
}

const (
	fullMatch = "store full"
	// ckMatch: a checkpoint the store did not take (the coordinator logs
	// it at error level; the worker is told and goes on).
	ckMatch = "recording a checkpoint"
)

// Run runs the chaos and checks what it left. The error is for a harness
// that could not run; what it found is in the Report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	h := &harness{cfg: &cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 3)), rep: &Report{Tasks: cfg.Tasks}, isNode: map[string]bool{}}
	defer h.cleanup()
	out := cfg.Out

	inputs := Inputs(cfg.Tasks, cfg.Seed)
	reps, outs, err := Expected(ctx, cfg.Module, inputs)
	if err != nil {
		return nil, fmt.Errorf("the uninterrupted run: %w", err)
	}
	var fuel uint64
	for _, r := range reps {
		fuel += r.Fuel
	}
	fmt.Fprintf(out, "uninterrupted run: %d tasks, %d fuel in all (%d checkpoint intervals of %d)\n", len(inputs), fuel, fuel/max(cfg.Grid, 1), cfg.Grid)

	storeArgs := []string{"--data", filepath.Join(cfg.Dir, "data")}
	h.rep.Store = "SQLite (one coordinator process, restarted after each kill)"
	if cfg.DSN == OwnCluster {
		if err := h.startCluster(ctx); err != nil {
			return nil, err
		}
		storeArgs = []string{"--store", h.cfg.DSN}
		h.rep.Store = fmt.Sprintf("PostgreSQL (%d coordinator processes; the harness's own cluster, its data directory on a %d MiB tmpfs, the WAL outside)", cfg.Coordinators, cfg.StoreCap>>20)
	} else if cfg.DSN != "" {
		storeArgs = []string{"--store", cfg.DSN}
		h.rep.Store = fmt.Sprintf("PostgreSQL (%d coordinator processes)", cfg.Coordinators)
	} else if cfg.StoreCap > 0 {
		h.rep.Store = fmt.Sprintf("SQLite (one coordinator process, restarted after each kill; --max-store-size %d MiB)", cfg.StoreCap>>20)
	}
	tok, err := h.crowdrun(ctx, append([]string{"token", "create", "--create", "--owner", "chaos"}, storeArgs...)...)
	if err != nil {
		return nil, err
	}
	h.token = tok
	if h.vol, err = h.crowdrun(ctx, append([]string{"token", "create", "--kind", "volunteer", "--owner", "volunteer"}, storeArgs...)...); err != nil {
		return nil, err
	}
	h.serveA = append([]string{cfg.Bin, "serve", "--addr", "127.0.0.1:0", "--quiet", "--checkpoint-every", strconv.FormatUint(cfg.Grid, 10),
		"--heartbeat", "500ms", "--lease-ttl", "3s"}, storeArgs...)
	if cfg.DSN == "" && cfg.StoreCap > 0 {
		h.serveA = append(h.serveA, "--max-store-size", strconv.FormatInt(cfg.StoreCap, 10))
	}
	for range cfg.Coordinators {
		if err := h.startCoord(); err != nil {
			return nil, err
		}
	}
	h.proxy, err = NewProxy(h.upstreams, cfg.Faults, cfg.Seed)
	if err != nil {
		return nil, err
	}
	tasks := make([]api.TaskSpec, len(inputs))
	for i, in := range inputs {
		tasks[i] = api.TaskSpec{Stdin: []byte(in)}
	}
	job, err := h.client().Submit(ctx, &api.SubmitRequest{Name: "chaos", Module: cfg.Module, Tasks: tasks, MaxError: 1})
	if err != nil {
		return nil, fmt.Errorf("submitting: %w", err)
	}
	fmt.Fprintf(out, "job %d submitted: %d tasks; %d native + %d Node workers through the proxy at %s\n", job.ID, len(tasks), cfg.Native, cfg.NodeWorkers, h.proxy.URL())
	for i := range cfg.Native + cfg.NodeWorkers {
		w := &wproc{name: fmt.Sprintf("w%d", i), node: i >= cfg.Native}
		if err := h.startWorker(w); err != nil {
			return nil, err
		}
		h.workers = append(h.workers, w)
	}

	if err := h.chaos(ctx, job.ID); err != nil {
		return nil, err
	}
	h.proxy.Faults(false)
	fmt.Fprintf(out, "job %d done; checking\n", job.ID)
	if err := h.check(ctx, job.ID, reps, outs); err != nil {
		return nil, err
	}
	h.rep.Proxy = h.proxy.Counts()
	h.rep.Elapsed = time.Since(t0)
	return h.rep, nil
}

func (h *harness) client() *api.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.coords {
		if c.p.alive() {
			return &api.Client{Server: c.url, Token: h.token}
		}
	}
	return &api.Client{Server: "http://127.0.0.1:1", Token: h.token} // none up: the call fails
}

// upstreams are the live coordinators' addresses, for the proxy.
func (h *harness) upstreams() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var a []string
	for _, c := range h.coords {
		if c.p.alive() {
			a = append(a, c.addr)
		}
	}
	return a
}

func (h *harness) crowdrun(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.cfg.Bin, args...)
	var e bytes.Buffer
	cmd.Stderr = &e
	o, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("crowdrun %s: %w\n%s", strings.Join(args, " "), err, e.String())
	}
	return strings.TrimSpace(string(o)), nil
}

func (h *harness) startCoord() error {
	p, line, err := startProc("coordinator", h.serveA, os.Environ(), []string{fullMatch, ckMatch}, true)
	if err != nil {
		return err
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		p.kill()
		return fmt.Errorf("serve printed %q", line)
	}
	url := strings.Fields(line[i:])[0]
	h.mu.Lock()
	h.coords = append(h.coords, &coord{p: p, url: url, addr: strings.TrimPrefix(url, "http://")})
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return nil
}

func (h *harness) startWorker(w *wproc) error {
	var argv []string
	h.isNode[w.name] = w.node
	if w.node {
		argv = []string{h.cfg.Node, h.cfg.NodeWorker, "--server", h.proxy.URL(), "--name", w.name, "--slots", "1", "--quiet"}
		h.rep.NodeStarts++
	} else {
		argv = []string{h.cfg.Bin, "worker", "--server", h.proxy.URL(), "--name", w.name, "--slots", "1", "--quiet"}
		h.rep.NativeStarts++
	}
	if w.token != "" {
		argv = append(argv, "--token", w.token)
	}
	env := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(h.cfg.Dir, "cache"))
	p, _, err := startProc(w.name, argv, env, nil, false)
	if err != nil {
		return err
	}
	w.p = p
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return nil
}

func (h *harness) cleanup() {
	h.mu.Lock()
	ps := slices.Clone(h.procs)
	h.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
	if h.proxy != nil {
		h.proxy.Close()
	}
	if h.cluster != nil {
		if err := h.cluster.Stop(); err != nil {
			fmt.Fprintf(h.cfg.Out, "stopping the cluster: %v\n", err)
		}
	}
}

// event is one fault of the schedule, due once `at` tasks are done.
type event struct {
	at   int
	kind string
}

// schedule spreads the faults at random over 5–60% of the tasks done (the
// store-full episodes over 5–40%), so that all happen before the job ends
// whatever the machine's speed: the last 40% of the job is left for the
// faults that fell due together (a coordinator's restart, an episode,
// the harness's own polling on a loaded machine). With 75% a 200-task
// job that took 7 s once ended with faults of its schedule left.
func (h *harness) schedule() []event {
	c := h.cfg
	var ev []event
	add := func(n int, kind string, upTo int) {
		for range n {
			ev = append(ev, event{at: c.Tasks/20 + h.rng.IntN(max(1, c.Tasks*upTo/100-c.Tasks/20)), kind: kind})
		}
	}
	add(c.CoordKills, "coordinator", 60)
	add(c.WorkerKills, "worker", 60)
	add(c.Partitions, "partition", 60)
	// Filling the store takes a while, during which the job goes on.
	add(c.DiskFull, "full", 40)
	slices.SortStableFunc(ev, func(a, b event) int { return a.at - b.at })
	return ev
}

// chaos runs the schedule while the job runs, and returns once it is done.
func (h *harness) chaos(ctx context.Context, jobID int64) error {
	out := h.cfg.Out
	events := h.schedule()
	done, lastDone, lastPrint := 0, -1, time.Time{}
	stuckSince := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		j, err := h.client().Job(ctx, jobID)
		if err == nil {
			done = j.Tasks.Done
			if j.State != "running" {
				if len(events) > 0 {
					fmt.Fprintf(out, "the job ended with %d faults of the schedule left\n", len(events))
				}
				return nil
			}
		}
		if done != lastDone {
			lastDone, stuckSince = done, time.Now()
		} else if time.Since(stuckSince) > h.cfg.Stuck {
			return fmt.Errorf("no task done for %v at %d of %d done\n%s", h.cfg.Stuck, done, h.cfg.Tasks, h.logs())
		}
		if time.Since(lastPrint) > 10*time.Second {
			lastPrint = time.Now()
			fmt.Fprintf(out, "%d/%d done; %d coordinator kills, %d worker kills, %d partitions, %d store-full episodes so far\n",
				done, h.cfg.Tasks, h.rep.CoordKills, h.rep.WorkerKills, h.rep.Partitions, h.rep.DiskFull)
		}
		h.keepWorkers()
		if len(events) > 0 && events[0].at <= done {
			e := events[0]
			events = events[1:]
			if err := h.fault(ctx, e, jobID, done); err != nil {
				return err
			}
			continue // read the progress again
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keepWorkers restarts a worker that exited by itself (a worker refused
// for good exits; none should), counting it.
func (h *harness) keepWorkers() {
	for _, w := range h.workers {
		if !w.p.alive() {
			h.rep.Violations = append(h.rep.Violations, fmt.Sprintf("worker %s exited by itself (%v): %s", w.name, w.p.cmd.ProcessState, lastNonEmpty(w.p.log())))
			h.rep.WorkerRestarts++
			h.startWorker(w)
		}
	}
}

func (h *harness) fault(ctx context.Context, e event, jobID int64, done int) error {
	switch e.kind {
	case "coordinator":
		h.mu.Lock()
		c := h.coords[h.rng.IntN(len(h.coords))]
		h.mu.Unlock()
		c.p.kill()
		h.rep.CoordKills++
		h.rep.StoreFullErrors += c.p.count(fullMatch)
		h.rep.CheckpointsUnrecorded += c.p.count(ckMatch)
		h.mu.Lock()
		h.coords = slices.DeleteFunc(h.coords, func(x *coord) bool { return x == c })
		h.mu.Unlock()
		if err := h.startCoord(); err != nil {
			return err
		}
		h.rep.CoordRestarts++
	case "worker":
		w := h.workers[h.rng.IntN(len(h.workers))]
		w.p.kill()
		h.rep.WorkerKills++
		switch h.rng.IntN(3) {
		case 0: // the same name and token: the same account
			h.rep.SameAccount++
		case 1: // a volunteer token's account
			w.name = fmt.Sprintf("w%d", len(h.workers)+h.nextW)
			h.nextW++
			w.token = h.vol
			h.rep.TokenAccount++
		default: // a fresh anonymous account
			w.name = fmt.Sprintf("w%d", len(h.workers)+h.nextW)
			h.nextW++
			w.token = ""
		}
		if err := h.startWorker(w); err != nil {
			return err
		}
		h.rep.WorkerRestarts++
	case "partition":
		n := h.proxy.DropAll()
		h.rep.partitionDrops += int64(n)
		h.rep.Partitions++
	case "full":
		return h.fill(ctx, jobID, done)
	}
	return nil
}

// fill is a store-full episode: another program on the same disk fills
// it (fillSQLite, fillDisk); the harness waits until the coordinators
// have refused writes for it, submits a job that must be refused, then
// frees the space and waits for the job to progress again.
func (h *harness) fill(ctx context.Context, jobID int64, done int) error {
	out := h.cfg.Out
	fillIt, what := h.fillSQLite, "up to the cap"
	if h.cluster != nil {
		fillIt, what = h.fillDisk, "on the cluster's tmpfs"
	}
	filled, free, err := fillIt(ctx)
	if err != nil {
		return err
	}
	h.rep.DiskFull++
	h.mu.Lock()
	coords := slices.Clone(h.coords) // no coordinator is killed during an episode
	h.mu.Unlock()
	fulls := func() int {
		n := 0
		for _, c := range coords {
			n += c.p.count(fullMatch)
		}
		return n
	}
	exited := func() *coord {
		for _, c := range coords {
			if !c.p.alive() {
				return c
			}
		}
		return nil
	}
	before := fulls()
	if j, err := h.client().Job(ctx, jobID); err == nil {
		done = j.Tasks.Done
	}
	fmt.Fprintf(out, "store full at %d done: %d MiB of filler %s of %d MiB; waiting for the coordinators to hit it\n", done, filled>>20, what, h.cfg.StoreCap>>20)
	// The workers keep sending checkpoints and results: the next write
	// that needs a new page fails. Wait for a few such refusals (or for
	// the job to end).
	t0 := time.Now()
	for fulls() < before+5 {
		if c := exited(); c != nil {
			free()
			return fmt.Errorf("a coordinator exited on a full store:\n%s", c.p.log())
		}
		if j, err := h.client().Job(ctx, jobID); err == nil && j.State != "running" {
			break
		}
		if time.Since(t0) > h.cfg.Stuck {
			free()
			return fmt.Errorf("the store full for %v: %d refusals logged\n%s", h.cfg.Stuck, fulls()-before, h.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range coords {
		if ex := c.p.lastLine(fullMatch); ex != "" {
			h.rep.StoreFullExample = ex
		}
	}
	// A submitter meanwhile: refused with a clear error, nothing recorded.
	// Its stdin is random bytes: PostgreSQL compresses what it stores
	// (TOAST), and 256 KiB of a repeated line fit in a few bytes of a page
	// that has room.
	var key [32]byte
	key[0], key[1] = byte(h.cfg.Seed), byte(h.rep.DiskFull)
	stdin := make([]byte, 256<<10)
	rand.NewChaCha8(key).Read(stdin)
	jobs, jerr := h.client().Jobs(ctx)
	_, err = h.client().Submit(ctx, &api.SubmitRequest{Name: "while full", Module: h.cfg.Module, MaxError: 1,
		Tasks: []api.TaskSpec{{Stdin: stdin}}})
	var ae *api.Error
	switch {
	case err == nil:
		h.rep.Violations = append(h.rep.Violations, "a job of 256 KiB of random stdin was accepted while the store was full")
	case !errors.As(err, &ae) || ae.Status != http.StatusInsufficientStorage || ae.Err.Code != api.CodeStoreFull:
		h.rep.Violations = append(h.rep.Violations, fmt.Sprintf("a job submitted while the store was full: %v, want 507 %s", err, api.CodeStoreFull))
	default:
		h.rep.SubmitsRefused++
	}
	if after, err := h.client().Jobs(ctx); jerr == nil && err == nil && len(after) != len(jobs) {
		h.rep.Violations = append(h.rep.Violations, fmt.Sprintf("%d jobs before a submission refused for a full store, %d after", len(jobs), len(after)))
	}
	stalled, _ := h.client().Job(ctx, jobID)
	if err := free(); err != nil {
		return err
	}
	if err := h.clusterCrashed(); err != nil {
		return err
	}
	fmt.Fprintf(out, "space back after %d store-full errors in %v; waiting for progress\n", fulls()-before, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	for stalled != nil {
		j, err := h.client().Job(ctx, jobID)
		if err == nil && (j.State != "running" || j.Tasks.Done > stalled.Tasks.Done) {
			break
		}
		if c := exited(); c != nil {
			return fmt.Errorf("a coordinator exited after the store was full:\n%s", c.p.log())
		}
		if time.Since(t0) > h.cfg.Stuck {
			return fmt.Errorf("no progress for %v after space returned at %d done\n%s", h.cfg.Stuck, stalled.Tasks.Done, h.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// fillSQLite fills the SQLite store: another connection to the database
// (as another program filling the disk would) packs it (VACUUM) and fills
// it with filler rows up to the coordinator's --max-store-size. free drops
// the filler (space returns: SQLite reuses the freed pages).
func (h *harness) fillSQLite(ctx context.Context) (filled int64, free func() error, err error) {
	path := filepath.Join(h.cfg.Dir, "data", sqlite.FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(60000)&_pragma="+fmt.Sprintf("max_page_count(%d)", h.cfg.StoreCap/4096))
	if err != nil {
		return 0, nil, err
	}
	db.SetMaxOpenConns(1)
	// VACUUM first packs every table's pages full, as in a database just
	// restored from a backup: without it the coordinator's small rows fit
	// in the free space of pages it has, and a whole job can finish on a
	// full disk without ever needing a new page.
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		db.Close()
		return 0, nil, fmt.Errorf("vacuum: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS chaos_filler (b BLOB)`); err != nil {
		db.Close()
		return 0, nil, fmt.Errorf("filler: %w", err)
	}
	free = func() error {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), `DROP TABLE chaos_filler`); err != nil {
			return fmt.Errorf("dropping the filler: %w", err)
		}
		return nil
	}
	for size := int64(4 << 20); size >= 4096; size /= 4 {
		for {
			_, err := db.ExecContext(ctx, `INSERT INTO chaos_filler VALUES (zeroblob(?))`, size)
			var se *msqlite.Error
			if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
				break
			}
			if err != nil {
				free()
				return 0, nil, fmt.Errorf("filler: %w", err)
			}
			filled += size
		}
	}
	return filled, free, nil
}

func (h *harness) logs() string {
	var b strings.Builder
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.coords {
		fmt.Fprintf(&b, "--- coordinator %s:\n%s\n", c.url, c.p.log())
	}
	return b.String()
}

// check reads the results and credit through the API, stops every
// process, and checks the store.
func (h *harness) check(ctx context.Context, jobID int64, reps []sandbox.Report, outs [][]byte) error {
	r := h.rep
	seen := make([]int, len(reps))
	err := h.client().Results(ctx, jobID, 0, false, func(t *api.TaskResult) error {
		if t.TaskIndex < 0 || t.TaskIndex >= len(reps) {
			r.Violations = append(r.Violations, fmt.Sprintf("a result for task %d, not in the job", t.TaskIndex))
			return nil
		}
		seen[t.TaskIndex]++
		node, native := false, false
		for _, name := range t.Workers {
			node = node || h.isNode[name]
			native = native || !h.isNode[name]
		}
		if node {
			r.ByNode++
		}
		if native {
			r.ByNative++
		}
		if seen[t.TaskIndex] > 1 {
			r.Duplicated++
			r.Violations = append(r.Violations, fmt.Sprintf("task %d: result line %d", t.TaskIndex, seen[t.TaskIndex]))
			return nil
		}
		want := reps[t.TaskIndex]
		if t.State != "done" || t.Status != string(want.Status) || t.ExitCode != want.ExitCode || t.Fuel != want.Fuel || !bytes.Equal(t.Stdout, outs[t.TaskIndex]) || len(t.Stderr) != 0 {
			r.Wrong++
			r.Violations = append(r.Violations, fmt.Sprintf("task %d: %s %s exit %d fuel %d stdout %q message %q, by %v; the uninterrupted run: %s exit %d fuel %d stdout %q",
				t.TaskIndex, t.State, t.Status, t.ExitCode, t.Fuel, t.Stdout, t.Message, t.Workers, want.Status, want.ExitCode, want.Fuel, outs[t.TaskIndex]))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the results: %w", err)
	}
	for i, n := range seen {
		if n == 0 {
			r.Lost++
			r.Violations = append(r.Violations, fmt.Sprintf("task %d: no result", i))
		}
	}
	credit, err := h.client().Credit(ctx, "", "")
	if err != nil {
		return fmt.Errorf("reading /v1/credit: %w", err)
	}
	// Stop everything before reading the store: SQLite's file is the
	// coordinator's while it runs.
	for _, w := range h.workers {
		w.p.kill()
	}
	h.mu.Lock()
	coords := slices.Clone(h.coords)
	h.mu.Unlock()
	for _, c := range coords {
		h.rep.StoreFullErrors += c.p.count(fullMatch)
		h.rep.CheckpointsUnrecorded += c.p.count(ckMatch)
		c.p.stop()
	}
	full, example, crashes := h.serverLog()
	r.ServerFullErrors, r.ServerFullExample = full, example
	for _, l := range crashes {
		r.Violations = append(r.Violations, "the PostgreSQL server crashed: "+l)
	}
	var db store.Store
	if h.cfg.DSN == "" {
		lite, err := sqlite.OpenDir(ctx, filepath.Join(h.cfg.Dir, "data"))
		if err != nil {
			return err
		}
		db = lite
	} else {
		pg, err := postgres.Open(ctx, h.cfg.DSN)
		if err != nil {
			return err
		}
		db = pg
	}
	defer db.Close()
	bad, f, err := CheckStore(ctx, db, jobID, len(reps))
	if err != nil {
		return fmt.Errorf("reading the store: %w", err)
	}
	r.Violations = append(r.Violations, bad...)
	r.Checkpoints, r.Resumes, r.LostSegments = f.Counts.Checkpoints, f.Counts.Resumes, f.Counts.LostSegments
	r.Credit, r.Verified, r.Accounts = f.Total, f.Verified, len(f.Credit)
	var run uint64
	for _, rep := range reps {
		run += rep.Fuel
	}
	if run > f.Total {
		r.Uncredited = run - f.Total
	}
	api := map[string]uint64{}
	for _, a := range credit.Accounts {
		if a.Total > 0 {
			api[a.Account] = a.Total
		}
	}
	for acc, v := range f.Credit {
		if v != 0 && api[acc] != v {
			r.Violations = append(r.Violations, fmt.Sprintf("account %s: /v1/credit says %d, the ledger's standing grants %d", acc, api[acc], v))
		}
	}
	for acc, v := range api {
		if f.Credit[acc] == 0 {
			r.Violations = append(r.Violations, fmt.Sprintf("account %s: /v1/credit says %d, the ledger has no standing grant", acc, v))
		}
	}
	return nil
}
