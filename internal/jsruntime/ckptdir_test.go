package jsruntime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/cli"
	"github.com/crowdrun/crowdrun/internal/instrument"
)

// goCLI runs the Go command in-process: stdout, stderr, exit code.
func goCLI(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	m := &cli.Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := m.Run(context.Background(), args)
	return result{stdout: out.Bytes(), stderr: errb.Bytes(), code: code}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The checkpoint directories of `crowdrun run --checkpoint-dir` (version 2:
// module.wasm the original module, run.json with the instrumentation and
// the instrumented module's hash) are the same in both hosts, byte for byte
// but for the snapshots' compression and timings; a directory written by
// one host resumes in the other, and both refuse alike a module.wasm or
// run.json that is not the run's.
func TestCheckpointDirsGoAndNode(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	mod := filepath.Join(dir, "factor.wasm")
	orig, err := os.ReadFile(filepath.Join(repo, "examples", "factor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.txt")
	for p, b := range map[string][]byte{mod: orig, in: []byte("input file\n")} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const stdin = "600851475143 1000000007 97 12\n"
	flags := []string{"--checkpoint-every", "20000", "--seed", "7", "--env", "A=1", "--file", "in.txt=" + in,
		"--memory", "16MiB", "--stack", "500", "--fuel", "10000000", "--report", "-"}
	runNode := func(stdin string, args ...string) result {
		return nodeRaw(t, []byte(stdin), append([]string{filepath.Join(jsDir, "node", "run.mjs")}, args...)...)
	}
	gdir, jdir := filepath.Join(dir, "go"), filepath.Join(dir, "node")
	g := goCLI(stdin, append(append([]string{"run"}, flags...), "--checkpoint-dir", gdir, mod, "x")...)
	j := runNode(stdin, append(append([]string{}, flags...), "--checkpoint-dir", jdir, mod, "x")...)
	same := func(what string, g, j result) {
		t.Helper()
		if g.code != j.code || !bytes.Equal(g.stdout, j.stdout) || !bytes.Equal(normalize(g.stderr), normalize(j.stderr)) {
			t.Errorf("%s: Go exit %d, JS exit %d\nGo stdout %q\nJS stdout %q\nGo stderr %s\nJS stderr %s", what, g.code, j.code, clip(g.stdout), clip(j.stdout), g.stderr, j.stderr)
		}
	}
	same("run", g, j)
	if g.code != 0 || !bytes.Contains(g.stdout, []byte("600851475143: 71 839 1471 6857\n")) {
		t.Fatalf("run: exit %d, stdout %q, stderr %s", g.code, g.stdout, g.stderr)
	}

	// The directories: everything but the snapshots' bytes is the same.
	for _, name := range []string{"run.json", "module.wasm", "stdin", "files/0", "stdout", "stderr"} {
		gb, gerr := os.ReadFile(filepath.Join(gdir, name))
		jb, jerr := os.ReadFile(filepath.Join(jdir, name))
		if gerr != nil || jerr != nil || !bytes.Equal(gb, jb) {
			t.Errorf("%s differs (%v, %v):\nGo   %q\nNode %q", name, gerr, jerr, clip(gb), clip(jb))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(jdir, "module.wasm")); !bytes.Equal(b, orig) {
		t.Errorf("module.wasm is not the original module")
	}
	var cfg struct {
		Version         int                 `json:"version"`
		Module          string              `json:"module_sha256"`
		Instrumentation instrument.Metadata `json:"instrumentation"`
	}
	if b, err := os.ReadFile(filepath.Join(jdir, "run.json")); err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("run.json: %v", err)
	}
	if cfg.Version != 2 || len(cfg.Module) != 64 || cfg.Instrumentation != (instrument.Metadata{Version: 1, Schedule: instrument.DefaultSchedule, StackLimit: 500, MemoryCapPages: 256, CanonicalizeNaN: true}) {
		t.Errorf("run.json: %+v", cfg)
	}
	gs, js := readSidecars(t, gdir), readSidecars(t, jdir)
	if len(gs) < 4 || len(gs) != len(js) {
		t.Fatalf("%d checkpoints in Go, %d in Node", len(gs), len(js))
	}
	var seqs []uint64
	for seq, s := range gs {
		n := js[seq]
		s.CaptureMS, s.Bytes, n.CaptureMS, n.Bytes = 0, 0, 0, 0
		if s != n {
			t.Errorf("checkpoint %d: Go %+v, Node %+v", seq, s, n)
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	mid := seqs[len(seqs)/2]
	snapName := func(seq uint64) string { return fmt.Sprintf("%06d.snap", seq) }

	// Each host resumes the other's directory, going on checkpointing into
	// a new one: the same output, report and directory as the other's.
	gr := goCLI("", "resume", "--report", "-", "--checkpoint-dir", filepath.Join(dir, "go-resumed"), filepath.Join(jdir, snapName(mid)))
	jr := runNode("", "resume", "--report", "-", "--checkpoint-dir", filepath.Join(dir, "node-resumed"), filepath.Join(gdir, snapName(mid)))
	same("resume", gr, jr)
	if gr.code != 0 || !bytes.Equal(gr.stdout, g.stdout) {
		t.Errorf("resumed at %d: exit %d, stdout %q, want %q", mid, gr.code, gr.stdout, g.stdout)
	}
	for _, name := range []string{"run.json", "module.wasm", "stdin", "files/0", "stdout", "stderr"} {
		want, _ := os.ReadFile(filepath.Join(gdir, name))
		for _, d := range []string{"go-resumed", "node-resumed"} {
			if b, err := os.ReadFile(filepath.Join(dir, d, name)); err != nil || !bytes.Equal(b, want) {
				t.Errorf("%s/%s differs from the run's (%v)", d, name, err)
			}
		}
	}
	if a, b := readSidecars(t, filepath.Join(dir, "go-resumed")), readSidecars(t, filepath.Join(dir, "node-resumed")); len(a) != len(seqs)-1-slices.Index(seqs, mid) || len(a) != len(b) {
		t.Errorf("resumed at %d: %d and %d later checkpoints, want %d", mid, len(a), len(b), len(seqs)-1-slices.Index(seqs, mid))
	}

	// A directory that is not the run's is refused alike.
	inst, err := instrument.Instrument(orig, instrument.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	echo, err := os.ReadFile(filepath.Join(repo, "examples", "echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		edit   func(d string) error
		code   int
		stderr string
	}{
		{"another module", func(d string) error { return os.WriteFile(filepath.Join(d, "module.wasm"), echo, 0o644) }, 126, "module.wasm instrumented as run.json says is not the module " + cfg.Module[:12] + " of the run"},
		{"another stack limit", func(d string) error {
			return editFile(filepath.Join(d, "run.json"), `"stack_limit": 500`, `"stack_limit": 501`)
		}, 126, "is not the module"},
		{"another module hash", func(d string) error {
			return editFile(filepath.Join(d, "run.json"), cfg.Module, strings.Repeat("0", 64))
		}, 126, "is not the module 000000000000 of the run"},
		{"the instrumented module", func(d string) error { return os.WriteFile(filepath.Join(d, "module.wasm"), inst, 0o644) }, 126, "invalid_module: invalid module: the module already carries crowdrun instrumentation"},
		{"version 1", func(d string) error { return editFile(filepath.Join(d, "run.json"), `"version": 2`, `"version": 1`) }, 2, "unreadable run.json (version 1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			copyDir(t, gdir, d)
			if err := c.edit(d); err != nil {
				t.Fatal(err)
			}
			snap := filepath.Join(d, snapName(mid))
			g, j := goCLI("", "resume", snap), runNode("", "resume", snap)
			same(c.name, g, j)
			if g.code != c.code || !bytes.Contains(g.stderr, []byte(c.stderr)) || len(g.stdout) != 0 {
				t.Errorf("exit %d, stderr %s; want exit %d and %q", g.code, g.stderr, c.code, c.stderr)
			}
		})
	}

	// A corrupt snapshot is the verdict invalid_snapshot in both hosts,
	// with its report: on stderr (--report -) or in a file (--report FILE,
	// given after the snapshot as well as before), exit 126, nothing on
	// stdout. Where the hosts' decoders word the fault alike, the reports
	// are the same byte for byte (but wall_ms).
	good, err := os.ReadFile(filepath.Join(gdir, snapName(mid)))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	for _, c := range []struct {
		name, snap string
		message    string // the fault, both hosts alike; "" if worded differently
	}{
		{"truncated", string(good[:len(good)/2]), "snapshot: malformed: truncated"},
		{"not a snapshot", strings.Repeat("not a snapshot ", 20), "snapshot: malformed: bad magic"},
		{"a byte flipped", string(flipped), ""},
	} {
		t.Run("corrupt snapshot "+c.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll("corrupt "+c.name, " ", "-"))
			copyDir(t, gdir, d)
			snap := filepath.Join(d, snapName(mid))
			if err := os.WriteFile(snap, []byte(c.snap), 0o644); err != nil {
				t.Fatal(err)
			}
			gfile, jfile := filepath.Join(d, "go-report.json"), filepath.Join(d, "node-report.json")
			runs := map[string][2]result{
				"--report - SNAP":    {goCLI("", "resume", "--report", "-", snap), runNode("", "resume", "--report", "-", snap)},
				"SNAP --report FILE": {goCLI("", "resume", snap, "--report", gfile), runNode("", "resume", snap, "--report", jfile)},
			}
			gb, _ := os.ReadFile(gfile) // a missing file fails as an unreadable report
			jb, _ := os.ReadFile(jfile)
			reports := map[string][2][]byte{"--report - SNAP": {runs["--report - SNAP"][0].stderr, runs["--report - SNAP"][1].stderr}, "SNAP --report FILE": {gb, jb}}
			for form, r := range runs {
				g, j := r[0], r[1]
				if c.message != "" {
					same(form, g, j)
				}
				for i, rb := range reports[form] {
					host, res := [2]string{"Go", "Node"}[i], r[i]
					var rep struct {
						Status  string `json:"status"`
						Message string `json:"message"`
						Fuel    uint64 `json:"fuel"`
					}
					if err := json.Unmarshal(rb, &rep); err != nil || res.code != 126 || len(res.stdout) != 0 || rep.Status != "invalid_snapshot" ||
						!strings.HasPrefix(rep.Message, snap+": ") || !strings.Contains(rep.Message, "snapshot") || rep.Fuel != 0 {
						t.Errorf("%s, resume %s: exit %d, stdout %q, stderr %q, report %q (%v); want exit 126 and an invalid_snapshot report about %s",
							host, form, res.code, res.stdout, res.stderr, rb, err, snap)
					}
					if c.message != "" && !strings.HasSuffix(rep.Message, ": "+c.message) {
						t.Errorf("%s, resume %s: message %q, want %q", host, form, rep.Message, c.message)
					}
				}
				if form == "SNAP --report FILE" && (len(g.stderr) != 0 || len(j.stderr) != 0) {
					t.Errorf("resume %s: stderr Go %q, Node %q; want the report in the file only", form, g.stderr, j.stderr)
				}
			}
			if c.message != "" && !bytes.Equal(normalize(gb), normalize(jb)) {
				t.Errorf("report files differ:\nGo   %s\nNode %s", gb, jb)
			}
		})
	}
}

func editFile(p, old, new string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return os.ErrNotExist
	}
	return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
}

// A checkpoint directory written under fuel schedule v1, before v2 became
// the default (testdata/v1-checkpoint, README there), still resumes in both
// hosts: each re-instruments the original module with the schedule its
// run.json records, so the run goes on to the same output, and the
// checkpoints it writes on the way have the fuel and state hashes the v1
// run wrote. Under v2 the same module checkpoints elsewhere (its small
// functions have no checks), so this fails if a host ignores the recorded
// schedule.
func TestV1CheckpointResumes(t *testing.T) {
	needNode(t)
	fix := filepath.Join("testdata", "v1-checkpoint")
	dir := t.TempDir()
	src := filepath.Join(dir, "v1")
	copyDir(t, filepath.Join(fix, "dir"), src)
	want, err := os.ReadFile(filepath.Join(fix, "stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	later := map[uint64]sidecar{}
	names, _ := filepath.Glob(filepath.Join(fix, "later", "*.json"))
	for _, n := range names {
		var s sidecar
		if b, err := os.ReadFile(n); err != nil || json.Unmarshal(b, &s) != nil {
			t.Fatalf("%s: %v", n, err)
		}
		later[s.Seq] = s
	}
	if len(later) != 4 {
		t.Fatalf("fixture: %d later sidecars", len(later))
	}
	snap := filepath.Join(src, "000003.snap")
	gdir, jdir := filepath.Join(dir, "go"), filepath.Join(dir, "node")
	g := goCLI("", "resume", "--checkpoint-dir", gdir, snap)
	j := nodeRaw(t, nil, filepath.Join(jsDir, "node", "run.mjs"), "resume", "--checkpoint-dir", jdir, snap)
	for host, r := range map[string]result{"Go": g, "Node": j} {
		if r.code != 0 || !bytes.Equal(r.stdout, want) {
			t.Errorf("%s: exit %d, stdout %q, want %q; stderr %s", host, r.code, r.stdout, want, r.stderr)
		}
	}
	for host, d := range map[string]string{"Go": gdir, "Node": jdir} {
		got := readSidecars(t, d)
		if len(got) != len(later) {
			t.Errorf("%s: %d checkpoints after resuming, the v1 run wrote %d", host, len(got), len(later))
		}
		for seq, w := range later {
			if g := got[seq]; g.Fuel != w.Fuel || g.StateHash != w.StateHash || g.StdoutBytes != w.StdoutBytes {
				t.Errorf("%s: checkpoint %d: fuel %d, hash %s, stdout %d; the v1 run wrote fuel %d, hash %s, stdout %d",
					host, seq, g.Fuel, g.StateHash, g.StdoutBytes, w.Fuel, w.StateHash, w.StdoutBytes)
			}
		}
	}
	// The same directory's run under v2 checkpoints at other points: the
	// comparison above can tell the schedules apart.
	v2 := goCLI("600851475143 1000000007 97 12\n", "run", "--checkpoint-every", "20000", "--seed", "7", "--memory", "16MiB",
		"--stack", "500", "--fuel", "10000000", "--checkpoint-dir", filepath.Join(dir, "v2"), filepath.Join(src, "module.wasm"), "x")
	if v2.code != 0 {
		t.Fatalf("v2 run: exit %d: %s", v2.code, v2.stderr)
	}
	differ := false
	for seq, s := range readSidecars(t, filepath.Join(dir, "v2")) {
		if w, ok := later[seq]; ok && (s.Fuel != w.Fuel || s.StateHash != w.StateHash) {
			differ = true
		}
	}
	if !differ {
		t.Errorf("the v2 run checkpoints exactly where v1 did: the fixture does not tell the schedules apart")
	}
}
