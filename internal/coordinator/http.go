package coordinator

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
)

//go:embed openapi.json
var openapiJSON []byte

// route is one endpoint: Handler serves exactly these, and openapi.json
// must describe exactly these (TestOpenAPIRoutes).
type route struct {
	method, path string // a ServeMux pattern: "GET /v1/jobs/{id}"
	h            http.HandlerFunc
}

func (c *Coordinator) routes() []route {
	rs := []route{
		{"GET", "/{$}", serveIndex},
		{"POST", "/v1/jobs", c.auth(c.submit)},
		{"GET", "/v1/jobs", c.auth(c.listJobs)},
		{"GET", "/v1/jobs/{id}", c.auth(c.getJob)},
		{"GET", "/v1/jobs/{id}/results", c.auth(c.results)},
		{"POST", "/v1/jobs/{id}/cancel", c.auth(c.cancelJob)},
		{"GET", "/v1/jobs/{id}/segments", c.auth(c.segments)},
		{"GET", "/v1/workers", c.auth(c.workers)},
		{"GET", "/v1/credit", c.creditList},
		{"GET", "/v1/workers/ws", c.serveWorker},
		{"GET", "/v1/workers/snapshots/{hash}", c.snapshotDownload},
		{"GET", "/v1/modules/{hash}", c.module},
		{"GET", "/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(openapiJSON)
		}},
		{"GET", "/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }},
	}
	rs = append(rs, c.dashboardRoutes()...)
	rs = append(rs, c.metricsRoutes()...)
	return append(rs, c.webRoutes()...)
}

// Handler returns the coordinator's HTTP API (docs/api.md) and its pages.
// A path it does not serve answers 404, a method a path does not take 405
// with an Allow header; both in the API's JSON error shape.
func (c *Coordinator) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range c.routes() {
		mux.HandleFunc(r.method+" "+r.path, r.h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := c.admitRequest(w, r)
		if !ok {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Every body is bounded in size and in time (a slow sender
			// holds a connection at most BodyTimeout).
			r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxRequestBytes)
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(c.cfg.BodyTimeout))
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			// No route: the mux answers 404, or 405 with Allow set; say it
			// in JSON.
			mux.ServeHTTP(&noRouteWriter{ResponseWriter: w, r: r}, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// noRouteWriter turns the mux's plain-text 404 and 405 into API errors.
type noRouteWriter struct {
	http.ResponseWriter
	r     *http.Request
	wrote bool
}

func (w *noRouteWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.Header().Del("X-Content-Type-Options")
	if status == http.StatusMethodNotAllowed {
		writeError(w.ResponseWriter, status, api.CodeMethodNotAllowed, fmt.Sprintf("%s does not take %s (allowed: %s)", w.r.URL.Path, w.r.Method, w.Header().Get("Allow")))
		return
	}
	writeError(w.ResponseWriter, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no such endpoint: %s %s (see / and /v1/openapi.json)", w.r.Method, w.r.URL.Path))
}

// Write drops the mux's text body: WriteHeader wrote the JSON one.
func (w *noRouteWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusNotFound)
	return len(b), nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e api.Error
	e.Err.Code, e.Err.Message = code, msg
	writeJSON(w, status, &e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (c *Coordinator) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
	case errors.Is(err, store.ErrJobFinished):
		writeError(w, http.StatusConflict, api.CodeConflict, "the job has already finished")
	case errors.Is(err, store.ErrFull):
		c.cfg.Logger.Error("store", "err", err)
		writeError(w, http.StatusInsufficientStorage, api.CodeStoreFull, "the coordinator's store is full: nothing was recorded; try again once its operator has made room")
	default:
		c.cfg.Logger.Error("store", "err", err)
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "internal error")
	}
}

// HashToken is how API tokens are stored: SHA-256 of the secret.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

type authedHandler func(w http.ResponseWriter, r *http.Request, owner string)

func (c *Coordinator) auth(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "an API token is required: Authorization: Bearer TOKEN (create one with `crowdrun token create`)")
			return
		}
		var tok *store.Token
		var err error
		if a, ok := r.Context().Value(authKey{}).(*authResult); ok {
			tok, err = a.tok, a.err // Handler looked it up (admitRequest)
		} else {
			tok, err = c.store.TokenLookup(r.Context(), &store.TokenLookupParams{Hash: HashToken(secret)})
		}
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "the API token is not valid")
			return
		}
		if err != nil {
			c.storeError(w, err)
			return
		}
		if tok.Kind != "" && tok.Kind != store.TokenOwner {
			// A volunteer's token says whose work a worker does; it
			// grants nothing over jobs.
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, fmt.Sprintf("this is a %s token: it authenticates workers (crowdrun worker --token), not API requests; create an owner token with `crowdrun token create --kind owner`", tok.Kind))
			return
		}
		h(w, r, tok.Owner)
	}
}

func jobID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (c *Coordinator) submit(w http.ResponseWriter, r *http.Request, owner string) {
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxRequestBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req api.SubmitRequest
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("the request exceeds %d bytes", c.cfg.MaxRequestBytes))
			return
		}
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "the body is not a valid job submission: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "trailing data after the job submission")
		return
	}
	p, err := c.checkSubmission(&req)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	admit := c.cfg.Quotas.admit(int64(len(p.Tasks)), p.Replicas, p.InputBytes+int64(len(req.Module)), p.Limits.Fuel)
	// A job that would pass a quota on its own is refused before its
	// module costs an instrumentation; the store checks again, with the
	// owner's usage, as it inserts.
	if qe := (*QuotaError)(nil); errors.As(admit(&store.OwnerUsage{}), &qe) {
		c.metrics.refused("quota")
		writeQuotaError(w, qe)
		return
	}
	mod, suspendable, err := c.prepareModule(r.Context(), req.Module, p.Limits.MemoryBytes)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			writeError(w, http.StatusUnprocessableEntity, string(se.Status), se.Message)
			return
		}
		c.storeError(w, err)
		return
	}
	p.Owner = owner
	p.Suspendable = suspendable
	p.ModuleHash = store.Hash(mod)
	p.Blobs = append(p.Blobs, mod)
	p.InputBytes += int64(len(req.Module))
	p.Now = c.cfg.Now()
	p.Admit = admit
	job, err := c.store.JobInsert(r.Context(), p)
	var qe *QuotaError
	if errors.As(err, &qe) {
		c.metrics.refused("quota")
		c.cfg.Logger.Info("submission refused by a quota", "owner", owner, "quota", qe.Quota, "limit", qe.Limit, "usage", qe.Usage, "requested", qe.Requested)
		writeQuotaError(w, qe)
		return
	}
	if err != nil {
		c.storeError(w, err)
		return
	}
	c.cfg.Logger.Info("job submitted", "job", job.ID, "owner", owner, "tasks", job.TaskCount)
	c.wake()
	counts := &store.JobCounts{TasksPending: job.TaskCount, ReplicasQueued: job.TaskCount * job.Replicas}
	writeJSON(w, http.StatusCreated, c.apiJob(r.Context(), job, counts))
}

// checkSubmission validates everything but the module.
func (c *Coordinator) checkSubmission(req *api.SubmitRequest) (*store.JobInsertParams, error) {
	if len(req.Module) == 0 {
		return nil, errors.New(`"module" (base64 wasm) is required`)
	}
	if len(req.Tasks) == 0 {
		return nil, errors.New(`"tasks" must list at least one task`)
	}
	if len(req.Tasks) > c.cfg.MaxTasks {
		return nil, fmt.Errorf("%d tasks: at most %d per job", len(req.Tasks), c.cfg.MaxTasks)
	}
	if len(req.Name) > 200 {
		return nil, errors.New(`"name" is longer than 200 bytes`)
	}
	if req.Replicas == 0 {
		req.Replicas = 1
	}
	if req.Replicas < 1 || req.Replicas > 9 {
		return nil, errors.New(`"replicas" must be between 1 and 9`)
	}
	if req.Priority < -100 || req.Priority > 100 {
		return nil, errors.New(`"priority" must be between -100 and 100`)
	}
	if req.MaxError == 0 {
		req.MaxError = store.DefaultMaxError
	}
	// !(x > 0) also refuses NaN, which JSON cannot carry but a Go caller can.
	if !(req.MaxError > 0) || req.MaxError > 1 {
		return nil, fmt.Errorf(`"max_error" must be greater than 0 and at most 1 (the highest acceptable probability that an accepted result is wrong; default %g), got %g`, store.DefaultMaxError, req.MaxError)
	}
	d := c.cfg.DefaultLimits
	l := store.Limits{Fuel: req.Limits.Fuel, MemoryBytes: req.Limits.MemoryBytes, MaxOutput: req.Limits.MaxOutput, TimeoutMS: req.Limits.TimeoutMS}
	if l.Fuel == 0 {
		l.Fuel = d.Fuel
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.MaxOutput == 0 {
		l.MaxOutput = d.MaxOutput
	}
	if l.TimeoutMS == 0 {
		l.TimeoutMS = d.TimeoutMS
	}
	if l.Fuel > protocol.MaxFuel {
		return nil, fmt.Errorf(`"limits.fuel" must be at most %d`, uint64(protocol.MaxFuel))
	}
	if l.MemoryBytes > sandbox.MaxMemory {
		return nil, fmt.Errorf(`"limits.memory_bytes" must be at most %d`, uint64(sandbox.MaxMemory))
	}
	if l.MaxOutput > MaxOutputLimit {
		return nil, fmt.Errorf(`"limits.max_output" must be at most %d`, MaxOutputLimit)
	}
	if l.TimeoutMS < 0 || l.TimeoutMS > int64(time.Hour/time.Millisecond) {
		return nil, errors.New(`"limits.timeout_ms" must be between 0 and 3600000`)
	}
	p := &store.JobInsertParams{Name: req.Name, Priority: req.Priority, Replicas: req.Replicas, Limits: l, MaxError: req.MaxError,
		Tasks: make([]store.TaskSpec, len(req.Tasks))}
	for i, t := range req.Tasks {
		size := int64(len(t.Stdin))
		if len(t.Args) > 1024 || len(t.Env) > 1024 || len(t.Files) > 64 {
			return nil, fmt.Errorf("task %d: at most 1024 args, 1024 env entries and 64 files", i)
		}
		for _, e := range t.Env {
			if !strings.Contains(e, "=") {
				return nil, fmt.Errorf("task %d: env entry %q is not KEY=VALUE", i, e)
			}
		}
		for _, a := range append(append([]string{}, t.Args...), t.Env...) {
			size += int64(len(a))
		}
		spec := store.TaskSpec{StdinHash: store.Hash(t.Stdin), Args: t.Args, Env: t.Env, Seed: t.Seed}
		p.Blobs = append(p.Blobs, t.Stdin)
		for _, f := range t.Files {
			if f.Name == "" || strings.Contains(f.Name, "/") || len(f.Name) > 255 {
				return nil, fmt.Errorf("task %d: file name %q must be 1 to 255 bytes without '/'", i, f.Name)
			}
			size += int64(len(f.Data))
			spec.Files = append(spec.Files, store.File{Name: f.Name, Hash: store.Hash(f.Data)})
			p.Blobs = append(p.Blobs, f.Data)
		}
		if size > c.cfg.MaxTaskInput {
			return nil, fmt.Errorf("task %d: input of %d bytes exceeds the limit of %d per task", i, size, c.cfg.MaxTaskInput)
		}
		p.InputBytes += size
		p.Tasks[i] = spec
	}
	return p, nil
}

func (c *Coordinator) apiJob(ctx context.Context, j *store.Job, counts *store.JobCounts) *api.Job {
	out := apiJob(j, counts)
	pol := c.policy.current(ctx)
	ck := &api.Checkpointing{Suspendable: j.Suspendable, Policy: api.CheckpointPolicy{
		IntervalFuel: pol.Grid, IntervalSeconds: pol.GridSeconds(), OptimalSeconds: pol.Optimal.Seconds(), MinSeconds: pol.Floor.Seconds(),
		TauSeconds: pol.Tau.Seconds(), TauSessions: pol.Sessions, DeltaSeconds: pol.Delta.Seconds(), DeltaReports: pol.Costs,
		FuelPerSecond: pol.FuelRate, RateSamples: pol.Rates, Fixed: pol.Fixed}}
	if !j.Suspendable {
		ck.Note = "the module could not be made suspendable (or checkpoints are off): its replicas run whole, without checkpoints"
	}
	if counts != nil {
		ck.Checkpoints, ck.Resumes, ck.LostSegments, ck.FuelLost, ck.Mismatches = counts.Checkpoints, counts.Resumes, counts.LostSegments, counts.FuelLost, counts.Mismatches
	}
	out.Checkpointing = ck
	return out
}

// segments lists a job's ended segments (GET /v1/jobs/{id}/segments).
func (c *Coordinator) segments(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := jobID(r)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
		return
	}
	if _, err := c.store.JobGet(r.Context(), &store.JobGetParams{ID: id, Owner: owner}); err != nil {
		c.storeError(w, err)
		return
	}
	segs, err := c.store.SegmentList(r.Context(), &store.SegmentListParams{JobID: id, Limit: 100000})
	if err != nil {
		c.storeError(w, err)
		return
	}
	out := api.SegmentList{Segments: make([]api.Segment, 0, len(segs))}
	for _, g := range segs {
		out.Segments = append(out.Segments, api.Segment{Replica: g.ReplicaID, Task: g.TaskIndex, Worker: g.Worker, State: string(g.State),
			ResumeSeq: g.ResumeSeq, FuelStart: g.FuelStart, FuelEnd: g.FuelEnd, FuelReached: g.FuelReached,
			StartedAt: g.StartedAt.UTC(), EndedAt: g.EndedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, &out)
}

func apiJob(j *store.Job, c *store.JobCounts) *api.Job {
	out := &api.Job{ID: j.ID, Name: j.Name, State: string(j.State), ModuleHash: j.ModuleHash, Replicas: j.Replicas, Priority: j.Priority,
		Limits:    api.Limits{Fuel: j.Limits.Fuel, MemoryBytes: j.Limits.MemoryBytes, MaxOutput: j.Limits.MaxOutput, TimeoutMS: j.Limits.TimeoutMS},
		CreatedAt: j.CreatedAt.UTC(), Trust: api.Trust{MaxError: j.MaxError}}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	if c != nil {
		out.Tasks = api.Counts{Total: j.TaskCount, Done: c.TasksDone, Disputed: c.TasksDisputed, Cancelled: c.TasksCancelled,
			Pending: c.TasksPending, Queued: c.ReplicasQueued, Running: c.ReplicasLeased, Fuel: c.Fuel}
		out.Trust = api.Trust{MaxError: j.MaxError, Verified: c.TasksDone, Verifying: c.TasksVerifying, Audits: c.Audits, Disputes: c.Disputes,
			LiesCaught: c.LiesCaught, Reopened: c.Reopened, Unsettled: c.Unsettled, ExtraReplicas: c.ReplicasRun}
	}
	return out
}

func (c *Coordinator) getJob(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := jobID(r)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
		return
	}
	j, err := c.store.JobGet(r.Context(), &store.JobGetParams{ID: id, Owner: owner})
	if err != nil {
		c.storeError(w, err)
		return
	}
	counts, err := c.store.JobCounts(r.Context(), id)
	if err != nil {
		c.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c.apiJob(r.Context(), j, counts))
}

func (c *Coordinator) listJobs(w http.ResponseWriter, r *http.Request, owner string) {
	js, err := c.store.JobList(r.Context(), &store.JobListParams{Owner: owner, Limit: 100})
	if err != nil {
		c.storeError(w, err)
		return
	}
	out := api.JobList{Jobs: []api.Job{}}
	for _, j := range js {
		counts, err := c.store.JobCounts(r.Context(), j.ID)
		if err != nil {
			c.storeError(w, err)
			return
		}
		out.Jobs = append(out.Jobs, *c.apiJob(r.Context(), j, counts))
	}
	writeJSON(w, http.StatusOK, &out)
}

func (c *Coordinator) cancelJob(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := jobID(r)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
		return
	}
	j, revoked, err := c.store.JobCancel(r.Context(), &store.JobCancelParams{ID: id, Owner: owner, Now: c.cfg.Now()})
	if err != nil {
		c.storeError(w, err)
		return
	}
	c.revoke(revoked, "job cancelled")
	c.notify()
	counts, err := c.store.JobCounts(r.Context(), id)
	if err != nil {
		c.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c.apiJob(r.Context(), j, counts))
}

func (c *Coordinator) workers(w http.ResponseWriter, r *http.Request, owner string) {
	st, err := c.store.WorkerStats(r.Context())
	if err != nil {
		c.storeError(w, err)
		return
	}
	out := api.WorkerList{Workers: []api.Worker{}}
	for _, s := range st {
		out.Workers = append(out.Workers, api.Worker{Name: s.Worker, Connected: s.Open > 0, Sessions: s.Sessions, Tasks: s.Segments, Fuel: s.Fuel})
	}
	writeJSON(w, http.StatusOK, &out)
}

// module serves a stored module to workers. Content-addressed and not
// secret: crowdrun promises integrity, not confidentiality.
func (c *Coordinator) module(w http.ResponseWriter, r *http.Request) {
	h := r.PathValue("hash")
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such module")
		return
	}
	b, err := c.store.BlobGet(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such module")
		return
	}
	if err != nil {
		c.storeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}

// results streams finished tasks as NDJSON in finishing order; with
// follow=true it waits for more until the job ends.
func (c *Coordinator) results(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := jobID(r)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
		return
	}
	after, follow, err := resultsQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	job, err := c.store.JobGet(ctx, &store.JobGetParams{ID: id, Owner: owner})
	if err != nil {
		c.storeError(w, err)
		return
	}
	prov := &provenance{c: c, job: id}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	final := false
	if follow {
		c.followers.Add(1)
		defer c.followers.Add(-1)
	}
	for {
		changed := c.changes()
		ts, err := c.store.TaskListResults(ctx, &store.TaskListResultsParams{JobID: id, AfterSeq: after, Limit: 256})
		if err != nil {
			return // the client sees a truncated stream and resumes with ?after
		}
		if err := prov.cover(ctx, ts); err != nil {
			return
		}
		for _, t := range ts {
			out, err1 := c.store.BlobGet(ctx, t.Result.StdoutHash)
			errb, err2 := c.store.BlobGet(ctx, t.Result.StderrHash)
			if err1 != nil || err2 != nil {
				return
			}
			if enc.Encode(&api.TaskResult{Seq: t.ResultSeq, TaskIndex: t.Index, State: string(t.State), Status: t.Result.Status,
				ExitCode: t.Result.ExitCode, Message: t.Result.Message, Fuel: t.Result.Fuel, Stdout: out, Stderr: errb,
				StdoutSHA: t.Result.StdoutHash, Workers: prov.workers(t.Index), Verification: verification(job, t)}) != nil {
				return
			}
			after = t.ResultSeq
		}
		if flusher != nil {
			flusher.Flush()
		}
		if len(ts) == 256 {
			continue
		}
		if !follow || final {
			return
		}
		j, err := c.store.JobGet(ctx, &store.JobGetParams{ID: id})
		if err != nil {
			return
		}
		if j.State != store.JobRunning {
			final = true // one more pass for what finished meanwhile
			continue
		}
		select {
		case <-changed:
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// resultsQuery reads the results stream's after (an integer) and follow
// (true or false), both optional; a value of another type is refused, not
// read as the default (found by FuzzAPI).
func resultsQuery(q url.Values) (after int64, follow bool, err error) {
	for _, k := range []string{"after", "follow"} {
		if n := len(q[k]); n > 1 {
			return 0, false, fmt.Errorf("%s is given %d times: give it once", k, n)
		}
	}
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, false, fmt.Errorf("after must be an integer (a result seq), got %q", v)
		}
	}
	switch v := q.Get("follow"); v {
	case "", "false":
	case "true":
		follow = true
	default:
		return 0, false, fmt.Errorf("follow must be true or false, got %q", v)
	}
	return after, follow, nil
}

// verification says how a finished task's result was checked, as the
// verifier recorded it when it settled the task (docs/trust.md).
func verification(job *store.Job, t *store.Task) api.Verification {
	v := api.Verification{Method: t.Verification, Replicas: job.Replicas, By: t.VerifiedBy, Note: t.Note}
	switch {
	case t.State == store.TaskDisputed:
		v.Outcome = "disputed"
	case t.Verification == store.VerifyQuorum, t.Verification == store.VerifyAudit, t.Verification == store.VerifyTrusted:
		v.Outcome = "verified"
	default:
		// VerifyNone, or a task settled before verification was
		// recorded: one account's word, and nothing more is claimed.
		v.Outcome = "unchecked"
	}
	if v.Method == "" {
		v.Method = store.VerifyNone
	}
	return v
}

// provenance finds the workers behind a job's results from its segments:
// every segment of the task that saved work (done, or ended after an
// accepted checkpoint), the checks of it included. A settled task gets no
// more segments (settling ends its replicas still running), so segments
// loaded after a task settled are all of them; provenance reloads them
// only when a result it is asked about may have settled after the last
// load.
type provenance struct {
	c   *Coordinator
	job int64
	// horizon: results numbered up to it had settled before the last
	// load. Result numbers grow as tasks settle, so with n tasks finished
	// the numbers 1..n were all given out before n was counted.
	horizon int64
	byTask  map[int][]string
}

func (p *provenance) cover(ctx context.Context, ts []*store.Task) error {
	for _, t := range ts {
		if p.byTask == nil || t.ResultSeq > p.horizon {
			return p.load(ctx, ts)
		}
	}
	return nil
}

// load reloads the segments; ts are results listed before it was called.
func (p *provenance) load(ctx context.Context, ts []*store.Task) error {
	counts, err := p.c.store.JobCounts(ctx, p.job)
	if err != nil {
		return err
	}
	segs, err := p.c.store.SegmentList(ctx, &store.SegmentListParams{JobID: p.job, Limit: math.MaxInt32})
	if err != nil {
		return err
	}
	p.horizon = int64(counts.TasksDone + counts.TasksDisputed)
	for _, t := range ts {
		p.horizon = max(p.horizon, t.ResultSeq)
	}
	p.byTask = map[int][]string{}
	for _, g := range segs {
		if g.State != store.SegmentFinished && g.FuelEnd <= g.FuelStart {
			continue // it saved nothing the result was built on
		}
		if ws := p.byTask[g.TaskIndex]; !slices.Contains(ws, g.Worker) {
			p.byTask[g.TaskIndex] = append(ws, g.Worker)
		}
	}
	return nil
}

func (p *provenance) workers(task int) []string {
	if ws := p.byTask[task]; ws != nil {
		return ws
	}
	return []string{}
}
