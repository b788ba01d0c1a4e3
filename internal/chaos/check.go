package chaos

import (
	"context"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/store"
)

// StoreFindings is what CheckStore read from the store.
type StoreFindings struct {
	Counts *store.JobCounts
	// Credit is the standing credit of the job's grants, per account.
	Credit map[string]uint64
	// Total: their sum, which equals Verified when the ledger is right.
	Total, Verified uint64
	Grants, Revokes int
}

// CheckStore checks, from the store alone, that a job of n tasks run with
// one replica per task (max error 1: no replication, no audits) finished
// exactly once and was credited exactly once:
//
//   - every task is done, with one replica, done, whose result is the
//     task's, and nothing of the job is left queued or leased;
//   - no (replica, link) has two standing grants (a grant is standing when
//     no revoke names it);
//   - per task, the standing grants add up to its verified fuel: the fuel
//     of its chain's links, each checkpoint's F_k − F_{k−1} and the final
//     link's remainder, at most one grid (docs/trust.md §8).
//
// It returns the violations it found, each a sentence, and what it read.
func CheckStore(ctx context.Context, db store.Store, jobID int64, n int) ([]string, *StoreFindings, error) {
	var bad []string
	f := &StoreFindings{Credit: map[string]uint64{}}
	cnt, err := db.JobCounts(ctx, jobID)
	if err != nil {
		return nil, nil, err
	}
	f.Counts = cnt
	if cnt.TasksDone != n || cnt.TasksPending != 0 || cnt.TasksDisputed != 0 || cnt.TasksCancelled != 0 || cnt.ReplicasQueued != 0 || cnt.ReplicasLeased != 0 {
		bad = append(bad, fmt.Sprintf("job counts: %d done of %d, %d pending, %d disputed, %d cancelled, %d replicas queued, %d leased",
			cnt.TasksDone, n, cnt.TasksPending, cnt.TasksDisputed, cnt.TasksCancelled, cnt.ReplicasQueued, cnt.ReplicasLeased))
	}
	entries, err := db.LedgerList(ctx, &store.LedgerListParams{})
	if err != nil {
		return nil, nil, err
	}
	revoked := map[int64]bool{}
	for _, e := range entries {
		if e.Kind == store.LedgerRevoke && e.JobID == jobID {
			revoked[e.Ref] = true
			f.Revokes++
		}
	}
	type link struct {
		replica int64
		link    uint64
	}
	standing := map[link]int{}
	credit := map[int64]uint64{} // task → standing credit
	for _, e := range entries {
		if e.Kind != store.LedgerGrant || e.JobID != jobID {
			continue
		}
		f.Grants++
		if revoked[e.Seq] {
			continue
		}
		k := link{e.ReplicaID, e.Link}
		if standing[k]++; standing[k] == 2 {
			bad = append(bad, fmt.Sprintf("link %d of replica %d has two standing grants", e.Link, e.ReplicaID))
		}
		credit[e.TaskID] += e.Fuel
		f.Credit[e.Account] += e.Fuel
		f.Total += e.Fuel
	}
	res, err := db.TaskListResults(ctx, &store.TaskListResultsParams{JobID: jobID, Limit: n + 1})
	if err != nil {
		return nil, nil, err
	}
	if len(res) != n {
		bad = append(bad, fmt.Sprintf("the store lists %d results for %d tasks", len(res), n))
	}
	for _, tk := range res {
		ev, err := db.TaskEvidence(ctx, tk.ID)
		if err != nil {
			return nil, nil, err
		}
		if ev.Task.State != store.TaskDone || len(ev.Replicas) != 1 {
			bad = append(bad, fmt.Sprintf("task %d: %s with %d replicas", tk.Index, ev.Task.State, len(ev.Replicas)))
			continue
		}
		r := ev.Replicas[0]
		if r.State != store.ReplicaDone || r.Result == nil || !r.Result.Agrees(ev.Task.Result) {
			bad = append(bad, fmt.Sprintf("task %d: replica %d %s, its result %+v, the task's %+v", tk.Index, r.ID, r.State, r.Result, ev.Task.Result))
			continue
		}
		var prev, want uint64
		for _, ck := range r.Checkpoints {
			want += ck.Fuel - prev
			prev = ck.Fuel
		}
		last := r.Result.Fuel - prev
		if len(r.Checkpoints) > 0 {
			last = min(last, ev.Grid)
		}
		want += last
		if credit[tk.ID] != want {
			bad = append(bad, fmt.Sprintf("task %d: standing credit %d, verified fuel %d (result fuel %d, %d checkpoints)", tk.Index, credit[tk.ID], want, r.Result.Fuel, len(r.Checkpoints)))
		}
		f.Verified += want
	}
	if f.Total != f.Verified {
		bad = append(bad, fmt.Sprintf("standing credit %d, verified fuel %d", f.Total, f.Verified))
	}
	return bad, f, nil
}
