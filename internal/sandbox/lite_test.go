package sandbox_test

import (
	"context"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// A fresh run of a suspendable module starts in its lite variant (the
// rewind twins' code left out, so that it compiles in a fraction of the
// time) and moves to the full module at its first checkpoint, restored
// from the state just captured. The run is the one a run on the full
// module from the start gives: the same output, fuel and checkpoint
// hashes; a run without checkpoints never needs the full module.
func TestLiteVariant(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []ckptCase{
		{"factor.wasm", nil, "600851475143 1000000007 97 12 x9\n", []uint64{1, 997, 50_000}},
		{"kernels/sort.wasm", []string{"300"}, "", []uint64{20_011}},
		{"wasitest.wasm", []string{"clock"}, "", []uint64{101}},
	} {
		for _, every := range tc.every {
			e, err := sandbox.NewEngine(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sandbox.NoPrefetch(e)
			m, err := e.CompileSuspendable(ctx, example(t, tc.module), instrument.DefaultOptions())
			if err != nil || !sandbox.HasLite(m) {
				t.Fatalf("%s: %v, lite variant %t", tc.module, err, err == nil && sandbox.HasLite(m))
			}
			if loaded, _ := sandbox.Loaded(e, m); loaded {
				t.Fatalf("%s: the full module compiled before any run needed it", tc.module)
			}
			noCkpt := runCkpt(t, e, m, tc, 0, nil, false)
			if lite, moves := sandbox.StartedLite(noCkpt.rep); !lite || moves != 0 {
				t.Errorf("%s without checkpoints: started lite %t, moved %d times", tc.module, lite, moves)
			}
			if loaded, _ := sandbox.Loaded(e, m); loaded {
				t.Errorf("%s: a run without checkpoints compiled the full module", tc.module)
			}
			first := runCkpt(t, e, m, tc, every, nil, false)
			if lite, moves := sandbox.StartedLite(first.rep); !lite || moves != 1 {
				t.Errorf("%s every %d: started lite %t, moved %d times; want lite, once", tc.module, every, lite, moves)
			}
			full := runCkpt(t, e, m, tc, every, nil, false) // the full module is loaded now
			if lite, _ := sandbox.StartedLite(full.rep); lite {
				t.Errorf("%s every %d: started lite with the full module loaded", tc.module, every)
			}
			if first.out != full.out || first.rep.Fuel != full.rep.Fuel || first.rep.Status != full.rep.Status || first.out != noCkpt.out || first.rep.Fuel != noCkpt.rep.Fuel {
				t.Errorf("%s every %d: lite-first %s fuel %d %q, full %s fuel %d %q, no checkpoints fuel %d %q", tc.module, every,
					first.rep.Status, first.rep.Fuel, first.out, full.rep.Status, full.rep.Fuel, full.out, noCkpt.rep.Fuel, noCkpt.out)
			}
			if len(first.hashes) == 0 || len(first.hashes) != len(full.hashes) {
				t.Errorf("%s every %d: %d checkpoints lite-first, %d full", tc.module, every, len(first.hashes), len(full.hashes))
			}
			for seq, h := range full.hashes {
				if first.hashes[seq] != h {
					t.Errorf("%s every %d: checkpoint %d hash %s lite-first, %s full", tc.module, every, seq, first.hashes[seq], h)
				}
			}
			e.Close(ctx)
		}
	}
}
