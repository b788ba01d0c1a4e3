package coordinator

import (
	"context"
	"errors"

	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// prepareModule validates a submitted module and turns it into what workers
// run. It runs once per submission, on the trusted side; the result is stored
// by its content hash. A refused module yields a *sandbox.Error whose message
// goes back to the submitter.
//
// When internal/instrument lands, the instrumenter rewrites the module here
// (fuel metering, call-depth limit, memory cap) and the instrumented bytes
// are what gets stored and shipped.
func (c *Coordinator) prepareModule(ctx context.Context, wasm []byte) ([]byte, error) {
	if _, err := c.engine.Compile(ctx, wasm); err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, err
	}
	return wasm, nil
}
