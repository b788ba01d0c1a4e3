package coordinator

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// prepareModule validates a submitted module, instruments it (fuel
// metering, the call-depth limit, a memory cap at the job's memory limit so
// memory.grow fails at the same size on every engine) and makes it
// suspendable, so that its replicas can run in segments between
// checkpoints. It runs once per submission, on the trusted side; the
// prepared bytes are what is stored (by content hash) and shipped to
// workers, which run them as they are. A module the suspend rewrite cannot
// handle is kept instrumented only (suspendable false): it runs whole,
// without checkpoints. A refused module yields a *sandbox.Error whose
// message goes back to the submitter.
//
// The instrumenter refuses modules that use crowdrun's reserved names, so a
// submitter cannot pass off a module as already instrumented.
//
// The outcome (prepared bytes, or the refusal) of the last few modules is
// kept (preparedCache): the same module submitted again — the usual case,
// and what an owner retrying past a quota does — costs a hash, not an
// instrumentation and a compile.
func (c *Coordinator) prepareModule(ctx context.Context, wasm []byte, memoryBytes uint64) (prepared []byte, suspendable bool, err error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, false, &sandbox.Error{Status: sandbox.StatusInvalidModule, Message: "invalid module: not a WebAssembly binary (bad magic number)"}
	}
	opts := instrument.DefaultOptions()
	if pages := memoryBytes / 65536; pages > 0 && pages < 65536 {
		opts.MemoryCapPages = uint32(pages)
	}
	key := preparedKey{module: sha256.Sum256(wasm), pages: opts.MemoryCapPages}
	if e, ok := c.prepared.get(key); ok {
		return e.prepared, e.suspendable, e.err
	}
	prepared, suspendable, err = c.prepareUncached(ctx, wasm, opts)
	var se *sandbox.Error
	if err == nil || errors.As(err, &se) {
		c.prepared.put(key, &preparedEntry{prepared: prepared, suspendable: suspendable, err: err})
	}
	return prepared, suspendable, err
}

func (c *Coordinator) prepareUncached(ctx context.Context, wasm []byte, opts instrument.Options) (prepared []byte, suspendable bool, err error) {
	out, suspendable, err := sandbox.Prepare(wasm, opts, !c.cfg.NoCheckpoints)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			if se.Status == sandbox.StatusMemoryLimit {
				return nil, false, &sandbox.Error{Status: se.Status, Message: se.Message + " (raise limits.memory_bytes)"}
			}
			return nil, false, se
		}
		return nil, false, err
	}
	// Compile checks the imports against the host interface and _start, and
	// warms the coordinator's cache for trusted re-execution later.
	m, err := c.engine.CompileInstrumented(ctx, out)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			return nil, false, se
		}
		return nil, false, err
	}
	// A suspendable module's rewind twins compile after its lite variant
	// (sandbox): wait for them, so that the whole module is validated here,
	// at submission, not at a worker's first checkpoint.
	if err := c.engine.Rewindable(ctx, m); err != nil {
		if ctx.Err() != nil {
			return nil, false, err // not the module's fault: not cached
		}
		return nil, false, &sandbox.Error{Status: sandbox.StatusInvalidModule, Message: "invalid module: " + err.Error()}
	}
	return m.Instrumented, suspendable && m.Suspendable(), nil
}

// preparedCache keeps the outcome of preparing the last modules, at most
// preparedCacheEntries of them and preparedCacheBytes of prepared code.
type preparedCache struct {
	mu      sync.Mutex
	entries map[preparedKey]*preparedEntry
	order   []preparedKey // oldest first
	bytes   int
}

const (
	preparedCacheEntries = 16
	preparedCacheBytes   = 64 << 20
)

type preparedKey struct {
	module [32]byte // SHA-256 of the submitted bytes
	pages  uint32   // the memory cap the instrumenter wrote in
}

type preparedEntry struct {
	prepared    []byte
	suspendable bool
	err         error // a *sandbox.Error: the module is refused
}

func (pc *preparedCache) get(k preparedKey) (*preparedEntry, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	e, ok := pc.entries[k]
	return e, ok
}

func (pc *preparedCache) put(k preparedKey, e *preparedEntry) {
	if len(e.prepared) > preparedCacheBytes/4 {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.entries == nil {
		pc.entries = map[preparedKey]*preparedEntry{}
	}
	if _, ok := pc.entries[k]; ok {
		return
	}
	pc.entries[k] = e
	pc.order = append(pc.order, k)
	pc.bytes += len(e.prepared)
	for len(pc.order) > preparedCacheEntries || pc.bytes > preparedCacheBytes {
		old := pc.order[0]
		pc.order = pc.order[1:]
		pc.bytes -= len(pc.entries[old].prepared)
		delete(pc.entries, old)
	}
}
