package instrument

import (
	"fmt"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// validateIndices checks every index the rewrite could make valid by
// appending its own items: an out-of-range global, local or type index in the
// input would otherwise silently refer to crowdrun's counters or scratch
// locals in the output. Everything else (types of operands, ...) is left to
// the engine that compiles the output: an invalid input stays invalid.
func validateIndices(m *wasm.Module) error {
	nGlobals := m.NumGlobals()
	nTypes := uint32(len(m.Types))
	nFuncs := m.NumFuncs()
	constExpr := func(what string, body []wasm.Instr) error {
		for _, in := range body {
			if in.Op == wasm.OpGlobalGet && in.Index >= nGlobals {
				return fmt.Errorf("%w: %s: global index %d out of range", ErrInvalid, what, in.Index)
			}
			if in.Op == wasm.OpRefFunc && in.Index >= nFuncs {
				return fmt.Errorf("%w: %s: function index %d out of range", ErrInvalid, what, in.Index)
			}
		}
		return nil
	}
	for i := range m.Globals {
		if err := constExpr(fmt.Sprintf("global %d", i), m.Globals[i].Init); err != nil {
			return err
		}
	}
	for i := range m.Elems {
		e := &m.Elems[i]
		if err := constExpr(fmt.Sprintf("element segment %d", i), e.Offset); err != nil {
			return err
		}
		for _, x := range e.Exprs {
			if err := constExpr(fmt.Sprintf("element segment %d", i), x); err != nil {
				return err
			}
		}
	}
	for i := range m.Datas {
		if err := constExpr(fmt.Sprintf("data segment %d", i), m.Datas[i].Offset); err != nil {
			return err
		}
	}
	for _, e := range m.Exports {
		if e.Kind == wasm.ExternGlobal && e.Index >= nGlobals {
			return fmt.Errorf("%w: export %q: global index %d out of range", ErrInvalid, e.Name, e.Index)
		}
		if e.Kind == wasm.ExternFunc && e.Index >= nFuncs {
			return fmt.Errorf("%w: export %q: function index %d out of range", ErrInvalid, e.Name, e.Index)
		}
	}
	for fi := range m.Funcs {
		f := &m.Funcs[fi]
		if f.Type >= nTypes {
			return fmt.Errorf("%w: function %d: type index %d out of range", ErrInvalid, uint32(fi)+m.NumImportedFuncs(), f.Type)
		}
		nLocals := uint64(len(m.Types[f.Type].Params)) + f.NumLocals()
		for _, in := range f.Body {
			bad := false
			switch in.Op.Imm() {
			case wasm.ImmLocal:
				bad = uint64(in.Index) >= nLocals
			case wasm.ImmGlobal:
				bad = in.Index >= nGlobals
			case wasm.ImmCallIndirect:
				bad = in.Index >= nTypes
			case wasm.ImmFunc:
				bad = in.Index >= nFuncs
			case wasm.ImmBlockType:
				bad = in.Block.IsIndex() && in.Block.Index() >= nTypes
			}
			if bad {
				return fmt.Errorf("%w: function %d: %s %d: index out of range", ErrInvalid, uint32(fi)+m.NumImportedFuncs(), in.Op, in.Index)
			}
		}
	}
	return nil
}
