#!/usr/bin/env bash
# Runs every fuzz target of crowdrun for a while, one after the other.
#
#   scripts/fuzz.sh [DURATION] [TARGET-REGEXP]
#
# DURATION is go test's -fuzztime per target (default 5s). scripts/test.sh
# runs 3s with FUZZ_SHORT=1, the brief run CI makes; docs/fuzzing.md
# records 10m runs. Each target runs alone with -parallel=1, so that a long
# run shares the machine politely; run several copies with different
# TARGET-REGEXPs to use more cores. A crasher is written to the package's
# testdata/fuzz/FuzzX/ and fails the run: fix the code, keep the file (it
# is then a regression test of the package's ordinary go test).
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-5s}
only=${2:-.}

# package target — every fuzz target of the module (docs/fuzzing.md).
targets=(
	"./internal/wasm/binary FuzzDecode"
	"./internal/instrument FuzzInstrument"
	"./internal/snapshot FuzzDecode"
	"./internal/snapshot FuzzApplyDelta"
	"./internal/protocol FuzzDecode"
	"./internal/coordinator FuzzAPI"
	"./internal/cli FuzzNDJSONTasks"
	"./internal/cli FuzzParseSize"
	"./internal/suspend FuzzUnmarshalFrames"
	"./internal/wasi FuzzRestoreState"
	"./internal/wasi FuzzLookup"
	"./internal/enginediff FuzzEngines"
)

failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if ! [[ "$pkg $name" =~ $only ]]; then
		continue
	fi
	echo "-- $name ($pkg, $fuzztime)" >&2
	# FUZZ_SHORT=1 (CI): -short, the instrumenter's seeds are then every
	# tenth spec module.
	short=()
	if [ "${FUZZ_SHORT:-}" = 1 ]; then
		short=(-short)
	fi
	if ! go test "${short[@]}" -run='^$' -fuzz="^$name\$" -fuzztime="$fuzztime" -parallel=1 "$pkg"; then
		failed+=("$pkg $name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz targets that failed (crashers under each package's testdata/fuzz/): ${failed[*]}" >&2
	exit 1
fi
