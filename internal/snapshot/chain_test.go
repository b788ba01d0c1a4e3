package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDeltaChain runs a guest-like sequence of checkpoints — pages written,
// zeroed, memory grown, globals and host state changing — capturing with a
// Tracker over one contiguous memory and shipping deltas, and rebuilds the
// state on the other side from a full snapshot and the chain of deltas.
func TestDeltaChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	mem := make([]byte, 4*PageSize)
	var tr Tracker
	globals := []Global{{Type: I32}, {Type: F64}}
	capture := func(fuel uint64) *Snapshot {
		pages, err := PagesOf(mem)
		if err != nil {
			t.Fatal(err)
		}
		return &Snapshot{Fuel: fuel, Pages: pages, Globals: append([]Global(nil), globals...),
			Frames: []byte(fmt.Sprint("frames", fuel)), Host: bytes.Repeat([]byte{byte(fuel)}, int(fuel%7))}
	}
	s := capture(0)
	d, err := tr.Hash(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, s, d, Options{Compress: true}); err != nil {
		t.Fatal(err)
	}
	remote, rd, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for round := uint64(1); round <= 30; round++ {
		switch rng.IntN(4) {
		case 0: // a few scattered writes
			for range rng.IntN(5) {
				mem[rng.IntN(len(mem))] = byte(rng.Uint32())
			}
		case 1: // zero a page
			clear(mem[rng.IntN(len(mem)/PageSize)*PageSize:][:PageSize])
		case 2: // grow
			if len(mem) < 12*PageSize {
				mem = append(mem, make([]byte, rng.IntN(3)*PageSize)...)
				mem[len(mem)-1] = 1
			}
		case 3: // nothing but globals
		}
		globals[0].Lo = uint64(uint32(rng.Uint64()))
		globals[1].Lo = rng.Uint64()
		prev := tr.Last()
		s := capture(round)
		d, err := tr.Hash(s)
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if err := EncodeDelta(&buf, prev, s, d, Options{Compress: round%2 == 0}); err != nil {
			t.Fatal(err)
		}
		remote, rd, err = ApplyDelta(remote, rd, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if rd.State != d.State {
			t.Fatalf("round %d: state hash differs", round)
		}
		sameContent(t, s, remote)
	}
}
