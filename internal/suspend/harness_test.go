package suspend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// A minimal host for the tests: wazero + the WASI host + a crowdrun host
// module with out_of_fuel (fuel slices as in docs/fuel.md; suspends at every
// Nth call), trap, and the frame imports.

type env struct {
	ctx context.Context
	rt  wazero.Runtime
}

type runKey struct{}

// run is the host's view of one segment.
type run struct {
	fuel, state  api.MutableGlobal
	base, s      uint64
	slice        uint64
	checks       int // out_of_fuel calls (not counting rewind arrivals)
	suspendEvery int // suspend at every Nth check; 0: never
	host         *Host
	suspended    bool
}

func (r *run) used() uint64 {
	if r.fuel == nil {
		return r.base
	}
	return r.base + r.s - r.fuel.Get()
}

var errTrap = errors.New("crowdrun trap")

func newEnv(t testing.TB) *env {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { rt.Close(ctx) })
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for i := range wasi.Functions {
		f := &wasi.Functions[i]
		b.NewFunctionBuilder().WithGoModuleFunction(f.GoFunc(), f.Params, f.Results).Export(f.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	h := rt.NewHostModuleBuilder(HostModule)
	h.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, _ []uint64) {
		r := ctx.Value(runKey{}).(*run)
		if r.state != nil && r.state.Get() == StateRewinding {
			if err := r.host.RewindDone(); err != nil {
				panic(err)
			}
			r.state.Set(StateNormal)
			return
		}
		if r.state != nil && r.state.Get() != StateNormal {
			panic("out_of_fuel while unwinding")
		}
		r.base = r.used()
		r.s = r.slice
		r.fuel.Set(r.slice)
		r.checks++
		if r.suspendEvery > 0 && r.checks%r.suspendEvery == 0 {
			r.state.Set(StateUnwinding)
			r.suspended = true
		}
	}), nil, nil).Export(OutOfFuelName)
	h.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, s []uint64) {
		panic(fmt.Errorf("%w %d", errTrap, uint32(s[0])))
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(instrument.TrapName)
	for _, f := range HostFunctions() {
		h.NewFunctionBuilder().WithGoModuleFunction(f.Func, f.Params, f.Results).Export(f.Name)
	}
	if _, err := h.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	return &env{ctx: ctx, rt: rt}
}

// guest is a compiled, instrumented (and maybe transformed) module.
type guest struct {
	compiled wazero.CompiledModule
	globals  []string // exported mutable globals
	size     int      // bytes of the module compiled
	compile  time.Duration
}

// Levels of preparation of a guest.
const (
	levelOriginal     = iota // as built: no fuel, no depth limit
	levelInstrumented        // instrument.InstrumentModule
	levelSuspendable         // instrumented, then Transform
)

// prepare instruments bin and, if suspendable, transforms it.
func (e *env) prepare(t testing.TB, bin []byte, suspendable bool) *guest {
	t.Helper()
	level := levelInstrumented
	if suspendable {
		level = levelSuspendable
	}
	return e.prepareLevel(t, bin, level)
}

// prepareLevel prepares bin at level; the guest records its encoded size
// and the time wazero took to compile it.
func (e *env) prepareLevel(t testing.TB, bin []byte, level int) *guest {
	t.Helper()
	m, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	if level >= levelInstrumented {
		if err := instrument.InstrumentModule(m, instrument.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if level >= levelSuspendable {
		if err := Transform(m, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	out := binary.Encode(m)
	t0 := time.Now()
	c, err := e.rt.CompileModule(e.ctx, out)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	g := &guest{compiled: c, size: len(out), compile: time.Since(t0)}
	t.Cleanup(func() { c.Close(e.ctx) })
	for _, ex := range m.Exports {
		if ex.Kind != wasm.ExternGlobal {
			continue
		}
		if gt, ok := m.GlobalType(ex.Index); ok && gt.Mutable {
			g.globals = append(g.globals, ex.Name)
		}
	}
	return g
}

type input struct {
	args  []string
	stdin string
}

// continuation is everything a fresh instance needs to go on.
type continuation struct {
	mem     []byte
	globals map[string]uint64
	frames  []byte
	host    []byte
	base, s uint64
	checks  int
}

type result struct {
	out    string
	fuel   uint64
	exit   int64 // -1: returned from _start
	err    error
	segs   int
	checks int
}

// segment runs one instance from the start (c == nil) or from c; it returns
// the next continuation if the guest suspended.
func (e *env) segment(g *guest, in input, c *continuation, every int, slice uint64, out *bytes.Buffer) (*continuation, *result, error) {
	r := &run{slice: slice, suspendEvery: every, host: &Host{}}
	cfg := wasi.Config{Args: in.args, Stdin: bytes.NewReader([]byte(in.stdin)), Stdout: out, Stderr: out, FuelUsed: r.used}
	var st *wasi.State
	var err error
	if c == nil {
		st, err = wasi.NewState(cfg)
	} else {
		st, err = wasi.RestoreState(cfg, c.host)
	}
	if err != nil {
		return nil, nil, err
	}
	ctx := wasi.WithState(WithHost(context.WithValue(e.ctx, runKey{}, r), r.host), st)
	mod, err := e.rt.InstantiateModule(ctx, g.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, nil, err
	}
	defer mod.Close(e.ctx)
	if fg, ok := mod.ExportedGlobal(instrument.FuelExport).(api.MutableGlobal); ok {
		r.fuel = fg
	}
	if sg, ok := mod.ExportedGlobal(StateExport).(api.MutableGlobal); ok {
		r.state = sg
	}
	if c == nil {
		r.s = slice
		if r.fuel != nil {
			r.fuel.Set(slice)
		}
	} else {
		mem := mod.Memory()
		if have := mem.Size(); uint32(len(c.mem)) > have {
			if _, ok := mem.Grow((uint32(len(c.mem)) - have) / 65536); !ok {
				return nil, nil, errors.New("cannot grow memory")
			}
		}
		if !mem.Write(0, c.mem) {
			return nil, nil, errors.New("cannot write memory")
		}
		for name, v := range c.globals {
			mod.ExportedGlobal(name).(api.MutableGlobal).Set(v)
		}
		r.base, r.s, r.checks = c.base, c.s, c.checks
		frames, err := UnmarshalFrames(c.frames)
		if err != nil {
			return nil, nil, err
		}
		r.host.StartRewind(frames)
		r.state.Set(StateRewinding)
	}
	res := &result{exit: -1}
	_, err = mod.ExportedFunction("_start").Call(ctx)
	var exit *wasi.ExitError
	if errors.As(err, &exit) {
		res.exit, err = int64(exit.Code), nil
	}
	res.err = err
	res.fuel = r.used()
	res.checks = r.checks
	if err == nil && r.state != nil && r.state.Get() == StateUnwinding {
		if res.exit >= 0 {
			return nil, nil, errors.New("guest exited while unwinding")
		}
		mem, _ := mod.Memory().Read(0, mod.Memory().Size())
		nc := &continuation{mem: bytes.Clone(mem), globals: map[string]uint64{},
			frames: MarshalFrames(r.host.Frames()), host: st.MarshalHost(),
			base: r.base, s: r.s, checks: r.checks}
		for _, name := range g.globals {
			nc.globals[name] = mod.ExportedGlobal(name).Get()
		}
		return nc, res, nil
	}
	return nil, res, nil
}

// runAll runs g to the end, suspending at every Nth check (0: never) and
// resuming each time in a fresh instance.
func (e *env) runAll(g *guest, in input, every int, slice uint64, maxSegs int) (*result, error) {
	var out bytes.Buffer
	var c *continuation
	for segs := 1; ; segs++ {
		if segs > maxSegs {
			return nil, fmt.Errorf("more than %d segments", maxSegs)
		}
		nc, res, err := e.segment(g, in, c, every, slice, &out)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", segs, err)
		}
		if nc == nil {
			res.out = out.String()
			res.segs = segs
			return res, nil
		}
		c = nc
	}
}

func readExample(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../" + path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
