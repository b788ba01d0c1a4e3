package worker

import (
	"bytes"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// Tamper makes a worker lie. It exists for the sabotage benchmark
// (cmd/crowdrun-sabotage) and its tests ONLY, to play the saboteurs of
// docs/trust.md against a real coordinator over the real protocol; a
// production worker leaves Config.Tamper nil, and nothing else in crowdrun
// sets it.
//
// The lie is only in what the worker uploads: its own run continues from
// its real state. A lying checkpoint is self-consistent, as a real liar's
// would be (the coordinator checks that every snapshot hashes to the hash
// claimed for it): the worker hashes the altered snapshot, claims that
// hash, and sends it in full; later checkpoints are deltas against it.
type Tamper interface {
	// Checkpoint is called for each checkpoint the worker is about to
	// upload: lease, the grid point seq, and a private copy of the
	// snapshot, which it may alter (a memory byte, a global, Fuel...).
	// It returns true if it did.
	Checkpoint(lease *protocol.Lease, seq uint64, snap *snapshot.Snapshot) bool
	// Result is called with what the worker is about to report at the
	// end of a lease, which it may alter (status, exit code, fuel, output).
	Result(lease *protocol.Lease, r *sandbox.Report, stdout, stderr *[]byte)
}

// tamperCheckpoint gives the worker's Tamper a copy of s for checkpoint
// seq. It returns the altered snapshot and its digest, or nil if the
// Tamper left it alone. The copy is deep: s's pages alias guest memory,
// which must not change.
func (c *checkpointer) tamperCheckpoint(seq uint64, s *snapshot.Snapshot) (*snapshot.Snapshot, *snapshot.Digest, error) {
	t := c.w.cfg.Tamper
	if t == nil {
		return nil, nil, nil
	}
	cp := *s
	cp.Pages = make([][]byte, len(s.Pages))
	for i, p := range s.Pages {
		if p != nil {
			cp.Pages[i] = bytes.Clone(p)
		}
	}
	cp.Globals = append([]snapshot.Global(nil), s.Globals...)
	cp.Frames, cp.Host = bytes.Clone(s.Frames), bytes.Clone(s.Host)
	if !t.Checkpoint(c.lease, seq, &cp) {
		return nil, nil, nil
	}
	d, err := snapshot.Hash(&cp)
	if err != nil {
		return nil, nil, err
	}
	return &cp, d, nil
}
