package prepare_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/prepare"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// importModule is a module with one import and an empty _start.
func importModule(module, name string, kind byte, typ []byte) []byte {
	imp := []byte{byte(len(module))}
	imp = append(imp, module...)
	imp = append(imp, byte(len(name)))
	imp = append(imp, name...)
	imp = append(imp, kind)
	imp = append(imp, typ...)
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 4, 1, 0x60, 0, 0) // type section: () -> ()
	b = append(b, 2, byte(1+len(imp)), 1)
	b = append(b, imp...)
	b = append(b, 3, 2, 1, 0) // one function of type 0, exported as _start
	return append(b, 7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 1, 10, 4, 1, 2, 0, 11)
}

// Submitted gives, module for module, what sandbox.Prepare gives: the same
// bytes, or the same verdict and message.
func TestSubmittedIsSandboxPrepare(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	var names []string
	mods := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".wasm" {
			return err
		}
		if strings.Contains(p, "gokernel") && testing.Short() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		names = append(names, p)
		mods[p] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("only %d example modules", len(names))
	}
	factor := mods[filepath.Join(root, "factor.wasm")]
	instrumented, err := instrument.Instrument(factor, instrument.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	crafted := map[string][]byte{
		"empty":                 nil,
		"not wasm":              []byte("#!/bin/sh\necho hi\n"),
		"truncated":             factor[:len(factor)/2],
		"instrumented already":  instrumented,
		"env import":            importModule("env", "f", 0, []byte{0}),
		"unknown wasi function": importModule("wasi_snapshot_preview1", "nope", 0, []byte{0}),
		"wrong signature":       importModule("wasi_snapshot_preview1", "fd_write", 0, []byte{0}),
		"unknown type":          importModule("wasi_snapshot_preview1", "sched_yield", 0, []byte{9}),
		"memory import":         importModule("env", "memory", 2, []byte{0, 1}),
		"crowdrun import":       importModule("crowdrun", "out_of_fuel", 0, []byte{0}),
	}
	for name, b := range crafted {
		names = append(names, name)
		mods[name] = b
	}
	small := instrument.DefaultOptions()
	small.MemoryCapPages = 1
	small.StackLimit = 77
	badSchedule := instrument.DefaultOptions()
	badSchedule.Schedule = "v0"
	for _, name := range names {
		for _, c := range []struct {
			opts        instrument.Options
			suspendable bool
		}{{instrument.DefaultOptions(), false}, {instrument.DefaultOptions(), true}, {small, false}, {badSchedule, false}} {
			if strings.Contains(name, "gokernel") && c.suspendable {
				continue // slow, and nothing the other modules do not show
			}
			wantOut, wantOK, wantErr := sandbox.Prepare(mods[name], c.opts, c.suspendable)
			out, ok, err := prepare.Submitted(mods[name], c.opts, c.suspendable)
			if !bytes.Equal(out, wantOut) || ok != wantOK {
				t.Errorf("%s %+v suspendable %t: %d bytes (ok %t), sandbox.Prepare %d bytes (ok %t)", name, c.opts, c.suspendable, len(out), ok, len(wantOut), wantOK)
			}
			if (err == nil) != (wantErr == nil) {
				t.Errorf("%s %+v: error %v, sandbox.Prepare's %v", name, c.opts, err, wantErr)
				continue
			}
			if err == nil {
				continue
			}
			var se *sandbox.Error
			var pe *prepare.Error
			if !errors.As(wantErr, &se) || !errors.As(err, &pe) {
				t.Errorf("%s: errors %T %v and %T %v", name, err, err, wantErr, wantErr)
				continue
			}
			if pe.Status != string(se.Status) || pe.Message != se.Message {
				t.Errorf("%s %+v: %s %q, sandbox.Prepare %s %q", name, c.opts, pe.Status, pe.Message, se.Status, se.Message)
			}
		}
	}
	// The crafted modules reach every refusal.
	for name, status := range map[string]string{
		"empty": "invalid_module", "instrumented already": "invalid_module", "env import": "forbidden_import",
		"wrong signature": "forbidden_import", "memory import": "forbidden_import",
		"crowdrun import": "invalid_module",
	} {
		_, _, err := prepare.Submitted(mods[name], instrument.DefaultOptions(), false)
		var pe *prepare.Error
		if !errors.As(err, &pe) || pe.Status != status {
			t.Errorf("%s: %v, want %s", name, err, status)
		}
	}
	_, _, err = prepare.Submitted(mods[filepath.Join(root, "membomb.wasm")], small, false)
	if pe := (*prepare.Error)(nil); !errors.As(err, &pe) || pe.Status != "memory_limit" {
		t.Errorf("membomb capped at one page: %v, want memory_limit", err)
	}
}
