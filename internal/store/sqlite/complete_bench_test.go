package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// cpuTime is the process's CPU time (user and system): the figure to
// compare on a shared machine, where wall time is other work's too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicaComplete records results in batches of n, one at a time
// (each) or with completeBatch (batch): ns/op is per result, leases and
// the job's insertion not counted.
func BenchmarkReplicaComplete(b *testing.B) {
	for _, n := range []int{1, 2, 4, 8, 16} {
		for _, mode := range []string{"each", "batch"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				if mode == "each" {
					defer func(m int) { completeBatchMin = m }(completeBatchMin)
					completeBatchMin = 1 << 30
				}
				ctx := context.Background()
				now := time.UnixMilli(1_700_000_000_000)
				db, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				module := []byte("\x00asm")
				p := &store.JobInsertParams{Owner: "o", Name: "j", ModuleHash: store.Hash(module), Replicas: 1,
					Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 20}, Blobs: [][]byte{module}, Now: now}
				for i := 0; i < b.N; i++ {
					in := []byte(strconv.Itoa(i) + "\n")
					p.Blobs = append(p.Blobs, in)
					p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in)})
				}
				if _, err := db.JobInsert(ctx, p); err != nil {
					b.Fatal(err)
				}
				ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w", Slots: 32, Remote: "127.0.0.1:1", Now: now})
				if err != nil {
					b.Fatal(err)
				}
				var rs []store.ReplicaResult
				for len(rs) < b.N {
					ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 32, Deadline: now.Add(time.Hour), Now: now})
					if err != nil || len(ls) == 0 {
						b.Fatal(len(ls), err)
					}
					for _, l := range ls {
						rs = append(rs, store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin, Fuel: 1000, WallMS: 1})
					}
				}
				b.ResetTimer()
				c0 := cpuTime()
				for i := 0; i < len(rs); i += n {
					o, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: rs[i:min(i+n, len(rs))], Now: now})
					if err != nil || o[0].Err != nil {
						b.Fatal(err, o)
					}
				}
				b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(len(rs)), "cpu-ns/result")
			})
		}
	}
}

// BenchmarkTaskSettleBatch settles tasks in batches of n (as the
// verifier's group commit does): CPU per settlement, with a ledger grant
// and an account's record each, as a real worker's result earns.
func BenchmarkTaskSettleBatch(b *testing.B) {
	for _, n := range []int{1, 3, 8} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			now := time.UnixMilli(1_700_000_000_000)
			db, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			module := []byte("\x00asm")
			p := &store.JobInsertParams{Owner: "o", Name: "j", ModuleHash: store.Hash(module), Replicas: 1,
				Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 20}, Blobs: [][]byte{module}, Now: now}
			for i := 0; i < b.N; i++ {
				in := []byte(strconv.Itoa(i) + "\n")
				p.Blobs = append(p.Blobs, in)
				p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in)})
			}
			job, err := db.JobInsert(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			// Every replica done, as when the verifier settles.
			ss, err := db.SessionStart(ctx, &store.SessionStartParams{Worker: "w", Slots: 32, Remote: "127.0.0.1:1", Now: now})
			if err != nil {
				b.Fatal(err)
			}
			for done := 0; done < b.N; {
				ls, err := db.ReplicaLease(ctx, &store.ReplicaLeaseParams{SessionID: ss.ID, Worker: ss.Worker, Account: ss.Account, Max: 32, Deadline: now.Add(time.Hour), Now: now})
				if err != nil || len(ls) == 0 {
					b.Fatal(len(ls), err)
				}
				var rs []store.ReplicaResult
				for _, l := range ls {
					rs = append(rs, store.ReplicaResult{SessionID: ss.ID, LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin, Fuel: 1000, WallMS: 1})
				}
				if _, err := db.ReplicaComplete(ctx, &store.ReplicaCompleteParams{Results: rs, Now: now}); err != nil {
					b.Fatal(err)
				}
				done += len(ls)
			}
			var ids []int64
			rows, err := db.w.QueryContext(ctx, `SELECT id FROM tasks WHERE job_id = ? ORDER BY idx`, job.ID)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				ids = append(ids, id)
			}
			rows.Close()
			var ps []*store.TaskSettleParams
			for i := 0; i < b.N; i++ {
				ps = append(ps, &store.TaskSettleParams{TaskID: ids[i], State: store.TaskDone, Verification: store.VerifyNone,
					Result: store.Result{Status: "ok", StdoutHash: p.Tasks[i].StdinHash, StderrHash: emptyHash, Fuel: 1000}, VerifiedBy: []string{"anon:w"},
					Ledger:   []store.LedgerEntry{{Kind: store.LedgerGrant, Account: "anon:w", JobID: job.ID, TaskID: ids[i], Fuel: 1000, Day: 19000, At: now}},
					Accounts: []store.AccountAddParams{{ID: "anon:w", Verified: 1}}, Now: now})
			}
			b.ResetTimer()
			c0 := cpuTime()
			for i := 0; i < len(ps); i += n {
				o, err := db.TaskSettleBatch(ctx, ps[i:min(i+n, len(ps))])
				if err != nil || o[0].Err != nil {
					b.Fatal(err, o[0].Err)
				}
			}
			b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(len(ps)), "cpu-ns/settlement")
		})
	}
}
