package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Several coordinators on one database: each is a row of coordinators
// with a heartbeat; a session names the coordinator holding its
// connection. Locks go coordinators → sessions → replicas: SessionStart
// holds its coordinator's row FOR SHARE while it inserts (so a reaper
// either sees the new session or the insert sees the coordinator ended),
// ReplicaLease holds its session's, and the reaper updates in that order.

func (db *DB) CoordinatorStart(ctx context.Context, p *store.CoordinatorStartParams) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO coordinators(id, started_at, heartbeat_at) VALUES($1, $2, $2)`, p.ID, ms(p.Now))
	return interpretError(err)
}

func (db *DB) CoordinatorHeartbeat(ctx context.Context, p *store.CoordinatorHeartbeatParams) error {
	tag, err := db.pool.Exec(ctx, `UPDATE coordinators SET heartbeat_at = greatest(heartbeat_at, $2) WHERE id = $1 AND ended_at IS NULL`, p.ID, ms(p.Now))
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (db *DB) CoordinatorEnd(ctx context.Context, p *store.CoordinatorEndParams) (*store.CoordinatorReaped, error) {
	return db.reap(ctx, `id = $1`, []any{p.ID}, p.Reason, p.Now)
}

func (db *DB) CoordinatorReap(ctx context.Context, p *store.CoordinatorReapParams) (*store.CoordinatorReaped, error) {
	if p.All {
		return db.reap(ctx, `id <> $1`, []any{p.Self}, p.Reason, p.Now)
	}
	return db.reap(ctx, `id <> $1 AND heartbeat_at < $2`, []any{p.Self, ms(p.StaleBefore)}, p.Reason, p.Now)
}

// reap ends the live coordinators matching where (its parameters from
// $1), then every open session no live coordinator holds, and requeues
// their replicas.
func (db *DB) reap(ctx context.Context, where string, args []any, reason string, now time.Time) (*store.CoordinatorReaped, error) {
	var out store.CoordinatorReaped
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = store.CoordinatorReaped{}
		n := len(args)
		q := `UPDATE coordinators SET ended_at = $` + strconv.Itoa(n+1) + `, end_reason = $` + strconv.Itoa(n+2) + ` WHERE ended_at IS NULL AND ` + where + ` RETURNING id`
		if err := collect(ctx, tx, q, func(r pgx.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			out.Coordinators = append(out.Coordinators, id)
			return nil
		}, append(args, ms(now), reason)...); err != nil {
			return err
		}
		var sessions []int64
		if err := collect(ctx, tx, `UPDATE sessions s SET ended_at = $1, end_reason = $2
			WHERE s.ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM coordinators c WHERE c.id = s.coordinator AND c.ended_at IS NULL)
			RETURNING s.id`, func(r pgx.Rows) error {
			var id int64
			sessions = append(sessions, id)
			return r.Scan(&sessions[len(sessions)-1])
		}, ms(now), "coordinator gone: "+reason); err != nil {
			return err
		}
		out.Sessions = len(sessions)
		if len(sessions) == 0 {
			return nil
		}
		ids, _, err := lockLeased(ctx, tx, `session_id = ANY($1)`, sessions)
		if err != nil {
			return err
		}
		k, err := endSegments(ctx, tx, store.SegmentLost, ms(now), nil, ids)
		out.Requeued = int(k)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (db *DB) CoordinatorList(ctx context.Context, limit int) ([]*store.Coordinator, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, started_at, heartbeat_at, ended_at, coalesce(end_reason, '') FROM coordinators
		ORDER BY started_at DESC, id LIMIT $1`, limitOrAll(limit))
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Coordinator
	for rows.Next() {
		var c store.Coordinator
		var start, hb int64
		var end *int64
		if err := rows.Scan(&c.ID, &start, &hb, &end, &c.EndReason); err != nil {
			return nil, interpretError(err)
		}
		c.StartedAt, c.HeartbeatAt, c.EndedAt = time.UnixMilli(start), time.UnixMilli(hb), fromMS(end)
		out = append(out, &c)
	}
	return out, interpretError(rows.Err())
}

// TaskListOrphaned: the latest event of each unsettled task (a segment's
// end or a checkpoint), with the coordinator of the session it came
// through.
func (db *DB) TaskListOrphaned(ctx context.Context, p *store.TaskListOrphanedParams) ([]int64, error) {
	// The candidates first (pending, nothing queued or leased: a few
	// tasks between a result and its settlement), materialized so that
	// the latest event is looked up for those alone, not for every pending
	// task; a replica's latest segment by its index (replica_id), whatever
	// the planner thinks of the tables' sizes.
	//
	// A running job's candidates are found from the smaller side, as
	// JobCounts finds its tasks being verified: its pending tasks, or its
	// finished replicas (done or cancelled: a pending task with nothing
	// queued or leased has one, replicas are never deleted) whose task is
	// pending; only the branch whose condition holds runs. Reading every
	// pending task (and hashing every queued replica) cost 150 ms of server
	// time a call at 20,000 tasks, and each coordinator's rescuer calls it.
	return db.ids(ctx, `WITH cand AS MATERIALIZED (
			SELECT c.id FROM jobs j CROSS JOIN LATERAL (
				SELECT t.id FROM tasks t
				WHERE j.task_count - j.tasks_finished - j.tasks_cancelled <= j.tasks_finished
				  AND t.job_id = j.id AND t.state = 'pending'
				UNION
				SELECT r.task_id FROM replicas r
				WHERE j.task_count - j.tasks_finished - j.tasks_cancelled > j.tasks_finished
				  AND r.job_id = j.id AND r.state IN ('done', 'cancelled')
				  AND coalesce((SELECT true FROM tasks t WHERE t.id = r.task_id AND t.state = 'pending' LIMIT 1), false)) c
			WHERE j.state = 'running'
			  AND NOT coalesce((SELECT true FROM replicas r WHERE r.task_id = c.id AND r.state IN ('queued','leased') LIMIT 1), false))
		SELECT t.id FROM cand t
		LEFT JOIN LATERAL (
			SELECT e.session_id, e.at FROM (
				SELECT g.session_id, g.at FROM replicas r CROSS JOIN LATERAL (
					SELECT session_id, finished_at AS at FROM segments WHERE replica_id = r.id ORDER BY finished_at DESC NULLS LAST LIMIT 1) g
				WHERE r.task_id = t.id
				UNION ALL
				SELECT k.session_id, k.created_at FROM checkpoints k WHERE k.task_id = t.id
			) e ORDER BY e.at DESC NULLS LAST LIMIT 1) last ON true
		LEFT JOIN sessions s ON s.id = last.session_id
		LEFT JOIN coordinators c ON c.id = s.coordinator
		WHERE (last.at IS NULL OR last.at < $1 OR c.id IS NULL OR c.ended_at IS NOT NULL OR c.heartbeat_at < $2)
		ORDER BY t.id LIMIT $3`, ms(p.IdleBefore), ms(p.StaleBefore), limitOrAll(p.Limit))
}

// workChannel is the LISTEN/NOTIFY channel on which a transaction that may
// have made work available (a job inserted, replicas requeued or added, a
// verdict or settlement that lets an account on probation lease again)
// tells every coordinator's dispatcher (and its followers of results),
// when it commits.
//
// The payload is "w:NODE" (work), NODE being the crowdrun.node setting of
// the sending connection (DB.node): a listener ignores its own handle's
// notifications. "r:NODE" (results only) was sent by older coordinators
// for each settlement of a job that does not verify; such settlements now
// send nothing (followers poll, coordinator.Config.FollowPoll). An empty
// payload (an older coordinator still) counts as work from another.
const workChannel = "crowdrun_work"

// notifyWork queues the notification; PostgreSQL sends it at commit, once
// per transaction however many times it was queued.
func notifyWork(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, notifyWorkSQL)
	return interpretError(err)
}

const notifyWorkSQL = `SELECT ` + notifyWorkCall

// notifyWorkCall is the call notifyWorkSQL makes, for statements that
// notify as a part of something else.
const notifyWorkCall = `pg_notify('` + workChannel + `', 'w:' || current_setting('crowdrun.node', true))`

// ListenWork implements store.Notifier: a connection of its own (outside
// the pool) LISTENs on the work channel and calls wake on each
// notification, until ctx ends. When the connection breaks it calls wake
// (a notification may have been missed) and connects again.
func (db *DB) ListenWork(ctx context.Context, wake func(work bool)) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	backoff := 100 * time.Millisecond
	for {
		err := db.listen(ctx, cfg, wake)
		if ctx.Err() != nil {
			return nil
		}
		wake(true)
		_ = err // a broken connection: try again
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (db *DB) listen(ctx context.Context, cfg *pgx.ConnConfig, wake func(work bool)) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+workChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		kind, node, _ := strings.Cut(n.Payload, ":")
		if node == db.node {
			continue
		}
		wake(kind != "r")
	}
}
