// Package store is the coordinator's narrow seam to durable storage: jobs,
// tasks, replicas, segments, worker sessions, API tokens and content-addressed
// blobs. Drivers (internal/store/sqlite, internal/store/postgres) implement Store and
// all pass the one conformance suite in internal/store/storetest.
//
// Methods are shaped X(ctx, *XParams), after River's riverdriver. Drivers
// translate their library's errors into the sentinels below, so the
// coordinator never sees a driver-specific error.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Sentinel errors every driver returns for the same conditions.
var (
	// ErrNotFound: no row matches (or it belongs to another owner).
	ErrNotFound = errors.New("not found")
	// ErrLeaseNotHeld: a result names a lease that the reporting session does
	// not hold now — never granted, expired, requeued, or already reported.
	ErrLeaseNotHeld = errors.New("lease not held")
	// ErrJobFinished: the job is already done or cancelled.
	ErrJobFinished = errors.New("job already finished")
	// ErrCheckpointOrder: a checkpoint that does not come after the
	// replica's latest accepted one (same or lower sequence number or fuel).
	ErrCheckpointOrder = errors.New("checkpoint out of order")
	// ErrTaskSettled: TaskSettle on a task that is no longer pending (done,
	// disputed or cancelled); nothing changed.
	ErrTaskSettled = errors.New("task already settled")
	// ErrFull: the store has no room left (SQLite's SQLITE_FULL: the disk,
	// or the size limit it was opened with; PostgreSQL's disk_full). Nothing
	// of the refused transaction was written; it may succeed once space
	// returns.
	ErrFull = errors.New("store full")
)

// JobState, TaskState and ReplicaState are documented with their transitions
// in docs/state_machine.md.
type (
	JobState     string
	TaskState    string
	ReplicaState string
)

const (
	JobRunning   JobState = "running" // accepted; some task not finished
	JobDone      JobState = "done"    // every task done or disputed
	JobCancelled JobState = "cancelled"

	TaskPending   TaskState = "pending"  // some replica not yet reported
	TaskDone      TaskState = "done"     // every replica agreed
	TaskDisputed  TaskState = "disputed" // replicas disagreed
	TaskCancelled TaskState = "cancelled"

	ReplicaQueued    ReplicaState = "queued"
	ReplicaLeased    ReplicaState = "leased"
	ReplicaDone      ReplicaState = "done"
	ReplicaCancelled ReplicaState = "cancelled"
)

// ReplicaRole is what a replica is for (docs/trust.md).
type ReplicaRole string

const (
	// RoleRun computes the task, from its start or resuming its own
	// checkpoints. A job's Replicas are run replicas; the verifier adds
	// more (a quorum partner, a replacement for a liar's).
	RoleRun ReplicaRole = "run"
	// RoleAudit re-executes one link of another replica (AuditOf, link
	// AuditSeq): it starts with a copy of that replica's checkpoints
	// 1..AuditSeq−1, so its lease resumes from checkpoint AuditSeq−1 like
	// any resumed segment (or runs from the start when AuditSeq is 1).
	RoleAudit ReplicaRole = "audit"
)

// Verdict is what the verifier decided about a replica.
type Verdict string

const (
	VerdictNone   Verdict = ""       // undecided
	VerdictAgreed Verdict = "agreed" // its links that were checked agreed
	VerdictLied   Verdict = "lied"   // a trusted re-run proved a link of it wrong; its result is discarded
	VerdictVoid   Verdict = "void"   // no longer needed: the task settled without it, or its audit is over
)

// Verification methods: how a task's result was verified.
const (
	VerifyNone    = "none"    // accepted on one account's word (the job's max error allowed it)
	VerifyAudit   = "audit"   // one replica, a sample of its links re-executed by other accounts
	VerifyQuorum  = "quorum"  // two or more replicas by different accounts agreed link by link
	VerifyTrusted = "trusted" // a dispute settled by re-running one link on trusted ground
)

// LedgerKind is the kind of a credit ledger entry.
type LedgerKind string

const (
	LedgerGrant  LedgerKind = "grant"  // credit for one verified link: its grid fuel
	LedgerRevoke LedgerKind = "revoke" // a grant taken back (Ref: the grant's Seq)
	LedgerBan    LedgerKind = "ban"    // the account was caught lying
)

// SegmentState is how a segment (one lease of a replica) ended.
type SegmentState string

const (
	SegmentFinished SegmentState = "done"     // the replica's result was accepted
	SegmentLost     SegmentState = "lost"     // the worker left: disconnect, missed heartbeats, lease expiry, restart
	SegmentReleased SegmentState = "released" // the worker gave the lease back (graceful shutdown)
	SegmentRevoked  SegmentState = "revoked"  // the job was cancelled while it ran
)

// Hash is the content address of a blob: lowercase hex SHA-256.
func Hash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// Limits bound each replica of a job's tasks.
type Limits struct {
	Fuel        uint64 `json:"fuel"`         // 0: unlimited
	MemoryBytes uint64 `json:"memory_bytes"` // guest linear memory
	MaxOutput   uint64 `json:"max_output"`   // stdout+stderr together
	TimeoutMS   int64  `json:"timeout_ms"`   // wall-clock backstop per run
}

// File is a read-only input file of a task, its content stored as a blob.
type File struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// Result is how one execution ended: a replica's report, and a task's
// agreed result.
type Result struct {
	Status     string // sandbox verdict
	ExitCode   uint32
	Message    string
	StdoutHash string
	StderrHash string
	Fuel       uint64
}

// Agrees reports whether two replicas' results count as the same: same
// verdict, exit status, output and fuel. The message is diagnostic only.
func (r Result) Agrees(o Result) bool {
	return r.Status == o.Status && r.ExitCode == o.ExitCode && r.StdoutHash == o.StdoutHash &&
		r.StderrHash == o.StderrHash && r.Fuel == o.Fuel
}

type Job struct {
	ID         int64
	Owner      string
	Name       string
	ModuleHash string
	State      JobState
	Priority   int
	Replicas   int
	Limits     Limits
	TaskCount  int
	CreatedAt  time.Time
	FinishedAt time.Time // zero while running
	// Suspendable: the stored module can be suspended, so its replicas run
	// in segments between checkpoints. False for a module the suspend
	// rewrite refused: it runs whole, without checkpoints.
	Suspendable bool
	// MaxError is the job's target: the probability that an accepted
	// result is wrong, at most (docs/trust.md). 1: accept any result.
	MaxError float64
}

// JobCounts is the progress of a job's tasks and replicas.
type JobCounts struct {
	TasksDone, TasksDisputed, TasksCancelled, TasksPending int
	ReplicasQueued, ReplicasLeased                         int
	Fuel                                                   uint64 // sum over finished tasks

	// Continuations (docs/checkpointing.md).
	Checkpoints  int    // checkpoints accepted
	Resumes      int    // segments leased to start from a checkpoint
	LostSegments int    // segments whose worker left (SegmentLost)
	FuelLost     uint64 // over lost segments: fuel reached − fuel at their last accepted checkpoint
	Mismatches   int    // checkpoints whose state hash differs from another replica's at the same sequence number

	// Verification (docs/trust.md), counted by JobNote.
	Audits      int // audit replicas that reported on their link
	Disputes    int // links settled by a trusted re-run
	LiesCaught  int // replicas proved wrong
	Reopened    int // accepted tasks re-verified because an account they rested on was caught
	Unsettled   int // disputes the trusted re-run could not settle (the task is disputed, with why)
	ReplicasRun int // run replicas added by the verifier (quorum partners, replacements)
	// TasksVerifying: pending tasks with at least one replica done (a
	// result in, its verification under way).
	TasksVerifying int
}

type Task struct {
	ID         int64
	JobID      int64
	Index      int
	State      TaskState
	StdinHash  string
	Args       []string
	Env        []string
	Files      []File
	Seed       uint64
	Result     Result // valid when State is done (or disputed: the first replica's)
	ResultSeq  int64  // order in which tasks of a job finished, from 1
	FinishedAt time.Time
	// How the result was verified (Verify*), by which accounts' agreeing
	// computations, and for a disputed task why it could not be settled.
	Verification string
	VerifiedBy   []string
	Note         string
}

// TaskSpec is one task of a job being inserted. Blob contents named by hash
// must be put with BlobPut (or in JobInsertParams.Blobs).
type TaskSpec struct {
	StdinHash string
	Args      []string
	Env       []string
	Files     []File
	Seed      uint64
}

type Session struct {
	ID     int64
	Worker string
	// Coordinator is the coordinator holding the session's connection
	// (CoordinatorStart's ID); "" for a session started without one.
	Coordinator string
	// Account is who the session's work is credited to and checked
	// against: a volunteer token's owner, or "anon:<worker name>".
	Account string
	// Site is the web site the worker named in hello ("": none): credit
	// attribution only, never who the work is checked against.
	Site      string
	Slots     int
	Remote    string
	StartedAt time.Time
	EndedAt   time.Time // zero: still open
	EndReason string
}

// Token kinds.
const (
	TokenOwner     = "owner"     // submits and reads jobs (the default)
	TokenVolunteer = "volunteer" // authenticates workers; their work is credited to Owner
	TokenTrusted   = "trusted"   // a volunteer token whose workers settle disputes
)

type Token struct {
	ID        int64
	Kind      string // Token*; "" reads as TokenOwner
	Owner     string
	Name      string
	CreatedAt time.Time
	RevokedAt time.Time // zero: not revoked
}

// Lease is a replica granted to a worker session, with everything the worker
// needs to run it.
type Lease struct {
	LeaseID    string
	ReplicaID  int64
	TaskID     int64
	JobID      int64
	TaskIndex  int
	ModuleHash string
	StdinHash  string
	Stdin      []byte // the stdin blob's content
	Args       []string
	Env        []string
	Files      []File
	Seed       uint64
	Limits     Limits
	Deadline   time.Time

	// CheckpointEvery is the task's fuel grid: checkpoint k is taken at the
	// first fuel check past k·CheckpointEvery. 0: no checkpoints.
	CheckpointEvery uint64
	// Resume is the checkpoint to continue from; nil: from the start.
	Resume *Checkpoint
	// Verifies: the job verifies its results (max error below 1).
	Verifies bool
}

// Checkpoint is an accepted checkpoint of a replica.
type Checkpoint struct {
	ReplicaID    int64
	Seq          uint64 // k: fuel is past k·grid
	Fuel         uint64 // fuel used since the start of the replica
	StateHash    string // hex state hash (snapshot.Digest.State)
	SnapshotHash string // blob holding the full encoded snapshot
	// StdoutHash and StderrHash are blobs of the output produced since the
	// replica's previous checkpoint (or its start).
	StdoutHash string
	StderrHash string
	Worker     string
	Account    string  // the account of the session that uploaded it
	Site       string  // the site that session named ("": none)
	CostMS     float64 // the worker's measured capture + encode time
	CreatedAt  time.Time
}

// Segment is one lease of a replica that has ended.
type Segment struct {
	ReplicaID   int64
	TaskIndex   int
	Worker      string
	Account     string
	State       SegmentState
	ResumeSeq   uint64 // checkpoint it started from (0: the start)
	FuelStart   uint64 // fuel at that checkpoint
	FuelEnd     uint64 // fuel at its last accepted checkpoint, or its final fuel if done
	FuelReached uint64 // fuel the worker reported reaching (progress), ≥ FuelEnd
	StartedAt   time.Time
	EndedAt     time.Time
}

// RevokedLease names a lease taken back (job cancelled, session ended).
type RevokedLease struct {
	SessionID int64
	LeaseID   string
}

// --- params ---

type BlobPutParams struct{ Data []byte }

type JobInsertParams struct {
	Owner      string
	Name       string
	ModuleHash string
	Priority   int
	Replicas   int // ≥ 1
	Limits     Limits
	Tasks      []TaskSpec
	// Suspendable: see Job.Suspendable.
	Suspendable bool
	// MaxError: see Job.MaxError; 0 is stored as DefaultMaxError.
	MaxError float64
	// Blobs are put in the same transaction as the job (module, stdins, files).
	Blobs [][]byte
	Now   time.Time
	// InputBytes is the size of what the submission brought (module, every
	// task's stdin, files, args and env), recorded with the job: the owner's
	// usage counts it while the job runs (OwnerUsage.InputBytes).
	InputBytes int64
	// Admit, if set, is called inside the insert's transaction with the
	// owner's usage before the job (OwnerUsage), while other admitting
	// inserts of the same owner wait: a non-nil error refuses the job
	// whole (nothing is written) and JobInsert returns it as it is. The
	// policy (quotas) lives above the seam; the store only makes the
	// check and the insert one step, so racing submissions cannot both
	// fit in the last slot.
	Admit func(*OwnerUsage) error
}

// OwnerUsage is what an owner's running jobs hold: the quantities quotas
// are checked against (coordinator/limits.go, docs/abuse.md).
type OwnerUsage struct {
	// ActiveJobs: jobs still running (neither done nor cancelled).
	ActiveJobs int
	// UnfinishedTasks: their tasks neither finished nor cancelled.
	UnfinishedTasks int64
	// InputBytes: the JobInsertParams.InputBytes of those jobs.
	InputBytes int64
	// Fuel: over the unfinished tasks, fuel limit × replicas, saturating
	// at math.MaxUint64 — the most CPU they can still be run for,
	// extra replicas the verifier adds aside.
	Fuel uint64
	// UnlimitedTasks: unfinished tasks of jobs without a fuel limit, which
	// Fuel cannot count.
	UnlimitedTasks int64
}

// AddJob adds one running job's row to u; drivers sum their rows with it
// so both count alike.
func (u *OwnerUsage) AddJob(taskCount, finished, cancelled int64, replicas int, fuel uint64, inputBytes int64) {
	left := max(taskCount-finished-cancelled, 0)
	u.ActiveJobs++
	u.UnfinishedTasks += left
	u.InputBytes += inputBytes
	if fuel == 0 {
		u.UnlimitedTasks += left
		return
	}
	hi, lo := bits.Mul64(uint64(left)*uint64(max(replicas, 1)), fuel)
	sum, carry := bits.Add64(u.Fuel, lo, 0)
	if hi != 0 || carry != 0 {
		u.Fuel = math.MaxUint64
		return
	}
	u.Fuel = sum
}

type JobGetParams struct {
	ID    int64
	Owner string // "" matches any owner (coordinator-internal use)
}

// JobListParams lists an owner's jobs, newest first.
type JobListParams struct {
	Owner string
	Limit int
}

type JobCancelParams struct {
	ID    int64
	Owner string
	Now   time.Time
}

type TaskListResultsParams struct {
	JobID    int64
	AfterSeq int64
	Limit    int
}

type SessionStartParams struct {
	// Coordinator: the coordinator holding the connection, which must be
	// live (started and not ended: ErrNotFound otherwise); "": none.
	Coordinator string
	Worker      string
	Account     string // "" is stored as "anon:" + Worker
	Site        string // "": none (protocol.ParseSite checked it)
	Slots       int
	Remote      string
	Now         time.Time
}

type SessionEndParams struct {
	ID     int64
	Reason string
	Now    time.Time
	// Progress is the fuel each lease had reached (from heartbeats), for
	// the work lost with it.
	Progress map[string]uint64
	// Graceful: the worker said bye, so the leases it still held end
	// released, not lost (it gave back its runs before leaving; what it
	// holds still reached it after that).
	Graceful bool
}

type SessionEndAllParams struct {
	Reason string
	Now    time.Time
}

type SessionListParams struct{ Limit int }

// Coordinator is a coordinator process using the store: several may share
// one (PostgreSQL). Each has a fresh ID per process, and proves it is alive
// by its heartbeat; one whose heartbeat is too old is dead, and any live
// one ends it (CoordinatorReap).
type Coordinator struct {
	ID          string
	StartedAt   time.Time
	HeartbeatAt time.Time
	EndedAt     time.Time // zero: live
	EndReason   string
}

type CoordinatorStartParams struct {
	ID  string
	Now time.Time
}

type CoordinatorHeartbeatParams struct {
	ID  string
	Now time.Time
}

// CoordinatorEndParams ends a coordinator (it stops, or another found it
// dead) and the sessions it still holds, requeueing their replicas.
type CoordinatorEndParams struct {
	ID     string
	Reason string
	Now    time.Time
}

// CoordinatorReapParams ends the coordinators found dead and every open
// session not held by a live coordinator.
type CoordinatorReapParams struct {
	Self string // never reaped
	// StaleBefore: a coordinator whose last heartbeat is older is dead.
	StaleBefore time.Time
	// All: every other coordinator is dead, whatever its heartbeat (the
	// store is this coordinator's alone: SQLite, whose data directory is
	// locked by one process).
	All    bool
	Reason string
	Now    time.Time
}

// CoordinatorReaped is what CoordinatorReap (or CoordinatorEnd) did.
type CoordinatorReaped struct {
	Coordinators []string // ended now
	Sessions     int      // sessions ended
	Requeued     int      // replicas they held, requeued
}

// TaskListOrphanedParams finds the unsettled tasks no live coordinator's
// verifier will look at again.
type TaskListOrphanedParams struct {
	// StaleBefore: as CoordinatorReapParams (a coordinator whose heartbeat
	// is older counts as dead).
	StaleBefore time.Time
	// IdleBefore: a task with nothing recorded since is listed whoever
	// recorded it last (an event lost without a coordinator dying).
	IdleBefore time.Time
	Limit      int // 0: no limit
}

// Pending is an account's unverified claims (Store.AccountPending).
type Pending struct {
	Own, Verification int
}

type ReplicaLeaseParams struct {
	SessionID int64
	Worker    string
	// Account: never a replica of a task of which this account holds or
	// ran a replica, a segment or a checkpoint (one account's workers never
	// check each other). "" is "anon:" + Worker.
	Account  string
	Max      int
	Deadline time.Time
	Now      time.Time
	// CheckpointEvery is the grid given to a task of a suspendable job when
	// its first replica is leased; a task keeps its grid for life.
	CheckpointEvery uint64
	// Resume: the session can continue from a checkpoint. If not, a replica
	// with checkpoints is leased to run from the start.
	Resume bool
	// Probation limits the work of verifying jobs (max error below 1) an
	// account on probation takes (trust.Allowance); nil: no limit. Work of
	// jobs that verify nothing is never limited.
	Probation *LeaseProbation
}

// LeaseProbation is what an account on probation may lease of verifying
// jobs' work.
type LeaseProbation struct {
	Max int // leases of verifying jobs at most (0: none)
	// VerifyOnly: of those, verification work only — audits and replicas
	// beyond a task's first (quorum partners, a job's extra replicas).
	VerifyOnly bool
}

// Mode is how the lease query filters verifying jobs' work: 0 not at all,
// 1 verification work only, 2 none.
func (p *LeaseProbation) Mode() int {
	switch {
	case p == nil:
		return 0
	case p.Max <= 0:
		return 2
	case p.VerifyOnly:
		return 1
	}
	return 0
}

type ReplicaRenewParams struct {
	SessionID int64
	Deadline  time.Time
	// Progress records the fuel each lease has reached (from heartbeats).
	Progress map[string]uint64
}

// ReplicaResult is one worker report. Stdout and Stderr are stored as blobs
// in the same transaction.
type ReplicaResult struct {
	SessionID int64
	LeaseID   string
	Status    string
	ExitCode  uint32
	Message   string
	Stdout    []byte
	Stderr    []byte
	Fuel      uint64
	WallMS    int64
}

type ReplicaCompleteParams struct {
	Results []ReplicaResult
	Now     time.Time
}

// ReplicaOutcome is what happened to one ReplicaResult. Recording a
// result never settles a task: the verifier reads the evidence and calls
// TaskSettle.
type ReplicaOutcome struct {
	Err       error // nil: accepted; ErrLeaseNotHeld: refused, nothing changed
	ReplicaID int64
	TaskID    int64 // the replica's task (0 when refused)
	JobID     int64
	Role      ReplicaRole
}

type ReplicaRequeueExpiredParams struct{ Now time.Time }

type ReplicaReleaseParams struct {
	SessionID int64
	LeaseIDs  []string
	Progress  map[string]uint64
	Now       time.Time
}

// CheckpointAddParams records a checkpoint the coordinator has verified
// (the delta applied to the base, the state hash checked). Snapshot, Stdout
// and Stderr are stored as blobs in the same transaction.
type CheckpointAddParams struct {
	SessionID int64
	LeaseID   string
	Seq       uint64
	Fuel      uint64
	StateHash string
	Snapshot  []byte // the full encoded snapshot
	Stdout    []byte // output since the previous checkpoint of the replica
	Stderr    []byte
	CostMS    float64
	Now       time.Time
}

// CheckpointAdded is what CheckpointAdd did. Comparing it with the task's
// other replicas is the verifier's business, not the store's.
type CheckpointAdded struct {
	ReplicaID, TaskID, JobID int64
	Role                     ReplicaRole
}

type CheckpointListParams struct{ ReplicaID int64 }

type SegmentListParams struct {
	JobID int64
	Limit int
}

// WorkerStat is one worker name's record.
type WorkerStat struct {
	Worker   string
	Segments int    // segments (replica executions) completed
	Fuel     uint64 // their fuel
	Sessions int
	Open     int // sessions still open
}

type TokenInsertParams struct {
	Kind  string // Token*; "" is TokenOwner
	Owner string
	Name  string
	Hash  []byte // SHA-256 of the secret; the secret itself is never stored
	Now   time.Time
}

type TokenLookupParams struct{ Hash []byte }

type TokenListParams struct {
	Owner string // "": every owner's
}

type TokenRevokeParams struct {
	ID  int64
	Now time.Time
}

// DefaultMaxError is a job's target error when its submitter gives none.
const DefaultMaxError = 1e-6

// --- verification ---

// ReplicaInfo is one replica of a task as the verifier sees it.
type ReplicaInfo struct {
	ID       int64
	Role     ReplicaRole
	State    ReplicaState
	Verdict  Verdict
	AuditOf  int64  // RoleAudit: the replica audited
	AuditSeq uint64 // RoleAudit: the link re-executed (checkpoint AuditSeq−1 → AuditSeq; past the last checkpoint: to the end)
	Worker   string // who holds or ran it last
	Account  string // that worker's account
	Site     string // the site that worker's session named ("": none)
	// Accounts are every account that computed part of it (its segments'
	// and checkpoints'), in order, each once.
	Accounts []string
	Result   *Result // nil unless State is done
	// Checkpoints are its accepted checkpoints by sequence (an audit's
	// copies first), each with the account that uploaded it.
	Checkpoints []*Checkpoint
}

// TaskEvidence is everything recorded about a task that verification rests
// on.
type TaskEvidence struct {
	Task     *Task
	Job      *Job
	Grid     uint64 // the task's fuel grid (0: none yet, or not suspendable)
	Replicas []*ReplicaInfo
	// Accounts: the record of every account the evidence names (AccountNames),
	// read with the rest; a name without a record maps to nil. A nil map:
	// not read (ask AccountGet).
	Accounts map[string]*Account
}

// AccountNames lists every account the evidence names: each replica's
// Account and Accounts, and its checkpoints' accounts, each once.
func (ev *TaskEvidence) AccountNames() []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, r := range ev.Replicas {
		add(r.Account)
		for _, a := range r.Accounts {
			add(a)
		}
		for _, c := range r.Checkpoints {
			add(c.Account)
		}
	}
	return out
}

// CompleteAccounts maps each name of AccountNames that has no record in
// ev.Accounts to nil (a store fills ev.Accounts with the records it found).
func (ev *TaskEvidence) CompleteAccounts() {
	if ev.Accounts == nil {
		ev.Accounts = map[string]*Account{}
	}
	for _, a := range ev.AccountNames() {
		if _, ok := ev.Accounts[a]; !ok {
			ev.Accounts[a] = nil
		}
	}
}

type ReplicaAddParams struct {
	TaskID   int64
	Role     ReplicaRole
	AuditOf  int64  // RoleAudit
	AuditSeq uint64 // RoleAudit, ≥ 1
	Now      time.Time
}

type ReplicaVerdictParams struct {
	ReplicaID int64
	Verdict   Verdict
	Now       time.Time
}

// TaskSettleParams finishes a pending task with the verifier's decision.
type TaskSettleParams struct {
	TaskID       int64
	State        TaskState // TaskDone or TaskDisputed
	Result       Result    // the verified result (done), or the first replica's (disputed)
	Verification string    // Verify*
	VerifiedBy   []string
	Note         string // why a disputed task could not be settled
	// Ledger: credit the settlement earns, appended (as LedgerAppend) in
	// the same transaction — the task is settled and credited at once or
	// not at all, so that a coordinator dying between the two loses no
	// credit, and the winner of two settling at once alone grants any.
	Ledger []LedgerEntry
	// Accounts: additions to accounts' records (as AccountAdd; Ban is
	// ignored) made in the same transaction, so that the evidence a
	// settlement earns is counted once, with it, or not at all.
	Accounts []AccountAddParams
	Now      time.Time
}

// TaskSettleOutcome is what TaskSettleBatch did with one settlement: Err
// nil and Settled what TaskSettle would have returned, or Err (then nothing
// of this settlement was written): ErrTaskSettled for a task no longer
// pending (or settled by an earlier settlement of the same batch), or the
// EvidenceFound is one task's answer of a TaskEvidenceBatch as
// TaskEvidence gives it: nil, no such task, is ErrNotFound.
func EvidenceFound(ev *TaskEvidence, taskID int64) (*TaskEvidence, error) {
	if ev == nil {
		return nil, fmt.Errorf("%w: task %d", ErrNotFound, taskID)
	}
	return ev, nil
}

// error TaskSettle gives for invalid parameters.
type TaskSettleOutcome struct {
	Settled *TaskSettled
	Err     error
}

// TaskSettled is what TaskSettle did.
type TaskSettled struct {
	JobID       int64
	JobFinished bool
	// Revoked: leases of the task's replicas still running, taken back
	// (they are void now).
	Revoked []RevokedLease
}

type TaskReopenParams struct {
	TaskID int64
	Now    time.Time
}

// JobNoteParams adds to a job's verification counters.
type JobNoteParams struct {
	JobID                                                                      int64
	Mismatches, Audits, Disputes, LiesCaught, Reopened, Unsettled, ReplicasRun int
}

// Account is a volunteer account's verification record.
type Account struct {
	ID           string
	Verified     int64 // links of its work confirmed by another computation
	AuditsPassed int64 // among them, by audits
	// AuditsRun counts, among Verified, the links it re-ran as an auditor
	// that agreed: checks of another's work, not work accepted on its word.
	AuditsRun  int64
	LiesCaught int64
	// AuditLies counts, among LiesCaught, the lies it told as an auditor:
	// caught by the comparison an audit exists for, never accepted.
	AuditLies int64
	BannedAt  time.Time // zero: not banned
	CreatedAt time.Time
}

// AccountAddParams adds to an account's record, creating it if new.
type AccountAddParams struct {
	ID                                                       string
	Verified, AuditsPassed, AuditsRun, LiesCaught, AuditLies int64
	Ban                                                      bool // set BannedAt to Now unless already banned
	Now                                                      time.Time
}

type AccountListParams struct{ Limit int }

// LedgerEntry is one entry of the append-only credit ledger.
type LedgerEntry struct {
	Seq     int64 // assigned by LedgerAppend, from 1, without gaps
	Kind    LedgerKind
	Account string
	// Site: the site the link was computed for ("": none) — the site its
	// computing session named (a revoke: its grant's). Attribution only.
	Site      string
	JobID     int64
	TaskID    int64
	ReplicaID int64
	Link      uint64 // the link (segment) the grant is for
	Fuel      uint64 // grant: the link's grid fuel; revoke: the same as its grant
	Ref       int64  // revoke: the grant's Seq
	Day       int64  // Unix day the credit was earned (for a revoke: its grant's)
	At        time.Time
	Reason    string
}

type LedgerAppendParams struct{ Entries []LedgerEntry }

type LedgerListParams struct {
	Account  string // "": every account's
	TaskID   int64  // 0: every task's (no index: for rare use, e.g. a reopened task)
	AfterSeq int64
	Limit    int // 0: no limit
}

// CreditRow is an account's credit earned on one day and still standing
// (grants minus revocations of that day's grants).
type CreditRow struct {
	Account string
	Day     int64
	Fuel    uint64
}

type CreditListParams struct {
	Account  string // "": every account
	SinceDay int64
}

// SiteCreditRow is the credit an account earned on one day for a site
// (grants whose Site it is) and still standing.
type SiteCreditRow struct {
	Site    string
	Account string
	Day     int64
	Fuel    uint64
}

type SiteCreditListParams struct {
	Site     string // "": every site
	SinceDay int64
}

// StateCounts is the store's population by state (Store.StateCounts).
type StateCounts struct {
	Jobs map[JobState]int
	// Tasks of every job, from the jobs' own counters (no scan of tasks).
	Tasks map[TaskState]int
	// Replicas of running jobs: a finished job has none queued or leased,
	// and counting its done ones would scan history at every scrape.
	Replicas map[ReplicaState]int
}

// BlobGCParams bounds one garbage collection of blobs (Blobs.BlobGC).
type BlobGCParams struct {
	// Before: only blobs stored before it are collected, however
	// unreferenced. The grace period (the coordinator's Before is its clock
	// less Config.BlobGCGrace) protects a blob put with BlobPut ahead of the
	// row that will name it.
	Before time.Time
	// Limit caps the blobs deleted by one call (0: DefaultBlobGCLimit), so
	// one call holds its locks briefly; More says whether to call again.
	Limit int
}

// DefaultBlobGCLimit is BlobGCParams.Limit when zero.
const DefaultBlobGCLimit = 1000

// BlobGCResult is what one BlobGC did.
type BlobGCResult struct {
	Deleted int   // blobs deleted
	Bytes   int64 // their total size
	More    bool  // Limit was reached: more garbage may be left
}

// Blobs is the blob seam: content-addressed, immutable byte strings —
// modules, task inputs, outputs, checkpoint snapshots — named by Hash. Today
// both drivers keep them as rows of their database (table blobs) and
// implement Blobs themselves; an object store can implement it later
// (docs/store.md, "Blobs", says what such an implementation must keep).
//
// The contract, which storetest checks:
//   - BlobPut is idempotent: the same content always gets the same hash and
//     is stored once. The empty blob always exists.
//   - A blob that any row of the store names (BlobRefs) is never deleted:
//     BlobGet finds it for as long as the row exists.
//   - BlobGC deletes only blobs that no row names and that were stored
//     before p.Before, and never one that a transaction in flight is
//     storing or about to name: such a transaction either finds the blob
//     still there (and the collection then leaves it) or stores it again.
//
// Besides these methods the drivers store blobs inside the transactions that
// name them (JobInsertParams.Blobs, ReplicaResult output, CheckpointAdd's
// snapshot and output), so that no committed row ever names a blob that is
// not there, and read two kinds of blob by joining in SQL on hot paths: the
// stdin of a lease (Lease.Stdin) and a replica's checkpointed output when its
// result is recorded.
type Blobs interface {
	// BlobPut stores data and returns its hash.
	BlobPut(ctx context.Context, p *BlobPutParams) (hash string, err error)
	// BlobGet returns a blob's content; ErrNotFound if there is none.
	BlobGet(ctx context.Context, hash string) ([]byte, error)
	// BlobGC deletes blobs no row names (see Blobs), up to p.Limit.
	BlobGC(ctx context.Context, p *BlobGCParams) (*BlobGCResult, error)
}

// BlobRefs lists every column of the store that names a blob, as
// "table.column" ("tasks.files" is a JSON array of File, each naming one).
// Both drivers' garbage collection keeps every blob these name; a column
// added to the schema that names a blob must be added here and to both
// drivers' reference queries.
var BlobRefs = []string{
	"jobs.module_hash",
	"tasks.stdin_hash", "tasks.files", "tasks.stdout_hash", "tasks.stderr_hash",
	"replicas.stdout_hash", "replicas.stderr_hash", "replicas.ckpt_blob",
	"checkpoints.snapshot_hash", "checkpoints.stdout_hash", "checkpoints.stderr_hash",
}

// Store is the seam. Every method is safe for concurrent use.
type Store interface {
	Blobs

	JobInsert(ctx context.Context, p *JobInsertParams) (*Job, error)
	JobGet(ctx context.Context, p *JobGetParams) (*Job, error)
	JobList(ctx context.Context, p *JobListParams) ([]*Job, error)
	JobCounts(ctx context.Context, jobID int64) (*JobCounts, error)
	// JobCancel cancels a running job: unfinished tasks and their replicas
	// become cancelled; the leases taken back are returned.
	JobCancel(ctx context.Context, p *JobCancelParams) (*Job, []RevokedLease, error)

	// TaskListResults lists a job's finished tasks (done or disputed) in the
	// order they finished, after AfterSeq.
	TaskListResults(ctx context.Context, p *TaskListResultsParams) ([]*Task, error)

	SessionStart(ctx context.Context, p *SessionStartParams) (*Session, error)
	// SessionEnd closes a session and requeues the replicas it held.
	SessionEnd(ctx context.Context, p *SessionEndParams) (requeued int, err error)
	// SessionEndAll closes every open session, every coordinator's, and
	// requeues their replicas (tools; a coordinator ends only what is its
	// own or a dead one's: CoordinatorReap).
	SessionEndAll(ctx context.Context, p *SessionEndAllParams) (requeued int, err error)
	SessionList(ctx context.Context, p *SessionListParams) ([]*Session, error)

	// CoordinatorStart records a live coordinator (its heartbeat Now).
	CoordinatorStart(ctx context.Context, p *CoordinatorStartParams) error
	// CoordinatorHeartbeat moves its heartbeat to Now; ErrNotFound if it
	// has ended (another coordinator found it dead: its sessions are gone).
	CoordinatorHeartbeat(ctx context.Context, p *CoordinatorHeartbeatParams) error
	// CoordinatorEnd ends a coordinator and its open sessions, requeueing
	// their replicas (their segments end lost); an ended one is left as
	// it is.
	CoordinatorEnd(ctx context.Context, p *CoordinatorEndParams) (*CoordinatorReaped, error)
	// CoordinatorReap ends every coordinator but Self whose heartbeat is
	// older than StaleBefore (every other one if All), then every open
	// session that no live coordinator holds (its coordinator ended, or
	// none), requeueing their replicas: what a coordinator's death left.
	CoordinatorReap(ctx context.Context, p *CoordinatorReapParams) (*CoordinatorReaped, error)
	// CoordinatorList lists coordinators, most recently started first.
	CoordinatorList(ctx context.Context, limit int) ([]*Coordinator, error)

	// ReplicaLease grants up to Max queued replicas of running jobs to a
	// session, highest priority first, never a replica of a task of which
	// Worker already holds or ran another replica.
	ReplicaLease(ctx context.Context, p *ReplicaLeaseParams) ([]*Lease, error)
	// ReplicaRenew moves the deadline of every lease the session holds.
	ReplicaRenew(ctx context.Context, p *ReplicaRenewParams) error
	// ReplicaComplete records results in one transaction; each is accepted
	// or refused on its own (see ReplicaOutcome).
	ReplicaComplete(ctx context.Context, p *ReplicaCompleteParams) ([]ReplicaOutcome, error)
	// ReplicaRequeueExpired requeues leases whose deadline has passed.
	ReplicaRequeueExpired(ctx context.Context, p *ReplicaRequeueExpiredParams) ([]RevokedLease, error)

	// ReplicaRelease requeues leases the session gives back unrun.
	ReplicaRelease(ctx context.Context, p *ReplicaReleaseParams) (int, error)
	// ReplicaCountQueued counts replicas waiting for a worker.
	ReplicaCountQueued(ctx context.Context) (int, error)

	// CheckpointAdd records a verified checkpoint of a leased replica: it
	// becomes the replica's latest, from which a later lease resumes. It
	// returns ErrLeaseNotHeld if the session does not hold the lease, and
	// ErrCheckpointOrder unless Seq and Fuel exceed the latest's; either
	// way nothing changes.
	CheckpointAdd(ctx context.Context, p *CheckpointAddParams) (*CheckpointAdded, error)
	// CheckpointList lists a replica's accepted checkpoints by sequence.
	CheckpointList(ctx context.Context, p *CheckpointListParams) ([]*Checkpoint, error)
	// SegmentList lists a job's ended segments, oldest first.
	SegmentList(ctx context.Context, p *SegmentListParams) ([]*Segment, error)
	// JobHistory counts a job's recorded events in time buckets
	// (HistoryBucket), len(result) == p.Buckets.
	JobHistory(ctx context.Context, p *JobHistoryParams) ([]HistoryBucket, error)
	// TaskList lists a job's tasks by index (TaskListParams).
	TaskList(ctx context.Context, p *TaskListParams) ([]*Task, error)
	// Size is the bytes the store's database occupies (for the
	// operator's overview).
	Size(ctx context.Context) (int64, error)

	// WorkerStats sums, per worker name, the segments that saved work
	// (finished, or ended after an accepted checkpoint), the fuel they saved
	// (FuelEnd − FuelStart) and its sessions.
	WorkerStats(ctx context.Context) ([]*WorkerStat, error)

	TokenInsert(ctx context.Context, p *TokenInsertParams) (*Token, error)
	// TokenLookup finds the token with a hash; a revoked token is
	// ErrNotFound.
	TokenLookup(ctx context.Context, p *TokenLookupParams) (*Token, error)
	// TokenList lists tokens, revoked ones too, by ID.
	TokenList(ctx context.Context, p *TokenListParams) ([]*Token, error)
	// TokenRevoke revokes a token at Now: from then on TokenLookup does not
	// find it. It returns the token (ErrNotFound if there is none); a token
	// already revoked keeps the time it was first revoked.
	TokenRevoke(ctx context.Context, p *TokenRevokeParams) (*Token, error)

	// --- verification: the store records, internal/verify decides ---

	// TaskEvidence returns a task with its job, grid and every replica
	// with its checkpoints. ErrNotFound if there is no such task.
	TaskEvidence(ctx context.Context, taskID int64) (*TaskEvidence, error)
	// TaskEvidenceBatch reads several tasks' evidence, each as TaskEvidence
	// would, all on one snapshot. out[i] is ids[i]'s, nil if there is no
	// such task; a task asked for twice gets the same evidence twice.
	TaskEvidenceBatch(ctx context.Context, ids []int64) ([]*TaskEvidence, error)
	// ReplicaAdd queues a new replica of a pending task (ErrTaskSettled
	// otherwise) and returns its ID. It is queued ahead of the job's
	// replicas not yet run (the job's priority + 1): a task under
	// verification finishes before new ones start, so that accounts earn
	// credibility as the job goes, not only after every first replica ran. An audit replica starts with copies
	// of AuditOf's checkpoints 1..AuditSeq−1 (same blobs, same accounts)
	// and with its latest at AuditSeq−1, so its lease resumes from there.
	ReplicaAdd(ctx context.Context, p *ReplicaAddParams) (int64, error)
	// ReplicaVerdict records a verdict. A replica still queued or leased
	// becomes cancelled (its segment ends revoked); the leases taken back
	// are returned.
	ReplicaVerdict(ctx context.Context, p *ReplicaVerdictParams) ([]RevokedLease, error)
	// TaskSettle finishes a pending task: it numbers it in the job's
	// results, cancels its replicas still queued or leased (returning the
	// leases taken back), and finishes the job when it was its last.
	TaskSettle(ctx context.Context, p *TaskSettleParams) (*TaskSettled, error)
	// TaskSettleBatch settles several tasks in one transaction (group
	// commit; the verifier's settlements of many tasks at once): each as
	// TaskSettle would, in the order given (results are numbered in that
	// order), each job's row taken once for the batch. out[i] is ps[i]'s
	// outcome; a settlement refused (its outcome's Err) writes nothing and
	// does not stop the others. An error returned means nothing of the
	// batch was committed. TaskSettle is a batch of one.
	TaskSettleBatch(ctx context.Context, ps []*TaskSettleParams) ([]TaskSettleOutcome, error)
	// TaskReopen makes a done task pending again, its result cleared and a
	// fresh run replica queued (and its job running again). Its next
	// settlement gets a new result sequence number.
	TaskReopen(ctx context.Context, p *TaskReopenParams) error
	// JobNote adds to a job's verification counters.
	JobNote(ctx context.Context, p *JobNoteParams) error

	// AccountGet returns an account's record; ErrNotFound for an account
	// never recorded (a fresh account: no credibility).
	AccountGet(ctx context.Context, id string) (*Account, error)
	// AccountAdd adds to an account's record, creating it.
	AccountAdd(ctx context.Context, p *AccountAddParams) (*Account, error)
	// AccountPending counts the account's claims still waiting for their
	// verification: results it reported (done segments) of replicas not
	// proved wrong or voided, nor audits already found to agree (their
	// claim is settled even while the task waits for other audits), of
	// pending tasks of jobs that verify (max error below 1), by kind — own work (a task's first replica) and
	// verification work (audits, replicas beyond the first). Its cost
	// grows with the account's segment history: it is asked only of
	// accounts on probation, whose history is short.
	AccountPending(ctx context.Context, account string) (Pending, error)
	// AccountList lists accounts by ID.
	AccountList(ctx context.Context, p *AccountListParams) ([]*Account, error)
	// TaskListUnsettled lists pending tasks of running jobs none of whose
	// replicas is queued or leased (the verifier must decide them: after a
	// coordinator restart, or after migration 3 reopened old disputed
	// tasks), up to Limit, by ID.
	TaskListUnsettled(ctx context.Context, limit int) ([]int64, error)
	// TaskListOrphaned lists the unsettled tasks (as TaskListUnsettled)
	// whose latest recorded event — a segment ended or a checkpoint
	// accepted — was recorded through a session of a coordinator that is
	// not live (ended, heartbeat before StaleBefore, or none), or before
	// IdleBefore: the verifier that was told of it may be gone with its
	// coordinator, so a survivor's must decide them. A task with nothing
	// recorded is listed too. By ID.
	TaskListOrphaned(ctx context.Context, p *TaskListOrphanedParams) ([]int64, error)
	// TasksRestingOn lists the done tasks that the account computed any
	// part of (a segment or a checkpoint of any replica: run, partner or
	// audit), whatever their verification: a caught account's word backs
	// nothing, and colluders may have formed a quorum or audited each other.
	TasksRestingOn(ctx context.Context, account string) ([]int64, error)

	// LedgerAppend appends entries in one transaction, numbering them.
	LedgerAppend(ctx context.Context, p *LedgerAppendParams) ([]LedgerEntry, error)
	// LedgerList lists entries in order.
	LedgerList(ctx context.Context, p *LedgerListParams) ([]LedgerEntry, error)
	// CreditList sums standing credit per account and day earned, by
	// account then day.
	CreditList(ctx context.Context, p *CreditListParams) ([]CreditRow, error)
	// SiteCreditList sums the standing credit attributed to sites (grants
	// with a Site, less their revocations) per site, account and day
	// earned, by site, account and day. A day whose credit was all revoked
	// is left out.
	SiteCreditList(ctx context.Context, p *SiteCreditListParams) ([]SiteCreditRow, error)

	// StateCounts counts jobs, tasks and replicas by state, for metrics
	// (GET /metrics). Its cost grows with the number of jobs and with the
	// replicas of running jobs, never with the tasks or replicas of
	// finished ones.
	StateCounts(ctx context.Context) (*StateCounts, error)

	Close() error
}

// Notifier is implemented by a store that several coordinators share
// (PostgreSQL): their dispatchers learn of work another coordinator made
// available — a job submitted there, replicas its rescuer requeued or its
// verifier added, a settlement that lets an account on probation lease
// again — without polling.
type Notifier interface {
	// ListenWork calls wake (from its own goroutine) whenever a committed
	// transaction of another process (another Store handle) may have made
	// work available (work true; work false: news for followers of results
	// only, which older coordinators sent for every settlement), until ctx
	// ends. A settlement that makes nothing leasable need not be reported:
	// followers of results poll (coordinator.Config.FollowPoll). Notifications may come in bursts or be coalesced; a
	// break in the listening is reported as one more wake with work true.
	// The handle's own transactions are not reported: its coordinator
	// wakes what it changed itself.
	ListenWork(ctx context.Context, wake func(work bool)) error
}

// NewStateCounts returns StateCounts with every state present, at zero, so
// that a state nothing is in reads 0 rather than missing.
func NewStateCounts() *StateCounts {
	c := &StateCounts{
		Jobs:     map[JobState]int{JobRunning: 0, JobDone: 0, JobCancelled: 0},
		Tasks:    map[TaskState]int{TaskPending: 0, TaskDone: 0, TaskDisputed: 0, TaskCancelled: 0},
		Replicas: map[ReplicaState]int{ReplicaQueued: 0, ReplicaLeased: 0, ReplicaDone: 0, ReplicaCancelled: 0},
	}
	return c
}

// Add adds one row of the drivers' state count query: kind "job" with the
// jobs of a state and the sums of their task counters, or kind "replica"
// with the replicas of running jobs in a state. Both drivers run the same
// query shape, so the arithmetic lives here once.
func (c *StateCounts) Add(kind, state string, n, tasks, finished, disputed, cancelled int) {
	switch kind {
	case "job":
		c.Jobs[JobState(state)] += n
		c.Tasks[TaskDone] += finished - disputed
		c.Tasks[TaskDisputed] += disputed
		c.Tasks[TaskCancelled] += cancelled
		c.Tasks[TaskPending] += tasks - finished - cancelled
	case "replica":
		c.Replicas[ReplicaState(state)] += n
	}
}
