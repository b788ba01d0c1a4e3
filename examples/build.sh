#!/usr/bin/env bash
# Rebuilds every example module from source.
#
#   examples/build.sh          every .wasm (committed; tests and the demo need no compiler)
#   examples/build.sh native   the kernels (and factor) as native x86-64 executables in
#                              examples/native/ (gitignored), for wasm-vs-native comparisons
#
# Needs clang 14 with wasm32-wasi support (wasi-libc, libclang-rt wasm32), lld,
# binaryen's wasm-opt (clang runs it on every -O2 wasm link, so the output
# depends on it: we insist on it being there), wabt (wasm-validate,
# wasm-objdump), Go >= 1.21 (GOOS=wasip1), Debian's rustc 1.63 with
# libstd-rust-dev-wasm32 (rust/), and the npm packages of assemblyscript/
# (npm ci there). scripts/setup.sh --build-tools installs them all.
# Deterministic: same tools, same bytes. Fails loudly on the first error.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "build.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing tool: $1 ($2)"; }

mode=${1:-wasm}
case "$mode" in
wasm | native) ;;
*) die "usage: build.sh [native]" ;;
esac

need clang "apt-get install clang lld"
export LC_ALL=C
export SOURCE_DATE_EPOCH=0

# Guest programs in examples/ and benchmark kernels in examples/kernels/.
PROGRAMS="factor wasitest echo loop membomb recurse flood forbidden trap bigstate"
KERNELS="matmul stencil sort hash nbody fib strings memops floats simd sieve alloc listsort"
# Dense linear algebra and stencils in kernels/linalg/ (crowdrun-bench's
# PolyBench-style set; argv[1] is medium, large or N).
LINALG="gemm 2mm atax bicg mvt syrk jacobi-2d seidel-2d lu cholesky floyd-warshall heat-3d"
CFLAGS="-O2 -std=c11 -D_GNU_SOURCE -ffp-contract=off -Wall -Wextra"

gobuild() { # gobuild OUT [env...]: builds kernels/gokernel
    local out=$1
    shift
    (cd kernels/gokernel && env GOWORK=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 "$@" \
        go build -trimpath -buildvcs=false -ldflags=-buildid= -o "$out" .)
}

if [ "$mode" = native ]; then
    mkdir -p native
    for k in $KERNELS; do
        echo "native/$k"
        clang $CFLAGS -o "native/$k" "kernels/$k.c" -lm
    done
    for k in $LINALG; do
        echo "native/linalg-$k"
        clang $CFLAGS -o "native/linalg-$k" "kernels/linalg/$k.c" -lm
    done
    echo "native/factor"
    clang $CFLAGS -o native/factor factor.c
    if command -v go >/dev/null 2>&1; then
        echo "native/gokernel"
        gobuild ../../native/gokernel
    else
        echo "build.sh: go not found, skipping native/gokernel" >&2
    fi
    exit 0
fi

need wasm-opt "apt-get install binaryen"
need wasm-validate "apt-get install wabt"
need wasm-objdump "apt-get install wabt"
need go "Go >= 1.21"
# Debian's rustc, not one that rustup put first on the PATH: the committed
# bytes are rustc 1.63's (set RUSTC to override).
RUSTC=${RUSTC:-/usr/bin/rustc}
[ -x "$RUSTC" ] || die "missing tool: $RUSTC (apt-get install rustc libstd-rust-dev-wasm32)"
[ -d "$("$RUSTC" --print target-libdir --target wasm32-wasi 2>/dev/null)" ] ||
    die "$RUSTC has no wasm32-wasi standard library (apt-get install libstd-rust-dev-wasm32)"
ASC=assemblyscript/node_modules/.bin/asc
[ -x "$ASC" ] || die "missing tool: $ASC (npm ci --prefix examples/assemblyscript)"
WASM="--target=wasm32-wasi $CFLAGS -Wl,--strip-debug"

# A C -> wasm compile must not pick up stale output: write to a temp file, then move.
cc_wasm() { # cc_wasm OUT SRC [extra flags...]
    local out=$1 src=$2
    shift 2
    echo "$out"
    clang $WASM "$@" -o "$out.tmp" "$src" -lm
    mv "$out.tmp" "$out"
}

for p in $PROGRAMS; do cc_wasm "$p.wasm" "$p.c"; done
for k in $KERNELS; do
    case $k in
    simd) cc_wasm kernels/simd.wasm kernels/simd.c -msimd128 ;;
    *) cc_wasm "kernels/$k.wasm" "kernels/$k.c" ;;
    esac
done
for k in $LINALG; do cc_wasm "kernels/linalg/$k.wasm" "kernels/linalg/$k.c"; done
# memops again with bulk memory: memcpy/memset become memory.copy/memory.fill.
cc_wasm kernels/memops-bulk.wasm kernels/memops.c -mbulk-memory
echo kernels/gokernel.wasm
gobuild ../gokernel.wasm.tmp GOOS=wasip1 GOARCH=wasm
mv kernels/gokernel.wasm.tmp kernels/gokernel.wasm

# Rust: compiled from its own directory so the source paths in the module
# (panic locations) are relative, whatever the checkout's path. One codegen
# unit, symbols stripped; wasm32-wasi panics abort (an unreachable trap).
echo rust/raytrace.wasm
(cd rust && "$RUSTC" --edition 2021 --target wasm32-wasi -C opt-level=2 -C codegen-units=1 \
    -C strip=symbols -o raytrace.wasm.tmp raytrace.rs)
mv rust/raytrace.wasm.tmp rust/raytrace.wasm
# AssemblyScript with its WASI shim (process.stdin/stdout, exit on WASI).
echo assemblyscript/sweep.wasm
(cd assemblyscript && node_modules/.bin/asc sweep.ts --config ./node_modules/@assemblyscript/wasi-shim/asconfig.json \
    -O3 --outFile sweep.wasm.tmp)
mv assemblyscript/sweep.wasm.tmp assemblyscript/sweep.wasm

# corrupt.wasm: factor.wasm cut in the middle of its code section.
echo corrupt.wasm
code=$(wasm-objdump -h factor.wasm | awk '$1 == "Code" { print $2, $3 }')
[ -n "$code" ] || die "no code section in factor.wasm"
start=$(( $(echo "$code" | sed -E 's/start=(0x[0-9a-f]+) .*/\1/') ))
end=$(( $(echo "$code" | sed -E 's/.*end=(0x[0-9a-f]+).*/\1/') ))
head -c $(( start + (end - start) / 2 )) factor.wasm > corrupt.wasm

# Everything but corrupt.wasm must validate; corrupt.wasm must not.
for f in *.wasm kernels/*.wasm kernels/linalg/*.wasm rust/*.wasm assemblyscript/*.wasm; do
    if [ "$f" = corrupt.wasm ]; then
        if wasm-validate "$f" 2>/dev/null; then die "corrupt.wasm validates"; fi
    else
        wasm-validate "$f" || die "$f does not validate"
    fi
done
# forbidden.wasm must import env.socket_connect; nothing else may import from outside WASI.
wasm-objdump -x -j Import forbidden.wasm | grep -q '<- env.socket_connect' || die "forbidden.wasm lacks env.socket_connect"
for f in *.wasm kernels/*.wasm kernels/linalg/*.wasm rust/*.wasm assemblyscript/*.wasm; do
    case $f in forbidden.wasm | corrupt.wasm) continue ;; esac
    if wasm-objdump -x -j Import "$f" | grep -- '<- ' | grep -v '<- wasi_snapshot_preview1\.' >/dev/null; then
        die "$f imports something outside wasi_snapshot_preview1"
    fi
done
echo "ok: $(ls *.wasm kernels/*.wasm kernels/linalg/*.wasm rust/*.wasm assemblyscript/*.wasm | wc -l) modules"
