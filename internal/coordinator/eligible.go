package coordinator

import (
	"context"
	"errors"

	"github.com/crowdrun/crowdrun/internal/store"
)

// eligibleScan bounds how many of the store's latest sessions a shared
// coordinator reads to find one held by another coordinator; a crowd that
// fills it is taken to have a stranger in it.
const eligibleScan = 1000

// eligibleAsk is how many strangers' records eligible reads at most; with
// more connected, one of them is taken to be unbanned.
const eligibleAsk = 16

// eligible reports whether a worker of an account outside exclude, not
// banned, is connected — to this coordinator, or (Shared) to another one
// using the store: whether a check of work by exclude's accounts can be
// run by the crowd (verify.Config.Eligible).
func (c *Coordinator) eligible(ctx context.Context, exclude []string) (bool, error) {
	ex := make(map[string]bool, len(exclude))
	for _, a := range exclude {
		ex[a] = true
	}
	// A few distinct accounts are enough: one unbanned settles it, and a
	// crowd whose first few strangers are all banned is rare.
	var candidates []string
	c.mu.Lock()
	for _, cn := range c.conns {
		if a := cn.session.Account; !ex[a] {
			candidates = append(candidates, a)
			ex[a] = true // asked about once
			if len(candidates) == eligibleAsk {
				break
			}
		}
	}
	c.mu.Unlock()
	if len(candidates) == eligibleAsk {
		return true, nil
	}
	if c.cfg.Shared {
		ss, err := c.store.SessionList(ctx, &store.SessionListParams{Limit: eligibleScan})
		if err != nil {
			return false, err
		}
		if len(ss) == eligibleScan {
			return true, nil
		}
		for _, s := range ss {
			if s.EndedAt.IsZero() && !ex[s.Account] {
				candidates = append(candidates, s.Account)
				ex[s.Account] = true
			}
		}
	}
	for _, a := range candidates {
		acc, err := c.store.AccountGet(ctx, a)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil // a fresh account: it may verify
		}
		if err != nil {
			return false, err
		}
		if acc.BannedAt.IsZero() {
			return true, nil
		}
	}
	return false, nil
}
