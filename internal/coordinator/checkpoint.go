package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
)

// checkpointError is a refused checkpoint: the worker is told why, the
// connection stays open, and nothing is recorded.
type checkpointError struct{ code, msg string }

func (e *checkpointError) Error() string { return e.code + ": " + e.msg }

func refuse(code, format string, a ...any) error {
	return &checkpointError{code: code, msg: fmt.Sprintf(format, a...)}
}

// snapshotLimits bounds what a checkpoint of a job with this memory limit
// may decode to.
func snapshotLimits(memory uint64) snapshot.Limits {
	l := snapshot.DefaultLimits
	if p := (memory + snapshot.PageSize - 1) / snapshot.PageSize; p > 0 && p < uint64(l.MaxPages) {
		l.MaxPages = uint32(p)
	}
	l.MaxFrames, l.MaxHost = 16<<20, 16<<20
	return l
}

// acceptCheckpoint verifies a worker's checkpoint and records it. The
// coordinator trusts nothing in it: the delta is applied to the coordinator's
// own copy of the replica's previous checkpoint, the result must hash to the
// state hash announced, belong to the job's module, sit on the task's fuel
// grid and come after the previous one. Any failure is a checkpointError
// (nothing changed); other errors end the connection.
//
// The first checkpoint of a lease is answered only once the verifier has
// evaluated it (the channel returned; nil: answer now): the lease may be
// an audit of exactly that link, and the worker waits for the answer
// before running on, so the audit's revocation reaches it first
// (docs/protocol.md, "A lease's first checkpoint waits for its answer").
func (c *Coordinator) acceptCheckpoint(cn *conn, m *protocol.Checkpoint) (evaluated <-chan struct{}, err error) {
	defer c.metrics.checkpointDone(len(m.Snapshot), time.Now(), &err)
	ls := cn.lease(m.LeaseID)
	switch {
	case len(m.Snapshot)+len(m.Stdout)+len(m.Stderr) > c.cfg.MaxCheckpoint:
		return nil, refuse(protocol.CodeTooLarge, "checkpoint of %d bytes exceeds the limit of %d", len(m.Snapshot)+len(m.Stdout)+len(m.Stderr), c.cfg.MaxCheckpoint)
	case ls == nil:
		return nil, refuse(protocol.CodeLeaseNotHeld, "lease %q is not held by this session (expired, revoked or already reported); the checkpoint was not recorded", m.LeaseID)
	case ls.grid == 0:
		return nil, refuse(protocol.CodeBadCheckpoint, "lease %s takes no checkpoints", m.LeaseID)
	case m.Seq != (m.Fuel-1)/ls.grid:
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d at fuel %d is not on the task's grid of %d", m.Seq, m.Fuel, ls.grid)
	case m.Seq <= ls.seq:
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d does not follow the replica's checkpoint %d", m.Seq, ls.seq)
	case ls.output+uint64(len(m.Stdout))+uint64(len(m.Stderr)) > ls.maxOutput:
		return nil, refuse(protocol.CodeTooLarge, "the segment's output exceeds the job's limit of %d bytes", ls.maxOutput)
	}
	// The lease's first checkpoint: ls.seq is the resumed one's (0 for a
	// lease that starts the task) until then.
	first := ls.resume == nil && ls.seq == 0 || ls.resume != nil && ls.seq == ls.resume.Seq
	lim := snapshotLimits(ls.memory)
	var snap *snapshot.Snapshot
	var dig *snapshot.Digest
	if m.Base == "" {
		snap, dig, err = lim.Decode(bytes.NewReader(m.Snapshot))
	} else {
		if ls.base == nil && ls.resume != nil {
			if err := c.loadBase(cn.ctx, ls, lim); err != nil {
				if cn.ctx.Err() != nil {
					return nil, context.Cause(cn.ctx)
				}
				// The worker sends its next checkpoint full, which needs no base.
				c.cfg.Logger.Error("loading a checkpoint", "lease", m.LeaseID, "err", err)
				return nil, refuse(protocol.CodeInternal, "the coordinator could not load checkpoint %d: send checkpoints full", ls.resume.Seq)
			}
		}
		if ls.base == nil {
			return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d is a delta, but the replica has no previous checkpoint: send it full", m.Seq)
		}
		if want := hex.EncodeToString(ls.digest.State[:]); m.Base != want {
			return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d is a delta against %s, but the replica's previous checkpoint is %s", m.Seq, m.Base[:12], want[:12])
		}
		snap, dig, err = lim.ApplyDelta(ls.base, ls.digest, bytes.NewReader(m.Snapshot))
	}
	if err != nil {
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d: %v", m.Seq, err)
	}
	if got := hex.EncodeToString(dig.State[:]); got != m.StateHash {
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d: the snapshot's state hash is %s, not %s", m.Seq, got[:12], m.StateHash[:12])
	}
	if snap.Fuel != m.Fuel {
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d: the snapshot is at fuel %d, not %d", m.Seq, snap.Fuel, m.Fuel)
	}
	if hex.EncodeToString(snap.ModuleHash[:]) != ls.module {
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d: the snapshot belongs to another module", m.Seq)
	}
	var full bytes.Buffer
	if err := snapshot.Encode(&full, snap, dig, snapshot.Options{Compress: true}); err != nil {
		return nil, refuse(protocol.CodeBadCheckpoint, "checkpoint %d: %v", m.Seq, err)
	}
	now := c.cfg.Now()
	added, err := c.store.CheckpointAdd(cn.ctx, &store.CheckpointAddParams{SessionID: cn.session.ID, LeaseID: m.LeaseID, Seq: m.Seq, Fuel: m.Fuel,
		StateHash: m.StateHash, Snapshot: full.Bytes(), Stdout: m.Stdout, Stderr: m.Stderr, CostMS: m.CostMS, Now: now})
	switch {
	case errors.Is(err, store.ErrLeaseNotHeld):
		return nil, refuse(protocol.CodeLeaseNotHeld, "lease %q is no longer held by this session; the checkpoint was not recorded", m.LeaseID)
	case errors.Is(err, store.ErrCheckpointOrder):
		return nil, refuse(protocol.CodeBadCheckpoint, "%v", err)
	case err != nil:
		if cn.ctx.Err() != nil {
			return nil, context.Cause(cn.ctx)
		}
		c.cfg.Logger.Error("recording a checkpoint", "lease", m.LeaseID, "err", err)
		return nil, refuse(protocol.CodeInternal, "the checkpoint could not be recorded")
	}
	evaluated = c.verifier.Checkpoint(cn.ctx, added.TaskID, added.JobID, added.Role, first)
	if m.Fuel > ls.fuelAt {
		// From the lease grant the stretch includes the module's fetch and
		// compile, and a checkpoint says nothing of run time: no sample.
		if d, ok := checkpoint.RunTime(now.Sub(ls.at), 0, ls.fromGrant); ok {
			c.policy.addRate(m.Fuel-ls.fuelAt, d)
		}
	}
	c.policy.addCost(m.CostMS)
	ls.base, ls.digest, ls.seq = snap, dig, m.Seq
	ls.output += uint64(len(m.Stdout)) + uint64(len(m.Stderr))
	ls.at, ls.fuelAt, ls.fromGrant = now, m.Fuel, false
	cn.mu.Lock()
	ls.progress = max(ls.progress, m.Fuel)
	ls.saved = now
	cn.mu.Unlock()
	return evaluated, nil
}

// loadBase decodes the checkpoint a lease resumed from, the base of its
// first delta.
func (c *Coordinator) loadBase(ctx context.Context, ls *leaseState, lim snapshot.Limits) error {
	b, err := c.store.BlobGet(ctx, ls.resume.SnapshotHash)
	if err != nil {
		return fmt.Errorf("loading checkpoint %d of lease %s: %w", ls.resume.Seq, ls.id, err)
	}
	snap, dig, err := lim.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("decoding stored checkpoint %d of lease %s: %w", ls.resume.Seq, ls.id, err)
	}
	ls.base, ls.digest = snap, dig
	return nil
}

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// snapshotDownload serves the snapshot a lease resumes from, to the session
// that holds the lease (or a re-run starts from, to the trusted session
// asked for it): Authorization: Session <session_id>:<token>, the
// token from its welcome.
func (c *Coordinator) snapshotDownload(w http.ResponseWriter, r *http.Request) {
	h := r.PathValue("hash")
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Session ")
	sid, tok, ok2 := strings.Cut(cred, ":")
	id, err := strconv.ParseInt(sid, 10, 64)
	if !ok || !ok2 || err != nil {
		writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "snapshot downloads need Authorization: Session <session_id>:<token> (from welcome)")
		return
	}
	cn := c.connFor(id)
	if cn == nil || subtle.ConstantTimeCompare([]byte(tok), []byte(cn.token)) != 1 {
		writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "no such session, or a wrong token")
		return
	}
	held := false
	cn.mu.Lock()
	for _, ls := range cn.leases {
		if ls.resume != nil && ls.resume.SnapshotHash == h {
			held = true
		}
	}
	for _, p := range cn.reruns { // a trusted session's re-run starts there
		if p.snapshot == h {
			held = true
		}
	}
	cn.mu.Unlock()
	if !held {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no lease or re-run of this session resumes from that snapshot")
		return
	}
	b, err := c.store.BlobGet(r.Context(), h)
	if err != nil {
		c.storeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
