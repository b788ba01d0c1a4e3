package sqlite_test

import (
	"context"
	"errors"
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

// A store opened with a size limit refuses the write that would grow it
// beyond with store.ErrFull, as on a full disk, keeps what it had, and
// takes writes again once space is freed.
func TestMaxBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sqlite.OpenWith(ctx, path, sqlite.Options{MaxBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	small, err := db.BlobPut(ctx, &store.BlobPutParams{Data: make([]byte, 100<<10)})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3<<20)
	big[0] = 1
	if _, err := db.BlobPut(ctx, &store.BlobPutParams{Data: big}); !errors.Is(err, store.ErrFull) {
		t.Fatalf("a blob beyond the limit: %v, want ErrFull", err)
	}
	if b, err := db.BlobGet(ctx, small); err != nil || len(b) != 100<<10 {
		t.Fatalf("the blob stored before: %d bytes, %v", len(b), err)
	}
	if _, err := db.BlobPut(ctx, &store.BlobPutParams{Data: big[:1<<20]}); err != nil {
		t.Fatalf("a blob within the limit: %v", err)
	}
	if _, err := sqlite.OpenWith(ctx, path, sqlite.Options{MaxBytes: -1}); err == nil {
		t.Fatal("a negative limit accepted")
	}
}
