package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// The variants of a kernel, in the order of manifest files.
const (
	vOriginal = iota
	vInstrumented
	vSuspendable
	vNoNaN // instrumented without NaN canonicalisation: run once, only to explain a differing output
	nVariants
)

var variantNames = [nVariants]string{"original", "instrumented", "suspendable", "instrumented-nonan"}

// manifest is what the parent hands the pinned wazero child and node: the
// modules of every kernel and how to run them.
type manifest struct {
	Runs int `json:"runs"`
	// NaNSplit: vNoNaN is timed like the others, in the same rotation.
	NaNSplit bool      `json:"nan_split,omitempty"`
	Kernels  []mkernel `json:"kernels"`
}

type mkernel struct {
	Name  string            `json:"name"` // e.g. "matmul" or "gemm/large"
	Args  []string          `json:"args"`
	Files [nVariants]string `json:"files"` // "" for a variant not made
}

// kresult is one kernel's measurements in one engine.
type kresult struct {
	Name    string               `json:"name"`
	Times   [nVariants][]float64 `json:"times_ms"`   // CPU time per run; vNoNaN: at most one
	Wall    [nVariants][]float64 `json:"wall_ms"`    // wazero: wall time per run
	Compile [nVariants]float64   `json:"compile_ms"` // wazero only
	Out     [nVariants]string    `json:"out"`
	Fuel    [nVariants]uint64    `json:"fuel"`
	Err     string               `json:"err,omitempty"`
}

const benchSlice = 10_000_000

type fuelKey struct{}

// wazeroChild runs in the process that the parent started pinned to one
// core (taskset): it compiles every module of the manifest in wazero's
// optimising compiler and runs each kernel's variants alternately, rotating
// their order each round, then writes the results as JSON to stdout.
func wazeroChild(path string) error {
	var m manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	if err := installHost(ctx, rt); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	cache := map[string]compiled{}
	defer func() {
		for _, c := range cache {
			c.cm.Close(ctx)
		}
	}()
	for _, k := range m.Kernels {
		r := runKernelWazero(ctx, rt, cache, k, m.Runs, m.NaNSplit)
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// compiled is a module compiled once (kernels of two sizes share it).
type compiled struct {
	cm wazero.CompiledModule
	d  time.Duration
}

func runKernelWazero(ctx context.Context, rt wazero.Runtime, cache map[string]compiled, k mkernel, runs int, nanSplit bool) (r kresult) {
	r.Name = k.Name
	var cms [nVariants]wazero.CompiledModule
	compile := func(v int) error {
		c, ok := cache[k.Files[v]]
		if !ok {
			bin, err := os.ReadFile(k.Files[v])
			if err != nil {
				return err
			}
			t0 := time.Now()
			cm, err := rt.CompileModule(ctx, bin)
			if err != nil {
				return err
			}
			c = compiled{cm, time.Since(t0)}
			cache[k.Files[v]] = c
		}
		cms[v], r.Compile[v] = c.cm, ms(c.d)
		return nil
	}
	nv := vSuspendable + 1
	if nanSplit && k.Files[vNoNaN] != "" {
		nv = vNoNaN + 1
	}
	for v := vOriginal; v < nv; v++ {
		if err := compile(v); err != nil {
			r.Err = fmt.Sprintf("%s: compile: %v", variantNames[v], err)
			return r
		}
	}
	for i := 0; i < runs; i++ {
		for j := 0; j < nv; j++ {
			v := (i + j) % nv
			c0 := cpuTime()
			out, d, fuel, err := runWazero(ctx, rt, cms[v], k.Args)
			cpu := cpuTime() - c0
			if err != nil {
				r.Err = fmt.Sprintf("%s: %v", variantNames[v], err)
				return r
			}
			if i > 0 && out != r.Out[v] {
				r.Err = fmt.Sprintf("%s: output changed between runs", variantNames[v])
				return r
			}
			r.Out[v], r.Fuel[v] = out, fuel
			r.Times[v] = append(r.Times[v], ms(cpu))
			r.Wall[v] = append(r.Wall[v], ms(d))
		}
	}
	if r.Out[vOriginal] != r.Out[vInstrumented] && k.Files[vNoNaN] != "" && r.Out[vNoNaN] == "" {
		if err := compile(vNoNaN); err != nil {
			r.Err = fmt.Sprintf("%s: compile: %v", variantNames[vNoNaN], err)
			return r
		}
		out, d, fuel, err := runWazero(ctx, rt, cms[vNoNaN], k.Args)
		if err != nil {
			r.Err = fmt.Sprintf("%s: %v", variantNames[vNoNaN], err)
			return r
		}
		r.Out[vNoNaN], r.Fuel[vNoNaN], r.Times[vNoNaN] = out, fuel, []float64{ms(d)}
	}
	return r
}

// installHost adds WASI and the crowdrun host: out_of_fuel refills the fuel
// global with a fresh slice (counting what was used), trap traps, and the
// suspend frame imports are there for the suspendable variant (never called:
// the state global stays normal, nothing ever suspends).
func installHost(ctx context.Context, rt wazero.Runtime) error {
	hb := rt.NewHostModuleBuilder(wasi.ModuleName)
	for i := range wasi.Functions {
		f := &wasi.Functions[i]
		hb.NewFunctionBuilder().WithGoModuleFunction(f.GoFunc(), f.Params, f.Results).Export(f.Name)
	}
	if _, err := hb.Instantiate(ctx); err != nil {
		return err
	}
	h := rt.NewHostModuleBuilder(instrument.HostModule)
	h.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		g := mod.ExportedGlobal(instrument.FuelExport).(api.MutableGlobal)
		*ctx.Value(fuelKey{}).(*uint64) += benchSlice - g.Get()
		g.Set(benchSlice)
	}), nil, nil).Export(instrument.OutOfFuelName)
	h.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, s []uint64) {
		panic(fmt.Errorf("crowdrun trap %d", uint32(s[0])))
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(instrument.TrapName)
	for _, f := range suspend.HostFunctions() {
		h.NewFunctionBuilder().WithGoModuleFunction(f.Func, f.Params, f.Results).Export(f.Name)
	}
	_, err := h.Instantiate(ctx)
	return err
}

// runWazero instantiates cm, runs _start with argv and returns stdout, the
// time _start took and the fuel used (0 for the original).
func runWazero(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, args []string) (string, time.Duration, uint64, error) {
	var stdout, stderr bytes.Buffer
	var fuel uint64
	var g api.MutableGlobal
	// The virtual clock advances with the fuel used, as in the sandbox and
	// the JS host (a Go guest's scheduler reads it: the fuel then agrees).
	used := func() uint64 {
		if g == nil {
			return 0
		}
		return fuel + benchSlice - g.Get()
	}
	st, err := wasi.NewState(wasi.Config{Args: args, Stdout: &stdout, Stderr: &stderr, FuelUsed: used})
	if err != nil {
		return "", 0, 0, err
	}
	ctx = context.WithValue(wasi.WithState(suspend.WithHost(ctx, &suspend.Host{}), st), fuelKey{}, &fuel)
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return "", 0, 0, err
	}
	defer mod.Close(ctx)
	g, instrumented := mod.ExportedGlobal(instrument.FuelExport).(api.MutableGlobal)
	if instrumented {
		g.Set(benchSlice)
	}
	t0 := time.Now()
	_, err = mod.ExportedFunction("_start").Call(ctx)
	d := time.Since(t0)
	var exit *wasi.ExitError
	if errors.As(err, &exit) && exit.Code == 0 {
		err = nil
	}
	if err != nil {
		return "", 0, 0, fmt.Errorf("%w (stderr: %s)", err, stderr.String())
	}
	if instrumented {
		fuel += benchSlice - g.Get()
	}
	return stdout.String(), d, fuel, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
