package postgres_test

import (
	"testing"

	"github.com/crowdrun/crowdrun/internal/store/storetest"
)

// BenchmarkStateCounts: as the SQLite driver's (1,000 finished jobs of 100
// tasks, a running job of 10,000 tasks × 2 replicas).
func BenchmarkStateCounts(b *testing.B) {
	storetest.BenchStateCounts(b, open(b), 1000, 10_000)
}
