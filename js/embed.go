// Package js holds crowdrun's JavaScript host runtime — the host interface
// (wasi.js) and the runner (runtime.js), plain ES modules for browsers and
// Node, plus the Node commands under node/ — so that Go programs can serve
// or run them without a build step.
package js

import "embed"

// Files is the runtime: every *.js at the root (tests included, harmless),
// prepare.wasm (Go's internal/prepare, which prepare.js runs to instrument
// a user's module: cmd/crowdrun-prepare-wasm), the Node commands under
// node/, and the browser worker, contribute page and embed snippet under
// browser/.
//
//go:embed *.js prepare.wasm node browser
var Files embed.FS
