package instrument

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasi"
)

// BenchmarkKernels runs every kernel of examples/kernels in wazero's
// compiler, the original and the instrumented module (default options: fuel,
// depth limit, NaN canonicalisation) alternately in each iteration, so that
// both see the same machine load. Each sub-benchmark reports the minimum
// time of each and their ratio; at the end a table with the geomean is
// printed:
//
//	go test ./internal/instrument -run XXX -bench Kernels -benchtime 3x
//
// KERNEL_SCALE=N multiplies the problem sizes (default 1), KERNELS=a,b runs
// only those kernels, KERNEL_NAN=0 turns NaN canonicalisation off.
func BenchmarkKernels(b *testing.B) {
	kernels := benchKernels(b)
	scale := 1.0
	if s := os.Getenv("KERNEL_SCALE"); s != "" {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 {
			scale = v
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	if err := installBenchHost(ctx, rt); err != nil {
		b.Fatal(err)
	}

	type row struct {
		name       string
		orig, inst time.Duration
		fuel       uint64
	}
	var rows []row
	for _, k := range kernels {
		if k.size == 0 {
			continue // not a kernel (no size known)
		}
		if only := os.Getenv("KERNELS"); only != "" && !slices.Contains(strings.Split(only, ","), k.name) {
			continue
		}
		orig, err := os.ReadFile(k.path)
		if err != nil {
			b.Fatal(err)
		}
		opts := DefaultOptions()
		opts.CanonicalizeNaN = os.Getenv("KERNEL_NAN") != "0"
		inst, err := Instrument(orig, opts)
		if err != nil {
			b.Fatalf("%s: %v", k.name, err)
		}
		noNaN := DefaultOptions()
		noNaN.CanonicalizeNaN = false
		instNoNaN, err := Instrument(orig, noNaN)
		if err != nil {
			b.Fatalf("%s: %v", k.name, err)
		}
		co, err := rt.CompileModule(ctx, orig)
		if err != nil {
			b.Fatal(err)
		}
		ci, err := rt.CompileModule(ctx, inst)
		if err != nil {
			b.Fatal(err)
		}
		sz := float64(k.size) * scale
		if k.name == "fib" { // exponential: scale the time, not n
			sz = float64(k.size) + math.Log(scale)/math.Log(1.618)
		}
		size := strconv.Itoa(int(math.Max(1, sz)))
		// Without NaN canonicalisation the output must be the original's;
		// with it, only NaN payloads may differ (the floats kernel prints
		// some), so the timed runs compare outputs with the first run's.
		var wantInst []byte
		{
			cn, err := rt.CompileModule(ctx, instNoNaN)
			if err != nil {
				b.Fatal(err)
			}
			out1, _, _, err1 := runKernel(ctx, rt, co, k.name, size)
			out2, _, _, err2 := runKernel(ctx, rt, cn, k.name, size)
			out3, _, _, err3 := runKernel(ctx, rt, ci, k.name, size)
			cn.Close(ctx)
			if err := errors.Join(err1, err2, err3); err != nil {
				b.Fatalf("%s: %v", k.name, err)
			}
			if !bytes.Equal(out1, out2) {
				b.Fatalf("%s: outputs differ:\noriginal:     %s\ninstrumented: %s", k.name, out1, out2)
			}
			if !bytes.Equal(out1, out3) {
				b.Logf("%s: with NaN canonicalisation the output differs (NaN payloads)", k.name)
			}
			wantInst = out3
		}
		var r row
		b.Run(k.name, func(b *testing.B) {
			// The minimum of the runs: the machine is shared, and
			// interference only ever adds time.
			to, ti := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			var fuel uint64
			for i := 0; i < b.N; i++ {
				out1, d1, _, err := runKernel(ctx, rt, co, k.name, size)
				if err != nil {
					b.Fatalf("original: %v", err)
				}
				out2, d2, f, err := runKernel(ctx, rt, ci, k.name, size)
				if err != nil {
					b.Fatalf("instrumented: %v", err)
				}
				if !bytes.Equal(out2, wantInst) {
					b.Fatalf("instrumented output changed between runs:\n%s\n%s", wantInst, out2)
				}
				_ = out1
				to, ti = min(to, d1), min(ti, d2)
				fuel = f
			}
			b.ReportMetric(float64(to)/1e6, "orig-min-ms")
			b.ReportMetric(float64(ti)/1e6, "inst-min-ms")
			b.ReportMetric(float64(ti)/float64(to), "ratio")
			b.ReportMetric(float64(fuel), "fuel")
			r = row{k.name, to, ti, fuel}
		})
		rows = append(rows, r)
		co.Close(ctx)
		ci.Close(ctx)
	}
	logSum := 0.0
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-10s %12s %12s %8s %16s\n", "kernel", "original", "instrumented", "ratio", "fuel")
	for _, r := range rows {
		ratio := float64(r.inst) / float64(r.orig)
		logSum += math.Log(ratio)
		fmt.Fprintf(&sb, "%-10s %12s %12s %8.3f %16d\n", r.name, r.orig.Round(time.Microsecond), r.inst.Round(time.Microsecond), ratio, r.fuel)
	}
	if len(rows) > 0 {
		fmt.Fprintf(&sb, "%-10s %12s %12s %8.3f\n", "geomean", "", "", math.Exp(logSum/float64(len(rows))))
	}
	fmt.Print(sb.String())
}

type benchKernel struct {
	name, path string
	size       int
}

// benchSizes are problem sizes for which each kernel runs for roughly
// 100-300 ms in wazero's compiler on a 2020s x86-64 core.
var benchSizes = map[string]int{
	"fib": 32, "floats": 2000000, "hash": 16, "matmul": 300, "memops": 16, "memops-bulk": 16,
	"nbody": 500000, "simd": 2000000, "sort": 250000, "stencil": 512, "strings": 600000, "gokernel": 30000,
}

func benchKernels(b *testing.B) []benchKernel {
	files, err := filepath.Glob("../../examples/kernels/*.wasm")
	if err != nil || len(files) == 0 {
		b.Skipf("no kernels in examples/kernels (run examples/build.sh): %v", err)
	}
	sort.Strings(files)
	var ks []benchKernel
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".wasm")
		ks = append(ks, benchKernel{name: name, path: f, size: benchSizes[name]})
	}
	return ks
}

const benchSlice = 10_000_000

type benchFuelKey struct{}

// installBenchHost adds WASI and a crowdrun host that refills fuel forever,
// counting the fuel used in the *uint64 of the call's context.
func installBenchHost(ctx context.Context, rt wazero.Runtime) error {
	hb := rt.NewHostModuleBuilder(wasi.ModuleName)
	for i := range wasi.Functions {
		f := &wasi.Functions[i]
		hb.NewFunctionBuilder().WithGoModuleFunction(f.GoFunc(), f.Params, f.Results).Export(f.Name)
	}
	if _, err := hb.Instantiate(ctx); err != nil {
		return err
	}
	_, err := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		g := mod.ExportedGlobal(FuelExport).(api.MutableGlobal)
		*ctx.Value(benchFuelKey{}).(*uint64) += benchSlice - g.Get()
		g.Set(benchSlice)
	}), nil, nil).Export(OutOfFuelName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		panic(fmt.Errorf("crowdrun trap %d", stack[0]))
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(TrapName).
		Instantiate(ctx)
	return err
}

// runKernel instantiates cm and runs its _start with argv [name, size],
// returning stdout, the time _start took and, for an instrumented module,
// the fuel used.
func runKernel(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, name, size string) ([]byte, time.Duration, uint64, error) {
	var stdout, stderr bytes.Buffer
	st, err := wasi.NewState(wasi.Config{Args: []string{name, size}, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, 0, 0, err
	}
	var fuel uint64
	ctx = context.WithValue(wasi.WithState(ctx, st), benchFuelKey{}, &fuel)
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, 0, 0, err
	}
	defer mod.Close(ctx)
	g, instrumented := mod.ExportedGlobal(FuelExport).(api.MutableGlobal)
	if instrumented {
		g.Set(benchSlice)
	}
	start := time.Now()
	_, err = mod.ExportedFunction("_start").Call(ctx)
	d := time.Since(start)
	var exit *wasi.ExitError
	if errors.As(err, &exit) && exit.Code == 0 {
		err = nil
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w (stderr: %s)", err, stderr.String())
	}
	if instrumented {
		fuel += benchSlice - g.Get()
	}
	return stdout.Bytes(), d, fuel, nil
}

// BenchmarkInstrument measures the rewrite itself on the largest kernel (a
// Go program): decode, instrument, encode.
func BenchmarkInstrument(b *testing.B) {
	bin, err := os.ReadFile("../../examples/kernels/gokernel.wasm")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		if _, err := Instrument(bin, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
