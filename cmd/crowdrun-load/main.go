// Command crowdrun-load is the coordinator benchmark (not a test). It starts
// `crowdrun serve` as a separate process on loopback with a fresh store and
// measures, from this process:
//
//	crowdrun-load tasks  — tiny tasks end to end (dispatch → run → result
//	                        stored), in tasks/s, with real workers running
//	                        each task in the sandbox (-fake: workers answer
//	                        without running, to see the coordinator alone,
//	                        and report the lease latency each worker sees:
//	                        lease_request sent → its leases received);
//	                        -store pg|postgres://… runs it on PostgreSQL
//	                        (pg: a throwaway cluster by scripts/pg.sh) and
//	                        -coordinators N starts N coordinators on that
//	                        one database, workers spread over them in turn;
//	crowdrun-load stores — tasks on SQLite×1, PostgreSQL×1 and
//	                        PostgreSQL×N, one after another, in a table;
//	crowdrun-load idle   — the coordinator's resident memory and
//	                        goroutines with N idle worker connections
//	                        (hello + a pending lease_request +
//	                        heartbeats), from several loopback source
//	                        addresses (docs/coordinator-speed.md);
//	crowdrun-load chaos  — the chaos harness (internal/chaos,
//	                        docs/chaos.md): a job of thousands of tasks
//	                        while coordinators and workers are SIGKILLed,
//	                        connections dropped, delayed and stalled and
//	                        the store filled; exits 1 on anything lost,
//	                        duplicated, wrong or miscredited.
//
// Usage:
//
//	go build -o /tmp/crowdrun ./cmd/crowdrun
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun tasks -tasks 20000
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun tasks -fake -store pg -coordinators 3
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun stores -fake -tasks 20000
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun idle -conns 10000
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun chaos -store sqlite
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun chaos -store pg
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgscript"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crowdrun-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("crowdrun-load", flag.ContinueOnError)
	bin := fs.String("crowdrun", "crowdrun", "the crowdrun binary to start the coordinator with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: crowdrun-load [-crowdrun BIN] tasks|stores|idle|chaos [flags]")
	}
	switch fs.Arg(0) {
	case "tasks":
		return tasksCmd(ctx, *bin, fs.Args()[1:])
	case "stores":
		return storesCmd(ctx, *bin, fs.Args()[1:])
	case "chaos":
		return chaosCmd(ctx, *bin, fs.Args()[1:])
	case "idle":
		return idleCmd(ctx, *bin, fs.Args()[1:])
	}
	return fmt.Errorf("unknown benchmark %q", fs.Arg(0))
}

type server struct {
	cmd    *exec.Cmd
	url    string
	token  string
	dir    string
	exited chan struct{}
}

// startServer starts one coordinator on SQLite in a temporary directory
// (idle), with serve's args besides.
func startServer(ctx context.Context, bin string, args ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "crowdrun-load-")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, bin, "token", "create", "--create", "--data", dir, "--owner", "load").Output()
	if err != nil {
		return nil, fmt.Errorf("token create: %w", err)
	}
	s, err := startServe(bin, append([]string{"--data", dir}, args...)...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.dir, s.token = dir, strings.TrimSpace(string(out))
	return s, nil
}

// startServe starts `crowdrun serve` on a free port of loopback with
// storeArgs (--data DIR or --store URL).
func startServe(bin string, storeArgs ...string) (*server, error) {
	// Every simulated worker and client comes from one loopback address,
	// as fast as it can: the abuse limits (docs/abuse.md) are off, or they
	// would be what this measures.
	limitsOff := []string{"--ip-rate", "-1", "--owner-rate", "-1", "--max-pending-per-ip", "1000000", "--max-pending", "1000000",
		"--quota-jobs", "-1", "--quota-tasks", "-1", "--quota-bytes", "-1"}
	return startServeArgs(bin, append(limitsOff, storeArgs...)...)
}

// startServeArgs starts `crowdrun serve` on a free port of loopback with
// args.
func startServeArgs(bin string, args ...string) (*server, error) {
	s := &server{exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--quiet"}, args...)...)
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("serve: %w", err)
	}
	go io.Copy(io.Discard, stdout)
	i := strings.Index(line, "http://")
	if i < 0 {
		s.stop()
		return nil, fmt.Errorf("serve printed %q", line)
	}
	s.url = strings.Fields(line[i:])[0]
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// rss reads a process's resident set size in bytes.
func rss(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// taskOpts are the flags of tasks and stores.
type taskOpts struct {
	n, workers, slots int
	fake              bool
	module            string
	maxError          float64
}

func taskFlags(fs *flag.FlagSet) *taskOpts {
	o := &taskOpts{}
	fs.IntVar(&o.n, "tasks", 20000, "tasks in the job")
	fs.IntVar(&o.workers, "workers", 4, "worker connections")
	fs.IntVar(&o.slots, "slots", 8, "slots per worker")
	fs.BoolVar(&o.fake, "fake", false, "workers answer without running the module (and measure lease latency)")
	fs.StringVar(&o.module, "module", "examples/echo.wasm", "the tiny module")
	fs.Float64Var(&o.maxError, "max-error", 1, "the job's max error: 1 measures dispatch alone; below 1 adds verification (audits, quorum partners)")
	return o
}

func tasksCmd(ctx context.Context, bin string, args []string) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	o := taskFlags(fs)
	st := fs.String("store", "", "the store: \"\" SQLite in a temporary directory; pg: a throwaway PostgreSQL cluster (scripts/pg.sh); or a postgres:// URL (a fresh schema in it, dropped after)")
	n := fs.Int("coordinators", 1, "coordinators on the one store (PostgreSQL only beyond 1); workers are spread over them in turn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsn, stop, err := storeDSN(ctx, *st)
	if err != nil {
		return err
	}
	defer stop()
	cl, err := startCluster(ctx, bin, dsn, *n)
	if err != nil {
		return err
	}
	defer cl.stop()
	fmt.Printf("%s; %d CPUs; %s\n", cl.desc, runtime.NumCPU(), runtime.Version())
	r, err := runTasks(ctx, cl, o)
	if err != nil {
		return err
	}
	fmt.Printf("submit: %d tasks accepted in %v (%.0f tasks/s)\n", o.n, r.submitted.Round(time.Millisecond), float64(o.n)/r.submitted.Seconds())
	fmt.Printf("end to end, %s, %d workers × %d slots: %d tasks done in %v = %.0f tasks/s; lease latency p50 %s, p99 %s (%d leases); coordinator RSS %.1f MiB\n",
		r.mode, o.workers, o.slots, r.done, r.elapsed.Round(time.Millisecond), r.rate(), fmtLat(r.p50), fmtLat(r.p99), r.leases, r.rssMiB)
	return nil
}

// storesCmd runs tasks on SQLite×1, PostgreSQL×1 and PostgreSQL×N, one after
// another, and prints a table.
func storesCmd(ctx context.Context, bin string, args []string) error {
	fs := flag.NewFlagSet("stores", flag.ContinueOnError)
	o := taskFlags(fs)
	pg := fs.String("pg", "pg", "the PostgreSQL server: pg starts a throwaway cluster (scripts/pg.sh); or a postgres:// URL (a fresh schema per run, dropped after)")
	n := fs.Int("coordinators", 3, "coordinators of the last run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsn, stop, err := storeDSN(ctx, *pg)
	if err != nil {
		return err
	}
	defer stop()
	runs := []struct {
		name, dsn string
		n         int
	}{{"SQLite", "", 1}, {"PostgreSQL", dsn, 1}, {"PostgreSQL", dsn, *n}}
	fmt.Printf("%d tasks, %d workers × %d slots, %s; %d CPUs; %s\n", o.n, o.workers, o.slots, map[bool]string{true: "fake workers (no sandbox run)", false: "real workers (sandbox runs each task)"}[o.fake], runtime.NumCPU(), runtime.Version())
	var rows []string
	for _, run := range runs {
		cl, err := startCluster(ctx, bin, run.dsn, run.n)
		if err != nil {
			return err
		}
		r, err := runTasks(ctx, cl, o)
		cl.stop()
		if err != nil {
			return fmt.Errorf("%s×%d: %w", run.name, run.n, err)
		}
		row := fmt.Sprintf("| %s | %d | %d | %.1f s | %.0f | %s | %s | %.0f MiB |", run.name, run.n, r.done, r.elapsed.Seconds(), r.rate(), fmtLat(r.p50), fmtLat(r.p99), r.rssMiB)
		fmt.Println(row)
		rows = append(rows, row)
	}
	fmt.Println()
	fmt.Println("| store | coordinators | tasks done | time | tasks/s | lease p50 | lease p99 | coordinators' RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	return nil
}

func fmtLat(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

// cluster is one or more coordinators on one store.
type cluster struct {
	servers []*server
	token   string
	desc    string
	cleanup []func()
}

func (c *cluster) stop() {
	for _, s := range c.servers {
		s.stop()
	}
	for i := len(c.cleanup) - 1; i >= 0; i-- {
		c.cleanup[i]()
	}
}

// startCluster starts n coordinators: on SQLite in a temporary directory
// when dsn is "" (n must be 1), else on a fresh schema of the PostgreSQL
// database dsn. They all start before any worker connects (a coordinator
// starting ends every session open in its store).
func startCluster(ctx context.Context, bin, dsn string, n int) (*cluster, error) {
	cl := &cluster{}
	var storeArgs []string
	if dsn == "" {
		if n != 1 {
			return nil, fmt.Errorf("SQLite takes one coordinator; give -store pg or a postgres:// URL for %d", n)
		}
		dir, err := os.MkdirTemp("", "crowdrun-load-")
		if err != nil {
			return nil, err
		}
		cl.cleanup = append(cl.cleanup, func() { os.RemoveAll(dir) })
		storeArgs = []string{"--data", dir}
		cl.desc = "SQLite in " + dir
	} else {
		schemaDSN, drop, err := freshSchema(ctx, dsn)
		if err != nil {
			return nil, err
		}
		cl.cleanup = append(cl.cleanup, drop)
		storeArgs = []string{"--store", schemaDSN}
		cl.desc = "PostgreSQL " + postgres.Redact(schemaDSN)
	}
	out, err := exec.CommandContext(ctx, bin, append([]string{"token", "create", "--create", "--owner", "load"}, storeArgs...)...).Output()
	if err != nil {
		cl.stop()
		return nil, fmt.Errorf("token create: %w", err)
	}
	cl.token = strings.TrimSpace(string(out))
	for i := 0; i < n; i++ {
		s, err := startServe(bin, storeArgs...)
		if err != nil {
			cl.stop()
			return nil, err
		}
		cl.servers = append(cl.servers, s)
	}
	pids := []string{}
	for _, s := range cl.servers {
		pids = append(pids, fmt.Sprintf("%d on %s", s.cmd.Process.Pid, s.url))
	}
	cl.desc = fmt.Sprintf("%d coordinator(s) (pid %s) on %s", n, strings.Join(pids, ", "), cl.desc)
	return cl, nil
}

// storeDSN is the store a flag names: "pg" starts a throwaway cluster
// (stopped by stop), anything else is used as it is.
func storeDSN(ctx context.Context, flag string) (dsn string, stop func(), err error) {
	if flag != "pg" {
		return flag, func() {}, nil
	}
	return startPostgres(ctx)
}

// startPostgres starts a throwaway cluster with scripts/pg.sh (it stops by
// itself when this process exits, whatever happens).
func startPostgres(ctx context.Context) (dsn string, stop func(), err error) {
	script, err := pgscript.Find()
	if err != nil {
		return "", nil, fmt.Errorf("%w: run from the repository, or give a postgres:// URL", err)
	}
	c, err := pgscript.Start(ctx, script)
	if err != nil {
		return "", nil, err
	}
	return c.DSN, func() { c.Stop() }, nil
}

// freshSchema creates an empty schema in the database at dsn and returns a
// DSN whose sessions use it, and a function that drops it.
func freshSchema(ctx context.Context, dsn string) (string, func(), error) {
	// Parsed as the coordinators parse it: pgxpool's pool_* parameters
	// (the coordinators' pool size) are not the server's.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", postgres.Redact(dsn), err)
	}
	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy()) }
	conn, err := connect(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to %s: %w", postgres.Redact(dsn), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("load_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		if c, err := connect(context.Background()); err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+name+` CASCADE`)
			c.Close(context.Background())
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " search_path=" + name, drop, nil
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// latencies collects lease latencies: lease_request sent → its leases
// received, as a worker sees it; and counts the results fake workers sent.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration

	results  atomic.Int64
	want     int64         // results after which the job may be finished
	allSent  chan struct{} // closed when results reaches want
	sentOnce sync.Once
}

// sent counts n results sent.
func (l *latencies) sent(n int) {
	if l.results.Add(int64(n)) >= l.want && l.allSent != nil {
		l.sentOnce.Do(func() { close(l.allSent) })
	}
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// quantile: 0 when there is no sample.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

type taskResult struct {
	mode               string
	done               int
	submitted, elapsed time.Duration
	p50, p99           time.Duration
	leases             int
	rssMiB             float64
}

func (r *taskResult) rate() float64 { return float64(r.done) / r.elapsed.Seconds() }

// runTasks submits one job of tiny tasks to the first coordinator, connects
// the workers to the coordinators in turn, and waits for the job to finish.
func runTasks(ctx context.Context, cl *cluster, o *taskOpts) (*taskResult, error) {
	wasm, err := os.ReadFile(o.module)
	if err != nil {
		return nil, err
	}
	c := &api.Client{Server: cl.servers[0].url, Token: cl.token}
	req := &api.SubmitRequest{Name: "load", Module: wasm, MaxError: o.maxError}
	for i := 0; i < o.n; i++ {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(strconv.Itoa(i) + "\n")})
	}
	t0 := time.Now()
	job, err := c.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	r := &taskResult{submitted: time.Since(t0), mode: "real workers (sandbox runs each task)"}
	if o.fake {
		r.mode = "fake workers (no sandbox run)"
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var eng *sandbox.Engine
	if !o.fake {
		if eng, err = sandbox.NewEngine(ctx); err != nil {
			return nil, err
		}
		defer eng.Close(context.Background())
	}
	lat := &latencies{want: int64(o.n), allSent: make(chan struct{})}
	t1 := time.Now()
	for i := 0; i < o.workers; i++ {
		wg.Add(1)
		name := fmt.Sprintf("load-%d", i)
		addr := cl.servers[i%len(cl.servers)].url
		go func() {
			defer wg.Done()
			if o.fake {
				fakeWorker(wctx, addr, name, o.slots, lat)
				return
			}
			w, err := worker.New(worker.Config{Server: addr, Name: name, Slots: o.slots, Engine: eng, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				w.Run(wctx)
			}
		}()
	}
	// The job's own finishing time ends the run, so the polling can be
	// slow: each poll costs the store a pass over the job's tasks (its
	// counts), which would otherwise weigh on what is measured. (Reading
	// the new results instead costs the coordinator two blob reads per
	// task.) Real workers: every 2 s. Fake workers count the results they
	// send, and the job cannot finish before there is one per task: until
	// then it is polled every 10 s only (in case it ends otherwise, e.g.
	// cancelled), after every 100 ms until it is no longer running (a job
	// nearly done costs its counts little: few tasks are pending). Polls
	// in the middle of a run cost the most (PostgreSQL: 15,000 buffers
	// and about 0.1 s of server time at 20,000 tasks, docs/store.md).
	var j *api.Job
	for {
		j, err = c.Job(ctx, job.ID)
		if err != nil || j.State != "running" {
			break
		}
		if !o.fake {
			time.Sleep(2 * time.Second)
			continue
		}
		select {
		case <-lat.allSent:
			time.Sleep(100 * time.Millisecond)
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
	}
	r.elapsed = time.Since(t1)
	if j != nil && j.FinishedAt != nil && j.FinishedAt.After(t1) {
		r.elapsed = j.FinishedAt.Sub(t1)
	}
	for _, s := range cl.servers {
		mem, _ := rss(s.cmd.Process.Pid)
		r.rssMiB += float64(mem) / (1 << 20)
	}
	cancel()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	r.done = j.Tasks.Done
	r.p50, r.p99 = lat.quantile(0.5), lat.quantile(0.99)
	r.leases = len(lat.d)
	return r, nil
}

// fakeWorker speaks the protocol and answers every lease at once with the
// task's stdin as its stdout.
func fakeWorker(ctx context.Context, url, name string, slots int, lat *latencies) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxMessage)
	var id uint64
	asked := map[uint64]time.Time{} // lease_request id → when it was sent
	send := func(m protocol.Message) error {
		id++
		protocol.Hdr(m).ID = id
		b, _ := protocol.Encode(m)
		if _, ok := m.(*protocol.LeaseRequest); ok {
			asked[id] = time.Now()
		}
		return ws.Write(ctx, websocket.MessageText, b)
	}
	send(&protocol.Hello{Protocol: protocol.Version, Worker: name, Slots: slots})
	send(&protocol.LeaseRequest{Max: slots})
	hb := time.NewTicker(time.Second)
	defer hb.Stop()
	msgs := make(chan protocol.Message, 16)
	go func() {
		defer close(msgs)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if m, err := protocol.Decode(b); err == nil {
				msgs <- m
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			send(&protocol.Heartbeat{})
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if ls, ok := m.(*protocol.Leases); ok {
				if t, ok := asked[ls.ReplyTo]; ok {
					lat.add(time.Since(t))
					delete(asked, ls.ReplyTo)
				}
				for _, l := range ls.Leases {
					send(&protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin})
				}
				lat.sent(len(ls.Leases))
				send(&protocol.LeaseRequest{Max: slots})
			}
		}
	}
}
