package snapshot

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// testSnapshot builds a snapshot of n pages: some zero, some random, some
// repetitive (compressible), with every global type and both blobs.
func testSnapshot(seed uint64, n int) *Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &Snapshot{Fuel: rng.Uint64(), Pages: make([][]byte, n)}
	s.ModuleHash = sha256.Sum256([]byte("module"))
	for i := range s.Pages {
		switch i % 4 {
		case 0: // nil: zero
		case 1:
			p := make([]byte, PageSize)
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			s.Pages[i] = p
		case 2:
			p := make([]byte, PageSize)
			for j := 0; j < PageSize; j += 64 {
				p[j] = byte(i)
			}
			s.Pages[i] = p
		case 3:
			s.Pages[i] = make([]byte, PageSize) // zero, but allocated
		}
	}
	s.Globals = []Global{
		{Type: I32, Lo: 0xdeadbeef},
		{Type: I64, Lo: rng.Uint64()},
		{Type: F32, Lo: 0x7fc00001},
		{Type: F64, Lo: 0x7ff8000000000001},
		{Type: V128, Lo: rng.Uint64(), Hi: rng.Uint64()},
	}
	s.Frames = bytes.Repeat([]byte("frame"), 100)
	s.Host = []byte{1, 2, 3}
	return s
}

func encodeFull(t testing.TB, s *Snapshot, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, s, nil, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sameContent(t *testing.T, a, b *Snapshot) {
	t.Helper()
	if a.ModuleHash != b.ModuleHash || a.Fuel != b.Fuel || len(a.Pages) != len(b.Pages) ||
		!bytes.Equal(a.Frames, b.Frames) || !bytes.Equal(a.Host, b.Host) || len(a.Globals) != len(b.Globals) {
		t.Fatalf("content differs")
	}
	for i := range a.Globals {
		if a.Globals[i] != b.Globals[i] {
			t.Fatalf("global %d: %+v != %+v", i, a.Globals[i], b.Globals[i])
		}
	}
	for i := range a.Pages {
		pa, pb := a.Pages[i], b.Pages[i]
		if pa == nil {
			pa = zeroPage
		}
		if pb == nil {
			pb = zeroPage
		}
		if !bytes.Equal(pa, pb) {
			t.Fatalf("page %d differs", i)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, o := range []Options{{}, {Compress: true}, {Compress: true, Level: flate.HuffmanOnly}, {Compress: true, Level: 9}} {
		s := testSnapshot(1, 9)
		want, err := StateHash(s)
		if err != nil {
			t.Fatal(err)
		}
		b := encodeFull(t, s, o)
		got, d, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("compress=%v: %v", o.Compress, err)
		}
		sameContent(t, s, got)
		if d.State != want {
			t.Fatalf("state hash changed in the round trip")
		}
		if o.Compress {
			continue
		}
		// Canonical: re-encoding gives the same bytes.
		if b2 := encodeFull(t, got, o); !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding changed the bytes")
		}
	}
}

func TestStateHashIndependentOfLayout(t *testing.T) {
	// Memory as one contiguous slice (as in an engine) or as separate pages,
	// zero pages nil or allocated: same hash.
	s := testSnapshot(2, 8)
	mem := make([]byte, s.MemorySize())
	if err := s.CopyMemory(mem); err != nil {
		t.Fatal(err)
	}
	s2 := *s
	var err error
	if s2.Pages, err = PagesOf(mem); err != nil {
		t.Fatal(err)
	}
	h1, _ := StateHash(s)
	h2, _ := StateHash(&s2)
	if h1 != h2 {
		t.Fatal("hash depends on memory layout")
	}
	// And every component matters.
	for name, mut := range map[string]func(*Snapshot){
		"fuel":   func(s *Snapshot) { s.Fuel++ },
		"module": func(s *Snapshot) { s.ModuleHash[0] ^= 1 },
		"page":   func(s *Snapshot) { s.Pages[1] = bytes.Clone(s.Pages[1]); s.Pages[1][100] ^= 1 },
		"grow":   func(s *Snapshot) { s.Pages = append(s.Pages[:len(s.Pages):len(s.Pages)], nil) },
		"global": func(s *Snapshot) { s.Globals = bytes2globals(s.Globals); s.Globals[4].Hi ^= 1 },
		"frames": func(s *Snapshot) { s.Frames = append(bytes.Clone(s.Frames), 0) },
		"host":   func(s *Snapshot) { s.Host = []byte{1, 2, 4} },
		"split":  func(s *Snapshot) { s.Frames, s.Host = append(bytes.Clone(s.Frames), s.Host[0]), s.Host[1:] },
	} {
		c := *s
		mut(&c)
		if h, _ := StateHash(&c); h == h1 {
			t.Errorf("%s: state hash unchanged", name)
		}
	}
}

func bytes2globals(g []Global) []Global { return append([]Global(nil), g...) }

func TestDelta(t *testing.T) {
	base := testSnapshot(3, 12)
	bd, err := Hash(base)
	if err != nil {
		t.Fatal(err)
	}
	cur := *base
	cur.Pages = append([][]byte(nil), base.Pages...)
	cur.Pages[1] = nil                                                                            // random page → zero
	cur.Pages[2] = bytes.Clone(cur.Pages[2])                                                      // changed
	cur.Pages[2][7] = 9                                                                           //
	cur.Pages[4] = bytes.Repeat([]byte{5}, PageSize)                                              // zero → data
	cur.Pages = append(cur.Pages, nil, make([]byte, PageSize), bytes.Repeat([]byte{1}, PageSize)) // grown
	cur.Fuel += 1000
	cur.Host = []byte("more output")
	cd, err := Hash(&cur)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ChangedPages(bd, cd), []int{1, 2, 4, 14}; !equalInts(got, want) {
		t.Fatalf("changed pages %v, want %v", got, want)
	}
	for _, o := range []Options{{}, {Compress: true}} {
		var buf bytes.Buffer
		if err := EncodeDelta(&buf, bd, &cur, cd, o); err != nil {
			t.Fatal(err)
		}
		got, d, err := ApplyDelta(base, nil, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		sameContent(t, &cur, got)
		if d.State != cd.State {
			t.Fatal("state hash differs after ApplyDelta")
		}
		// Applying to the wrong base fails before anything else.
		if _, _, err := ApplyDelta(&cur, cd, bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrBase) {
			t.Fatalf("wrong base: %v", err)
		}
		if _, _, err := Decode(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrKind) {
			t.Fatalf("Decode of a delta: %v", err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTracker(t *testing.T) {
	mem := make([]byte, 16*PageSize)
	for i := range mem {
		mem[i] = byte(i / 1000)
	}
	var tr Tracker
	snap := func() *Snapshot {
		pages, err := PagesOf(mem)
		if err != nil {
			t.Fatal(err)
		}
		return &Snapshot{Fuel: 1, Pages: pages}
	}
	d1, err := tr.Hash(snap())
	if err != nil {
		t.Fatal(err)
	}
	mem[3*PageSize+5]++
	mem[9*PageSize] = 0
	s2 := snap()
	d2, err := tr.Hash(s2)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Hash(s2)
	if d2.State != full.State {
		t.Fatal("tracker digest differs from a full hash")
	}
	if got := ChangedPages(d1, d2); !equalInts(got, []int{3, 9}) {
		t.Fatalf("changed %v", got)
	}
	// Grow memory, and revert a page: the shadow must have followed.
	mem = append(mem, make([]byte, 2*PageSize)...)
	mem[3*PageSize+5]--
	mem[16*PageSize+1] = 1
	s3 := snap()
	d3, _ := tr.Hash(s3)
	full, _ = Hash(s3)
	if d3.State != full.State {
		t.Fatal("tracker digest differs from a full hash after growth")
	}
	if got := ChangedPages(d2, d3); !equalInts(got, []int{3, 16}) {
		t.Fatalf("changed %v", got)
	}
}

func TestCorruption(t *testing.T) {
	s := testSnapshot(4, 6)
	b := encodeFull(t, s, Options{Compress: true})
	// Every single-byte flip is an error (most by CRC; the header's by its
	// own checks or the CRC).
	rng := rand.New(rand.NewPCG(4, 4))
	for k := range 600 {
		i := k // the header and what follows it, then random positions
		if k >= 300 {
			i = rng.IntN(len(b))
		}
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, _, err := Decode(bytes.NewReader(c)); err == nil {
			t.Fatalf("flip at %d accepted", i)
		}
	}
	// Every truncation and an extension is an error.
	for n := 0; n < len(b); n += 1 + n/2 {
		if _, _, err := Decode(bytes.NewReader(b[:n])); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, _, err := Decode(bytes.NewReader(append(bytes.Clone(b), 0))); !errors.Is(err, ErrFormat) {
		t.Fatalf("extended: %v", err)
	}
	// Content that does not match the declared state hash, with a valid CRC.
	c := bytes.Clone(b)
	c[64] ^= 1
	fixCRC(c)
	if _, _, err := Decode(bytes.NewReader(c)); !errors.Is(err, ErrStateHash) {
		t.Fatalf("forged state hash: %v", err)
	}
}

func fixCRC(b []byte) {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32c(b[:len(b)-4]))
}

func TestLimits(t *testing.T) {
	s := testSnapshot(5, 8)
	b := encodeFull(t, s, Options{})
	small := Limits{MaxPages: 7, MaxGlobals: 16, MaxFrames: 1 << 20, MaxHost: 1 << 20}
	if _, _, err := small.Decode(bytes.NewReader(b)); !errors.Is(err, ErrLimit) {
		t.Fatalf("pages over the limit: %v", err)
	}
	small = Limits{MaxPages: 8, MaxGlobals: 16, MaxFrames: 10, MaxHost: 1 << 20}
	if _, _, err := small.Decode(bytes.NewReader(b)); !errors.Is(err, ErrLimit) {
		t.Fatalf("frames over the limit: %v", err)
	}
	// A header claiming huge blobs but carrying nothing allocates nothing big
	// and fails cleanly.
	h := Header{Pages: 1, Globals: 0}
	hb := h.append(nil)
	hb = append(hb, 0, 0xff, 0xff, 0xff, 0x03, 0xff, 0xff, 0xff, 0x03)
	if _, _, err := Decode(bytes.NewReader(hb)); !errors.Is(err, ErrFormat) {
		t.Fatalf("huge frames: %v", err)
	}
}

func TestInvalidSnapshot(t *testing.T) {
	for name, s := range map[string]*Snapshot{
		"short page": {Pages: [][]byte{make([]byte, 10)}},
		"i32 high":   {Globals: []Global{{Type: I32, Lo: 1 << 40}}},
		"i64 hi":     {Globals: []Global{{Type: I64, Hi: 1}}},
		"funcref":    {Globals: []Global{{Type: 0x70}}},
	} {
		if err := Encode(new(bytes.Buffer), s, nil, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := PagesOf(make([]byte, PageSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("PagesOf: %v", err)
	}
}

// CopyMemoryZeroed writes the snapshot's memory whatever the destination
// held below the offset known to be zero, and nothing (zero pages) above it.
func TestCopyMemoryZeroed(t *testing.T) {
	s := testSnapshot(3, 8)
	s.Pages[1], s.Pages[6] = nil, nil
	want := make([]byte, s.MemorySize())
	if err := s.CopyMemory(want); err != nil {
		t.Fatal(err)
	}
	const zeroed = 4 * PageSize
	for _, garbage := range []byte{0, 0xAA} {
		dst := make([]byte, s.MemorySize())
		for i := range dst[:zeroed] {
			dst[i] = garbage
		}
		if err := s.CopyMemoryZeroed(dst, zeroed); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst, want) {
			t.Fatalf("garbage %#x below %d: memory differs", garbage, zeroed)
		}
	}
	if err := s.CopyMemoryZeroed(make([]byte, s.MemorySize()-1), 0); err == nil {
		t.Fatal("a short destination was accepted")
	}
}

// DecodeBytes decodes what Decode does, sharing raw pages with the file.
func TestDecodeBytes(t *testing.T) {
	s := testSnapshot(4, 6)
	for _, o := range []Options{{}, {Compress: true}} {
		b := encodeFull(t, s, o)
		_, want, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, d, err := DefaultLimits.DecodeBytes(b)
		if err != nil || d.State != want.State {
			t.Fatalf("%+v: %v", o, err)
		}
		if h, _ := StateHash(got); h != want.State {
			t.Fatalf("%+v: the snapshot does not hash to its digest", o)
		}
		if _, _, err := DefaultLimits.DecodeBytes(b[:len(b)-1]); !errors.Is(err, ErrFormat) {
			t.Fatalf("%+v: truncated: %v", o, err)
		}
		if _, _, err := DefaultLimits.DecodeBytes(append(bytes.Clone(b), 0)); !errors.Is(err, ErrFormat) {
			t.Fatalf("%+v: trailing byte: %v", o, err)
		}
	}
}
