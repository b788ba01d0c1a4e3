;; Control-flow torture for the suspend rewrite: multi-value blocks with
;; params, values live below blocks and under calls, br_table and br_if out
;; of constructs that hold calls, if with params and no else, call_indirect,
;; recursion, loops with params, f64 and v128 locals, a global. Prints three hex lines.
;; Rebuild: wat2wasm control.wat -o control.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "0123456789abcdef")
  (type $un (func (param i64) (result i64)))
  (table 4 funcref)
  (elem (i32.const 0) $sq $inc $twice $mix)
  (global $acc (mut i64) (i64.const 0))

  (func $sq (type $un) (i64.mul (local.get 0) (local.get 0)))
  (func $inc (type $un)
    (global.set $acc (i64.add (global.get $acc) (i64.const 1)))
    (i64.add (local.get 0) (i64.const 1)))
  (func $twice (type $un)
    (call_indirect (type $un) (call_indirect (type $un) (local.get 0) (i32.const 1)) (i32.const 1)))
  (func $mix (type $un) (local $i i32)
    (loop $l
      (local.set 0 (i64.xor (i64.rotl (local.get 0) (i64.const 13)) (i64.const 0x9e3779b97f4a7c15)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 5))))
    (local.get 0))

  (func $divmod (param i64 i64) (result i64 i64)
    (i64.div_u (local.get 0) (local.get 1))
    (i64.rem_u (local.get 0) (local.get 1)))

  (func $fib (param i32) (result i64)
    (if (result i64) (i32.lt_u (local.get 0) (i32.const 2))
      (then (i64.extend_i32_u (local.get 0)))
      (else (i64.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))

  (func $blocks (param $n i32) (result i64)
    (local $i i32) (local $x i64) (local $f f64) (local $v v128) (local $k i32)
    v128.const i64x2 1 2
    local.set $v
    f64.const 1.5
    local.set $f
    loop $l
      ;; x + (q + table[i&3](r)) with (q, r) = divmod(i+1000, 7) in a block with params
      local.get $x
      local.get $i
      i64.extend_i32_u
      i64.const 1000
      i64.add
      i64.const 7
      block $b (param i64 i64) (result i64 i64)
        call $divmod
        local.get $i
        i32.const 3
        i32.and
        call_indirect (type $un)
      end
      i64.add
      i64.add
      local.set $x
      ;; br_table over constructs that call
      block $c2
        block $c1
          block $c0
            local.get $i
            i32.const 3
            i32.rem_u
            br_table $c0 $c1 $c2
          end
          local.get $x
          call $mix
          local.set $x
          br $c2
        end
        local.get $x
        call $inc
        call $inc
        local.set $x
      end
      ;; br_if out of a block with a value, after a call
      local.get $x
      block (result i64)
        local.get $x
        call $inc
        local.get $i
        i32.const 5
        i32.rem_u
        i32.eqz
        br_if 0
        call $twice
      end
      i64.xor
      local.set $x
      ;; loops with params around calls, entered again by br_if and br
      local.get $x
      i32.const 3
      loop $pl (param i64 i32) (result i64)
        local.set $k
        call $inc
        local.get $k
        i32.const 1
        i32.sub
        local.tee $k
        local.get $k
        br_if $pl
        drop
      end
      i32.const 2
      loop $pl2 (param i64 i32) (result i64)
        local.set $k
        call $mix
        local.get $k
        if (param i64) (result i64)
          local.get $k
          i32.const 1
          i32.sub
          br $pl2
        end
      end
      local.set $x
      ;; if with a param and no else
      local.get $x
      local.get $i
      i32.const 1
      i32.and
      if (param i64) (result i64)
        i64.const 0xffff
        i64.and
        call $sq
      end
      local.set $x
      ;; f64 live under a call
      local.get $f
      local.get $i
      i32.const 12
      i32.rem_u
      call $fib
      f64.convert_i64_u
      f64.add
      local.set $f
      ;; v128 across calls
      local.get $v
      local.get $x
      i64x2.splat
      i64x2.add
      local.set $v
      ;; select between two call results
      local.get $x
      call $inc
      local.get $x
      call $sq
      local.get $i
      i32.const 2
      i32.rem_u
      select
      local.get $x
      i64.add
      local.set $x
      local.get $i
      i32.const 1
      i32.add
      local.tee $i
      local.get $n
      i32.lt_u
      br_if $l
    end
    local.get $x
    local.get $f
    i64.trunc_sat_f64_u
    i64.xor
    local.get $v
    i64x2.extract_lane 0
    i64.xor
    local.get $v
    i64x2.extract_lane 1
    i64.xor)

  (func $print (param $v i64) (local $k i32)
    (loop $l
      (i32.store8 (i32.sub (i32.const 31) (local.get $k))
        (i32.load8_u (i32.add (i32.const 100) (i32.wrap_i64 (i64.and (local.get $v) (i64.const 15))))))
      (local.set $v (i64.shr_u (local.get $v) (i64.const 4)))
      (br_if $l (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 16))))
    (i32.store8 (i32.const 32) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (call $print (call $blocks (i32.const 300)))
    (call $print (call $fib (i32.const 16)))
    (call $print (global.get $acc))))
