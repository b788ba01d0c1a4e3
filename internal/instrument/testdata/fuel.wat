;; Hand-countable programs for fuel_test.go. Costs under schedule v1 are in
;; the comments: 1 per instruction, 0 for block, loop, else and end.
(module
  (memory (export "memory") 1)

  ;; sum of 0..n-1: 13n + 5
  (func (export "loop") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    block
      loop
        local.get $i local.get $n i32.ge_u br_if 1     ;; 4
        local.get $s local.get $i i32.add local.set $s ;; 4
        local.get $i i32.const 1 i32.add local.set $i  ;; 4
        br 0                                           ;; 1
      end
    end
    local.get $s)                                      ;; 1

  ;; recursion without loops: depth(n) = n+1 frames
  ;; cost(0) = 5 (local.get, i32.eqz, if, i32.const, return)
  ;; cost(n) = 3 + 6 + cost(n-1) = 9n + 5
  (func $rec (export "rec") (param $n i32) (result i32)
    local.get $n i32.eqz if                            ;; 3
      i32.const 0 return                               ;; 2
    end
    local.get $n i32.const 1 i32.sub call $rec         ;; 4
    i32.const 1 i32.add)                               ;; 2

  ;; every way out of a function that calls: the depth counter must come
  ;; back to 0 after each
  (func $leaf (param i32) (result i32) local.get 0)
  (func (export "exits") (param $k i32) (result i32)
    (call $leaf (local.get $k)) drop
    block
      block
        block
          block
            local.get $k
            br_table 0 1 2 2                           ;; k = 0, 1, 2, >= 3
          end
          i32.const 10 return                          ;; k = 0: return
        end
        i32.const 11 br 2                              ;; k = 1: br to the function label
      end
      i32.const 12
      local.get $k i32.const 2 i32.eq br_if 1          ;; k = 2: br_if to the function label
      drop
      block (result i32)
        i32.const 13
        local.get $k i32.const 3 i32.sub
        br_table 2 0                                   ;; k = 3: br_table to the function label
      end
      drop
    end
    i32.const 14)                                      ;; k >= 4: fall through

  ;; bulk operations: cost 4 + dynamic
  (func (export "fill") (param $n i32)
    i32.const 0 i32.const 7 local.get $n memory.fill)  ;; 4 + n>>3
  (func (export "copy") (param $n i32)
    i32.const 0 i32.const 8 local.get $n memory.copy)  ;; 4 + n>>3
  (func (export "grow") (param $d i32) (result i32)
    local.get $d memory.grow)                          ;; 2 + d<<13

  ;; a branchy function: cost(x) = 4 + (x odd ? 3 : 4) + 2
  (func (export "branch") (param $x i32) (result i32)
    (local $r i32)
    local.get $x i32.const 1 i32.and                   ;; 3
    if (result i32)                                    ;; 1
      i32.const 100 i32.const 1 i32.add                ;; 3
    else
      i32.const 200 i32.const 2 i32.add nop            ;; 4
    end
    local.set $r                                       ;; 1  (after the if's end)
    local.get $r)                                      ;; 1
;; NaN canonicalisation: 0/0 is a NaN whose sign and payload the engine
  ;; picks (x86: 0xffc00000)
  (func (export "nan32") (result i32)
    f32.const 0 f32.const 0 f32.div i32.reinterpret_f32)
  ;; the product's NaN feeds the sum (skipped), the sum's is canonicalised
  (func (export "nan64") (param f64 f64) (result i64)
    local.get 0 local.get 1 f64.mul local.get 1 f64.add i64.reinterpret_f64)
  (func (export "nanv") (result i64)
    v128.const f32x4 0 1 0 2 v128.const f32x4 0 1 0 1 f32x4.div
    i64x2.extract_lane 0)
  ;; NaNs that come from elsewhere keep their bits
  (func (export "nanconst") (result i32)
    f32.const -nan:0x1234 f32.neg i32.reinterpret_f32)
)
