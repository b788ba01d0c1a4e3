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

func FuzzDecode(f *testing.F) {
	o := Options{Compress: true}
	f.Add(encodeFull(f, smallSnapshot(1), o), false)
	f.Add(encodeFull(f, smallSnapshot(2), o), true)
	f.Add(encodeFull(f, &Snapshot{}, Options{}), false)
	f.Add(encodeFull(f, &Snapshot{Pages: make([][]byte, 3), Host: []byte("x")}, Options{}), true)
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

func FuzzApplyDelta(f *testing.F) {
	base := smallSnapshot(7)
	bd, err := Hash(base)
	if err != nil {
		f.Fatal(err)
	}
	cur := *base
	cur.Pages = append(append([][]byte(nil), base.Pages[:4]...), nil, bytes.Repeat([]byte{3}, PageSize))
	cur.Pages[1] = nil
	cur.Fuel++
	var buf bytes.Buffer
	if err := EncodeDelta(&buf, bd, &cur, nil, Options{Compress: true}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes(), false)
	f.Add(buf.Bytes(), true)
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
