package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/store/storetest"
)

// BenchmarkStateCounts: 1,000 finished jobs (100,000 tasks) and a running
// job of 10,000 tasks × 2 replicas.
func BenchmarkStateCounts(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchStateCounts(b, db, 1000, 10_000)
}
