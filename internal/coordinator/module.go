package coordinator

import (
	"context"
	"errors"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// prepareModule validates a submitted module and instruments it: fuel
// metering, the call-depth limit, and a memory cap at the job's memory limit
// so memory.grow fails at the same size on every engine. It runs once per
// submission, on the trusted side; the instrumented bytes are what is stored
// (by content hash) and shipped to workers, which run them as they are. A
// refused module yields a *sandbox.Error whose message goes back to the
// submitter.
//
// The instrumenter refuses modules that use crowdrun's reserved names, so a
// submitter cannot pass off a module as already instrumented.
func (c *Coordinator) prepareModule(ctx context.Context, wasm []byte, memoryBytes uint64) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, &sandbox.Error{Status: sandbox.StatusInvalidModule, Message: "invalid module: not a WebAssembly binary (bad magic number)"}
	}
	opts := instrument.DefaultOptions()
	if pages := memoryBytes / 65536; pages > 0 && pages < 65536 {
		opts.MemoryCapPages = uint32(pages)
	}
	inst, err := instrument.Instrument(wasm, opts)
	if err != nil {
		switch {
		case errors.Is(err, instrument.ErrForbiddenImport), errors.Is(err, instrument.ErrReserved):
			return nil, &sandbox.Error{Status: sandbox.StatusForbiddenImport, Message: err.Error()}
		case errors.Is(err, instrument.ErrMemoryCap):
			return nil, &sandbox.Error{Status: sandbox.StatusMemoryLimit, Message: err.Error() + " (raise limits.memory_bytes)"}
		case errors.Is(err, instrument.ErrOptions):
			return nil, err
		}
		return nil, &sandbox.Error{Status: sandbox.StatusInvalidModule, Message: "invalid module: " + err.Error()}
	}
	// Compile checks the imports against the host interface and _start, and
	// warms the coordinator's cache for trusted re-execution later.
	m, err := c.engine.Compile(ctx, inst)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, err
	}
	return m.Instrumented, nil
}
