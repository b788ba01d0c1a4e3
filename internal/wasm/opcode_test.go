package wasm

import "testing"

func TestOpcodeTable(t *testing.T) {
	seen := map[Opcode]bool{}
	for _, op := range Opcodes() {
		if seen[op] {
			t.Errorf("%s listed twice", op)
		}
		seen[op] = true
		if op.Name() == "" || !op.Known() {
			t.Errorf("%#x has no name", uint32(op))
		}
		if lookup(op).op != op {
			t.Errorf("%s: lookup mismatch", op)
		}
		if op.Prefix() == PrefixSIMD && !op.Is(CatSIMD) {
			t.Errorf("%s: not in CatSIMD", op)
		}
	}
	tests := []struct {
		op   Opcode
		name string
		imm  ImmKind
	}{
		{OpI32Add, "i32.add", ImmNone},
		{OpMemoryFill, "memory.fill", ImmMemory},
		{OpBrTable, "br_table", ImmBrTable},
		{OpI8x16Shuffle, "i8x16.shuffle", ImmShuffle},
		{OpI8x16SubSatU, "i8x16.sub_sat_u", ImmNone},
		{OpV128Load8x8S, "v128.load8x8_s", ImmMemArg},
		{OpV128Store16Lane, "v128.store16_lane", ImmMemArgLane},
		{OpF64x2PromoteLowF32x4, "f64x2.promote_low_f32x4", ImmNone},
		{OpI32TruncSatF64U, "i32.trunc_sat_f64_u", ImmNone},
		{OpSelectT, "select", ImmSelectT},
	}
	for _, tc := range tests {
		if got := tc.op.Name(); got != tc.name {
			t.Errorf("%#x: name %q, want %q", uint32(tc.op), got, tc.name)
		}
		if got := tc.op.Imm(); got != tc.imm {
			t.Errorf("%s: imm %d, want %d", tc.op, got, tc.imm)
		}
	}
	if got, want := OpMemoryFill, Opcode(0xfc000b); got != want {
		t.Errorf("memory.fill = %#x, want %#x", got, want)
	}
	if got, want := OpI32x4Add, Opcode(0xfd00ae); got != want {
		t.Errorf("i32x4.add = %#x, want %#x", got, want)
	}
}

func TestProducesNaN(t *testing.T) {
	var want = map[string]bool{}
	for _, s := range []string{"f32", "f64"} {
		for _, o := range []string{"add", "sub", "mul", "div", "sqrt", "min", "max", "ceil", "floor", "trunc", "nearest"} {
			want[s+"."+o] = true
		}
	}
	for _, s := range []string{"f32x4", "f64x2"} {
		for _, o := range []string{"add", "sub", "mul", "div", "sqrt", "min", "max", "ceil", "floor", "trunc", "nearest"} {
			want[s+"."+o] = true
		}
	}
	for _, n := range []string{"f32.demote_f64", "f64.promote_f32", "f32x4.demote_f64x2_zero", "f64x2.promote_low_f32x4"} {
		want[n] = true
	}
	got := map[string]bool{}
	for _, op := range Opcodes() {
		if OpProducesNaN(op) {
			got[op.Name()] = true
			if !want[op.Name()] {
				t.Errorf("%s should not be CatNaN", op)
			}
		}
	}
	for n := range want {
		if !got[n] {
			t.Errorf("%s should be CatNaN", n)
		}
	}
}

func TestCategories(t *testing.T) {
	bulk := map[Opcode]bool{OpMemoryCopy: true, OpMemoryFill: true, OpMemoryInit: true, OpTableCopy: true, OpTableFill: true, OpTableInit: true, OpTableGrow: true}
	for _, op := range Opcodes() {
		if op.Is(CatBulk) != bulk[op] {
			t.Errorf("%s: CatBulk = %v", op, op.Is(CatBulk))
		}
	}
	for op, c := range map[Opcode]Category{
		OpMemoryGrow: CatMemoryGrow, OpCall: CatCall, OpCallIndirect: CatCall,
		OpBr: CatBranch, OpBrIf: CatBranch, OpBrTable: CatBranch, OpReturn: CatBranch,
		OpLoop: CatBlockStart | CatControl, OpI32DivS: CatTrap, OpV128Load32Zero: CatLoad | CatSIMD,
	} {
		if !op.Is(c) {
			t.Errorf("%s: categories %b do not include %b", op, op.Category(), c)
		}
	}
}

func TestStackEffect(t *testing.T) {
	tests := []struct {
		op              Opcode
		params, results []ValType
		ok              bool
	}{
		{OpI32Add, []ValType{I32, I32}, []ValType{I32}, true},
		{OpI64Eqz, []ValType{I64}, []ValType{I32}, true},
		{OpF64Store, []ValType{I32, F64}, nil, true},
		{OpMemoryGrow, []ValType{I32}, []ValType{I32}, true},
		{OpMemoryCopy, []ValType{I32, I32, I32}, nil, true},
		{OpI8x16ReplaceLane, []ValType{V128, I32}, []ValType{V128}, true},
		{OpF64x2ExtractLane, []ValType{V128}, []ValType{F64}, true},
		{OpI64x2Shl, []ValType{V128, I32}, []ValType{V128}, true},
		{OpV128Bitselect, []ValType{V128, V128, V128}, []ValType{V128}, true},
		{OpCall, nil, nil, false},
		{OpLocalGet, nil, nil, false},
		{OpSelect, nil, nil, false},
	}
	eq := func(a, b []ValType) bool { return FuncType{Params: a}.Equal(FuncType{Params: b}) }
	for _, tc := range tests {
		p, r, ok := StackEffect(tc.op)
		if ok != tc.ok || !eq(p, tc.params) || !eq(r, tc.results) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", tc.op, p, r, ok, tc.params, tc.results, tc.ok)
		}
	}
}

func TestBlockType(t *testing.T) {
	m := &Module{Types: []FuncType{{Params: []ValType{I32}, Results: []ValType{I64}}}}
	if p, r, ok := BlockOf(F32).Signature(m); !ok || len(p) != 0 || len(r) != 1 || r[0] != F32 {
		t.Errorf("BlockOf(F32): %v %v %v", p, r, ok)
	}
	if p, r, ok := BlockTypeIndex(0).Signature(m); !ok || p[0] != I32 || r[0] != I64 {
		t.Errorf("type 0: %v %v %v", p, r, ok)
	}
	if _, _, ok := BlockTypeIndex(1).Signature(m); ok {
		t.Error("type 1 resolved")
	}
	if p, r, ok := BlockEmpty.Signature(m); !ok || p != nil || r != nil {
		t.Errorf("empty: %v %v %v", p, r, ok)
	}
}
