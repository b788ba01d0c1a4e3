package sqlite

import (
	"context"
	"strings"

	"github.com/crowdrun/crowdrun/internal/store"
)

// historyQueries are store.HistoryQueries with SQLite's numbered
// placeholders.
var historyQueries = func() (qs [4]string) {
	for i, q := range store.HistoryQueries {
		qs[i] = strings.NewReplacer("$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4").Replace(q)
	}
	return qs
}()

func (db *DB) JobHistory(ctx context.Context, p *store.JobHistoryParams) ([]store.HistoryBucket, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	start, step := ms(p.Start), p.Step.Milliseconds()
	end := start + step*int64(p.Buckets)
	out := make([]store.HistoryBucket, p.Buckets)
	for q, text := range historyQueries {
		if err := db.historyQuery(ctx, out, q, text, p.JobID, start, step, end); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) historyQuery(ctx context.Context, out []store.HistoryBucket, q int, text string, args ...any) error {
	rows, err := db.r.QueryContext(ctx, text, args...)
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
	rows, err := db.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = ? AND idx > ? AND (? = '' OR state = ?) ORDER BY idx LIMIT ?`,
		p.JobID, p.AfterIndex, string(p.State), string(p.State), limit)
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

// Size is the main database file's pages (the WAL not counted: it is
// folded back at checkpoints).
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT p.page_count * s.page_size FROM pragma_page_count() p, pragma_page_size() s`).Scan(&n)
	return n, interpretError(err)
}
