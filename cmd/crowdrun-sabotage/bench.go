package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crowdrun/crowdrun/examples"
	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/rerun"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Options configure the benchmark.
type Options struct {
	Tasks, Workers int
	MaxError       float64
	Q              float64 // strategy q
	Late           uint64  // strategy late
	Churn          int     // strategy churn
	Grid           uint64
	Inputs         int
	// Above: the inputs are the first primes above it; a task's fuel grows
	// with its square root (~1.2·10⁵ fuel at 10⁹).
	Above   uint64
	Seed    uint64
	Timeout time.Duration
	Verbose bool
	Keep    bool // keep the store's directory
}

func defaultOptions() Options {
	return Options{Tasks: 10000, Workers: 20, MaxError: 1e-6, Q: 0.5, Late: 7, Churn: 10, Grid: 12_000, Inputs: 64, Above: 1_000_000_000, Seed: 1, Timeout: 2 * time.Hour}
}

func (o *Options) validate() error {
	switch {
	case o.Tasks < 1:
		return errors.New("-tasks must be at least 1")
	case o.Workers < 2:
		return errors.New("-workers must be at least 2: verification needs another account")
	case o.MaxError <= 0 || o.MaxError > 1:
		return errors.New("-max-error must be in (0, 1]")
	case o.Q < 0 || o.Q > 1:
		return errors.New("-q must be in [0, 1]")
	case o.Grid == 0:
		return errors.New("-grid must be positive")
	case o.Above < 3 || o.Above > 1<<62:
		return errors.New("-above must be in [3, 2⁶²]")
	case o.Inputs < 1:
		return errors.New("-inputs must be at least 1")
	}
	return nil
}

// Report is one run's figures.
type Report struct {
	Strategy              string
	F                     float64
	Tasks, Honest, Sabot  int
	Wrong, WrongFinal     int // result lines that differ from the reference; tasks whose last one does
	WrongSample           []string
	Disputed, Lines       int
	ReExecuted            int    // tasks with more than one replica executed
	Executed, Useful      uint64 // fuel
	Trusted               uint64 // trusted re-run fuel
	SabotCredit           uint64
	HonestCredit          uint64
	HonestFuel            uint64 // fuel the honest accounts executed
	Lies                  int64
	Caught, HonestBanned  int
	Identities            int // saboteur accounts used
	Curve                 []float64
	CurveEvery            int
	Trust                 api.Trust
	SabotBanned, Accounts int
	Credit                *CreditCheck
	HonestVerified        uint64 // the honest accounts' verified fuel, recomputed (Credit)
}

func (r *Report) Redundancy() float64 {
	if r.Useful == 0 {
		return math.NaN()
	}
	return float64(r.Executed+r.Trusted) / float64(r.Useful)
}

func (r *Report) print(w io.Writer, took time.Duration) {
	fmt.Fprintf(w, "\n%s, f=%.2f (%d honest, %d saboteurs, %d saboteur identities), %d tasks in %v\n", r.Strategy, r.F, r.Honest, r.Sabot, r.Identities, r.Tasks, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  wrong results accepted   %d (result lines %d; still wrong at the end %d; disputed %d)\n", r.Wrong, r.Lines, r.WrongFinal, r.Disputed)
	fmt.Fprintf(w, "  lies told                %d; saboteur accounts banned %d; lies proved (job) %d; honest accounts banned %d\n", r.Lies, r.Caught, r.Trust.LiesCaught, r.HonestBanned)
	fmt.Fprintf(w, "  tasks re-executed        %d of %d\n", r.ReExecuted, r.Tasks)
	fmt.Fprintf(w, "  redundancy               %.3f  (executed %d + trusted %d fuel / useful %d)\n", r.Redundancy(), r.Executed, r.Trusted, r.Useful)
	fmt.Fprintf(w, "  trusted re-run fuel      %d (%.4f of useful; %d disputes)\n", r.Trusted, float64(r.Trusted)/float64(max(r.Useful, 1)), r.Trust.Disputes)
	fmt.Fprintf(w, "  verification             audits %d, extra replicas %d, reopened %d, unsettled %d\n", r.Trust.Audits, r.Trust.ExtraReplicas, r.Trust.Reopened, r.Trust.Unsettled)
	fmt.Fprintf(w, "  credit to saboteurs      %d\n", r.SabotCredit)
	ratio := math.NaN()
	if r.HonestFuel > 0 {
		ratio = float64(r.HonestCredit) / float64(r.HonestFuel)
	}
	fmt.Fprintf(w, "  credit to honest         %d for %d fuel executed (%.3f)\n", r.HonestCredit, r.HonestFuel, ratio)
	if c := r.Credit; c != nil {
		agree := "yes"
		if len(c.APIMismatch) > 0 {
			agree = fmt.Sprintf("NO (%d accounts: %v)", len(c.APIMismatch), c.APIMismatch[:min(3, len(c.APIMismatch))])
		}
		fmt.Fprintf(w, "  credit recomputed        %d standing grants of %d (%d revoked): wrong fuel %d, for wrong results %d, not run by the account %d, twice %d; /v1/credit agrees: %s\n",
			c.Standing, c.Grants, c.Revoked, c.WrongFuel, c.WrongResult, c.NotRun, c.Twice, agree)
		fmt.Fprintf(w, "  honest credit = verified fuel: %v (%d credited, %d recomputed from honest traces)\n", r.HonestCredit == r.HonestVerified && c.Clean(), r.HonestCredit, r.HonestVerified)
		for _, s := range c.Samples {
			fmt.Fprintf(w, "    credit: %s\n", s)
		}
	}
	for _, s := range r.WrongSample {
		fmt.Fprintf(w, "    wrong: %s\n", s)
	}
	var b strings.Builder
	for _, c := range r.Curve {
		fmt.Fprintf(&b, " %.3f", c)
	}
	fmt.Fprintf(w, "  redundancy per %d tasks:%s\n", r.CurveEvery, b.String())
}

// inputs are the first n primes above `above`: each factors in about
// 4·√p fuel (trial division by 6k±1 up to its square root: ~1.2·10⁵ fuel
// just above 10⁹, ~1.2·10⁸ just above 10¹⁵).
func inputs(n int, above uint64) []string {
	var out []string
	for p := above | 1; len(out) < n; p += 2 {
		if new(big.Int).SetUint64(p).ProbablyPrime(32) {
			out = append(out, fmt.Sprintf("%d\n", p))
		}
	}
	return out
}

type reference struct {
	status   string
	exitCode uint32
	stdout   []byte
	fuel     uint64
	// ckpt is the fuel at each checkpoint of a traced run on the grid
	// (seq → fuel; seq 0 → 0).
	ckpt map[uint64]uint64
}

// bench runs one strategy at one fraction of saboteurs.
func bench(ctx context.Context, o Options, strategy string, f float64) (*Report, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "crowdrun-sabotage-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.Keep {
			fmt.Fprintln(os.Stderr, "store kept in", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "c.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return nil, err
	}
	defer eng.Close(context.WithoutCancel(ctx))
	logger := slog.New(slog.DiscardHandler)
	if o.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// Every simulated worker comes from one loopback address: the abuse
	// limits on addresses (docs/abuse.md) are off, or they would be what
	// this measures.
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, Engine: eng, Logger: logger, CheckpointEvery: o.Grid,
		Rand:   rand.New(rand.NewPCG(o.Seed, 0x5ab07a9e)),
		IPRate: coordinator.Rate{PerSecond: -1}, OwnerRate: coordinator.Rate{PerSecond: -1}, MaxPendingPerIP: 1 << 20, MaxPending: 1 << 20})
	if err != nil {
		return nil, err
	}
	if err := c.Open(ctx); err != nil {
		return nil, err
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	defer srv.CloseClientConnections()
	const secret = "sabotage-owner"
	if _, err := db.TokenInsert(ctx, &store.TokenInsertParams{Owner: "bench", Name: "bench", Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
		return nil, err
	}
	cl := &api.Client{Server: srv.URL, Token: secret}

	ins := inputs(o.Inputs, o.Above)
	req := &api.SubmitRequest{Name: "sabotage-" + strategy, Module: examples.Factor, MaxError: o.MaxError}
	for i := range o.Tasks {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(ins[i%len(ins)])})
	}
	job, err := cl.Submit(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("submitting: %w", err)
	}
	refs, err := references(ctx, eng, srv.URL, job.ModuleHash, ins, o.Grid)
	if err != nil {
		return nil, err
	}

	r := &Report{Strategy: strategy, F: f, Tasks: o.Tasks}
	r.Sabot = int(math.Round(f * float64(o.Workers)))
	r.Honest = o.Workers - r.Sabot
	if r.Honest < 1 {
		return nil, fmt.Errorf("no honest worker among %d at f=%g", o.Workers, f)
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	var lies atomic.Int64
	var identities atomic.Int64
	newWorker := func(name string, t worker.Tamper) (*worker.Worker, error) {
		return worker.New(worker.Config{Server: srv.URL, Name: name, Slots: 1, Engine: eng, Tamper: t, Ticks: 1,
			Grace: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	}
	for i := range r.Honest {
		w, err := newWorker(fmt.Sprintf("h%d", i), nil)
		if err != nil {
			return nil, err
		}
		wg.Go(func() { w.Run(wctx) })
	}
	for i := range r.Sabot {
		s := strategy
		if s == "mixed" {
			s = allStrategies[i%len(allStrategies)]
		}
		wg.Go(func() {
			// One saboteur: an identity at a time; churn replaces it.
			for gen := 0; wctx.Err() == nil; gen++ {
				name := fmt.Sprintf("s%d-%s-%d", i, s, gen)
				sab := newSaboteur(o, s, name, &lies)
				w, err := newWorker(name, sab)
				if err != nil {
					return
				}
				identities.Add(1)
				ictx, stop := context.WithCancel(wctx)
				done := make(chan struct{})
				go func() { defer close(done); w.Run(ictx) }()
				if s == "churn" {
					// Replaced after -churn results, or as soon as it is
					// caught: a banned account gets no work, which its
					// owner notices (modelled by asking the store).
					t := time.NewTicker(100 * time.Millisecond)
				wait:
					for {
						select {
						case <-sab.quit:
							break wait
						case <-done:
							break wait
						case <-t.C:
							if a, err := db.AccountGet(wctx, "anon:"+name); err == nil && !a.BannedAt.IsZero() {
								break wait
							}
						}
					}
					t.Stop()
				} else {
					select {
					case <-sab.quit:
					case <-done:
					}
				}
				stop()
				<-done
				if s != "churn" {
					// A banned identity stays out: Run returns only
					// when told to stop or refused for good.
					<-wctx.Done()
				}
			}
		})
	}

	if o.Verbose {
		wg.Go(func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
				}
				if j, err := cl.Job(wctx, job.ID); err == nil {
					fmt.Fprintf(os.Stderr, "progress: %+v %+v\n", j.Tasks, j.Trust)
				}
			}
		})
	}
	// Every result line, in order; the job ends when every task settled.
	var lines []api.TaskResult
	if err := cl.Results(ctx, job.ID, 0, true, func(t *api.TaskResult) error {
		lines = append(lines, *t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("following results: %w", err)
	}
	stopWorkers()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.Lies = lies.Load()
	r.Identities = int(identities.Load())

	last := map[int]*api.TaskResult{}
	for i := range lines {
		t := &lines[i]
		r.Lines++
		last[t.TaskIndex] = t
		if t.State == "disputed" {
			r.Disputed++
			continue
		}
		if ref := refs[ins[t.TaskIndex%len(ins)]]; !matches(t, ref) {
			r.Wrong++
			if len(r.WrongSample) < 5 {
				r.WrongSample = append(r.WrongSample, fmt.Sprintf("task %d: %s exit %d fuel %d stdout %q (reference %s exit %d fuel %d stdout %q); verified by %s %v, workers %v",
					t.TaskIndex, t.Status, t.ExitCode, t.Fuel, clip(t.Stdout), ref.status, ref.exitCode, ref.fuel, clip(ref.stdout), t.Verification.Method, t.Verification.By, t.Workers))
			}
		}
	}
	if len(last) != o.Tasks {
		return nil, fmt.Errorf("results for %d tasks of %d", len(last), o.Tasks)
	}
	for _, t := range last {
		if t.State != "disputed" && !matches(t, refs[ins[t.TaskIndex%len(ins)]]) {
			r.WrongFinal++
		}
	}

	// Fuel executed, from the store's segments (audits included). A
	// segment's end is the worker's claim: cap it at the task's true fuel.
	segs, err := db.SegmentList(ctx, &store.SegmentListParams{JobID: job.ID, Limit: math.MaxInt32})
	if err != nil {
		return nil, err
	}
	every := min(1000, max(1, o.Tasks/10))
	r.CurveEvery = every
	nb := (o.Tasks + every - 1) / every
	execB, usefulB := make([]uint64, nb), make([]uint64, nb)
	replicas := map[int]map[int64]bool{}
	honestFuel := map[string]uint64{}
	for _, g := range segs {
		ref := refs[ins[g.TaskIndex%len(ins)]]
		end := min(max(g.FuelEnd, g.FuelReached), ref.fuel)
		if end <= g.FuelStart {
			continue
		}
		fuel := end - g.FuelStart
		r.Executed += fuel
		execB[g.TaskIndex/every] += fuel
		if replicas[g.TaskIndex] == nil {
			replicas[g.TaskIndex] = map[int64]bool{}
		}
		replicas[g.TaskIndex][g.ReplicaID] = true
		if honestAccount(g.Account) {
			honestFuel[g.Account] += fuel
		}
	}
	for i := range o.Tasks {
		fuel := refs[ins[i%len(ins)]].fuel
		r.Useful += fuel
		usefulB[i/every] += fuel
		if len(replicas[i]) > 1 {
			r.ReExecuted++
		}
	}
	for i := range nb {
		r.Curve = append(r.Curve, float64(execB[i])/float64(max(usefulB[i], 1)))
	}
	for _, f := range honestFuel {
		r.HonestFuel += f
	}
	r.Trusted = uint64(max(c.VerifierStats().TrustedFuel, 0))

	credit, err := cl.Credit(ctx, "", "")
	if err != nil {
		return nil, fmt.Errorf("GET /v1/credit: %w", err)
	}
	apiCredit := map[string]uint64{}
	for _, a := range credit.Accounts {
		apiCredit[a.Account] = a.Total
	}
	r.Credit, err = checkCredit(ctx, db, segs,
		func(idx int) (map[uint64]uint64, uint64) { ref := refs[ins[idx%len(ins)]]; return ref.ckpt, ref.fuel },
		func(idx int) bool {
			t := last[idx]
			return t != nil && t.State == "done" && matches(t, refs[ins[idx%len(ins)]])
		},
		apiCredit)
	if err != nil {
		return nil, fmt.Errorf("recomputing credit: %w", err)
	}
	for acc, v := range r.Credit.Verified {
		if honestAccount(acc) {
			r.HonestVerified += v
		}
	}
	for _, a := range credit.Accounts {
		r.Accounts++
		switch {
		case honestAccount(a.Account):
			r.HonestCredit += a.Total
			if a.Banned {
				r.HonestBanned++
			}
		default:
			r.SabotCredit += a.Total
			if a.Banned {
				r.SabotBanned++
			}
		}
	}
	accs, err := db.AccountList(ctx, &store.AccountListParams{Limit: math.MaxInt32})
	if err != nil {
		return nil, err
	}
	for _, a := range accs {
		if !a.BannedAt.IsZero() {
			if honestAccount(a.ID) {
				r.HonestBanned = max(r.HonestBanned, 1)
			} else {
				r.Caught++
			}
		}
	}
	if j, err := cl.Job(ctx, job.ID); err == nil {
		r.Trust = j.Trust
	}
	return r, nil
}

// honestAccount: the honest workers are named h0, h1, ...; their anonymous
// accounts are "anon:" + name.
func honestAccount(a string) bool { return strings.HasPrefix(a, "anon:h") }

func clip(b []byte) []byte {
	if len(b) > 60 {
		return b[:60]
	}
	return b
}

func matches(t *api.TaskResult, ref reference) bool {
	return t.Status == ref.status && t.ExitCode == ref.exitCode && bytes.Equal(t.Stdout, ref.stdout) && t.Fuel == ref.fuel
}

// references runs each distinct input once, honestly, on the module the
// workers run (fetched from the coordinator and checked against its hash).
func references(ctx context.Context, eng *sandbox.Engine, server, hash string, ins []string, grid uint64) (map[string]reference, error) {
	resp, err := http.Get(server + "/v1/modules/" + hash)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET module: %s", resp.Status)
	}
	bin, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(bin)); got != hash {
		return nil, fmt.Errorf("the module served is %s, not %s", got, hash)
	}
	mod, err := eng.CompileInstrumented(ctx, bin)
	if err != nil {
		return nil, err
	}
	refs := map[string]reference{}
	uniq := append([]string(nil), ins...)
	sort.Strings(uniq)
	for _, in := range uniq {
		if _, ok := refs[in]; ok {
			continue
		}
		var out bytes.Buffer
		rep := eng.Run(ctx, mod, sandbox.Input{Args: []string{worker.Argv0}, Stdin: strings.NewReader(in), Stdout: &out, Stderr: io.Discard}, sandbox.Limits{})
		if rep.Status != sandbox.StatusOK {
			return nil, fmt.Errorf("reference run of %q: %s %s", strings.TrimSpace(in), rep.Status, rep.Message)
		}
		ref := reference{status: string(rep.Status), exitCode: rep.ExitCode, stdout: out.Bytes(), fuel: rep.Fuel, ckpt: map[uint64]uint64{0: 0}}
		// The same run traced on the grid: every checkpoint's true fuel.
		tr, err := rerun.Run(ctx, eng, rerun.Link{Module: mod, Stdin: []byte(in), Grid: grid, Final: true, Trace: true})
		if err != nil {
			return nil, fmt.Errorf("traced reference run of %q: %w", strings.TrimSpace(in), err)
		}
		if tr.Report.Status != rep.Status || tr.Fuel != rep.Fuel || !bytes.Equal(tr.Stdout, ref.stdout) {
			return nil, fmt.Errorf("input %q: the traced run (%s, fuel %d) differs from the plain one (%s, fuel %d)", strings.TrimSpace(in), tr.Report.Status, tr.Fuel, rep.Status, rep.Fuel)
		}
		for _, p := range tr.Trace {
			ref.ckpt[p.Seq] = p.Fuel
		}
		refs[in] = ref
	}
	return refs, nil
}
