package rerun_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/rerun"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// A link re-runs what the worker ran: the same argv[0].
func TestArgv0(t *testing.T) {
	if rerun.Argv0 != worker.Argv0 {
		t.Fatalf("rerun.Argv0 %q, worker.Argv0 %q", rerun.Argv0, worker.Argv0)
	}
}

var (
	engineOnce sync.Once
	engine     *sandbox.Engine
)

func testEngine(t testing.TB) *sandbox.Engine {
	engineOnce.Do(func() {
		var err error
		if engine, err = sandbox.NewEngine(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	return engine
}

// prepared is a suspendable module compiled the way the coordinator does:
// prepared bytes, then CompileInstrumented.
func prepared(t testing.TB, name string) *sandbox.Module {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	out, ok, err := sandbox.Prepare(bin, instrument.DefaultOptions(), true)
	if err != nil || !ok {
		t.Fatalf("prepare %s: suspendable %v, %v", name, ok, err)
	}
	m, err := testEngine(t).CompileInstrumented(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Numbers whose factoring takes ~1.2·10⁵ fuel each, with output between
// them, so most links produce output.
const factorInput = "1000000007 97 999999937 12 1000000009 600851475143 998244353\n"

// whole is an uninterrupted run with a checkpoint grid, recording every
// checkpoint.
type whole struct {
	rep            sandbox.Report
	stdout, stderr []byte
	seqs           []uint64
	hash           map[uint64]string
	fuel           map[uint64]uint64
	snap           map[uint64]*snapshot.Snapshot // decoded copies
	outAt, errAt   map[uint64]int
}

func runWhole(t *testing.T, m *sandbox.Module, grid uint64, stdin string, lim sandbox.Limits) *whole {
	t.Helper()
	w := &whole{hash: map[uint64]string{}, fuel: map[uint64]uint64{}, snap: map[uint64]*snapshot.Snapshot{}, outAt: map[uint64]int{}, errAt: map[uint64]int{}}
	var stdout, stderr bytes.Buffer
	in := sandbox.Input{Args: []string{rerun.Argv0}, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Seed: 3,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			w.seqs = append(w.seqs, cp.Seq)
			w.hash[cp.Seq] = hex.EncodeToString(cp.Digest.State[:])
			w.fuel[cp.Seq] = cp.Snapshot.Fuel
			w.outAt[cp.Seq], w.errAt[cp.Seq] = stdout.Len(), stderr.Len()
			// Through the encoding, as the coordinator stores it: pages
			// that alias guest memory do not outlive the call.
			var b bytes.Buffer
			if err := snapshot.Encode(&b, cp.Snapshot, cp.Digest, snapshot.Options{}); err != nil {
				return err
			}
			s, _, err := snapshot.Decode(&b)
			if err != nil {
				return err
			}
			w.snap[cp.Seq] = s
			return nil
		}}
	lim.CheckpointEvery = grid
	w.rep = testEngine(t).Run(context.Background(), m, in, lim)
	w.stdout, w.stderr = stdout.Bytes(), stderr.Bytes()
	if w.rep.Status != sandbox.StatusOK && w.rep.Status != sandbox.StatusExit {
		t.Fatalf("whole run: %+v", w.rep)
	}
	return w
}

func (w *whole) link(m *sandbox.Module, grid uint64, stdin string, lim sandbox.Limits, seq uint64, final bool) rerun.Link {
	l := rerun.Link{Module: m, Stdin: []byte(stdin), Seed: 3, Limits: lim, Grid: grid, Seq: seq, Final: final}
	// The checkpoint before seq in the chain.
	for _, s := range w.seqs {
		if s < seq || final {
			l.From = w.snap[s]
		}
	}
	return l
}

func (w *whole) before(seq uint64) (out, errOut int) {
	for _, s := range w.seqs {
		if s < seq {
			out, errOut = w.outAt[s], w.errAt[s]
		}
	}
	return
}

// TestLinks re-runs the first, a middle, the last and the final link of a
// whole run from its recorded snapshots and gets the whole run's hash,
// fuel and output for each.
func TestLinks(t *testing.T) {
	m := prepared(t, "factor.wasm")
	// The job's limit is generous: the links' own budgets bound them.
	lim := sandbox.Limits{Fuel: 1 << 30}
	probe := runWhole(t, m, 1<<40, factorInput, lim)
	grid := probe.rep.Fuel / 11 // ~11 checkpoints
	w := runWhole(t, m, grid, factorInput, lim)
	if len(w.seqs) < 9 {
		t.Fatalf("only %d checkpoints at grid %d", len(w.seqs), grid)
	}
	if !bytes.Equal(w.stdout, probe.stdout) || w.rep.Fuel != probe.rep.Fuel {
		t.Fatalf("checkpointing changed the run: fuel %d vs %d", w.rep.Fuel, probe.rep.Fuel)
	}
	last := w.seqs[len(w.seqs)-1]
	for _, seq := range []uint64{w.seqs[0], w.seqs[len(w.seqs)/2], last} {
		l := w.link(m, grid, factorInput, lim, seq, false)
		got, err := rerun.Run(context.Background(), testEngine(t), l)
		if err != nil {
			t.Fatalf("link %d: %v", seq, err)
		}
		o, e := w.before(seq)
		if got.Seq != seq || got.StateHash != w.hash[seq] || got.Fuel != w.fuel[seq] {
			t.Errorf("link %d: checkpoint %d at fuel %d hash %.12s; want fuel %d hash %.12s", seq, got.Seq, got.Fuel, got.StateHash, w.fuel[seq], w.hash[seq])
		}
		if !bytes.Equal(got.Stdout, w.stdout[o:w.outAt[seq]]) || !bytes.Equal(got.Stderr, w.stderr[e:w.errAt[seq]]) {
			t.Errorf("link %d: output %q, want %q", seq, got.Stdout, w.stdout[o:w.outAt[seq]])
		}
		var from uint64
		if l.From != nil {
			from = l.From.Fuel
		}
		if got.FuelUsed != got.Fuel-from || got.FuelUsed > 2*grid+grid/2 {
			t.Errorf("link %d: cost %d fuel from %d to %d (grid %d)", seq, got.FuelUsed, from, got.Fuel, grid)
		}
		if (got.Report != sandbox.Report{}) {
			t.Errorf("link %d: a report for a link stopped at its checkpoint: %+v", seq, got.Report)
		}
	}
	// The final link.
	got, err := rerun.Run(context.Background(), testEngine(t), w.link(m, grid, factorInput, lim, 0, true))
	if err != nil {
		t.Fatal(err)
	}
	if got.Report.Status != w.rep.Status || got.Report.ExitCode != w.rep.ExitCode || got.Fuel != w.rep.Fuel || got.Report.Fuel != w.rep.Fuel {
		t.Errorf("final link: %+v, want %+v", got.Report, w.rep)
	}
	if !bytes.Equal(got.Stdout, w.stdout[w.outAt[last]:]) || !bytes.Equal(got.Stderr, w.stderr[w.errAt[last]:]) {
		t.Errorf("final link: output %q, want %q", got.Stdout, w.stdout[w.outAt[last]:])
	}
	if got.FuelUsed != w.rep.Fuel-w.fuel[last] || got.Seq != (w.rep.Fuel-1)/grid {
		t.Errorf("final link: cost %d, seq %d", got.FuelUsed, got.Seq)
	}
	// A task with no checkpoint at all: the final link from the start.
	got, err = rerun.Run(context.Background(), testEngine(t), rerun.Link{Module: m, Stdin: []byte(factorInput), Seed: 3, Limits: lim, Grid: 1 << 40, Final: true})
	if err != nil || got.Fuel != w.rep.Fuel || !bytes.Equal(got.Stdout, w.stdout) {
		t.Errorf("final link from the start: %v, fuel %d", err, got.Fuel)
	}
}

// TestTrace: a traced run from the start, and one from a middle
// checkpoint, pass every checkpoint of the whole run with its hash, fuel
// and the output between checkpoints, and end as the whole run did.
func TestTrace(t *testing.T) {
	m := prepared(t, "factor.wasm")
	lim := sandbox.Limits{Fuel: 1 << 30}
	grid := uint64(60_000)
	w := runWhole(t, m, grid, factorInput, lim)
	if len(w.seqs) < 6 {
		t.Fatalf("only %d checkpoints at grid %d", len(w.seqs), grid)
	}
	mid := w.seqs[len(w.seqs)/2]
	for _, from := range []uint64{0, mid} {
		l := rerun.Link{Module: m, Stdin: []byte(factorInput), Seed: 3, Limits: lim, Grid: grid, Final: true, Trace: true}
		if from > 0 {
			l.From = w.snap[from]
		}
		got, err := rerun.Run(context.Background(), testEngine(t), l)
		if err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		var want []uint64
		for _, s := range w.seqs {
			if s > from {
				want = append(want, s)
			}
		}
		if len(got.Trace) != len(want) {
			t.Fatalf("from %d: traced %d checkpoints, want %d", from, len(got.Trace), len(want))
		}
		o, e := 0, 0
		if from > 0 {
			o, e = w.outAt[from], w.errAt[from]
		}
		for i, p := range got.Trace {
			s := want[i]
			if p.Seq != s || p.StateHash != w.hash[s] || p.Fuel != w.fuel[s] {
				t.Errorf("from %d: point %d is checkpoint %d fuel %d hash %.12s; want %d fuel %d hash %.12s", from, i, p.Seq, p.Fuel, p.StateHash, s, w.fuel[s], w.hash[s])
			}
			if !bytes.Equal(p.Stdout, w.stdout[o:w.outAt[s]]) || !bytes.Equal(p.Stderr, w.stderr[e:w.errAt[s]]) {
				t.Errorf("from %d: checkpoint %d output %q, want %q", from, s, p.Stdout, w.stdout[o:w.outAt[s]])
			}
			o, e = w.outAt[s], w.errAt[s]
		}
		if got.Report.Status != w.rep.Status || got.Fuel != w.rep.Fuel {
			t.Errorf("from %d: ended %+v, want %+v", from, got.Report, w.rep)
		}
		if from == 0 && !bytes.Equal(got.Stdout, w.stdout) {
			t.Errorf("from the start: output %q, want %q", got.Stdout, w.stdout)
		}
	}
	// A trace checks a run to its end, not one link.
	if _, err := rerun.Run(context.Background(), testEngine(t), rerun.Link{Module: m, Grid: grid, Seq: 2, Trace: true}); !errors.Is(err, rerun.ErrLink) {
		t.Errorf("a trace of one link: %v, want ErrLink", err)
	}
}

// TestKeep: the kept end snapshot hashes to the end state and continues the
// chain like the recorded one.
func TestKeep(t *testing.T) {
	m := prepared(t, "factor.wasm")
	lim := sandbox.Limits{Fuel: 1 << 30}
	grid := uint64(60_000)
	w := runWhole(t, m, grid, factorInput, lim)
	seq := w.seqs[2]
	l := w.link(m, grid, factorInput, lim, seq, false)
	l.Keep = true
	got, err := rerun.Run(context.Background(), testEngine(t), l)
	if err != nil {
		t.Fatal(err)
	}
	h, err := snapshot.StateHash(got.Snapshot)
	if err != nil || hex.EncodeToString(h[:]) != w.hash[seq] || hex.EncodeToString(got.Digest.State[:]) != w.hash[seq] {
		t.Fatalf("kept snapshot hashes to %x (%v), want %s", h, err, w.hash[seq])
	}
	next := w.seqs[3]
	l2 := rerun.Link{Module: m, Stdin: []byte(factorInput), Seed: 3, Limits: lim, Grid: grid, From: got.Snapshot, Seq: next}
	got2, err := rerun.Run(context.Background(), testEngine(t), l2)
	if err != nil || got2.StateHash != w.hash[next] {
		t.Fatalf("continuing from the kept snapshot: %v, hash %.12s want %.12s", err, got2.StateHash, w.hash[next])
	}
}

// TestTamperedStart: a start snapshot with one memory byte changed (one the
// link does not overwrite) gives a different end hash.
func TestTamperedStart(t *testing.T) {
	m := prepared(t, "factor.wasm")
	lim := sandbox.Limits{Fuel: 1 << 30}
	grid := uint64(60_000)
	w := runWhole(t, m, grid, factorInput, lim)
	seq := w.seqs[3]
	l := w.link(m, grid, factorInput, lim, seq, false)
	bad := *l.From
	bad.Pages = append([][]byte(nil), l.From.Pages...)
	i := 0
	for bad.Pages[i] == nil {
		i++
	}
	p := bytes.Clone(bad.Pages[i])
	p[len(p)-1] ^= 0x5a // the end of the first used page, which the link does not rewrite
	bad.Pages[i] = p
	l.From = &bad
	got, err := rerun.Run(context.Background(), testEngine(t), l)
	if err != nil {
		t.Fatalf("tampered start: %v", err)
	}
	if got.StateHash == w.hash[seq] {
		t.Fatalf("a tampered start reached the honest hash %.12s", got.StateHash)
	}
	// The untampered snapshot was not touched by the re-run.
	if got, err := rerun.Run(context.Background(), testEngine(t), w.link(m, grid, factorInput, lim, seq, false)); err != nil || got.StateHash != w.hash[seq] {
		t.Fatalf("honest start after the tampered one: %v", err)
	}
}

// TestMismatchedLinks: a link whose end checkpoint the run does not reach,
// or passes over, fails with the sentinel and says what happened instead.
func TestMismatchedLinks(t *testing.T) {
	m := prepared(t, "factor.wasm")
	lim := sandbox.Limits{Fuel: 1 << 30}
	grid := uint64(60_000)
	w := runWhole(t, m, grid, factorInput, lim)
	last := w.seqs[len(w.seqs)-1]
	ctx := context.Background()

	// Past the last checkpoint: the run ends first; the outcome is the
	// honest end of the run.
	got, err := rerun.Run(ctx, testEngine(t), w.link(m, grid, factorInput, lim, last+1, false))
	if !errors.Is(err, rerun.ErrEnded) || got == nil || got.Report.Status != w.rep.Status || got.Fuel != w.rep.Fuel {
		t.Fatalf("link past the end: %v %+v", err, got)
	}

	// From checkpoint k−2 to k: the first checkpoint reached is k−1.
	k := w.seqs[4]
	l := w.link(m, grid, factorInput, lim, k, false)
	l.From = w.snap[w.seqs[2]]
	got, err = rerun.Run(ctx, testEngine(t), l)
	if !errors.Is(err, rerun.ErrSkipped) || got == nil || got.Seq != w.seqs[3] || got.StateHash != w.hash[w.seqs[3]] {
		t.Fatalf("skipping a checkpoint: %v %+v", err, got)
	}

	// The job's fuel limit below the checkpoint: the run ends
	// fuel_exhausted, which is the honest outcome.
	l = w.link(m, grid, factorInput, sandbox.Limits{Fuel: w.fuel[w.seqs[3]] + 10}, w.seqs[4], false)
	got, err = rerun.Run(ctx, testEngine(t), l)
	if !errors.Is(err, rerun.ErrEnded) || got.Report.Status != sandbox.StatusFuelExhausted {
		t.Fatalf("job fuel limit: %v %+v", err, got)
	}

	for name, l := range map[string]rerun.Link{
		"no module":      {Grid: grid, Seq: 1},
		"no grid":        {Module: m, Seq: 1},
		"seq 0":          {Module: m, Grid: grid},
		"from past seq":  {Module: m, Grid: grid, From: w.snap[w.seqs[3]], Seq: w.seqs[3]},
		"other module":   {Module: prepared(t, "echo.wasm"), Grid: grid, From: w.snap[w.seqs[0]], Seq: w.seqs[1]},
		"from past fuel": {Module: m, Grid: grid, From: w.snap[w.seqs[3]], Seq: w.seqs[4], Limits: sandbox.Limits{Fuel: 10}},
	} {
		if _, err := rerun.Run(ctx, testEngine(t), l); !errors.Is(err, rerun.ErrLink) {
			t.Errorf("%s: %v, want ErrLink", name, err)
		}
	}

	// A cancelled context: nothing is known.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rerun.Run(cctx, testEngine(t), w.link(m, grid, factorInput, lim, w.seqs[1], false)); err == nil || errors.Is(err, rerun.ErrEnded) || errors.Is(err, rerun.ErrSkipped) {
		t.Fatalf("cancelled: %v", err)
	}
}
