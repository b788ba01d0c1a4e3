package trust

import (
	"errors"
	"fmt"
)

// Kind is what a ledger entry does.
type Kind uint8

const (
	// Grant credits an account with the fuel of one verified segment.
	Grant Kind = iota + 1
	// Ban blacklists an account; the revocations of all its grants follow.
	Ban
	// Revoke voids a grant: its account was caught lying.
	Revoke
)

func (k Kind) String() string {
	switch k {
	case Grant:
		return "grant"
	case Ban:
		return "ban"
	case Revoke:
		return "revoke"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// SegmentRef names one segment of one replica of one task: the link from
// checkpoint Seq−1 to checkpoint Seq.
type SegmentRef struct {
	Task, Replica int64
	Seq           uint64
}

// Entry is one line of the append-only credit ledger.
type Entry struct {
	N       int64 // position in the ledger, from 1
	Kind    Kind
	Account string
	Ref     SegmentRef
	Fuel    uint64
	// Day is when the entry was written; Earned is the day of the grant (the
	// same for a grant, the voided grant's for a revocation), so that a day's
	// credit is what was earned that day and is still standing.
	Day, Earned int64
}

// The ledger's refusals.
var (
	ErrBlacklisted = errors.New("trust: the account is blacklisted and earns no credit")
	ErrDoubleGrant = errors.New("trust: this segment is already credited to this account")
	ErrFuel        = errors.New("trust: a segment's fuel must be in [1, 2^62)")
	ErrBadEntry    = errors.New("trust: the ledger entry is inconsistent with the ones before it")
	ErrFuelNotGrid = errors.New("trust: a segment's fuel is its checkpoints' fuel difference")
)

const maxFuel = uint64(1) << 62

// LinkFuel is the fuel of the segment between two verified checkpoints: the
// grid's, read from the snapshots, never a worker's claim.
func LinkFuel(prev, next uint64) (uint64, error) {
	if next <= prev || next >= maxFuel {
		return 0, fmt.Errorf("%w: checkpoint fuel %d then %d", ErrFuelNotGrid, prev, next)
	}
	return next - prev, nil
}

type grantKey struct {
	account string
	ref     SegmentRef
}

// Ledger is the credit ledger's state machine: entries are only appended,
// and every balance is a sum over them. The store persists the entries;
// Replay rebuilds the state from them. Not safe for concurrent use.
type Ledger struct {
	entries     []Entry
	standing    map[grantKey]int // index of the standing grant
	blacklisted map[string]bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{standing: map[grantKey]int{}, blacklisted: map[string]bool{}}
}

// Grant credits account with fuel for the verified segment ref, on day.
func (l *Ledger) Grant(account string, ref SegmentRef, fuel uint64, day int64) (Entry, error) {
	if l.blacklisted[account] {
		return Entry{}, fmt.Errorf("%w: %s", ErrBlacklisted, account)
	}
	if fuel == 0 || fuel >= maxFuel {
		return Entry{}, fmt.Errorf("%w: %d", ErrFuel, fuel)
	}
	k := grantKey{account, ref}
	if _, ok := l.standing[k]; ok {
		return Entry{}, fmt.Errorf("%w: %s task %d replica %d segment %d", ErrDoubleGrant, account, ref.Task, ref.Replica, ref.Seq)
	}
	e := Entry{N: int64(len(l.entries)) + 1, Kind: Grant, Account: account, Ref: ref, Fuel: fuel, Day: day, Earned: day}
	l.standing[k] = len(l.entries)
	l.entries = append(l.entries, e)
	return e, nil
}

// Blacklist marks account caught on day (a Ban entry) and revokes every
// grant it holds; it returns the entries appended (none if it was
// blacklisted already).
func (l *Ledger) Blacklist(account string, day int64) []Entry {
	if l.blacklisted[account] {
		return nil
	}
	l.blacklisted[account] = true
	ban := Entry{N: int64(len(l.entries)) + 1, Kind: Ban, Account: account, Day: day, Earned: day}
	l.entries = append(l.entries, ban)
	out := []Entry{ban}
	// In ledger order, so that replaying gives the same entries.
	for i := range l.entries {
		g := l.entries[i]
		k := grantKey{g.Account, g.Ref}
		if g.Kind != Grant || g.Account != account || l.standing[k] != i {
			continue
		}
		delete(l.standing, k)
		e := Entry{N: int64(len(l.entries)) + 1, Kind: Revoke, Account: account, Ref: g.Ref, Fuel: g.Fuel, Day: day, Earned: g.Earned}
		l.entries = append(l.entries, e)
		out = append(out, e)
	}
	return out
}

// Blacklisted reports whether account was caught.
func (l *Ledger) Blacklisted(account string) bool { return l.blacklisted[account] }

// Entries returns a copy of the ledger.
func (l *Ledger) Entries() []Entry { return append([]Entry(nil), l.entries...) }

// Balance is account's standing credit: grants minus revocations.
func (l *Ledger) Balance(account string) uint64 {
	var g, r uint64
	for _, e := range l.entries {
		if e.Account != account {
			continue
		}
		switch e.Kind {
		case Grant:
			g += e.Fuel
		case Revoke:
			r += e.Fuel
		}
	}
	return g - r
}

// Daily is account's standing credit per day earned.
func (l *Ledger) Daily(account string) map[int64]uint64 {
	out := map[int64]uint64{}
	for _, e := range l.entries {
		if e.Account != account {
			continue
		}
		switch e.Kind {
		case Grant:
			out[e.Earned] += e.Fuel
		case Revoke:
			out[e.Earned] -= e.Fuel
		}
	}
	for d, v := range out {
		if v == 0 {
			delete(out, d)
		}
	}
	return out
}

// Replay rebuilds a ledger from persisted entries, checking that each one
// could have been appended by Grant or Blacklist: numbered in order, no
// grant to a blacklisted account or twice for one segment, and every ban
// followed at once by the revocation of each of the account's standing
// grants (same fuel, same day earned) and by nothing else. A revocation
// anywhere else is refused.
func Replay(entries []Entry) (*Ledger, error) {
	l := NewLedger()
	for i := 0; i < len(entries); {
		e := entries[i]
		if e.N != int64(len(l.entries))+1 {
			return nil, fmt.Errorf("%w: entry %d numbered %d", ErrBadEntry, len(l.entries)+1, e.N)
		}
		switch e.Kind {
		case Grant:
			if e.Earned != e.Day {
				return nil, fmt.Errorf("%w: grant %d earned on day %d, written on %d", ErrBadEntry, e.N, e.Earned, e.Day)
			}
			if _, err := l.Grant(e.Account, e.Ref, e.Fuel, e.Day); err != nil {
				return nil, fmt.Errorf("%w: entry %d: %w", ErrBadEntry, e.N, err)
			}
			i++
		case Ban:
			if l.blacklisted[e.Account] {
				return nil, fmt.Errorf("%w: entry %d bans an account already banned", ErrBadEntry, e.N)
			}
			want := l.Blacklist(e.Account, e.Day)
			if i+len(want) > len(entries) {
				return nil, fmt.Errorf("%w: entry %d: the blacklisting of %s stops short", ErrBadEntry, e.N, e.Account)
			}
			for j, w := range want {
				if entries[i+j] != w {
					return nil, fmt.Errorf("%w: entry %d: expected %+v", ErrBadEntry, entries[i+j].N, w)
				}
			}
			i += len(want)
		default:
			return nil, fmt.Errorf("%w: entry %d has kind %v", ErrBadEntry, e.N, e.Kind)
		}
	}
	return l, nil
}
