package sqlite

import (
	"context"

	"github.com/crowdrun/crowdrun/internal/store"
)

// stateCountsQuery is one statement, so one snapshot: jobs with their task
// counters (one pass over jobs), then the replicas of running jobs through
// the replicas_job index, grouped in its order (job, state) so that no
// sort is needed; StateCounts.Add sums the jobs' rows. CROSS JOIN keeps
// jobs outside (SQLite's planner would otherwise scan every replica of
// every job in the index).
const stateCountsQuery = `
	SELECT 'job', state, count(*), coalesce(sum(task_count), 0), coalesce(sum(tasks_finished), 0), coalesce(sum(tasks_disputed), 0), coalesce(sum(tasks_cancelled), 0)
	FROM jobs GROUP BY state
	UNION ALL
	SELECT 'replica', r.state, count(*), 0, 0, 0, 0
	FROM jobs j CROSS JOIN replicas r WHERE r.job_id = j.id AND j.state = 'running' GROUP BY j.id, r.state`

func (db *DB) StateCounts(ctx context.Context) (*store.StateCounts, error) {
	rows, err := db.r.QueryContext(ctx, stateCountsQuery)
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
