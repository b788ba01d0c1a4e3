package trust

// Hash is a canonical state hash H_k (docs/continuations.md).
type Hash [32]byte

// FirstDisagreement compares two replicas' chains H_0, H_1, … link by link
// over the checkpoints both have reached and returns the first k at which
// they differ: segment k, run from the snapshot at H_{k−1} (the last state
// both agree on), settles the dispute. ok is false when the common prefix
// agrees (the longer chain may still be arriving).
//
// k = 0 means the chains do not even start from the same state: the
// coordinator computes H_0 itself and refuses a chain that does not start
// there, so no segment re-run is needed to decide that case.
func FirstDisagreement(a, b []Hash) (k int, ok bool) {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i, true
		}
	}
	return 0, false
}

// Verdict is the outcome of one trusted re-run of a disputed segment.
type Verdict struct {
	AHonest, BHonest bool
}

// Settle compares the end hash of a trusted re-run of the disputed segment
// with what each side claimed. Both may be wrong (two liars); both cannot
// be right, since they disagreed.
func Settle(trusted, a, b Hash) Verdict {
	return Verdict{AHonest: a == trusted, BHonest: b == trusted}
}
