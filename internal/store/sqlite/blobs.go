package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Blobs (store.Blobs) are rows of table blobs. SQLite has one writer, so a
// collection (a write transaction) never overlaps a transaction that stores
// or names a blob: it sees every reference committed before it, and any
// transaction after it stores again what it needs.

var emptyHash = store.Hash(nil)

// putBlob stores data inside tx (the transaction that will name it).
func (db *DB) putBlob(ctx context.Context, tx *sql.Tx, data []byte, now int64) (string, error) {
	h := blobHash(data)
	return h, db.putBlobHashed(ctx, tx, h, data, now)
}

// blobHash is data's blob hash.
func blobHash(data []byte) string {
	if len(data) == 0 {
		return emptyHash
	}
	return store.Hash(data)
}

// putBlobHashed is putBlob of data whose hash h is known (blobHash).
func (db *DB) putBlobHashed(ctx context.Context, tx *sql.Tx, h string, data []byte, now int64) error {
	if len(data) == 0 {
		return nil // inserted with the schema
	}
	_, err := db.st(ctx, tx, qPutBlob).ExecContext(ctx, h, data, len(data), now)
	return interpretError(err)
}

func (db *DB) BlobPut(ctx context.Context, p *store.BlobPutParams) (string, error) {
	var h string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		h, err = db.putBlob(ctx, tx, p.Data, time.Now().UnixMilli())
		return err
	})
	return h, err
}

func (db *DB) BlobGet(ctx context.Context, hash string) ([]byte, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE hash = ?`, hash).Scan(&data)
	if data == nil && err == nil {
		data = []byte{}
	}
	return data, interpretError(err)
}

// qBlobRefs selects every hash a row names (store.BlobRefs), NULLs left
// out (NOT IN over a NULL would keep everything).
const qBlobRefs = `
	SELECT module_hash FROM jobs
	UNION ALL SELECT stdin_hash FROM tasks
	UNION ALL SELECT json_extract(f.value, '$.hash') FROM tasks t, json_each(t.files) f
		WHERE json_type(t.files) = 'array' AND json_extract(f.value, '$.hash') IS NOT NULL
	UNION ALL SELECT stdout_hash FROM tasks WHERE stdout_hash IS NOT NULL
	UNION ALL SELECT stderr_hash FROM tasks WHERE stderr_hash IS NOT NULL
	UNION ALL SELECT stdout_hash FROM replicas WHERE stdout_hash IS NOT NULL
	UNION ALL SELECT stderr_hash FROM replicas WHERE stderr_hash IS NOT NULL
	UNION ALL SELECT ckpt_blob FROM replicas WHERE ckpt_blob IS NOT NULL
	UNION ALL SELECT snapshot_hash FROM checkpoints
	UNION ALL SELECT stdout_hash FROM checkpoints
	UNION ALL SELECT stderr_hash FROM checkpoints`

// BlobGC collects in one write transaction: the unreferenced hashes are
// found by one pass over the referencing tables and the blobs' primary key
// index (never reading blob contents, which may span overflow pages), then
// those stored before p.Before are deleted.
func (db *DB) BlobGC(ctx context.Context, p *store.BlobGCParams) (*store.BlobGCResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultBlobGCLimit
	}
	var out store.BlobGCResult
	err := db.tx(ctx, func(tx *sql.Tx) error {
		out = store.BlobGCResult{}
		rows, err := tx.QueryContext(ctx, `SELECT hash FROM blobs WHERE hash != ? AND hash NOT IN (`+qBlobRefs+`)`, emptyHash)
		if err != nil {
			return interpretError(err)
		}
		var cands []string
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return interpretError(err)
			}
			cands = append(cands, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpretError(err)
		}
		del, err := tx.PrepareContext(ctx, `DELETE FROM blobs WHERE hash = ? AND created_at < ? RETURNING size`)
		if err != nil {
			return interpretError(err)
		}
		defer del.Close()
		before := p.Before.UnixMilli()
		for _, h := range cands {
			if out.Deleted == limit {
				out.More = true
				break
			}
			var size int64
			switch err := del.QueryRowContext(ctx, h, before).Scan(&size); err {
			case nil:
				out.Deleted++
				out.Bytes += size
			case sql.ErrNoRows: // too young
			default:
				return interpretError(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
