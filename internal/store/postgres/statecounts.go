package postgres

import (
	"context"

	"github.com/crowdrun/crowdrun/internal/store"
)

// stateCountsQuery is one statement, so one snapshot: jobs with their task
// counters (one pass over jobs), then the replicas of running jobs through
// the replicas_job index, grouped in its order (job, state) so that no
// sort is needed; StateCounts.Add sums the jobs' rows. Sums are cast: sum(bigint) is numeric.
const stateCountsQuery = `
	SELECT 'job', state, count(*), coalesce(sum(task_count), 0)::bigint, coalesce(sum(tasks_finished), 0)::bigint,
		coalesce(sum(tasks_disputed), 0)::bigint, coalesce(sum(tasks_cancelled), 0)::bigint
	FROM jobs GROUP BY state
	UNION ALL
	SELECT 'replica', r.state, count(*), 0::bigint, 0::bigint, 0::bigint, 0::bigint
	FROM jobs j JOIN replicas r ON r.job_id = j.id WHERE j.state = 'running' GROUP BY r.job_id, r.state`

func (db *DB) StateCounts(ctx context.Context) (*store.StateCounts, error) {
	rows, err := db.pool.Query(ctx, stateCountsQuery)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	c := store.NewStateCounts()
	for rows.Next() {
		var kind, state string
		var n, total, finished, disputed, cancelled int
		if err := rows.Scan(&kind, &state, &n, &total, &finished, &disputed, &cancelled); err != nil {
			return nil, interpretError(err)
		}
		c.Add(kind, state, n, total, finished, disputed, cancelled)
	}
	return c, interpretError(rows.Err())
}
