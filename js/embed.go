// Package js holds crowdrun's JavaScript host runtime — the host interface
// (wasi.js) and the runner (runtime.js), plain ES modules for browsers and
// Node, plus the Node command (node/run.mjs) — so that Go programs can serve
// or run them without a build step.
package js

import "embed"

// Files is the runtime: *.js at the root, the Node command under node/.
//
//go:embed wasi.js runtime.js rewrite.js protocol.js guest-worker.js node/run.mjs node/worker.mjs
var Files embed.FS
