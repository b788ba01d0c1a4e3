package coordinator

import (
	"context"
	"errors"

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
func (c *Coordinator) prepareModule(ctx context.Context, wasm []byte, memoryBytes uint64) (prepared []byte, suspendable bool, err error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, false, &sandbox.Error{Status: sandbox.StatusInvalidModule, Message: "invalid module: not a WebAssembly binary (bad magic number)"}
	}
	opts := instrument.DefaultOptions()
	if pages := memoryBytes / 65536; pages > 0 && pages < 65536 {
		opts.MemoryCapPages = uint32(pages)
	}
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
	return m.Instrumented, suspendable && m.Suspendable(), nil
}
