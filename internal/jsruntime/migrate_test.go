package jsruntime_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Cross-engine migration (issue "Continuations", docs/continuations.md):
// a suspendable module checkpointed in wazero (internal/sandbox) and in
// Node's V8 (js/runtime.js through `node js/node/run.mjs`) gives the same
// state hash, fuel and output at every checkpoint; a checkpoint taken in
// wazero resumes in Node and one taken in Node resumes in wazero, each to
// the output and fuel of an uninterrupted run.

type migCase struct {
	name   string
	module string // under examples/
	args   []string
	stdin  []byte
	files  map[string]string
	parts  uint64 // checkpoints wanted, about
	race   bool   // also under the race detector (wazero compiles suspendable modules slowly with it)
	interp bool   // on wazero's interpreter: the Go guest takes its compiler 40 s
}

var migCases = []migCase{
	{name: "factor", module: "factor.wasm", stdin: []byte("12 97\n600851475143\n1\n0\n9223372036854775808 1000000007\n"), parts: 12, race: true},
	{name: "echo", module: "echo.wasm", args: []string{"one", "two"}, stdin: []byte("stdin text\n"), parts: 10, race: true},
	{name: "wasitest/cat", module: "wasitest.wasm", args: []string{"cat", "7"}, stdin: bytes.Repeat([]byte("hello world, this is crowdrun\n"), 40), parts: 12, race: true},
	{name: "wasitest/file", module: "wasitest.wasm", args: []string{"file", "d/b.txt"}, files: map[string]string{"a.txt": "alpha\n", "d/b.txt": strings.Repeat("bravo in d\n", 300)}, parts: 8, race: true},
	// Checkpoints deep in a recursion near the default depth limit: V8
	// rewinds them with one more engine frame per frame (the rewind twins).
	{name: "recurse/deep", module: "recurse.wasm", args: []string{"990"}, parts: 8, race: true},
	{name: "kernels/fib", module: "kernels/fib.wasm", args: []string{"20"}, parts: 12},
	{name: "kernels/sort", module: "kernels/sort.wasm", args: []string{"5000"}, parts: 8},
	{name: "kernels/strings", module: "kernels/strings.wasm", args: []string{"2000"}, parts: 8},
	{name: "kernels/matmul", module: "kernels/matmul.wasm", args: []string{"40"}, parts: 8},
	{name: "kernels/stencil", module: "kernels/stencil.wasm", args: []string{"48"}, parts: 8},
	{name: "kernels/nbody", module: "kernels/nbody.wasm", args: []string{"2000"}, parts: 8},
	{name: "kernels/floats", module: "kernels/floats.wasm", args: []string{"2000"}, parts: 8},
	{name: "kernels/simd", module: "kernels/simd.wasm", args: []string{"2000"}, parts: 8},
	{name: "kernels/hash", module: "kernels/hash.wasm", args: []string{"1"}, parts: 6},
}

// goCheckpoints is a run in wazero with its checkpoints.
type goCheckpoints struct {
	stdout, stderr []byte
	rep            sandbox.Report
	seqs           []uint64
	hash           map[uint64]string
	fuel           map[uint64]uint64
	outAt, errAt   map[uint64]int
	file           map[uint64][]byte // full snapshots, compressed
}

func (c migCase) input() sandbox.Input {
	in := sandbox.Input{Args: append([]string{worker.Argv0}, c.args...), Stdin: bytes.NewReader(c.stdin)}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range c.files {
			if !yield(k) {
				return
			}
		}
	}) {
		in.Files = append(in.Files, wasi.File{Name: name, Data: []byte(c.files[name])})
	}
	return in
}

func runGoCheckpoints(t *testing.T, eng *sandbox.Engine, m *sandbox.Module, in sandbox.Input, every uint64) *goCheckpoints {
	t.Helper()
	g := &goCheckpoints{hash: map[uint64]string{}, fuel: map[uint64]uint64{}, outAt: map[uint64]int{}, errAt: map[uint64]int{}, file: map[uint64][]byte{}}
	var out, errb bytes.Buffer
	in.Stdout, in.Stderr = &out, &errb
	in.OnCheckpoint = func(cp *sandbox.Checkpoint) error {
		var buf bytes.Buffer
		if err := snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{Compress: true}); err != nil {
			return err
		}
		g.seqs = append(g.seqs, cp.Seq)
		g.hash[cp.Seq] = hex.EncodeToString(cp.Digest.State[:])
		g.fuel[cp.Seq] = cp.Snapshot.Fuel
		g.outAt[cp.Seq], g.errAt[cp.Seq] = out.Len(), errb.Len()
		g.file[cp.Seq] = buf.Bytes()
		return nil
	}
	g.rep = eng.Run(context.Background(), m, in, sandbox.Limits{CheckpointEvery: every})
	g.stdout, g.stderr = out.Bytes(), errb.Bytes()
	return g
}

// sidecar is the JSON next to each snapshot of a checkpoint directory.
type sidecar struct {
	Seq         uint64 `json:"seq"`
	Fuel        uint64 `json:"fuel"`
	StateHash   string `json:"state_hash"`
	StdoutBytes int64  `json:"stdout_bytes"`
	StderrBytes int64  `json:"stderr_bytes"`
	CaptureMS   int64  `json:"capture_ms"`
	Bytes       int64  `json:"bytes"`
}

func readSidecars(t *testing.T, dir string) map[uint64]sidecar {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9][0-9][0-9][0-9][0-9].json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]sidecar{}
	for _, n := range names {
		var s sidecar
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if want := fmt.Sprintf("%06d.json", s.Seq); filepath.Base(n) != want {
			t.Fatalf("%s holds checkpoint %d", n, s.Seq)
		}
		if _, err := os.Stat(strings.TrimSuffix(n, ".json") + ".snap"); err != nil {
			t.Fatal(err)
		}
		out[s.Seq] = s
	}
	return out
}

var (
	migCompile sync.Mutex // one suspendable compile at a time: they are memory-hungry
	migOnce    sync.Once
	migEngine  *sandbox.Engine
)

// wazeroFor is the engine the migration tests run wazero's side on: the
// compiler, but under the race detector the interpreter, since compiling a
// suspendable module takes wazero's compiler 10-25 s there.
func wazeroFor(t *testing.T, interp bool) *sandbox.Engine {
	if !raceEnabled && !interp {
		return engine
	}
	migOnce.Do(func() {
		e, err := sandbox.NewInterpreterEngine(context.Background())
		if err != nil {
			panic(err)
		}
		migEngine = e
	})
	return migEngine
}

func TestMigrationWazeroNode(t *testing.T) {
	needNode(t)
	for _, c := range migCases {
		if raceEnabled && !c.race {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testMigration(t, c)
		})
	}
}

// The Go guest (GOOS=wasip1: its runtime, goroutines and garbage
// collector) migrates too. Too slow under the race detector: scripts/test.sh
// runs it without.
func TestMigrationGoGuest(t *testing.T) {
	needNode(t)
	if raceEnabled {
		t.Skip("the suspendable Go guest is too slow under the race detector")
	}
	testMigration(t, migCase{name: "gokernel", module: "kernels/gokernel.wasm", args: []string{"300"}, parts: 20, interp: true})
}

func testMigration(t *testing.T, c migCase) {
	ctx := context.Background()
	bin, err := os.ReadFile(filepath.Join(repo, "examples", filepath.FromSlash(c.module)))
	if err != nil {
		t.Skipf("examples/%s: %v", c.module, err)
	}
	opts := instrument.DefaultOptions()
	opts.MemoryCapPages = uint32(sandbox.DefaultMemory / (64 << 10))
	migCompile.Lock()
	eng := wazeroFor(t, c.interp)
	m, err := eng.CompileSuspendable(ctx, bin, opts)
	migCompile.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Suspendable() {
		t.Fatal("not suspendable")
	}
	want := runGoCheckpoints(t, eng, m, c.input(), 0)
	if want.rep.Status != sandbox.StatusOK && want.rep.Status != sandbox.StatusExit {
		t.Fatalf("uninterrupted run: %+v %s", want.rep, want.stderr)
	}
	every := want.rep.Fuel/c.parts + 1
	g := runGoCheckpoints(t, eng, m, c.input(), every)
	if !bytes.Equal(g.stdout, want.stdout) || g.rep.Fuel != want.rep.Fuel || g.rep.Status != want.rep.Status || len(g.seqs) < int(c.parts)-1 {
		t.Fatalf("wazero with checkpoints every %d: %+v, %d checkpoints; uninterrupted %+v", every, g.rep, len(g.seqs), want.rep)
	}

	// Node, with checkpoints, through the Node command, which instruments
	// the original module itself.
	dir := t.TempDir()
	mod := filepath.Join(dir, filepath.Base(c.module))
	if err := os.WriteFile(mod, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	var fileFlags []string
	for _, f := range c.input().Files {
		p := filepath.Join(dir, "in-"+strings.ReplaceAll(f.Name, "/", "_"))
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		fileFlags = append(fileFlags, "--file", f.Name+"="+p)
	}
	jdir := filepath.Join(dir, "node-ckpt")
	args := append([]string{filepath.Join(jsDir, "node", "run.mjs"), "--report", filepath.Join(dir, "node.json"),
		"--checkpoint-every", strconv.FormatUint(every, 10), "--checkpoint-dir", jdir}, fileFlags...)
	j := node(t, c.stdin, filepath.Join(dir, "node.json"), append(append(args, mod), c.args...)...)
	if !bytes.Equal(j.stdout, want.stdout) || !bytes.Equal(j.stderr, want.stderr) {
		t.Fatalf("Node's output differs:\nstdout %q\nwant   %q\nstderr %q\nwant   %q", clip(j.stdout), clip(want.stdout), clip(j.stderr), clip(want.stderr))
	}
	if j.rep.Status != g.rep.Status || j.rep.Fuel != g.rep.Fuel || j.rep.Checkpoints != g.rep.Checkpoints {
		t.Fatalf("Node's report %+v, wazero's %+v", j.rep, g.rep)
	}
	// Its directory holds the original module and the instrumented one's hash.
	if b, err := os.ReadFile(filepath.Join(jdir, "module.wasm")); err != nil || !bytes.Equal(b, bin) {
		t.Fatalf("Node's module.wasm is not the original module (%v)", err)
	}
	var cfg struct {
		Version int    `json:"version"`
		Module  string `json:"module_sha256"`
	}
	if b, err := os.ReadFile(filepath.Join(jdir, "run.json")); err != nil || json.Unmarshal(b, &cfg) != nil || cfg.Version != 2 || cfg.Module != hex.EncodeToString(m.Hash[:]) {
		t.Fatalf("Node's run.json: %+v (%v), want version 2 and module %x", cfg, err, m.Hash)
	}
	side := readSidecars(t, jdir)
	if len(side) != len(g.seqs) {
		t.Fatalf("Node wrote %d checkpoints, wazero took %d", len(side), len(g.seqs))
	}
	for _, seq := range g.seqs {
		s, ok := side[seq]
		if !ok {
			t.Fatalf("Node has no checkpoint %d", seq)
		}
		if s.StateHash != g.hash[seq] || s.Fuel != g.fuel[seq] || s.StdoutBytes != int64(g.outAt[seq]) || s.StderrBytes != int64(g.errAt[seq]) {
			t.Fatalf("checkpoint %d: Node %+v; wazero hash %s fuel %d output %d+%d", seq, s, g.hash[seq], g.fuel[seq], g.outAt[seq], g.errAt[seq])
		}
	}

	picks := []uint64{g.seqs[0], g.seqs[len(g.seqs)/2], g.seqs[len(g.seqs)-1]}
	// wazero -> Node: a checkpoint directory holding wazero's snapshots
	// (Node's directory has the same run.json, module, inputs and logs).
	gdir := filepath.Join(dir, "wazero-ckpt")
	if err := os.MkdirAll(filepath.Join(gdir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run.json", "module.wasm", "stdin", "stdout", "stderr"} {
		b, err := os.ReadFile(filepath.Join(jdir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(gdir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range c.input().Files {
		if err := os.WriteFile(filepath.Join(gdir, "files", strconv.Itoa(i)), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range picks[:2] {
		base := filepath.Join(gdir, fmt.Sprintf("%06d", seq))
		if err := os.WriteFile(base+".snap", g.file[seq], 0o644); err != nil {
			t.Fatal(err)
		}
		sc, _ := json.Marshal(sidecar{Seq: seq, Fuel: g.fuel[seq], StateHash: g.hash[seq], StdoutBytes: int64(g.outAt[seq]), StderrBytes: int64(g.errAt[seq])})
		if err := os.WriteFile(base+".json", sc, 0o644); err != nil {
			t.Fatal(err)
		}
		rdir := filepath.Join(dir, fmt.Sprintf("node-resumed-%d", seq))
		rep := filepath.Join(dir, fmt.Sprintf("resume-%d.json", seq))
		r := node(t, nil, rep, filepath.Join(jsDir, "node", "run.mjs"), "resume", "--report", rep, "--checkpoint-dir", rdir, base+".snap")
		if !bytes.Equal(r.stdout, want.stdout) || !bytes.Equal(r.stderr, want.stderr) || r.rep.Fuel != want.rep.Fuel || r.rep.Status != want.rep.Status {
			t.Fatalf("wazero checkpoint %d resumed in Node: %+v\nstdout %q\nwant   %q\nstderr %q", seq, r.rep, clip(r.stdout), clip(want.stdout), clip(r.stderr))
		}
		// The checkpoints Node takes after resuming are wazero's too.
		later := readSidecars(t, rdir)
		for _, s := range later {
			if s.StateHash != g.hash[s.Seq] {
				t.Fatalf("wazero checkpoint %d resumed in Node: its checkpoint %d hash %s, wazero's %s", seq, s.Seq, s.StateHash, g.hash[s.Seq])
			}
		}
		if wantLater := len(g.seqs) - 1 - slices.Index(g.seqs, seq); len(later) != wantLater {
			t.Fatalf("wazero checkpoint %d resumed in Node: %d later checkpoints, want %d", seq, len(later), wantLater)
		}
	}

	// Node -> wazero: Node's snapshot files, decoded and resumed by Go.
	for _, seq := range picks[1:] {
		b, err := os.ReadFile(filepath.Join(jdir, fmt.Sprintf("%06d.snap", seq)))
		if err != nil {
			t.Fatal(err)
		}
		s, d, err := snapshot.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("Node's checkpoint %d: %v", seq, err)
		}
		if hex.EncodeToString(d.State[:]) != g.hash[seq] {
			t.Fatalf("Node's checkpoint %d decodes to another state", seq)
		}
		in := c.input()
		in.Resume = s
		r := runGoCheckpoints(t, eng, m, in, every)
		out := append(bytes.Clone(want.stdout[:g.outAt[seq]]), r.stdout...)
		errOut := append(bytes.Clone(want.stderr[:g.errAt[seq]]), r.stderr...)
		if !bytes.Equal(out, want.stdout) || !bytes.Equal(errOut, want.stderr) || r.rep.Fuel != want.rep.Fuel || r.rep.Status != want.rep.Status {
			t.Fatalf("Node checkpoint %d resumed in wazero: %+v\nstdout %q\nwant   %q", seq, r.rep, clip(out), clip(want.stdout))
		}
		for _, later := range r.seqs {
			if r.hash[later] != g.hash[later] {
				t.Fatalf("Node checkpoint %d resumed in wazero: checkpoint %d hash differs", seq, later)
			}
		}
	}
	t.Logf("fuel %d, every %d: %d checkpoints, hashes equal in wazero and V8; resumed across engines at %v", want.rep.Fuel, every, len(g.seqs), picks)
}
