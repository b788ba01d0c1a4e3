package coordinator

import (
	"context"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// Blob garbage collection: every Config.BlobGCInterval the coordinator
// deletes the blobs (modules, inputs, outputs, snapshots) that no row of the
// store names and that were stored more than Config.BlobGCGrace ago
// (store.Blobs.BlobGC; docs/store.md, "Blobs"). Several coordinators on one
// database may collect at once: the drivers make that safe, and safe
// against transactions storing or naming a blob meanwhile.

// startBlobGC starts the collector unless it is disabled (Open calls it).
func (c *Coordinator) startBlobGC() {
	if c.cfg.BlobGCInterval < 0 {
		return
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.blobGC(c.ctx) }()
}

func (c *Coordinator) blobGC(ctx context.Context) {
	t := time.NewTicker(c.cfg.BlobGCInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		c.CollectBlobs(ctx)
	}
}

// CollectBlobs runs one collection now, in rounds of
// store.DefaultBlobGCLimit blobs until none is left, and logs what it
// deleted. It returns the blobs and bytes deleted.
func (c *Coordinator) CollectBlobs(ctx context.Context) (blobs int, bytes int64) {
	t0 := time.Now()
	before := c.cfg.Now().Add(-c.cfg.BlobGCGrace)
	for ctx.Err() == nil {
		r, err := c.store.BlobGC(ctx, &store.BlobGCParams{Before: before})
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.Error("collecting blobs", "err", err)
			}
			break
		}
		blobs += r.Deleted
		bytes += r.Bytes
		if !r.More {
			break
		}
	}
	if blobs > 0 {
		c.cfg.Logger.Info("collected blobs no row names", "blobs", blobs, "bytes", bytes, "took", time.Since(t0).Round(time.Millisecond))
	} else {
		c.cfg.Logger.Debug("collected blobs no row names", "blobs", 0, "took", time.Since(t0).Round(time.Millisecond))
	}
	return blobs, bytes
}
