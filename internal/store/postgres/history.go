package postgres

import (
	"context"

	"github.com/crowdrun/crowdrun/internal/store"
)

func (db *DB) JobHistory(ctx context.Context, p *store.JobHistoryParams) ([]store.HistoryBucket, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	start, step := ms(p.Start), p.Step.Milliseconds()
	end := start + step*int64(p.Buckets)
	out := make([]store.HistoryBucket, p.Buckets)
	for q, text := range store.HistoryQueries {
		if err := db.historyQuery(ctx, out, q, text, p.JobID, start, step, end); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) historyQuery(ctx context.Context, out []store.HistoryBucket, q int, text string, args ...any) error {
	rows, err := db.pool.Query(ctx, text, args...)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	v := make([]int64, 1+store.HistoryColumns[q])
	ptrs := make([]any, len(v))
	for i := range v {
		ptrs[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return interpretError(err)
		}
		if b := v[0]; b >= 0 && b < int64(len(out)) {
			store.HistoryAdd(&out[b], q, v[1:])
		}
	}
	return interpretError(rows.Err())
}

func (db *DB) TaskList(ctx context.Context, p *store.TaskListParams) ([]*store.Task, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 500
	}
	rows, err := db.pool.Query(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = $1 AND idx > $2 AND ($3 = '' OR state = $3) ORDER BY idx LIMIT $4`,
		p.JobID, p.AfterIndex, string(p.State), limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, interpretError(rows.Err())
}

// Size is the database's size on disk, as PostgreSQL counts it.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n, interpretError(err)
}
