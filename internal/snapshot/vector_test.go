package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// vectorSnapshot is the test vector of docs/snapshot.md, for other
// implementations to reproduce byte for byte.
func vectorSnapshot() *Snapshot {
	p1 := make([]byte, PageSize)
	for i := range p1 {
		p1[i] = byte(i % 251)
	}
	return &Snapshot{
		ModuleHash: sha256.Sum256([]byte("module")),
		Fuel:       12345,
		Pages:      [][]byte{nil, p1, nil},
		Globals: []Global{
			{Type: I32, Lo: 7},
			{Type: I64, Lo: 0xFFFFFFFFFFFFFFFF},
			{Type: F32, Lo: 0x7FC00000},
			{Type: F64, Lo: 0x3FF0000000000000},
			{Type: V128, Lo: 1, Hi: 2},
		},
		Frames: []byte("frames"),
		Host:   []byte("host"),
	}
}

func TestVector(t *testing.T) {
	s := vectorSnapshot()
	d, err := Hash(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, s, d, Options{}); err != nil {
		t.Fatal(err)
	}
	file := sha256.Sum256(buf.Bytes())
	// A delta: page 1 unchanged, page 2 now non-zero, page 3 grown, fuel on.
	cur := *s
	p2 := bytes.Repeat([]byte{0xAB}, PageSize)
	cur.Pages = [][]byte{nil, s.Pages[1], p2, nil}
	cur.Fuel = 20000
	var dbuf bytes.Buffer
	if err := EncodeDelta(&dbuf, d, &cur, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	cd, _ := Hash(&cur)
	delta := sha256.Sum256(dbuf.Bytes())
	for _, c := range []struct{ name, got, want string }{
		{"page 1 hash", hex.EncodeToString(d.Pages[1][:]), "4b640d85ab3ba30fd02c9fc9db4a8928f416322ad27022ea58a65aaee68a4df2"},
		{"zero page hash", hex.EncodeToString(ZeroPageHash[:]), "de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31"},
		{"state hash", hex.EncodeToString(d.State[:]), "b78b6900088903bc4fcdc48de00e4f3b364f8d5fbbfa9c1845e5e0af6f4dae63"},
		{"file length", itoa(buf.Len()), "65750"},
		{"file SHA-256", hex.EncodeToString(file[:]), "bfb9153e520caec96eadb1cfc2265042e4685456a2a57c68ece29e5ae656660f"},
		{"delta state hash", hex.EncodeToString(cd.State[:]), "a0b9f170c42b2190edac728e8be40cbd64cd6a33f468b37c4dd87b7f60ee7d9d"},
		{"delta length", itoa(dbuf.Len()), "65750"},
		{"delta SHA-256", hex.EncodeToString(delta[:]), "87aef9307366342ca5f71cb0f43e22bb438837543f70de8b6df389a476567bd8"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
