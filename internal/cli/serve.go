package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/cpuprofile"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

// envStore is --store's default.
const envStore = "CROWDRUN_STORE"

// envCPUProfile is --cpuprofile's default: set in the environment of a
// load run (crowdrun-load), it profiles every coordinator it starts.
const envCPUProfile = "CROWDRUN_CPUPROFILE"

func (m *Main) serveCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", "[--addr HOST:PORT] [--data DIR | --store postgres://...] [flags]")
	addr := fs.String("addr", "127.0.0.1:7070", "listen on `HOST:PORT` (port 0: any free port)")
	metricsAddr := fs.String("metrics-addr", "", "serve GET /metrics (Prometheus) on this `HOST:PORT` instead of --addr, e.g. a\nloopback or private address only the monitoring system reaches")
	data := fs.String("data", "crowdrun-data", "keep the store in `DIR` (SQLite), unless --store names another")
	storeURL := fs.String("store", os.Getenv(envStore), "keep the store in the PostgreSQL database at this `URL` (postgres://user@host/db); default $"+envStore+", else SQLite in --data")
	var maxStore uint64
	fs.Var(sizeFlag{&maxStore}, "max-store-size", "SQLite: refuse writes that would grow the database beyond `SIZE` (as a full disk would: they fail\nwith 'store full' and succeed once space is freed); 0: no limit but the disk's")
	maxReq := uint64(coordinator.DefaultMaxRequestBytes)
	fs.Var(sizeFlag{&maxReq}, "max-request", "largest accepted submission `SIZE`")
	quiet := fs.Bool("quiet", false, "log warnings and errors only")
	every := fs.Uint64("checkpoint-every", 0, "fix the checkpoint interval of new tasks at this much `FUEL` (0: T* from measured churn, docs/checkpointing.md)")
	noCk := fs.Bool("no-checkpoints", false, "store modules without the suspend rewrite: replicas run whole, without checkpoints")
	prior := fs.Duration("session-prior", 0, "prior mean worker session length τ₀ `DURATION` of the interval estimate (default 5m)")
	hb := fs.Duration("heartbeat", 0, "how often (`DURATION`) workers must send a heartbeat (default 2s)")
	gcEvery := fs.Duration("blob-gc-interval", 0, "delete blobs no row names every `DURATION` (default 1h; negative: never)")
	gcGrace := fs.Duration("blob-gc-grace", 0, "delete only unreferenced blobs older than `DURATION` (default 1h)")
	cpuProfile := fs.String("cpuprofile", os.Getenv(envCPUProfile), "write a CPU profile (go tool pprof) of the whole run to `FILE`; a %d in it is replaced by the process ID (default $"+envCPUProfile+")")
	pprofAddr := fs.String("pprof-addr", os.Getenv(envPprofAddr), "serve Go's profiles (net/http/pprof, /debug/pprof/) on this `HOST:PORT`, a listener of its own (default $"+envPprofAddr+")")
	ttl := fs.Duration("lease-ttl", 0, "how long (`DURATION`) a lease lives after its last renewal, and a coordinator sharing the store after its last heartbeat (default 15s)")
	tslots := fs.Int("trusted-slots", 1, "re-run at most `N` disputed links at once on the coordinator itself (when no trusted worker\ntakes them: docs/trust.md §2)")
	tcpu := fs.Float64("trusted-cpu", coordinator.DefaultTrustedCPU, "in-process re-runs use at most `F` of one core over time, all slots together (0 < F ≤\n--trusted-slots); more wait in line")
	stranded := fs.Duration("stranded-after", 0, "confirm a finished task on trusted ground when its checks (audits, a partner) have waited `DURATION`\nwith no worker of another account connected (default 30s; negative: never: docs/trust.md §6)")
	// Abuse limits (docs/abuse.md): 0 keeps a default, a negative value
	// turns the limit off.
	qJobs := fs.Int("quota-jobs", 0, fmt.Sprintf("each owner may have at most `N` running jobs (default %d; negative: unlimited)", coordinator.DefaultQuotaJobs))
	qTasks := fs.Int64("quota-tasks", 0, fmt.Sprintf("each owner's running jobs may hold at most `N` unfinished tasks (default %d; negative: unlimited)", coordinator.DefaultQuotaTasks))
	qBytes := quotaSize{v: 0}
	fs.Var(&qBytes, "quota-bytes", "each owner's running jobs may hold at most `SIZE` of submitted input: modules, stdin, files,\nargs, env (default 1GiB; -1: unlimited)")
	qFuel := fs.Int64("quota-fuel", 0, "CPU quota: each owner's unfinished tasks may commit at most `FUEL` (fuel limit × replicas,\nsummed); jobs then need a fuel limit (default: unlimited)")
	defFuel := fs.Uint64("default-fuel", 0, "the fuel limit of a job that gives none (default: none)")
	ownerRate := fs.Float64("owner-rate", 0, fmt.Sprintf("API requests per second each owner may make, after a burst of --owner-burst (default %g; negative: no limit)", coordinator.DefaultOwnerRate.PerSecond))
	ownerBurst := fs.Int("owner-burst", 0, fmt.Sprintf("requests an owner may make at once (default %d)", coordinator.DefaultOwnerRate.Burst))
	ipRate := fs.Float64("ip-rate", 0, fmt.Sprintf("requests per second without a valid API token (pages, worker connections, failed authentications)\neach remote address may make, after a burst of --ip-burst (default %g; negative: no limit)", coordinator.DefaultIPRate.PerSecond))
	ipBurst := fs.Int("ip-burst", 0, fmt.Sprintf("such requests an address may make at once (default %d)", coordinator.DefaultIPRate.Burst))
	helloTimeout := fs.Duration("hello-timeout", 0, fmt.Sprintf("close a worker connection that has not sent a valid hello within `DURATION` (default %v)", coordinator.DefaultHelloTimeout))
	maxPending := fs.Int("max-pending", 0, fmt.Sprintf("at most `N` worker connections may be waiting to say hello at once (default %d)", coordinator.DefaultMaxPending))
	maxPendingIP := fs.Int("max-pending-per-ip", 0, fmt.Sprintf("at most `N` of them from one address (default %d)", coordinator.DefaultMaxPendingPerIP))
	holdFactor := fs.Float64("lease-hold-factor", 0, fmt.Sprintf("take back a lease that saved nothing (no result, no checkpoint) for `F` × its job's timeout_ms\nplus --lease-hold-grace, however its worker renews it (default %d; negative: never)", coordinator.DefaultLeaseHoldFactor))
	holdGrace := fs.Duration("lease-hold-grace", 0, fmt.Sprintf("see --lease-hold-factor: time for fetching and compiling the module (default %v)", coordinator.DefaultLeaseHoldGrace))
	var operators listFlag
	fs.Var(&operators, "operator", "the owner `NAME` (of API tokens) who may read the operator's overview on /dashboard (repeat for more)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("serve takes no arguments")
	}
	if *tslots < 1 {
		return usageError("--trusted-slots must be at least 1")
	}
	if !(*tcpu > 0 && *tcpu <= float64(*tslots)) {
		return usageError("--trusted-cpu %v: want a share of one core above 0 and at most --trusted-slots (%d): each slot runs on one core", *tcpu, *tslots)
	}
	if *every != 0 && *every < 1024 {
		return usageError("--checkpoint-every must be 0 or at least 1024")
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	if err := checkStoreURL(*storeURL); err != nil {
		return err
	}
	if maxStore != 0 && *storeURL != "" {
		return usageError("--max-store-size applies to SQLite (--data) only: a PostgreSQL server's space is its own to limit")
	}
	if maxStore != 0 && maxStore < 1<<20 {
		return usageError("--max-store-size %d: want 0 or at least 1MiB", maxStore)
	}
	if *cpuProfile != "" {
		stop, err := cpuprofile.Start(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *pprofAddr != "" {
		stop, err := servePprof(m, *pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"--max-pending", *maxPending}, {"--max-pending-per-ip", *maxPendingIP}, {"--owner-burst", *ownerBurst}, {"--ip-burst", *ipBurst}} {
		if v.n < 0 {
			return usageError("%s must not be negative", v.name)
		}
	}
	if *helloTimeout < 0 || *holdGrace < 0 {
		return usageError("--hello-timeout and --lease-hold-grace must not be negative")
	}
	limits := serveLimits{quotas: coordinator.Quotas{Jobs: *qJobs, Tasks: *qTasks, Bytes: qBytes.v, Fuel: *qFuel}, defaultFuel: *defFuel,
		ownerRate: coordinator.Rate{PerSecond: *ownerRate, Burst: *ownerBurst}, ipRate: coordinator.Rate{PerSecond: *ipRate, Burst: *ipBurst},
		helloTimeout: *helloTimeout, maxPending: *maxPending, maxPendingPerIP: *maxPendingIP, holdFactor: *holdFactor, holdGrace: *holdGrace}
	limits.ownerRate = withRateDefaults(limits.ownerRate, coordinator.DefaultOwnerRate)
	limits.ipRate = withRateDefaults(limits.ipRate, coordinator.DefaultIPRate)
	o := serveOptions{limits: limits, addr: *addr, metricsAddr: *metricsAddr, data: *data, storeURL: *storeURL, maxStore: int64(maxStore), maxRequest: int64(maxReq), log: log, checkpointEvery: *every, noCheckpoints: *noCk, heartbeat: *hb,
		blobGCInterval: *gcEvery, blobGCGrace: *gcGrace, leaseTTL: *ttl, trustedSlots: *tslots, trustedCPU: *tcpu, strandedAfter: *stranded, operators: operators}
	if *prior > 0 {
		o.sessionPrior = checkpoint.Prior{Mean: *prior, Weight: checkpoint.DefaultPrior.Weight}
	}
	return serve(ctx, m, o)
}

// serveLimits are serve's abuse limits (coordinator.Config's fields of
// the same names).
type serveLimits struct {
	quotas                      coordinator.Quotas
	defaultFuel                 uint64
	ownerRate, ipRate           coordinator.Rate
	helloTimeout                time.Duration
	maxPending, maxPendingPerIP int
	holdFactor                  float64
	holdGrace                   time.Duration
}

// withRateDefaults fills what a rate flag left zero: a burst given alone
// keeps the default rate, a rate given alone the default burst.
func withRateDefaults(r, d coordinator.Rate) coordinator.Rate {
	if r.PerSecond < 0 {
		return r
	}
	if r.PerSecond == 0 {
		r.PerSecond = d.PerSecond
	}
	if r.Burst == 0 {
		r.Burst = d.Burst
	}
	return r
}

// quotaSize is a byte size flag that also takes -1 (unlimited).
type quotaSize struct{ v int64 }

func (q *quotaSize) String() string {
	if q == nil || q.v == 0 {
		return "0B"
	}
	if q.v < 0 {
		return "-1"
	}
	return FormatSize(uint64(q.v))
}

func (q *quotaSize) Set(s string) error {
	if s == "-1" {
		q.v = -1
		return nil
	}
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt64 {
		return fmt.Errorf("%s is too large", s)
	}
	q.v = int64(n)
	return nil
}

type serveOptions struct {
	limits     serveLimits
	addr, data string
	// metricsAddr: GET /metrics is served there, not on addr ("": on addr).
	metricsAddr string
	// metricsReady is called once the metrics listener listens.
	metricsReady func(url string)
	storeURL     string // a PostgreSQL database; "": SQLite in data
	maxStore     int64  // SQLite: the database's size limit (0: none)
	maxRequest   int64
	log          *slog.Logger
	ready        func(url string) // called once listening

	checkpointEvery uint64
	noCheckpoints   bool
	strandedAfter   time.Duration
	sessionPrior    checkpoint.Prior
	heartbeat       time.Duration
	blobGCInterval  time.Duration
	blobGCGrace     time.Duration
	leaseTTL        time.Duration
	idlePoll        time.Duration // tests: coordinator.Config.IdlePoll
	trustedSlots    int
	trustedCPU      float64
	operators       []string // owners who may read the operator's overview
}

// checkStoreURL refuses a --store that is not a PostgreSQL URL ("" is
// SQLite, the default), naming it without its password.
func checkStoreURL(u string) error {
	if u != "" && !postgres.IsURL(u) {
		return usageError("--store %q: want a postgres:// or postgresql:// URL (SQLite is the default: give --data DIR)", postgres.Redact(u))
	}
	return nil
}

// storeName is how messages name a store: the data directory (SQLite) or
// the database URL without its password.
func storeName(data, storeURL string) string {
	if storeURL != "" {
		return postgres.Redact(storeURL)
	}
	return data
}

// serve runs a coordinator until ctx is cancelled.
func serve(ctx context.Context, m *Main, o serveOptions) error {
	var db store.Store
	where := storeName(o.data, o.storeURL)
	if o.storeURL != "" {
		pg, err := postgres.Open(ctx, o.storeURL)
		if err != nil {
			return err
		}
		db = pg
	} else {
		if err := os.MkdirAll(o.data, 0o700); err != nil {
			return err
		}
		unlock, err := lockDataDir(o.data)
		if err != nil {
			return err
		}
		defer unlock()
		lite, err := sqlite.OpenDirWith(ctx, o.data, sqlite.Options{MaxBytes: o.maxStore})
		if err != nil {
			return err
		}
		db = lite
	}
	defer db.Close()
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, Logger: o.log, MaxRequestBytes: o.maxRequest,
		CheckpointEvery: o.checkpointEvery, NoCheckpoints: o.noCheckpoints, SessionPrior: o.sessionPrior, HeartbeatInterval: o.heartbeat,
		BlobGCInterval: o.blobGCInterval, BlobGCGrace: o.blobGCGrace,
		LeaseTTL: o.leaseTTL, Shared: o.storeURL != "", IdlePoll: o.idlePoll, TrustedSlots: o.trustedSlots, TrustedCPU: o.trustedCPU,
		StrandedAfter: o.strandedAfter, Operators: o.operators,
		MetricsElsewhere: o.metricsAddr != "",
		Quotas:           o.limits.quotas, DefaultLimits: store.Limits{Fuel: o.limits.defaultFuel},
		OwnerRate: o.limits.ownerRate, IPRate: o.limits.ipRate, HelloTimeout: o.limits.helloTimeout,
		MaxPending: o.limits.maxPending, MaxPendingPerIP: o.limits.maxPendingPerIP,
		LeaseHoldFactor: o.limits.holdFactor, LeaseHoldGrace: o.limits.holdGrace})
	if err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		return err
	}
	defer c.Close()
	if o.metricsAddr != "" {
		stop, err := serveMetrics(m, o, c.MetricsHandler())
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	srv := c.Server() // header deadline and size, idle timeout (docs/abuse.md)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(m.Stdout, "crowdrun: coordinator listening on %s (store %s); dashboard: %s/dashboard\n", url, where, url)
	if o.ready != nil {
		o.ready(url)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx) // worker connections are hijacked: c.Close ends them
	c.Close()
	<-errc
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// serveMetrics serves GET /metrics alone on o.metricsAddr (--metrics-addr)
// until stop, which waits for it.
func serveMetrics(m *Main, o serveOptions, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", o.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/metrics"
	fmt.Fprintf(m.Stdout, "crowdrun: metrics on %s\n", url)
	if o.metricsReady != nil {
		o.metricsReady(url)
	}
	return func() { srv.Close(); <-done }, nil
}
