package coordinator

import (
	"context"
	"errors"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/trust"
)

// probation is what the session's account may take now of verifying
// jobs' work (trust.Allowance: an account on probation gets it only as
// fast as its work is verified); nil: no limit. Accounts seen off
// probation are remembered; a ban stops their leases in the store.
func (c *Coordinator) probation(ctx context.Context, cn *conn, want int) (*store.LeaseProbation, error) {
	acc := cn.session.Account
	if cn.credible.Load() {
		return nil, nil
	}
	if _, ok := c.offProbation.Load(acc); ok {
		c.markCredible(cn)
		return nil, nil
	}
	rec, err := c.store.AccountGet(ctx, acc)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = &store.Account{ID: acc}, nil
	}
	if err != nil {
		return nil, err
	}
	a := trust.Account{ID: acc, Verified: rec.Verified, LiesCaught: rec.LiesCaught, Blacklisted: !rec.BannedAt.IsZero()}
	if a.Verified >= trust.ProbationEnd && !a.Caught() {
		c.offProbation.Store(acc, true)
		c.markCredible(cn)
		return nil, nil
	}
	p, err := c.store.AccountPending(ctx, acc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	online := c.credibleConns > 0
	c.mu.Unlock()
	n, verifyOnly, limited := trust.Allowance(a, p.Own, p.Verification, cn.heldVerifying(), want, online)
	if !limited {
		return nil, nil
	}
	return &store.LeaseProbation{Max: n, VerifyOnly: verifyOnly}, nil
}

// markCredible counts cn among the sessions of accounts off probation
// (Coordinator.credibleConns) while it is connected.
func (c *Coordinator) markCredible(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns[cn.session.ID] == cn && !cn.credible.Load() {
		cn.credible.Store(true)
		c.credibleConns++
	}
}

// heldVerifying counts the session's leases of jobs that verify.
func (cn *conn) heldVerifying() int {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	n := 0
	for _, ls := range cn.leases {
		if ls.verifies {
			n++
		}
	}
	return n
}

// settled: a task or job finished. Followers are told, and the dispatcher
// looks again: an account on probation may now take more.
func (c *Coordinator) settled() {
	c.notify()
	c.wake()
}
