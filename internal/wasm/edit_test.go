package wasm_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// nameSection builds a "name" section: function names and local names.
func nameSection(funcs map[uint32]string, order []uint32, localFunc uint32, local string) []byte {
	leb := func(b []byte, v uint32) []byte {
		for v >= 0x80 {
			b = append(b, byte(v)|0x80)
			v >>= 7
		}
		return append(b, byte(v))
	}
	str := func(b []byte, s string) []byte { return append(leb(b, uint32(len(s))), s...) }
	var fn []byte
	fn = leb(fn, uint32(len(order)))
	for _, i := range order {
		fn = str(leb(fn, i), funcs[i])
	}
	var loc []byte
	loc = leb(leb(leb(leb(loc, 1), localFunc), 1), 0)
	loc = str(loc, local)
	var out []byte
	out = append(leb(append(out, 1), uint32(len(fn))), fn...)
	out = append(leb(append(out, 2), uint32(len(loc))), loc...)
	return out
}

// testModule calls through every kind of function reference: "run" calls
// table[0] (answer) indirectly, answer calls plus1 (imported f0 doubles), the
// start function sets a global, and a funcref global and passive segment
// hold ref.func.
func testModule() *wasm.Module {
	i32 := []wasm.ValType{wasm.I32}
	m := &wasm.Module{
		Types: []wasm.FuncType{{Results: i32}, {Params: i32, Results: i32}, {}},
		Imports: []wasm.Import{
			{Module: "env", Name: "double", Kind: wasm.ExternFunc, Type: 1}, // func 0
		},
		Funcs: []wasm.Func{
			{Type: 0, Body: []wasm.Instr{ // 1 answer: plus1(double(20)) + g
				wasm.I32Const(20), wasm.WithIndex(wasm.OpCall, 0), wasm.WithIndex(wasm.OpCall, 2),
				wasm.WithIndex(wasm.OpGlobalGet, 0), wasm.Plain(wasm.OpI32Add), wasm.Plain(wasm.OpEnd)}},
			{Type: 1, Locals: []wasm.LocalGroup{{Count: 1, Type: wasm.I32}}, Body: []wasm.Instr{ // 2 plus1
				wasm.WithIndex(wasm.OpLocalGet, 0), wasm.I32Const(1), wasm.Plain(wasm.OpI32Add), wasm.Plain(wasm.OpEnd)}},
			{Type: 0, Body: []wasm.Instr{ // 3 run
				wasm.I32Const(0), {Op: wasm.OpCallIndirect, Index: 0, Index2: 0}, wasm.Plain(wasm.OpEnd)}},
			{Type: 2, Body: []wasm.Instr{ // 4 init
				wasm.I32Const(1), wasm.WithIndex(wasm.OpGlobalSet, 0), wasm.Plain(wasm.OpEnd)}},
		},
		Tables: []wasm.TableType{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 2}}},
		Globals: []wasm.Global{
			{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: wasm.ConstExpr(wasm.I32Const(0))},
			{Type: wasm.GlobalType{Type: wasm.FuncRef}, Init: wasm.ConstExpr(wasm.WithIndex(wasm.OpRefFunc, 2))},
		},
		Exports: []wasm.Export{{Name: "run", Kind: wasm.ExternFunc, Index: 3}, {Name: "answer", Kind: wasm.ExternFunc, Index: 1}},
		Elems: []wasm.Elem{
			{Mode: wasm.ModeActive, Offset: wasm.ConstExpr(wasm.I32Const(0)), Type: wasm.FuncRef, Funcs: []uint32{1, 3}},
			{Mode: wasm.ModePassive, Type: wasm.FuncRef, Exprs: [][]wasm.Instr{wasm.ConstExpr(wasm.WithIndex(wasm.OpRefFunc, 4))}},
		},
	}
	start := uint32(4)
	m.Start = &start
	names := map[uint32]string{0: "double", 1: "answer", 2: "plus1", 3: "run", 4: "init"}
	m.Customs = []wasm.CustomSection{{Name: "name", Data: nameSection(names, []uint32{0, 1, 2, 3, 4}, 2, "x"), After: wasm.SectionData}}
	return m
}

func run(t *testing.T, bin []byte, hook func()) int32 {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	b := rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(x int32) int32 { return 2 * x }).Export("double")
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		if _, err := rt.NewHostModuleBuilder("crowdrun").
			NewFunctionBuilder().WithFunc(func(context.Context, api.Module) { hook() }).Export("hook").
			Instantiate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := rt.Instantiate(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction("run").Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int32(res[0])
}

func TestAddFuncImport(t *testing.T) {
	m := testModule()
	if got, want := run(t, binary.Encode(m), nil), int32(42); got != want {
		t.Fatalf("before: run() = %d, want %d", got, want)
	}

	idx := m.AddFuncImport("crowdrun", "hook", wasm.FuncType{})
	if idx != 1 {
		t.Fatalf("hook index %d, want 1", idx)
	}
	if got := m.Types[m.Imports[1].Type]; !got.Equal(wasm.FuncType{}) || m.Imports[1].Type != 2 {
		t.Fatalf("hook type %v (index %d): AddType did not reuse type 2", got, m.Imports[1].Type)
	}
	// The hook is called at the start of "run" (now function 4).
	run4 := m.DefinedFunc(4)
	run4.Body = append([]wasm.Instr{wasm.WithIndex(wasm.OpCall, idx)}, run4.Body...)

	if got, want := m.Exports[0].Index, uint32(4); got != want {
		t.Errorf("export run = %d, want %d", got, want)
	}
	if got, want := *m.Start, uint32(5); got != want {
		t.Errorf("start = %d, want %d", got, want)
	}
	if got, want := m.Elems[0].Funcs, []uint32{2, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("elem funcs = %v, want %v", got, want)
	}
	if got, want := m.Elems[1].Exprs[0][0].Index, uint32(5); got != want {
		t.Errorf("elem expr ref.func = %d, want %d", got, want)
	}
	if got, want := m.Globals[1].Init[0].Index, uint32(3); got != want {
		t.Errorf("global ref.func = %d, want %d", got, want)
	}
	if got, want := m.Funcs[0].Body[1].Index, uint32(0); got != want {
		t.Errorf("call to import = %d, want %d (imports before the new one keep their index)", got, want)
	}
	if got, want := m.Funcs[0].Body[2].Index, uint32(3); got != want {
		t.Errorf("call plus1 = %d, want %d", got, want)
	}
	wantNames := map[uint32]string{0: "double", 2: "answer", 3: "plus1", 4: "run", 5: "init"}
	if got := m.FuncNames(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("names = %v, want %v", got, wantNames)
	}
	if ft, ok := m.FuncType(3); !ok || !ft.Equal(wasm.FuncType{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I32}}) {
		t.Errorf("FuncType(3) = %v, %v", ft, ok)
	}

	bin := binary.Encode(m)
	calls := 0
	if got, want := run(t, bin, func() { calls++ }), int32(42); got != want {
		t.Fatalf("after: run() = %d, want %d", got, want)
	}
	if calls != 1 {
		t.Fatalf("hook called %d times, want 1", calls)
	}
	m2, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.FuncNames(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("decoded names = %v, want %v", got, wantNames)
	}
	// The local names subsection moved with plus1.
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.ExportedFunctions()["run"].DebugName(); got != ".run" {
		t.Errorf("debug name of run = %q", got)
	}
}

func TestAddFuncImportDropsBrokenNames(t *testing.T) {
	for _, data := range [][]byte{
		{1, 50, 0},
		// A module name whose length runs past its subsection: it was
		// kept, and wazero allocated the 4 GiB it claims, then refused the
		// instrumented module (found while fixing a FuzzDecode crasher).
		{0, 5, 0xff, 0xff, 0xff, 0xff, 0x0f},
		{0, 3, 5, 'a', 'b'},
		// Names that are not UTF-8.
		{0, 2, 1, 0xff},
		{1, 5, 1, 0, 2, 0xc3, 0x28},
	} {
		m := testModule()
		m.Customs[0].Data = data
		m.AddFuncImport("a", "b", wasm.FuncType{})
		if m.CustomSection("name") != nil {
			t.Errorf("malformed name section % x kept", data)
		}
	}
	// A well-formed module name is kept as it is.
	m := testModule()
	m.Customs[0].Data = []byte{0, 4, 3, 'm', 'o', 'd'}
	m.AddFuncImport("a", "b", wasm.FuncType{})
	if c := m.CustomSection("name"); c == nil || string(c.Data) != "\x00\x04\x03mod" {
		t.Fatalf("module name subsection not kept: %v", c)
	}
}

func TestAddHelpers(t *testing.T) {
	m := testModule()
	m.Imports = append(m.Imports, wasm.Import{Module: "env", Name: "g", Kind: wasm.ExternGlobal, Global: wasm.GlobalType{Type: wasm.I64}})
	if got := m.NumImportedGlobals(); got != 1 {
		t.Fatalf("NumImportedGlobals = %d", got)
	}
	g := m.AddGlobal(wasm.GlobalType{Type: wasm.I64, Mutable: true}, wasm.ConstExpr(wasm.I64Const(7)))
	if g != 3 {
		t.Fatalf("AddGlobal = %d, want 3", g)
	}
	if gt, ok := m.GlobalType(0); !ok || gt.Type != wasm.I64 || gt.Mutable {
		t.Errorf("GlobalType(0) = %v", gt)
	}
	if gt, ok := m.GlobalType(3); !ok || gt.Type != wasm.I64 || !gt.Mutable {
		t.Errorf("GlobalType(3) = %v", gt)
	}
	if err := m.AddExport("fuel", wasm.ExternGlobal, g); err != nil {
		t.Fatal(err)
	}
	if err := m.AddExport("fuel", wasm.ExternGlobal, g); !errors.Is(err, wasm.ErrDuplicateExport) {
		t.Fatalf("duplicate export: %v", err)
	}
	before := len(m.Types)
	if got := m.AddType(wasm.FuncType{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I32}}); got != 1 || len(m.Types) != before {
		t.Errorf("AddType did not dedupe: %d", got)
	}
	f := m.AddFunc(wasm.FuncType{Params: []wasm.ValType{wasm.F64}}, nil, []wasm.Instr{wasm.Plain(wasm.OpEnd)})
	if f != m.NumFuncs()-1 || m.DefinedFunc(f) == nil || m.DefinedFunc(0) != nil {
		t.Errorf("AddFunc = %d", f)
	}
	if ft, _ := m.FuncType(f); !ft.Equal(wasm.FuncType{Params: []wasm.ValType{wasm.F64}}) {
		t.Errorf("FuncType(new) = %v", ft)
	}
}
