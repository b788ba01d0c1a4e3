// Package sandbox runs one untrusted wasm32-wasi module under crowdrun's
// limits — memory, output, wall-clock time — with crowdrun's deterministic
// host interface, and turns however the run ended into a verdict.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/prepare"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Status is the verdict of a run.
type Status string

// The verdicts. README.md documents each, with the exit code of `crowdrun run`.
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
	// StatusInvalidSnapshot: a continuation that does not fit the module
	// (another module's, corrupt frames, a host state that does not decode).
	StatusInvalidSnapshot Status = "invalid_snapshot"
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
	// Fuel is the instruction budget (0: unlimited): a run that uses more
	// ends with StatusFuelExhausted at its next fuel check (docs/fuel.md).
	Fuel uint64
	// CheckpointEvery takes checkpoint k at the first fuel check where the
	// fuel used exceeds k·CheckpointEvery (docs/continuations.md,
	// "Checkpoints"); 0: none. Ignored unless the module is suspendable.
	CheckpointEvery uint64
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

	// Resume continues this continuation instead of starting afresh. Stdin
	// is then the task's whole stdin (the snapshot's host state says how
	// much was read); Stdout and Stderr receive the output that follows.
	Resume *snapshot.Snapshot
	// OnCheckpoint is called at each checkpoint while the guest is
	// suspended, once everything it wrote has gone to Stdout and Stderr.
	// The snapshot's pages alias guest memory: they are valid during the
	// call only. An error ends the run (status timeout, the error as
	// message).
	OnCheckpoint func(*Checkpoint) error
}

// Report says how a run ended. Its JSON form is `crowdrun run --report`.
type Report struct {
	Status          Status `json:"status"`
	ExitCode        uint32 `json:"exit_code"`
	Message         string `json:"message,omitempty"`
	WallMS          int64  `json:"wall_ms"`
	PeakMemoryBytes uint64 `json:"peak_memory_bytes"`
	// Fuel is the deterministic instruction count the run used, since the
	// very start for a resumed run.
	Fuel uint64 `json:"fuel"`
	// Checkpoints is how many checkpoints the run took.
	Checkpoints int `json:"checkpoints,omitempty"`
	// HostError, when set, says the guest never ran because the host
	// failed (compiling a module the engine had let go of again): the
	// report is no verdict on the guest, and a worker gives the task back.
	HostError error `json:"-"`

	// lite: the run started in the module's lite variant; handoffs: how
	// many times it moved to the full module (tests).
	lite     bool
	handoffs int
}

// Error is a module refused before it runs.
type Error struct {
	// Status is StatusInvalidModule, StatusForbiddenImport, or
	// StatusMemoryLimit when the module's initial memory is above the cap.
	Status  Status
	Message string
}

func (e *Error) Error() string { return e.Message }

// Engine compiles and runs guests. It is safe for concurrent use; compiled
// modules are cached by content hash and instrumentation options.
type Engine struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache // nil: none beyond modules below
	cacheDir string                  // where cache keeps its files
	slice    uint64                  // fuel handed out per slice; DefaultSlice but in tests

	mu      sync.Mutex
	modules map[moduleKey]*Module
	keep    int    // modules whose machine code stays loaded while unused
	workers int    // goroutines compiling a module (EngineConfig.CompileWorkers)
	tick    uint64 // use counter for the least recently used module
	// plain is a runtime without the on-disk cache, started when a module
	// fails to compile through it: a damaged entry makes wazero refuse the
	// module rather than compile it again.
	plain wazero.Runtime
	cfg   wazero.RuntimeConfig // plain's configuration
	// lazyTwins: suspendable modules run first as their lite variant while
	// the full module compiles in the background (compiler only).
	lazyTwins  bool
	noPrefetch bool           // tests: the full module compiles only when a run needs it
	bg         sync.WaitGroup // background compiles under way
	closed     bool           // guarded by mu
}

type moduleKey struct {
	hash        [32]byte
	opts        string
	suspendable bool
}

// Module is a compiled, instrumented guest, ready to run any number of times.
//
// Its machine code stays loaded while the engine keeps it (the
// EngineConfig.KeepModules most recently used) or a run uses it; a module
// the engine let go of is compiled again (from the on-disk cache, if any)
// when it next runs.
type Module struct {
	key moduleKey

	// Guarded by the engine's mu.
	rt       wazero.Runtime        // the runtime compiled belongs to
	compiled wazero.CompiledModule // nil when unloaded
	users    int                   // runs using compiled now
	kept     bool                  // in the engine's modules
	lastUse  uint64
	loading  chan struct{} // closed when a reload under way ends

	minMem uint64 // bytes the guest's memory starts with
	// Instrumented is the module as it runs: the rewrite of the submitted
	// bytes (or, from CompileInstrumented, the trusted instrumented bytes).
	Instrumented []byte
	// Metadata is the instrumentation the module carries.
	Metadata instrument.Metadata
	// Hash is SHA-256 of Instrumented: the module hash of its snapshots.
	Hash [32]byte

	suspendable bool
	globals     int // crowdrun.global.N exports of a suspendable module

	// lite, for a suspendable module, is its variant without the rewind
	// twins' code (liteModule): a fresh run starts in it while m itself
	// compiles in the background, and moves to m at its first checkpoint
	// (docs/continuations.md, "Compiling the twins lazily"). nil: every run
	// uses m.
	lite *Module
}

// Suspendable reports whether runs of m can take checkpoints and resume
// from snapshots (docs/continuations.md).
func (m *Module) Suspendable() bool { return m.suspendable }

// EngineConfig configures NewEngineWith. The zero value is NewEngine's.
type EngineConfig struct {
	// Interpreter runs guests on wazero's interpreter: several times
	// slower, but compiled in a fraction of the time — the better trade
	// for a huge module run briefly (tests of the Go guest).
	Interpreter bool
	// CacheDir, if set, keeps the machine code of every module the
	// compiler translates in this directory (created if missing, mode
	// 0700), so that a later engine — another process, after a restart —
	// loads it instead of compiling again: a suspendable Go guest takes
	// tens of seconds to compile and a fraction of one to load. Entries
	// are named by a hash of the module's bytes, wazero's version and the
	// CPU's features; each is written to a temporary file and renamed into
	// place, so processes may share the directory. Its contents are
	// executed: it must be writable by this user only, and NewEngineWith
	// refuses a directory others can write to. Ignored by the interpreter.
	CacheDir string
	// KeepModules is how many compiled modules stay loaded while no run
	// uses them, the most recently used first (0: DefaultKeepModules). A
	// long-lived worker sees module after module; each holds its machine
	// code (tens of MB for a suspendable Go guest) until the engine lets it
	// go. A module let go of is compiled again when it next runs —
	// from CacheDir in a fraction of the time, if set.
	KeepModules int
	// CompileWorkers is how many goroutines compile a module's functions
	// (0: GOMAXPROCS, which follows the process's CPU affinity). A
	// worker's first compile of a large guest is on the critical path of
	// its first task, while the machine's other cores are idle. The
	// machine code is the same whatever the number.
	CompileWorkers int
}

// DefaultKeepModules is EngineConfig.KeepModules' default.
const DefaultKeepModules = 8

// DefaultCacheDir is where native workers keep compiled modules unless told
// otherwise: crowdrun/compiled under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "crowdrun", "compiled"), nil
}

// NewEngine starts a wazero runtime (the optimising compiler where available)
// with crowdrun's host interface and the fuel contract's imports installed.
// Guests are stopped by their own fuel checks, not by wazero's context
// polling, which slows compiled code several times. Compiled code is cached
// in memory only.
func NewEngine(ctx context.Context) (*Engine, error) {
	return NewEngineWith(ctx, EngineConfig{})
}

// NewInterpreterEngine is NewEngine on wazero's interpreter
// (EngineConfig.Interpreter).
func NewInterpreterEngine(ctx context.Context) (*Engine, error) {
	return NewEngineWith(ctx, EngineConfig{Interpreter: true})
}

// NewEngineWith is NewEngine configured by c.
func NewEngineWith(ctx context.Context, c EngineConfig) (*Engine, error) {
	cfg := wazero.NewRuntimeConfig()
	if c.Interpreter {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	// No DWARF-annotated stack traces: a trap must cost no more than the
	// run (prepare drops .debug_* sections anyway, since the rewrite moves
	// the code they describe).
	cfg = cfg.WithCoreFeatures(api.CoreFeaturesV2).WithDebugInfoEnabled(false)
	e := &Engine{slice: DefaultSlice, modules: map[moduleKey]*Module{}, cfg: cfg, keep: c.KeepModules, workers: c.CompileWorkers, lazyTwins: !c.Interpreter}
	if e.keep <= 0 {
		e.keep = DefaultKeepModules
	}
	if c.CacheDir != "" && !c.Interpreter {
		var err error
		if e.cache, e.cacheDir, err = openCache(c.CacheDir); err != nil {
			return nil, err
		}
		cfg = cfg.WithCompilationCache(e.cache)
	}
	var err error
	if e.rt, err = newRuntime(ctx, cfg); err != nil {
		if e.cache != nil {
			e.cache.Close(ctx)
		}
		return nil, err
	}
	return e, nil
}

// cacheLayout names the subdirectory of a CacheDir this build's engines
// use: wazero keys entries by module, its own version and the CPU, not by
// the runtime's configuration, so a configuration that changes the code
// it emits gets a directory of its own.
const cacheLayout = "wazero-v2-nodebug"

// openCache opens the on-disk compilation cache in dir, after checking that
// nobody else can write there, and removes temporary files that a process
// killed while writing an entry left behind.
func openCache(dir string) (wazero.CompilationCache, string, error) {
	dir = filepath.Join(dir, cacheLayout)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("sandbox: compilation cache: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return nil, "", fmt.Errorf("sandbox: compilation cache: %w", err)
		}
		if st.Mode().Perm()&0o022 != 0 && st.Mode()&os.ModeSticky == 0 {
			return nil, "", fmt.Errorf("sandbox: compilation cache %s: %s is writable by others (mode %v), and what it holds is executed", dir, d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) || d == filepath.Dir(filepath.Dir(dir)) {
			break // the cache directory and its own parent
		}
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox: compilation cache: %w", err)
	}
	pruneTemp(dir, time.Now().Add(-time.Hour))
	return cache, dir, nil
}

// compileModule compiles bin in the engine's runtime, or, if that fails
// with the on-disk cache on and compiles without it, in the plain runtime:
// then an entry of the cache is damaged (wazero reports it rather than
// compiling again), and the cache is emptied so that the next process
// does not stumble on it too.
// Its functions compile on EngineConfig.CompileWorkers goroutines.
func (e *Engine) compileModule(ctx context.Context, bin []byte) (wazero.Runtime, wazero.CompiledModule, error) {
	workers := e.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx = experimental.WithCompilationWorkers(ctx, workers)
	c, err := e.rt.CompileModule(ctx, bin)
	if err == nil || e.cache == nil {
		return e.rt, c, err
	}
	e.mu.Lock()
	if e.plain == nil {
		e.plain, err = newRuntime(ctx, e.cfg)
	}
	plain := e.plain
	e.mu.Unlock()
	if plain == nil {
		return nil, nil, err
	}
	c, perr := plain.CompileModule(ctx, bin)
	if perr != nil {
		return nil, nil, err
	}
	emptyCache(e.cacheDir)
	return plain, c, nil
}

// emptyCache removes every entry of the on-disk cache under dir (files
// only: another process may be writing into its directories).
func emptyCache(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Remove(path)
		}
		return nil
	})
}

// pruneTemp removes entries' temporary files (NAME.*.tmp) older than before
// under dir: what a process killed mid-write leaves. Younger ones may be
// another process's write in progress.
func pruneTemp(dir string, before time.Time) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), ".tmp") {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(before) {
			os.Remove(path)
		}
		return nil
	})
}

// newRuntime starts a wazero runtime with the host interface and the fuel
// imports installed.
func newRuntime(ctx context.Context, cfg wazero.RuntimeConfig) (wazero.Runtime, error) {
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
	if err := installMeterHost(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("installing the fuel imports: %w", err)
	}
	return rt, nil
}

// Close releases the runtime and every compiled module (the on-disk cache
// stays), after the background compiles under way end.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.bg.Wait()
	err := e.rt.Close(ctx)
	e.mu.Lock()
	if e.plain != nil {
		err = errors.Join(err, e.plain.Close(ctx))
	}
	e.mu.Unlock()
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// Compile is CompileWith the default instrumentation options.
func (e *Engine) Compile(ctx context.Context, bin []byte) (*Module, error) {
	return e.CompileWith(ctx, bin, instrument.DefaultOptions())
}

// CompileWith prepares bin to run: it is checked against the host interface
// and instrumented with opts, whatever it says about itself — a module that
// already carries crowdrun's instrumentation is refused (docs/fuel.md). A
// refused module yields an *Error.
func (e *Engine) CompileWith(ctx context.Context, bin []byte, opts instrument.Options) (*Module, error) {
	return e.compile(ctx, bin, opts, false)
}

// CompileSuspendable is CompileWith, and makes a module that is not
// instrumented yet suspendable too, so that its runs can checkpoint and
// resume. A module the suspend rewrite refuses is compiled without it:
// check Suspendable.
func (e *Engine) CompileSuspendable(ctx context.Context, bin []byte, opts instrument.Options) (*Module, error) {
	return e.compile(ctx, bin, opts, true)
}

func (e *Engine) compile(ctx context.Context, bin []byte, opts instrument.Options, suspendable bool) (*Module, error) {
	key := moduleKey{sha256.Sum256(bin), fmt.Sprintf("%s/%d/%d/%t", opts.Schedule, opts.StackLimit, opts.MemoryCapPages, opts.CanonicalizeNaN), suspendable}
	if m := e.cached(key); m != nil {
		return m, nil
	}
	out, _, err := Prepare(bin, opts, suspendable)
	if err != nil {
		return nil, err
	}
	return e.compilePrepared(ctx, key, out, bin)
}

// CompileInstrumented compiles bin as it is: a module that crowdrun's own
// instrumenter produced on trusted ground — a module a worker fetched from
// its coordinator by content hash (and checked against it), the bytes the
// coordinator prepared itself. It must never be given a module from a
// submitter or a user: such a module goes through CompileWith, which
// instruments it. The imports are checked against the host interface and
// the fuel contract; the module must carry the instrumentation metadata.
func (e *Engine) CompileInstrumented(ctx context.Context, bin []byte) (*Module, error) {
	key := moduleKey{hash: sha256.Sum256(bin), opts: "instrumented"}
	if m := e.cached(key); m != nil {
		return m, nil
	}
	decoded, err := decodeOutline(bin)
	if err != nil {
		return nil, &Error{StatusInvalidModule, "invalid module: " + err.Error()}
	}
	if decoded.CustomSection(instrument.CustomSection) == nil {
		return nil, &Error{StatusInvalidModule, "invalid module: not instrumented by crowdrun (no crowdrun custom section)"}
	}
	if err := prepare.CheckInstrumentedImports(decoded); err != nil {
		return nil, sandboxError(err)
	}
	return e.compileDecoded(ctx, key, bin, decoded, nil)
}

// compilePrepared compiles instrumented bytes and caches them under key;
// orig, if given, is the submitted module, to explain a refusal in its own
// terms.
func (e *Engine) compilePrepared(ctx context.Context, key moduleKey, instrumented, orig []byte) (*Module, error) {
	decoded, err := decodeOutline(instrumented)
	if err != nil {
		return nil, fmt.Errorf("sandbox: decoding the instrumented module: %w", err)
	}
	return e.compileDecoded(ctx, key, instrumented, decoded, orig)
}

// compileDecoded is compilePrepared given the outline of instrumented
// (decodeOutline).
func (e *Engine) compileDecoded(ctx context.Context, key moduleKey, instrumented []byte, decoded *wasm.Module, orig []byte) (*Module, error) {
	m := &Module{Instrumented: instrumented, key: key}
	var err error
	c := decoded.CustomSection(instrument.CustomSection)
	if c == nil || json.Unmarshal(c.Data, &m.Metadata) != nil || m.Metadata.Version != 1 {
		return nil, &Error{StatusInvalidModule, "invalid module: unreadable crowdrun instrumentation metadata"}
	}
	m.Hash = sha256.Sum256(m.Instrumented)
	var lite *Module
	if st := decoded.ExportByName(suspend.StateExport); st != nil {
		m.suspendable = true
		m.globals = len(decoded.Globals)
		if e.lazyTwins && st.Kind == wasm.ExternGlobal {
			if lb, ok := liteModule(instrumented, st.Index, decoded.NumImportedFuncs()); ok {
				lite = &Module{Instrumented: lb, key: moduleKey{key.hash, key.opts + "/lite", key.suspendable},
					Metadata: m.Metadata, Hash: sha256.Sum256(lb), globals: m.globals}
			}
		}
	}
	// The module whose machine code is needed now: the lite variant if
	// any (m compiles in the background), else m.
	now := m
	if lite != nil {
		now = lite
	}
	now.rt, now.compiled, err = e.compileModule(ctx, now.Instrumented)
	if err != nil {
		// Explain with the submitted module's own indices where possible.
		if orig != nil {
			if _, origErr := e.rt.CompileModule(ctx, orig); origErr != nil {
				err = origErr
			}
		}
		return nil, &Error{StatusInvalidModule, "invalid module: " + firstLine(err.Error())}
	}
	if fn, ok := now.compiled.ExportedFunctions()["_start"]; !ok || len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 0 {
		now.compiled.Close(ctx)
		return nil, &Error{StatusInvalidModule, "invalid module: no _start function of type [] -> [] is exported (is it a wasm32-wasi command?)"}
	}
	for _, mem := range now.compiled.ExportedMemories() {
		m.minMem = uint64(mem.Min()) * wasmPage
	}
	if lite != nil {
		lite.minMem = m.minMem
	}
	e.mu.Lock()
	prefetch := false
	if prev, ok := e.modules[key]; ok {
		now.compiled.Close(ctx)
		m = prev
	} else {
		e.modules[key] = m
		m.kept = true
		if lite != nil {
			m.lite = lite
			e.modules[lite.key] = lite
			lite.kept = true
			prefetch = !e.closed && !e.noPrefetch
			if prefetch {
				e.bg.Add(1)
			}
		}
	}
	e.tick++
	m.lastUse = e.tick
	if m.lite != nil {
		m.lite.lastUse = e.tick
	}
	e.trimLocked(ctx)
	e.mu.Unlock()
	if prefetch {
		go func() {
			defer e.bg.Done()
			bctx := context.WithoutCancel(ctx)
			if _, _, err := e.acquire(bctx, m); err == nil {
				e.release(bctx, m)
			}
		}()
	}
	return m, nil
}

// loaded reports whether m's machine code is loaded now.
func (e *Engine) loaded(m *Module) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return m.compiled != nil
}

// Rewindable waits until m's full code is compiled (for a suspendable
// module run first as its lite variant, the background compile), so that
// a run can rewind without waiting; it returns at once for any other
// module whose code is loaded.
func (e *Engine) Rewindable(ctx context.Context, m *Module) error {
	if _, _, err := e.acquire(ctx, m); err != nil {
		return err
	}
	e.release(ctx, m)
	return nil
}

// cached returns the module compiled under key, if the engine keeps it.
func (e *Engine) cached(key moduleKey) *Module {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.modules[key]
	if m != nil {
		e.tick++
		m.lastUse = e.tick
	}
	return m
}

// trimLocked lets go of the least recently used modules beyond e.keep: out
// of the engine's map, and their machine code unloaded unless a run uses
// it (the last such run unloads it). e.mu is held.
func (e *Engine) trimLocked(ctx context.Context) {
	for len(e.modules) > e.keep {
		var lru *Module
		for _, m := range e.modules {
			if lru == nil || m.lastUse < lru.lastUse {
				lru = m
			}
		}
		delete(e.modules, lru.key)
		lru.kept = false
		if lru.users == 0 && lru.compiled != nil {
			lru.compiled.Close(context.WithoutCancel(ctx))
			lru.compiled = nil
		}
	}
}

// acquire makes m's machine code loaded for a run and counts the run as
// its user; release undoes it. A module the engine let go of is compiled
// again, and kept again.
func (e *Engine) acquire(ctx context.Context, m *Module) (wazero.Runtime, wazero.CompiledModule, error) {
	e.mu.Lock()
	for m.compiled == nil && m.loading != nil {
		wait := m.loading
		e.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		e.mu.Lock()
	}
	if m.compiled == nil {
		done := make(chan struct{})
		m.loading = done
		e.mu.Unlock()
		rt, c, err := e.compileModule(ctx, m.Instrumented)
		e.mu.Lock()
		m.loading = nil
		close(done)
		if err != nil {
			e.mu.Unlock()
			return nil, nil, fmt.Errorf("sandbox: compiling module %x again: %w", m.Hash[:6], err)
		}
		m.rt, m.compiled = rt, c
		if !m.kept {
			if prev, ok := e.modules[m.key]; !ok || prev == m {
				e.modules[m.key] = m
				m.kept = true
			}
		}
	}
	m.users++
	e.tick++
	m.lastUse = e.tick
	rt, c := m.rt, m.compiled
	e.trimLocked(ctx)
	e.mu.Unlock()
	return rt, c, nil
}

func (e *Engine) release(ctx context.Context, m *Module) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m.users--
	if m.users == 0 && !m.kept && m.compiled != nil {
		m.compiled.Close(context.WithoutCancel(ctx))
		m.compiled = nil
	}
}

func instrumentError(err error) error {
	status, msg := prepare.Verdict(err)
	return &Error{Status(status), msg}
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
		return Report{Status: StatusMemoryLimit,
			Message: fmt.Sprintf("the module's initial memory (%d bytes) exceeds the limit of %d bytes", m.minMem, lim.MemoryBytes)}
	}
	met := &meter{ctx: ctx, budget: lim.Fuel, slice: e.slice, host: &suspend.Host{}}
	if m.suspendable {
		met.every = lim.CheckpointEvery
	}
	if lim.Timeout > 0 {
		met.deadline = time.Now().Add(lim.Timeout)
	}
	cfg := wasi.Config{
		Args: in.Args, Env: in.Env, Stdin: in.Stdin, Stdout: in.Stdout, Stderr: in.Stderr,
		Files: in.Files, Seed: in.Seed, MaxOutput: lim.MaxOutput, FuelUsed: met.used,
	}
	var st *wasi.State
	var err error
	if in.Resume != nil {
		if !m.suspendable {
			return Report{Status: StatusInvalidSnapshot, Message: "invalid snapshot: the module is not suspendable"}
		}
		st, err = wasi.RestoreState(cfg, in.Resume.Host)
		if err != nil {
			return Report{Status: StatusInvalidSnapshot, Message: "invalid snapshot: host state: " + err.Error()}
		}
	} else if st, err = wasi.NewState(cfg); err != nil {
		return Report{Status: StatusInvalidModule, Message: "invalid input: " + err.Error()}
	}
	alloc := &allocator{limit: lim.MemoryBytes}
	ctx = experimental.WithMemoryAllocator(ctx, alloc)
	ctx = wasi.WithState(ctx, st)
	ctx = suspend.WithHost(ctx, met.host)
	ctx = context.WithValue(ctx, meterKey{}, met)
	// A fresh run of a suspendable module starts in its lite variant
	// (no rewind twins) unless the full code is loaded already; the runner
	// moves to the full module at the first checkpoint.
	use := m
	if m.lite != nil && in.Resume == nil && !e.loaded(m) {
		use = m.lite
	}
	rt, compiled, err := e.acquire(ctx, use)
	if err != nil {
		if ctx.Err() != nil {
			return Report{Status: StatusTimeout, Message: "run cancelled", HostError: err}
		}
		return Report{Status: StatusTrap, Message: "host: " + err.Error(), HostError: err}
	}
	defer e.release(ctx, use)
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	memHit := false
	checkpoints, handoffs := 0, 0
	if err == nil {
		r := &runner{e: e, m: m, mod: mod, lite: use != m, met: met, st: st, in: in}
		err = r.run(ctx)
		checkpoints, handoffs = r.checkpoints, r.handoffs
		if g := r.mod.ExportedGlobal(instrument.MemLimitExport); g != nil && g.Get() != 0 {
			memHit = true
		}
		r.mod.Close(context.WithoutCancel(ctx))
		if r.full {
			e.release(ctx, m)
		}
	}
	rep := classify(err)
	rep.Fuel = met.used()
	rep.Checkpoints = checkpoints
	rep.lite, rep.handoffs = use != m, handoffs
	rep.PeakMemoryBytes = alloc.peak.Load()
	if (memHit || alloc.hitLimit.Load()) && rep.Status != StatusOK && rep.Status != StatusOutputLimit && rep.Status != StatusTimeout && rep.Status != StatusInvalidSnapshot {
		rep.Status = StatusMemoryLimit
		rep.Message = fmt.Sprintf("memory limit of %d bytes reached (guest then: %s)", min(lim.MemoryBytes, m.memCap()), describe(rep))
	}
	if e, ok := alloc.err.Load().(error); ok && rep.Status != StatusOK {
		rep.Message += fmt.Sprintf(" (host could not map memory: %v)", e)
	}
	return rep
}

// memCap is the memory cap the module was instrumented with, in bytes.
func (m *Module) memCap() uint64 {
	if m.Metadata.MemoryCapPages == 0 {
		return MaxMemory
	}
	return uint64(m.Metadata.MemoryCapPages) * wasmPage
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

func classify(err error) Report {
	if err == nil {
		return Report{Status: StatusOK}
	}
	var exit *wasi.ExitError
	switch {
	case errors.As(err, &exit):
		if exit.Code == 0 {
			return Report{Status: StatusOK}
		}
		return Report{Status: StatusExit, ExitCode: exit.Code, Message: fmt.Sprintf("exit status %d", exit.Code)}
	case errors.Is(err, wasi.ErrOutputLimit):
		return Report{Status: StatusOutputLimit, Message: "output limit exceeded"}
	case errors.Is(err, errFuelExhausted):
		return Report{Status: StatusFuelExhausted, Message: "fuel exhausted"}
	case errors.Is(err, errStackOverflow):
		return Report{Status: StatusStackOverflow, Message: "call depth limit exceeded"}
	case errors.Is(err, errTimeout):
		return Report{Status: StatusTimeout, Message: "wall-clock timeout"}
	case errors.Is(err, errCancelled):
		return Report{Status: StatusTimeout, Message: "run cancelled"}
	case errors.Is(err, errBadSnapshot), errors.Is(err, suspend.ErrBadFrames):
		return Report{Status: StatusInvalidSnapshot, Message: firstLine(err.Error())}
	case errors.Is(err, errMemoryLimitOnResume):
		return Report{Status: StatusMemoryLimit, Message: firstLine(err.Error())}
	case errors.Is(err, errCheckpoint):
		return Report{Status: StatusTimeout, Message: firstLine(err.Error())}
	case errors.Is(err, errHost):
		return Report{Status: StatusTrap, Message: firstLine(err.Error()), HostError: err}
	}
	var te *trapError
	if errors.As(err, &te) {
		return Report{Status: StatusTrap, Message: te.Error()}
	}
	return Report{Status: StatusTrap, Message: firstLine(err.Error())}
}
