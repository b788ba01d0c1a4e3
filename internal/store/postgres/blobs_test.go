package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

// TestBlobGCRaces plays the two interleavings of a collection and a
// transaction that names a blob that was garbage, step by step, with the
// collection's statements run by hand on a second connection.
func TestBlobGCRaces(t *testing.T) {
	dsn := pgtest.Schema(t)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// insert inserts a job whose task's stdin is in (a column without a
	// foreign key: only putBlobs protects it).
	insert := func(in []byte) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := db.JobInsert(ctx, &store.JobInsertParams{Owner: "alice", ModuleHash: store.Hash(module), Replicas: 1,
				Blobs: [][]byte{module, in}, Tasks: []store.TaskSpec{{StdinHash: store.Hash(in)}}, Now: now})
			done <- err
		}()
		return done
	}

	// 1. The collection locks the garbage first: the job's insert waits,
	// finds the blob gone and stores it again.
	mod := []byte("stdin one")
	if _, err := db.BlobPut(ctx, &store.BlobPutParams{Data: mod}); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM blobs WHERE hash = $1 FOR UPDATE`, store.Hash(mod)); err != nil {
		t.Fatal(err)
	}
	done := insert(mod)
	select {
	case err := <-done:
		t.Fatalf("the insert did not wait for the collection: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := tx.Exec(ctx, `DELETE FROM blobs WHERE hash = $1`, store.Hash(mod)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := db.BlobGet(ctx, store.Hash(mod)); err != nil || string(got) != string(mod) {
		t.Fatalf("the stdin after the race: %q %v", got, err)
	}

	// 2. The job's transaction names the garbage first (holding it FOR KEY
	// SHARE until it commits): the collection skips it.
	mod2 := []byte("stdin two")
	if _, err := db.BlobPut(ctx, &store.BlobPutParams{Data: mod2}); err != nil {
		t.Fatal(err)
	}
	tx2, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The job's transaction, by hand: the blob locked as putBlobs does.
	if _, err := tx2.Exec(ctx, `SELECT 1 FROM blobs WHERE hash = $1 FOR KEY SHARE`, store.Hash(mod2)); err != nil {
		t.Fatal(err)
	}
	r, err := db.BlobGC(ctx, &store.BlobGCParams{Before: time.Now().Add(time.Hour)})
	if err != nil || r.Deleted != 0 {
		t.Fatalf("a collection while the blob is held: %+v %v", r, err)
	}
	tx2.Rollback(ctx)
	if r, err := db.BlobGC(ctx, &store.BlobGCParams{Before: time.Now().Add(time.Hour)}); err != nil || r.Deleted != 1 {
		t.Fatalf("once released: %+v %v", r, err)
	}
}
