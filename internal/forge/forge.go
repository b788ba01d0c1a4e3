// Package forge builds modules that lie about themselves, for the tests that
// prove no such module escapes metering (docs/fuel.md, "Every module is
// instrumented by the one who runs it"). Only tests import it.
package forge

import (
	"encoding/json"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// Forgery is a module built from an original one, and what it pretends.
type Forgery struct {
	Name  string
	Claim string // what the module pretends, in words
	Bytes []byte
}

// Forgeries returns every forgery of the original module raw (typically an
// endless loop, so that one that ran unmetered would never end):
//
//   - claims-instrumented: raw's code, unmetered, dressed as `crowdrun
//     instrument` output: the "crowdrun" custom section with genuine
//     metadata, the crowdrun.out_of_fuel and crowdrun.trap imports, the
//     crowdrun.fuel and crowdrun.mem_limit_hit exports;
//   - section-only: raw with nothing but the custom section;
//   - fuel-export-only: raw exporting a global named crowdrun.fuel;
//   - instrumented: raw really instrumented with the default options (what
//     `crowdrun instrument` writes: metered, but nothing proves it);
//   - huge-budget: raw really instrumented, with the largest stack limit
//     and memory cap the instrumenter takes;
//   - other-schedule: raw really instrumented, its metadata naming a fuel
//     schedule crowdrun does not have (one under which the loop is free).
func Forgeries(raw []byte) ([]Forgery, error) {
	decode := func() (*wasm.Module, error) {
		m, err := binary.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("forge: the original module: %w", err)
		}
		return m, nil
	}
	meta, _ := json.Marshal(instrument.Metadata{Version: 1, Schedule: instrument.ScheduleV1,
		StackLimit: instrument.DefaultStackLimit, CanonicalizeNaN: true})
	section := wasm.CustomSection{Name: instrument.CustomSection, Data: meta, After: wasm.SectionData}
	var out []Forgery

	m, err := decode()
	if err != nil {
		return nil, err
	}
	m.AddFuncImport(instrument.HostModule, instrument.OutOfFuelName, wasm.FuncType{})
	m.AddFuncImport(instrument.HostModule, instrument.TrapName, wasm.FuncType{Params: []wasm.ValType{wasm.I32}})
	fuel := m.AddGlobal(wasm.GlobalType{Type: wasm.I64, Mutable: true}, wasm.ConstExpr(wasm.I64Const(0)))
	hit := m.AddGlobal(wasm.GlobalType{Type: wasm.I32, Mutable: true}, wasm.ConstExpr(wasm.I32Const(0)))
	if err := m.AddExport(instrument.FuelExport, wasm.ExternGlobal, fuel); err != nil {
		return nil, err
	}
	if err := m.AddExport(instrument.MemLimitExport, wasm.ExternGlobal, hit); err != nil {
		return nil, err
	}
	m.Customs = append(m.Customs, section)
	out = append(out, Forgery{"claims-instrumented", "unmetered code dressed as crowdrun instrument output", binary.Encode(m)})

	if m, err = decode(); err != nil {
		return nil, err
	}
	m.Customs = append(m.Customs, section)
	out = append(out, Forgery{"section-only", "a crowdrun custom section on unmetered code", binary.Encode(m)})

	if m, err = decode(); err != nil {
		return nil, err
	}
	g := m.AddGlobal(wasm.GlobalType{Type: wasm.I64, Mutable: true}, wasm.ConstExpr(wasm.I64Const(0)))
	if err := m.AddExport(instrument.FuelExport, wasm.ExternGlobal, g); err != nil {
		return nil, err
	}
	out = append(out, Forgery{"fuel-export-only", "a crowdrun.fuel export on unmetered code", binary.Encode(m)})

	if m, err = decode(); err != nil {
		return nil, err
	}
	if err := instrument.InstrumentModule(m, instrument.DefaultOptions()); err != nil {
		return nil, fmt.Errorf("forge: instrumenting: %w", err)
	}
	out = append(out, Forgery{"instrumented", "genuine `crowdrun instrument` output (metered, but by its own say-so)", binary.Encode(m)})

	huge := instrument.DefaultOptions()
	huge.StackLimit, huge.MemoryCapPages = 1<<30, 65536
	if m, err = decode(); err != nil {
		return nil, err
	}
	if err := instrument.InstrumentModule(m, huge); err != nil {
		return nil, fmt.Errorf("forge: instrumenting: %w", err)
	}
	out = append(out, Forgery{"huge-budget", "instrumented with a 2^30 call depth and 4 GiB of memory", binary.Encode(m)})

	if m, err = decode(); err != nil {
		return nil, err
	}
	if err := instrument.InstrumentModule(m, instrument.DefaultOptions()); err != nil {
		return nil, fmt.Errorf("forge: instrumenting: %w", err)
	}
	other, _ := json.Marshal(instrument.Metadata{Version: 1, Schedule: "v0-free", StackLimit: instrument.DefaultStackLimit, CanonicalizeNaN: true})
	m.CustomSection(instrument.CustomSection).Data = other
	out = append(out, Forgery{"other-schedule", "instrumented, its metadata naming another fuel schedule", binary.Encode(m)})
	return out, nil
}
