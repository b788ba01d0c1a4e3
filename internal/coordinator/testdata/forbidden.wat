;; forbidden: imports a function the host interface does not offer.
(module
  (import "env" "socket" (func $socket (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $socket))))
