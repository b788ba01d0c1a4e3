package coordinator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves: timers fire only when it advances
// past them.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	timers []fakeTimer
	armed  chan time.Duration // every timer's duration, as it is set
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Unix(1_000_000, 0), armed: make(chan time.Duration, 16)}
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) after(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	c := make(chan time.Time, 1)
	f.timers = append(f.timers, fakeTimer{at: f.t.Add(d), c: c})
	f.mu.Unlock()
	f.armed <- d
	return c
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	kept := f.timers[:0]
	for _, tm := range f.timers {
		if !tm.at.After(f.t) {
			tm.c <- f.t
		} else {
			kept = append(kept, tm)
		}
	}
	f.timers = kept
}

type acquired struct {
	slot int
	err  error
}

func acquireAsync(ctx context.Context, b *cpuBudget) <-chan acquired {
	c := make(chan acquired, 1)
	go func() { s, err := b.acquire(ctx); c <- acquired{s, err} }()
	return c
}

// waitWaiting waits (an event, not a duration) until n acquirers wait.
func waitWaiting(t *testing.T, b *cpuBudget, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, _, w := b.stats(); w == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never %d waiting", n)
		}
	}
}

func notYet(t *testing.T, c <-chan acquired) {
	t.Helper()
	select {
	case a := <-c:
		t.Fatalf("acquired %+v before its rest ended", a)
	default:
	}
}

// A slot that ran for d at a share s rests d·(1−s)/s: half a core on one
// slot rests as long as it ran; the clock, not the machine, decides.
func TestCPUBudgetDutyCycle(t *testing.T) {
	clk := newFakeClock()
	b := newCPUBudget(1, 0.5, clk.now, clk.after)
	ctx := context.Background()
	slot, err := b.acquire(ctx) // a fresh slot does not rest
	if err != nil || slot != 0 {
		t.Fatalf("acquire %d %v", slot, err)
	}
	b.release(slot, 2*time.Second)
	next := acquireAsync(ctx, b)
	if d := <-clk.armed; d != 2*time.Second {
		t.Fatalf("rest %v, want 2s", d)
	}
	clk.advance(time.Second)
	notYet(t, next)
	clk.advance(time.Second)
	if a := <-next; a.err != nil || a.slot != 0 {
		t.Fatalf("after the rest: %+v", a)
	}
	// Time that passed while it ran counts toward the rest.
	b.release(0, 4*time.Second)
	clk.advance(3 * time.Second)
	next = acquireAsync(ctx, b)
	if d := <-clk.armed; d != time.Second {
		t.Fatalf("rest %v, want the 1s left", d)
	}
	clk.advance(time.Second)
	if a := <-next; a.err != nil {
		t.Fatal(a.err)
	}
	b.release(0, 0)
	if n, used, w := b.stats(); n != 3 || used != 6*time.Second || w != 0 {
		t.Fatalf("stats %d %v %d", n, used, w)
	}
}

// The budget is shared by the slots: one core over two slots is half a
// core each; a quarter core over two slots rests each 7× its run.
func TestCPUBudgetShare(t *testing.T) {
	for _, tc := range []struct {
		slots int
		cpu   float64
		rest  time.Duration // after a run of 1s
	}{{2, 1, time.Second}, {2, 0.25, 7 * time.Second}, {1, 1, 0}, {4, 4, 0}} {
		clk := newFakeClock()
		b := newCPUBudget(tc.slots, tc.cpu, clk.now, clk.after)
		var slots []int
		for range tc.slots {
			s, err := b.acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			slots = append(slots, s)
		}
		b.release(slots[0], time.Second)
		next := acquireAsync(context.Background(), b)
		if tc.rest > 0 {
			if d := <-clk.armed; d != tc.rest {
				t.Errorf("%d slots, %v cpu: rest %v, want %v", tc.slots, tc.cpu, d, tc.rest)
			}
			clk.advance(tc.rest)
		}
		if a := <-next; a.err != nil || a.slot != slots[0] {
			t.Fatalf("%+v", a)
		}
	}
}

// Re-runs waiting for the budget queue in order and are never dropped; one
// whose context ends stops waiting and gives its place up.
func TestCPUBudgetQueues(t *testing.T) {
	clk := newFakeClock()
	b := newCPUBudget(1, 1, clk.now, clk.after) // a whole core: no rest
	ctx := context.Background()
	s, _ := b.acquire(ctx)
	first := acquireAsync(ctx, b)
	waitWaiting(t, b, 1)
	cctx, cancel := context.WithCancel(ctx)
	gone := acquireAsync(cctx, b)
	waitWaiting(t, b, 2)
	third := acquireAsync(ctx, b)
	waitWaiting(t, b, 3)
	cancel()
	if a := <-gone; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %+v", a)
	}
	notYet(t, first)
	b.release(s, time.Second)
	a := <-first
	if a.err != nil {
		t.Fatal(a.err)
	}
	notYet(t, third)
	b.release(a.slot, time.Second)
	if a := <-third; a.err != nil {
		t.Fatal(a.err)
	}
}
