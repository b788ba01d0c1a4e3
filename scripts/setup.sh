#!/usr/bin/env bash
# Installs what crowdrun's tests need on a fresh Debian 12 machine. Idempotent:
# a package already present is not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, and a command that proves each is present.
declare -A need=(
	[nodejs]="node"  # the JavaScript host is checked against the Go one
	[chromium]="/usr/lib/chromium/chromium"  # browser workers are tested in headless Chromium (internal/browser)
	[postgresql]="/usr/lib/postgresql/15/bin/initdb"  # the PostgreSQL store is tested on a throwaway cluster (scripts/pg.sh)
)
# scripts/setup.sh --build-tools adds what rebuilding the examples
# (examples/build.sh) and the native column of the benchmarks need.
if [ "${1:-}" = "--build-tools" ]; then
	need+=(
		[clang]="clang"
		[lld]="wasm-ld"
		[wasi-libc]="/usr/lib/wasm32-wasi/libc.a"
		[libclang-rt-dev-wasm32]="/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a"
		[binaryen]="wasm-opt"
		[wabt]="wasm-validate"
		[rustc]="/usr/bin/rustc"  # the Rust guest (examples/rust), Debian's 1.63
		[libstd-rust-dev-wasm32]="/usr/lib/rustlib/wasm32-wasi"
	)
fi

missing=()
for pkg in "${!need[@]}"; do
	p=${need[$pkg]}
	if [[ $p == /* ]]; then [ -e "$p" ] || missing+=("$pkg"); else command -v "$p" >/dev/null 2>&1 || missing+=("$pkg"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

go mod download
# The AssemblyScript compiler and its WASI shim (examples/assemblyscript), pinned
# by package.json and package-lock.json; npm ls tells whether they are there.
if [ "${1:-}" = "--build-tools" ] && ! npm ls --prefix examples/assemblyscript >/dev/null 2>&1; then
	echo "setup: npm ci in examples/assemblyscript" >&2
	npm ci --prefix examples/assemblyscript --no-audit --no-fund --loglevel=error
fi
