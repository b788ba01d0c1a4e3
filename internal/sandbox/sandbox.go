// Package sandbox runs one untrusted wasm32-wasi module under crowdrun's
// limits — memory, output, wall-clock time — with crowdrun's deterministic
// host interface, and turns however the run ended into a verdict.
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/crowdrun/crowdrun/internal/wasi"
)

// Status is the verdict of a run.
type Status string

// The verdicts. docs/cli.md documents each, with the exit code of `crowdrun run`.
const (
	StatusOK              Status = "ok"
	StatusExit            Status = "exit"
	StatusTrap            Status = "trap"
	StatusMemoryLimit     Status = "memory_limit"
	StatusOutputLimit     Status = "output_limit"
	StatusTimeout         Status = "timeout"
	StatusInvalidModule   Status = "invalid_module"
	StatusForbiddenImport Status = "forbidden_import"
	StatusFuelExhausted   Status = "fuel_exhausted"
	StatusStackOverflow   Status = "stack_overflow"
)

// Defaults for Limits fields left zero.
const (
	DefaultMemory    = 256 << 20
	DefaultMaxOutput = 16 << 20
	// MaxMemory is the most a wasm32 memory can address.
	MaxMemory = 4 << 30
)

// Limits bound one run. Zero values take the defaults above; Timeout zero
// means no wall-clock limit.
type Limits struct {
	MemoryBytes uint64        // guest linear memory
	MaxOutput   int64         // stdout+stderr together
	Timeout     time.Duration // wall-clock backstop
	// Fuel is the instruction budget (0: unlimited). It needs a module
	// instrumented by internal/instrument; until Run supports it, a non-zero
	// value on an uninstrumented module is ignored.
	Fuel uint64
}

func (l Limits) withDefaults() Limits {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemory
	}
	if l.MaxOutput == 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	return l
}

// Input is what the guest sees of the world.
type Input struct {
	Args   []string // argv, argv[0] included
	Env    []string // KEY=VALUE
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Files  []wasi.File
	Seed   uint64
}

// Report says how a run ended. Its JSON form is `crowdrun run --report`.
type Report struct {
	Status          Status `json:"status"`
	ExitCode        uint32 `json:"exit_code"`
	Message         string `json:"message,omitempty"`
	WallMS          int64  `json:"wall_ms"`
	PeakMemoryBytes uint64 `json:"peak_memory_bytes"`
	// Fuel is the deterministic instruction count the run used (instrumented
	// modules only).
	Fuel uint64 `json:"fuel"`
}

// Error is a module refused before it runs.
type Error struct {
	Status  Status // StatusInvalidModule or StatusForbiddenImport
	Message string
}

func (e *Error) Error() string { return e.Message }

// Engine compiles and runs guests. It is safe for concurrent use; compiled
// modules are cached by content hash.
type Engine struct {
	rt wazero.Runtime

	mu      sync.Mutex
	modules map[[32]byte]*Module
}

// Module is a compiled guest, ready to run any number of times.
type Module struct {
	compiled wazero.CompiledModule
	minMem   uint64 // bytes the guest's memory starts with
}

// NewEngine starts a wazero runtime (the optimising compiler where available)
// with crowdrun's host interface installed.
func NewEngine(ctx context.Context) (*Engine, error) {
	cfg := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for i := range wasi.Functions {
		f := &wasi.Functions[i]
		b.NewFunctionBuilder().WithGoModuleFunction(f.GoFunc(), f.Params, f.Results).Export(f.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("installing the host interface: %w", err)
	}
	return &Engine{rt: rt, modules: map[[32]byte]*Module{}}, nil
}

// Close releases the runtime and every compiled module.
func (e *Engine) Close(ctx context.Context) error { return e.rt.Close(ctx) }

// Compile validates wasm and checks its imports against the host interface.
// A refused module yields an *Error.
func (e *Engine) Compile(ctx context.Context, bin []byte) (*Module, error) {
	key := sha256.Sum256(bin)
	e.mu.Lock()
	m, ok := e.modules[key]
	e.mu.Unlock()
	if ok {
		return m, nil
	}
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, &Error{StatusInvalidModule, "invalid module: not a WebAssembly binary (bad magic number)"}
	}
	compiled, err := e.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, &Error{StatusInvalidModule, "invalid module: " + firstLine(err.Error())}
	}
	if err := checkImports(compiled); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	if fn, ok := compiled.ExportedFunctions()["_start"]; !ok || len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 0 {
		compiled.Close(ctx)
		return nil, &Error{StatusInvalidModule, "invalid module: no _start function of type [] -> [] is exported (is it a wasm32-wasi command?)"}
	}
	m = &Module{compiled: compiled}
	for _, mem := range compiled.ExportedMemories() {
		m.minMem = uint64(mem.Min()) * wasmPage
	}
	e.mu.Lock()
	if prev, ok := e.modules[key]; ok {
		m = prev
	} else {
		e.modules[key] = m
	}
	e.mu.Unlock()
	return m, nil
}

func checkImports(c wazero.CompiledModule) error {
	for _, mem := range c.ImportedMemories() {
		mod, name, _ := mem.Import()
		return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: memory %s.%s (the host provides no memory; let the module define its own)", mod, name)}
	}
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasi.ModuleName {
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s (only %s functions are offered)", mod, name, wasi.ModuleName)}
		}
		hf, ok := wasi.Lookup(name)
		if !ok {
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s is not part of the host interface", mod, name)}
		}
		if !sameTypes(f.ParamTypes(), hf.Params) || !sameTypes(f.ResultTypes(), hf.Results) {
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s has the wrong signature %s, want %s",
				mod, name, sig(f.ParamTypes(), f.ResultTypes()), sig(hf.Params, hf.Results))}
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool { return bytes.Equal(a, b) }

func sig(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(params) + " -> " + name(results)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Run executes m's _start once with in and lim. It never returns an error:
// whatever happened is in the report.
func (e *Engine) Run(ctx context.Context, m *Module, in Input, lim Limits) Report {
	lim = lim.withDefaults()
	start := time.Now()
	rep := e.run(ctx, m, in, lim)
	rep.WallMS = time.Since(start).Milliseconds()
	return rep
}

func (e *Engine) run(ctx context.Context, m *Module, in Input, lim Limits) Report {
	if m.minMem > lim.MemoryBytes {
		return Report{Status: StatusMemoryLimit, PeakMemoryBytes: 0,
			Message: fmt.Sprintf("the module's initial memory (%d bytes) exceeds the limit of %d bytes", m.minMem, lim.MemoryBytes)}
	}
	st, err := wasi.NewState(wasi.Config{
		Args: in.Args, Env: in.Env, Stdin: in.Stdin, Stdout: in.Stdout, Stderr: in.Stderr,
		Files: in.Files, Seed: in.Seed, MaxOutput: lim.MaxOutput,
	})
	if err != nil {
		return Report{Status: StatusInvalidModule, Message: "invalid input: " + err.Error()}
	}
	alloc := &allocator{limit: lim.MemoryBytes}
	ctx = experimental.WithMemoryAllocator(ctx, alloc)
	ctx = wasi.WithState(ctx, st)
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	mod, err := e.rt.InstantiateModule(ctx, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err == nil {
		_, err = mod.ExportedFunction("_start").Call(ctx)
		mod.Close(context.WithoutCancel(ctx))
	}
	rep := classify(err, ctx)
	rep.PeakMemoryBytes = alloc.peak.Load()
	if alloc.hitLimit.Load() && rep.Status != StatusOK && rep.Status != StatusOutputLimit && rep.Status != StatusTimeout {
		rep.Status = StatusMemoryLimit
		rep.Message = fmt.Sprintf("memory limit of %d bytes reached (guest then: %s)", lim.MemoryBytes, describe(rep))
	}
	if e, ok := alloc.err.Load().(error); ok && rep.Status != StatusOK {
		rep.Message += fmt.Sprintf(" (host could not map memory: %v)", e)
	}
	return rep
}

func describe(r Report) string {
	if r.Status == StatusExit {
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
	if r.Message != "" {
		return r.Message
	}
	return string(r.Status)
}

func classify(err error, ctx context.Context) Report {
	if err == nil {
		return Report{Status: StatusOK}
	}
	var exit *wasi.ExitError
	if errors.As(err, &exit) {
		if exit.Code == 0 {
			return Report{Status: StatusOK}
		}
		return Report{Status: StatusExit, ExitCode: exit.Code, Message: fmt.Sprintf("exit status %d", exit.Code)}
	}
	if errors.Is(err, wasi.ErrOutputLimit) {
		return Report{Status: StatusOutputLimit, Message: "output limit exceeded"}
	}
	var sysExit *sys.ExitError
	if errors.As(err, &sysExit) && (sysExit.ExitCode() == sys.ExitCodeDeadlineExceeded || sysExit.ExitCode() == sys.ExitCodeContextCanceled) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Report{Status: StatusTimeout, Message: "wall-clock timeout"}
		}
		return Report{Status: StatusTimeout, Message: "run cancelled"}
	}
	return Report{Status: StatusTrap, Message: firstLine(err.Error())}
}
