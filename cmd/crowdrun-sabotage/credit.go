package main

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/crowdrun/crowdrun/internal/store"
)

// CreditCheck is the benchmark's own account of the credit ledger,
// recomputed from what really happened rather than read from what the
// verifier decided: every standing grant (a grant no revoke took back)
// must be for a link of a task whose accepted result is the reference's,
// its fuel must be that link's true fuel (from an honest traced run of the
// input on the same grid), and the account credited must have run a
// segment of that replica covering the link. An account's verified fuel is
// the sum of its standing grants' true fuel; GET /v1/credit must say the
// same.
type CreditCheck struct {
	Grants, Revoked int
	Standing        int
	WrongFuel       int // grants whose fuel is not the link's true fuel
	WrongResult     int // grants for tasks whose accepted result is wrong (or none)
	NotRun          int // grants to an account with no segment covering the link
	Twice           int // (replica, link) pairs granted more than once
	Samples         []string
	// Verified is the recomputed verified fuel per account: the true fuel
	// of its standing grants that pass every check.
	Verified map[string]uint64
	// APIMismatch lists accounts whose /v1/credit total differs from
	// Verified.
	APIMismatch []string
}

func (c *CreditCheck) bad(kind *int, format string, args ...any) {
	*kind++
	if len(c.Samples) < 5 {
		c.Samples = append(c.Samples, fmt.Sprintf(format, args...))
	}
}

// Clean: every standing grant passed and the API agrees.
func (c *CreditCheck) Clean() bool {
	return c.WrongFuel == 0 && c.WrongResult == 0 && c.NotRun == 0 && c.Twice == 0 && len(c.APIMismatch) == 0
}

// checkCredit recomputes the ledger of job. trace maps a task index to its
// input's true checkpoint fuels (seq → fuel; seq 0 → 0) and total fuel;
// right reports whether the task's accepted result is the reference's.
func checkCredit(ctx context.Context, db store.Store, segs []*store.Segment, trace func(idx int) (map[uint64]uint64, uint64), right func(idx int) bool, api map[string]uint64) (*CreditCheck, error) {
	c := &CreditCheck{Verified: map[string]uint64{}}
	entries, err := db.LedgerList(ctx, &store.LedgerListParams{Limit: math.MaxInt32})
	if err != nil {
		return nil, err
	}
	revoked := map[int64]bool{}
	for _, e := range entries {
		if e.Kind == store.LedgerRevoke {
			revoked[e.Ref] = true
			c.Revoked++
		}
	}
	byReplica := map[int64][]*store.Segment{}
	taskIdx := map[int64]int{} // replica → task index
	for _, g := range segs {
		byReplica[g.ReplicaID] = append(byReplica[g.ReplicaID], g)
		taskIdx[g.ReplicaID] = g.TaskIndex
	}
	evidence := map[int64]*store.TaskEvidence{}
	granted := map[[2]int64]bool{}
	for _, e := range entries {
		if e.Kind != store.LedgerGrant {
			continue
		}
		c.Grants++
		if revoked[e.Seq] {
			continue
		}
		c.Standing++
		key := [2]int64{e.ReplicaID, int64(e.Link)}
		if granted[key] {
			c.bad(&c.Twice, "replica %d link %d granted twice", e.ReplicaID, e.Link)
			continue
		}
		granted[key] = true
		idx, ok := taskIdx[e.ReplicaID]
		if !ok {
			c.bad(&c.NotRun, "grant %d to %s: replica %d has no segment at all", e.Seq, e.Account, e.ReplicaID)
			continue
		}
		if !right(idx) {
			c.bad(&c.WrongResult, "grant %d to %s: task %d's accepted result is not the reference's", e.Seq, e.Account, idx)
			continue
		}
		// The link's start: the replica's checkpoint before it (a worker
		// may skip a grid point), by sequence only; fuels are the trace's.
		ev := evidence[e.TaskID]
		if ev == nil {
			if ev, err = db.TaskEvidence(ctx, e.TaskID); err != nil {
				return nil, err
			}
			evidence[e.TaskID] = ev
		}
		var seqs []uint64
		for _, r := range ev.Replicas {
			if r.ID == e.ReplicaID {
				for _, ck := range r.Checkpoints {
					seqs = append(seqs, ck.Seq)
				}
			}
		}
		fuels, total := trace(idx)
		var prev uint64
		for _, s := range seqs {
			if s < e.Link {
				prev = s
			}
		}
		from, okFrom := fuels[prev]
		to, okTo := fuels[e.Link]
		if !okTo {
			// Past the last grid point: the final link, to the end.
			if last := slices.Max(append(seqs, 0)); e.Link == last+1 || len(seqs) == 0 {
				to, okTo = total, true
			}
		}
		if !okFrom || !okTo || to < from || e.Fuel != to-from {
			c.bad(&c.WrongFuel, "grant %d to %s: task %d replica %d link %d for %d fuel; the link (from checkpoint %d) is %d fuel", e.Seq, e.Account, idx, e.ReplicaID, e.Link, e.Fuel, prev, int64(to)-int64(from))
			continue
		}
		ran := false
		for _, g := range byReplica[e.ReplicaID] {
			if g.Account == e.Account && g.FuelStart <= from && max(g.FuelEnd, g.FuelReached) >= to {
				ran = true
				break
			}
		}
		if !ran {
			c.bad(&c.NotRun, "grant %d to %s: no segment of replica %d by that account covers fuel %d to %d", e.Seq, e.Account, e.ReplicaID, from, to)
			continue
		}
		c.Verified[e.Account] += to - from
	}
	for acc, total := range api {
		if total != c.Verified[acc] {
			c.APIMismatch = append(c.APIMismatch, fmt.Sprintf("%s: /v1/credit %d, recomputed %d", acc, total, c.Verified[acc]))
		}
	}
	for acc, v := range c.Verified {
		if _, ok := api[acc]; !ok && v > 0 {
			c.APIMismatch = append(c.APIMismatch, fmt.Sprintf("%s: not in /v1/credit, recomputed %d", acc, v))
		}
	}
	slices.Sort(c.APIMismatch)
	return c, nil
}
