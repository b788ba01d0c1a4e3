package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
)

// DefaultStrandedAfter is how long a candidate's checks wait for a worker
// that could run them before trusted ground confirms the chain instead.
const DefaultStrandedAfter = 30 * time.Second

// Stranded checks. A check — an audit, a quorum partner — must run on an
// account other than every one that computed the task. With no such
// account connected (one volunteer's machines all on one token, or the
// last stranger gone), the check would wait for ever and the task with it.
// So a task whose checks have stayed queued for StrandedAfter while no
// eligible worker is connected has its candidate's whole chain confirmed
// by a trusted trace (confirm, as for a quorum of fresh accounts): the
// result is accepted as "trusted" and the checks still queued are dropped.
// The cost falls on trusted ground (a trusted worker, else the
// coordinator within its CPU budget), which is why it waits first: a
// stranger that connects meanwhile takes the checks as usual. Jobs that
// asked for a quorum (--replicas ≥ 2) are not confirmed this way: their
// owner asked for that many independent runs.

// noteChecks records that the task's candidate has checks queued.
func (v *Verifier) noteChecks(task int64) {
	v.mu.Lock()
	if _, ok := v.checksAt[task]; !ok {
		v.checksAt[task] = v.cfg.Now()
	}
	v.mu.Unlock()
}

// sweepStranded looks, every quarter of StrandedAfter, for tasks whose
// checks have waited that long, and has their shard look at each.
func (v *Verifier) sweepStranded(ctx context.Context) {
	t := time.NewTicker(max(v.cfg.StrandedAfter/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		now := v.cfg.Now()
		var due []int64
		v.mu.Lock()
		for task, at := range v.checksAt {
			if now.Sub(at) >= v.cfg.StrandedAfter && !v.disputes[task] {
				due = append(due, task)
				v.checksAt[task] = now // looked at again one period from now at the earliest
			}
		}
		v.mu.Unlock()
		for _, task := range due {
			v.send(ctx, event{task: task, strand: true})
		}
	}
}

// stranded confirms the task's candidate on trusted ground if its checks
// are all still queued and no worker that could run them is connected.
func (v *Verifier) stranded(ctx context.Context, task int64) error {
	// A sweep may have sent the task again while an earlier look was
	// queued: if that one started a confirmation (or a dispute is under
	// way), there is nothing to do.
	v.mu.Lock()
	busy := v.disputes[task]
	v.mu.Unlock()
	if busy {
		return nil
	}
	ev, err := v.cfg.Store.TaskEvidence(ctx, task)
	if err != nil {
		return err
	}
	forget := func() error {
		v.mu.Lock()
		delete(v.checksAt, task)
		v.mu.Unlock()
		return nil
	}
	if ev.Task.State == store.TaskDone || ev.Task.State == store.TaskDisputed || ev.Job.Replicas > 1 {
		return forget()
	}
	var cand *store.ReplicaInfo
	for _, r := range ev.Replicas {
		if r.Role == store.RoleRun && live(r) && r.Result != nil {
			cand = r
			break
		}
	}
	if cand == nil {
		return forget()
	}
	queued, exclude := 0, map[string]bool{}
	for _, r := range ev.Replicas {
		for _, a := range r.Accounts {
			exclude[a] = true
		}
		if r.Account != "" {
			exclude[r.Account] = true
		}
		isCheck := r.Role == store.RoleAudit && r.AuditOf == cand.ID || r.Role == store.RoleRun && r != cand
		switch {
		case !isCheck || !live(r):
		case r.State == store.ReplicaLeased || r.Result != nil && r.Role == store.RoleRun:
			return nil // a check is running (or in): wait on it
		case r.State == store.ReplicaQueued:
			queued++
		}
	}
	if queued == 0 {
		return forget()
	}
	accs := make([]string, 0, len(exclude))
	for a := range exclude {
		accs = append(accs, a)
	}
	ok, err := v.cfg.Eligible(ctx, accs)
	if err != nil || ok {
		return err // someone could run them: they wait their turn
	}
	forget()
	v.count(func(s *Stats) { s.Stranded++ })
	return v.confirm(ctx, ev, cand, fmt.Sprintf("%d checks found no worker of another account for %v", queued, v.cfg.StrandedAfter))
}
