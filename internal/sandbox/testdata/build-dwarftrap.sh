#!/usr/bin/env bash
# Rebuilds dwarftrap.wasm from dwarftrap.c with its DWARF sections kept.
# Needs clang 14 with wasm32-wasi support, wasi-libc and lld
# (scripts/setup.sh --build-tools). Deterministic: same tools, same bytes.
#
# Compiled with -g -O1, then linked without -O: clang runs wasm-opt on an
# optimised link, which drops the name section and moves code under DWARF
# that then no longer describes it. Linked as it is, the module is what a
# user's debug build gives: DWARF that matches its code.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C SOURCE_DATE_EPOCH=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clang --target=wasm32-wasi -std=c11 -Wall -Wextra -g -O1 -fdebug-prefix-map="$PWD"=. -c dwarftrap.c -o "$tmp/dwarftrap.o"
clang --target=wasm32-wasi -g "$tmp/dwarftrap.o" -o "$tmp/dwarftrap.wasm"
mv "$tmp/dwarftrap.wasm" dwarftrap.wasm
wasm-objdump -h dwarftrap.wasm | grep -q '"\.debug_info"' || { echo "build-dwarftrap.sh: no .debug_info in dwarftrap.wasm" >&2; exit 1; }
