package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
)

// dashHub is the one source of the dashboards' live updates. One goroutine
// (run) ticks once a second: it samples the workers online (memory only)
// and, while dashboards are open, reads what they show from the store once
// for all of them — each owner's job list once, each watched job once,
// the overview once — and hands every stream its part. N open dashboards
// on one job cost the store what one costs.
type dashHub struct {
	c    *Coordinator
	kick chan struct{} // a new stream wants its first events now
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	subs    map[*dashSub]struct{}
	samples []workerSample // newest last, at most maxSamples
	// finished caches the payloads of finished jobs (they change no more
	// unless a task is reopened, which JobGet tells: state, finished_at).
	finished map[int64]*finishedJob
	running  map[int64]*runningJob
	size     int64
	sizeAt   time.Time

	rounds atomic.Int64 // rounds that fed streams (tests)
}

// runningJob is the last history read of a running job.
type runningJob struct {
	counts store.JobCounts // when it was read
	at     time.Time
	hist   *api.History
}

type finishedJob struct {
	at    time.Time // the job's FinishedAt
	job   *api.Job
	event []byte // the "job" event's data
}

// dashSub is one open stream.
type dashSub struct {
	owner    string
	job      int64 // 0: the owner's job list
	overview bool
	ch       chan []dashEvent // capacity 1: the latest round's events replace unread ones
}

type dashEvent struct {
	name string
	data []byte
}

type workerSample struct {
	at     time.Time
	byKind map[string]int
	slots  int
	queued int // -1: not read (no overview was open)
}

const (
	// maxSamples keeps an hour of samples, one a second.
	maxSamples = 3600
	// maxPlotSamples is how many of them an overview sends, at most.
	maxPlotSamples = 360
	// dashTick is how often open dashboards are updated.
	dashTick = time.Second
	// maxFinishedCache bounds the finished jobs kept (a few kB each).
	maxFinishedCache = 1000
	// sizeEvery: the store's size is read at most this often.
	sizeEvery = 30 * time.Second
)

// maxDashSubscribers bounds the open streams of one coordinator (a var for
// tests).
var maxDashSubscribers = 256

func newDashHub(c *Coordinator) *dashHub {
	return &dashHub{c: c, kick: make(chan struct{}, 1), done: make(chan struct{}), subs: map[*dashSub]struct{}{}, finished: map[int64]*finishedJob{},
		running: map[int64]*runningJob{}}
}

func (h *dashHub) subscribe(s *dashSub) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return errors.New("the coordinator is shutting down")
	default:
	}
	if len(h.subs) >= maxDashSubscribers {
		return fmt.Errorf("too many live dashboards are open on this coordinator (%d): close one, or try again later", maxDashSubscribers)
	}
	h.subs[s] = struct{}{}
	select {
	case h.kick <- struct{}{}:
	default:
	}
	return nil
}

func (h *dashHub) unsubscribe(s *dashSub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// run ticks until ctx ends. A round also follows a new stream (its first
// events) and a task or job finishing, at most one per quarter second.
func (h *dashHub) run(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(dashTick)
	defer t.Stop()
	var last time.Time
	for {
		changed := h.c.changes()
		sample := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sample = true
		case <-h.kick:
		case <-changed:
		}
		if !sample {
			if wait := 250*time.Millisecond - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		h.round(ctx, sample)
	}
}

// round samples the workers (on a tick) and feeds every open stream.
func (h *dashHub) round(ctx context.Context, sample bool) {
	h.mu.Lock()
	subs := make([]*dashSub, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	var ov *api.Overview
	for _, s := range subs {
		if s.overview {
			var err error
			if ov, err = h.overview(ctx); err != nil {
				h.c.cfg.Logger.Warn("dashboard overview", "err", err)
			}
			break
		}
	}
	if sample {
		h.sample(ov)
	}
	if len(subs) == 0 {
		return
	}
	h.rounds.Add(1)
	lists := map[string][]byte{}
	jobs := map[int64][]byte{}
	var ovData []byte
	if ov != nil {
		h.mu.Lock()
		ov.Samples = h.plotSamples()
		h.mu.Unlock()
		ovData, _ = json.Marshal(ov)
	}
	for _, s := range subs {
		var evs []dashEvent
		if s.job != 0 {
			d, ok := jobs[s.job]
			if !ok {
				var err error
				if d, err = h.jobEvent(ctx, s.job); err != nil {
					h.c.cfg.Logger.Warn("dashboard job", "job", s.job, "err", err)
				}
				jobs[s.job] = d
			}
			if d != nil {
				evs = append(evs, dashEvent{"job", d})
			}
		} else {
			d, ok := lists[s.owner]
			if !ok {
				var err error
				if d, err = h.listEvent(ctx, s.owner); err != nil {
					h.c.cfg.Logger.Warn("dashboard jobs", "owner", s.owner, "err", err)
				}
				lists[s.owner] = d
			}
			if d != nil {
				evs = append(evs, dashEvent{"jobs", d})
			}
		}
		if s.overview && ovData != nil {
			evs = append(evs, dashEvent{"overview", ovData})
		}
		if len(evs) == 0 {
			continue
		}
		// The latest events replace those not read yet: a slow reader
		// skips rounds, it never holds the hub up.
		select {
		case <-s.ch:
		default:
		}
		s.ch <- evs
	}
	// Forget the histories no page watches any more.
	h.mu.Lock()
	for id := range h.running {
		if _, ok := jobs[id]; !ok {
			delete(h.running, id)
		}
	}
	h.mu.Unlock()
}

// jobView is the "job" event: a job with its counters and its history.
type jobView struct {
	Job     *api.Job     `json:"job"`
	History *api.History `json:"history"`
}

func (h *dashHub) jobEvent(ctx context.Context, id int64) ([]byte, error) {
	j, err := h.c.store.JobGet(ctx, &store.JobGetParams{ID: id})
	if err != nil {
		return nil, err
	}
	if f := h.cachedFinished(j); f != nil && f.event != nil {
		return f.event, nil
	}
	counts, err := h.c.store.JobCounts(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	a := h.c.apiJob(ctx, j, counts)
	hist, err := h.jobHistory(ctx, j, counts)
	if err != nil {
		return nil, err
	}
	d, err := json.Marshal(&jobView{Job: a, History: hist})
	if err != nil {
		return nil, err
	}
	if j.State != store.JobRunning {
		h.keepFinished(j, &finishedJob{at: j.FinishedAt, job: a, event: d})
	}
	return d, nil
}

// jobHistory reads a running job's history again only when its counters
// moved or a bucket has passed since the last read: a job's history scans
// its rows, and a large job idle for a while need not be scanned every
// second.
func (h *dashHub) jobHistory(ctx context.Context, j *store.Job, counts *store.JobCounts) (*api.History, error) {
	h.mu.Lock()
	r := h.running[j.ID]
	h.mu.Unlock()
	now := h.c.cfg.Now()
	if j.State == store.JobRunning && r != nil && r.counts == *counts && now.Sub(r.at) < time.Duration(r.hist.StepMS)*time.Millisecond {
		return r.hist, nil
	}
	hist, err := h.c.history(ctx, j)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if j.State == store.JobRunning {
		h.running[j.ID] = &runningJob{counts: *counts, at: now, hist: hist}
	} else {
		delete(h.running, j.ID)
	}
	h.mu.Unlock()
	return hist, nil
}

func (h *dashHub) listEvent(ctx context.Context, owner string) ([]byte, error) {
	js, err := h.c.store.JobList(ctx, &store.JobListParams{Owner: owner, Limit: 100})
	if err != nil {
		return nil, err
	}
	out := api.JobList{Jobs: make([]api.Job, 0, len(js))}
	for _, j := range js {
		var a *api.Job
		if f := h.cachedFinished(j); f != nil {
			a = f.job
		} else if a, err = h.apiJob(ctx, j); err != nil {
			return nil, err
		} else if j.State != store.JobRunning {
			h.keepFinished(j, &finishedJob{at: j.FinishedAt, job: a})
		}
		out.Jobs = append(out.Jobs, *a)
	}
	return json.Marshal(&out)
}

// keepFinished caches what was read of a finished job.
func (h *dashHub) keepFinished(j *store.Job, f *finishedJob) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.finished) >= maxFinishedCache {
		clear(h.finished) // read again as they are asked for
	}
	h.finished[j.ID] = f
}

// cachedFinished returns the cached payload of a finished job, if it is
// still that job's (a reopened task makes it run again).
func (h *dashHub) cachedFinished(j *store.Job) *finishedJob {
	if j.State == store.JobRunning {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.finished[j.ID]; f != nil && f.at.Equal(j.FinishedAt) {
		return f
	}
	return nil
}

func (h *dashHub) apiJob(ctx context.Context, j *store.Job) (*api.Job, error) {
	counts, err := h.c.store.JobCounts(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	return h.c.apiJob(ctx, j, counts), nil
}

// connected counts this coordinator's workers by kind, and their slots.
func (h *dashHub) connected() (map[string]int, int) {
	by := make(map[string]int, len(workerKinds))
	for _, k := range workerKinds {
		by[k] = 0
	}
	slots := 0
	c := h.c
	c.mu.Lock()
	for _, cn := range c.conns {
		by[cn.kind]++
		slots += cn.session.Slots
	}
	c.mu.Unlock()
	return by, slots
}

// overview reads the operator's overview, the samples left out.
func (h *dashHub) overview(ctx context.Context) (*api.Overview, error) {
	by, slots := h.connected()
	queued, err := h.c.store.ReplicaCountQueued(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	size, at := h.size, h.sizeAt
	h.mu.Unlock()
	if at.IsZero() || time.Since(at) >= sizeEvery {
		if size, err = h.c.store.Size(ctx); err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.size, h.sizeAt = size, time.Now()
		h.mu.Unlock()
	}
	return &api.Overview{At: h.c.cfg.Now().UTC(), Workers: by, Slots: slots, Queued: queued, StoreBytes: size}, nil
}

// sample records the workers online now (and the queue, when an overview
// read it).
func (h *dashHub) sample(ov *api.Overview) {
	s := workerSample{at: h.c.cfg.Now(), queued: -1}
	if ov != nil {
		s.byKind, s.slots, s.queued = ov.Workers, ov.Slots, ov.Queued
	} else {
		s.byKind, s.slots = h.connected()
	}
	h.mu.Lock()
	if len(h.samples) == maxSamples {
		h.samples = append(h.samples[:0], h.samples[1:]...)
	}
	h.samples = append(h.samples, s)
	h.mu.Unlock()
}

// plotSamples thins the samples to at most maxPlotSamples (every k-th,
// the newest always in); the caller holds h.mu.
func (h *dashHub) plotSamples() api.WorkerSamples {
	n := len(h.samples)
	k := (n + maxPlotSamples - 1) / maxPlotSamples
	out := api.WorkerSamples{T: []float64{}, ByKind: map[string][]int{}, Queued: []*int{}}
	for _, kind := range workerKinds {
		out.ByKind[kind] = []int{}
	}
	for i := (n - 1) % max(k, 1); i < n; i += max(k, 1) {
		s := h.samples[i]
		out.T = append(out.T, float64(s.at.UnixMilli())/1000)
		for _, kind := range workerKinds {
			out.ByKind[kind] = append(out.ByKind[kind], s.byKind[kind])
		}
		if s.queued >= 0 {
			q := s.queued
			out.Queued = append(out.Queued, &q)
		} else {
			out.Queued = append(out.Queued, nil)
		}
	}
	return out
}
