package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

const wasmPageSize = 64 << 10

// instrumentCmd is `crowdrun instrument IN.wasm -o OUT.wasm`: the rewrite the
// coordinator applies to every submitted module (docs/fuel.md), on its own.
func (m *Main) instrumentCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("instrument", "[flags] IN.wasm -o OUT.wasm")
	out := fs.String("o", "", "write the instrumented module to `OUT.wasm` (required)")
	stack := fs.Uint("stack", instrument.DefaultStackLimit, "call-depth limit in `N` frames")
	var memory uint64
	fs.Var(sizeFlag{&memory}, "memory", "cap linear memory at `SIZE`, a multiple of 64KiB (0: the module's own maximum)")
	schedule := fs.String("schedule", instrument.DefaultSchedule, "fuel `SCHEDULE`: v3; v2 (the same checks with the older NaN test, modules instrumented before v3) or v1 (every function entry checked; modules instrumented before v2)")
	nanCanon := fs.Bool("nan-canon", true, "canonicalise NaN results of float operations")
	quiet := fs.Bool("q", false, "print nothing on success")
	suspendable := fs.Bool("suspendable", false, "also make the module suspendable: able to checkpoint and resume (docs/continuations.md)")
	imports := fs.String("imports", "wasi", "import `POLICY`: 'wasi' (only crowdrun's WASI host functions, as crowdrun run) or 'any'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) != 1 {
		fs.Usage()
		return usageError("want exactly one input module, got %d", len(pos))
	}
	if *out == "" {
		fs.Usage()
		return usageError("-o OUT.wasm is required")
	}
	if *stack == 0 || *stack > 1<<20 {
		return usageError("--stack must be between 1 and %d", 1<<20)
	}
	if memory%wasmPageSize != 0 || memory > 1<<32 {
		return usageError("--memory must be a multiple of 64KiB up to 4GiB, got %s", FormatSize(memory))
	}

	var policy func(module, name string, typ wasm.FuncType) error
	switch *imports {
	case "wasi":
		policy = wasiPolicy
	case "any":
	default:
		return usageError("--imports must be 'wasi' or 'any', got %q", *imports)
	}

	in, err := os.ReadFile(pos[0])
	if err != nil {
		return usageError("%v", err)
	}
	opts := instrument.DefaultOptions()
	opts.Schedule = *schedule
	opts.StackLimit = uint32(*stack)
	opts.MemoryCapPages = uint32(memory / wasmPageSize)
	opts.CanonicalizeNaN = *nanCanon
	opts.AllowImport = policy
	bin, err := instrument.Instrument(in, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *suspendable {
		decoded, err := binary.Decode(bin)
		if err != nil {
			return err
		}
		if decoded.Start != nil {
			return fmt.Errorf("%s: %w: a module with a start function cannot be made suspendable", pos[0], suspend.ErrUnsupported)
		}
		if err := suspend.Transform(decoded, suspend.Options{}); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		bin = binary.Encode(decoded)
	}
	if err := os.WriteFile(*out, bin, 0o644); err != nil {
		return err
	}
	if !*quiet {
		capText := "the module's own"
		if memory > 0 {
			capText = FormatSize(memory)
		}
		fmt.Fprintf(m.Stderr, "%s (%d bytes) -> %s (%d bytes): schedule %s, stack %d frames, memory cap %s, NaN canonicalisation %v, suspendable %v\n",
			pos[0], len(in), *out, len(bin), opts.Schedule, opts.StackLimit, capText, opts.CanonicalizeNaN, *suspendable)
	}
	return nil
}

var errNotOffered = errors.New("not offered by the host")

// wasiPolicy allows exactly the WASI functions of crowdrun's host interface,
// with their signatures.
func wasiPolicy(module, name string, typ wasm.FuncType) error {
	if module != wasi.ModuleName {
		return fmt.Errorf("%w: only %s functions are offered", errNotOffered, wasi.ModuleName)
	}
	f, ok := wasi.Lookup(name)
	if !ok {
		return fmt.Errorf("%w: %s is not part of the host interface", errNotOffered, name)
	}
	if !bytes.Equal(valTypes(typ.Params), f.Params) || !bytes.Equal(valTypes(typ.Results), f.Results) {
		return fmt.Errorf("%w: wrong signature, want %v -> %v", errNotOffered, f.Params, f.Results)
	}
	return nil
}

// valTypes converts value types to wazero's encoding (the same bytes).
func valTypes(ts []wasm.ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}
