package coordinator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
)

// metrics is what GET /metrics exposes (docs/metrics.md): one registry per
// coordinator, never Prometheus's global one, so that several coordinators
// in one process (tests, a load run) count apart. Labels are bounded sets —
// worker kinds, store operations, states, outcomes — never a job, an
// account or a worker name.
//
// Most counters are taken at the store seam (meteredStore): what was
// committed is what is counted, once, whichever goroutine committed it.
// The rest are read at scrape time from what already counts them (the
// verifier's stats, the re-run budget, the checkpoint policy, the store's
// state counts).
type metrics struct {
	reg *prometheus.Registry

	kinds    sync.Map // session ID → worker kind
	sessions *prometheus.GaugeVec
	started  *prometheus.CounterVec

	leasesGranted, leasesExpired *prometheus.CounterVec
	requeued                     *prometheus.CounterVec
	results                      *prometheus.CounterVec

	checkpoints       prometheus.Counter
	checkpointRefused *prometheus.CounterVec
	ckUpload, ckStore prometheus.Histogram
	ckVerify, ckCost  prometheus.Histogram

	tasksSettled              *prometheus.CounterVec
	fuelVerified, fuelRevoked prometheus.Counter
	audits                    *prometheus.CounterVec
	disputes, unsettled       prometheus.Counter
	liesCaught, reopened      prometheus.Counter
	bans                      prometheus.Counter

	storeSeconds *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec

	refusals *prometheus.CounterVec // abuse limits (limits.go)
}

// Reasons a request or connection was refused by a limit (limits.go).
var refusalReasons = []string{"rate_owner", "rate_ip", "quota", "pending_ip", "pending_total", "hello"}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// Worker kinds: what a session's hello says its runtime is. It is the
// worker's claim, used only to split counts; anything else is "other".
const (
	kindNative  = "native"
	kindNode    = "node"
	kindBrowser = "browser"
	kindOther   = "other"
)

var workerKinds = []string{kindNative, kindNode, kindBrowser, kindOther}

func workerKind(runtime string) string {
	name, _, _ := strings.Cut(runtime, " ") // "js/node v20.19.2"
	switch {
	case strings.HasPrefix(name, "go/"):
		return kindNative
	case name == "js/node":
		return kindNode
	case name == "js/browser", name == "js": // js/browser/client.js's default
		return kindBrowser
	}
	return kindOther
}

// storeBuckets span a cached read (tens of µs) to a slow transaction
// (seconds): ×2.5 from 50 µs to 3 s.
var storeBuckets = prometheus.ExponentialBuckets(50e-6, 2.5, 13)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.sessions = f.gaugeVec("crowdrun_worker_sessions", "Worker sessions connected to this coordinator, by the kind of runtime their hello named.", "kind")
	m.started = f.counterVec("crowdrun_worker_sessions_started_total", "Worker sessions started on this coordinator, by kind.", "kind")
	m.leasesGranted = f.counterVec("crowdrun_leases_granted_total", "Replica leases granted to workers, by worker kind.", "kind")
	m.leasesExpired = f.counterVec("crowdrun_leases_expired_total", "Leases requeued because their deadline passed without a renewal, by the kind of worker that held them.", "kind")
	m.requeued = f.counterVec("crowdrun_leases_requeued_total", "Leases requeued because their session ended (reason session_ended) or their coordinator was found dead (coordinator_gone).", "reason")
	m.results = f.counterVec("crowdrun_results_total", "Replica results reported by workers: accepted, or refused (the lease was not held).", "outcome")
	for _, k := range workerKinds {
		m.sessions.WithLabelValues(k)
		m.started.WithLabelValues(k)
		m.leasesGranted.WithLabelValues(k)
		m.leasesExpired.WithLabelValues(k)
	}
	for _, r := range []string{"session_ended", "coordinator_gone"} {
		m.requeued.WithLabelValues(r)
	}
	for _, o := range []string{"accepted", "refused"} {
		m.results.WithLabelValues(o)
	}

	m.refusals = f.counterVec("crowdrun_refused_total", "Requests and worker connections refused by an abuse limit: rate_owner, rate_ip, quota, pending_ip, pending_total (WebSocket connections not yet welcomed), hello (no valid hello in time or too large).", "reason")
	for _, r := range refusalReasons {
		m.refusals.WithLabelValues(r)
	}

	m.checkpoints = f.counter("crowdrun_checkpoints_total", "Checkpoints verified and recorded.")
	m.checkpointRefused = f.counterVec("crowdrun_checkpoints_refused_total", "Checkpoints refused, by the protocol error code the worker was sent.", "code")
	for _, c := range []string{protocol.CodeBadCheckpoint, protocol.CodeTooLarge, protocol.CodeLeaseNotHeld, protocol.CodeInternal} {
		m.checkpointRefused.WithLabelValues(c)
	}
	m.ckUpload = f.histogram("crowdrun_checkpoint_upload_bytes", "Size of a checkpoint as the worker sent it (a delta against its previous one, or full).",
		prometheus.ExponentialBuckets(1024, 4, 11)) // 1 KiB … 1 GiB
	m.ckStore = f.histogram("crowdrun_checkpoint_stored_bytes", "Size of a checkpoint's full compressed snapshot as stored.",
		prometheus.ExponentialBuckets(1024, 4, 11))
	m.ckVerify = f.histogram("crowdrun_checkpoint_verify_seconds", "Coordinator time to check and record a checkpoint: delta applied, state hash checked, snapshot encoded and stored.",
		prometheus.ExponentialBuckets(100e-6, 3, 12))
	m.ckCost = f.histogram("crowdrun_checkpoint_cost_seconds", "Checkpoint cost δ as workers report it (capture and encode), the figure the checkpoint interval is derived from.",
		prometheus.ExponentialBuckets(100e-6, 3, 12))

	m.tasksSettled = f.counterVec("crowdrun_tasks_settled_total", "Tasks settled: done or disputed, by how the result was verified (none, audit, quorum, trusted).", "state", "verification")
	for _, v := range []string{store.VerifyNone, store.VerifyAudit, store.VerifyQuorum, store.VerifyTrusted} {
		m.tasksSettled.WithLabelValues(string(store.TaskDone), v)
	}
	m.tasksSettled.WithLabelValues(string(store.TaskDisputed), store.VerifyTrusted)
	m.fuelVerified = f.counter("crowdrun_fuel_verified_total", "Fuel credited for verified work (ledger grants); rate() is verified fuel per second.")
	m.fuelRevoked = f.counter("crowdrun_fuel_revoked_total", "Fuel whose credit was revoked (a liar's, or of tasks reopened because they rested on one).")
	m.audits = f.counterVec("crowdrun_audits_total", "Audit replicas that reported on their link, by outcome: agreed, or lied (an auditor caught).", "outcome")
	for _, o := range []string{"agreed", "lied"} {
		m.audits.WithLabelValues(o)
	}
	m.disputes = f.counter("crowdrun_disputes_total", "Disputes (replicas disagreeing on a link) taken to a trusted re-run that finished.")
	m.unsettled = f.counter("crowdrun_disputes_unsettled_total", "Disputes the trusted re-run could not settle (it failed, or both sides agreed with it); the task ends disputed.")
	m.liesCaught = f.counter("crowdrun_lies_caught_total", "Replicas proved wrong by a trusted re-run.")
	m.reopened = f.counter("crowdrun_tasks_reopened_total", "Accepted tasks reopened because an account they rested on was caught lying.")
	m.bans = f.counter("crowdrun_accounts_banned_total", "Ban entries in the credit ledger (an account caught lying).")

	m.storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "crowdrun_store_seconds",
		Help: "Latency of store operations (one method of the store seam each), successful or not.", Buckets: storeBuckets}, []string{"op"})
	m.storeErrors = f.counterVec("crowdrun_store_errors_total", "Store operations that failed with an error other than the store's expected outcomes (not found, lease not held, ...).", "op")
	m.reg.MustRegister(m.storeSeconds)

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory registers as it creates.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// sessionStarted and sessionEnded bracket a worker session (ws.go).
func (m *metrics) sessionStarted(id int64, runtime string) {
	k := workerKind(runtime)
	m.kinds.Store(id, k)
	m.sessions.WithLabelValues(k).Inc()
	m.started.WithLabelValues(k).Inc()
}

func (m *metrics) sessionEnded(id int64) {
	if k, ok := m.kinds.LoadAndDelete(id); ok {
		m.sessions.WithLabelValues(k.(string)).Dec()
	}
}

// kindOf is a session's worker kind; "other" for a session this
// coordinator does not hold (another's, on a shared store).
func (m *metrics) kindOf(session int64) string {
	if k, ok := m.kinds.Load(session); ok {
		return k.(string)
	}
	return kindOther
}

// checkpointDone records one checkpoint's handling (checkpoint.go): the
// upload's size and the time it took when it was recorded, the code the
// worker was told when it was refused.
func (m *metrics) checkpointDone(upload int, start time.Time, errp *error) {
	err := *errp
	var ce *checkpointError
	switch {
	case err == nil:
		m.checkpoints.Inc()
		m.ckUpload.Observe(float64(upload))
		m.ckVerify.Observe(time.Since(start).Seconds())
	case errors.As(err, &ce):
		m.checkpointRefused.WithLabelValues(ce.code).Inc()
	}
}

// scrapeCacheTTL bounds how often a scrape reaches the store: the state
// counts are read at most once per TTL, however many scrapes come.
const scrapeCacheTTL = 2 * time.Second

// scrapeTimeout bounds the state count query of one scrape.
const scrapeTimeout = 5 * time.Second

// liveCollector reads, at scrape time, what other parts of the coordinator
// already count: the store's population by state (cached), the verifier's
// stats, trusted re-runs and the checkpoint policy.
type liveCollector struct {
	c *Coordinator

	jobs, tasks, replicas             *prometheus.Desc
	evaluations, partners, confirms   *prometheus.Desc
	trustedFuel, reruns, rerunsFailed *prometheus.Desc
	rerunsWaiting, rerunSeconds       *prometheus.Desc
	grid, tau, delta, fuelRate        *prometheus.Desc
	countErrors                       *prometheus.Desc

	mu     sync.Mutex // one query at a time; the others wait for it
	at     time.Time
	counts *store.StateCounts
	err    error
	failed int
}

func newLiveCollector(c *Coordinator) *liveCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &liveCollector{c: c,
		jobs:          d("crowdrun_jobs", "Jobs in the store by state.", "state"),
		tasks:         d("crowdrun_tasks", "Tasks of every job in the store by state.", "state"),
		replicas:      d("crowdrun_replicas", "Replicas of running jobs by state (a finished job has none queued or leased).", "state"),
		evaluations:   d("crowdrun_verifier_evaluations_total", "Evaluations of a task's evidence by the verifier."),
		partners:      d("crowdrun_quorum_partners_total", "Run replicas the verifier added to form a quorum or replace a liar's."),
		confirms:      d("crowdrun_trusted_confirmations_total", "Trusted traces of chains no credible account vouched for."),
		trustedFuel:   d("crowdrun_trusted_fuel_total", "Fuel spent by trusted re-runs (disputes and confirmations)."),
		reruns:        d("crowdrun_trusted_reruns_total", "Trusted re-runs of one link, by where they ran: a trusted worker, or the coordinator itself.", "where"),
		rerunsFailed:  d("crowdrun_trusted_reruns_handed_back_total", "Re-runs handed to a trusted worker that failed, left or timed out (each then ran on the coordinator)."),
		rerunsWaiting: d("crowdrun_trusted_reruns_waiting", "Re-runs waiting for the coordinator's CPU budget (--trusted-cpu)."),
		rerunSeconds:  d("crowdrun_trusted_rerun_seconds_total", "Time the coordinator's in-process re-runs took (at least the CPU they used)."),
		grid:          d("crowdrun_checkpoint_grid_fuel", "The checkpoint interval new tasks get, in fuel."),
		tau:           d("crowdrun_checkpoint_tau_seconds", "Estimated mean worker session length τ."),
		delta:         d("crowdrun_checkpoint_delta_seconds", "Mean checkpoint cost δ the interval is derived from."),
		fuelRate:      d("crowdrun_checkpoint_fuel_per_second", "Estimated guest fuel per second of a worker slot."),
		countErrors:   d("crowdrun_scrape_store_errors_total", "Scrapes whose state count query failed (the state gauges were then left out)."),
	}
}

func (l *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.jobs, l.tasks, l.replicas, l.evaluations, l.partners, l.confirms, l.trustedFuel, l.reruns,
		l.rerunsFailed, l.rerunsWaiting, l.rerunSeconds, l.grid, l.tau, l.delta, l.fuelRate, l.countErrors} {
		ch <- d
	}
}

func (l *liveCollector) Collect(ch chan<- prometheus.Metric) {
	counts, failed := l.stateCounts()
	if counts != nil {
		for s, n := range counts.Jobs {
			ch <- prometheus.MustNewConstMetric(l.jobs, prometheus.GaugeValue, float64(n), string(s))
		}
		for s, n := range counts.Tasks {
			ch <- prometheus.MustNewConstMetric(l.tasks, prometheus.GaugeValue, float64(n), string(s))
		}
		for s, n := range counts.Replicas {
			ch <- prometheus.MustNewConstMetric(l.replicas, prometheus.GaugeValue, float64(n), string(s))
		}
	}
	ch <- prometheus.MustNewConstMetric(l.countErrors, prometheus.CounterValue, float64(failed))

	v := l.c.VerifierStats()
	ch <- prometheus.MustNewConstMetric(l.evaluations, prometheus.CounterValue, float64(v.Evaluations))
	ch <- prometheus.MustNewConstMetric(l.partners, prometheus.CounterValue, float64(v.Partners))
	ch <- prometheus.MustNewConstMetric(l.confirms, prometheus.CounterValue, float64(v.Confirmations))
	ch <- prometheus.MustNewConstMetric(l.trustedFuel, prometheus.CounterValue, float64(v.TrustedFuel))

	r := l.c.RerunStats()
	ch <- prometheus.MustNewConstMetric(l.reruns, prometheus.CounterValue, float64(r.Remote), "worker")
	ch <- prometheus.MustNewConstMetric(l.reruns, prometheus.CounterValue, float64(r.Local), "coordinator")
	ch <- prometheus.MustNewConstMetric(l.rerunsFailed, prometheus.CounterValue, float64(r.RemoteFailed))
	ch <- prometheus.MustNewConstMetric(l.rerunsWaiting, prometheus.GaugeValue, float64(r.Waiting))
	ch <- prometheus.MustNewConstMetric(l.rerunSeconds, prometheus.CounterValue, r.LocalTime.Seconds())

	// The policy is refreshed at most once a second and reads only the
	// most recent sessions (policy.go): cheap enough for every scrape.
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	p := l.c.policy.current(ctx)
	cancel()
	ch <- prometheus.MustNewConstMetric(l.grid, prometheus.GaugeValue, float64(p.Grid))
	ch <- prometheus.MustNewConstMetric(l.tau, prometheus.GaugeValue, p.Tau.Seconds())
	ch <- prometheus.MustNewConstMetric(l.delta, prometheus.GaugeValue, p.Delta.Seconds())
	ch <- prometheus.MustNewConstMetric(l.fuelRate, prometheus.GaugeValue, p.FuelRate)
}

// stateCounts returns the store's state counts, read again only when the
// cached ones are older than scrapeCacheTTL; nil when the last read
// failed. Concurrent scrapes wait for one read.
func (l *liveCollector) stateCounts() (*store.StateCounts, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.at.IsZero() || now.Sub(l.at) >= scrapeCacheTTL {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		counts, err := l.c.store.StateCounts(ctx)
		cancel()
		l.at, l.counts, l.err = now, counts, err
		if err != nil {
			l.failed++
			l.c.cfg.Logger.Error("metrics: counting states", "err", err)
		}
	}
	return l.counts, l.failed
}

// metricsHandler serves the registry in the Prometheus text format (or
// OpenMetrics, if asked). A collector that fails leaves its metrics out;
// the rest is still served. Scrapes are not limited in number, nor in time
// (the scraper has its own timeout): the only part that reaches the store
// is cached (scrapeCacheTTL) and bounded (scrapeTimeout), the rest is
// memory.
func (c *Coordinator) metricsHandler() http.Handler {
	return promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// MetricsHandler serves GET /metrics on a listener of the operator's
// choosing (crowdrun serve --metrics-addr); with Config.MetricsElsewhere
// set, Handler does not serve it.
func (c *Coordinator) MetricsHandler() http.Handler { return c.metricsHandler() }

// metricsRoutes is GET /metrics on the coordinator's own listener, unless
// the operator moved it (Config.MetricsElsewhere).
func (c *Coordinator) metricsRoutes() []route {
	if c.cfg.MetricsElsewhere {
		return nil
	}
	h := c.metricsHandler()
	return []route{{"GET", "/metrics", h.ServeHTTP}}
}
