package coordinator

import (
	"context"
	"sync"
	"time"
)

// cpuBudget bounds the coordinator's in-process re-runs (its own trusted
// ground) to a share of one core over time, so that a flood of disputes
// queues instead of starving dispatch. It is a duty cycle per slot: a
// re-run runs in one goroutine (wazero executes the guest on the calling
// one), so a slot whose re-run took d rests d·(1−s)/s before its next, s
// being the slot's share (the budget over the slots). Over any long
// stretch each slot is busy at most a fraction s of the time, all of them
// together at most the budget. d is the wall time of the run: at least its
// CPU time, so the bound holds however busy the machine is.
//
// Re-runs wait for a slot in arrival order (a channel's receivers are
// served first come, first served) and are never dropped.
type cpuBudget struct {
	share float64 // per slot, in (0, 1]
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	free  chan int // slots not running nor reserved

	mu      sync.Mutex
	ready   []time.Time // per slot: when its rest ends
	used    time.Duration
	runs    int64
	waiting int
}

// newCPUBudget gives slots slots sharing cpu cores (0 < cpu ≤ slots).
func newCPUBudget(slots int, cpu float64, now func() time.Time, after func(time.Duration) <-chan time.Time) *cpuBudget {
	b := &cpuBudget{share: cpu / float64(slots), now: now, after: after, free: make(chan int, slots), ready: make([]time.Time, slots)}
	for i := range slots {
		b.free <- i
	}
	return b
}

// acquire waits for a slot whose rest is over and returns it; the caller
// runs and then calls release. It fails only when ctx ends.
func (b *cpuBudget) acquire(ctx context.Context) (int, error) {
	b.mu.Lock()
	b.waiting++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
	}()
	var slot int
	select {
	case slot = <-b.free:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	b.mu.Lock()
	rest := b.ready[slot].Sub(b.now())
	b.mu.Unlock()
	if rest > 0 {
		select {
		case <-b.after(rest):
		case <-ctx.Done():
			b.free <- slot
			return -1, ctx.Err()
		}
	}
	return slot, nil
}

// release returns slot after a run that took d: it rests in proportion.
func (b *cpuBudget) release(slot int, d time.Duration) {
	if d < 0 {
		d = 0
	}
	rest := time.Duration(float64(d) * (1 - b.share) / b.share)
	b.mu.Lock()
	b.ready[slot] = b.now().Add(rest)
	b.used += d
	b.runs++
	b.mu.Unlock()
	b.free <- slot
}

// stats: re-runs done, the time they ran, and how many wait now.
func (b *cpuBudget) stats() (runs int64, used time.Duration, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs, b.used, b.waiting
}
