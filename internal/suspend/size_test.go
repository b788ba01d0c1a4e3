package suspend

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

func TestSizeReport(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("report only")
	}
	for _, p := range []string{"examples/kernels/gokernel.wasm", "examples/factor.wasm", "examples/kernels/sort.wasm"} {
		bin := readExample(t, p)
		m, _ := binary.Decode(bin)
		instrument.InstrumentModule(m, instrument.DefaultOptions())
		ib := binary.Encode(m)
		t0 := time.Now()
		if err := Transform(m, Options{}); err != nil {
			t.Fatal(err)
		}
		tt := time.Since(t0)
		sb := binary.Encode(m)
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		t1 := time.Now()
		if _, err := rt.CompileModule(ctx, ib); err != nil {
			t.Fatal(err)
		}
		ci := time.Since(t1)
		t2 := time.Now()
		if _, err := rt.CompileModule(ctx, sb); err != nil {
			t.Fatal(err)
		}
		cs := time.Since(t2)
		rt.Close(ctx)
		t.Logf("%s: instrumented %d bytes, suspendable %d (%.2fx); transform %v; compile %v vs %v", p, len(ib), len(sb), float64(len(sb))/float64(len(ib)), tt, ci, cs)
	}
}
