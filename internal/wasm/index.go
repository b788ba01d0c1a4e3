package wasm

// NumImportedFuncs returns the number of imported functions: the index of the
// first defined function.
func (m *Module) NumImportedFuncs() uint32 { return m.numImported(ExternFunc) }

// NumImportedTables returns the number of imported tables.
func (m *Module) NumImportedTables() uint32 { return m.numImported(ExternTable) }

// NumImportedMemories returns the number of imported memories.
func (m *Module) NumImportedMemories() uint32 { return m.numImported(ExternMemory) }

// NumImportedGlobals returns the number of imported globals.
func (m *Module) NumImportedGlobals() uint32 { return m.numImported(ExternGlobal) }

func (m *Module) numImported(k ExternKind) uint32 {
	var n uint32
	for i := range m.Imports {
		if m.Imports[i].Kind == k {
			n++
		}
	}
	return n
}

// NumFuncs returns the size of the function index space.
func (m *Module) NumFuncs() uint32 { return m.NumImportedFuncs() + uint32(len(m.Funcs)) }

// NumGlobals returns the size of the global index space.
func (m *Module) NumGlobals() uint32 { return m.NumImportedGlobals() + uint32(len(m.Globals)) }

// NumTables returns the size of the table index space.
func (m *Module) NumTables() uint32 { return m.NumImportedTables() + uint32(len(m.Tables)) }

// NumMemories returns the size of the memory index space.
func (m *Module) NumMemories() uint32 { return m.NumImportedMemories() + uint32(len(m.Memories)) }

// FuncTypeIndex returns the type index of function funcIdx.
func (m *Module) FuncTypeIndex(funcIdx uint32) (uint32, bool) {
	n := funcIdx
	for i := range m.Imports {
		if m.Imports[i].Kind != ExternFunc {
			continue
		}
		if n == 0 {
			return m.Imports[i].Type, true
		}
		n--
	}
	if uint64(n) < uint64(len(m.Funcs)) {
		return m.Funcs[n].Type, true
	}
	return 0, false
}

// FuncType returns the signature of function funcIdx.
func (m *Module) FuncType(funcIdx uint32) (FuncType, bool) {
	ti, ok := m.FuncTypeIndex(funcIdx)
	if !ok || uint64(ti) >= uint64(len(m.Types)) {
		return FuncType{}, false
	}
	return m.Types[ti], true
}

// DefinedFunc returns the defined function with index funcIdx in the function
// index space, or nil if funcIdx is imported or out of range.
func (m *Module) DefinedFunc(funcIdx uint32) *Func {
	imp := m.NumImportedFuncs()
	if funcIdx < imp || uint64(funcIdx-imp) >= uint64(len(m.Funcs)) {
		return nil
	}
	return &m.Funcs[funcIdx-imp]
}

// GlobalType returns the type of global globalIdx.
func (m *Module) GlobalType(globalIdx uint32) (GlobalType, bool) {
	n := globalIdx
	for i := range m.Imports {
		if m.Imports[i].Kind != ExternGlobal {
			continue
		}
		if n == 0 {
			return m.Imports[i].Global, true
		}
		n--
	}
	if uint64(n) < uint64(len(m.Globals)) {
		return m.Globals[n].Type, true
	}
	return GlobalType{}, false
}

// TableType returns the type of table tableIdx.
func (m *Module) TableType(tableIdx uint32) (TableType, bool) {
	n := tableIdx
	for i := range m.Imports {
		if m.Imports[i].Kind != ExternTable {
			continue
		}
		if n == 0 {
			return m.Imports[i].Table, true
		}
		n--
	}
	if uint64(n) < uint64(len(m.Tables)) {
		return m.Tables[n], true
	}
	return TableType{}, false
}

// MemoryType returns the type of memory 0 and whether the module has one.
func (m *Module) MemoryType() (MemoryType, bool) {
	for i := range m.Imports {
		if m.Imports[i].Kind == ExternMemory {
			return m.Imports[i].Memory, true
		}
	}
	if len(m.Memories) > 0 {
		return m.Memories[0], true
	}
	return MemoryType{}, false
}

// ExportByName returns the export named name, or nil.
func (m *Module) ExportByName(name string) *Export {
	for i := range m.Exports {
		if m.Exports[i].Name == name {
			return &m.Exports[i]
		}
	}
	return nil
}

// CustomSection returns the first custom section named name, or nil.
func (m *Module) CustomSection(name string) *CustomSection {
	for i := range m.Customs {
		if m.Customs[i].Name == name {
			return &m.Customs[i]
		}
	}
	return nil
}
