package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
)

// stateDomain starts the state hash input, so that a state hash can never be
// confused with a hash of anything else crowdrun hashes.
const stateDomain = "crowdrun/state/v1"

var zeroPage = make([]byte, PageSize)

// ZeroPageHash is SHA-256 of a page of zeros. It is the ordinary page hash of
// an all-zero page; implementations only use it as a shortcut.
var ZeroPageHash = sha256.Sum256(zeroPage)

// Digest is the hashes of a snapshot: one per page, and the state hash over
// everything. It stays valid after the memory it was computed from changes,
// which is what a delta against it needs.
type Digest struct {
	Pages [][32]byte
	State [32]byte
}

// Hash computes the digest of s, hashing every page (in parallel).
func Hash(s *Snapshot) (*Digest, error) { return HashDirty(s, nil, nil) }

// StateHash is Hash(s).State.
func StateHash(s *Snapshot) ([32]byte, error) {
	d, err := Hash(s)
	if err != nil {
		return [32]byte{}, err
	}
	return d.State, nil
}

// HashDirty computes the digest of s re-hashing only the pages that may have
// changed since prev: page i keeps prev's hash when i < len(prev.Pages) and
// dirty(i) is false. With prev or dirty nil every page is hashed. dirty is
// the seam for a write barrier in the instrumented module; Tracker uses a
// shadow copy instead.
func HashDirty(s *Snapshot, prev *Digest, dirty func(page int) bool) (*Digest, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	d := &Digest{Pages: make([][32]byte, len(s.Pages))}
	var todo []int
	for i := range s.Pages {
		if prev != nil && dirty != nil && i < len(prev.Pages) && !dirty(i) {
			d.Pages[i] = prev.Pages[i]
			continue
		}
		todo = append(todo, i)
	}
	hashPages(s.Pages, d.Pages, todo)
	d.State = stateHash(s, d.Pages)
	return d, nil
}

// hashPages sets out[i] to the hash of pages[i] for every i in todo, spread
// over GOMAXPROCS goroutines.
func hashPages(pages [][]byte, out [][32]byte, todo []int) {
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if workers <= 1 {
		for _, i := range todo {
			out[i] = pageHash(pages[i])
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(todo) {
					return
				}
				out[todo[k]] = pageHash(pages[todo[k]])
			}
		})
	}
	wg.Wait()
}

func pageHash(p []byte) [32]byte {
	if p == nil || bytes.Equal(p, zeroPage) {
		return ZeroPageHash
	}
	return sha256.Sum256(p)
}

// stateHash hashes the state hash input of docs/snapshot.md.
func stateHash(s *Snapshot, pages [][32]byte) [32]byte {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte(stateDomain))
	h.Write(s.ModuleHash[:])
	binary.LittleEndian.PutUint64(b[:], s.Fuel)
	h.Write(b[:8])
	binary.LittleEndian.PutUint32(b[:], uint32(len(s.Pages)))
	h.Write(b[:4])
	for i := range pages {
		h.Write(pages[i][:])
	}
	binary.LittleEndian.PutUint32(b[:], uint32(len(s.Globals)))
	h.Write(b[:4])
	h.Write(appendGlobals(nil, s.Globals))
	binary.LittleEndian.PutUint32(b[:], uint32(len(s.Frames)))
	h.Write(b[:4])
	h.Write(s.Frames)
	binary.LittleEndian.PutUint32(b[:], uint32(len(s.Host)))
	h.Write(b[:4])
	h.Write(s.Host)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func appendGlobals(b []byte, gs []Global) []byte {
	for _, g := range gs {
		b = append(b, g.Type)
		switch globalWidth(g.Type) {
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(g.Lo))
		case 8:
			b = binary.LittleEndian.AppendUint64(b, g.Lo)
		case 16:
			b = binary.LittleEndian.AppendUint64(b, g.Lo)
			b = binary.LittleEndian.AppendUint64(b, g.Hi)
		}
	}
	return b
}

// Tracker digests successive snapshots of one instance cheaply. It keeps a
// private copy of the memory it saw at the last Hash (the shadow), so finding
// the pages that changed is a memory comparison — tens of GB/s — and only
// those are re-hashed and copied. It costs one extra copy of linear memory.
// A Tracker is not safe for concurrent use.
type Tracker struct {
	shadow [][]byte
	last   *Digest
}

// Last is the digest of the last Hash, nil before the first: the base for the
// next delta.
func (t *Tracker) Last() *Digest { return t.last }

// Hash digests s, re-hashing only pages that differ from the shadow, and
// makes s the new reference.
func (t *Tracker) Hash(s *Snapshot) (*Digest, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	prev := t.last
	var changed []bool
	if prev != nil {
		changed = make([]bool, len(s.Pages))
		n := min(len(t.shadow), len(s.Pages))
		parallelFor(n, func(i int) {
			p := s.Pages[i]
			if p == nil {
				p = zeroPage
			}
			changed[i] = !bytes.Equal(p, t.shadow[i])
		})
	}
	d, err := HashDirty(s, prev, func(i int) bool { return changed[i] })
	if err != nil {
		return nil, err
	}
	// Bring the shadow up to date: every page the first time, then only
	// changed and new ones.
	oldLen := len(t.shadow)
	if oldLen > len(s.Pages) {
		t.shadow = t.shadow[:len(s.Pages)]
	}
	for i, p := range s.Pages {
		if prev != nil && i < oldLen && !changed[i] {
			continue
		}
		if i >= len(t.shadow) {
			t.shadow = append(t.shadow, make([]byte, PageSize))
		}
		if p == nil {
			clear(t.shadow[i])
		} else {
			copy(t.shadow[i], p)
		}
	}
	t.last = d
	return d, nil
}

// eachParallel runs f(k) for k in [0, n) over GOMAXPROCS goroutines, taking
// indices one at a time (pages cost unequal work); each goroutine calls
// newF once for its own f (per-goroutine state).
func eachParallel(n int, newF func() func(k int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n > 0 {
			f := newF()
			for k := range n {
				f(k)
			}
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			f := newF()
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				f(k)
			}
		})
	}
	wg.Wait()
}

// parallelFor runs f(0..n-1) over GOMAXPROCS goroutines in contiguous chunks.
func parallelFor(n int, f func(i int)) {
	parallelRange(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i)
		}
	})
}

// parallelRange splits [0, n) into one contiguous chunk per GOMAXPROCS and
// runs f on each concurrently.
func parallelRange(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}
