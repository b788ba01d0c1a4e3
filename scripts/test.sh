#!/usr/bin/env bash
# Runs every test of crowdrun: the one command the README and CI use.
#
# Every step runs even when an earlier one failed; the script lists every
# failed step at the end and exits non-zero if there was any.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
step() {
	local name=$1
	shift
	echo "== $name" >&2
	local start=$SECONDS
	if "$@"; then
		echo "== $name: ok ($((SECONDS - start)) s)" >&2
	else
		echo "== $name: FAILED ($((SECONDS - start)) s)" >&2
		failed+=("$name")
	fi
}

gofmt_check() {
	local unformatted
	unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
	if [ -n "$unformatted" ]; then
		echo "gofmt would change: $unformatted" >&2
		return 1
	fi
}

tidy_check() {
	# go.mod and go.sum must be what `go mod tidy` makes them.
	local diff
	if ! diff=$(go mod tidy -diff 2>&1); then
		echo "go.mod/go.sum are not tidy (run go mod tidy):" >&2
		echo "$diff" >&2
		return 1
	fi
}

if ! scripts/setup.sh; then
	echo "== setup FAILED: the tests cannot run" >&2
	exit 1
fi
# One throwaway PostgreSQL for every package that tests against one
# (internal/store/postgres, internal/cli), stopped when this script exits.
# Without it each such test binary would start its own (pgtest).
pgdir=""
if [ -z "${CROWDRUN_TEST_POSTGRES:-}" ] && pgenv=$(scripts/pg.sh start --watch $$); then
	eval "$pgenv"
	export CROWDRUN_TEST_POSTGRES
	pgdir=$CROWDRUN_TEST_PGDIR
	trap 'scripts/pg.sh stop "$pgdir"' EXIT
fi

step "go vet" go vet ./...
step "gofmt" gofmt_check
step "go mod tidy" tidy_check
step "go test -race" go test -race -timeout 45m -count=1 ./... "$@"
# Tests that skip themselves under the race detector (too slow there).
step "go test (no race)" go test -timeout 20m -count=1 -run 'TestCheckpointGoGuest|TestSpecSuspendable|TestQuick' ./internal/sandbox ./internal/instrument ./cmd/crowdrun-bench
# Every fuzz target mutates for a few seconds (docs/fuzzing.md; longer runs:
# scripts/fuzz.sh 10m).
step "fuzz (3 s per target)" env FUZZ_SHORT=1 scripts/fuzz.sh 3s

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED steps (${#failed[@]}): ${failed[*]}" >&2
	exit 1
fi
echo "all steps passed ($SECONDS s)" >&2
