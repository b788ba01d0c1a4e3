package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// A batch of settlements of two jobs, interleaved, with refusals among
// them, stores exactly what the same settlements one at a time store: the
// jobs' counters (each job's row is updated once per batch), the tasks'
// result numbers, the ledger, and which settlement finished its job.
func TestSettleBatchEqualsOneAtATime(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	module := []byte("\x00asm")
	setup := func(t *testing.T) (*DB, [2][]int64) {
		db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		var ids [2][]int64
		for k, n := range []int{4, 2} {
			p := &store.JobInsertParams{Owner: "o", Name: "j", ModuleHash: store.Hash(module), Replicas: 1,
				Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 20}, Blobs: [][]byte{module}, Now: now}
			for i := 0; i < n; i++ {
				in := []byte(fmt.Sprintf("%d-%d", k, i))
				p.Blobs = append(p.Blobs, in)
				p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in)})
			}
			j, err := db.JobInsert(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.w.QueryContext(ctx, `SELECT id FROM tasks WHERE job_id = ? ORDER BY idx`, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				ids[k] = append(ids[k], id)
			}
			rows.Close()
		}
		// One task of the first job settled already.
		if _, err := db.TaskSettle(ctx, settlement(ids[0][3], store.TaskDone, 5, now)); err != nil {
			t.Fatal(err)
		}
		return db, ids
	}
	batch := func(ids [2][]int64) []*store.TaskSettleParams {
		return []*store.TaskSettleParams{
			settlement(ids[0][0], store.TaskDone, 10, now),
			settlement(ids[1][0], store.TaskDone, 20, now.Add(time.Second)),
			settlement(ids[0][1], store.TaskDisputed, 30, now.Add(2*time.Second)),
			settlement(ids[0][3], store.TaskDone, 40, now),                    // settled before
			settlement(ids[0][1], store.TaskDone, 50, now),                    // settled earlier in this batch
			settlement(-1, store.TaskDone, 60, now),                           // no such task
			settlement(ids[1][1], store.TaskDone, 70, now.Add(3*time.Second)), // finishes the second job
			settlement(ids[0][2], store.TaskDone, 80, now.Add(4*time.Second)), // finishes the first
		}
	}
	dump := func(t *testing.T, db *DB) string {
		var b strings.Builder
		for _, q := range []string{`SELECT * FROM jobs ORDER BY id`, `SELECT * FROM tasks ORDER BY id`, `SELECT * FROM ledger ORDER BY seq`, `SELECT * FROM accounts ORDER BY id`} {
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
				rows.Scan(p...)
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
	one, ids := setup(t)
	var want []store.TaskSettleOutcome
	for _, p := range batch(ids) {
		st, err := one.TaskSettle(ctx, p)
		want = append(want, store.TaskSettleOutcome{Settled: st, Err: err})
	}
	many, ids := setup(t)
	got, err := many.TaskSettleBatch(ctx, batch(ids))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		g, w := got[i], want[i]
		if (g.Err == nil) != (w.Err == nil) || (g.Err != nil && (errors.Is(g.Err, store.ErrTaskSettled) != errors.Is(w.Err, store.ErrTaskSettled) ||
			errors.Is(g.Err, store.ErrNotFound) != errors.Is(w.Err, store.ErrNotFound))) || !reflect.DeepEqual(g.Settled, w.Settled) {
			t.Fatalf("settlement %d: %+v %v, one at a time %+v %v", i, g.Settled, g.Err, w.Settled, w.Err)
		}
	}
	if !got[6].Settled.JobFinished || !got[7].Settled.JobFinished || got[0].Settled.JobFinished {
		t.Fatalf("finished: %+v", got)
	}
	if d1, d2 := dump(t, many), dump(t, one); d1 != d2 {
		t.Fatalf("a batch stored\n%s\none at a time\n%s", d1, d2)
	}
}

func settlement(task int64, state store.TaskState, fuel uint64, now time.Time) *store.TaskSettleParams {
	return &store.TaskSettleParams{TaskID: task, State: state, Verification: store.VerifyNone,
		Result:     store.Result{Status: "ok", StdoutHash: emptyHash, StderrHash: emptyHash, Fuel: fuel},
		VerifiedBy: []string{"anon:w"},
		Ledger:     []store.LedgerEntry{{Kind: store.LedgerGrant, Account: "anon:w", TaskID: task, Fuel: fuel, Day: 19000, At: now}},
		Accounts:   []store.AccountAddParams{{ID: "anon:w", Verified: 1}}, Now: now}
}
