// Package suspend rewrites an instrumented module so that it can suspend
// inside crowdrun.out_of_fuel and later resume, in a fresh instance, exactly
// where it stopped (docs/continuations.md).
//
// Transform runs after instrument.InstrumentModule. Every function that can
// reach a call to out_of_fuel (directly, through calls, or through a
// call_indirect whose type matches such a function) is rewritten so that:
//
//   - when the exported global crowdrun.suspend_state is 1 (unwinding) after
//     one of its calls that may suspend returns, it saves its locals and the
//     call's site index with the crowdrun.save_* imports and returns dummy
//     results;
//   - when it is entered with the state 2 (rewinding), it loads its frame with
//     the crowdrun.load_* imports and branches, through the structured
//     constructs that enclose it, straight back to that call, skipping every
//     other instruction.
//
// Operand-stack values live across such a call are kept in locals, so a
// frame is its locals plus a site index. The host completes the rewind when
// out_of_fuel is called with the state 2: it sets the state back to 0 and
// returns, and the guest continues as if it had never stopped.
package suspend

import (
	"errors"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Names of the contract (docs/continuations.md).
const (
	HostModule     = "crowdrun"
	OutOfFuelName  = "out_of_fuel"
	StateExport    = "crowdrun.suspend_state"
	GlobalPrefix   = "crowdrun.global."
	SaveFrameName  = "save_frame"
	LoadFrameName  = "load_frame"
	saveNamePrefix = "save_"
	loadNamePrefix = "load_"
)

// Values of crowdrun.suspend_state.
const (
	StateNormal    = 0
	StateUnwinding = 1
	StateRewinding = 2
)

// Errors returned by Transform.
var (
	ErrInvalid     = errors.New("suspend: invalid module")
	ErrUnsupported = errors.New("suspend: unsupported")
)

// Options tune Transform. The zero value is the default.
type Options struct{}

// savedTypes are the value types a frame may hold, in import order.
var savedTypes = []wasm.ValType{wasm.I32, wasm.I64, wasm.F32, wasm.F64}

type xform struct {
	m         *wasm.Module
	oof       uint32
	state     uint32 // the state global
	save      map[wasm.ValType]uint32
	load      map[wasm.ValType]uint32
	saveFrame uint32
	loadFrame uint32
	suspends  []bool // by function index
	suspTypes map[string]bool
}

// Transform makes m suspendable. m must import crowdrun.out_of_fuel (an
// instrumented module does).
func Transform(m *wasm.Module, _ Options) error {
	x := &xform{m: m, save: map[wasm.ValType]uint32{}, load: map[wasm.ValType]uint32{}}
	found := false
	for _, imp := range m.Imports {
		if imp.Module == HostModule && imp.Kind == wasm.ExternFunc {
			switch imp.Name {
			case OutOfFuelName:
				found = true
			case SaveFrameName, LoadFrameName:
				return fmt.Errorf("%w: module already suspendable", ErrInvalid)
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: no %s.%s import (instrument the module first)", ErrInvalid, HostModule, OutOfFuelName)
	}
	if m.ExportByName(StateExport) != nil {
		return fmt.Errorf("%w: module already suspendable", ErrInvalid)
	}
	// Imports first: adding them renumbers the defined functions.
	for _, t := range savedTypes {
		x.save[t] = m.AddFuncImport(HostModule, saveNamePrefix+t.String(), wasm.FuncType{Params: []wasm.ValType{t}})
		x.load[t] = m.AddFuncImport(HostModule, loadNamePrefix+t.String(), wasm.FuncType{Results: []wasm.ValType{t}})
	}
	x.saveFrame = m.AddFuncImport(HostModule, SaveFrameName, wasm.FuncType{Params: []wasm.ValType{wasm.I32, wasm.I32}})
	x.loadFrame = m.AddFuncImport(HostModule, LoadFrameName, wasm.FuncType{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I32}})
	x.oof = ^uint32(0)
	nImp := 0
	for _, imp := range m.Imports {
		if imp.Kind != wasm.ExternFunc {
			continue
		}
		if imp.Module == HostModule && imp.Name == OutOfFuelName {
			x.oof = uint32(nImp)
		}
		nImp++
	}
	x.state = m.AddGlobal(wasm.GlobalType{Type: wasm.I32, Mutable: true}, wasm.ConstExpr(wasm.I32Const(0)))
	if err := m.AddExport(StateExport, wasm.ExternGlobal, x.state); err != nil {
		return err
	}
	// Every global is exported under its index, so that the host can read
	// them all in index order for a snapshot (docs/snapshot.md) and restore
	// the mutable ones. A host sees an already-exported global twice.
	if m.NumImportedGlobals() > 0 {
		return fmt.Errorf("%w: imported globals cannot be saved", ErrUnsupported)
	}
	for i := range m.Globals {
		switch t := m.Globals[i].Type.Type; t {
		case wasm.I32, wasm.I64, wasm.F32, wasm.F64:
		default:
			return fmt.Errorf("%w: global %d of type %s cannot be saved", ErrUnsupported, i, t)
		}
		if err := m.AddExport(fmt.Sprintf("%s%d", GlobalPrefix, i), wasm.ExternGlobal, uint32(i)); err != nil {
			return err
		}
	}
	x.callGraph()
	nImported := m.NumImportedFuncs()
	// Each function that may suspend gets a rewind twin, appended after
	// every existing function (so no index moves): the function itself
	// has no dispatch code on its normal path and hands over to its twin
	// when it is entered rewinding.
	var twins []wasm.Func
	nFuncs := uint32(len(m.Funcs))
	for i := range nFuncs {
		fidx := nImported + i
		if !x.suspends[fidx] {
			continue
		}
		twin, err := x.function(fidx, &m.Funcs[i], nImported+nFuncs+uint32(len(twins)))
		if err != nil {
			return fmt.Errorf("function %d: %w", fidx, err)
		}
		twins = append(twins, twin)
	}
	m.Funcs = append(m.Funcs, twins...)
	return nil
}

// callGraph computes which functions may suspend: those that call
// out_of_fuel, or call a function that may suspend, or make an indirect
// call of a type some function that may suspend has.
func (x *xform) callGraph() {
	m := x.m
	n := m.NumFuncs()
	x.suspends = make([]bool, n)
	x.suspends[x.oof] = true
	x.suspTypes = map[string]bool{}
	nImported := m.NumImportedFuncs()
	for changed := true; changed; {
		changed = false
		for i := range m.Funcs {
			fidx := nImported + uint32(i)
			if x.suspends[fidx] {
				continue
			}
			for j := range m.Funcs[i].Body {
				if x.callSuspends(&m.Funcs[i].Body[j]) {
					x.suspends[fidx] = true
					x.suspTypes[m.Types[m.Funcs[i].Type].String()] = true
					changed = true
					break
				}
			}
		}
	}
}

// callSuspends reports whether the call in may suspend, given the current
// approximation of x.suspends.
func (x *xform) callSuspends(in *wasm.Instr) bool {
	switch in.Op {
	case wasm.OpCall:
		return int(in.Index) < len(x.suspends) && x.suspends[in.Index]
	case wasm.OpCallIndirect:
		if int(in.Index) >= len(x.m.Types) {
			return true
		}
		return x.suspTypes[x.m.Types[in.Index].String()]
	}
	return false
}
