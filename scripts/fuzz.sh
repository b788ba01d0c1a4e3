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
	# Go 1.26's fuzzing coordinator can fail a target at the -fuzztime
	# boundary with a bare "context deadline exceeded" and no crasher when
	# its worker is starved (golang/go#75804, fixed in Go 1.27). Such a run
	# is tried again, at most twice; a run that writes a new file under
	# testdata/fuzz/$name, or fails in any other way, fails at once.
	corpus="$pkg/testdata/fuzz/$name"
	tries=0
	while :; do
		before=$(ls "$corpus" 2>/dev/null | sort)
		log=$(mktemp)
		go test "${short[@]}" -run='^$' -fuzz="^$name\$" -fuzztime="$fuzztime" -parallel=1 "$pkg" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		after=$(ls "$corpus" 2>/dev/null | sort)
		if [ "$rc" = 0 ]; then
			rm -f "$log"
			break
		fi
		if [ "$before" = "$after" ] && [ "$tries" -lt 2 ] &&
			grep -q '^    context deadline exceeded$' "$log" &&
			! grep -q 'Failing input written\|panic:' "$log"; then
			tries=$((tries + 1))
			echo "-- $name: Go's fuzzing coordinator stopped at the deadline with no crasher (golang/go#75804); trying again ($tries of 2)" >&2
			rm -f "$log"
			continue
		fi
		rm -f "$log"
		failed+=("$pkg $name")
		break
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz targets that failed (crashers under each package's testdata/fuzz/): ${failed[*]}" >&2
	exit 1
fi
