package prepare

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// Error is a submitted module refused before it runs: the verdict and the
// message internal/sandbox reports for it (sandbox.Error's fields).
type Error struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Submitted is sandbox.Prepare without an engine, for hosts that have none
// of their own (the JavaScript host, through this package compiled to
// wasm: cmd/crowdrun-prepare-wasm): the same steps in the same order —
// the magic number, decoding, the refusal of crowdrun's reserved names,
// the import check, then Module — so that it gives the same bytes, or
// refuses with the same *Error, as the Go host does for the same module.
func Submitted(bin []byte, opts instrument.Options, suspendable bool) (out []byte, ok bool, err error) {
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, false, &Error{StatusInvalidModule, "invalid module: not a WebAssembly binary (bad magic number)"}
	}
	decoded, err := binary.Decode(bin)
	if err != nil {
		return nil, false, &Error{StatusInvalidModule, "invalid module: " + err.Error()}
	}
	if Reserved(decoded) != "" {
		_, _, err := Module(decoded, opts, false)
		return nil, false, verdictError(err)
	}
	if err := CheckImports(decoded); err != nil {
		return nil, false, err
	}
	out, ok, err = Module(decoded, opts, suspendable)
	if err != nil {
		return nil, false, verdictError(err)
	}
	return out, ok, nil
}

func verdictError(err error) *Error {
	status, msg := Verdict(err)
	return &Error{status, msg}
}

// CheckImports is the import check of a submitted module: it refuses,
// naming it, every import that is not a function of the host interface
// (internal/wasi) with its exact signature. The crowdrun imports are
// refused too: a submitted module carries none (Reserved).
func CheckImports(m *wasm.Module) error { return checkImports(m, false) }

// CheckInstrumentedImports is CheckImports of a module crowdrun prepared
// itself: the crowdrun imports its rewrites add (out_of_fuel, trap, the
// suspend frame functions) are allowed too, each with its signature.
func CheckInstrumentedImports(m *wasm.Module) error { return checkImports(m, true) }

// suspendImports are the suspend rewrite's frame imports, by name.
var suspendImports = func() map[string]suspend.HostFunction {
	fs := map[string]suspend.HostFunction{}
	for _, f := range suspend.HostFunctions() {
		fs[f.Name] = f
	}
	return fs
}()

func checkImports(m *wasm.Module, instrumented bool) error {
	for _, imp := range m.Imports {
		if imp.Kind != wasm.ExternFunc {
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: %s %s.%s (the host provides only functions; a module must define its own memory, tables and globals)", imp.Kind, imp.Module, imp.Name)}
		}
		var params, results []api.ValueType
		switch {
		case imp.Module == wasi.ModuleName:
			hf, ok := wasi.Lookup(imp.Name)
			if !ok {
				return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s is not part of the host interface", imp.Module, imp.Name)}
			}
			params, results = hf.Params, hf.Results
		case instrumented && imp.Module == instrument.HostModule && imp.Name == instrument.OutOfFuelName:
		case instrumented && imp.Module == instrument.HostModule && imp.Name == instrument.TrapName:
			params = []api.ValueType{api.ValueTypeI32}
		case instrumented && imp.Module == instrument.HostModule && suspendImports[imp.Name].Name != "":
			f := suspendImports[imp.Name]
			params, results = f.Params, f.Results
		default:
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s (only %s functions are offered)", imp.Module, imp.Name, wasi.ModuleName)}
		}
		if uint64(imp.Type) >= uint64(len(m.Types)) {
			return &Error{StatusInvalidModule, fmt.Sprintf("invalid module: import %s.%s has an unknown type", imp.Module, imp.Name)}
		}
		t := m.Types[imp.Type]
		got, gotR := valueTypes(t.Params), valueTypes(t.Results)
		if !bytes.Equal(got, params) || !bytes.Equal(gotR, results) {
			return &Error{StatusForbiddenImport, fmt.Sprintf("forbidden import: function %s.%s has the wrong signature %s, want %s",
				imp.Module, imp.Name, sig(got, gotR), sig(params, results))}
		}
	}
	return nil
}

func valueTypes(ts []wasm.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

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
