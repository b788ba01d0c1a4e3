#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for crowdrun's tests.
#
#   scripts/pg.sh start [--watch PID]
#                            prints, on stdout, two lines to eval:
#                              CROWDRUN_TEST_POSTGRES=postgres://test@127.0.0.1:PORT/postgres?sslmode=disable
#                              CROWDRUN_TEST_PGDIR=DIR
#   scripts/pg.sh stop DIR   stops the cluster in DIR and removes DIR
#
# With --watch PID the cluster also stops by itself once process PID has
# exited (a test binary killed by its timeout leaves no server behind).
#
# The cluster (Debian's postgresql package: initdb and pg_ctl) lives in a
# temporary directory, listens on 127.0.0.1 at a free port and on a socket in
# that directory, trusts every local connection, and runs without fsync: it
# is for tests only. Run as root, it runs as the postgres user (PostgreSQL
# refuses to run as root). Exit status 3: no PostgreSQL binaries here.
set -euo pipefail

bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return
	fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	return 1
}

# as runs a command as the cluster's owner.
as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin
	if ! bin=$(bindir); then
		echo "pg.sh: no PostgreSQL binaries (initdb, pg_ctl): install Debian's postgresql package (scripts/setup.sh does)" >&2
		exit 3
	fi
	local watch=""
	if [ "${1:-}" = "--watch" ]; then
		watch=${2:?--watch needs a PID}
	fi
	local base=${TMPDIR:-/tmp}
	[ "$(id -u)" -ne 0 ] || base=/tmp # the postgres user must reach it
	local dir
	dir=$(mktemp -d "$base/crowdrun-pg.XXXXXX")
	chmod 755 "$dir"
	mkdir "$dir/data" "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dir"
	fi
	if ! as "$bin/initdb" -D "$dir/data" -A trust -U test --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		rm -rf "$dir"
		echo "pg.sh: initdb failed" >&2
		exit 1
	fi
	# A free port: try a few at random; pg_ctl fails on one in use.
	local port tries
	for tries in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 30000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			continue # someone listens there
		fi
		if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -s -w -t 60 \
			-o "-p $port -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2; then
			if [ -n "$watch" ]; then
				# In its own session, so that killing the test's process
				# group does not kill the watcher with it.
				setsid "$(readlink -f "$0")" watch "$watch" "$dir" </dev/null >/dev/null 2>&1 &
				disown
			fi
			echo "CROWDRUN_TEST_POSTGRES=postgres://test@127.0.0.1:$port/postgres?sslmode=disable"
			echo "CROWDRUN_TEST_PGDIR=$dir"
			return
		fi
	done
	cat "$dir/server.log" >&2 || true
	rm -rf "$dir"
	echo "pg.sh: could not start PostgreSQL" >&2
	exit 1
}

stop() {
	local dir=${1:?usage: pg.sh stop DIR}
	if [ ! -d "$dir/data" ]; then
		echo "pg.sh: $dir is not a cluster started by pg.sh start" >&2
		exit 1
	fi
	local bin
	bin=$(bindir)
	as "$bin/pg_ctl" -D "$dir/data" -s -m immediate -w stop >&2 || true
	rm -rf "$dir"
}

# watch waits for process $1 to exit, then stops the cluster in $2 (unless
# it was stopped already).
watch() {
	while kill -0 "$1" 2>/dev/null && [ -d "$2/data" ]; do sleep 1; done
	[ ! -d "$2/data" ] || stop "$2"
}

case "${1:-}" in
start) start "${@:2}" ;;
stop) stop "${2:-}" ;;
watch) watch "$2" "$3" ;;
*)
	echo "usage: scripts/pg.sh start | stop DIR" >&2
	exit 2
	;;
esac
