#!/usr/bin/env bash
# Builds js/prepare.wasm: package internal/prepare as a WASI command
# (cmd/crowdrun-prepare-wasm), which the JavaScript host runs to instrument
# every module it is given as the Go host does. The flags make the build
# reproducible: the same Go toolchain gives the same bytes, and
# cmd/crowdrun-prepare-wasm's test fails if the committed file differs.
#
#   cmd/crowdrun-prepare-wasm/build.sh [OUT]     (default: js/prepare.wasm)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-js/prepare.wasm}
CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm GOFLAGS= GOWASM= \
	go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o "$out" ./cmd/crowdrun-prepare-wasm
