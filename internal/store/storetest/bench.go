package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// BenchStateCounts measures Store.StateCounts, what a scrape of GET
// /metrics costs the store at most once per cache period, on a store with
// a history — finished jobs of 100 tasks each (finished: cancelled, their
// tasks counted from the jobs' counters) — and one running job of
// running×2 replicas, the part that is scanned.
func BenchStateCounts(b *testing.B, s store.Store, finished, running int) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	module := []byte("\x00asm bench")
	insert := func(name string, n, replicas int) *store.Job {
		p := &store.JobInsertParams{Owner: "alice", Name: name, ModuleHash: store.Hash(module), Replicas: replicas,
			Limits: store.Limits{Fuel: 1000, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module, {}}, Now: now}
		for i := range n {
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(nil), Seed: uint64(i)})
		}
		j, err := s.JobInsert(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		return j
	}
	for i := range finished {
		j := insert(fmt.Sprint("old", i), 100, 1)
		if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j.ID, Owner: "alice", Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	insert("running", running, 2)
	b.ResetTimer()
	for b.Loop() {
		c, err := s.StateCounts(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if c.Replicas[store.ReplicaQueued] != 2*running || c.Tasks[store.TaskCancelled] != 100*finished {
			b.Fatalf("counts %+v", c)
		}
	}
}
