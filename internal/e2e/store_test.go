package e2e

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	_ "modernc.org/sqlite"
)

// openStoreReadOnly opens a running coordinator's SQLite store read-only, so
// that a fault test can choose its moments by what the store records (a
// lease with a checkpoint, a resume) rather than by time. WAL readers never
// block the coordinator's writer.
func openStoreReadOnly(t *testing.T, data string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, sqlite.FileName)+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkpointedLease names a worker whose current lease has a checkpoint
// accepted during that lease (so killing the worker loses a segment that a
// resume must pick up), the replica and the checkpoint's sequence number.
func checkpointedLease(t *testing.T, db *sql.DB) (worker string, replica int64, seq uint64, ok bool) {
	t.Helper()
	err := db.QueryRow(`SELECT worker, id, ckpt_seq FROM replicas
		WHERE state = 'leased' AND ckpt_seq > seg_resume_seq AND seg_fuel_end > seg_fuel_start
		ORDER BY id LIMIT 1`).Scan(&worker, &replica, &seq)
	if err == sql.ErrNoRows {
		return "", 0, 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return worker, replica, seq, true
}

// replicaMovedOn reports whether a replica whose worker was killed at
// checkpoint seq has been leased again from that checkpoint or later, or has
// finished.
func replicaMovedOn(t *testing.T, db *sql.DB, replica int64, seq uint64) bool {
	t.Helper()
	var state string
	var resume uint64
	if err := db.QueryRow(`SELECT state, seg_resume_seq FROM replicas WHERE id = ?`, replica).Scan(&state, &resume); err != nil {
		t.Fatal(err)
	}
	switch state {
	case "queued":
		return false
	case "leased":
		return resume >= seq
	default:
		return true
	}
}

// waitUntil polls cond until it holds. Its deadline only turns a hang into a
// failure: it is minutes, far beyond what any machine needs.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
