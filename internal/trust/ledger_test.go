package trust

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestLedgerGrantAndRevoke(t *testing.T) {
	l := NewLedger()
	ref := func(task int64, seq uint64) SegmentRef { return SegmentRef{Task: task, Replica: 1, Seq: seq} }
	must := func(_ Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Grant("alice", ref(1, 1), 100, 10))
	must(l.Grant("alice", ref(1, 2), 50, 11))
	must(l.Grant("bob", ref(1, 1), 100, 10)) // bob's replica of the same link
	must(l.Grant("mallory", ref(2, 1), 70, 10))
	must(l.Grant("mallory", ref(2, 2), 30, 12))
	if _, err := l.Grant("alice", ref(1, 1), 100, 12); !errors.Is(err, ErrDoubleGrant) {
		t.Fatalf("double grant: %v", err)
	}
	for _, f := range []uint64{0, 1 << 62} {
		if _, err := l.Grant("alice", ref(3, 1), f, 12); !errors.Is(err, ErrFuel) {
			t.Fatalf("fuel %d: %v", f, err)
		}
	}
	if got := l.Balance("mallory"); got != 100 {
		t.Fatalf("mallory before: %d", got)
	}
	out := l.Blacklist("mallory", 13)
	if len(out) != 3 || out[0].Kind != Ban || out[1].Kind != Revoke || out[2].Earned != 12 || out[2].Day != 13 {
		t.Fatalf("blacklisting wrote %+v", out)
	}
	if l.Blacklist("mallory", 14) != nil {
		t.Fatal("a second blacklisting wrote entries")
	}
	if _, err := l.Grant("mallory", ref(4, 1), 10, 14); !errors.Is(err, ErrBlacklisted) {
		t.Fatalf("grant after blacklisting: %v", err)
	}
	if got := l.Balance("mallory"); got != 0 {
		t.Fatalf("mallory after: %d", got)
	}
	if d := l.Daily("mallory"); len(d) != 0 {
		t.Fatalf("mallory's days: %v", d)
	}
	if got, want := l.Balance("alice"), uint64(150); got != want {
		t.Fatalf("alice: %d", got)
	}
	if d := l.Daily("alice"); d[10] != 100 || d[11] != 50 || len(d) != 2 {
		t.Fatalf("alice's days: %v", d)
	}
	if l.Balance("bob") != 100 {
		t.Fatal("bob")
	}
	// The ledger replays to the same state, and refuses what could not
	// have been appended.
	ents := l.Entries()
	r, err := Replay(ents)
	if err != nil {
		t.Fatal(err)
	}
	if r.Balance("alice") != 150 || r.Balance("mallory") != 0 || !r.Blacklisted("mallory") {
		t.Fatal("replay differs")
	}
	if _, err := r.Grant("mallory", ref(5, 1), 1, 20); !errors.Is(err, ErrBlacklisted) {
		t.Fatalf("replayed ban lost: %v", err)
	}
	bad := map[string][]Entry{
		"a revocation dropped":   append(append([]Entry{}, ents[:6]...), renumber(ents[7:], 7)...),
		"a revocation alone":     append(append([]Entry{}, ents[:5]...), renumber(ents[6:7], 6)...),
		"a gap in the numbering": append(append([]Entry{}, ents[:2]...), ents[3:]...),
		"a grant after the ban":  append(append([]Entry{}, ents...), Entry{N: int64(len(ents)) + 1, Kind: Grant, Account: "mallory", Ref: ref(9, 1), Fuel: 5, Day: 20, Earned: 20}),
		"revoked fuel inflated":  withFuel(ents, 6, 999),
		"grant dated elsewhere":  withEarned(ents, 0, 3),
		"a ban after a ban":      append(append([]Entry{}, ents...), Entry{N: int64(len(ents)) + 1, Kind: Ban, Account: "mallory", Day: 20, Earned: 20}),
		"an unknown kind":        append(append([]Entry{}, ents...), Entry{N: int64(len(ents)) + 1, Kind: 9, Account: "x"}),
		"the ban's revokes torn": ents[:6],
	}
	for name, e := range bad {
		if _, err := Replay(e); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: replay gave %v", name, err)
		}
	}
}

func renumber(es []Entry, from int64) []Entry {
	out := append([]Entry(nil), es...)
	for i := range out {
		out[i].N = from + int64(i)
	}
	return out
}

func withFuel(es []Entry, i int, f uint64) []Entry {
	out := append([]Entry(nil), es...)
	out[i].Fuel = f
	return out
}

func withEarned(es []Entry, i int, d int64) []Entry {
	out := append([]Entry(nil), es...)
	out[i].Earned = d
	return out
}

// Whatever the order of grants and bans, a blacklisted account nets zero,
// never gains afterwards, and no one else's balance moves.
func TestLedgerBlacklistInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	accts := []string{"a", "b", "c", "d", "e"}
	l := NewLedger()
	sums := map[string]uint64{}
	for i := range 5000 {
		acc := accts[rng.IntN(len(accts))]
		if rng.IntN(200) == 0 {
			l.Blacklist(acc, int64(i/100))
			sums[acc] = 0
			continue
		}
		f := uint64(rng.IntN(1000) + 1)
		_, err := l.Grant(acc, SegmentRef{Task: int64(i), Seq: 1}, f, int64(i/100))
		if l.Blacklisted(acc) {
			if !errors.Is(err, ErrBlacklisted) {
				t.Fatalf("grant to blacklisted %s: %v", acc, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sums[acc] += f
	}
	for _, a := range accts {
		if got := l.Balance(a); got != sums[a] {
			t.Errorf("%s: balance %d, want %d", a, got, sums[a])
		}
		var daily uint64
		for _, v := range l.Daily(a) {
			daily += v
		}
		if daily != sums[a] {
			t.Errorf("%s: days sum to %d, want %d", a, daily, sums[a])
		}
		if l.Blacklisted(a) && l.Balance(a) != 0 {
			t.Errorf("blacklisted %s holds %d", a, l.Balance(a))
		}
	}
	if _, err := Replay(l.Entries()); err != nil {
		t.Fatal(err)
	}
}

func TestLinkFuel(t *testing.T) {
	if f, err := LinkFuel(1000, 2500); err != nil || f != 1500 {
		t.Fatalf("%d, %v", f, err)
	}
	for _, c := range [][2]uint64{{10, 10}, {10, 5}, {0, 1 << 62}} {
		if _, err := LinkFuel(c[0], c[1]); !errors.Is(err, ErrFuelNotGrid) {
			t.Errorf("%v: %v", c, err)
		}
	}
}
