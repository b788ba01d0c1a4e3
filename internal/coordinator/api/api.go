// Package api holds the JSON shapes of the coordinator's HTTP API
// (docs/api.md, /v1/openapi.json) and a client for it, shared by the CLI,
// the demo and the tests.
package api

import (
	"time"
)

// Limits bound each run of a job's tasks. Zero fields take the coordinator's
// defaults.
type Limits struct {
	Fuel        uint64 `json:"fuel,omitempty"`         // instruction budget per run; 0: unlimited
	MemoryBytes uint64 `json:"memory_bytes,omitempty"` // guest linear memory
	MaxOutput   uint64 `json:"max_output,omitempty"`   // stdout+stderr together
	TimeoutMS   int64  `json:"timeout_ms,omitempty"`   // wall-clock backstop
}

// File is a read-only input file.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"` // base64
}

// TaskSpec is one task of a submission.
type TaskSpec struct {
	Stdin []byte   `json:"stdin,omitempty"` // base64
	Args  []string `json:"args,omitempty"`  // argv[1:]; argv[0] is "main.wasm"
	Env   []string `json:"env,omitempty"`   // KEY=VALUE
	Files []File   `json:"files,omitempty"`
	Seed  uint64   `json:"seed,omitempty"` // seed of the guest's random source
}

// SubmitRequest is the body of POST /v1/jobs.
type SubmitRequest struct {
	Name     string     `json:"name,omitempty"`
	Module   []byte     `json:"module"` // base64 wasm32-wasi module
	Tasks    []TaskSpec `json:"tasks"`
	Limits   Limits     `json:"limits,omitempty"`
	Replicas int        `json:"replicas,omitempty"` // default 1
	Priority int        `json:"priority,omitempty"` // higher first; -100..100
	// MaxError is the highest acceptable probability that an accepted
	// result is wrong (docs/trust.md); default 1e-6. 1 accepts any
	// worker's word unchecked.
	MaxError float64 `json:"max_error,omitempty"`
}

// Counts is a job's progress.
type Counts struct {
	Total     int `json:"total"`
	Done      int `json:"done"`
	Disputed  int `json:"disputed"`
	Cancelled int `json:"cancelled"`
	Pending   int `json:"pending"`
	// Replicas of pending tasks by state.
	Queued  int    `json:"queued"`
	Running int    `json:"running"`
	Fuel    uint64 `json:"fuel"` // total fuel of done tasks
}

// Trust is a job's verification (docs/trust.md).
type Trust struct {
	MaxError float64 `json:"max_error"`
	// Verified: done tasks, verified to the job's max error. Verifying:
	// pending tasks with a result in, waiting for audits, a quorum partner
	// or a trusted re-run.
	Verified  int `json:"verified"`
	Verifying int `json:"verifying"`
	Audits    int `json:"audits"`   // audit re-executions that reported
	Disputes  int `json:"disputes"` // links settled by a trusted re-run
	// LiesCaught: replicas proved wrong; their accounts are banned and
	// their credit revoked.
	LiesCaught int `json:"lies_caught"`
	Reopened   int `json:"reopened"`  // accepted tasks re-verified after an account they rested on was caught
	Unsettled  int `json:"unsettled"` // disputes the trusted re-run could not settle
	// ExtraReplicas: run replicas the verifier added (quorum partners,
	// replacements for a liar's).
	ExtraReplicas int `json:"extra_replicas"`
}

// Job is a job as the API shows it.
type Job struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	State      string     `json:"state"` // running | done | cancelled
	ModuleHash string     `json:"module_hash"`
	Replicas   int        `json:"replicas"`
	Priority   int        `json:"priority"`
	Limits     Limits     `json:"limits"`
	Tasks      Counts     `json:"tasks"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Checkpointing: how the job's replicas run in segments.
	Checkpointing *Checkpointing `json:"checkpointing,omitempty"`
	Trust         Trust          `json:"trust"`
}

// Checkpointing is a job's continuations: its counters, and the
// coordinator's current checkpoint policy (docs/checkpointing.md).
type Checkpointing struct {
	Suspendable  bool   `json:"suspendable"`
	Note         string `json:"note,omitempty"`
	Checkpoints  int    `json:"checkpoints"`   // accepted
	Resumes      int    `json:"resumes"`       // segments that started from a checkpoint
	LostSegments int    `json:"lost_segments"` // segments whose worker left
	// FuelLost is the work lost to churn: over lost segments, the fuel
	// reached minus the fuel at their last accepted checkpoint.
	FuelLost   uint64           `json:"fuel_lost"`
	Mismatches int              `json:"mismatches"` // checkpoints where replicas' state hashes differ
	Policy     CheckpointPolicy `json:"policy"`
}

// CheckpointPolicy is the interval new tasks get and what it came from.
type CheckpointPolicy struct {
	IntervalFuel    uint64  `json:"interval_fuel"`    // the fuel grid
	IntervalSeconds float64 `json:"interval_seconds"` // the grid at the current fuel rate
	OptimalSeconds  float64 `json:"optimal_seconds"`  // T* = τ·(1 + W₀(−e^(−1−δ/τ)))
	MinSeconds      float64 `json:"min_seconds"`      // the floor: checkpoints take at most 5% of the time (19·δ)
	TauSeconds      float64 `json:"tau_seconds"`      // mean session length, censored estimate
	TauSessions     int     `json:"tau_sessions"`     // completed sessions behind it (0: the prior)
	DeltaSeconds    float64 `json:"delta_seconds"`    // mean checkpoint cost
	DeltaReports    int     `json:"delta_reports"`    // reports behind it (0: the default)
	FuelPerSecond   float64 `json:"fuel_per_second"`  // time-weighted median of measured guest run time
	RateSamples     int     `json:"rate_samples"`     // (0: the default)
	Fixed           bool    `json:"fixed"`            // the grid is fixed by configuration
}

// Segment is one ended lease of a replica (GET /v1/jobs/{id}/segments).
type Segment struct {
	Replica     int64     `json:"replica"`
	Task        int       `json:"task"`
	Worker      string    `json:"worker"`
	State       string    `json:"state"`      // done | lost | released | revoked
	ResumeSeq   uint64    `json:"resume_seq"` // checkpoint it started from; 0: the start
	FuelStart   uint64    `json:"fuel_start"`
	FuelEnd     uint64    `json:"fuel_end"`     // last accepted checkpoint, or the final fuel
	FuelReached uint64    `json:"fuel_reached"` // progress the worker reported
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
}

type SegmentList struct {
	Segments []Segment `json:"segments"`
}

// JobList is the body of GET /v1/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

// TaskResult is one line of GET /v1/jobs/{id}/results (NDJSON).
type TaskResult struct {
	Seq       int64  `json:"seq"` // 1, 2, ... in finishing order; resume with ?after=seq
	TaskIndex int    `json:"task"`
	State     string `json:"state"` // done | disputed
	Status    string `json:"status"`
	ExitCode  uint32 `json:"exit_code"`
	Message   string `json:"message,omitempty"`
	Fuel      uint64 `json:"fuel"`
	Stdout    []byte `json:"stdout"` // base64
	Stderr    []byte `json:"stderr"` // base64
	StdoutSHA string `json:"stdout_sha256"`
	// Workers are the names of the workers whose runs make up the result:
	// every replica's, every segment that saved work (a replica resumed from
	// a checkpoint was computed by more than one), in the order their
	// segments ended, each once. A name is what the worker called itself
	// when it connected; workers do not authenticate.
	Workers      []string     `json:"workers"`
	Verification Verification `json:"verification"`
}

// Verification is how a result was checked.
type Verification struct {
	// Method is "quorum" (replicas by different accounts agreed link by
	// link), "audit" (one replica, a sample of its links re-executed by
	// other accounts), "trusted" (a dispute settled by re-running one link
	// on trusted ground) or "none" (one account's word: the job's max
	// error allowed it).
	Method   string `json:"method"`
	Replicas int    `json:"replicas"` // the job's run replicas per task
	// By are the accounts whose computations confirmed the result.
	By []string `json:"by,omitempty"`
	// Outcome is "verified", "unchecked" (method none) or "disputed" (the
	// trusted re-run failed: Note says why).
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
}

// Credit is the body of GET /v1/credit: standing credit (fuel of verified
// links) per account and per day it was earned, and the share of it
// attributed to each web site.
type Credit struct {
	Accounts []AccountCredit `json:"accounts"`
	Sites    []SiteCredit    `json:"sites"`
}

// SiteCredit is the standing credit of the work done under a site's name
// (the site a browser's hello named: the embed widget's data-site): the
// sum of those grants of its accounts that still stand. A site is never an
// identity that work is checked against; its credit falls when an
// account's grants are revoked.
type SiteCredit struct {
	Site  string      `json:"site"`
	Total uint64      `json:"total"`
	Days  []DayCredit `json:"days,omitempty"`
	// Accounts: whose work the credit is, with each one's part (their sum
	// is Total), most first.
	Accounts []SiteAccount `json:"accounts"`
}

type SiteAccount struct {
	Account string `json:"account"`
	Fuel    uint64 `json:"fuel"`
}

type AccountCredit struct {
	Account string `json:"account"`
	Total   uint64 `json:"total"`
	// Days: Unix day (UTC) → fuel earned that day and still standing.
	Days         []DayCredit `json:"days,omitempty"`
	Verified     int64       `json:"verified_links"`
	AuditsPassed int64       `json:"audits_passed"`
	LiesCaught   int64       `json:"lies_caught"`
	Banned       bool        `json:"banned"`
}

type DayCredit struct {
	Day  string `json:"day"` // YYYY-MM-DD, UTC
	Fuel uint64 `json:"fuel"`
}

// Worker is one worker name's record (GET /v1/workers).
type Worker struct {
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	Sessions  int    `json:"sessions"`
	Tasks     int    `json:"tasks"` // replica executions completed
	Fuel      uint64 `json:"fuel"`
}

type WorkerList struct {
	Workers []Worker `json:"workers"`
}

// Error is the body of every error response.
type Error struct {
	Err struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// Quota: with quota_exceeded, which quota and by how much.
		Quota *QuotaDetail `json:"quota,omitempty"`
	} `json:"error"`
	Status int `json:"-"`
}

func (e *Error) Error() string {
	return e.Err.Code + ": " + e.Err.Message
}

// Error codes.
const (
	CodeBadRequest   = "bad_request"
	CodeTooLarge     = "too_large"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	// CodeMethodNotAllowed: the path exists, not with this method (405,
	// with an Allow header).
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	// CodeQuotaExceeded: a submission would pass one of its owner's quotas
	// (429; Err.Quota says which); nothing of it was stored.
	CodeQuotaExceeded = "quota_exceeded"
	// CodeRateLimited: too many requests from one owner or address (429,
	// with Retry-After).
	CodeRateLimited     = "rate_limited"
	CodeInvalidModule   = "invalid_module"
	CodeForbiddenImport = "forbidden_import"
	CodeInternal        = "internal"
	// CodeStoreFull: the store refused the write for want of space (507);
	// nothing of the request was recorded.
	CodeStoreFull = "store_full"
)

// QuotaDetail is a quota a submission would pass (docs/abuse.md): its
// name (jobs, tasks, bytes, fuel), its value, what the owner's running
// jobs hold and what the submission adds.
type QuotaDetail struct {
	Name      string `json:"name"`
	Limit     uint64 `json:"limit"`
	Usage     uint64 `json:"usage"`
	Requested uint64 `json:"requested"`
}
