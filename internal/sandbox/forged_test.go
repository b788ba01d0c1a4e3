package sandbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/forge"
	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// Every compile path that takes someone else's module instruments it, so a
// module that claims to be instrumented (forged, or genuine with any budget
// or schedule) is refused on each, and never compiled as it is.
func TestForgedModulesRefusedOnEveryPath(t *testing.T) {
	e := testEngine(t)
	forgeries, err := forge.Forgeries(example(t, "loop.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	paths := map[string]func([]byte) (*sandbox.Module, error){
		"Compile":     func(b []byte) (*sandbox.Module, error) { return e.Compile(ctx, b) },
		"CompileWith": func(b []byte) (*sandbox.Module, error) { return e.CompileWith(ctx, b, instrument.DefaultOptions()) },
		"CompileSuspendable": func(b []byte) (*sandbox.Module, error) {
			return e.CompileSuspendable(ctx, b, instrument.DefaultOptions())
		},
	}
	for _, f := range forgeries {
		for name, compile := range paths {
			t.Run(f.Name+"/"+name, func(t *testing.T) {
				m, err := compile(f.Bytes)
				se, ok := err.(*sandbox.Error)
				if !ok || se.Status != sandbox.StatusInvalidModule || !strings.Contains(se.Message, "already carries crowdrun instrumentation") {
					t.Fatalf("a module with %s: module %v, error %v", f.Claim, m != nil, err)
				}
			})
		}
	}
}
