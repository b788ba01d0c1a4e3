package snapshot

import (
	"bytes"
	"testing"
)

// fuzzLimits keep each fuzz input's decoded size small.
var fuzzLimits = Limits{MaxPages: 16, MaxGlobals: 64, MaxFrames: 1 << 16, MaxHost: 1 << 16}

// smallSnapshot compresses to a few hundred bytes: large fuzz inputs make the
// fuzzer's minimisation crawl.
func smallSnapshot(seed uint64) *Snapshot {
	s := testSnapshot(seed, 5)
	s.Pages[1] = nil // the random page
	s.Frames = s.Frames[:40]
	return s
}

// prepare optionally recomputes the CRC trailer so that the fuzzer can get
// past it and exercise the parser behind it.
func prepare(data []byte, fix bool) []byte {
	if fix && len(data) >= 4 {
		data = bytes.Clone(data)
		fixCRC(data)
	}
	return data
}

// fuzzSeed is one input of FuzzDecode or FuzzApplyDelta.
type fuzzSeed struct {
	data []byte
	fix  bool
}

// decodeSeeds are FuzzDecode's seeds, which the JavaScript differential
// (TestJSDifferential) runs too.
func decodeSeeds(t testing.TB) []fuzzSeed {
	o := Options{Compress: true}
	return []fuzzSeed{
		{encodeFull(t, smallSnapshot(1), o), false},
		{encodeFull(t, smallSnapshot(2), o), true},
		{encodeFull(t, &Snapshot{}, Options{}), false},
		{encodeFull(t, &Snapshot{Pages: make([][]byte, 3), Host: []byte("x")}, Options{}), true},
	}
}

// deltaBase is the base of FuzzApplyDelta's deltas, and deltaSeeds its
// seeds.
func deltaBase() *Snapshot { return smallSnapshot(7) }

func deltaSeeds(t testing.TB) []fuzzSeed {
	base := deltaBase()
	bd, err := Hash(base)
	if err != nil {
		t.Fatal(err)
	}
	cur := *base
	cur.Pages = append(append([][]byte(nil), base.Pages[:4]...), nil, bytes.Repeat([]byte{3}, PageSize))
	cur.Pages[1] = nil
	cur.Fuel++
	var buf bytes.Buffer
	if err := EncodeDelta(&buf, bd, &cur, nil, Options{Compress: true}); err != nil {
		t.Fatal(err)
	}
	return []fuzzSeed{{buf.Bytes(), false}, {buf.Bytes(), true}}
}

// FuzzDecode checks that whatever Decode accepts re-encodes canonically and
// decodes to the same state. fix recomputes the CRC trailer, to get past it.
// Crashers are kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s.data, s.fix)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		s, d, err := fuzzLimits.Decode(bytes.NewReader(prepare(data, fix)))
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (canonically) and decodes to the same state.
		var buf bytes.Buffer
		if err := Encode(&buf, s, d, Options{}); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		s2, d2, err := fuzzLimits.Decode(&buf)
		if err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if d2.State != d.State || len(s2.Pages) != len(s.Pages) {
			t.Fatal("re-encoding changed the state")
		}
	})
}

// FuzzApplyDelta checks that whatever ApplyDelta accepts hashes to the
// digest it returns and leaves its base untouched. Crashers are kept in
// testdata/fuzz/FuzzApplyDelta.
func FuzzApplyDelta(f *testing.F) {
	base := deltaBase()
	bd, err := Hash(base)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range deltaSeeds(f) {
		f.Add(s.data, s.fix)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		s, d, err := fuzzLimits.ApplyDelta(base, bd, bytes.NewReader(prepare(data, fix)))
		if err != nil {
			return
		}
		if h, err := StateHash(s); err != nil || h != d.State {
			t.Fatalf("result does not hash to its digest: %v", err)
		}
		// The base is never written to.
		if h, _ := StateHash(base); h != bd.State {
			t.Fatal("ApplyDelta modified its base")
		}
	})
}
