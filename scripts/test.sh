#!/usr/bin/env bash
# Runs every test of crowdrun: the one command the README and CI use.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go test -race -timeout 45m -count=1 ./... "$@"
# Tests that skip themselves under the race detector (too slow there).
go test -timeout 20m -count=1 -run 'TestCheckpointGoGuest|TestSpecSuspendable' ./internal/sandbox ./internal/instrument
