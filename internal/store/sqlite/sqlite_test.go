package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// Reopening must keep everything: the coordinator may be killed at any time.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := db.BlobPut(ctx, &store.BlobPutParams{Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.BlobGet(ctx, h); err != nil || string(got) != "x" {
		t.Fatalf("after reopen: %q %v", got, err)
	}
}
