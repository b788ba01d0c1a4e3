package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// A batch of results (ReplicaComplete with many, completeBatch) records
// exactly what the same results one call at a time record: the same
// outcomes, and the same replicas, segments and blobs, whatever mix of
// results the batch holds.
func TestCompleteBatchEqualsOneAtATime(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	module := []byte("\x00asm fake module")

	// setup makes the same store twice: leases of plain tasks, and one
	// lease that resumes a segment from a checkpoint.
	setup := func(t *testing.T) (*DB, *store.Session, *store.Session, []*store.Lease, *store.Lease) {
		db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p := &store.JobInsertParams{Owner: "o", Name: "j", ModuleHash: store.Hash(module), Replicas: 1,
			Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 20}, Blobs: [][]byte{module}, Now: now}
		for i := 0; i < 12; i++ {
			in := []byte{byte('a' + i)}
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in), Seed: uint64(i)})
		}
		if _, err := db.JobInsert(ctx, p); err != nil {
			t.Fatal(err)
		}
		sp := &store.JobInsertParams{Owner: "o", Name: "s", ModuleHash: store.Hash(module), Replicas: 1, Suspendable: true, Priority: 5,
			Limits: store.Limits{Fuel: 10000, MemoryBytes: 1 << 20, MaxOutput: 1 << 20}, Blobs: [][]byte{module, []byte("s")}, Now: now,
			Tasks: []store.TaskSpec{{StdinHash: store.Hash([]byte("s"))}}}
		if _, err := db.JobInsert(ctx, sp); err != nil {
			t.Fatal(err)
		}
		start := func(w string) *store.Session {
			ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: w, Slots: 2, Remote: "127.0.0.1:1", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return ss
		}
		// The suspendable task first (priority): checkpointed, its session
		// ended, then resumed by another worker.
		s0 := start("w0")
		ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s0.ID, Worker: s0.Worker, Account: s0.Account, Max: 1, Deadline: now.Add(time.Minute), Now: now,
			CheckpointEvery: 100, Resume: true})
		if err != nil || len(ls) != 1 {
			t.Fatal(ls, err)
		}
		if _, err := db.CheckpointAdd(ctx, &store.CheckpointAddParams{SessionID: s0.ID, LeaseID: ls[0].LeaseID, Seq: 1, Fuel: 100, StateHash: "h1",
			Snapshot: []byte("snap"), Stdout: []byte("before "), Now: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionEnd(ctx, &store.SessionEndParams{ID: s0.ID, Reason: "gone", Now: now}); err != nil {
			t.Fatal(err)
		}
		s1, s2 := start("w1"), start("w2")
		rl, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s1.ID, Worker: s1.Worker, Account: s1.Account, Max: 1, Deadline: now.Add(time.Minute), Now: now,
			CheckpointEvery: 100, Resume: true})
		if err != nil || len(rl) != 1 || rl[0].Resume == nil {
			t.Fatalf("resumed lease %+v, %v", rl, err)
		}
		l1, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s1.ID, Worker: s1.Worker, Account: s1.Account, Max: 9, Deadline: now.Add(time.Minute), Now: now})
		if err != nil || len(l1) != 9 {
			t.Fatal(len(l1), err)
		}
		l2, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: s2.ID, Worker: s2.Worker, Account: s2.Account, Max: 3, Deadline: now.Add(time.Minute), Now: now})
		if err != nil || len(l2) != 3 {
			t.Fatal(len(l2), err)
		}
		return db, s1, s2, append(l1, l2...), rl[0]
	}
	results := func(s1, s2 *store.Session, ls []*store.Lease, resumed *store.Lease) []store.ReplicaResult {
		r := func(ss *store.Session, l *store.Lease, out string) store.ReplicaResult {
			return store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: []byte(out), Fuel: 42, WallMS: 3}
		}
		big := strings.Repeat("big output ", 1000) // over batchBlobMax
		rs := []store.ReplicaResult{
			r(s1, ls[0], "zero"),
			r(s1, ls[1], "same"),
			r(s1, ls[2], "same"), // the same blob twice
			{SessionID: s1.ID, LeaseID: ls[3].LeaseID, Status: "error", ExitCode: 7, Message: "trap: <unreachable> & \u2028 é", Stderr: []byte("oops\n"), Fuel: 1 << 63, WallMS: -1},
			r(s1, ls[0], "again"),                      // a second result for a lease: refused
			r(s2, ls[4], "other"),                      // not this session's lease: refused
			r(s1, resumed, "after"),                    // a resumed segment: its output follows the checkpoint's
			r(s1, &store.Lease{LeaseID: "999.1"}, "x"), // no such lease
			{SessionID: s1.ID, LeaseID: ls[5].LeaseID, Status: "ok", Message: "bad \xff utf-8", Stdout: []byte(big), Fuel: 5},
			{SessionID: s1.ID, LeaseID: ls[6].LeaseID, Status: "ok", Message: "nul \x00 inside", Stdout: []byte{0, 1, 2, 255}},
			r(s1, ls[7], ""), // empty output
			r(s1, ls[8], big),
			r(s2, ls[9], "s2 a"),
			r(s2, ls[10], "s2 b"),
		}
		return rs
	}
	dump := func(t *testing.T, db *DB) string {
		var b strings.Builder
		for _, q := range []string{
			`SELECT * FROM replicas ORDER BY id`,
			`SELECT replica_id, job_id, seq, state, worker, account, session_id, resume_seq, fuel_start, fuel_end, fuel_reached, started_at, finished_at FROM segments ORDER BY replica_id, seq`,
			`SELECT hash, hex(data), size, created_at FROM blobs ORDER BY hash`,
		} {
			rows, err := db.w.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				v := make([]any, len(cols))
				p := make([]any, len(cols))
				for i := range v {
					p[i] = &v[i]
				}
				if err := rows.Scan(p...); err != nil {
					t.Fatal(err)
				}
				for i, x := range v {
					if bs, ok := x.([]byte); ok {
						x = string(bs)
					}
					fmt.Fprintf(&b, "%s=%#v ", cols[i], x)
				}
				b.WriteString("\n")
			}
			rows.Close()
		}
		return b.String()
	}

	one, s1, s2, ls, resumed := setup(t)
	var want []store.ReplicaOutcome
	for _, r := range results(s1, s2, ls, resumed) {
		o, err := one.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: []store.ReplicaResult{r}, Now: now.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o...)
	}
	batch, s1, s2, ls, resumed := setup(t)
	got, err := batch.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: results(s1, s2, ls, resumed), Now: now.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes\n%+v\none at a time\n%+v", got, want)
	}
	refused := 0
	for _, o := range got {
		if o.Err != nil {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d refused, want 3: %+v", refused, got)
	}
	if d1, d2 := dump(t, batch), dump(t, one); d1 != d2 {
		t.Fatalf("a batch stored\n%s\none at a time\n%s", d1, d2)
	}
	// The resumed segment's output is the checkpoint's and its own.
	var h string
	if err := batch.w.QueryRowContext(ctx, `SELECT stdout_hash FROM replicas WHERE lease_id IS NULL AND seg_resume_seq = 1`).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if out, err := batch.BlobGet(ctx, h); err != nil || !bytes.Equal(out, []byte("before after")) {
		t.Fatalf("resumed output %q, %v", out, err)
	}
	var n int
	// All but the lease answered from the wrong session and the one not
	// answered.
	if err := batch.w.QueryRowContext(ctx, `SELECT count(*) FROM replicas WHERE state = 'done'`).Scan(&n); err != nil || n != 11 {
		t.Fatalf("%d replicas done, %v", n, err)
	}

	// The batch itself took the usual results, and only those.
	third, s1, s2, ls, resumed := setup(t)
	rs := results(s1, s2, ls, resumed)
	out := make([]store.ReplicaOutcome, len(rs))
	var taken []bool
	if err := third.tx(ctx, func(tx *sql.Tx) error {
		var err error
		taken, err = third.completeBatch(ctx, tx, rs, now.UnixMilli(), out)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var took []int
	for i, ok := range taken {
		if ok {
			took = append(took, i)
		}
	}
	if want := []int{0, 1, 2, 3, 10, 11, 12, 13}; !reflect.DeepEqual(took, want) {
		t.Fatalf("the batch took results %v, want %v", took, want)
	}
}
