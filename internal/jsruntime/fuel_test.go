package jsruntime_test

import "encoding/hex"

// fuelModule is a hand-instrumented module following docs/fuel.md, written
// here as bytes so that the fuel contract is tested without the instrumenter.
// Its text form:
//
//	(module
//	  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
//	  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//	  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
//	  (import "crowdrun" "out_of_fuel" (func $oof))
//	  (import "crowdrun" "trap" (func $trap (param i32)))
//	  (memory (export "memory") 1 4)
//	  (global $fuel (export "crowdrun.fuel") (mut i64) (i64.const 0))
//	  (global $hit (export "crowdrun.mem_limit_hit") (mut i32) (i32.const 0))
//	  (func $charge (param $n i64)
//	    (global.set $fuel (i64.sub (global.get $fuel) (local.get $n)))
//	    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then (call $oof))))
//	  (func (export "_start") (local $n i64) (local $mode i32)
//	    (call $charge (i64.const 10))
//	    ;; stdin: n (u64 little-endian), then a mode byte
//	    (i32.store (i32.const 0) (i32.const 16))
//	    (i32.store (i32.const 4) (i32.const 9))
//	    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
//	    (local.set $n (i64.load (i32.const 16)))
//	    (local.set $mode (i32.load8_u (i32.const 24)))
//	    (if (i32.eq (local.get $mode) (i32.const 1)) (then (call $trap (i32.const 1)) (unreachable)))
//	    (if (i32.eq (local.get $mode) (i32.const 2)) (then (call $trap (i32.const 7)) (unreachable)))
//	    (if (i32.eq (local.get $mode) (i32.const 3)) (then
//	      (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1)) (then (global.set $hit (i32.const 1))))
//	      (unreachable)))
//	    ;; n iterations costing 3 each, charged at the loop header
//	    (block $done
//	      (loop $l
//	        (call $charge (i64.const 3))
//	        (br_if $done (i64.eqz (local.get $n)))
//	        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
//	        (br $l)))
//	    ;; stdout: CLOCK_MONOTONIC (u64 little-endian), which includes the fuel used
//	    (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 32)))
//	    (i32.store (i32.const 0) (i32.const 32))
//	    (i32.store (i32.const 4) (i32.const 8))
//	    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
//	  (@custom "crowdrun" "{\"version\":1,\"schedule\":\"v1\",\"stack_limit\":1000,\"nan_canonicalization\":false}"))
//
// Running n iterations uses 10 + 3(n+1) fuel.
var fuelModule = mustHex("0061736d01000000011b0560047f7f7f7f017f60037f7e7f017f60000060017f0060017e000293010516776173695f736e617073686f745f70726576696577310766645f72656164000016776173695f736e617073686f745f70726576696577310866645f7772697465000016776173695f736e617073686f745f70726576696577310e636c6f636b5f74696d655f67657400010863726f776472756e0b6f75745f6f665f6675656c00020863726f776472756e047472617000030303020402050401010104060b027e0142000b7f0141000b073c04066d656d6f727902000d63726f776472756e2e6675656c03001663726f776472756e2e6d656d5f6c696d69745f6869740301065f737461727400060ab401021300230020007d24002300420053044010030b0b9d0102017e017f420a10054100411036020041044109360200410041004101410810001a4110290300210041182d000021012001410146044041011004000b2001410246044041071004000b2001410346044041e4004000417f460440410124010b000b02400340420310052000500d01200042017d21000c000b0b41014200412010021a4100412036020041044108360200410141004101410810011a0b00560863726f776472756e7b2276657273696f6e223a312c227363686564756c65223a227631222c22737461636b5f6c696d6974223a313030302c226e616e5f63616e6f6e6963616c697a6174696f6e223a66616c73657d")

// inlineModules are the modules vectors name as "inline:NAME".
var inlineModules = map[string][]byte{"fuel": fuelModule}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
