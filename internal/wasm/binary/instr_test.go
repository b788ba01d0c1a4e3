package binary

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// decodeInstrs decodes a constant-expression-like instruction sequence that
// must end with the end closing it.
func decodeInstrs(t *testing.T, b []byte) ([]wasm.Instr, error) {
	t.Helper()
	d := &decoder{r: reader{b: b, end: len(b)}, m: &wasm.Module{}}
	ins := d.instructions(nil)
	if d.r.err != nil {
		return nil, d.r.err
	}
	if d.r.pos != len(b) {
		t.Fatalf("%d bytes left after decoding % x", len(b)-d.r.pos, b)
	}
	return ins, nil
}

func TestInstrEncoding(t *testing.T) {
	end := wasm.Plain(wasm.OpEnd)
	tests := []struct {
		name string
		in   wasm.Instr
		enc  []byte
	}{
		// control
		{"unreachable", wasm.Plain(wasm.OpUnreachable), []byte{0x00}},
		{"block empty", wasm.Block(wasm.OpBlock, wasm.BlockEmpty), []byte{0x02, 0x40}},
		{"loop i32", wasm.Block(wasm.OpLoop, wasm.BlockOf(wasm.I32)), []byte{0x03, 0x7f}},
		{"if v128", wasm.Block(wasm.OpIf, wasm.BlockOf(wasm.V128)), []byte{0x04, 0x7b}},
		{"block funcref", wasm.Block(wasm.OpBlock, wasm.BlockOf(wasm.FuncRef)), []byte{0x02, 0x70}},
		{"block type 0", wasm.Block(wasm.OpBlock, wasm.BlockTypeIndex(0)), []byte{0x02, 0x00}},
		{"block type 200", wasm.Block(wasm.OpBlock, wasm.BlockTypeIndex(200)), []byte{0x02, 0xc8, 0x01}},
		{"block type 64", wasm.Block(wasm.OpBlock, wasm.BlockTypeIndex(64)), []byte{0x02, 0xc0, 0x00}},
		{"br 3", wasm.WithIndex(wasm.OpBr, 3), []byte{0x0c, 0x03}},
		{"br_if 300", wasm.WithIndex(wasm.OpBrIf, 300), []byte{0x0d, 0xac, 0x02}},
		{"br_table", wasm.Instr{Op: wasm.OpBrTable, Labels: []uint32{1, 2, 128}, Index: 0}, []byte{0x0e, 0x03, 0x01, 0x02, 0x80, 0x01, 0x00}},
		{"br_table empty", wasm.Instr{Op: wasm.OpBrTable, Labels: nil, Index: 5}, []byte{0x0e, 0x00, 0x05}},
		{"return", wasm.Plain(wasm.OpReturn), []byte{0x0f}},
		{"call", wasm.WithIndex(wasm.OpCall, 1000), []byte{0x10, 0xe8, 0x07}},
		{"call_indirect", wasm.Instr{Op: wasm.OpCallIndirect, Index: 2, Index2: 1}, []byte{0x11, 0x02, 0x01}},
		// parametric
		{"drop", wasm.Plain(wasm.OpDrop), []byte{0x1a}},
		{"select", wasm.Plain(wasm.OpSelect), []byte{0x1b}},
		{"select t", wasm.Instr{Op: wasm.OpSelectT, Types: []wasm.ValType{wasm.ExternRef}}, []byte{0x1c, 0x01, 0x6f}},
		// variable
		{"local.get", wasm.WithIndex(wasm.OpLocalGet, 1), []byte{0x20, 0x01}},
		{"local.tee", wasm.WithIndex(wasm.OpLocalTee, 129), []byte{0x22, 0x81, 0x01}},
		{"global.set", wasm.WithIndex(wasm.OpGlobalSet, 0), []byte{0x24, 0x00}},
		// table
		{"table.get", wasm.WithIndex(wasm.OpTableGet, 1), []byte{0x25, 0x01}},
		{"table.init", wasm.Instr{Op: wasm.OpTableInit, Index: 3, Index2: 1}, []byte{0xfc, 0x0c, 0x03, 0x01}},
		{"table.copy", wasm.Instr{Op: wasm.OpTableCopy, Index: 1, Index2: 2}, []byte{0xfc, 0x0e, 0x01, 0x02}},
		{"elem.drop", wasm.WithIndex(wasm.OpElemDrop, 4), []byte{0xfc, 0x0d, 0x04}},
		{"table.grow", wasm.WithIndex(wasm.OpTableGrow, 0), []byte{0xfc, 0x0f, 0x00}},
		{"table.size", wasm.WithIndex(wasm.OpTableSize, 0), []byte{0xfc, 0x10, 0x00}},
		{"table.fill", wasm.WithIndex(wasm.OpTableFill, 2), []byte{0xfc, 0x11, 0x02}},
		// memory
		{"i32.load", wasm.Load(wasm.OpI32Load, 2, 16), []byte{0x28, 0x02, 0x10}},
		{"i64.store32 big offset", wasm.Load(wasm.OpI64Store32, 2, 0xffffffff), []byte{0x3e, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"memory.size", wasm.Plain(wasm.OpMemorySize), []byte{0x3f, 0x00}},
		{"memory.grow", wasm.Plain(wasm.OpMemoryGrow), []byte{0x40, 0x00}},
		{"memory.init", wasm.WithIndex(wasm.OpMemoryInit, 1), []byte{0xfc, 0x08, 0x01, 0x00}},
		{"data.drop", wasm.WithIndex(wasm.OpDataDrop, 1), []byte{0xfc, 0x09, 0x01}},
		{"memory.copy", wasm.Plain(wasm.OpMemoryCopy), []byte{0xfc, 0x0a, 0x00, 0x00}},
		{"memory.fill", wasm.Plain(wasm.OpMemoryFill), []byte{0xfc, 0x0b, 0x00}},
		// numeric
		{"i32.const 0", wasm.I32Const(0), []byte{0x41, 0x00}},
		{"i32.const -1", wasm.I32Const(-1), []byte{0x41, 0x7f}},
		{"i32.const 64", wasm.I32Const(64), []byte{0x41, 0xc0, 0x00}},
		{"i32.const min", wasm.I32Const(-1 << 31), []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x78}},
		{"i64.const max", wasm.I64Const(1<<63 - 1), []byte{0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{"i64.const min", wasm.I64Const(-1 << 63), []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}},
		{"f32.const nan payload", wasm.F32Const(0x7fc00001), []byte{0x43, 0x01, 0x00, 0xc0, 0x7f}},
		{"f64.const -0", wasm.F64Const(1 << 63), []byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0x80}},
		{"i32.add", wasm.Plain(wasm.OpI32Add), []byte{0x6a}},
		{"f64.copysign", wasm.Plain(wasm.OpF64Copysign), []byte{0xa6}},
		{"i64.extend32_s", wasm.Plain(wasm.OpI64Extend32S), []byte{0xc4}},
		{"i64.trunc_sat_f64_u", wasm.Plain(wasm.OpI64TruncSatF64U), []byte{0xfc, 0x07}},
		// reference
		{"ref.null extern", wasm.RefNull(wasm.ExternRef), []byte{0xd0, 0x6f}},
		{"ref.is_null", wasm.Plain(wasm.OpRefIsNull), []byte{0xd1}},
		{"ref.func", wasm.WithIndex(wasm.OpRefFunc, 7), []byte{0xd2, 0x07}},
		// SIMD
		{"v128.load", wasm.Load(wasm.OpV128Load, 4, 0), []byte{0xfd, 0x00, 0x04, 0x00}},
		{"v128.const", wasm.V128Const([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}), []byte{0xfd, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{"i8x16.shuffle", wasm.Instr{Op: wasm.OpI8x16Shuffle, Imm: 0x0706050403020100, Imm2: 0x1f1e1d1c1b1a1918}, []byte{0xfd, 0x0d, 0, 1, 2, 3, 4, 5, 6, 7, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}},
		{"i16x8.extract_lane_u", wasm.WithIndex(wasm.OpI16x8ExtractLaneU, 7), []byte{0xfd, 0x19, 0x07}},
		{"v128.load64_lane", wasm.Instr{Op: wasm.OpV128Load64Lane, Align: 3, Imm: 8, Index: 1}, []byte{0xfd, 0x57, 0x03, 0x08, 0x01}},
		{"i32x4.add (two-byte sub-opcode)", wasm.Plain(wasm.OpI32x4Add), []byte{0xfd, 0xae, 0x01}},
		{"f64x2.convert_low_i32x4_u", wasm.Plain(wasm.OpF64x2ConvertLowI32x4U), []byte{0xfd, 0xff, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AppendInstr(nil, &tc.in); !bytes.Equal(got, tc.enc) {
				t.Fatalf("encode: got % x, want % x", got, tc.enc)
			}
			enc, want := append(bytes.Clone(tc.enc), 0x0b), []wasm.Instr{tc.in, end}
			if tc.in.Op.Is(wasm.CatBlockStart) {
				enc, want = append(enc, 0x0b), append(want, end)
			}
			got, err := decodeInstrs(t, enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decode: got %+v, want %+v", got, want)
			}
		})
	}
}

// TestEveryOpcodeRoundTrip encodes and decodes every opcode of the table
// with non-zero immediates where the kind allows them.
func TestEveryOpcodeRoundTrip(t *testing.T) {
	ops := wasm.Opcodes()
	if got, want := len(ops), 437; got != want {
		t.Errorf("opcode count: got %d, want %d", got, want)
	}
	for _, op := range ops {
		in := wasm.Instr{Op: op}
		switch op.Imm() {
		case wasm.ImmBlockType:
			in.Block = wasm.BlockTypeIndex(3)
		case wasm.ImmLabel, wasm.ImmFunc, wasm.ImmLocal, wasm.ImmGlobal, wasm.ImmTable, wasm.ImmElem, wasm.ImmData:
			in.Index = 1234
		case wasm.ImmBrTable:
			in.Labels, in.Index = []uint32{0, 1, 99999}, 2
		case wasm.ImmCallIndirect, wasm.ImmTableCopy, wasm.ImmTableInit:
			in.Index, in.Index2 = 77, 3
		case wasm.ImmMemoryInit:
			in.Index = 9
		case wasm.ImmMemArg:
			in.Align, in.Imm = 3, 1<<20
		case wasm.ImmMemArgLane:
			in.Align, in.Imm, in.Index = 1, 65536, 5
		case wasm.ImmLane:
			in.Index = 3
		case wasm.ImmI32:
			in.Imm = uint64(uint32(0x80000001))
		case wasm.ImmI64, wasm.ImmF64:
			in.Imm = 0xfff8000000000123
		case wasm.ImmF32:
			in.Imm = 0xff800001
		case wasm.ImmV128, wasm.ImmShuffle:
			in.Imm, in.Imm2 = 0x0102030405060708, 0x1112131415161718
		case wasm.ImmSelectT:
			in.Types = []wasm.ValType{wasm.V128}
		case wasm.ImmRefType:
			in.Index = uint32(wasm.FuncRef)
		}
		seq := []wasm.Instr{in}
		if op == wasm.OpEnd {
			seq = nil
		}
		if op.Is(wasm.CatBlockStart) {
			seq = append(seq, wasm.Plain(wasm.OpEnd))
		}
		seq = append(seq, wasm.Plain(wasm.OpEnd))
		enc := AppendInstrs(nil, seq)
		got, err := decodeInstrs(t, enc)
		if err != nil {
			t.Errorf("%s: %v", op, err)
			continue
		}
		if !reflect.DeepEqual(got, seq) {
			t.Errorf("%s: got %+v, want %+v", op, got, seq)
		}
	}
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte // instructions, before the final end
		feature string
	}{
		{"atomic fence", []byte{0xfe, 0x03, 0x00}, FeatureThreads},
		{"i32.atomic.load", []byte{0x41, 0x00, 0xfe, 0x10, 0x02, 0x00}, FeatureThreads},
		{"relaxed swizzle", []byte{0xfd, 0x80, 0x02}, FeatureRelaxedSIMD},
		{"relaxed madd", []byte{0xfd, 0x85, 0x02}, FeatureRelaxedSIMD},
		{"return_call", []byte{0x12, 0x00}, FeatureTailCalls},
		{"return_call_indirect", []byte{0x13, 0x00, 0x00}, FeatureTailCalls},
		{"try", []byte{0x06, 0x40}, FeatureExceptions},
		{"throw", []byte{0x08, 0x00}, FeatureExceptions},
		{"try_table", []byte{0x1f, 0x40}, FeatureExceptions},
		{"call_ref", []byte{0x14, 0x00}, FeatureFuncRefs},
		{"ref.eq", []byte{0xd5}, FeatureGC},
		{"struct.new", []byte{0xfb, 0x00, 0x00}, FeatureGC},
		{"memory.size 1", []byte{0x3f, 0x01}, FeatureMultiMemory},
		{"load with memidx", []byte{0x41, 0x00, 0x28, 0x42, 0x01, 0x00}, FeatureMultiMemory},
		{"memory.copy 0 1", []byte{0xfc, 0x0a, 0x00, 0x01}, FeatureMultiMemory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeInstrs(t, append(bytes.Clone(tc.body), 0x0b))
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("got %v, want an UnsupportedError", err)
			}
			if ue.Feature != tc.feature {
				t.Fatalf("feature: got %q, want %q", ue.Feature, tc.feature)
			}
		})
	}
}

// module assembles a module from raw sections (id, contents).
func module(sections ...[]byte) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range sections {
		b = append(b, s[0])
		b = appendU32(b, uint32(len(s)-1))
		b = append(b, s[1:]...)
	}
	return b
}

func TestUnsupportedModule(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		feature string
	}{
		{"shared memory", module([]byte{5, 1, 0x03, 1, 1}), FeatureSharedMemory},
		{"memory64", module([]byte{5, 1, 0x04, 1}), FeatureMemory64},
		{"two memories", module([]byte{5, 2, 0, 1, 0, 1}), FeatureMultiMemory},
		{"imported and defined memory", module([]byte{2, 1, 1, 'a', 1, 'b', 2, 0, 1}, []byte{5, 1, 0, 1}), FeatureMultiMemory},
		{"custom page size", module([]byte{5, 1, 0x08, 1, 0}), FeatureCustomPageSizes},
		{"tag section", module([]byte{13, 0}), FeatureExceptions},
		{"tag import", module([]byte{2, 1, 1, 'a', 1, 'b', 4, 0, 0}), FeatureExceptions},
		{"struct type", module([]byte{1, 1, 0x5f, 0}), FeatureGC},
		{"rec group", module([]byte{1, 1, 0x4e, 0}), FeatureGC},
		{"typed ref param", module([]byte{1, 1, 0x60, 1, 0x64, 0x70, 0}), FeatureFuncRefs},
		{"anyref global", module([]byte{6, 1, 0x6e, 0, 0xd0, 0x6e, 0x0b}), FeatureGC},
		{"data in memory 1", module([]byte{11, 1, 2, 1, 0x41, 0, 0x0b, 0}), FeatureMultiMemory},
		{"component", []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, FeatureComponentModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.wasm)
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want an UnsupportedError", err)
			}
			if ue.Feature != tc.feature {
				t.Fatalf("feature: got %q, want %q", ue.Feature, tc.feature)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%v is not a *DecodeError", err)
			}
		})
	}
}

func TestMalformedOffsets(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		offset  int
		section wasm.SectionID
	}{
		{"bad magic", []byte{0, 'a', 's', 'n', 1, 0, 0, 0}, 0, wasm.SectionCustom},
		{"huge type count", module([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}), 10, wasm.SectionType},
		{"bad valtype", module([]byte{1, 1, 0x60, 1, 0x01, 0}), 13, wasm.SectionType},
		{"section overruns", append(module(), 1, 10, 0), 8, wasm.SectionCustom},
		{"illegal opcode", module([]byte{1, 1, 0x60, 0, 0}, []byte{3, 1, 0}, []byte{10, 1, 3, 0, 0xff, 0x0b}), 23, wasm.SectionCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.wasm)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want a malformed DecodeError", err)
			}
			if de.Offset != tc.offset || de.Section != tc.section {
				t.Fatalf("got offset %d in %s section, want %d in %s (%v)", de.Offset, de.Section, tc.offset, tc.section, err)
			}
		})
	}
}
