package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// batchStore records the batches TaskSettleBatch is given. Each batch
// waits on gate (when set) before it answers; task IDs that are multiples
// of 7 are refused as settled already, and a batch holding task 1000 fails
// as a whole.
type batchStore struct {
	store.Store
	gate    chan struct{}
	mu      sync.Mutex
	batches [][]int64
}

var errBatch = errors.New("the batch failed")

func (s *batchStore) TaskSettleBatch(ctx context.Context, ps []*store.TaskSettleParams) ([]store.TaskSettleOutcome, error) {
	var ids []int64
	for _, p := range ps {
		ids = append(ids, p.TaskID)
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	if s.gate != nil {
		<-s.gate
	}
	out := make([]store.TaskSettleOutcome, len(ps))
	for i, p := range ps {
		if p.TaskID == 1000 {
			return nil, errBatch
		}
		if p.TaskID%7 == 0 {
			out[i].Err = fmt.Errorf("%w: task %d", store.ErrTaskSettled, p.TaskID)
			continue
		}
		out[i].Settled = &store.TaskSettled{JobID: p.TaskID}
	}
	return out, nil
}

// Settlements asked for while a batch commits go together in the next
// one; each caller gets its own outcome, whichever goroutine committed it.
func TestSettleGroupCommit(t *testing.T) {
	ctx := context.Background()
	st := &batchStore{gate: make(chan struct{})}
	v := New(Config{Store: st})
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	call := func(task int64) {
		defer wg.Done()
		got, err := v.settle(ctx, &store.TaskSettleParams{TaskID: task})
		switch {
		case task == 1000:
			if !errors.Is(err, errBatch) {
				errs <- fmt.Errorf("task %d: %v, want the batch's error", task, err)
			}
		case task%7 == 0:
			if !errors.Is(err, store.ErrTaskSettled) || got != nil {
				errs <- fmt.Errorf("task %d: %+v %v, want ErrTaskSettled", task, got, err)
			}
		case err != nil || got == nil || got.JobID != task:
			errs <- fmt.Errorf("task %d: %+v %v", task, got, err)
		}
	}
	// The first leads and waits in the store; the others queue behind it.
	wg.Add(1)
	go call(1)
	waitFor(t, func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.batches) == 1 })
	for i := int64(2); i <= n; i++ {
		wg.Add(1)
		go call(i)
	}
	waitFor(t, func() bool {
		v.settler.mu.Lock()
		defer v.settler.mu.Unlock()
		return len(v.settler.pending) == n-1
	})
	close(st.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One batch of one, then the n waiting in one batch.
	seen := map[int64]int{}
	for _, b := range st.batches {
		for _, id := range b {
			seen[id]++
		}
	}
	if len(st.batches) != 2 || len(st.batches[0]) != 1 || len(st.batches[1]) != n-1 || len(seen) != n {
		t.Fatalf("batches %v", st.batches)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("task %d in %d batches", id, k)
		}
	}
	if v.settler.leading || len(v.settler.pending) != 0 {
		t.Fatalf("settler left leading %v with %d pending", v.settler.leading, len(v.settler.pending))
	}
	// A batch that fails fails each of its settlements.
	wg.Add(1)
	errs = make(chan error, 1)
	call(1000)
	if err := <-errsOrNil(errs); err != nil {
		t.Fatal(err)
	}
}

func errsOrNil(errs chan error) chan error {
	close(errs)
	return errs
}

// A batch holds at most MaxSettleBatch; the rest follow, and a lone
// settlement afterwards commits at once, alone.
func TestSettleBatchLimit(t *testing.T) {
	ctx := context.Background()
	st := &batchStore{gate: make(chan struct{})}
	v := New(Config{Store: st})
	n := MaxSettleBatch + 10
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); v.settle(ctx, &store.TaskSettleParams{TaskID: 1}) }()
	waitFor(t, func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.batches) == 1 })
	for i := 2; i <= n+1; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); v.settle(ctx, &store.TaskSettleParams{TaskID: int64(i)}) }()
	}
	waitFor(t, func() bool { v.settler.mu.Lock(); defer v.settler.mu.Unlock(); return len(v.settler.pending) == n })
	close(st.gate)
	wg.Wait()
	if len(st.batches) != 3 || len(st.batches[1]) != MaxSettleBatch || len(st.batches[2]) != 10 {
		t.Fatalf("batch sizes %d, %d", len(st.batches[1]), len(st.batches[2]))
	}
	if _, err := v.settle(ctx, &store.TaskSettleParams{TaskID: 2}); err != nil || len(st.batches) != 4 || len(st.batches[3]) != 1 {
		t.Fatalf("lone settlement: %v, batches %v", err, st.batches)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 10000 {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *batchStore) TaskEvidenceBatch(ctx context.Context, ids []int64) ([]*store.TaskEvidence, error) {
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	out := make([]*store.TaskEvidence, len(ids))
	for i, id := range ids {
		if id%7 != 0 {
			out[i] = &store.TaskEvidence{Task: &store.Task{ID: id}}
		}
	}
	return out, nil
}

// Evidence goes through the same group: each caller gets its own task's,
// ErrNotFound for a task there is none of.
func TestEvidenceGroupRead(t *testing.T) {
	ctx := context.Background()
	v := New(Config{Store: &batchStore{}})
	var wg sync.WaitGroup
	for i := int64(1); i <= 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := v.evidence(ctx, i)
			switch {
			case i%7 == 0 && !errors.Is(err, store.ErrNotFound):
				t.Errorf("task %d: %+v %v, want ErrNotFound", i, ev, err)
			case i%7 != 0 && (err != nil || ev.Task.ID != i):
				t.Errorf("task %d: %+v %v", i, ev, err)
			}
		}()
	}
	wg.Wait()
}
