package store

import (
	"fmt"
	"time"
)

// JobHistoryParams asks for a job's recorded events counted in time
// buckets: bucket i holds what happened in [Start + i·Step, Start +
// (i+1)·Step). Events outside the buckets are left out, so the answer's
// size is Buckets whatever the job's.
type JobHistoryParams struct {
	JobID   int64
	Start   time.Time
	Step    time.Duration // ≥ 1 ms
	Buckets int           // 1 to MaxHistoryBuckets
}

// MaxHistoryBuckets bounds JobHistoryParams.Buckets.
const MaxHistoryBuckets = 1000

// HistoryBucket is what a job's durable records say happened in one time
// bucket: every figure is read back from rows the store keeps anyway
// (tasks, segments, checkpoints, replicas), so a restarted coordinator
// still has the job's whole history.
type HistoryBucket struct {
	// TasksDone and TasksDisputed: tasks settled in the bucket (finished_at).
	TasksDone, TasksDisputed int
	// Trusted: tasks settled in the bucket on a re-run on trusted ground
	// (Verification VerifyTrusted: a disputed link, or a chain that no
	// credible account vouched for, docs/trust.md).
	Trusted int
	// Segments ended in the bucket, and among them the ones that saved
	// work (finished, or ended after an accepted checkpoint); Fuel is the
	// work they saved (FuelEnd − FuelStart), every replica's (quorum
	// partners and audits too).
	Segments, Saved int
	Fuel            uint64
	// Workers: distinct worker names whose segments ended in the bucket.
	Workers int
	// Lost segments (their worker left) ended in the bucket and the fuel
	// they lost (FuelReached − FuelEnd): work lost to churn.
	Lost     int
	FuelLost uint64
	// Checkpoints accepted in the bucket (an audit's copies of its
	// target's checkpoints are not counted again).
	Checkpoints int
	// Audits: audit replicas that reported their link in the bucket.
	Audits int
}

// TaskListParams lists a job's tasks by index, optionally in one state.
type TaskListParams struct {
	JobID      int64
	State      TaskState // "": every state
	AfterIndex int       // tasks with a greater index; -1: from the first
	Limit      int       // 0: 500
}

// Check says what is wrong with p, for both drivers.
func (p *JobHistoryParams) Check() error {
	if p.Step < time.Millisecond || p.Buckets < 1 || p.Buckets > MaxHistoryBuckets {
		return fmt.Errorf("store: JobHistory needs a step of at least 1ms and 1 to %d buckets (got %v, %d)", MaxHistoryBuckets, p.Step, p.Buckets)
	}
	return nil
}

// HistoryQueries are JobHistory's queries, the same for every driver but
// for their placeholders, written here as $1 (job), $2 (start, Unix ms),
// $3 (step, ms) and $4 (end, Unix ms). Each returns rows of a bucket index
// and the figures HistoryAdd reads, in order.
var HistoryQueries = [4]string{
	// Sums are cast: PostgreSQL's sum of bigint is numeric.
	// Tasks settled: the partial index of numbered results finds them.
	`SELECT (finished_at - $2) / $3 AS b,
		CAST(sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN state = 'disputed' THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN verification = 'trusted' THEN 1 ELSE 0 END) AS bigint)
	FROM tasks WHERE job_id = $1 AND result_seq IS NOT NULL AND finished_at >= $2 AND finished_at < $4 GROUP BY b`,
	// Segments, through the job's replicas (index replicas_job).
	`SELECT (g.finished_at - $2) / $3 AS b, count(*),
		CAST(sum(CASE WHEN g.state = 'done' OR coalesce(g.fuel_end, 0) > g.fuel_start THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN g.state = 'done' OR coalesce(g.fuel_end, 0) > g.fuel_start THEN coalesce(g.fuel_end, 0) - g.fuel_start ELSE 0 END) AS bigint),
		count(DISTINCT g.worker),
		CAST(sum(CASE WHEN g.state = 'lost' THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN g.state = 'lost' THEN coalesce(g.fuel_reached, g.fuel_end, 0) - coalesce(g.fuel_end, 0) ELSE 0 END) AS bigint)
	FROM replicas r JOIN segments g ON g.replica_id = r.id
	WHERE r.job_id = $1 AND g.finished_at >= $2 AND g.finished_at < $4 GROUP BY b`,
	// Checkpoints; an audit's copies are those below its link.
	`SELECT (c.created_at - $2) / $3 AS b, count(*)
	FROM replicas r JOIN checkpoints c ON c.replica_id = r.id
	WHERE r.job_id = $1 AND (r.role = 'run' OR c.seq >= r.audit_seq) AND c.created_at >= $2 AND c.created_at < $4 GROUP BY b`,
	// Audits reported.
	`SELECT (finished_at - $2) / $3 AS b, count(*)
	FROM replicas WHERE job_id = $1 AND role = 'audit' AND state = 'done' AND finished_at >= $2 AND finished_at < $4 GROUP BY b`,
}

// HistoryAdd adds one row of HistoryQueries[q] (its figures after the
// bucket index) to h.
func HistoryAdd(h *HistoryBucket, q int, v []int64) {
	switch q {
	case 0:
		h.TasksDone, h.TasksDisputed, h.Trusted = int(v[0]), int(v[1]), int(v[2])
	case 1:
		h.Segments, h.Saved, h.Fuel, h.Workers, h.Lost, h.FuelLost = int(v[0]), int(v[1]), uint64(v[2]), int(v[3]), int(v[4]), uint64(v[5])
	case 2:
		h.Checkpoints = int(v[0])
	case 3:
		h.Audits = int(v[0])
	}
}

// HistoryColumns is how many figures each of HistoryQueries returns after
// the bucket index.
var HistoryColumns = [4]int{3, 6, 1, 1}
