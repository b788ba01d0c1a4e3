package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Recording a batch of results (ReplicaComplete) in a few statements for
// the whole batch, not three per result. The result committer hands the
// store 8-14 results a transaction under load, and on SQLite a statement's
// own cost (database/sql, the driver, binding, resetting) was most of a
// result's: the replica's update, its stdout blob and its segment were
// three statements each. The usual results (completeFresh's: a lease held
// by the session, a segment that did not resume from a checkpoint) are now
//
//   - marked done in one UPDATE … FROM json_each (qReplicasDoneBatch), each
//     matched by its lease ID and session as before;
//   - their outputs stored in one INSERT of the distinct small blobs
//     (qPutBlobs; a blob over batchBlobMax on its own, as before);
//   - their segments inserted in one INSERT … SELECT from the replicas just
//     marked done (qSegmentsDone), which hold every value the segment
//     needs.
//
// Any result the batch did not take (a second result for the same lease ID
// in the batch, text that JSON would not carry unchanged, a lease not held
// or a resumed segment) then goes through complete, one at a time, after
// the batch: as before, a result for a lease not held changes nothing, and
// of two results for one lease the first one counts.

// completeBatchMin is the fewest results ReplicaComplete records with
// completeBatch (a variable for the benchmark, which compares).
var completeBatchMin = 2

// batchBlobMax is the largest blob stored by qPutBlobs (hex in JSON).
const batchBlobMax = 4096

const (
	qReplicasDoneBatch = `UPDATE replicas SET state = 'done', lease_id = NULL, lease_deadline = NULL,
			status = v.value->>1, exit_code = v.value->>2, message = v.value->>3, stdout_hash = v.value->>4, stderr_hash = v.value->>5,
			fuel = v.value->>6, wall_ms = v.value->>7, finished_at = ?1
		FROM json_each(?2) v
		WHERE replicas.lease_id = v.value->>0 AND replicas.state = 'leased' AND replicas.session_id = v.value->>8 AND replicas.seg_resume_seq = 0
		RETURNING id, task_id, job_id, role, attempts`
	qPutBlobs = `INSERT INTO blobs(hash, data, size, created_at)
		SELECT v.value->>0, unhex(v.value->>1), v.value->>2, ?1 FROM json_each(?2) v WHERE true
		ON CONFLICT(hash) DO NOTHING`
	qSegmentsDone = `INSERT INTO segments(replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at)
		SELECT r.id, r.job_id, r.attempts, 'done', coalesce(r.worker, ''), coalesce(r.account, ''), r.session_id, 0, r.seg_fuel_start, r.fuel, r.fuel,
			coalesce(r.seg_started_at, 0), ?1
		FROM json_each(?2) v JOIN replicas r ON r.id = v.value ORDER BY v.key`
)

// jsonSafe: s goes through JSON and SQLite's ->> unchanged (valid UTF-8,
// no NUL).
func jsonSafe(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

// completeBatch records the usual results of rs in one go (see above):
// taken[i] says whether rs[i] was recorded, with out[i] its outcome.
func (db *DB) completeBatch(ctx context.Context, tx *sql.Tx, rs []store.ReplicaResult, now int64, out []store.ReplicaOutcome) (taken []bool, err error) {
	taken = make([]bool, len(rs))
	byLease := make(map[string]int, len(rs))
	rows := make([][]any, 0, len(rs))
	hashes := make([][2]string, len(rs))
	for i := range rs {
		r := &rs[i]
		if _, dup := byLease[r.LeaseID]; dup || !jsonSafe(r.LeaseID) || !jsonSafe(r.Status) || !jsonSafe(r.Message) {
			continue
		}
		byLease[r.LeaseID] = i
		hashes[i] = [2]string{blobHash(r.Stdout), blobHash(r.Stderr)}
		rows = append(rows, []any{r.LeaseID, r.Status, r.ExitCode, r.Message, hashes[i][0], hashes[i][1], int64(min(r.Fuel, 1<<62)), r.WallMS, r.SessionID})
	}
	if len(rows) == 0 {
		return taken, nil
	}
	arg, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	res, err := db.st(ctx, tx, qReplicasDoneBatch).QueryContext(ctx, now, string(arg))
	if err != nil {
		return nil, interpretError(err)
	}
	var done []int64 // replica IDs, in the order of rs
	var order []int
	for res.Next() {
		var o store.ReplicaOutcome
		var attempts int64
		if err := res.Scan(&o.ReplicaID, &o.TaskID, &o.JobID, &o.Role, &attempts); err != nil {
			res.Close()
			return nil, interpretError(err)
		}
		// The lease ID the row matched: a lease's ID is "replica.attempt".
		i, ok := byLease[strconv.FormatInt(o.ReplicaID, 10)+"."+strconv.FormatInt(attempts, 10)]
		if !ok || taken[i] {
			res.Close()
			return nil, fmt.Errorf("sqlite: replica %d (attempt %d) was completed by no lease ID of the batch", o.ReplicaID, attempts)
		}
		taken[i], out[i] = true, o
		order = append(order, i)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, interpretError(err)
	}
	if len(order) == 0 {
		return taken, nil
	}
	// In the order of rs, as one at a time would have inserted them.
	done = make([]int64, 0, len(order))
	var blobs [][]any
	seen := map[string]bool{}
	for i := range rs {
		if !taken[i] {
			continue
		}
		done = append(done, out[i].ReplicaID)
		for k, data := range [2][]byte{rs[i].Stdout, rs[i].Stderr} {
			h := hashes[i][k]
			if len(data) == 0 || seen[h] {
				continue
			}
			seen[h] = true
			if len(data) > batchBlobMax {
				if err := db.putBlobHashed(ctx, tx, h, data, now); err != nil {
					return nil, err
				}
				continue
			}
			blobs = append(blobs, []any{h, hex.EncodeToString(data), len(data)})
		}
	}
	if len(blobs) > 0 {
		arg, err := json.Marshal(blobs)
		if err != nil {
			return nil, err
		}
		if _, err := db.st(ctx, tx, qPutBlobs).ExecContext(ctx, now, string(arg)); err != nil {
			return nil, interpretError(err)
		}
	}
	res2, err := db.st(ctx, tx, qSegmentsDone).ExecContext(ctx, now, idList(done))
	if err != nil {
		return nil, interpretError(err)
	}
	if k, _ := res2.RowsAffected(); k != int64(len(done)) {
		return nil, fmt.Errorf("sqlite: %d segments inserted for %d results", k, len(done))
	}
	return taken, nil
}
