package jsruntime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/cli"
	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/jsruntime"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// The JavaScript host (js/) must answer every guest exactly as the Go host
// (internal/sandbox on wazero): same stdout, stderr, verdict, exit code and
// fuel. Each case runs in-process through the Go sandbox and as a subprocess
// through `node js/node/run.mjs`; the Go side is the reference.

var (
	nodeBin string
	jsDir   string // the embedded runtime, extracted
	repo    string
	engine  *sandbox.Engine
	nodeSem = make(chan struct{}, 2) // at most two node processes at a time
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repo = filepath.Join(filepath.Dir(file), "..", "..")
	nodeBin, _ = exec.LookPath("node")
	dir, err := os.MkdirTemp("", "crowdrun-js-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		jsDir = filepath.Join(dir, "js")
		if err := jsruntime.Extract(jsDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		eng, err := sandbox.NewEngine(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer eng.Close(context.Background())
		engine = eng
		return m.Run()
	}()
	os.Exit(code)
}

func needNode(t *testing.T) {
	t.Helper()
	if nodeBin == "" {
		t.Skip("node is not on PATH (scripts/setup.sh installs nodejs)")
	}
}

// ---- the shared test vectors ----

// Vector is one task run in both hosts (testdata/vectors.json).
type Vector struct {
	Name      string            `json:"name"`
	Module    string            `json:"module"` // under examples/, or "inline:NAME" for a module of this file
	Args      []string          `json:"args"`   // after argv[0], which is main.wasm (worker.Argv0) in both hosts
	Env       []string          `json:"env"`
	Stdin     string            `json:"stdin"`
	StdinHex  string            `json:"stdin_hex"`
	StdinRep  int               `json:"stdin_repeat"` // stdin is repeated this many times
	Files     map[string]string `json:"files"`
	Seed      uint64            `json:"seed"`
	Limits    VectorLimits      `json:"limits"`
	Expect    *Expect           `json:"expect"`
	Exclusive bool              `json:"exclusive"` // wall-clock sensitive: not in parallel with others
	// KnownDivergence explains why stdout may differ between the hosts; the
	// verdict must still agree.
	KnownDivergence string `json:"known_divergence"`
	// MessageDiffers explains why the report's message may differ.
	MessageDiffers string `json:"message_differs"`
	// Heavy modules take wazero's compiler a minute under the race detector:
	// they are compared in runs without -race only.
	Heavy bool `json:"heavy"`
}

// VectorLimits are `crowdrun run` flag values.
type VectorLimits struct {
	Memory    string `json:"memory"`
	MaxOutput string `json:"max_output"`
	Timeout   string `json:"timeout"`
	Fuel      uint64 `json:"fuel"`
	Stack     uint32 `json:"stack"` // the call depth limit (0: the default)
}

// Expect holds hand-checked expectations, on top of Go ≡ JS.
type Expect struct {
	Status    string  `json:"status"`
	ExitCode  *int    `json:"exit_code"` // of the process
	Stdout    *string `json:"stdout"`
	Stderr    *string `json:"stderr"`
	StdoutHex string  `json:"stdout_hex"`
	Fuel      *uint64 `json:"fuel"`
	Message   string  `json:"message_contains"`
}

type result struct {
	stdout, stderr []byte
	code           int
	rep            sandbox.Report
	// prepareRefused: the Go host's rewrite (sandbox.Prepare, which the JS
	// host runs compiled to wasm) refused the module, so the JS host's
	// message is the same word for word; other refusals of a module come
	// from each host's engine, worded its own way.
	prepareRefused bool
}

func (v Vector) stdin() []byte {
	b := []byte(v.Stdin)
	if v.StdinHex != "" {
		var err error
		if b, err = hex.DecodeString(v.StdinHex); err != nil {
			panic(err)
		}
	}
	if v.StdinRep > 1 {
		b = bytes.Repeat(b, v.StdinRep)
	}
	return b
}

func loadVectors(t *testing.T) []Vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []Vector
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	return vs
}

// modulePath returns the module of a vector on disk.
func modulePath(t *testing.T, v Vector) string {
	t.Helper()
	if name, ok := strings.CutPrefix(v.Module, "inline:"); ok {
		bin, ok := inlineModules[name]
		if !ok {
			t.Fatalf("no inline module %q", name)
		}
		p := filepath.Join(t.TempDir(), name+".wasm")
		if err := os.WriteFile(p, bin, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := filepath.Join(repo, "examples", filepath.FromSlash(v.Module))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return buildExample(t, v.Module)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildExample compiles examples/NAME.c when NAME.wasm is not there (while
// the examples are being committed) with clang's wasm32-wasi target.
func buildExample(t *testing.T, module string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[module]; ok {
		return p
	}
	src := filepath.Join(repo, "examples", strings.TrimSuffix(filepath.FromSlash(module), ".wasm")+".c")
	clang, err := exec.LookPath("clang")
	if _, serr := os.Stat(src); serr != nil || err != nil {
		t.Skipf("examples/%s is not built yet and cannot be built here", module)
	}
	out := filepath.Join(filepath.Dir(jsDir), "examples", filepath.FromSlash(module))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", out, src).CombinedOutput(); err != nil {
		t.Skipf("examples/%s is not built yet and clang cannot build it: %v\n%s", module, err, b)
	}
	built[module] = out
	return out
}

// runGo runs v as `crowdrun run` does: the module is instrumented with the
// options the command uses, then run. The JS host is given the same
// submitted module, and instruments it itself (js/prepare.js).
func runGo(t *testing.T, v Vector, mod string) result {
	t.Helper()
	bin, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	lim := sandbox.Limits{Fuel: v.Limits.Fuel, MemoryBytes: sandbox.DefaultMemory}
	if v.Limits.Memory != "" {
		lim.MemoryBytes = must(cli.ParseSize(v.Limits.Memory))
	}
	if v.Limits.MaxOutput != "" {
		lim.MaxOutput = int64(must(cli.ParseSize(v.Limits.MaxOutput)))
	}
	if v.Limits.Timeout != "" {
		lim.Timeout = must(time.ParseDuration(v.Limits.Timeout))
	}
	opts := instrument.DefaultOptions()
	opts.MemoryCapPages = uint32(lim.MemoryBytes / (64 << 10))
	if v.Limits.Stack != 0 {
		opts.StackLimit = v.Limits.Stack
	}
	var r result
	ctx := context.Background()
	m, err := engine.CompileWith(ctx, bin, opts)
	if err != nil {
		var se *sandbox.Error
		if !errors.As(err, &se) {
			t.Fatal(err)
		}
		r.rep = sandbox.Report{Status: se.Status, Message: se.Message}
		_, _, perr := sandbox.Prepare(bin, opts, false)
		r.prepareRefused = perr != nil
	} else {
		in := sandbox.Input{
			Args: append([]string{worker.Argv0}, v.Args...),
			Env:  v.Env, Stdin: bytes.NewReader(v.stdin()), Seed: v.Seed,
		}
		var stdout, stderr bytes.Buffer
		in.Stdout, in.Stderr = &stdout, &stderr
		for _, name := range sortedKeys(v.Files) {
			in.Files = append(in.Files, wasi.File{Name: name, Data: []byte(v.Files[name])})
		}
		r.rep = engine.Run(ctx, m, in, lim)
		r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	}
	r.code = cli.ExitCodeFor(r.rep)
	return r
}

func runJS(t *testing.T, v Vector, mod string) result {
	t.Helper()
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "report.json")
	args := []string{filepath.Join(jsDir, "node", "run.mjs"), "--report", reportPath, "--seed", fmt.Sprint(v.Seed)}
	if v.Limits.Memory != "" {
		args = append(args, "--memory", v.Limits.Memory)
	}
	if v.Limits.MaxOutput != "" {
		args = append(args, "--max-output", v.Limits.MaxOutput)
	}
	if v.Limits.Timeout != "" {
		args = append(args, "--timeout", v.Limits.Timeout)
	}
	if v.Limits.Fuel != 0 {
		args = append(args, "--fuel", fmt.Sprint(v.Limits.Fuel))
	}
	if v.Limits.Stack != 0 {
		args = append(args, "--stack", fmt.Sprint(v.Limits.Stack))
	}
	for _, e := range v.Env {
		args = append(args, "--env", e)
	}
	for i, name := range sortedKeys(v.Files) {
		p := filepath.Join(dir, fmt.Sprintf("file%d", i))
		if err := os.WriteFile(p, []byte(v.Files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--file", name+"="+p)
	}
	args = append(args, mod, "--")
	args = append(args, v.Args...)
	return node(t, v.stdin(), reportPath, args...)
}

// node runs the Node command and reads its report.
func node(t *testing.T, stdin []byte, reportPath string, args ...string) result {
	t.Helper()
	r := nodeRaw(t, stdin, args...)
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("node wrote no report (exit code %d): %v\nstderr: %s", r.code, err, clip(r.stderr))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.rep); err != nil {
		t.Fatalf("node's report %s: %v", b, err)
	}
	return r
}

// nodeRaw runs node with args: stdout, stderr and the exit code.
func nodeRaw(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	nodeSem <- struct{}{}
	defer func() { <-nodeSem }()
	// A guard against a hung node, not a limit on its speed: instrumenting
	// the 3 MiB Go guest suspendable in prepare.wasm takes 15 s of CPU.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r result
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("node: %v", err)
	}
	return r
}

// sameRun fails t unless the Go and JS hosts produced the same run.
func sameRun(t *testing.T, g, j result) {
	t.Helper()
	if !bytes.Equal(g.stdout, j.stdout) {
		t.Errorf("stdout differs:\n  Go: %q\n  JS: %q", clip(g.stdout), clip(j.stdout))
	}
	if !bytes.Equal(g.stderr, j.stderr) {
		t.Errorf("stderr differs:\n  Go: %q\n  JS: %q", clip(g.stderr), clip(j.stderr))
	}
	if g.code != j.code {
		t.Errorf("exit code: Go %d, JS %d", g.code, j.code)
	}
	if g.rep.Status != j.rep.Status || g.rep.ExitCode != j.rep.ExitCode {
		t.Errorf("report differs:\n  Go: %+v\n  JS: %+v", g.rep, j.rep)
	}
	// Fuel is exact, except where the wall clock stopped the run.
	if g.rep.Status != sandbox.StatusTimeout && g.rep.Fuel != j.rep.Fuel {
		t.Errorf("fuel: Go %d, JS %d", g.rep.Fuel, j.rep.Fuel)
	}
	// Engines word a rejected binary their own way; every other message,
	// the rewrite's refusals included, is ours.
	sameMessage := g.rep.Status != sandbox.StatusInvalidModule || g.prepareRefused
	if sameMessage && g.rep.Message != j.rep.Message {
		t.Errorf("message: Go %q, JS %q", g.rep.Message, j.rep.Message)
	}
	// A run killed at the wall-clock limit may not have told us its last size.
	if g.rep.Status != sandbox.StatusTimeout && g.rep.PeakMemoryBytes != j.rep.PeakMemoryBytes {
		t.Errorf("peak memory: Go %d, JS %d", g.rep.PeakMemoryBytes, j.rep.PeakMemoryBytes)
	}
}

func checkExpect(t *testing.T, e *Expect, r result) {
	t.Helper()
	if e == nil {
		return
	}
	if e.Status != "" && string(r.rep.Status) != e.Status {
		t.Errorf("status %q, want %q (%s)", r.rep.Status, e.Status, r.rep.Message)
	}
	if e.ExitCode != nil && r.code != *e.ExitCode {
		t.Errorf("exit code %d, want %d", r.code, *e.ExitCode)
	}
	if e.Stdout != nil && string(r.stdout) != *e.Stdout {
		t.Errorf("stdout %q, want %q", clip(r.stdout), *e.Stdout)
	}
	if e.Stderr != nil && string(r.stderr) != *e.Stderr {
		t.Errorf("stderr %q, want %q", clip(r.stderr), *e.Stderr)
	}
	if e.StdoutHex != "" && hex.EncodeToString(r.stdout) != e.StdoutHex {
		t.Errorf("stdout %x, want %s", r.stdout, e.StdoutHex)
	}
	if e.Fuel != nil && r.rep.Fuel != *e.Fuel {
		t.Errorf("fuel %d, want %d", r.rep.Fuel, *e.Fuel)
	}
	if !strings.Contains(r.rep.Message, e.Message) {
		t.Errorf("message %q does not contain %q", r.rep.Message, e.Message)
	}
}

// exclusive lets wall-clock-sensitive cases run alone.
var exclusive sync.RWMutex

func TestVectors(t *testing.T) {
	needNode(t)
	vs := loadVectors(t)
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.Name] {
			t.Fatalf("two vectors are named %q", v.Name)
		}
		seen[v.Name] = true
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			if v.Heavy && raceEnabled {
				t.Skip("heavy module: compared without -race only")
			}
			if v.Exclusive {
				exclusive.Lock()
				defer exclusive.Unlock()
			} else {
				exclusive.RLock()
				defer exclusive.RUnlock()
			}
			mod := modulePath(t, v)
			g := runGo(t, v, mod)
			checkExpect(t, v.Expect, g)
			j := runJS(t, v, mod)
			checkExpect(t, v.Expect, j)
			if v.MessageDiffers != "" && g.rep.Message != j.rep.Message {
				t.Logf("known difference in the message: %s", v.MessageDiffers)
				j.rep.Message = g.rep.Message
			}
			if v.KnownDivergence != "" && !bytes.Equal(g.stdout, j.stdout) {
				t.Logf("known divergence: %s", v.KnownDivergence)
				j.stdout = g.stdout
			}
			sameRun(t, g, j)
		})
	}
}

// Every example module is run by at least one vector.
func TestVectorsCoverEveryExample(t *testing.T) {
	covered := map[string]bool{}
	for _, v := range loadVectors(t) {
		covered[v.Module] = true
	}
	root := filepath.Join(repo, "examples")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".wasm" {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !covered[filepath.ToSlash(rel)] {
			t.Errorf("examples/%s is in no vector of testdata/vectors.json", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---- hand-checked expectations, computed independently of both hosts ----

func splitmix64(state *uint64) uint64 {
	*state += 0x9E3779B97F4A7C15
	z := *state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// wasitest's "random N" prints getentropy bytes as hex; getentropy is one
// random_get per 256 bytes, so the stream is SplitMix64 little-endian.
func TestRandomIsSplitMix64InBothHosts(t *testing.T) {
	needNode(t)
	for _, seed := range []uint64{0, 42, 1<<64 - 1} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			state := seed
			var want []byte
			for len(want) < 300 {
				want = binary.LittleEndian.AppendUint64(want, splitmix64(&state))
			}
			// 300 bytes = a 256-byte call (32 outputs) then a 44-byte call (6
			// outputs, the last 4 bytes of the 6th discarded).
			want = append(want[:256:256], want[256:256+44]...)
			if seed == 0 && binary.LittleEndian.Uint64(want) != 0xE220A8397B1DCDAF {
				t.Fatalf("reference SplitMix64 is wrong")
			}
			v := Vector{Module: "wasitest.wasm", Args: []string{"random", "300"}, Seed: seed}
			exp := hex.EncodeToString(want) + "\n"
			mod := modulePath(t, v)
			g := runGo(t, v, mod)
			j := runJS(t, v, mod)
			checkExpect(t, &Expect{Status: "ok", Stdout: &exp}, g)
			checkExpect(t, &Expect{Status: "ok", Stdout: &exp}, j)
		})
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}

// The JavaScript unit tests (js/*.test.js) run under `go test` too.
func TestNodeUnitTests(t *testing.T) {
	needNode(t)
	nodeSem <- struct{}{}
	defer func() { <-nodeSem }()
	// A few seconds on an idle machine; generous for a shared, loaded one.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", filepath.Join(repo, "js")+string(filepath.Separator))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test js/: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("# fail 0")) {
		t.Fatalf("node --test js/ ran no tests or hid a failure:\n%s", out)
	}
}
