#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for crowdrun's tests.
#
#   scripts/pg.sh start [--watch PID] [--tmpfs SIZE]
#                            prints, on stdout, two lines to eval:
#                              CROWDRUN_TEST_POSTGRES=postgres://test@127.0.0.1:PORT/postgres?sslmode=disable
#                              CROWDRUN_TEST_PGDIR=DIR
#   scripts/pg.sh stop DIR   stops the cluster in DIR and removes DIR
#
# With --watch PID the cluster also stops by itself once process PID has
# exited (a test binary killed by its timeout leaves no server behind).
#
# With --tmpfs SIZE (root only; SIZE as mount(8) takes it, e.g. 64m) the data
# directory DIR/data is a tmpfs of that size, mounted here and unmounted by
# stop, and the WAL is in DIR/wal, outside it: filling DIR/data makes table
# and index extension fail with disk_full (53100), an error, while WAL writes
# (a PANIC when they fail) still succeed. internal/chaos fills it.
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
	local watch="" tmpfs=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--watch) watch=${2:?--watch needs a PID} ;;
		--tmpfs) tmpfs=${2:?--tmpfs needs a size} ;;
		*)
			echo "pg.sh: unknown option $1" >&2
			exit 2
			;;
		esac
		shift 2
	done
	if [ -n "$tmpfs" ] && [ "$(id -u)" -ne 0 ]; then
		echo "pg.sh: --tmpfs mounts a filesystem: it needs root" >&2
		exit 1
	fi
	local base=${TMPDIR:-/tmp}
	[ "$(id -u)" -ne 0 ] || base=/tmp # the postgres user must reach it
	local dir
	dir=$(mktemp -d "$base/crowdrun-pg.XXXXXX")
	chmod 755 "$dir"
	mkdir "$dir/data" "$dir/sock"
	local initdb=(-D "$dir/data" -A trust -U test --no-sync -E UTF8 --locale=C)
	if [ -n "$tmpfs" ]; then
		if ! mount -t tmpfs -o "size=$tmpfs,mode=0700" tmpfs "$dir/data"; then
			rm -rf "$dir"
			echo "pg.sh: could not mount a tmpfs of $tmpfs on $dir/data" >&2
			exit 1
		fi
		initdb+=(--waldir="$dir/wal")
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dir"
	fi
	if ! as "$bin/initdb" "${initdb[@]}" >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		remove "$dir"
		echo "pg.sh: initdb failed" >&2
		exit 1
	fi
	local opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses=127.0.0.1 -c max_connections=200"
	if [ -n "$tmpfs" ]; then
		# A checkpoint that cannot write a file in the data directory is a
		# PANIC (PostgreSQL 15 on a full tmpfs: "could not write to file
		# pg_logical/replorigin_checkpoint.tmp"), and the restart's own
		# checkpoint may fail the same way: no checkpoint but on demand
		# (internal/chaos asks for one before it fills the disk) or after
		# 4GB of WAL, which is outside.
		opts+=" -c checkpoint_timeout=1d -c max_wal_size=4GB"
	fi
	# A free port: try a few at random; pg_ctl fails on one in use.
	local port tries
	for tries in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 30000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			continue # someone listens there
		fi
		if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -s -w -t 60 \
			-o "-p $port -k $dir/sock $opts" start >&2; then
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
	remove "$dir"
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
	remove "$dir"
}

# remove removes a cluster's directory, unmounting its tmpfs first if it has
# one.
remove() {
	if mountpoint -q "$1/data"; then
		umount "$1/data"
	fi
	rm -rf "$1"
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
