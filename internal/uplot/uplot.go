// Package uplot ships uPlot (https://github.com/leeoniya/uPlot, MIT), the
// charting library of the coordinator's pages, inside the binary: pages load
// it from the coordinator, never from a CDN, and need no build step.
//
// The files are uPlot's own distribution, unmodified, as npm publishes it;
// SHA256SUMS pins them (TestPinned) and scripts/vendor-uplot.sh refreshes
// them from the npm registry.
package uplot

import "embed"

// Version is the uPlot release the files come from.
const Version = "1.6.32"

// Files holds uPlot.iife.min.js (defines the global uPlot), uPlot.min.css
// and uPlot's LICENSE.
//
//go:embed uPlot.iife.min.js uPlot.min.css LICENSE
var Files embed.FS
