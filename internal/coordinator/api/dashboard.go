package api

import "time"

// History is a job's recorded events in time buckets, as columns (one
// value per bucket) so that a chart plots them as they come
// (GET /v1/jobs/{id}/history).
type History struct {
	Start  time.Time `json:"start"`   // the first bucket's start (the job's creation)
	StepMS int64     `json:"step_ms"` // bucket width
	// T is each bucket's start, in Unix seconds.
	T             []float64 `json:"t"`
	TasksDone     []int     `json:"tasks_done"`     // settled done in the bucket
	TasksDisputed []int     `json:"tasks_disputed"` // settled disputed
	Trusted       []int     `json:"trusted"`        // verified by a re-run on trusted ground (a disputed link, or a chain no credible account vouched for)
	// FuelPerSecond: the fuel saved by segments that ended in the bucket
	// (every replica's: quorum partners and audits too), per second.
	FuelPerSecond []float64 `json:"fuel_per_second"`
	Segments      []int     `json:"segments"` // segments ended
	Workers       []int     `json:"workers"`  // distinct workers among them
	Checkpoints   []int     `json:"checkpoints"`
	Lost          []int     `json:"lost"`      // segments lost (their worker left)
	FuelLost      []uint64  `json:"fuel_lost"` // the work they lost
	Audits        []int     `json:"audits"`    // audit replicas reported
}

// Task is one task of a job as the dashboard lists it
// (GET /v1/jobs/{id}/tasks).
type Task struct {
	Index        int        `json:"index"`
	State        string     `json:"state"` // pending | done | disputed | cancelled
	Status       string     `json:"status,omitempty"`
	ExitCode     uint32     `json:"exit_code"`
	Fuel         uint64     `json:"fuel"`
	Seq          int64      `json:"seq,omitempty"` // its place in the results (done, disputed)
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Verification string     `json:"verification,omitempty"`
	Note         string     `json:"note,omitempty"`
}

// TaskList is a page of a job's tasks; Next, when set, is the after= of
// the next page.
type TaskList struct {
	Tasks []Task `json:"tasks"`
	Next  *int   `json:"next,omitempty"`
}

// Overview is the operator's view of the coordinator (GET /v1/overview).
type Overview struct {
	At time.Time `json:"at"`
	// Workers connected to this coordinator now, by kind (native,
	// browser, node, other), and their slots.
	Workers map[string]int `json:"workers"`
	Slots   int            `json:"slots"`
	// Queued: replicas waiting for a worker, every coordinator's.
	Queued int `json:"queued"`
	// StoreBytes: the store's database size (sampled at most every 30 s).
	StoreBytes int64 `json:"store_bytes"`
	// Samples of workers online by kind, oldest first, one per tick, the
	// last hour at most (kept in memory: a restart starts them afresh).
	Samples WorkerSamples `json:"samples"`
}

// WorkerSamples are columns: T in Unix seconds, and the workers online of
// each kind at T.
type WorkerSamples struct {
	T      []float64        `json:"t"`
	ByKind map[string][]int `json:"by_kind"`
	// Queued: the replicas queued at T; null where nobody had the
	// overview open (the queue is read only for an open overview).
	Queued []*int `json:"queued"`
}

// Error codes of the dashboard's endpoints.
const (
	// CodeForbidden: the token is valid but may not read this (the
	// overview is for operators).
	CodeForbidden = "forbidden"
	// CodeUnavailable: the coordinator cannot take this now (too many
	// live streams); try again after Retry-After.
	CodeUnavailable = "unavailable"
)
