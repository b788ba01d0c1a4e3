package jsruntime_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// snapshotScript is the JS side of the snapshot tests: for each job of
// DIR/jobs.json it decodes a file (a delta against the previous job's
// snapshot), re-encodes the snapshot canonically (full, and a delta against
// the previous one) and compressed, and says what it found; for a hostile
// file, only whether it accepts it and the kind of its error.
const snapshotScript = `
import fs from 'node:fs';
import * as S from %q;
const dir = process.argv[process.argv.length - 1];
const jobs = JSON.parse(fs.readFileSync(dir + '/jobs.json'));
const out = [];
let prev = null;
for (const j of jobs) {
  const b = new Uint8Array(fs.readFileSync(dir + '/' + j.file));
  try {
    const r = j.delta ? await S.applyDelta(prev.snapshot, prev.digest, b) : await S.decode(b);
    const res = { ok: true, state: S.hex(r.digest.state), pages: r.digest.pages.map(S.hex) };
    if (!j.hostile) {
      fs.writeFileSync(dir + '/' + j.file + '.js-full', await S.encode(r.snapshot, r.digest));
      fs.writeFileSync(dir + '/' + j.file + '.js-full-z', await S.encode(r.snapshot, r.digest, { compress: true }));
      if (prev) {
        fs.writeFileSync(dir + '/' + j.file + '.js-delta', await S.encodeDelta(prev.digest, r.snapshot, r.digest));
        fs.writeFileSync(dir + '/' + j.file + '.js-delta-z', await S.encodeDelta(prev.digest, r.snapshot, null, { compress: true }));
      }
      const h = await S.hash(r.snapshot);
      res.rehash = S.hex(h.state);
      prev = r;
    }
    out.push(res);
  } catch (e) {
    if (!(e instanceof S.SnapshotError)) { out.push({ ok: false, kind: 'NOT A SnapshotError: ' + (e && e.stack) }); continue; }
    out.push({ ok: false, kind: e.kind, message: e.message });
  }
}
console.log(JSON.stringify(out));
`

type snapJob struct {
	File    string `json:"file"`
	Delta   bool   `json:"delta"`
	Hostile bool   `json:"hostile"`
}

type snapResult struct {
	OK      bool
	State   string
	Pages   []string
	Rehash  string
	Kind    string
	Message string
}

// randomSnapshot is a guest-like state: some zero pages, some sparse, some
// dense; every global type; frames and host blobs, compressible or not.
func randomSnapshot(r *rand.Rand, prev *snapshot.Snapshot) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Fuel: r.Uint64()}
	copy(s.ModuleHash[:], "module hash of the cross-engine snapshot test")
	n := r.IntN(6)
	if prev != nil {
		n = max(0, len(prev.Pages)+r.IntN(3)-1)
	}
	for i := range n {
		var p []byte
		switch {
		case prev != nil && i < len(prev.Pages) && r.IntN(3) > 0:
			p = prev.Pages[i] // unchanged
		case r.IntN(4) == 0:
			p = nil
		default:
			p = make([]byte, snapshot.PageSize)
			if r.IntN(2) == 0 {
				for k := 0; k < 50; k++ {
					p[r.IntN(len(p))] = byte(r.Uint32())
				}
			} else {
				for k := range p {
					p[k] = byte(r.Uint32() >> 29) // compressible, not trivially
				}
			}
		}
		s.Pages = append(s.Pages, p)
	}
	for range r.IntN(8) {
		switch r.IntN(5) {
		case 0:
			s.Globals = append(s.Globals, snapshot.Global{Type: snapshot.I32, Lo: uint64(r.Uint32())})
		case 1:
			s.Globals = append(s.Globals, snapshot.Global{Type: snapshot.I64, Lo: r.Uint64()})
		case 2:
			s.Globals = append(s.Globals, snapshot.Global{Type: snapshot.F32, Lo: uint64(r.Uint32())})
		case 3:
			s.Globals = append(s.Globals, snapshot.Global{Type: snapshot.F64, Lo: r.Uint64()})
		case 4:
			s.Globals = append(s.Globals, snapshot.Global{Type: snapshot.V128, Lo: r.Uint64(), Hi: r.Uint64()})
		}
	}
	if r.IntN(3) > 0 {
		s.Frames = bytes.Repeat([]byte{1, byte(r.Uint32())}, r.IntN(3000))
	}
	if r.IntN(3) > 0 {
		s.Host = make([]byte, r.IntN(200))
		for i := range s.Host {
			s.Host[i] = byte(r.Uint32())
		}
	}
	return s
}

func encodeSnap(t *testing.T, base *snapshot.Digest, s *snapshot.Snapshot, o snapshot.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if base == nil {
		err = snapshot.Encode(&buf, s, nil, o)
	} else {
		err = snapshot.EncodeDelta(&buf, base, s, nil, o)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// JS decodes Go's snapshot files (full and delta, raw and compressed) to
// the same state hashes and page hashes, encodes them canonically to Go's
// bytes exactly, and Go decodes JS's compressed files to the same state.
func TestSnapshotsGoAndJS(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var jobs []snapJob
	var snaps []*snapshot.Snapshot
	var digests []*snapshot.Digest
	var prev *snapshot.Snapshot
	var prevD *snapshot.Digest
	for i := range 24 {
		s := randomSnapshot(r, prev)
		d, err := snapshot.Hash(s)
		if err != nil {
			t.Fatal(err)
		}
		// Alternate full and delta files, raw and compressed.
		delta := prev != nil && i%2 == 1
		var base *snapshot.Digest
		if delta {
			base = prevD
		}
		file := fmt.Sprintf("%02d.snap", i)
		if err := os.WriteFile(filepath.Join(dir, file), encodeSnap(t, base, s, snapshot.Options{Compress: i%4 >= 2}), 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, snapJob{File: file, Delta: delta})
		snaps, digests = append(snaps, s), append(digests, d)
		prev, prevD = s, d
	}
	res := runSnapshotScript(t, dir, jobs)
	for i, j := range jobs {
		got, s, d := res[i], snaps[i], digests[i]
		if !got.OK {
			t.Fatalf("%s: JS refused Go's file: %s %s", j.File, got.Kind, got.Message)
		}
		if want := hex.EncodeToString(d.State[:]); got.State != want || got.Rehash != want {
			t.Fatalf("%s: JS state hash %s (rehash %s), Go %s", j.File, got.State, got.Rehash, want)
		}
		for p := range d.Pages {
			if got.Pages[p] != hex.EncodeToString(d.Pages[p][:]) {
				t.Fatalf("%s: page %d hash differs", j.File, p)
			}
		}
		read := func(suffix string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, j.File+suffix))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if want := encodeSnap(t, nil, s, snapshot.Options{}); !bytes.Equal(read(".js-full"), want) {
			t.Fatalf("%s: JS's canonical full encoding differs from Go's (%d and %d bytes)", j.File, len(read(".js-full")), len(want))
		}
		_, bd, err := snapshot.Decode(bytes.NewReader(read(".js-full-z")))
		if err != nil || bd.State != d.State {
			t.Fatalf("%s: Go cannot decode JS's compressed file: %v", j.File, err)
		}
		if i > 0 {
			if want := encodeSnap(t, digests[i-1], s, snapshot.Options{}); !bytes.Equal(read(".js-delta"), want) {
				t.Fatalf("%s: JS's canonical delta differs from Go's", j.File)
			}
			_, dd, err := snapshot.ApplyDelta(snaps[i-1], digests[i-1], bytes.NewReader(read(".js-delta-z")))
			if err != nil || dd.State != d.State {
				t.Fatalf("%s: Go cannot apply JS's compressed delta: %v", j.File, err)
			}
		}
	}
	t.Logf("%d snapshots: JS and Go agree byte for byte", len(jobs))
}

// Damaged and forged files: JS and Go accept and refuse the same ones, with
// the same kind of error, and JS throws nothing but SnapshotError.
func TestSnapshotHostileGoAndJS(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	base := randomSnapshot(r, nil)
	for len(base.Pages) < 3 {
		base = randomSnapshot(r, nil)
	}
	baseD, _ := snapshot.Hash(base)
	next := randomSnapshot(r, base)
	valid := [][]byte{
		encodeSnap(t, nil, base, snapshot.Options{}),
		encodeSnap(t, nil, base, snapshot.Options{Compress: true}),
		encodeSnap(t, baseD, next, snapshot.Options{Compress: true}),
	}
	if err := os.WriteFile(filepath.Join(dir, "base.snap"), valid[0], 0o644); err != nil {
		t.Fatal(err)
	}
	type hostile struct {
		b     []byte
		delta bool
	}
	var cases []hostile
	fixCRC := func(b []byte) {
		if len(b) >= 132 {
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
		}
	}
	for k := range 400 {
		src := k % len(valid)
		b := bytes.Clone(valid[src])
		switch k % 4 {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			for range 1 + r.IntN(3) {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
		case 2:
			off := 128 + r.IntN(min(300, len(b)-132))
			binary.LittleEndian.PutUint32(b[off:], r.Uint32N(1<<17))
		case 3:
			b[8+r.IntN(120)] ^= byte(1 << r.IntN(8)) // the header
		}
		if k%3 != 0 {
			fixCRC(b)
		}
		cases = append(cases, hostile{b, src == 2})
	}
	jobs := []snapJob{{File: "base.snap"}}
	for i, c := range cases {
		f := fmt.Sprintf("h%03d.snap", i)
		if err := os.WriteFile(filepath.Join(dir, f), c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, snapJob{File: f, Delta: c.delta, Hostile: true})
	}
	res := runSnapshotScript(t, dir, jobs)
	if !res[0].OK {
		t.Fatalf("JS refused the base: %s", res[0].Message)
	}
	kinds := map[error]string{
		snapshot.ErrFormat: "format", snapshot.ErrVersion: "version", snapshot.ErrLimit: "limit", snapshot.ErrChecksum: "checksum",
		snapshot.ErrStateHash: "state_hash", snapshot.ErrBase: "base", snapshot.ErrKind: "kind",
	}
	refused, sameKind := 0, 0
	for i, c := range cases {
		got := res[i+1]
		var err error
		var d *snapshot.Digest
		if c.delta {
			_, d, err = snapshot.ApplyDelta(base, baseD, bytes.NewReader(c.b))
		} else {
			_, d, err = snapshot.Decode(bytes.NewReader(c.b))
		}
		if strings.HasPrefix(got.Kind, "NOT") {
			t.Fatalf("case %d: %s", i, got.Kind)
		}
		if (err == nil) != got.OK {
			t.Fatalf("case %d: Go error %v, JS ok=%v %s", i, err, got.OK, got.Message)
		}
		if err == nil {
			if got.State != hex.EncodeToString(d.State[:]) {
				t.Fatalf("case %d: both accept, states differ", i)
			}
			continue
		}
		refused++
		want := "other"
		for sentinel, k := range kinds {
			if errors.Is(err, sentinel) {
				want = k
			}
		}
		// A file with several faults may be reported by the first either
		// decoder meets; a checksum error is only reported once the
		// structure parsed, in both.
		if want == got.Kind {
			sameKind++
		} else if want == "checksum" || got.Kind == "checksum" {
			t.Errorf("case %d: Go %v, JS %s: %s", i, err, got.Kind, got.Message)
		}
	}
	t.Logf("%d hostile files, %d refused by both (%d with the same kind of error)", len(cases), refused, sameKind)
	if sameKind < refused*9/10 {
		t.Errorf("only %d of %d refusals of the same kind", sameKind, refused)
	}
}

func runSnapshotScript(t *testing.T, dir string, jobs []snapJob) []snapResult {
	t.Helper()
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(filepath.Join(dir, "jobs.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(jsDir, "snapshot.js"))}
	out := nodeRaw(t, nil, "--input-type=module", "-e", strings.Replace(snapshotScript, "%q", `"`+u.String()+`"`, 1), dir)
	if out.code != 0 {
		t.Fatalf("node: exit %d: %s", out.code, out.stderr)
	}
	var res []snapResult
	if err := json.Unmarshal(out.stdout, &res); err != nil {
		t.Fatalf("%v: %s", err, clip(out.stdout))
	}
	if len(res) != len(jobs) {
		t.Fatalf("JS answered %d jobs of %d", len(res), len(jobs))
	}
	return res
}
