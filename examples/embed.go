// Package examples holds crowdrun's guest programs (README.md); in Go it
// provides the one the binary itself needs, so that `crowdrun demo` works
// from any directory after `go install`.
//
// The C sources here are guests, built by build.sh, not by the go tool:
// each starts with a `//go:build ignore` line so that this package needs no
// cgo.
package examples

import _ "embed"

// Factor is factor.wasm, the demo's factoring module (factor.c).
//
//go:embed factor.wasm
var Factor []byte
