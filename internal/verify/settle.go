package verify

import (
	"context"
	"sync"

	"github.com/crowdrun/crowdrun/internal/store"
)

// MaxSettleBatch is the most settlements committed in one transaction.
const MaxSettleBatch = 64

// Group commit of acceptances. Every shard that accepts a task waits for
// its settlement to commit, as it always did (its next event for the task
// must see the task settled); but the settlements that shards ask for while
// another batch is being committed go together in the next batch, one
// transaction (store.TaskSettleBatch): on PostgreSQL, the job's row is
// locked and updated once per batch instead of once per task, and every
// settlement waited on that lock (docs/store.md). A batch is never held
// back to fill up: with nothing in flight a settlement commits at once,
// alone.
//
// There is no goroutine of its own: the first shard to ask while none is
// committing leads, commits what has gathered, and hands the lead to a
// shard whose settlement is still waiting, if any, once its own has
// committed.

type settleReq struct {
	p    *store.TaskSettleParams
	done chan struct{}
	lead bool // woken to lead, not with its outcome
	out  store.TaskSettleOutcome
}

type settler struct {
	mu      sync.Mutex
	leading bool
	pending []*settleReq
}

// settle settles one task through the group commit: what TaskSettle would
// return.
func (v *Verifier) settle(ctx context.Context, p *store.TaskSettleParams) (*store.TaskSettled, error) {
	g := &v.settler
	r := &settleReq{p: p, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if g.leading {
		g.mu.Unlock()
		// Never abandoned: a leader always finishes (its store call ends
		// with ctx) and either answers r or hands r the lead.
		<-r.done
		if !r.lead {
			return r.out.Settled, r.out.Err
		}
		g.mu.Lock()
	}
	g.leading = true
	for {
		n := min(len(g.pending), MaxSettleBatch)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		v.commitSettlements(ctx, batch)
		g.mu.Lock()
		if r.out.Err != nil || r.out.Settled != nil {
			break // ours is in
		}
	}
	if len(g.pending) > 0 {
		// The oldest waiter leads, itself first in its batch.
		next := g.pending[0]
		next.lead = true
		close(next.done)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return r.out.Settled, r.out.Err
}

// commitSettlements commits one batch and answers each of its waiters
// (but the leader, whose answer is read by itself).
func (v *Verifier) commitSettlements(ctx context.Context, batch []*settleReq) {
	ps := make([]*store.TaskSettleParams, len(batch))
	for i, r := range batch {
		ps[i] = r.p
	}
	out, err := v.cfg.Store.TaskSettleBatch(ctx, ps)
	for i, r := range batch {
		if err != nil {
			r.out = store.TaskSettleOutcome{Err: err}
		} else {
			r.out = out[i]
		}
		select { // a waiter handed the lead has its done closed already
		case <-r.done:
		default:
			close(r.done)
		}
	}
}
