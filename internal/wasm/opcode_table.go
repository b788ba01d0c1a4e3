// Code generated from the WebAssembly 2.0 opcode tables; edit with care: the tables
// below are the single source of opcode metadata.

package wasm

// Opcodes. One-byte opcodes have their byte value; prefixed opcodes are
// prefix<<16 | sub-opcode (see MiscOp and SIMDOp).
const (
	OpUnreachable               Opcode = 0x00                  // unreachable
	OpNop                       Opcode = 0x01                  // nop
	OpBlock                     Opcode = 0x02                  // block
	OpLoop                      Opcode = 0x03                  // loop
	OpIf                        Opcode = 0x04                  // if
	OpElse                      Opcode = 0x05                  // else
	OpEnd                       Opcode = 0x0b                  // end
	OpBr                        Opcode = 0x0c                  // br
	OpBrIf                      Opcode = 0x0d                  // br_if
	OpBrTable                   Opcode = 0x0e                  // br_table
	OpReturn                    Opcode = 0x0f                  // return
	OpCall                      Opcode = 0x10                  // call
	OpCallIndirect              Opcode = 0x11                  // call_indirect
	OpDrop                      Opcode = 0x1a                  // drop
	OpSelect                    Opcode = 0x1b                  // select
	OpSelectT                   Opcode = 0x1c                  // select
	OpLocalGet                  Opcode = 0x20                  // local.get
	OpLocalSet                  Opcode = 0x21                  // local.set
	OpLocalTee                  Opcode = 0x22                  // local.tee
	OpGlobalGet                 Opcode = 0x23                  // global.get
	OpGlobalSet                 Opcode = 0x24                  // global.set
	OpTableGet                  Opcode = 0x25                  // table.get
	OpTableSet                  Opcode = 0x26                  // table.set
	OpI32Load                   Opcode = 0x28                  // i32.load
	OpI64Load                   Opcode = 0x29                  // i64.load
	OpF32Load                   Opcode = 0x2a                  // f32.load
	OpF64Load                   Opcode = 0x2b                  // f64.load
	OpI32Load8S                 Opcode = 0x2c                  // i32.load8_s
	OpI32Load8U                 Opcode = 0x2d                  // i32.load8_u
	OpI32Load16S                Opcode = 0x2e                  // i32.load16_s
	OpI32Load16U                Opcode = 0x2f                  // i32.load16_u
	OpI64Load8S                 Opcode = 0x30                  // i64.load8_s
	OpI64Load8U                 Opcode = 0x31                  // i64.load8_u
	OpI64Load16S                Opcode = 0x32                  // i64.load16_s
	OpI64Load16U                Opcode = 0x33                  // i64.load16_u
	OpI64Load32S                Opcode = 0x34                  // i64.load32_s
	OpI64Load32U                Opcode = 0x35                  // i64.load32_u
	OpI32Store                  Opcode = 0x36                  // i32.store
	OpI64Store                  Opcode = 0x37                  // i64.store
	OpF32Store                  Opcode = 0x38                  // f32.store
	OpF64Store                  Opcode = 0x39                  // f64.store
	OpI32Store8                 Opcode = 0x3a                  // i32.store8
	OpI32Store16                Opcode = 0x3b                  // i32.store16
	OpI64Store8                 Opcode = 0x3c                  // i64.store8
	OpI64Store16                Opcode = 0x3d                  // i64.store16
	OpI64Store32                Opcode = 0x3e                  // i64.store32
	OpMemorySize                Opcode = 0x3f                  // memory.size
	OpMemoryGrow                Opcode = 0x40                  // memory.grow
	OpI32Const                  Opcode = 0x41                  // i32.const
	OpI64Const                  Opcode = 0x42                  // i64.const
	OpF32Const                  Opcode = 0x43                  // f32.const
	OpF64Const                  Opcode = 0x44                  // f64.const
	OpI32Eqz                    Opcode = 0x45                  // i32.eqz
	OpI32Eq                     Opcode = 0x46                  // i32.eq
	OpI32Ne                     Opcode = 0x47                  // i32.ne
	OpI32LtS                    Opcode = 0x48                  // i32.lt_s
	OpI32LtU                    Opcode = 0x49                  // i32.lt_u
	OpI32GtS                    Opcode = 0x4a                  // i32.gt_s
	OpI32GtU                    Opcode = 0x4b                  // i32.gt_u
	OpI32LeS                    Opcode = 0x4c                  // i32.le_s
	OpI32LeU                    Opcode = 0x4d                  // i32.le_u
	OpI32GeS                    Opcode = 0x4e                  // i32.ge_s
	OpI32GeU                    Opcode = 0x4f                  // i32.ge_u
	OpI64Eqz                    Opcode = 0x50                  // i64.eqz
	OpI64Eq                     Opcode = 0x51                  // i64.eq
	OpI64Ne                     Opcode = 0x52                  // i64.ne
	OpI64LtS                    Opcode = 0x53                  // i64.lt_s
	OpI64LtU                    Opcode = 0x54                  // i64.lt_u
	OpI64GtS                    Opcode = 0x55                  // i64.gt_s
	OpI64GtU                    Opcode = 0x56                  // i64.gt_u
	OpI64LeS                    Opcode = 0x57                  // i64.le_s
	OpI64LeU                    Opcode = 0x58                  // i64.le_u
	OpI64GeS                    Opcode = 0x59                  // i64.ge_s
	OpI64GeU                    Opcode = 0x5a                  // i64.ge_u
	OpF32Eq                     Opcode = 0x5b                  // f32.eq
	OpF32Ne                     Opcode = 0x5c                  // f32.ne
	OpF32Lt                     Opcode = 0x5d                  // f32.lt
	OpF32Gt                     Opcode = 0x5e                  // f32.gt
	OpF32Le                     Opcode = 0x5f                  // f32.le
	OpF32Ge                     Opcode = 0x60                  // f32.ge
	OpF64Eq                     Opcode = 0x61                  // f64.eq
	OpF64Ne                     Opcode = 0x62                  // f64.ne
	OpF64Lt                     Opcode = 0x63                  // f64.lt
	OpF64Gt                     Opcode = 0x64                  // f64.gt
	OpF64Le                     Opcode = 0x65                  // f64.le
	OpF64Ge                     Opcode = 0x66                  // f64.ge
	OpI32Clz                    Opcode = 0x67                  // i32.clz
	OpI32Ctz                    Opcode = 0x68                  // i32.ctz
	OpI32Popcnt                 Opcode = 0x69                  // i32.popcnt
	OpI32Add                    Opcode = 0x6a                  // i32.add
	OpI32Sub                    Opcode = 0x6b                  // i32.sub
	OpI32Mul                    Opcode = 0x6c                  // i32.mul
	OpI32DivS                   Opcode = 0x6d                  // i32.div_s
	OpI32DivU                   Opcode = 0x6e                  // i32.div_u
	OpI32RemS                   Opcode = 0x6f                  // i32.rem_s
	OpI32RemU                   Opcode = 0x70                  // i32.rem_u
	OpI32And                    Opcode = 0x71                  // i32.and
	OpI32Or                     Opcode = 0x72                  // i32.or
	OpI32Xor                    Opcode = 0x73                  // i32.xor
	OpI32Shl                    Opcode = 0x74                  // i32.shl
	OpI32ShrS                   Opcode = 0x75                  // i32.shr_s
	OpI32ShrU                   Opcode = 0x76                  // i32.shr_u
	OpI32Rotl                   Opcode = 0x77                  // i32.rotl
	OpI32Rotr                   Opcode = 0x78                  // i32.rotr
	OpI64Clz                    Opcode = 0x79                  // i64.clz
	OpI64Ctz                    Opcode = 0x7a                  // i64.ctz
	OpI64Popcnt                 Opcode = 0x7b                  // i64.popcnt
	OpI64Add                    Opcode = 0x7c                  // i64.add
	OpI64Sub                    Opcode = 0x7d                  // i64.sub
	OpI64Mul                    Opcode = 0x7e                  // i64.mul
	OpI64DivS                   Opcode = 0x7f                  // i64.div_s
	OpI64DivU                   Opcode = 0x80                  // i64.div_u
	OpI64RemS                   Opcode = 0x81                  // i64.rem_s
	OpI64RemU                   Opcode = 0x82                  // i64.rem_u
	OpI64And                    Opcode = 0x83                  // i64.and
	OpI64Or                     Opcode = 0x84                  // i64.or
	OpI64Xor                    Opcode = 0x85                  // i64.xor
	OpI64Shl                    Opcode = 0x86                  // i64.shl
	OpI64ShrS                   Opcode = 0x87                  // i64.shr_s
	OpI64ShrU                   Opcode = 0x88                  // i64.shr_u
	OpI64Rotl                   Opcode = 0x89                  // i64.rotl
	OpI64Rotr                   Opcode = 0x8a                  // i64.rotr
	OpF32Abs                    Opcode = 0x8b                  // f32.abs
	OpF32Neg                    Opcode = 0x8c                  // f32.neg
	OpF32Ceil                   Opcode = 0x8d                  // f32.ceil
	OpF32Floor                  Opcode = 0x8e                  // f32.floor
	OpF32Trunc                  Opcode = 0x8f                  // f32.trunc
	OpF32Nearest                Opcode = 0x90                  // f32.nearest
	OpF32Sqrt                   Opcode = 0x91                  // f32.sqrt
	OpF32Add                    Opcode = 0x92                  // f32.add
	OpF32Sub                    Opcode = 0x93                  // f32.sub
	OpF32Mul                    Opcode = 0x94                  // f32.mul
	OpF32Div                    Opcode = 0x95                  // f32.div
	OpF32Min                    Opcode = 0x96                  // f32.min
	OpF32Max                    Opcode = 0x97                  // f32.max
	OpF32Copysign               Opcode = 0x98                  // f32.copysign
	OpF64Abs                    Opcode = 0x99                  // f64.abs
	OpF64Neg                    Opcode = 0x9a                  // f64.neg
	OpF64Ceil                   Opcode = 0x9b                  // f64.ceil
	OpF64Floor                  Opcode = 0x9c                  // f64.floor
	OpF64Trunc                  Opcode = 0x9d                  // f64.trunc
	OpF64Nearest                Opcode = 0x9e                  // f64.nearest
	OpF64Sqrt                   Opcode = 0x9f                  // f64.sqrt
	OpF64Add                    Opcode = 0xa0                  // f64.add
	OpF64Sub                    Opcode = 0xa1                  // f64.sub
	OpF64Mul                    Opcode = 0xa2                  // f64.mul
	OpF64Div                    Opcode = 0xa3                  // f64.div
	OpF64Min                    Opcode = 0xa4                  // f64.min
	OpF64Max                    Opcode = 0xa5                  // f64.max
	OpF64Copysign               Opcode = 0xa6                  // f64.copysign
	OpI32WrapI64                Opcode = 0xa7                  // i32.wrap_i64
	OpI32TruncF32S              Opcode = 0xa8                  // i32.trunc_f32_s
	OpI32TruncF32U              Opcode = 0xa9                  // i32.trunc_f32_u
	OpI32TruncF64S              Opcode = 0xaa                  // i32.trunc_f64_s
	OpI32TruncF64U              Opcode = 0xab                  // i32.trunc_f64_u
	OpI64ExtendI32S             Opcode = 0xac                  // i64.extend_i32_s
	OpI64ExtendI32U             Opcode = 0xad                  // i64.extend_i32_u
	OpI64TruncF32S              Opcode = 0xae                  // i64.trunc_f32_s
	OpI64TruncF32U              Opcode = 0xaf                  // i64.trunc_f32_u
	OpI64TruncF64S              Opcode = 0xb0                  // i64.trunc_f64_s
	OpI64TruncF64U              Opcode = 0xb1                  // i64.trunc_f64_u
	OpF32ConvertI32S            Opcode = 0xb2                  // f32.convert_i32_s
	OpF32ConvertI32U            Opcode = 0xb3                  // f32.convert_i32_u
	OpF32ConvertI64S            Opcode = 0xb4                  // f32.convert_i64_s
	OpF32ConvertI64U            Opcode = 0xb5                  // f32.convert_i64_u
	OpF32DemoteF64              Opcode = 0xb6                  // f32.demote_f64
	OpF64ConvertI32S            Opcode = 0xb7                  // f64.convert_i32_s
	OpF64ConvertI32U            Opcode = 0xb8                  // f64.convert_i32_u
	OpF64ConvertI64S            Opcode = 0xb9                  // f64.convert_i64_s
	OpF64ConvertI64U            Opcode = 0xba                  // f64.convert_i64_u
	OpF64PromoteF32             Opcode = 0xbb                  // f64.promote_f32
	OpI32ReinterpretF32         Opcode = 0xbc                  // i32.reinterpret_f32
	OpI64ReinterpretF64         Opcode = 0xbd                  // i64.reinterpret_f64
	OpF32ReinterpretI32         Opcode = 0xbe                  // f32.reinterpret_i32
	OpF64ReinterpretI64         Opcode = 0xbf                  // f64.reinterpret_i64
	OpI32Extend8S               Opcode = 0xc0                  // i32.extend8_s
	OpI32Extend16S              Opcode = 0xc1                  // i32.extend16_s
	OpI64Extend8S               Opcode = 0xc2                  // i64.extend8_s
	OpI64Extend16S              Opcode = 0xc3                  // i64.extend16_s
	OpI64Extend32S              Opcode = 0xc4                  // i64.extend32_s
	OpRefNull                   Opcode = 0xd0                  // ref.null
	OpRefIsNull                 Opcode = 0xd1                  // ref.is_null
	OpRefFunc                   Opcode = 0xd2                  // ref.func
	OpI32TruncSatF32S           Opcode = PrefixMisc<<16 | 0x00 // i32.trunc_sat_f32_s
	OpI32TruncSatF32U           Opcode = PrefixMisc<<16 | 0x01 // i32.trunc_sat_f32_u
	OpI32TruncSatF64S           Opcode = PrefixMisc<<16 | 0x02 // i32.trunc_sat_f64_s
	OpI32TruncSatF64U           Opcode = PrefixMisc<<16 | 0x03 // i32.trunc_sat_f64_u
	OpI64TruncSatF32S           Opcode = PrefixMisc<<16 | 0x04 // i64.trunc_sat_f32_s
	OpI64TruncSatF32U           Opcode = PrefixMisc<<16 | 0x05 // i64.trunc_sat_f32_u
	OpI64TruncSatF64S           Opcode = PrefixMisc<<16 | 0x06 // i64.trunc_sat_f64_s
	OpI64TruncSatF64U           Opcode = PrefixMisc<<16 | 0x07 // i64.trunc_sat_f64_u
	OpMemoryInit                Opcode = PrefixMisc<<16 | 0x08 // memory.init
	OpDataDrop                  Opcode = PrefixMisc<<16 | 0x09 // data.drop
	OpMemoryCopy                Opcode = PrefixMisc<<16 | 0x0a // memory.copy
	OpMemoryFill                Opcode = PrefixMisc<<16 | 0x0b // memory.fill
	OpTableInit                 Opcode = PrefixMisc<<16 | 0x0c // table.init
	OpElemDrop                  Opcode = PrefixMisc<<16 | 0x0d // elem.drop
	OpTableCopy                 Opcode = PrefixMisc<<16 | 0x0e // table.copy
	OpTableGrow                 Opcode = PrefixMisc<<16 | 0x0f // table.grow
	OpTableSize                 Opcode = PrefixMisc<<16 | 0x10 // table.size
	OpTableFill                 Opcode = PrefixMisc<<16 | 0x11 // table.fill
	OpV128Load                  Opcode = PrefixSIMD<<16 | 0x00 // v128.load
	OpV128Load8x8S              Opcode = PrefixSIMD<<16 | 0x01 // v128.load8x8_s
	OpV128Load8x8U              Opcode = PrefixSIMD<<16 | 0x02 // v128.load8x8_u
	OpV128Load16x4S             Opcode = PrefixSIMD<<16 | 0x03 // v128.load16x4_s
	OpV128Load16x4U             Opcode = PrefixSIMD<<16 | 0x04 // v128.load16x4_u
	OpV128Load32x2S             Opcode = PrefixSIMD<<16 | 0x05 // v128.load32x2_s
	OpV128Load32x2U             Opcode = PrefixSIMD<<16 | 0x06 // v128.load32x2_u
	OpV128Load8Splat            Opcode = PrefixSIMD<<16 | 0x07 // v128.load8_splat
	OpV128Load16Splat           Opcode = PrefixSIMD<<16 | 0x08 // v128.load16_splat
	OpV128Load32Splat           Opcode = PrefixSIMD<<16 | 0x09 // v128.load32_splat
	OpV128Load64Splat           Opcode = PrefixSIMD<<16 | 0x0a // v128.load64_splat
	OpV128Store                 Opcode = PrefixSIMD<<16 | 0x0b // v128.store
	OpV128Const                 Opcode = PrefixSIMD<<16 | 0x0c // v128.const
	OpI8x16Shuffle              Opcode = PrefixSIMD<<16 | 0x0d // i8x16.shuffle
	OpI8x16Swizzle              Opcode = PrefixSIMD<<16 | 0x0e // i8x16.swizzle
	OpI8x16Splat                Opcode = PrefixSIMD<<16 | 0x0f // i8x16.splat
	OpI16x8Splat                Opcode = PrefixSIMD<<16 | 0x10 // i16x8.splat
	OpI32x4Splat                Opcode = PrefixSIMD<<16 | 0x11 // i32x4.splat
	OpI64x2Splat                Opcode = PrefixSIMD<<16 | 0x12 // i64x2.splat
	OpF32x4Splat                Opcode = PrefixSIMD<<16 | 0x13 // f32x4.splat
	OpF64x2Splat                Opcode = PrefixSIMD<<16 | 0x14 // f64x2.splat
	OpI8x16ExtractLaneS         Opcode = PrefixSIMD<<16 | 0x15 // i8x16.extract_lane_s
	OpI8x16ExtractLaneU         Opcode = PrefixSIMD<<16 | 0x16 // i8x16.extract_lane_u
	OpI8x16ReplaceLane          Opcode = PrefixSIMD<<16 | 0x17 // i8x16.replace_lane
	OpI16x8ExtractLaneS         Opcode = PrefixSIMD<<16 | 0x18 // i16x8.extract_lane_s
	OpI16x8ExtractLaneU         Opcode = PrefixSIMD<<16 | 0x19 // i16x8.extract_lane_u
	OpI16x8ReplaceLane          Opcode = PrefixSIMD<<16 | 0x1a // i16x8.replace_lane
	OpI32x4ExtractLane          Opcode = PrefixSIMD<<16 | 0x1b // i32x4.extract_lane
	OpI32x4ReplaceLane          Opcode = PrefixSIMD<<16 | 0x1c // i32x4.replace_lane
	OpI64x2ExtractLane          Opcode = PrefixSIMD<<16 | 0x1d // i64x2.extract_lane
	OpI64x2ReplaceLane          Opcode = PrefixSIMD<<16 | 0x1e // i64x2.replace_lane
	OpF32x4ExtractLane          Opcode = PrefixSIMD<<16 | 0x1f // f32x4.extract_lane
	OpF32x4ReplaceLane          Opcode = PrefixSIMD<<16 | 0x20 // f32x4.replace_lane
	OpF64x2ExtractLane          Opcode = PrefixSIMD<<16 | 0x21 // f64x2.extract_lane
	OpF64x2ReplaceLane          Opcode = PrefixSIMD<<16 | 0x22 // f64x2.replace_lane
	OpI8x16Eq                   Opcode = PrefixSIMD<<16 | 0x23 // i8x16.eq
	OpI8x16Ne                   Opcode = PrefixSIMD<<16 | 0x24 // i8x16.ne
	OpI8x16LtS                  Opcode = PrefixSIMD<<16 | 0x25 // i8x16.lt_s
	OpI8x16LtU                  Opcode = PrefixSIMD<<16 | 0x26 // i8x16.lt_u
	OpI8x16GtS                  Opcode = PrefixSIMD<<16 | 0x27 // i8x16.gt_s
	OpI8x16GtU                  Opcode = PrefixSIMD<<16 | 0x28 // i8x16.gt_u
	OpI8x16LeS                  Opcode = PrefixSIMD<<16 | 0x29 // i8x16.le_s
	OpI8x16LeU                  Opcode = PrefixSIMD<<16 | 0x2a // i8x16.le_u
	OpI8x16GeS                  Opcode = PrefixSIMD<<16 | 0x2b // i8x16.ge_s
	OpI8x16GeU                  Opcode = PrefixSIMD<<16 | 0x2c // i8x16.ge_u
	OpI16x8Eq                   Opcode = PrefixSIMD<<16 | 0x2d // i16x8.eq
	OpI16x8Ne                   Opcode = PrefixSIMD<<16 | 0x2e // i16x8.ne
	OpI16x8LtS                  Opcode = PrefixSIMD<<16 | 0x2f // i16x8.lt_s
	OpI16x8LtU                  Opcode = PrefixSIMD<<16 | 0x30 // i16x8.lt_u
	OpI16x8GtS                  Opcode = PrefixSIMD<<16 | 0x31 // i16x8.gt_s
	OpI16x8GtU                  Opcode = PrefixSIMD<<16 | 0x32 // i16x8.gt_u
	OpI16x8LeS                  Opcode = PrefixSIMD<<16 | 0x33 // i16x8.le_s
	OpI16x8LeU                  Opcode = PrefixSIMD<<16 | 0x34 // i16x8.le_u
	OpI16x8GeS                  Opcode = PrefixSIMD<<16 | 0x35 // i16x8.ge_s
	OpI16x8GeU                  Opcode = PrefixSIMD<<16 | 0x36 // i16x8.ge_u
	OpI32x4Eq                   Opcode = PrefixSIMD<<16 | 0x37 // i32x4.eq
	OpI32x4Ne                   Opcode = PrefixSIMD<<16 | 0x38 // i32x4.ne
	OpI32x4LtS                  Opcode = PrefixSIMD<<16 | 0x39 // i32x4.lt_s
	OpI32x4LtU                  Opcode = PrefixSIMD<<16 | 0x3a // i32x4.lt_u
	OpI32x4GtS                  Opcode = PrefixSIMD<<16 | 0x3b // i32x4.gt_s
	OpI32x4GtU                  Opcode = PrefixSIMD<<16 | 0x3c // i32x4.gt_u
	OpI32x4LeS                  Opcode = PrefixSIMD<<16 | 0x3d // i32x4.le_s
	OpI32x4LeU                  Opcode = PrefixSIMD<<16 | 0x3e // i32x4.le_u
	OpI32x4GeS                  Opcode = PrefixSIMD<<16 | 0x3f // i32x4.ge_s
	OpI32x4GeU                  Opcode = PrefixSIMD<<16 | 0x40 // i32x4.ge_u
	OpF32x4Eq                   Opcode = PrefixSIMD<<16 | 0x41 // f32x4.eq
	OpF32x4Ne                   Opcode = PrefixSIMD<<16 | 0x42 // f32x4.ne
	OpF32x4Lt                   Opcode = PrefixSIMD<<16 | 0x43 // f32x4.lt
	OpF32x4Gt                   Opcode = PrefixSIMD<<16 | 0x44 // f32x4.gt
	OpF32x4Le                   Opcode = PrefixSIMD<<16 | 0x45 // f32x4.le
	OpF32x4Ge                   Opcode = PrefixSIMD<<16 | 0x46 // f32x4.ge
	OpF64x2Eq                   Opcode = PrefixSIMD<<16 | 0x47 // f64x2.eq
	OpF64x2Ne                   Opcode = PrefixSIMD<<16 | 0x48 // f64x2.ne
	OpF64x2Lt                   Opcode = PrefixSIMD<<16 | 0x49 // f64x2.lt
	OpF64x2Gt                   Opcode = PrefixSIMD<<16 | 0x4a // f64x2.gt
	OpF64x2Le                   Opcode = PrefixSIMD<<16 | 0x4b // f64x2.le
	OpF64x2Ge                   Opcode = PrefixSIMD<<16 | 0x4c // f64x2.ge
	OpV128Not                   Opcode = PrefixSIMD<<16 | 0x4d // v128.not
	OpV128And                   Opcode = PrefixSIMD<<16 | 0x4e // v128.and
	OpV128Andnot                Opcode = PrefixSIMD<<16 | 0x4f // v128.andnot
	OpV128Or                    Opcode = PrefixSIMD<<16 | 0x50 // v128.or
	OpV128Xor                   Opcode = PrefixSIMD<<16 | 0x51 // v128.xor
	OpV128Bitselect             Opcode = PrefixSIMD<<16 | 0x52 // v128.bitselect
	OpV128AnyTrue               Opcode = PrefixSIMD<<16 | 0x53 // v128.any_true
	OpV128Load8Lane             Opcode = PrefixSIMD<<16 | 0x54 // v128.load8_lane
	OpV128Load16Lane            Opcode = PrefixSIMD<<16 | 0x55 // v128.load16_lane
	OpV128Load32Lane            Opcode = PrefixSIMD<<16 | 0x56 // v128.load32_lane
	OpV128Load64Lane            Opcode = PrefixSIMD<<16 | 0x57 // v128.load64_lane
	OpV128Store8Lane            Opcode = PrefixSIMD<<16 | 0x58 // v128.store8_lane
	OpV128Store16Lane           Opcode = PrefixSIMD<<16 | 0x59 // v128.store16_lane
	OpV128Store32Lane           Opcode = PrefixSIMD<<16 | 0x5a // v128.store32_lane
	OpV128Store64Lane           Opcode = PrefixSIMD<<16 | 0x5b // v128.store64_lane
	OpV128Load32Zero            Opcode = PrefixSIMD<<16 | 0x5c // v128.load32_zero
	OpV128Load64Zero            Opcode = PrefixSIMD<<16 | 0x5d // v128.load64_zero
	OpF32x4DemoteF64x2Zero      Opcode = PrefixSIMD<<16 | 0x5e // f32x4.demote_f64x2_zero
	OpF64x2PromoteLowF32x4      Opcode = PrefixSIMD<<16 | 0x5f // f64x2.promote_low_f32x4
	OpI8x16Abs                  Opcode = PrefixSIMD<<16 | 0x60 // i8x16.abs
	OpI8x16Neg                  Opcode = PrefixSIMD<<16 | 0x61 // i8x16.neg
	OpI8x16Popcnt               Opcode = PrefixSIMD<<16 | 0x62 // i8x16.popcnt
	OpI8x16AllTrue              Opcode = PrefixSIMD<<16 | 0x63 // i8x16.all_true
	OpI8x16Bitmask              Opcode = PrefixSIMD<<16 | 0x64 // i8x16.bitmask
	OpI8x16NarrowI16x8S         Opcode = PrefixSIMD<<16 | 0x65 // i8x16.narrow_i16x8_s
	OpI8x16NarrowI16x8U         Opcode = PrefixSIMD<<16 | 0x66 // i8x16.narrow_i16x8_u
	OpF32x4Ceil                 Opcode = PrefixSIMD<<16 | 0x67 // f32x4.ceil
	OpF32x4Floor                Opcode = PrefixSIMD<<16 | 0x68 // f32x4.floor
	OpF32x4Trunc                Opcode = PrefixSIMD<<16 | 0x69 // f32x4.trunc
	OpF32x4Nearest              Opcode = PrefixSIMD<<16 | 0x6a // f32x4.nearest
	OpI8x16Shl                  Opcode = PrefixSIMD<<16 | 0x6b // i8x16.shl
	OpI8x16ShrS                 Opcode = PrefixSIMD<<16 | 0x6c // i8x16.shr_s
	OpI8x16ShrU                 Opcode = PrefixSIMD<<16 | 0x6d // i8x16.shr_u
	OpI8x16Add                  Opcode = PrefixSIMD<<16 | 0x6e // i8x16.add
	OpI8x16AddSatS              Opcode = PrefixSIMD<<16 | 0x6f // i8x16.add_sat_s
	OpI8x16AddSatU              Opcode = PrefixSIMD<<16 | 0x70 // i8x16.add_sat_u
	OpI8x16Sub                  Opcode = PrefixSIMD<<16 | 0x71 // i8x16.sub
	OpI8x16SubSatS              Opcode = PrefixSIMD<<16 | 0x72 // i8x16.sub_sat_s
	OpI8x16SubSatU              Opcode = PrefixSIMD<<16 | 0x73 // i8x16.sub_sat_u
	OpF64x2Ceil                 Opcode = PrefixSIMD<<16 | 0x74 // f64x2.ceil
	OpF64x2Floor                Opcode = PrefixSIMD<<16 | 0x75 // f64x2.floor
	OpI8x16MinS                 Opcode = PrefixSIMD<<16 | 0x76 // i8x16.min_s
	OpI8x16MinU                 Opcode = PrefixSIMD<<16 | 0x77 // i8x16.min_u
	OpI8x16MaxS                 Opcode = PrefixSIMD<<16 | 0x78 // i8x16.max_s
	OpI8x16MaxU                 Opcode = PrefixSIMD<<16 | 0x79 // i8x16.max_u
	OpF64x2Trunc                Opcode = PrefixSIMD<<16 | 0x7a // f64x2.trunc
	OpI8x16AvgrU                Opcode = PrefixSIMD<<16 | 0x7b // i8x16.avgr_u
	OpI16x8ExtaddPairwiseI8x16S Opcode = PrefixSIMD<<16 | 0x7c // i16x8.extadd_pairwise_i8x16_s
	OpI16x8ExtaddPairwiseI8x16U Opcode = PrefixSIMD<<16 | 0x7d // i16x8.extadd_pairwise_i8x16_u
	OpI32x4ExtaddPairwiseI16x8S Opcode = PrefixSIMD<<16 | 0x7e // i32x4.extadd_pairwise_i16x8_s
	OpI32x4ExtaddPairwiseI16x8U Opcode = PrefixSIMD<<16 | 0x7f // i32x4.extadd_pairwise_i16x8_u
	OpI16x8Abs                  Opcode = PrefixSIMD<<16 | 0x80 // i16x8.abs
	OpI16x8Neg                  Opcode = PrefixSIMD<<16 | 0x81 // i16x8.neg
	OpI16x8Q15mulrSatS          Opcode = PrefixSIMD<<16 | 0x82 // i16x8.q15mulr_sat_s
	OpI16x8AllTrue              Opcode = PrefixSIMD<<16 | 0x83 // i16x8.all_true
	OpI16x8Bitmask              Opcode = PrefixSIMD<<16 | 0x84 // i16x8.bitmask
	OpI16x8NarrowI32x4S         Opcode = PrefixSIMD<<16 | 0x85 // i16x8.narrow_i32x4_s
	OpI16x8NarrowI32x4U         Opcode = PrefixSIMD<<16 | 0x86 // i16x8.narrow_i32x4_u
	OpI16x8ExtendLowI8x16S      Opcode = PrefixSIMD<<16 | 0x87 // i16x8.extend_low_i8x16_s
	OpI16x8ExtendHighI8x16S     Opcode = PrefixSIMD<<16 | 0x88 // i16x8.extend_high_i8x16_s
	OpI16x8ExtendLowI8x16U      Opcode = PrefixSIMD<<16 | 0x89 // i16x8.extend_low_i8x16_u
	OpI16x8ExtendHighI8x16U     Opcode = PrefixSIMD<<16 | 0x8a // i16x8.extend_high_i8x16_u
	OpI16x8Shl                  Opcode = PrefixSIMD<<16 | 0x8b // i16x8.shl
	OpI16x8ShrS                 Opcode = PrefixSIMD<<16 | 0x8c // i16x8.shr_s
	OpI16x8ShrU                 Opcode = PrefixSIMD<<16 | 0x8d // i16x8.shr_u
	OpI16x8Add                  Opcode = PrefixSIMD<<16 | 0x8e // i16x8.add
	OpI16x8AddSatS              Opcode = PrefixSIMD<<16 | 0x8f // i16x8.add_sat_s
	OpI16x8AddSatU              Opcode = PrefixSIMD<<16 | 0x90 // i16x8.add_sat_u
	OpI16x8Sub                  Opcode = PrefixSIMD<<16 | 0x91 // i16x8.sub
	OpI16x8SubSatS              Opcode = PrefixSIMD<<16 | 0x92 // i16x8.sub_sat_s
	OpI16x8SubSatU              Opcode = PrefixSIMD<<16 | 0x93 // i16x8.sub_sat_u
	OpF64x2Nearest              Opcode = PrefixSIMD<<16 | 0x94 // f64x2.nearest
	OpI16x8Mul                  Opcode = PrefixSIMD<<16 | 0x95 // i16x8.mul
	OpI16x8MinS                 Opcode = PrefixSIMD<<16 | 0x96 // i16x8.min_s
	OpI16x8MinU                 Opcode = PrefixSIMD<<16 | 0x97 // i16x8.min_u
	OpI16x8MaxS                 Opcode = PrefixSIMD<<16 | 0x98 // i16x8.max_s
	OpI16x8MaxU                 Opcode = PrefixSIMD<<16 | 0x99 // i16x8.max_u
	OpI16x8AvgrU                Opcode = PrefixSIMD<<16 | 0x9b // i16x8.avgr_u
	OpI16x8ExtmulLowI8x16S      Opcode = PrefixSIMD<<16 | 0x9c // i16x8.extmul_low_i8x16_s
	OpI16x8ExtmulHighI8x16S     Opcode = PrefixSIMD<<16 | 0x9d // i16x8.extmul_high_i8x16_s
	OpI16x8ExtmulLowI8x16U      Opcode = PrefixSIMD<<16 | 0x9e // i16x8.extmul_low_i8x16_u
	OpI16x8ExtmulHighI8x16U     Opcode = PrefixSIMD<<16 | 0x9f // i16x8.extmul_high_i8x16_u
	OpI32x4Abs                  Opcode = PrefixSIMD<<16 | 0xa0 // i32x4.abs
	OpI32x4Neg                  Opcode = PrefixSIMD<<16 | 0xa1 // i32x4.neg
	OpI32x4AllTrue              Opcode = PrefixSIMD<<16 | 0xa3 // i32x4.all_true
	OpI32x4Bitmask              Opcode = PrefixSIMD<<16 | 0xa4 // i32x4.bitmask
	OpI32x4ExtendLowI16x8S      Opcode = PrefixSIMD<<16 | 0xa7 // i32x4.extend_low_i16x8_s
	OpI32x4ExtendHighI16x8S     Opcode = PrefixSIMD<<16 | 0xa8 // i32x4.extend_high_i16x8_s
	OpI32x4ExtendLowI16x8U      Opcode = PrefixSIMD<<16 | 0xa9 // i32x4.extend_low_i16x8_u
	OpI32x4ExtendHighI16x8U     Opcode = PrefixSIMD<<16 | 0xaa // i32x4.extend_high_i16x8_u
	OpI32x4Shl                  Opcode = PrefixSIMD<<16 | 0xab // i32x4.shl
	OpI32x4ShrS                 Opcode = PrefixSIMD<<16 | 0xac // i32x4.shr_s
	OpI32x4ShrU                 Opcode = PrefixSIMD<<16 | 0xad // i32x4.shr_u
	OpI32x4Add                  Opcode = PrefixSIMD<<16 | 0xae // i32x4.add
	OpI32x4Sub                  Opcode = PrefixSIMD<<16 | 0xb1 // i32x4.sub
	OpI32x4Mul                  Opcode = PrefixSIMD<<16 | 0xb5 // i32x4.mul
	OpI32x4MinS                 Opcode = PrefixSIMD<<16 | 0xb6 // i32x4.min_s
	OpI32x4MinU                 Opcode = PrefixSIMD<<16 | 0xb7 // i32x4.min_u
	OpI32x4MaxS                 Opcode = PrefixSIMD<<16 | 0xb8 // i32x4.max_s
	OpI32x4MaxU                 Opcode = PrefixSIMD<<16 | 0xb9 // i32x4.max_u
	OpI32x4DotI16x8S            Opcode = PrefixSIMD<<16 | 0xba // i32x4.dot_i16x8_s
	OpI32x4ExtmulLowI16x8S      Opcode = PrefixSIMD<<16 | 0xbc // i32x4.extmul_low_i16x8_s
	OpI32x4ExtmulHighI16x8S     Opcode = PrefixSIMD<<16 | 0xbd // i32x4.extmul_high_i16x8_s
	OpI32x4ExtmulLowI16x8U      Opcode = PrefixSIMD<<16 | 0xbe // i32x4.extmul_low_i16x8_u
	OpI32x4ExtmulHighI16x8U     Opcode = PrefixSIMD<<16 | 0xbf // i32x4.extmul_high_i16x8_u
	OpI64x2Abs                  Opcode = PrefixSIMD<<16 | 0xc0 // i64x2.abs
	OpI64x2Neg                  Opcode = PrefixSIMD<<16 | 0xc1 // i64x2.neg
	OpI64x2AllTrue              Opcode = PrefixSIMD<<16 | 0xc3 // i64x2.all_true
	OpI64x2Bitmask              Opcode = PrefixSIMD<<16 | 0xc4 // i64x2.bitmask
	OpI64x2ExtendLowI32x4S      Opcode = PrefixSIMD<<16 | 0xc7 // i64x2.extend_low_i32x4_s
	OpI64x2ExtendHighI32x4S     Opcode = PrefixSIMD<<16 | 0xc8 // i64x2.extend_high_i32x4_s
	OpI64x2ExtendLowI32x4U      Opcode = PrefixSIMD<<16 | 0xc9 // i64x2.extend_low_i32x4_u
	OpI64x2ExtendHighI32x4U     Opcode = PrefixSIMD<<16 | 0xca // i64x2.extend_high_i32x4_u
	OpI64x2Shl                  Opcode = PrefixSIMD<<16 | 0xcb // i64x2.shl
	OpI64x2ShrS                 Opcode = PrefixSIMD<<16 | 0xcc // i64x2.shr_s
	OpI64x2ShrU                 Opcode = PrefixSIMD<<16 | 0xcd // i64x2.shr_u
	OpI64x2Add                  Opcode = PrefixSIMD<<16 | 0xce // i64x2.add
	OpI64x2Sub                  Opcode = PrefixSIMD<<16 | 0xd1 // i64x2.sub
	OpI64x2Mul                  Opcode = PrefixSIMD<<16 | 0xd5 // i64x2.mul
	OpI64x2Eq                   Opcode = PrefixSIMD<<16 | 0xd6 // i64x2.eq
	OpI64x2Ne                   Opcode = PrefixSIMD<<16 | 0xd7 // i64x2.ne
	OpI64x2Lt                   Opcode = PrefixSIMD<<16 | 0xd8 // i64x2.lt
	OpI64x2Gt                   Opcode = PrefixSIMD<<16 | 0xd9 // i64x2.gt
	OpI64x2Le                   Opcode = PrefixSIMD<<16 | 0xda // i64x2.le
	OpI64x2Ge                   Opcode = PrefixSIMD<<16 | 0xdb // i64x2.ge
	OpI64x2ExtmulLowI32x4S      Opcode = PrefixSIMD<<16 | 0xdc // i64x2.extmul_low_i32x4_s
	OpI64x2ExtmulHighI32x4S     Opcode = PrefixSIMD<<16 | 0xdd // i64x2.extmul_high_i32x4_s
	OpI64x2ExtmulLowI32x4U      Opcode = PrefixSIMD<<16 | 0xde // i64x2.extmul_low_i32x4_u
	OpI64x2ExtmulHighI32x4U     Opcode = PrefixSIMD<<16 | 0xdf // i64x2.extmul_high_i32x4_u
	OpF32x4Abs                  Opcode = PrefixSIMD<<16 | 0xe0 // f32x4.abs
	OpF32x4Neg                  Opcode = PrefixSIMD<<16 | 0xe1 // f32x4.neg
	OpF32x4Sqrt                 Opcode = PrefixSIMD<<16 | 0xe3 // f32x4.sqrt
	OpF32x4Add                  Opcode = PrefixSIMD<<16 | 0xe4 // f32x4.add
	OpF32x4Sub                  Opcode = PrefixSIMD<<16 | 0xe5 // f32x4.sub
	OpF32x4Mul                  Opcode = PrefixSIMD<<16 | 0xe6 // f32x4.mul
	OpF32x4Div                  Opcode = PrefixSIMD<<16 | 0xe7 // f32x4.div
	OpF32x4Min                  Opcode = PrefixSIMD<<16 | 0xe8 // f32x4.min
	OpF32x4Max                  Opcode = PrefixSIMD<<16 | 0xe9 // f32x4.max
	OpF32x4Pmin                 Opcode = PrefixSIMD<<16 | 0xea // f32x4.pmin
	OpF32x4Pmax                 Opcode = PrefixSIMD<<16 | 0xeb // f32x4.pmax
	OpF64x2Abs                  Opcode = PrefixSIMD<<16 | 0xec // f64x2.abs
	OpF64x2Neg                  Opcode = PrefixSIMD<<16 | 0xed // f64x2.neg
	OpF64x2Sqrt                 Opcode = PrefixSIMD<<16 | 0xef // f64x2.sqrt
	OpF64x2Add                  Opcode = PrefixSIMD<<16 | 0xf0 // f64x2.add
	OpF64x2Sub                  Opcode = PrefixSIMD<<16 | 0xf1 // f64x2.sub
	OpF64x2Mul                  Opcode = PrefixSIMD<<16 | 0xf2 // f64x2.mul
	OpF64x2Div                  Opcode = PrefixSIMD<<16 | 0xf3 // f64x2.div
	OpF64x2Min                  Opcode = PrefixSIMD<<16 | 0xf4 // f64x2.min
	OpF64x2Max                  Opcode = PrefixSIMD<<16 | 0xf5 // f64x2.max
	OpF64x2Pmin                 Opcode = PrefixSIMD<<16 | 0xf6 // f64x2.pmin
	OpF64x2Pmax                 Opcode = PrefixSIMD<<16 | 0xf7 // f64x2.pmax
	OpI32x4TruncSatF32x4S       Opcode = PrefixSIMD<<16 | 0xf8 // i32x4.trunc_sat_f32x4_s
	OpI32x4TruncSatF32x4U       Opcode = PrefixSIMD<<16 | 0xf9 // i32x4.trunc_sat_f32x4_u
	OpF32x4ConvertI32x4S        Opcode = PrefixSIMD<<16 | 0xfa // f32x4.convert_i32x4_s
	OpF32x4ConvertI32x4U        Opcode = PrefixSIMD<<16 | 0xfb // f32x4.convert_i32x4_u
	OpI32x4TruncSatF64x2SZero   Opcode = PrefixSIMD<<16 | 0xfc // i32x4.trunc_sat_f64x2_s_zero
	OpI32x4TruncSatF64x2UZero   Opcode = PrefixSIMD<<16 | 0xfd // i32x4.trunc_sat_f64x2_u_zero
	OpF64x2ConvertLowI32x4S     Opcode = PrefixSIMD<<16 | 0xfe // f64x2.convert_low_i32x4_s
	OpF64x2ConvertLowI32x4U     Opcode = PrefixSIMD<<16 | 0xff // f64x2.convert_low_i32x4_u
)

var opTable = [...]opInfo{
	{OpUnreachable, "unreachable", ImmNone, CatControl, nil, nil, true},
	{OpNop, "nop", ImmNone, 0, nil, nil, true},
	{OpBlock, "block", ImmBlockType, CatControl | CatBlockStart, nil, nil, false},
	{OpLoop, "loop", ImmBlockType, CatControl | CatBlockStart, nil, nil, false},
	{OpIf, "if", ImmBlockType, CatControl | CatBlockStart, nil, nil, false},
	{OpElse, "else", ImmNone, CatControl, nil, nil, false},
	{OpEnd, "end", ImmNone, CatControl, nil, nil, false},
	{OpBr, "br", ImmLabel, CatControl | CatBranch, nil, nil, false},
	{OpBrIf, "br_if", ImmLabel, CatControl | CatBranch, nil, nil, false},
	{OpBrTable, "br_table", ImmBrTable, CatControl | CatBranch, nil, nil, false},
	{OpReturn, "return", ImmNone, CatControl | CatBranch, nil, nil, false},
	{OpCall, "call", ImmFunc, CatCall, nil, nil, false},
	{OpCallIndirect, "call_indirect", ImmCallIndirect, CatCall, nil, nil, false},
	{OpDrop, "drop", ImmNone, CatParametric, nil, nil, false},
	{OpSelect, "select", ImmNone, CatParametric, nil, nil, false},
	{OpSelectT, "select", ImmSelectT, CatParametric, nil, nil, false},
	{OpLocalGet, "local.get", ImmLocal, CatVariable, nil, nil, false},
	{OpLocalSet, "local.set", ImmLocal, CatVariable, nil, nil, false},
	{OpLocalTee, "local.tee", ImmLocal, CatVariable, nil, nil, false},
	{OpGlobalGet, "global.get", ImmGlobal, CatVariable, nil, nil, false},
	{OpGlobalSet, "global.set", ImmGlobal, CatVariable, nil, nil, false},
	{OpTableGet, "table.get", ImmTable, CatTable, nil, nil, false},
	{OpTableSet, "table.set", ImmTable, CatTable, nil, nil, false},
	{OpI32Load, "i32.load", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I32}, true},
	{OpI64Load, "i64.load", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpF32Load, "f32.load", ImmMemArg, CatLoad | CatFloat, []ValType{I32}, []ValType{F32}, true},
	{OpF64Load, "f64.load", ImmMemArg, CatLoad | CatFloat, []ValType{I32}, []ValType{F64}, true},
	{OpI32Load8S, "i32.load8_s", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I32}, true},
	{OpI32Load8U, "i32.load8_u", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I32}, true},
	{OpI32Load16S, "i32.load16_s", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I32}, true},
	{OpI32Load16U, "i32.load16_u", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I32}, true},
	{OpI64Load8S, "i64.load8_s", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI64Load8U, "i64.load8_u", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI64Load16S, "i64.load16_s", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI64Load16U, "i64.load16_u", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI64Load32S, "i64.load32_s", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI64Load32U, "i64.load32_u", ImmMemArg, CatLoad, []ValType{I32}, []ValType{I64}, true},
	{OpI32Store, "i32.store", ImmMemArg, CatStore, []ValType{I32, I32}, nil, true},
	{OpI64Store, "i64.store", ImmMemArg, CatStore, []ValType{I32, I64}, nil, true},
	{OpF32Store, "f32.store", ImmMemArg, CatStore | CatFloat, []ValType{I32, F32}, nil, true},
	{OpF64Store, "f64.store", ImmMemArg, CatStore | CatFloat, []ValType{I32, F64}, nil, true},
	{OpI32Store8, "i32.store8", ImmMemArg, CatStore, []ValType{I32, I32}, nil, true},
	{OpI32Store16, "i32.store16", ImmMemArg, CatStore, []ValType{I32, I32}, nil, true},
	{OpI64Store8, "i64.store8", ImmMemArg, CatStore, []ValType{I32, I64}, nil, true},
	{OpI64Store16, "i64.store16", ImmMemArg, CatStore, []ValType{I32, I64}, nil, true},
	{OpI64Store32, "i64.store32", ImmMemArg, CatStore, []ValType{I32, I64}, nil, true},
	{OpMemorySize, "memory.size", ImmMemory, CatMemory, nil, []ValType{I32}, true},
	{OpMemoryGrow, "memory.grow", ImmMemory, CatMemory | CatMemoryGrow, []ValType{I32}, []ValType{I32}, true},
	{OpI32Const, "i32.const", ImmI32, CatConst, nil, []ValType{I32}, true},
	{OpI64Const, "i64.const", ImmI64, CatConst, nil, []ValType{I64}, true},
	{OpF32Const, "f32.const", ImmF32, CatConst | CatFloat, nil, []ValType{F32}, true},
	{OpF64Const, "f64.const", ImmF64, CatConst | CatFloat, nil, []ValType{F64}, true},
	{OpI32Eqz, "i32.eqz", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI32Eq, "i32.eq", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Ne, "i32.ne", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32LtS, "i32.lt_s", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32LtU, "i32.lt_u", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32GtS, "i32.gt_s", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32GtU, "i32.gt_u", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32LeS, "i32.le_s", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32LeU, "i32.le_u", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32GeS, "i32.ge_s", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32GeU, "i32.ge_u", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI64Eqz, "i64.eqz", ImmNone, CatNumeric, []ValType{I64}, []ValType{I32}, true},
	{OpI64Eq, "i64.eq", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64Ne, "i64.ne", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64LtS, "i64.lt_s", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64LtU, "i64.lt_u", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64GtS, "i64.gt_s", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64GtU, "i64.gt_u", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64LeS, "i64.le_s", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64LeU, "i64.le_u", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64GeS, "i64.ge_s", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpI64GeU, "i64.ge_u", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I32}, true},
	{OpF32Eq, "f32.eq", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF32Ne, "f32.ne", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF32Lt, "f32.lt", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF32Gt, "f32.gt", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF32Le, "f32.le", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF32Ge, "f32.ge", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{I32}, true},
	{OpF64Eq, "f64.eq", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpF64Ne, "f64.ne", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpF64Lt, "f64.lt", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpF64Gt, "f64.gt", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpF64Le, "f64.le", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpF64Ge, "f64.ge", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{I32}, true},
	{OpI32Clz, "i32.clz", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI32Ctz, "i32.ctz", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI32Popcnt, "i32.popcnt", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI32Add, "i32.add", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Sub, "i32.sub", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Mul, "i32.mul", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32DivS, "i32.div_s", ImmNone, CatNumeric | CatTrap, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32DivU, "i32.div_u", ImmNone, CatNumeric | CatTrap, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32RemS, "i32.rem_s", ImmNone, CatNumeric | CatTrap, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32RemU, "i32.rem_u", ImmNone, CatNumeric | CatTrap, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32And, "i32.and", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Or, "i32.or", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Xor, "i32.xor", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Shl, "i32.shl", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32ShrS, "i32.shr_s", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32ShrU, "i32.shr_u", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Rotl, "i32.rotl", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI32Rotr, "i32.rotr", ImmNone, CatNumeric, []ValType{I32, I32}, []ValType{I32}, true},
	{OpI64Clz, "i64.clz", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpI64Ctz, "i64.ctz", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpI64Popcnt, "i64.popcnt", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpI64Add, "i64.add", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Sub, "i64.sub", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Mul, "i64.mul", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64DivS, "i64.div_s", ImmNone, CatNumeric | CatTrap, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64DivU, "i64.div_u", ImmNone, CatNumeric | CatTrap, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64RemS, "i64.rem_s", ImmNone, CatNumeric | CatTrap, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64RemU, "i64.rem_u", ImmNone, CatNumeric | CatTrap, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64And, "i64.and", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Or, "i64.or", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Xor, "i64.xor", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Shl, "i64.shl", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64ShrS, "i64.shr_s", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64ShrU, "i64.shr_u", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Rotl, "i64.rotl", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpI64Rotr, "i64.rotr", ImmNone, CatNumeric, []ValType{I64, I64}, []ValType{I64}, true},
	{OpF32Abs, "f32.abs", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{F32}, true},
	{OpF32Neg, "f32.neg", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{F32}, true},
	{OpF32Ceil, "f32.ceil", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F32}, true},
	{OpF32Floor, "f32.floor", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F32}, true},
	{OpF32Trunc, "f32.trunc", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F32}, true},
	{OpF32Nearest, "f32.nearest", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F32}, true},
	{OpF32Sqrt, "f32.sqrt", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F32}, true},
	{OpF32Add, "f32.add", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Sub, "f32.sub", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Mul, "f32.mul", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Div, "f32.div", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Min, "f32.min", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Max, "f32.max", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF32Copysign, "f32.copysign", ImmNone, CatNumeric | CatFloat, []ValType{F32, F32}, []ValType{F32}, true},
	{OpF64Abs, "f64.abs", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{F64}, true},
	{OpF64Neg, "f64.neg", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{F64}, true},
	{OpF64Ceil, "f64.ceil", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F64}, true},
	{OpF64Floor, "f64.floor", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F64}, true},
	{OpF64Trunc, "f64.trunc", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F64}, true},
	{OpF64Nearest, "f64.nearest", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F64}, true},
	{OpF64Sqrt, "f64.sqrt", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F64}, true},
	{OpF64Add, "f64.add", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Sub, "f64.sub", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Mul, "f64.mul", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Div, "f64.div", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Min, "f64.min", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Max, "f64.max", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64, F64}, []ValType{F64}, true},
	{OpF64Copysign, "f64.copysign", ImmNone, CatNumeric | CatFloat, []ValType{F64, F64}, []ValType{F64}, true},
	{OpI32WrapI64, "i32.wrap_i64", ImmNone, CatNumeric, []ValType{I64}, []ValType{I32}, true},
	{OpI32TruncF32S, "i32.trunc_f32_s", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F32}, []ValType{I32}, true},
	{OpI32TruncF32U, "i32.trunc_f32_u", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F32}, []ValType{I32}, true},
	{OpI32TruncF64S, "i32.trunc_f64_s", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F64}, []ValType{I32}, true},
	{OpI32TruncF64U, "i32.trunc_f64_u", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F64}, []ValType{I32}, true},
	{OpI64ExtendI32S, "i64.extend_i32_s", ImmNone, CatNumeric, []ValType{I32}, []ValType{I64}, true},
	{OpI64ExtendI32U, "i64.extend_i32_u", ImmNone, CatNumeric, []ValType{I32}, []ValType{I64}, true},
	{OpI64TruncF32S, "i64.trunc_f32_s", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F32}, []ValType{I64}, true},
	{OpI64TruncF32U, "i64.trunc_f32_u", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F32}, []ValType{I64}, true},
	{OpI64TruncF64S, "i64.trunc_f64_s", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F64}, []ValType{I64}, true},
	{OpI64TruncF64U, "i64.trunc_f64_u", ImmNone, CatNumeric | CatFloat | CatTrap, []ValType{F64}, []ValType{I64}, true},
	{OpF32ConvertI32S, "f32.convert_i32_s", ImmNone, CatNumeric | CatFloat, []ValType{I32}, []ValType{F32}, true},
	{OpF32ConvertI32U, "f32.convert_i32_u", ImmNone, CatNumeric | CatFloat, []ValType{I32}, []ValType{F32}, true},
	{OpF32ConvertI64S, "f32.convert_i64_s", ImmNone, CatNumeric | CatFloat, []ValType{I64}, []ValType{F32}, true},
	{OpF32ConvertI64U, "f32.convert_i64_u", ImmNone, CatNumeric | CatFloat, []ValType{I64}, []ValType{F32}, true},
	{OpF32DemoteF64, "f32.demote_f64", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F64}, []ValType{F32}, true},
	{OpF64ConvertI32S, "f64.convert_i32_s", ImmNone, CatNumeric | CatFloat, []ValType{I32}, []ValType{F64}, true},
	{OpF64ConvertI32U, "f64.convert_i32_u", ImmNone, CatNumeric | CatFloat, []ValType{I32}, []ValType{F64}, true},
	{OpF64ConvertI64S, "f64.convert_i64_s", ImmNone, CatNumeric | CatFloat, []ValType{I64}, []ValType{F64}, true},
	{OpF64ConvertI64U, "f64.convert_i64_u", ImmNone, CatNumeric | CatFloat, []ValType{I64}, []ValType{F64}, true},
	{OpF64PromoteF32, "f64.promote_f32", ImmNone, CatNumeric | CatFloat | CatNaN, []ValType{F32}, []ValType{F64}, true},
	{OpI32ReinterpretF32, "i32.reinterpret_f32", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{I32}, true},
	{OpI64ReinterpretF64, "i64.reinterpret_f64", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{I64}, true},
	{OpF32ReinterpretI32, "f32.reinterpret_i32", ImmNone, CatNumeric | CatFloat, []ValType{I32}, []ValType{F32}, true},
	{OpF64ReinterpretI64, "f64.reinterpret_i64", ImmNone, CatNumeric | CatFloat, []ValType{I64}, []ValType{F64}, true},
	{OpI32Extend8S, "i32.extend8_s", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI32Extend16S, "i32.extend16_s", ImmNone, CatNumeric, []ValType{I32}, []ValType{I32}, true},
	{OpI64Extend8S, "i64.extend8_s", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpI64Extend16S, "i64.extend16_s", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpI64Extend32S, "i64.extend32_s", ImmNone, CatNumeric, []ValType{I64}, []ValType{I64}, true},
	{OpRefNull, "ref.null", ImmRefType, CatReference, nil, nil, false},
	{OpRefIsNull, "ref.is_null", ImmNone, CatReference, nil, nil, false},
	{OpRefFunc, "ref.func", ImmFunc, CatReference, nil, nil, false},
	{OpI32TruncSatF32S, "i32.trunc_sat_f32_s", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{I32}, true},
	{OpI32TruncSatF32U, "i32.trunc_sat_f32_u", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{I32}, true},
	{OpI32TruncSatF64S, "i32.trunc_sat_f64_s", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{I32}, true},
	{OpI32TruncSatF64U, "i32.trunc_sat_f64_u", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{I32}, true},
	{OpI64TruncSatF32S, "i64.trunc_sat_f32_s", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{I64}, true},
	{OpI64TruncSatF32U, "i64.trunc_sat_f32_u", ImmNone, CatNumeric | CatFloat, []ValType{F32}, []ValType{I64}, true},
	{OpI64TruncSatF64S, "i64.trunc_sat_f64_s", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{I64}, true},
	{OpI64TruncSatF64U, "i64.trunc_sat_f64_u", ImmNone, CatNumeric | CatFloat, []ValType{F64}, []ValType{I64}, true},
	{OpMemoryInit, "memory.init", ImmMemoryInit, CatMemory | CatBulk | CatTrap, []ValType{I32, I32, I32}, nil, true},
	{OpDataDrop, "data.drop", ImmData, CatMemory, nil, nil, true},
	{OpMemoryCopy, "memory.copy", ImmMemoryCopy, CatMemory | CatBulk | CatTrap, []ValType{I32, I32, I32}, nil, true},
	{OpMemoryFill, "memory.fill", ImmMemory, CatMemory | CatBulk | CatTrap, []ValType{I32, I32, I32}, nil, true},
	{OpTableInit, "table.init", ImmTableInit, CatTable | CatBulk | CatTrap, []ValType{I32, I32, I32}, nil, true},
	{OpElemDrop, "elem.drop", ImmElem, CatTable, nil, nil, true},
	{OpTableCopy, "table.copy", ImmTableCopy, CatTable | CatBulk | CatTrap, []ValType{I32, I32, I32}, nil, true},
	{OpTableGrow, "table.grow", ImmTable, CatTable | CatBulk, nil, nil, false},
	{OpTableSize, "table.size", ImmTable, CatTable, nil, []ValType{I32}, true},
	{OpTableFill, "table.fill", ImmTable, CatTable | CatBulk | CatTrap, nil, nil, false},
	{OpV128Load, "v128.load", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load8x8S, "v128.load8x8_s", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load8x8U, "v128.load8x8_u", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load16x4S, "v128.load16x4_s", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load16x4U, "v128.load16x4_u", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load32x2S, "v128.load32x2_s", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load32x2U, "v128.load32x2_u", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load8Splat, "v128.load8_splat", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load16Splat, "v128.load16_splat", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load32Splat, "v128.load32_splat", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load64Splat, "v128.load64_splat", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Store, "v128.store", ImmMemArg, CatSIMD | CatStore, []ValType{I32, V128}, nil, true},
	{OpV128Const, "v128.const", ImmV128, CatSIMD | CatConst, nil, []ValType{V128}, true},
	{OpI8x16Shuffle, "i8x16.shuffle", ImmShuffle, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16Swizzle, "i8x16.swizzle", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16Splat, "i8x16.splat", ImmNone, CatSIMD, []ValType{I32}, []ValType{V128}, true},
	{OpI16x8Splat, "i16x8.splat", ImmNone, CatSIMD, []ValType{I32}, []ValType{V128}, true},
	{OpI32x4Splat, "i32x4.splat", ImmNone, CatSIMD, []ValType{I32}, []ValType{V128}, true},
	{OpI64x2Splat, "i64x2.splat", ImmNone, CatSIMD, []ValType{I64}, []ValType{V128}, true},
	{OpF32x4Splat, "f32x4.splat", ImmNone, CatSIMD | CatFloat, []ValType{F32}, []ValType{V128}, true},
	{OpF64x2Splat, "f64x2.splat", ImmNone, CatSIMD | CatFloat, []ValType{F64}, []ValType{V128}, true},
	{OpI8x16ExtractLaneS, "i8x16.extract_lane_s", ImmLane, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI8x16ExtractLaneU, "i8x16.extract_lane_u", ImmLane, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI8x16ReplaceLane, "i8x16.replace_lane", ImmLane, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI16x8ExtractLaneS, "i16x8.extract_lane_s", ImmLane, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI16x8ExtractLaneU, "i16x8.extract_lane_u", ImmLane, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI16x8ReplaceLane, "i16x8.replace_lane", ImmLane, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI32x4ExtractLane, "i32x4.extract_lane", ImmLane, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI32x4ReplaceLane, "i32x4.replace_lane", ImmLane, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI64x2ExtractLane, "i64x2.extract_lane", ImmLane, CatSIMD, []ValType{V128}, []ValType{I64}, true},
	{OpI64x2ReplaceLane, "i64x2.replace_lane", ImmLane, CatSIMD, []ValType{V128, I64}, []ValType{V128}, true},
	{OpF32x4ExtractLane, "f32x4.extract_lane", ImmLane, CatSIMD | CatFloat, []ValType{V128}, []ValType{F32}, true},
	{OpF32x4ReplaceLane, "f32x4.replace_lane", ImmLane, CatSIMD | CatFloat, []ValType{V128, F32}, []ValType{V128}, true},
	{OpF64x2ExtractLane, "f64x2.extract_lane", ImmLane, CatSIMD | CatFloat, []ValType{V128}, []ValType{F64}, true},
	{OpF64x2ReplaceLane, "f64x2.replace_lane", ImmLane, CatSIMD | CatFloat, []ValType{V128, F64}, []ValType{V128}, true},
	{OpI8x16Eq, "i8x16.eq", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16Ne, "i8x16.ne", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16LtS, "i8x16.lt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16LtU, "i8x16.lt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16GtS, "i8x16.gt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16GtU, "i8x16.gt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16LeS, "i8x16.le_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16LeU, "i8x16.le_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16GeS, "i8x16.ge_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16GeU, "i8x16.ge_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8Eq, "i16x8.eq", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8Ne, "i16x8.ne", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8LtS, "i16x8.lt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8LtU, "i16x8.lt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8GtS, "i16x8.gt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8GtU, "i16x8.gt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8LeS, "i16x8.le_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8LeU, "i16x8.le_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8GeS, "i16x8.ge_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8GeU, "i16x8.ge_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4Eq, "i32x4.eq", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4Ne, "i32x4.ne", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4LtS, "i32x4.lt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4LtU, "i32x4.lt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4GtS, "i32x4.gt_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4GtU, "i32x4.gt_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4LeS, "i32x4.le_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4LeU, "i32x4.le_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4GeS, "i32x4.ge_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4GeU, "i32x4.ge_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Eq, "f32x4.eq", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Ne, "f32x4.ne", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Lt, "f32x4.lt", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Gt, "f32x4.gt", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Le, "f32x4.le", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Ge, "f32x4.ge", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Eq, "f64x2.eq", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Ne, "f64x2.ne", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Lt, "f64x2.lt", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Gt, "f64x2.gt", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Le, "f64x2.le", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Ge, "f64x2.ge", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpV128Not, "v128.not", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpV128And, "v128.and", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpV128Andnot, "v128.andnot", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpV128Or, "v128.or", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpV128Xor, "v128.xor", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpV128Bitselect, "v128.bitselect", ImmNone, CatSIMD, []ValType{V128, V128, V128}, []ValType{V128}, true},
	{OpV128AnyTrue, "v128.any_true", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpV128Load8Lane, "v128.load8_lane", ImmMemArgLane, CatSIMD | CatLoad, []ValType{I32, V128}, []ValType{V128}, true},
	{OpV128Load16Lane, "v128.load16_lane", ImmMemArgLane, CatSIMD | CatLoad, []ValType{I32, V128}, []ValType{V128}, true},
	{OpV128Load32Lane, "v128.load32_lane", ImmMemArgLane, CatSIMD | CatLoad, []ValType{I32, V128}, []ValType{V128}, true},
	{OpV128Load64Lane, "v128.load64_lane", ImmMemArgLane, CatSIMD | CatLoad, []ValType{I32, V128}, []ValType{V128}, true},
	{OpV128Store8Lane, "v128.store8_lane", ImmMemArgLane, CatSIMD | CatStore, []ValType{I32, V128}, nil, true},
	{OpV128Store16Lane, "v128.store16_lane", ImmMemArgLane, CatSIMD | CatStore, []ValType{I32, V128}, nil, true},
	{OpV128Store32Lane, "v128.store32_lane", ImmMemArgLane, CatSIMD | CatStore, []ValType{I32, V128}, nil, true},
	{OpV128Store64Lane, "v128.store64_lane", ImmMemArgLane, CatSIMD | CatStore, []ValType{I32, V128}, nil, true},
	{OpV128Load32Zero, "v128.load32_zero", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpV128Load64Zero, "v128.load64_zero", ImmMemArg, CatSIMD | CatLoad, []ValType{I32}, []ValType{V128}, true},
	{OpF32x4DemoteF64x2Zero, "f32x4.demote_f64x2_zero", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2PromoteLowF32x4, "f64x2.promote_low_f32x4", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16Abs, "i8x16.abs", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16Neg, "i8x16.neg", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16Popcnt, "i8x16.popcnt", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16AllTrue, "i8x16.all_true", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI8x16Bitmask, "i8x16.bitmask", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI8x16NarrowI16x8S, "i8x16.narrow_i16x8_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16NarrowI16x8U, "i8x16.narrow_i16x8_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Ceil, "f32x4.ceil", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Floor, "f32x4.floor", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Trunc, "f32x4.trunc", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Nearest, "f32x4.nearest", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16Shl, "i8x16.shl", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI8x16ShrS, "i8x16.shr_s", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI8x16ShrU, "i8x16.shr_u", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI8x16Add, "i8x16.add", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16AddSatS, "i8x16.add_sat_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16AddSatU, "i8x16.add_sat_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16Sub, "i8x16.sub", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16SubSatS, "i8x16.sub_sat_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16SubSatU, "i8x16.sub_sat_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Ceil, "f64x2.ceil", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2Floor, "f64x2.floor", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16MinS, "i8x16.min_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16MinU, "i8x16.min_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16MaxS, "i8x16.max_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI8x16MaxU, "i8x16.max_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Trunc, "f64x2.trunc", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpI8x16AvgrU, "i8x16.avgr_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtaddPairwiseI8x16S, "i16x8.extadd_pairwise_i8x16_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8ExtaddPairwiseI8x16U, "i16x8.extadd_pairwise_i8x16_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4ExtaddPairwiseI16x8S, "i32x4.extadd_pairwise_i16x8_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4ExtaddPairwiseI16x8U, "i32x4.extadd_pairwise_i16x8_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8Abs, "i16x8.abs", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8Neg, "i16x8.neg", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8Q15mulrSatS, "i16x8.q15mulr_sat_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8AllTrue, "i16x8.all_true", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI16x8Bitmask, "i16x8.bitmask", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI16x8NarrowI32x4S, "i16x8.narrow_i32x4_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8NarrowI32x4U, "i16x8.narrow_i32x4_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtendLowI8x16S, "i16x8.extend_low_i8x16_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8ExtendHighI8x16S, "i16x8.extend_high_i8x16_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8ExtendLowI8x16U, "i16x8.extend_low_i8x16_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8ExtendHighI8x16U, "i16x8.extend_high_i8x16_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8Shl, "i16x8.shl", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI16x8ShrS, "i16x8.shr_s", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI16x8ShrU, "i16x8.shr_u", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI16x8Add, "i16x8.add", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8AddSatS, "i16x8.add_sat_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8AddSatU, "i16x8.add_sat_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8Sub, "i16x8.sub", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8SubSatS, "i16x8.sub_sat_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8SubSatU, "i16x8.sub_sat_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Nearest, "f64x2.nearest", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpI16x8Mul, "i16x8.mul", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8MinS, "i16x8.min_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8MinU, "i16x8.min_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8MaxS, "i16x8.max_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8MaxU, "i16x8.max_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8AvgrU, "i16x8.avgr_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtmulLowI8x16S, "i16x8.extmul_low_i8x16_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtmulHighI8x16S, "i16x8.extmul_high_i8x16_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtmulLowI8x16U, "i16x8.extmul_low_i8x16_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI16x8ExtmulHighI8x16U, "i16x8.extmul_high_i8x16_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4Abs, "i32x4.abs", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4Neg, "i32x4.neg", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4AllTrue, "i32x4.all_true", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI32x4Bitmask, "i32x4.bitmask", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI32x4ExtendLowI16x8S, "i32x4.extend_low_i16x8_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4ExtendHighI16x8S, "i32x4.extend_high_i16x8_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4ExtendLowI16x8U, "i32x4.extend_low_i16x8_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4ExtendHighI16x8U, "i32x4.extend_high_i16x8_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4Shl, "i32x4.shl", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI32x4ShrS, "i32x4.shr_s", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI32x4ShrU, "i32x4.shr_u", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI32x4Add, "i32x4.add", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4Sub, "i32x4.sub", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4Mul, "i32x4.mul", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4MinS, "i32x4.min_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4MinU, "i32x4.min_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4MaxS, "i32x4.max_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4MaxU, "i32x4.max_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4DotI16x8S, "i32x4.dot_i16x8_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4ExtmulLowI16x8S, "i32x4.extmul_low_i16x8_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4ExtmulHighI16x8S, "i32x4.extmul_high_i16x8_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4ExtmulLowI16x8U, "i32x4.extmul_low_i16x8_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4ExtmulHighI16x8U, "i32x4.extmul_high_i16x8_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Abs, "i64x2.abs", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2Neg, "i64x2.neg", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2AllTrue, "i64x2.all_true", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI64x2Bitmask, "i64x2.bitmask", ImmNone, CatSIMD, []ValType{V128}, []ValType{I32}, true},
	{OpI64x2ExtendLowI32x4S, "i64x2.extend_low_i32x4_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2ExtendHighI32x4S, "i64x2.extend_high_i32x4_s", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2ExtendLowI32x4U, "i64x2.extend_low_i32x4_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2ExtendHighI32x4U, "i64x2.extend_high_i32x4_u", ImmNone, CatSIMD, []ValType{V128}, []ValType{V128}, true},
	{OpI64x2Shl, "i64x2.shl", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI64x2ShrS, "i64x2.shr_s", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI64x2ShrU, "i64x2.shr_u", ImmNone, CatSIMD, []ValType{V128, I32}, []ValType{V128}, true},
	{OpI64x2Add, "i64x2.add", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Sub, "i64x2.sub", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Mul, "i64x2.mul", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Eq, "i64x2.eq", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Ne, "i64x2.ne", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Lt, "i64x2.lt", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Gt, "i64x2.gt", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Le, "i64x2.le", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2Ge, "i64x2.ge", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2ExtmulLowI32x4S, "i64x2.extmul_low_i32x4_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2ExtmulHighI32x4S, "i64x2.extmul_high_i32x4_s", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2ExtmulLowI32x4U, "i64x2.extmul_low_i32x4_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI64x2ExtmulHighI32x4U, "i64x2.extmul_high_i32x4_u", ImmNone, CatSIMD, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Abs, "f32x4.abs", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Neg, "f32x4.neg", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Sqrt, "f32x4.sqrt", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4Add, "f32x4.add", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Sub, "f32x4.sub", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Mul, "f32x4.mul", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Div, "f32x4.div", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Min, "f32x4.min", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Max, "f32x4.max", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Pmin, "f32x4.pmin", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF32x4Pmax, "f32x4.pmax", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Abs, "f64x2.abs", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2Neg, "f64x2.neg", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2Sqrt, "f64x2.sqrt", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2Add, "f64x2.add", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Sub, "f64x2.sub", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Mul, "f64x2.mul", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Div, "f64x2.div", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Min, "f64x2.min", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Max, "f64x2.max", ImmNone, CatSIMD | CatFloat | CatNaN, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Pmin, "f64x2.pmin", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpF64x2Pmax, "f64x2.pmax", ImmNone, CatSIMD | CatFloat, []ValType{V128, V128}, []ValType{V128}, true},
	{OpI32x4TruncSatF32x4S, "i32x4.trunc_sat_f32x4_s", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4TruncSatF32x4U, "i32x4.trunc_sat_f32x4_u", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4ConvertI32x4S, "f32x4.convert_i32x4_s", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF32x4ConvertI32x4U, "f32x4.convert_i32x4_u", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4TruncSatF64x2SZero, "i32x4.trunc_sat_f64x2_s_zero", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpI32x4TruncSatF64x2UZero, "i32x4.trunc_sat_f64x2_u_zero", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2ConvertLowI32x4S, "f64x2.convert_low_i32x4_s", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
	{OpF64x2ConvertLowI32x4U, "f64x2.convert_low_i32x4_u", ImmNone, CatSIMD | CatFloat, []ValType{V128}, []ValType{V128}, true},
}
