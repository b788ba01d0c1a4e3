#!/usr/bin/env bash
# Installs what crowdrun's tests need on a fresh Debian 12 machine. Idempotent:
# a package already present is not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, and a command that proves each is present.
declare -A need=(
	[nodejs]="node"  # the JavaScript host is checked against the Go one
	[chromium]="/usr/lib/chromium/chromium"  # browser workers are tested in headless Chromium (internal/browser)
)

missing=()
for pkg in "${!need[@]}"; do
	command -v "${need[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

go mod download
