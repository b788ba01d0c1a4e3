package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// SQLite has one coordinator at a time (its data directory is locked by
// one process), which reaps every other at start-up; the table is kept as
// PostgreSQL's so that both drivers behave alike.

func (db *DB) CoordinatorStart(ctx context.Context, p *store.CoordinatorStartParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO coordinators(id, started_at, heartbeat_at) VALUES(?, ?, ?)`, p.ID, ms(p.Now), ms(p.Now))
		return interpretError(err)
	})
}

func (db *DB) CoordinatorHeartbeat(ctx context.Context, p *store.CoordinatorHeartbeatParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE coordinators SET heartbeat_at = max(heartbeat_at, ?) WHERE id = ? AND ended_at IS NULL`, ms(p.Now), p.ID)
		if err != nil {
			return interpretError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

func (db *DB) CoordinatorEnd(ctx context.Context, p *store.CoordinatorEndParams) (*store.CoordinatorReaped, error) {
	return db.reap(ctx, `id = ?`, []any{p.ID}, p.Reason, p.Now)
}

func (db *DB) CoordinatorReap(ctx context.Context, p *store.CoordinatorReapParams) (*store.CoordinatorReaped, error) {
	if p.All {
		return db.reap(ctx, `id <> ?`, []any{p.Self}, p.Reason, p.Now)
	}
	return db.reap(ctx, `id <> ? AND heartbeat_at < ?`, []any{p.Self, ms(p.StaleBefore)}, p.Reason, p.Now)
}

// orphanSessions: open sessions no live coordinator holds.
const orphanSessions = `SELECT s.id FROM sessions s WHERE s.ended_at IS NULL
	AND NOT EXISTS (SELECT 1 FROM coordinators c WHERE c.id = s.coordinator AND c.ended_at IS NULL)`

func (db *DB) reap(ctx context.Context, where string, args []any, reason string, now time.Time) (*store.CoordinatorReaped, error) {
	var out store.CoordinatorReaped
	err := db.tx(ctx, func(tx *sql.Tx) error {
		out = store.CoordinatorReaped{}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM coordinators WHERE ended_at IS NULL AND `+where+` ORDER BY id`, args...)
		if err != nil {
			return interpretError(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return interpretError(err)
			}
			out.Coordinators = append(out.Coordinators, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpretError(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE coordinators SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND `+where,
			append([]any{ms(now), reason}, args...)...); err != nil {
			return interpretError(err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+orphanSessions+`)`).Scan(&out.Sessions); err != nil {
			return interpretError(err)
		}
		if out.Sessions == 0 {
			return nil
		}
		// Their replicas first (the condition names the sessions still open).
		n, err := endSegments(ctx, tx, store.SegmentLost, ms(now), nil, `session_id IN (`+orphanSessions+`)`)
		if err != nil {
			return err
		}
		out.Requeued = int(n)
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id IN (`+orphanSessions+`)`, ms(now), "coordinator gone: "+reason)
		return interpretError(err)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (db *DB) CoordinatorList(ctx context.Context, limit int) ([]*store.Coordinator, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, started_at, heartbeat_at, ended_at, coalesce(end_reason, '') FROM coordinators
		ORDER BY started_at DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Coordinator
	for rows.Next() {
		var c store.Coordinator
		var start, hb int64
		var end sql.NullInt64
		if err := rows.Scan(&c.ID, &start, &hb, &end, &c.EndReason); err != nil {
			return nil, interpretError(err)
		}
		c.StartedAt, c.HeartbeatAt, c.EndedAt = time.UnixMilli(start), time.UnixMilli(hb), fromMS(end)
		out = append(out, &c)
	}
	return out, interpretError(rows.Err())
}

// TaskListOrphaned: each unsettled task's latest event (a segment's end
// or a checkpoint), and the coordinator of the session it came through.
func (db *DB) TaskListOrphaned(ctx context.Context, p *store.TaskListOrphanedParams) ([]int64, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = -1
	}
	return db.ids(ctx, `
		WITH cand AS (
			SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.state = 'pending' AND j.state = 'running'
			  AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.task_id = t.id AND r.state IN ('queued','leased'))),
		ev AS (
			SELECT r.task_id AS task, g.session_id AS sess, g.finished_at AS at FROM segments g JOIN replicas r ON r.id = g.replica_id
			WHERE r.task_id IN (SELECT id FROM cand)
			UNION ALL
			SELECT k.task_id, k.session_id, k.created_at FROM checkpoints k WHERE k.task_id IN (SELECT id FROM cand)),
		last AS (
			SELECT task, sess, at, row_number() OVER (PARTITION BY task ORDER BY at DESC) AS n FROM ev)
		SELECT cand.id FROM cand
		LEFT JOIN last ON last.task = cand.id AND last.n = 1
		LEFT JOIN sessions s ON s.id = last.sess
		LEFT JOIN coordinators c ON c.id = s.coordinator
		WHERE last.at IS NULL OR last.at < ? OR c.id IS NULL OR c.ended_at IS NOT NULL OR c.heartbeat_at < ?
		ORDER BY cand.id LIMIT ?`, ms(p.IdleBefore), ms(p.StaleBefore), limit)
}
