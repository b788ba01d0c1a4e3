package wasm

import (
	"errors"
	"fmt"
	"slices"
)

// ErrDuplicateExport is returned by AddExport for a name already exported.
var ErrDuplicateExport = errors.New("duplicate export name")

// AddType returns the index of a type equal to ft, appending it if the module
// has none. Appending never renumbers anything.
func (m *Module) AddType(ft FuncType) uint32 {
	for i := range m.Types {
		if m.Types[i].Equal(ft) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, FuncType{
		Params:  slices.Clone(ft.Params),
		Results: slices.Clone(ft.Results),
	})
	return uint32(len(m.Types) - 1)
}

// AddFuncImport appends a function import module.name of signature ft and
// returns its function index, which is NumImportedFuncs() before the call.
// Every defined function moves up by one, and every reference to one is
// renumbered: call and ref.func in bodies and constant expressions (globals,
// element and data offsets, element expressions), element function indices,
// exports, the start function, and the function indices in the "name" custom
// section (function, local and label names; other subsections are kept
// verbatim). A "name" section that does not parse is dropped, since it could
// no longer be trusted to name the right functions.
func (m *Module) AddFuncImport(module, name string, ft FuncType) uint32 {
	typeIdx := m.AddType(ft)
	idx := m.NumImportedFuncs()
	m.Imports = append(m.Imports, Import{Module: module, Name: name, Kind: ExternFunc, Type: typeIdx})
	m.shiftFuncs(idx)
	return idx
}

// shiftFuncs adds one to every function index >= from.
func (m *Module) shiftFuncs(from uint32) {
	bump := func(i *uint32) {
		if *i >= from {
			*i++
		}
	}
	instrs := func(body []Instr) {
		for i := range body {
			if in := &body[i]; in.Op == OpCall || in.Op == OpRefFunc {
				bump(&in.Index)
			}
		}
	}
	for i := range m.Funcs {
		instrs(m.Funcs[i].Body)
	}
	for i := range m.Globals {
		instrs(m.Globals[i].Init)
	}
	for i := range m.Elems {
		e := &m.Elems[i]
		instrs(e.Offset)
		for j := range e.Funcs {
			bump(&e.Funcs[j])
		}
		for _, x := range e.Exprs {
			instrs(x)
		}
	}
	for i := range m.Datas {
		instrs(m.Datas[i].Offset)
	}
	for i := range m.Exports {
		if m.Exports[i].Kind == ExternFunc {
			bump(&m.Exports[i].Index)
		}
	}
	if m.Start != nil {
		s := *m.Start
		bump(&s)
		m.Start = &s
	}
	for i := 0; i < len(m.Customs); i++ {
		c := &m.Customs[i]
		if c.Name != "name" {
			continue
		}
		data, err := shiftNameSection(c.Data, from)
		if err != nil {
			m.Customs = slices.Delete(m.Customs, i, i+1)
			i--
			continue
		}
		c.Data = data
	}
}

// AddFunc appends a defined function of signature ft and returns its index.
// body must end with OpEnd.
func (m *Module) AddFunc(ft FuncType, locals []LocalGroup, body []Instr) uint32 {
	m.Funcs = append(m.Funcs, Func{Type: m.AddType(ft), Locals: locals, Body: body})
	return m.NumFuncs() - 1
}

// AddGlobal appends a defined global and returns its index. init is a
// constant expression ending in OpEnd (see ConstExpr).
func (m *Module) AddGlobal(t GlobalType, init []Instr) uint32 {
	m.Globals = append(m.Globals, Global{Type: t, Init: init})
	return m.NumGlobals() - 1
}

// AddExport exports the item of the given kind and index under name.
func (m *Module) AddExport(name string, kind ExternKind, idx uint32) error {
	if m.ExportByName(name) != nil {
		return fmt.Errorf("%w: %q", ErrDuplicateExport, name)
	}
	m.Exports = append(m.Exports, Export{Name: name, Kind: kind, Index: idx})
	return nil
}
