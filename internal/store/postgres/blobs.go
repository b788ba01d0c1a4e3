package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Blobs (store.Blobs) are rows of table blobs (bytea). Transactions overlap
// here, so storing a blob and collecting it must not race:
//
//   - putBlobs inserts the blobs that are new and, in the same statement,
//     locks the ones already there FOR KEY SHARE until its transaction
//     ends (what a foreign key would do), and checks that every one is
//     either inserted or locked — if a collection deleted one meanwhile, it
//     stores it again;
//   - BlobGC first locks its candidates FOR UPDATE SKIP LOCKED, so it skips
//     a blob that a transaction in flight has locked, and then deletes them
//     in a second statement whose fresh snapshot rechecks the references:
//     a transaction that named a candidate and committed before the lock
//     was taken is seen, and one that comes after waits for the collection
//     to end, finds the blob gone, and stores it again.
//
// A blob that a transaction inserts is invisible to a collection until it
// commits, and by then the rows naming it are committed too.

var emptyHash = store.Hash(nil)

// putBlobs stores contents, each under its hash, in hash order (so that two
// transactions putting the same blobs take their index locks in one order),
// inside tx (the transaction that will name them).
func putBlobs(ctx context.Context, tx pgx.Tx, now int64, data ...[]byte) error {
	byHash := map[string][]byte{}
	for _, d := range data {
		if len(d) > 0 {
			byHash[store.Hash(d)] = d
		}
	}
	if len(byHash) == 0 {
		return nil // the empty blob is inserted with the schema
	}
	hashes := make([]string, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	datas := make([][]byte, len(hashes))
	for i, h := range hashes {
		datas[i] = byHash[h]
	}
	// Only the blobs not inserted are looked up to be locked (most of a
	// result's outputs are new): the lookup of one just inserted found
	// nothing (this statement's snapshot does not see it) and cost a
	// quarter of the statement.
	for attempt := 0; attempt < 10; attempt++ {
		var held int
		err := tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO blobs(hash, data, size, created_at)
				SELECT h, d, length(d), $3 FROM unnest($1::text[], $2::bytea[]) AS u(h, d) ORDER BY h
				ON CONFLICT(hash) DO NOTHING
				RETURNING hash),
			kept AS (SELECT hash FROM blobs WHERE hash = ANY(ARRAY(SELECT h FROM unnest($1::text[]) AS h EXCEPT SELECT hash FROM ins))
				ORDER BY hash FOR KEY SHARE)
			SELECT count(DISTINCT hash) FROM (SELECT hash FROM ins UNION ALL SELECT hash FROM kept) x`,
			hashes, datas, now).Scan(&held)
		if err != nil {
			return interpretError(err)
		}
		if held == len(hashes) {
			return nil
		}
		// A blob was neither inserted nor locked: a collection deleted it
		// after this statement's snapshot, or another transaction
		// inserted it after the snapshot. Look again.
	}
	return fmt.Errorf("postgres: storing %d blobs: still missing after 10 attempts", len(hashes))
}

func (db *DB) BlobPut(ctx context.Context, p *store.BlobPutParams) (string, error) {
	if len(p.Data) == 0 {
		return emptyHash, nil
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		return putBlobs(ctx, tx, time.Now().UnixMilli(), p.Data)
	})
	return store.Hash(p.Data), err
}

func (db *DB) BlobGet(ctx context.Context, hash string) ([]byte, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM blobs WHERE hash = $1`, hash).Scan(&data)
	if data == nil && err == nil {
		data = []byte{}
	}
	return data, interpretError(err)
}

// unreferenced is a condition on blobs b: no row names it
// (store.BlobRefs). The planner makes it an anti-join, one pass over each
// referencing table.
const unreferenced = `NOT EXISTS (SELECT 1 FROM (
		SELECT module_hash FROM jobs
		UNION ALL SELECT v.h FROM tasks t, LATERAL (VALUES (t.stdin_hash), (t.stdout_hash), (t.stderr_hash)) v(h)
		UNION ALL SELECT f->>'hash' FROM tasks t,
			jsonb_array_elements(CASE WHEN jsonb_typeof(t.files::jsonb) = 'array' THEN t.files::jsonb ELSE '[]'::jsonb END) f
		UNION ALL SELECT v.h FROM replicas r, LATERAL (VALUES (r.stdout_hash), (r.stderr_hash), (r.ckpt_blob)) v(h)
		UNION ALL SELECT v.h FROM checkpoints c, LATERAL (VALUES (c.snapshot_hash), (c.stdout_hash), (c.stderr_hash)) v(h)
	) refs(h) WHERE refs.h = b.hash)`

// BlobGC collects in one transaction of two statements (see the top of this
// file for why two).
func (db *DB) BlobGC(ctx context.Context, p *store.BlobGCParams) (*store.BlobGCResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultBlobGCLimit
	}
	var out store.BlobGCResult
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = store.BlobGCResult{}
		rows, err := tx.Query(ctx, `SELECT b.hash FROM blobs b WHERE b.created_at < $1 AND b.hash <> $2 AND `+unreferenced+`
			LIMIT $3 FOR UPDATE OF b SKIP LOCKED`, p.Before.UnixMilli(), emptyHash, limit)
		if err != nil {
			return interpretError(err)
		}
		cands, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(cands) == 0 {
			return interpretError(err)
		}
		out.More = len(cands) == limit
		rows, err = tx.Query(ctx, `DELETE FROM blobs b WHERE b.hash = ANY($1) AND `+unreferenced+` RETURNING b.size`, cands)
		if err != nil {
			return interpretError(err)
		}
		sizes, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return interpretError(err)
		}
		out.Deleted = len(sizes)
		for _, n := range sizes {
			out.Bytes += n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
