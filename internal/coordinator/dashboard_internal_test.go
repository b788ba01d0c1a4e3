package coordinator

import (
	"testing"
	"time"
)

// TestHistoryWindow: any job's history fits in maxHistoryBuckets buckets
// that cover it from its creation to its end, at the smallest step that
// does.
func TestHistoryWindow(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	for _, span := range []time.Duration{0, time.Millisecond, 37 * time.Second, 38 * time.Second, time.Hour, 30 * 24 * time.Hour, 10 * 365 * 24 * time.Hour} {
		step, n := historyWindow(t0, t0.Add(span))
		if n < 1 || n > maxHistoryBuckets+1 {
			t.Errorf("span %v: %d buckets", span, n)
		}
		if time.Duration(n)*step <= span {
			t.Errorf("span %v: %d buckets of %v do not cover it", span, n, step)
		}
		for _, s := range historySteps {
			if s >= step {
				break
			}
			if span/s < maxHistoryBuckets {
				t.Errorf("span %v: step %v, but %v would do", span, step, s)
			}
		}
	}
	if step, n := historyWindow(t0, t0.Add(-time.Second)); n != 1 || step != historySteps[0] {
		t.Errorf("an end before the start: %d buckets of %v", n, step)
	}
}
