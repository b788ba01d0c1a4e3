package jsruntime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/suspend"
	wasmbin "github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// resumeScript resumes each snapshot file of a directory in the JS host and
// prints the verdicts.
const resumeScript = `
import fs from 'node:fs';
import { run } from %q;
import { decode } from %q;
const [dir, n, budget] = process.argv.slice(-3);
const bytes = new Uint8Array(fs.readFileSync(dir + '/module.wasm'));
const stdin = new Uint8Array(fs.readFileSync(dir + '/stdin'));
const out = [];
for (let i = 0; i < Number(n); i++) {
  const { snapshot } = await decode(new Uint8Array(fs.readFileSync(dir + '/' + i + '.snap')));
  const rep = await run(bytes, { args: ['factor.wasm'], stdin, resume: snapshot }, { memoryBytes: 16 << 20 });
  out.push({ status: rep.status, message: rep.message, fuel: String(rep.fuel) });
}
// The unchanged snapshot again, with a fuel budget it exceeds before the end.
const { snapshot } = await decode(new Uint8Array(fs.readFileSync(dir + '/0.snap')));
const rep = await run(bytes, { args: ['factor.wasm'], stdin, resume: snapshot }, { memoryBytes: 16 << 20, fuel: BigInt(budget) });
out.push({ status: rep.status, message: rep.message, fuel: String(rep.fuel) });
console.log(JSON.stringify(out));
`

// A snapshot that is well formed but does not fit the module — forged or
// mistaken — is refused alike by both hosts when resumed (invalid_snapshot,
// memory_limit for memory above the limit, a trap for a site the rewind's
// dispatch does not know), never a crash; the JS host
// checks everything the Go one does.
func TestResumeMisfitSnapshotsGoAndJS(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	bin, err := os.ReadFile(filepath.Join(repo, "examples", "factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	opts := instrument.DefaultOptions()
	opts.MemoryCapPages = 256 // 16 MiB, the limit both hosts run with
	eng := wazeroFor(t, false)
	migCompile.Lock()
	m, err := eng.CompileSuspendable(ctx, bin, opts)
	migCompile.Unlock()
	if err != nil || !m.Suspendable() {
		t.Fatalf("%v", err)
	}
	stdin := []byte("600851475143 1000000007\n")
	var good *snapshot.Snapshot
	budget := uint64(0)
	run := func(s *snapshot.Snapshot, every uint64) sandbox.Report {
		in := sandbox.Input{Args: []string{"factor.wasm"}, Stdin: bytes.NewReader(stdin), Resume: s}
		in.OnCheckpoint = func(cp *sandbox.Checkpoint) error {
			if good == nil && cp.Seq == 3 {
				var buf bytes.Buffer
				if err := snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{}); err != nil {
					return err
				}
				good, _, err = snapshot.Decode(&buf)
				return err
			}
			return nil
		}
		return eng.Run(ctx, m, in, sandbox.Limits{MemoryBytes: 16 << 20, CheckpointEvery: every, Fuel: budget})
	}
	whole := run(nil, 0)
	run(nil, whole.Fuel/6+1)
	if good == nil {
		t.Fatal("no checkpoint 3")
	}
	clone := func() *snapshot.Snapshot {
		s := *good
		s.Pages = append([][]byte(nil), good.Pages...)
		s.Globals = append([]snapshot.Global(nil), good.Globals...)
		s.Frames = bytes.Clone(good.Frames)
		s.Host = bytes.Clone(good.Host)
		return &s
	}
	frames, err := suspend.UnmarshalFrames(good.Frames)
	if err != nil {
		t.Fatal(err)
	}
	// The suspend state and fuel counter, by their exports.
	decoded, err := wasmbin.Decode(m.Instrumented)
	if err != nil {
		t.Fatal(err)
	}
	stateIdx := int(decoded.ExportByName(suspend.StateExport).Index)
	fuelIdx := int(decoded.ExportByName(instrument.FuelExport).Index)
	cases := []struct {
		name string
		edit func(s *snapshot.Snapshot)
	}{
		{"unchanged", func(s *snapshot.Snapshot) {}},
		{"another module", func(s *snapshot.Snapshot) { s.ModuleHash[0] ^= 1 }},
		{"no frames", func(s *snapshot.Snapshot) { s.Frames = suspend.MarshalFrames(nil) }},
		{"frames garbage", func(s *snapshot.Snapshot) { s.Frames = []byte{1, 2, 3} }},
		{"a frame too few", func(s *snapshot.Snapshot) { s.Frames = suspend.MarshalFrames(frames[:len(frames)-1]) }},
		{"a frame too many", func(s *snapshot.Snapshot) {
			s.Frames = suspend.MarshalFrames(append(append([]suspend.Frame(nil), frames...), frames[len(frames)-1]))
		}},
		{"wrong function", func(s *snapshot.Snapshot) {
			f := append([]suspend.Frame(nil), frames...)
			f[0].Func++
			s.Frames = suspend.MarshalFrames(f)
		}},
		{"site out of range", func(s *snapshot.Snapshot) {
			f := append([]suspend.Frame(nil), frames...)
			f[len(f)-1].Site = 1 << 20
			s.Frames = suspend.MarshalFrames(f)
		}},
		{"a value too many", func(s *snapshot.Snapshot) {
			f := append([]suspend.Frame(nil), frames...)
			f[0].Values = append(append([]suspend.Value(nil), f[0].Values...), suspend.Value{Type: 0x7f, Bits: 1})
			s.Frames = suspend.MarshalFrames(f)
		}},
		{"a value of the wrong type", func(s *snapshot.Snapshot) {
			f := append([]suspend.Frame(nil), frames...)
			for i := range f {
				if len(f[i].Values) > 0 {
					v := append([]suspend.Value(nil), f[i].Values...)
					if v[0].Type == 0x7f {
						v[0].Type = 0x7e
					} else {
						v[0].Type = 0x7f
						v[0].Bits &= 0xFFFFFFFF
					}
					f[i].Values = v
					break
				}
			}
			s.Frames = suspend.MarshalFrames(f)
		}},
		{"a global too few", func(s *snapshot.Snapshot) { s.Globals = s.Globals[:len(s.Globals)-1] }},
		{"a global of the wrong type", func(s *snapshot.Snapshot) {
			g := &s.Globals[0]
			if g.Type == snapshot.I32 {
				g.Type = snapshot.F32
			} else {
				g.Type, g.Lo = snapshot.I32, 0
			}
		}},
		{"suspend state 0", func(s *snapshot.Snapshot) { s.Globals[stateIdx].Lo = 0 }},
		{"fuel counter not 0", func(s *snapshot.Snapshot) { s.Globals[fuelIdx].Lo = 5 }},
		{"memory below the minimum", func(s *snapshot.Snapshot) { s.Pages = s.Pages[:1] }},
		{"memory above the limit", func(s *snapshot.Snapshot) { s.Pages = append(s.Pages, make([][]byte, 300)...) }},
		{"host state garbage", func(s *snapshot.Snapshot) { s.Host = []byte{1, 2} }},
		{"host state: stdin read past its end", func(s *snapshot.Snapshot) {
			binary.LittleEndian.PutUint64(s.Host[17:], 1<<20) // version, clock, rng, then the stdin offset
		}},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "module.wasm"), m.Instrumented, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stdin"), stdin, 0o644); err != nil {
		t.Fatal(err)
	}
	var goReps []sandbox.Report
	for i, c := range cases {
		s := clone()
		c.edit(s)
		var buf bytes.Buffer
		if err := snapshot.Encode(&buf, s, nil, snapshot.Options{}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.snap", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		goReps = append(goReps, run(s, 0))
	}
	u := func(f string) string {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(jsDir, f))}).String()
	}
	script := strings.Replace(strings.Replace(resumeScript, "%q", `"`+u("runtime.js")+`"`, 1), "%q", `"`+u("snapshot.js")+`"`, 1)
	budget = good.Fuel + (whole.Fuel-good.Fuel)/2
	goBudget := run(good, 0)
	r := nodeRaw(t, nil, "--input-type=module", "-e", script, dir, fmt.Sprint(len(cases)), fmt.Sprint(budget))
	if r.code != 0 {
		t.Fatalf("node: exit %d: %s", r.code, r.stderr)
	}
	var js []struct{ Status, Message, Fuel string }
	if err := json.Unmarshal(r.stdout, &js); err != nil {
		t.Fatalf("%v: %s", err, clip(r.stdout))
	}
	if jb := js[len(cases)]; goBudget.Status != sandbox.StatusFuelExhausted || jb.Status != string(goBudget.Status) || jb.Fuel != fmt.Sprint(goBudget.Fuel) {
		t.Errorf("resumed with a budget of %d: Go %s at %d, JS %s at %s", budget, goBudget.Status, goBudget.Fuel, jb.Status, jb.Fuel)
	}
	for i, c := range cases {
		g, j := goReps[i], js[i]
		want := sandbox.StatusInvalidSnapshot
		switch c.name {
		case "unchanged":
			want = sandbox.StatusOK
		case "memory above the limit":
			want = sandbox.StatusMemoryLimit
		case "site out of range":
			want = sandbox.StatusTrap // the rewind's br_table default: unreachable (docs/continuations.md)
		}
		if g.Status != want || j.Status != string(want) {
			t.Errorf("%s: Go %s (%s), JS %s (%s); want %s", c.name, g.Status, g.Message, j.Status, j.Message, want)
		}
		if want == sandbox.StatusOK && (g.Fuel != whole.Fuel || j.Fuel != fmt.Sprint(whole.Fuel)) {
			t.Errorf("%s: fuel Go %d, JS %s, want %d", c.name, g.Fuel, j.Fuel, whole.Fuel)
		}
		t.Logf("%-36s Go %-16s JS %-16s %s", c.name, g.Status, j.Status, j.Message)
	}
}
