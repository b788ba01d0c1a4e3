package coordinator

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/uplot"
)

// dashboardRoutes adds the job owner's and the operator's dashboard
// (docs/dashboard.md):
//
//	GET /dashboard                 the page (sign-in with an API token, kept in sessionStorage)
//	GET /dashboard/assets/{file}   its script and style, and uPlot (internal/uplot)
//	GET /v1/jobs/{id}/history      a job's events in time buckets, from the store
//	GET /v1/jobs/{id}/tasks        a job's tasks, by index, filtered by state
//	GET /v1/overview               the operator's overview (Config.Operators only)
//	GET /v1/events                 live updates: server-sent events from one shared source (dashHub)
//
// The API takes the token as Authorization: Bearer, never a cookie, so no
// other site can make a signed-in browser ask anything.
func (c *Coordinator) dashboardRoutes() []route {
	return []route{
		{"GET", "/dashboard", serveDashboard},
		{"GET", "/dashboard/assets/{file...}", serveDashboardAsset},
		{"GET", "/v1/jobs/{id}/history", c.auth(c.jobHistory)},
		{"GET", "/v1/jobs/{id}/tasks", c.auth(c.jobTasks)},
		{"GET", "/v1/overview", c.auth(c.operatorOnly(c.overviewHandler))},
		{"GET", "/v1/events", c.auth(c.events)},
	}
}

var (
	//go:embed dashboard.html
	dashboardHTML []byte
	//go:embed dashboard.js
	dashboardJS []byte
	//go:embed dashboard.css
	dashboardCSS []byte
)

// dashboardCSP runs only the coordinator's own scripts and styles: no
// inline script, no other origin.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func serveDashboard(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.Write(dashboardHTML)
}

func serveDashboardAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var b []byte
	switch name {
	case "dashboard.js":
		b = dashboardJS
	case "dashboard.css":
		b = dashboardCSS
	case "uPlot.iife.min.js", "uPlot.min.css":
		var err error
		if b, err = fs.ReadFile(uplot.Files, name); err != nil {
			writeError(w, http.StatusInternalServerError, api.CodeInternal, "uPlot is missing from the binary")
			return
		}
	default:
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such file")
		return
	}
	w.Header().Set("Content-Type", mimeTypes[name[strings.LastIndexByte(name, '.'):]])
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// maxHistoryBuckets is how many buckets a job's history has at most: the
// step grows with the job's age instead.
const maxHistoryBuckets = 150

// historySteps are the bucket widths a history may use, the smallest that
// keeps it within maxHistoryBuckets chosen.
var historySteps = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second,
	10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// historyWindow chooses the buckets of a job's history: from its creation
// to its end (or now), at the smallest step that needs at most
// maxHistoryBuckets.
func historyWindow(start, end time.Time) (time.Duration, int) {
	span := max(end.Sub(start), 0)
	// Beyond the widest step: whole days, as many as it takes.
	day := historySteps[len(historySteps)-1]
	step := (span/maxHistoryBuckets/day + 1) * day
	for _, s := range historySteps {
		if span/s < maxHistoryBuckets {
			step = s
			break
		}
	}
	return step, int(span/step) + 1
}

// history reads a job's history from the store.
func (c *Coordinator) history(ctx context.Context, j *store.Job) (*api.History, error) {
	start := j.CreatedAt.Truncate(time.Second)
	end := j.FinishedAt
	if end.IsZero() {
		end = c.cfg.Now()
	}
	step, n := historyWindow(start, end)
	bs, err := c.store.JobHistory(ctx, &store.JobHistoryParams{JobID: j.ID, Start: start, Step: step, Buckets: n})
	if err != nil {
		return nil, err
	}
	h := &api.History{Start: start.UTC(), StepMS: step.Milliseconds(), T: make([]float64, n), TasksDone: make([]int, n), TasksDisputed: make([]int, n),
		Trusted: make([]int, n), FuelPerSecond: make([]float64, n), Segments: make([]int, n), Workers: make([]int, n), Checkpoints: make([]int, n),
		Lost: make([]int, n), FuelLost: make([]uint64, n), Audits: make([]int, n)}
	for i, b := range bs {
		h.T[i] = float64(start.Add(time.Duration(i)*step).UnixMilli()) / 1000
		h.TasksDone[i], h.TasksDisputed[i], h.Trusted[i] = b.TasksDone, b.TasksDisputed, b.Trusted
		h.FuelPerSecond[i] = float64(b.Fuel) / step.Seconds()
		h.Segments[i], h.Workers[i], h.Checkpoints[i] = b.Segments, b.Workers, b.Checkpoints
		h.Lost[i], h.FuelLost[i], h.Audits[i] = b.Lost, b.FuelLost, b.Audits
	}
	return h, nil
}

// ownJob reads the job named by the path, if it is the owner's.
func (c *Coordinator) ownJob(w http.ResponseWriter, r *http.Request, owner string) (*store.Job, bool) {
	id, ok := jobID(r)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such job")
		return nil, false
	}
	j, err := c.store.JobGet(r.Context(), &store.JobGetParams{ID: id, Owner: owner})
	if err != nil {
		c.storeError(w, err)
		return nil, false
	}
	return j, true
}

func (c *Coordinator) jobHistory(w http.ResponseWriter, r *http.Request, owner string) {
	j, ok := c.ownJob(w, r, owner)
	if !ok {
		return
	}
	h, err := c.history(r.Context(), j)
	if err != nil {
		c.storeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, h)
}

// dashKeepalive is how often an idle stream sends a comment (so proxies
// keep it open) and its token is looked up again (a var for tests).
var dashKeepalive = 15 * time.Second

// maxTaskPage bounds one page of GET /v1/jobs/{id}/tasks.
const maxTaskPage = 1000

var taskStates = []store.TaskState{store.TaskPending, store.TaskDone, store.TaskDisputed, store.TaskCancelled}

// jobTasks serves GET /v1/jobs/{id}/tasks[?state=S][&after=I][&limit=N].
func (c *Coordinator) jobTasks(w http.ResponseWriter, r *http.Request, owner string) {
	q := r.URL.Query()
	state := store.TaskState(q.Get("state"))
	if state != "" && !slices.Contains(taskStates, state) {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("state must be pending, done, disputed or cancelled (or left out: every task), got %q", state))
		return
	}
	after, limit := -1, 100
	for _, p := range []struct {
		name     string
		v        *int
		min, max int
	}{{"after", &after, -1, 1 << 30}, {"limit", &limit, 1, maxTaskPage}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < p.min || n > p.max {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s must be an integer from %d to %d, got %q", p.name, p.min, p.max, s))
			return
		}
		*p.v = n
	}
	j, ok := c.ownJob(w, r, owner)
	if !ok {
		return
	}
	ts, err := c.store.TaskList(r.Context(), &store.TaskListParams{JobID: j.ID, State: state, AfterIndex: after, Limit: limit})
	if err != nil {
		c.storeError(w, err)
		return
	}
	out := api.TaskList{Tasks: make([]api.Task, 0, len(ts))}
	for _, t := range ts {
		a := api.Task{Index: t.Index, State: string(t.State), Status: t.Result.Status, ExitCode: t.Result.ExitCode, Fuel: t.Result.Fuel,
			Seq: t.ResultSeq, Verification: t.Verification, Note: t.Note}
		if !t.FinishedAt.IsZero() {
			at := t.FinishedAt.UTC()
			a.FinishedAt = &at
		}
		out.Tasks = append(out.Tasks, a)
	}
	if len(ts) == limit {
		next := ts[len(ts)-1].Index
		out.Next = &next
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, &out)
}

// isOperator says whether an owner may read the operator's overview.
func (c *Coordinator) isOperator(owner string) bool {
	return slices.Contains(c.cfg.Operators, owner)
}

// notOperator is what an owner who is no operator is told.
func notOperator(w http.ResponseWriter, owner string) {
	writeError(w, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("%q is not an operator of this coordinator: the overview is for the owners named by `crowdrun serve --operator`", owner))
}

func (c *Coordinator) operatorOnly(h authedHandler) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, owner string) {
		if !c.isOperator(owner) {
			notOperator(w, owner)
			return
		}
		h(w, r, owner)
	}
}

func (c *Coordinator) overviewHandler(w http.ResponseWriter, r *http.Request, owner string) {
	o, err := c.dash.overview(r.Context())
	if err != nil {
		c.storeError(w, err)
		return
	}
	c.dash.mu.Lock()
	o.Samples = c.dash.plotSamples()
	c.dash.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, o)
}

// events serves GET /v1/events[?job=ID][&overview=1]: server-sent events
// for one dashboard page — "jobs" (the owner's jobs) without job, "job"
// (the job and its history) with it, and "overview" for an operator who
// asks. Every stream is fed by the one dashHub, which reads the store once
// per tick for all of them.
func (c *Coordinator) events(w http.ResponseWriter, r *http.Request, owner string) {
	q := r.URL.Query()
	s := &dashSub{owner: owner, ch: make(chan []dashEvent, 1)}
	if v := q.Get("job"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("job must be a job id, got %q", v))
			return
		}
		if _, err := c.store.JobGet(r.Context(), &store.JobGetParams{ID: id, Owner: owner}); err != nil {
			c.storeError(w, err)
			return
		}
		s.job = id
	}
	switch q.Get("overview") {
	case "", "0":
	case "1":
		if !c.isOperator(owner) {
			notOperator(w, owner)
			return
		}
		s.overview = true
	default:
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "overview must be 1 or left out")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "this connection cannot stream")
		return
	}
	if err := c.dash.subscribe(s); err != nil {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, err.Error())
		return
	}
	defer c.dash.unsubscribe(s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("retry: 2000\n\n"))
	flusher.Flush()
	last := map[string]string{} // what was sent last, per event name: only changes are sent
	keepalive := time.NewTicker(dashKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case evs := <-s.ch:
			wrote := false
			for _, e := range evs {
				if last[e.name] == string(e.data) {
					continue
				}
				last[e.name] = string(e.data)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data)
				wrote = true
			}
			if wrote {
				flusher.Flush()
			}
		case <-keepalive.C:
			// A token revoked while its stream is open ends the stream;
			// the page's reconnection is then refused.
			secret, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if _, err := c.store.TokenLookup(r.Context(), &store.TokenLookupParams{Hash: HashToken(secret)}); errors.Is(err, store.ErrNotFound) {
				return
			}
			w.Write([]byte(": keepalive\n\n"))
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-c.dash.done:
			return
		}
	}
}
