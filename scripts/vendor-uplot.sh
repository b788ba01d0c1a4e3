#!/usr/bin/env bash
# Refreshes internal/uplot from the npm registry: scripts/vendor-uplot.sh [VERSION]
# Then set Version in internal/uplot/uplot.go to the same release.
set -euo pipefail
cd "$(dirname "$0")/.."
v=${1:-$(sed -n 's/^const Version = "\(.*\)"/\1/p' internal/uplot/uplot.go)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$v" >/dev/null && tar xzf uplot-*.tgz)
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" internal/uplot/
(cd internal/uplot && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE >SHA256SUMS)
echo "internal/uplot: uPlot $v"
