package coordinator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
)

// families is one scrape of GET /metrics, parsed by Prometheus's own text
// parser.
type families map[string]*dto.MetricFamily

func scrape(t testing.TB, url string) families {
	t.Helper()
	f, err := scrapeErr(url)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func scrapeErr(url string) (families, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	return fams, nil
}

// get sums the series of a family whose labels include every name=value
// pair given; a histogram's value is its count of observations. A family
// that is missing fails the test: every family is exported from the start.
func (f families) get(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := f[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	var sum float64
	matched := false
series:
	for _, m := range fam.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		matched = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	if !matched {
		t.Fatalf("/metrics has no %s%v", name, labels)
	}
	return sum
}

// A job runs through a real coordinator and real workers, one of them
// lying at a checkpoint, while /metrics is scraped over HTTP: every
// counter only ever grows, and in the end each says what the store and
// the coordinator say happened — tasks settled and by which method, fuel
// verified as the credit ledger granted it and revoked as it revoked it,
// checkpoints as the job counted them, leases, results, the dispute, the
// liar caught and banned, the trusted re-runs, the store's latency.
func TestMetricsFollowAJob(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()

	before := scrape(t, e.srv.URL)
	if n := before.get(t, "crowdrun_tasks"); n != 0 {
		t.Fatalf("an empty store has %v tasks", n)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		before.get(t, name) // the Go runtime and the process
	}

	req := factorJob(t)
	req.Tasks, req.MaxError = req.Tasks[:1], 0 // verified: quorum, dispute, trusted re-run
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}

	// Scrape while the job runs, until it is done.
	watched := []string{"crowdrun_leases_granted_total", "crowdrun_results_total", "crowdrun_checkpoints_total",
		"crowdrun_checkpoint_stored_bytes", "crowdrun_fuel_verified_total", "crowdrun_tasks_settled_total",
		"crowdrun_lies_caught_total", "crowdrun_store_seconds", "crowdrun_worker_sessions_started_total"}
	var scrapes []families
	var scrapeErrs []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			f, err := scrapeErr(e.srv.URL)
			if err != nil {
				scrapeErrs = append(scrapeErrs, err)
			} else {
				scrapes = append(scrapes, f)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// The liar alone first, so that it computes the primary.
	l := &liar{seq: 7}
	e.startTamperer("liar", l)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, job.ID); return j.Tasks.Running == 1 })
	e.startWorker("h1", 1)
	e.startWorker("h2", 1)
	got := collect(t, e.alice, job.ID)[0]
	close(stop)
	wg.Wait()
	if got.State != "done" || l.lies == 0 {
		t.Fatalf("result %+v after %d lies", got, l.lies)
	}

	if len(scrapeErrs) > 0 {
		t.Fatalf("scraping while the job ran: %v", scrapeErrs[0])
	}
	var series [][]float64
	for _, f := range scrapes {
		row := make([]float64, len(watched))
		for i, n := range watched {
			row[i] = f.get(t, n)
		}
		series = append(series, row)
	}
	for i := 1; i < len(series); i++ {
		for k, n := range watched {
			if series[i][k] < series[i-1][k] {
				t.Fatalf("%s went down from %v to %v between scrapes %d and %d", n, series[i-1][k], series[i][k], i-1, i)
			}
		}
	}
	if len(series) < 2 {
		t.Fatalf("%d scrapes while the job ran", len(series))
	}

	// The state gauges are read from the store at most every 2 s: wait
	// for a scrape that sees the job done.
	var after families
	waitFor(t, func() bool {
		after = scrape(t, e.srv.URL)
		return after.get(t, "crowdrun_jobs", "state", "done") == 1
	})
	for k, n := range watched {
		if last := after.get(t, n); last <= before.get(t, n) || last < series[len(series)-1][k] {
			t.Errorf("%s: %v before the job, %v while it ran, %v after: it did not move", n, before.get(t, n), series[len(series)-1][k], last)
		}
	}

	eq := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: /metrics says %v, want %v", what, got, want)
		}
	}
	eq("tasks done", after.get(t, "crowdrun_tasks", "state", "done"), 1)
	eq("tasks pending", after.get(t, "crowdrun_tasks", "state", "pending"), 0)
	eq("replicas of running jobs", after.get(t, "crowdrun_replicas"), 0)
	eq("tasks settled by a trusted re-run", after.get(t, "crowdrun_tasks_settled_total", "state", "done", "verification", store.VerifyTrusted), 1)
	eq("tasks settled", after.get(t, "crowdrun_tasks_settled_total"), 1)

	// Fuel: granted and revoked as the ledger has it; what stands is the
	// credit the accounts hold.
	entries, err := e.db.LedgerList(ctx, &store.LedgerListParams{})
	if err != nil {
		t.Fatal(err)
	}
	var granted, revoked, bans float64
	for _, en := range entries {
		switch en.Kind {
		case store.LedgerGrant:
			granted += float64(en.Fuel)
		case store.LedgerRevoke:
			revoked += float64(en.Fuel)
		case store.LedgerBan:
			bans++
		}
	}
	credit, err := e.db.CreditList(ctx, &store.CreditListParams{})
	if err != nil {
		t.Fatal(err)
	}
	var standing float64
	for _, r := range credit {
		standing += float64(r.Fuel)
	}
	if granted == 0 {
		t.Fatal("the ledger granted nothing")
	}
	eq("fuel verified", after.get(t, "crowdrun_fuel_verified_total"), granted)
	eq("fuel revoked", after.get(t, "crowdrun_fuel_revoked_total"), revoked)
	eq("fuel verified − revoked", after.get(t, "crowdrun_fuel_verified_total")-after.get(t, "crowdrun_fuel_revoked_total"), standing)
	eq("bans", after.get(t, "crowdrun_accounts_banned_total"), bans)

	// Verification: as the job counted it.
	j, err := e.alice.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	eq("lies caught", after.get(t, "crowdrun_lies_caught_total"), float64(j.Trust.LiesCaught))
	eq("disputes", after.get(t, "crowdrun_disputes_total"), float64(j.Trust.Disputes))
	eq("disputes unsettled", after.get(t, "crowdrun_disputes_unsettled_total"), float64(j.Trust.Unsettled))
	eq("audits agreed", after.get(t, "crowdrun_audits_total", "outcome", "agreed"), float64(j.Trust.Audits))
	if j.Trust.LiesCaught != 1 || bans != 1 {
		t.Fatalf("trust %+v, %v bans: the scenario did not catch the liar", j.Trust, bans)
	}
	rr := e.c.RerunStats()
	eq("re-runs on the coordinator", after.get(t, "crowdrun_trusted_reruns_total", "where", "coordinator"), float64(rr.Local))
	if rr.Local < 1 {
		t.Errorf("no trusted re-run: %+v", rr)
	}
	vs := e.c.VerifierStats()
	eq("trusted fuel", after.get(t, "crowdrun_trusted_fuel_total"), float64(vs.TrustedFuel))
	eq("evaluations", after.get(t, "crowdrun_verifier_evaluations_total"), float64(vs.Evaluations))

	// Checkpoints: as the job counted them, each one's sizes and costs.
	c, err := e.db.JobCounts(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Checkpoints == 0 {
		t.Fatal("no checkpoint was recorded")
	}
	eq("checkpoints", after.get(t, "crowdrun_checkpoints_total"), float64(c.Checkpoints))
	for _, h := range []string{"crowdrun_checkpoint_upload_bytes", "crowdrun_checkpoint_stored_bytes", "crowdrun_checkpoint_verify_seconds", "crowdrun_checkpoint_cost_seconds"} {
		eq(h+" observations", after.get(t, h), float64(c.Checkpoints))
	}

	// Leases and results: every replica was leased at least once, every
	// result recorded came from a lease.
	segs, err := e.db.SegmentList(ctx, &store.SegmentListParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	leased := after.get(t, "crowdrun_leases_granted_total", "kind", "native")
	if leased < float64(len(segs)) || leased != after.get(t, "crowdrun_leases_granted_total") {
		t.Errorf("%v leases granted (native: %v) for %d segments", after.get(t, "crowdrun_leases_granted_total"), leased, len(segs))
	}
	if r := after.get(t, "crowdrun_results_total", "outcome", "accepted"); r < 2 || r > leased {
		t.Errorf("%v results accepted of %v leases", r, leased)
	}
	// Sessions: as the store recorded them (a worker whose connection
	// dropped on a busy machine reconnects with a new one), all native.
	waitFor(t, func() bool {
		ss, err := e.db.SessionList(ctx, &store.SessionListParams{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, s := range ss {
			if s.EndedAt.IsZero() {
				open++
			}
		}
		f := scrape(t, e.srv.URL)
		return f.get(t, "crowdrun_worker_sessions", "kind", "native") == float64(open) && open >= 3 &&
			f.get(t, "crowdrun_worker_sessions_started_total", "kind", "native") == float64(len(ss)) &&
			f.get(t, "crowdrun_worker_sessions_started_total") == float64(len(ss))
	})

	// The store: every operation the job used was timed.
	for _, op := range []string{"JobInsert", "ReplicaLease", "ReplicaComplete", "CheckpointAdd", "TaskSettleBatch", "TaskEvidence", "StateCounts"} {
		if after.get(t, "crowdrun_store_seconds", "op", op) == 0 {
			t.Errorf("store operation %s never timed", op)
		}
	}
	eq("store errors", after.get(t, "crowdrun_store_errors_total"), 0)
}

// However many scrapes come at once, the store's state counts are read at
// most once per cache period (2 s).
func TestMetricsScrapeStormReadsTheStoreOnce(t *testing.T) {
	e := newEnv(t, nil)
	reads := func() float64 { return scrape(t, e.srv.URL).get(t, "crowdrun_store_seconds", "op", "StateCounts") }
	start := time.Now()
	first := reads()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := scrapeErr(e.srv.URL); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := reads()
	// At most one more read per 2 s that passed (a slow machine may take
	// longer than one period for the 18 scrapes), and never one per scrape.
	if allowed := 1 + float64(time.Since(start)/(2*time.Second)); last-first > allowed {
		t.Fatalf("%v state count reads for 17 scrapes in %v, want at most %v", last-first, time.Since(start), allowed)
	}
	if last < 1 {
		t.Fatalf("no scrape read the state counts (%v)", last)
	}
	t.Logf("%v state count reads for 18 scrapes in %v", last, time.Since(start))
}

func TestMetricsElsewhere(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.MetricsElsewhere = true })
	resp, body := httpDo(t, "GET", e.srv.URL+"/metrics")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics with MetricsElsewhere: %s %s", resp.Status, body)
	}
	// The operator serves it on a listener of its own.
	own := httptest.NewServer(e.c.MetricsHandler())
	defer own.Close()
	if n := scrape(t, own.URL).get(t, "crowdrun_jobs"); n != 0 {
		t.Fatalf("%v jobs in an empty store", n)
	}
}

// BenchmarkScrape is one GET /metrics of an idle coordinator, through its
// handler (the state counts mostly from the cache, as under a scrape
// storm); it reports the size of the exposition.
func BenchmarkScrape(b *testing.B) {
	e := newEnv(b, nil)
	h := e.c.MetricsHandler()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics: %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes")
}

// Leases that run out are counted as expired, by the kind of worker that
// held them; checkpoints refused by the code the worker was sent.
func TestMetricsExpiredAndRefused(t *testing.T) {
	e, clk := newClockEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()
	req := factorJob(t)
	req.Tasks = req.Tasks[:1]
	if _, err := e.alice.Submit(ctx, req); err != nil {
		t.Fatal(err)
	}
	r := dialCheckpointing(t, e, "raw") // its hello names no runtime: kind other
	r.send(&protocol.LeaseRequest{Max: 1})
	ls := r.readLeases()
	lease := ls.Leases[0].LeaseID

	refused := func(m *protocol.Checkpoint, code string) {
		t.Helper()
		id := r.send(m)
		if em, ok := r.read().(*protocol.ErrorMsg); !ok || em.ReplyTo != id || em.Code != code {
			t.Fatalf("checkpoint: got %+v, want %s", em, code)
		}
	}
	refused(&protocol.Checkpoint{LeaseID: lease, Seq: 1, Fuel: testGrid + 1, StateHash: strings.Repeat("0", 64), Snapshot: []byte("not a snapshot")},
		protocol.CodeBadCheckpoint)
	refused(&protocol.Checkpoint{LeaseID: "999.1", Seq: 1, Fuel: testGrid + 1, StateHash: strings.Repeat("0", 64), Snapshot: []byte("x")}, protocol.CodeLeaseNotHeld)
	f := scrape(t, e.srv.URL)
	for code, want := range map[string]float64{protocol.CodeBadCheckpoint: 1, protocol.CodeLeaseNotHeld: 1, protocol.CodeTooLarge: 0} {
		if got := f.get(t, "crowdrun_checkpoints_refused_total", "code", code); got != want {
			t.Errorf("checkpoints refused %s: %v, want %v", code, got, want)
		}
	}
	if got := f.get(t, "crowdrun_checkpoints_total"); got != 0 {
		t.Errorf("%v checkpoints recorded, want 0", got)
	}
	if got := f.get(t, "crowdrun_leases_granted_total", "kind", "other"); got != 1 {
		t.Errorf("%v leases granted to kind other, want 1", got)
	}

	// The worker is silent past its lease's deadline (on the coordinator's
	// clock): the rescuer takes the lease back.
	clk.Add(2 * time.Hour)
	for {
		if rv, ok := r.read().(*protocol.Revoke); ok && slices.Contains(rv.LeaseIDs, lease) {
			break
		}
	}
	waitFor(t, func() bool { return scrape(t, e.srv.URL).get(t, "crowdrun_leases_expired_total", "kind", "other") == 1 })
	if got := scrape(t, e.srv.URL).get(t, "crowdrun_leases_expired_total"); got != 1 {
		t.Errorf("%v leases expired, want 1", got)
	}
}

// Two coordinators in one process count apart: each has its own registry.
func TestMetricsPerCoordinator(t *testing.T) {
	a, b := newEnv(t, nil), newEnv(t, nil)
	a.startWorker("w", 1)
	waitFor(t, func() bool { return scrape(t, a.srv.URL).get(t, "crowdrun_worker_sessions", "kind", "native") == 1 })
	if n := scrape(t, b.srv.URL).get(t, "crowdrun_worker_sessions_started_total"); n != 0 {
		t.Fatalf("the other coordinator counts %v sessions started", n)
	}
}

// A scraper that asks for OpenMetrics gets it.
func TestMetricsOpenMetrics(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(string(body), "# EOF\n") {
		t.Fatalf("Content-Type %q, body ending %q", ct, body[max(0, len(body)-40):])
	}
}

// When the store fails, a scrape still answers: the state gauges are left
// out, the failure is counted (the scrape's and the operation's), the rest
// is served.
func TestMetricsStoreFailure(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.db.Close(); err != nil { // the coordinator's store is gone
		t.Fatal(err)
	}
	f := scrape(t, e.srv.URL)
	if _, ok := f["crowdrun_tasks"]; ok {
		t.Fatal("state gauges served from a closed store")
	}
	if n := f.get(t, "crowdrun_scrape_store_errors_total"); n != 1 {
		t.Errorf("%v failed state count reads, want 1", n)
	}
	// The registry gathers its collectors concurrently: the operation's
	// error counter may have been read before the state count query
	// failed. The next scrape has it.
	if n := scrape(t, e.srv.URL).get(t, "crowdrun_store_errors_total", "op", "StateCounts"); n < 1 {
		t.Errorf("%v StateCounts errors, want at least 1", n)
	}
	f.get(t, "go_goroutines")
	f.get(t, "crowdrun_leases_granted_total")
}
