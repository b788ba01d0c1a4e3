package enginediff

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasmgen"
)

var (
	nodeBin string
	engine  *sandbox.Engine // wazero's compiler (its interpreter under -race)
	runs    int             // modules compiled by engine

	nodeOnce sync.Once
	node     *Node
	nodeErr  error
)

func TestMain(m *testing.M) {
	nodeBin, _ = exec.LookPath("node")
	if err := newEngine(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	engine.Close(context.Background())
	if node != nil {
		if err := node.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// newEngine replaces engine. Under the race detector wazero's compiler is
// slow to compile suspendable modules; its interpreter runs the same
// contract.
func newEngine() error {
	ctx := context.Background()
	if engine != nil {
		engine.Close(ctx)
	}
	var err error
	if raceEnabled {
		engine, err = sandbox.NewInterpreterEngine(ctx)
	} else {
		engine, err = sandbox.NewEngine(ctx)
	}
	runs = 0
	return err
}

// needNode returns the Node process, started once per test binary.
func needNode(t testing.TB) *Node {
	t.Helper()
	if nodeBin == "" {
		t.Skip("node is not on PATH (scripts/setup.sh installs nodejs)")
	}
	nodeOnce.Do(func() { node, nodeErr = StartNode(nodeBin) })
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return node
}

// caseFor is the case a fuzz input describes: the generated module, and a
// fuel budget and checkpoint interval drawn from a hash of the input (so
// that they do not disturb the generator's reading of it).
func caseFor(data []byte) Case {
	m := wasmgen.Generate(data)
	h := fnv.New64a()
	h.Write(data)
	x := h.Sum64()
	fuel := 20_000 + x%1_000_000
	c := Case{Wasm: m.Wasm, MemoryPages: m.MemoryPages, Fuel: fuel}
	if x>>20%8 != 0 { // most runs checkpoint, 2 to 20 times
		c.Every = fuel / (2 + x>>24%19)
		c.KeepSnapshot = 1 + x>>40%3 // and one of the first three is resumed in the other engine
	}
	return c
}

// check runs c in both engines and fails t on any difference; it returns
// wazero's outcome and how many checkpoints it resumed across engines.
func check(t testing.TB, n *Node, c Case) (Outcome, int) {
	t.Helper()
	prepared, _, err := Prepare(c)
	if err != nil {
		t.Fatalf("the coordinator refuses a generated module: %v", err)
	}
	// An engine keeps every module it compiled: a fresh one now and then
	// bounds a long fuzzing run's memory.
	if runs++; runs > 200 {
		if err := newEngine(); err != nil {
			t.Fatal(err)
		}
	}
	var (
		g    Outcome
		gErr error
		wg   sync.WaitGroup
	)
	wg.Go(func() { g, gErr = RunGo(context.Background(), engine, prepared, c) })
	j, jErr := n.Run(prepared, c)
	wg.Wait()
	if gErr != nil {
		t.Fatal(gErr)
	}
	if jErr != nil {
		t.Fatal(jErr)
	}
	if d := Diff(g, j); len(d) > 0 {
		if !c.Snapshots && len(g.Checkpoints) > 0 {
			// Again, keeping the snapshots, to say how the states differ.
			c.Snapshots = true
			g2, err1 := RunGo(context.Background(), engine, prepared, c)
			j2, err2 := n.Run(prepared, c)
			if err1 == nil && err2 == nil {
				d = Diff(g2, j2)
			}
		}
		p := filepath.Join(t.TempDir(), "diverging.wasm")
		os.WriteFile(p, c.Wasm, 0o644)
		t.Fatalf("wazero and V8 differ (fuel %d, every %d, memory %d pages; module kept at %s):\nwazero: %s\nV8:     %s\n%s",
			c.Fuel, c.Every, c.MemoryPages, p, g.Summary(), j.Summary(), strings.Join(d, "\n"))
	}
	// Migration: the kept checkpoint of each engine resumed in the other
	// ends as the uninterrupted run did, with the same later checkpoints.
	migrated := 0
	for k, cp := range g.Checkpoints {
		if cp.Seq != c.KeepSnapshot || k >= len(j.Checkpoints) {
			continue
		}
		migrated += 2
		r := c
		r.KeepSnapshot = 0
		r.Resume = []byte(j.Checkpoints[k].Snapshot)
		inGo, err := RunGo(context.Background(), engine, prepared, r)
		if err != nil {
			t.Fatal(err)
		}
		r.Resume = []byte(cp.Snapshot)
		inJS, err := n.Run(prepared, r)
		if err != nil {
			t.Fatal(err)
		}
		want := g
		want.Stdout = g.Stdout[cp.Stdout:]
		want.Checkpoints = nil
		for _, x := range g.Checkpoints[k+1:] {
			x.Stdout -= cp.Stdout
			x.Snapshot = ""
			want.Checkpoints = append(want.Checkpoints, x)
		}
		for _, x := range []struct {
			name string
			o    Outcome
		}{{"V8's checkpoint resumed in wazero", inGo}, {"wazero's checkpoint resumed in V8", inJS}} {
			if d := Diff(want, x.o); len(d) > 0 {
				p := filepath.Join(t.TempDir(), "diverging.wasm")
				os.WriteFile(p, c.Wasm, 0o644)
				t.Fatalf("%s (checkpoint %d, fuel %d, every %d, memory %d pages; module kept at %s) differs from the uninterrupted run:\n%s", x.name, cp.Seq, c.Fuel, c.Every, c.MemoryPages, p, strings.Join(d, "\n"))
			}
		}
	}
	return g, migrated
}

// seedInputs are n random byte strings of several sizes, from a fixed
// seed.
func seedInputs(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(16, seed))
	out := [][]byte{nil, {1, 2, 3}}
	for len(out) < n {
		b := make([]byte, 64+r.IntN(3000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out = append(out, b)
	}
	return out
}

// TestEnginesAgree runs a fixed batch of generated modules in wazero and
// V8 and requires the same verdict, output, fuel and checkpoints (state
// hashes) of each; it logs how the runs ended, so that a generator that
// stopped reaching some verdict shows.
func TestEnginesAgree(t *testing.T) {
	n := needNode(t)
	// About 10 s of CPU without the race detector, 20 s with it (on
	// wazero's interpreter).
	count := 300
	switch {
	case testing.Short():
		count = 60
	case raceEnabled:
		count = 200
	}
	verdicts := map[string]int{}
	checkpoints, migrated := 0, 0
	for i, in := range seedInputs(2026, count) {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			o, m := check(t, n, caseFor(in))
			migrated += m
			k := o.Status
			if o.Status == "trap" {
				k += " (" + strings.TrimPrefix(o.Message, "wasm error: ") + ")"
			}
			verdicts[k]++
			checkpoints += len(o.Checkpoints)
		})
	}
	var ks []string
	for k, v := range verdicts {
		ks = append(ks, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(ks)
	t.Logf("%d modules, %d checkpoints compared, %d resumed in the other engine; verdicts: %s", count, checkpoints, migrated, strings.Join(ks, ", "))
	if migrated == 0 {
		t.Error("no checkpoint was resumed across engines: the batch no longer tests migration")
	}
}

// FuzzEngines is TestEnginesAgree on inputs the fuzzer steers.
// The seeds (which also run in every go test) are random strings;
// crashers are kept in testdata/fuzz/FuzzEngines.
func FuzzEngines(f *testing.F) {
	n := 24
	if testing.Short() {
		n = 12 // scripts/fuzz.sh's brief CI run: less baseline to gather
	}
	for _, in := range seedInputs(1, n) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, needNode(t), caseFor(data))
	})
}
