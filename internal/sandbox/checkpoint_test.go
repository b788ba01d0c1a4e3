package sandbox_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
)

type ckptCase struct {
	module string
	args   []string
	stdin  string
	every  []uint64 // checkpoint intervals in fuel
}

var ckptCases = []ckptCase{
	{"factor.wasm", nil, "600851475143 1000000007 97 12 x9\n", []uint64{1, 997, 50_000}},
	{"echo.wasm", []string{"a", "b"}, "hello\nworld\n", []uint64{1, 13}},
	{"wasitest.wasm", []string{"clock"}, "", []uint64{1, 101}},
	{"wasitest.wasm", []string{"random", "600"}, "", []uint64{20_011}},
	{"recurse.wasm", []string{"300"}, "", []uint64{1, 1000}},
	{"kernels/fib.wasm", []string{"18"}, "", []uint64{3_001, 100_000}},
	{"kernels/sort.wasm", []string{"300"}, "", []uint64{20_011}},
	{"kernels/nbody.wasm", []string{"300"}, "", []uint64{20_011}},
	{"kernels/floats.wasm", []string{"500"}, "", []uint64{20_011}},
	{"kernels/simd.wasm", []string{"200"}, "", []uint64{20_011}},
	{"kernels/strings.wasm", []string{"200"}, "", []uint64{20_011}},
	{"kernels/matmul.wasm", []string{"16"}, "", []uint64{20_011}},
	{"kernels/stencil.wasm", []string{"12"}, "", []uint64{20_011}},
	{"kernels/memops-bulk.wasm", []string{"1"}, "", []uint64{5_000_011}},
}

type ckptRun struct {
	rep    sandbox.Report
	out    string
	hashes map[uint64]string // by seq
	snaps  map[uint64][]byte // encoded, by seq
	outAt  map[uint64]int    // output length at each checkpoint
}

func runCkpt(t *testing.T, e *sandbox.Engine, m *sandbox.Module, tc ckptCase, every uint64, resume *snapshot.Snapshot, keep bool) ckptRun {
	t.Helper()
	var out bytes.Buffer
	r := ckptRun{hashes: map[uint64]string{}, snaps: map[uint64][]byte{}, outAt: map[uint64]int{}}
	in := sandbox.Input{
		Args: append([]string{tc.module}, tc.args...), Stdin: strings.NewReader(tc.stdin),
		Stdout: &out, Stderr: &out, Seed: 7, Resume: resume,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			if _, dup := r.hashes[cp.Seq]; dup {
				return fmt.Errorf("seq %d twice", cp.Seq)
			}
			if cp.Snapshot.Fuel <= cp.Seq*every || (cp.Snapshot.Fuel-1)/every != cp.Seq {
				return fmt.Errorf("checkpoint %d at fuel %d, interval %d", cp.Seq, cp.Snapshot.Fuel, every)
			}
			r.hashes[cp.Seq] = hex.EncodeToString(cp.Digest.State[:])
			r.outAt[cp.Seq] = out.Len()
			if keep {
				var b bytes.Buffer
				if err := snapshot.Encode(&b, cp.Snapshot, cp.Digest, snapshot.Options{Compress: !raceEnabled}); err != nil {
					return err
				}
				r.snaps[cp.Seq] = b.Bytes()
			}
			return nil
		},
	}
	r.rep = e.Run(context.Background(), m, in, sandbox.Limits{CheckpointEvery: every, Fuel: 1 << 40})
	r.out = out.String()
	return r
}

// TestCheckpointDifferential: for every case and interval, a run that takes
// checkpoints has the output and fuel of an uninterrupted run; resuming
// any checkpoint in a fresh instance gives the rest of that output, the
// same total fuel, and the same state hashes at the later checkpoints.
func TestCheckpointDifferential(t *testing.T) {
	e := testEngine(t)
	for _, tc := range ckptCases {
		t.Run(strings.TrimSuffix(tc.module, ".wasm")+"/"+strings.Join(tc.args, ","), func(t *testing.T) {
			t.Parallel()
			bin := example(t, tc.module)
			plain, err := e.Compile(context.Background(), bin)
			if err != nil {
				t.Fatal(err)
			}
			m, err := e.CompileSuspendable(context.Background(), bin, instrument.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !m.Suspendable() {
				t.Fatal("not suspendable")
			}
			want := runCkpt(t, e, plain, tc, 0, nil, false)
			if want.rep.Status != sandbox.StatusOK && want.rep.Status != sandbox.StatusExit {
				t.Fatalf("uninterrupted: %+v", want.rep)
			}
			for _, every := range tc.every {
				if raceEnabled && every < 100 && tc.module != "echo.wasm" {
					continue // thousands of checkpoints: too slow under the race detector
				}
				got := runCkpt(t, e, m, tc, every, nil, true)
				if got.out != want.out || got.rep.Fuel != want.rep.Fuel || got.rep.Status != want.rep.Status || got.rep.ExitCode != want.rep.ExitCode {
					t.Fatalf("every %d: %s (%s) fuel %d %q; want fuel %d %q", every, got.rep.Status, got.rep.Message, got.rep.Fuel, got.out, want.rep.Fuel, want.out)
				}
				if got.rep.Checkpoints != len(got.hashes) || (every <= want.rep.Fuel/2 && len(got.hashes) == 0) {
					t.Fatalf("every %d: %d checkpoints reported, %d seen", every, got.rep.Checkpoints, len(got.hashes))
				}
				// Resume from a sample of the checkpoints: first, last, and
				// evenly spaced ones in between.
				seqs := sortedKeys(got.snaps)
				samples := 10
				if raceEnabled {
					samples = 2
				}
				for i, seq := range seqs {
					if len(seqs) > samples+2 && i != 0 && i != len(seqs)-1 && i%(len(seqs)/samples) != 0 {
						continue
					}
					s, _, err := snapshot.Decode(bytes.NewReader(got.snaps[seq]))
					if err != nil {
						t.Fatalf("every %d, checkpoint %d: %v", every, seq, err)
					}
					res := runCkpt(t, e, m, tc, every, s, false)
					if res.rep.Status != want.rep.Status || res.rep.ExitCode != want.rep.ExitCode || res.rep.Fuel != want.rep.Fuel {
						t.Fatalf("every %d, resumed at %d: %+v, want fuel %d", every, seq, res.rep, want.rep.Fuel)
					}
					if prefix := got.out[:got.outAt[seq]]; prefix+res.out != want.out {
						t.Fatalf("every %d, resumed at %d: output %q + %q, want %q", every, seq, prefix, res.out, want.out)
					}
					for later, h := range res.hashes {
						if got.hashes[later] != h {
							t.Fatalf("every %d, resumed at %d: checkpoint %d hash %s, want %s", every, seq, later, h, got.hashes[later])
						}
					}
					if len(res.hashes) != len(seqs)-1-i {
						t.Fatalf("every %d, resumed at %d: %d later checkpoints, want %d", every, seq, len(res.hashes), len(seqs)-1-i)
					}
				}
				t.Logf("every %d: %d checkpoints, fuel %d", every, len(seqs), got.rep.Fuel)
			}
		})
	}
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	var ks []uint64
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// TestCheckpointGoGuest runs the differential test on the Go-compiled
// kernel (GOOS=wasip1: the Go runtime, goroutines, the garbage collector).
// Made suspendable it takes tens of seconds to compile with wazero's
// compiler, so this test uses its interpreter.
func TestCheckpointGoGuest(t *testing.T) {
	if raceEnabled {
		t.Skip("the interpreter is very slow under the race detector: scripts/test.sh runs this test without -race")
	}
	e, err := sandbox.NewInterpreterEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	tc := ckptCase{"kernels/gokernel.wasm", []string{"300"}, "", nil}
	bin := example(t, tc.module)
	m, err := e.CompileSuspendable(context.Background(), bin, instrument.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Suspendable() {
		t.Fatal("the Go guest is not suspendable")
	}
	want := runCkpt(t, e, m, tc, 0, nil, false)
	if want.rep.Status != sandbox.StatusOK || !strings.HasPrefix(want.out, "gokernel n=300") {
		t.Fatalf("uninterrupted: %+v %q", want.rep, want.out)
	}
	every := want.rep.Fuel/25 + 1
	got := runCkpt(t, e, m, tc, every, nil, true)
	if got.out != want.out || got.rep.Fuel != want.rep.Fuel || got.rep.Status != sandbox.StatusOK || len(got.snaps) < 20 {
		t.Fatalf("every %d: %+v %q (%d checkpoints); want fuel %d %q", every, got.rep, got.out, len(got.snaps), want.rep.Fuel, want.out)
	}
	seqs := sortedKeys(got.snaps)
	for _, seq := range []uint64{seqs[0], seqs[len(seqs)/2], seqs[len(seqs)-1]} {
		s, _, err := snapshot.Decode(bytes.NewReader(got.snaps[seq]))
		if err != nil {
			t.Fatal(err)
		}
		res := runCkpt(t, e, m, tc, every, s, false)
		if res.rep.Fuel != want.rep.Fuel || got.out[:got.outAt[seq]]+res.out != want.out {
			t.Fatalf("resumed at %d: %+v %q", seq, res.rep, res.out)
		}
		for later, h := range res.hashes {
			if got.hashes[later] != h {
				t.Fatalf("resumed at %d: checkpoint %d hash differs", seq, later)
			}
		}
	}
	t.Logf("Go guest: fuel %d, %d checkpoints, 3 resumed", want.rep.Fuel, len(seqs))
}
