package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// ownerQuota checks JobInsertParams.Admit: the usage it is shown sums the
// owner's running jobs only, a refusal writes nothing, and admissions of
// one owner racing each other see each other's jobs.
func ownerQuota(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	s := open(t)
	errFull := errors.New("full")
	var seen *store.OwnerUsage
	insert := func(owner string, tasks, replicas int, fuel uint64, admit func(*store.OwnerUsage) error) (*store.Job, error) {
		module := []byte(fmt.Sprintf("\x00asm quota %s %d", owner, tasks)) // racers share no blob
		p := &store.JobInsertParams{Owner: owner, ModuleHash: store.Hash(module), Replicas: replicas, MaxError: 1,
			Limits: store.Limits{Fuel: fuel, MemoryBytes: 1 << 20, MaxOutput: 1 << 10}, Blobs: [][]byte{module}, Now: now,
			InputBytes: int64(100 * tasks), Admit: admit}
		for i := range tasks {
			in := []byte(fmt.Sprintf("%s %d %d", owner, tasks, i))
			p.Blobs = append(p.Blobs, in)
			p.Tasks = append(p.Tasks, store.TaskSpec{StdinHash: store.Hash(in)})
		}
		return s.JobInsert(ctx, p)
	}
	look := func(u *store.OwnerUsage) error { seen = u; return nil }

	if _, err := insert("alice", 3, 2, 1000, look); err != nil {
		t.Fatal(err)
	}
	if want := (store.OwnerUsage{}); *seen != want {
		t.Fatalf("usage before alice's first job %+v", *seen)
	}
	j2, err := insert("alice", 5, 1, 0, look) // no fuel limit
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.OwnerUsage{ActiveJobs: 1, UnfinishedTasks: 3, InputBytes: 300, Fuel: 3 * 2 * 1000}); *seen != want {
		t.Fatalf("usage %+v, want %+v", *seen, want)
	}
	if _, err := insert("bob", 1, 1, 7, look); err != nil {
		t.Fatal(err)
	}
	if want := (store.OwnerUsage{}); *seen != want {
		t.Fatalf("bob is shown alice's jobs: %+v", *seen)
	}
	if _, err := insert("alice", 1, 1, 1, look); err != nil {
		t.Fatal(err)
	}
	if want := (store.OwnerUsage{ActiveJobs: 2, UnfinishedTasks: 8, InputBytes: 800, Fuel: 6000, UnlimitedTasks: 5}); *seen != want {
		t.Fatalf("usage %+v, want %+v", *seen, want)
	}
	// A cancelled job holds nothing.
	if _, _, err := s.JobCancel(ctx, &store.JobCancelParams{ID: j2.ID, Owner: "alice", Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := insert("alice", 1, 1, 1, look); err != nil {
		t.Fatal(err)
	}
	if want := (store.OwnerUsage{ActiveJobs: 2, UnfinishedTasks: 4, InputBytes: 400, Fuel: 6001}); *seen != want {
		t.Fatalf("usage after a cancel %+v, want %+v", *seen, want)
	}

	// Refused: the error comes back as it is, and nothing is written —
	// neither the job nor its blobs.
	before, err := s.JobList(ctx, &store.JobListParams{Owner: "carol"})
	if err != nil || len(before) != 0 {
		t.Fatalf("carol's jobs %v %v", before, err)
	}
	if _, err := insert("carol", 4, 1, 10, func(*store.OwnerUsage) error { return errFull }); !errors.Is(err, errFull) {
		t.Fatalf("refused insert: %v", err)
	}
	if l, _ := s.JobList(ctx, &store.JobListParams{Owner: "carol"}); len(l) != 0 {
		t.Fatalf("a refused job was stored: %+v", l[0])
	}
	if _, err := s.BlobGet(ctx, store.Hash([]byte("carol 4 4 0"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused job's blob was stored: %v", err)
	}

	// Racing admissions: at most 3 running jobs for dave, 12 submitted at
	// once, exactly 3 admitted. To make the race real (a pool opening its
	// connections one by one would otherwise run them in turn), each of
	// the first admissions to pass the check waits, a bounded time, for
	// one more than the limit to have passed it: serialised admissions
	// never get there and only lose that time; unserialised ones do and
	// overfill.
	const limit, racers = 3, 12
	var mu sync.Mutex
	passed, crowd := 0, make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = insert("dave", 1+i, 1, 10, func(u *store.OwnerUsage) error {
				if u.ActiveJobs >= limit {
					return errFull
				}
				mu.Lock()
				passed++
				if passed == limit+1 {
					close(crowd)
				}
				mu.Unlock()
				select {
				case <-crowd:
				case <-time.After(500 * time.Millisecond):
				}
				return nil
			})
		}()
	}
	wg.Wait()
	admitted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case !errors.Is(err, errFull):
			t.Fatalf("racing insert: %v", err)
		}
	}
	l, err := s.JobList(ctx, &store.JobListParams{Owner: "dave"})
	if err != nil || admitted != limit || len(l) != limit {
		t.Fatalf("%d admitted, %d stored (%v), want %d", admitted, len(l), err, limit)
	}
}
