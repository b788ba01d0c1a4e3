// Package prepare turns a submitted module into the module that runs: it
// instruments it (fuel metering, the call-depth limit, the memory cap, NaN
// canonicalisation: internal/instrument) and, when asked, makes it
// suspendable (internal/suspend). It is the one rewrite every trusted entry
// point applies — the coordinator at submission, `crowdrun run`, the
// JavaScript host's `run.mjs` (through this package compiled to wasm) — so
// every host runs byte-identical modules.
//
// There is no "already instrumented" shortcut: a module that carries
// crowdrun's names (imports from module "crowdrun", exports "crowdrun.*", a
// "crowdrun" custom section) is refused with ErrInstrumented, since nothing
// a module says about itself proves that it meters itself (docs/fuel.md,
// "Every module is instrumented by the one who runs it").
//
// The package depends on no engine, so that it builds for GOOS=wasip1.
package prepare

import (
	"errors"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// ErrInstrumented: the module carries crowdrun's reserved names, typically
// because it is the output of `crowdrun instrument` (or a forgery of it).
var ErrInstrumented = errors.New("the module already carries crowdrun instrumentation")

// Verdicts, as internal/sandbox names them.
const (
	StatusInvalidModule   = "invalid_module"
	StatusForbiddenImport = "forbidden_import"
	StatusMemoryLimit     = "memory_limit"
)

// Reserved reports the first crowdrun-reserved name m uses, or "".
func Reserved(m *wasm.Module) string {
	for _, imp := range m.Imports {
		if imp.Module == instrument.HostModule {
			return fmt.Sprintf("it imports %s.%s", imp.Module, imp.Name)
		}
	}
	for _, e := range m.Exports {
		if len(e.Name) >= len("crowdrun.") && e.Name[:len("crowdrun.")] == "crowdrun." {
			return fmt.Sprintf("it exports %q", e.Name)
		}
	}
	if m.CustomSection(instrument.CustomSection) != nil {
		return fmt.Sprintf("it has a %q custom section", instrument.CustomSection)
	}
	return ""
}

// Module rewrites m in place and returns its encoding: instrumented with
// opts and, if suspendable is set and the suspend rewrite can handle it,
// suspendable too (ok reports which). A module the suspend rewrite cannot
// handle (a start function, reference-typed locals, v128 or imported
// globals) is returned instrumented only, with ok false. m must have passed
// the host's import check; Module refuses crowdrun's reserved names itself.
func Module(m *wasm.Module, opts instrument.Options, suspendable bool) (out []byte, ok bool, err error) {
	if r := Reserved(m); r != "" {
		return nil, false, fmt.Errorf("%w (%s): give crowdrun the original module, it instruments every module itself", ErrInstrumented, r)
	}
	if err := instrument.InstrumentModule(m, opts); err != nil {
		return nil, false, err
	}
	out = binary.Encode(m)
	if !suspendable || m.Start != nil {
		return out, false, nil
	}
	if err := suspend.Transform(m, suspend.Options{}); err != nil {
		if errors.Is(err, suspend.ErrUnsupported) {
			return out, false, nil
		}
		return nil, false, fmt.Errorf("making the module suspendable: %w", err)
	}
	return binary.Encode(m), true, nil
}

// Verdict classifies an error of Module as the verdict a host reports and
// the message it gives.
func Verdict(err error) (status, message string) {
	switch {
	case errors.Is(err, ErrInstrumented):
		return StatusInvalidModule, "invalid module: " + err.Error()
	case errors.Is(err, instrument.ErrForbiddenImport):
		return StatusForbiddenImport, err.Error()
	case errors.Is(err, instrument.ErrMemoryCap):
		return StatusMemoryLimit, err.Error()
	}
	return StatusInvalidModule, "invalid module: " + err.Error()
}
