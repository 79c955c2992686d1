#!/usr/bin/env bash
# test/chroot.sh -- run the test command against a PostgreSQL major that the host lacks, inside a
# throwaway Debian chroot made from Debian's own archive.
#
#   bash test/chroot.sh prepare MAJOR        make sure the cached chroot for MAJOR is there and current
#   bash test/chroot.sh run MAJOR [ARGS...]  bash test/run-tests.sh --pg MAJOR ARGS inside a fresh copy
#   bash test/chroot.sh remove MAJOR         delete the cached chroot
#
# Majors and suites: 17 -> trixie, 18 -> sid, 19 -> sid plus experimental (19 is at release
# candidate 1 there: postgresql-19, postgresql-server-dev-19 and the libpq they need come from
# experimental, pinned by source package; experimental has no postgresql-19-pgtap, so that chroot
# has no pgTAP and the pgTAP tests say SKIP on 19; it also has sid's 18, for a pg_upgrade 18 -> 19).
# 16 has no package in any Debian suite.
# Run as root.  Steps of `run`:
#   1. prepare: the chroot is cached in $NL_CHROOT_DIR/NAME (default /var/tmp/nicelogin-chroots;
#      NAME is the suite, or sid-experimental for 19), with NAME.stamp recording the suites, mirror
#      and package list.  A missing or stale chroot is built from scratch: apt-get install
#      debootstrap on the host if needed, `debootstrap --variant=minbase`, then apt-get install of
#      the major's packages inside (network needed);
#   2. the cached chroot is never written by a run: each run gets an overlay (copy-on-write) copy
#      of it, removed afterwards, so runs on one machine cannot disturb each other;
#   3. in new mount, network and pid namespaces (unshare): mounts /proc, /sys, /dev, /dev/pts and a
#      tmpfs on /dev/shm inside the copy, brings up its own loopback (so ports never collide with
#      the host's or another run's), copies the repository in, and runs the test command there
#      with a clean environment.  On every exit path the mounts are unmounted (lazily, in reverse
#      order; the mount namespace ends with the run in any case) and every process of the run is
#      gone (the pid namespace ends with it).
# `run` prints what run-tests.sh prints, ending with "N passed, M failed"; when the chroot cannot be
# built it prints a FAIL line and "0 passed, 1 failed" itself, and exits non-zero.
#
# Environment: NL_CHROOT_DIR, NL_DEBIAN_MIRROR (http://deb.debian.org/debian); passed into the
# chroot: CI, NICELOGIN_VECTORS (copied in), NL_DUMP_IMPORT (copied in), NL_PGPORT, NL_API_PORT,
# NL_SCRIPT_TIMEOUT, NL_KEEP_STAGE.
# shellcheck disable=SC2317  # functions run from traps
set -euo pipefail

NL_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
NL_CHROOT_DIR=${NL_CHROOT_DIR:-/var/tmp/nicelogin-chroots}
NL_DEBIAN_MIRROR=${NL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# bump when the way a chroot is set up changes, so that cached ones are rebuilt
NL_CHROOT_FORMAT=1
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# a signal ends the script through its EXIT trap (which removes the run's copy)
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

log() { printf 'chroot: %s\n' "$*" >&2; }
die() { printf 'chroot: ERROR: %s\n' "$*" >&2; exit 1; }

# The Debian suite that debootstrap makes the chroot for MAJOR from.
suite_of() {
	case $1 in
	17) echo trixie ;;
	18 | 19) echo sid ;;
	16) die "PostgreSQL 16 has no package in any Debian suite: it cannot be tested in a chroot" ;;
	*) die "no Debian suite is set up for PostgreSQL $1 (known: 17 trixie, 18 sid, 19 sid plus experimental)" ;;
	esac
}

# The suite added on top of it, from which MAJOR's own packages come (pinned by source package,
# so that nothing else is taken from it), or nothing.
extra_suite_of() {
	case $1 in
	19) echo experimental ;; # 19 is at release candidate 1 in experimental
	*) echo "" ;;
	esac
}

# The name of MAJOR's cached chroot (its folder, lock, stamp and log in $NL_CHROOT_DIR).
cache_of() {
	local suite extra
	suite=$(suite_of "$1") || exit 1
	extra=$(extra_suite_of "$1")
	echo "$suite${extra:+-$extra}"
}

# What the test command needs inside (the same as test/lib.sh's NL_DEPS for that major, whose
# NL_PGTAP_PACKAGE is empty for 19 as here).
packages_of() {
	local m=$1 pgtap older=""
	pgtap="postgresql-$m-pgtap"
	[ "$m" = 19 ] && pgtap="" # experimental has no postgresql-19-pgtap (yet)
	# 19's chroot also carries sid's 18, for t/013_pg_upgrade.pl's pg_upgrade 18 -> 19 (the test
	# command builds and installs nicelogin for every older major it finds in a chroot)
	[ "$m" = 19 ] && older="postgresql-18 postgresql-server-dev-18 "
	echo "postgresql-$m postgresql-server-dev-$m ${older}build-essential libcurl4-openssl-dev libssl-dev" \
		"pkg-config libipc-run-perl python3 make gcc valgrind iproute2 ca-certificates" \
		"${pgtap:+$pgtap }libtap-parser-sourcehandler-pgtap-perl"
}

stamp_text() {
	local extra
	extra=$(extra_suite_of "$1")
	printf 'format %s\nsuite %s\n' "$NL_CHROOT_FORMAT" "$(suite_of "$1")"
	[ -z "$extra" ] || printf 'extra suite %s (src:postgresql-%s)\n' "$extra" "$1"
	printf 'mirror %s\npackages %s\n' "$NL_DEBIAN_MIRROR" "$(packages_of "$1")"
}

# ---------------------------------------------------------------- mounts

# Mount what a chroot needs under ROOT; unmount_all undoes it (lazily, newest first).  Call only in
# a private mount namespace (unshare -m), after debootstrap finished.
MOUNTED=()
mount_all() {
	local root=$1
	mount -t proc proc "$root/proc" || die "could not mount $root/proc"
	MOUNTED+=("$root/proc")
	mount -t sysfs sysfs "$root/sys" || die "could not mount $root/sys"
	MOUNTED+=("$root/sys")
	mount --bind /dev "$root/dev" || die "could not mount $root/dev"
	MOUNTED+=("$root/dev")
	mount --bind /dev/pts "$root/dev/pts" || die "could not mount $root/dev/pts"
	MOUNTED+=("$root/dev/pts")
	mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm" || die "could not mount $root/dev/shm"
	MOUNTED+=("$root/dev/shm")
}
unmount_all() {
	local i
	for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
		umount -l "${MOUNTED[$i]}" 2>/dev/null || true
	done
	MOUNTED=()
}

# ---------------------------------------------------------------- building

ensure_debootstrap() {
	command -v debootstrap >/dev/null && return 0
	log "installing debootstrap on the host"
	if ! { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }; then
		die "could not install debootstrap"
	fi
}

# Build the chroot for MAJOR from scratch into DIR.new, then move it to DIR and write the stamp.
build_chroot() {
	local major=$1 suite extra name dir new try
	suite=$(suite_of "$major")
	extra=$(extra_suite_of "$major")
	name=$(cache_of "$major")
	dir=$NL_CHROOT_DIR/$name
	new=$dir.new
	ensure_debootstrap
	rm -rf "$new" "$dir.stamp"
	log "debootstrap $suite${extra:+ (plus $extra)} (PostgreSQL $major) into $new"
	for try in 1 2; do
		if debootstrap --variant=minbase "$suite" "$new" "$NL_DEBIAN_MIRROR" >"$NL_CHROOT_DIR/$name.log" 2>&1; then
			break
		fi
		tail -n 20 "$NL_CHROOT_DIR/$name.log" >&2
		[ "$try" = 2 ] && die "debootstrap of $suite failed (log: $NL_CHROOT_DIR/$name.log)"
		log "debootstrap failed, trying again"
		rm -rf "$new"
	done
	# sid's Release file reads as expired by some clocks; no services start inside; no
	# recommends; no cluster created by the postgresql package (the tests make their own)
	cat >"$new/etc/apt/apt.conf.d/99nicelogin" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
EOF
	printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	mkdir -p "$new/etc/postgresql-common"
	echo 'create_main_cluster = false' >"$new/etc/postgresql-common/createcluster.conf"
	cp /etc/resolv.conf "$new/etc/resolv.conf"
	if [ -n "$extra" ]; then
		# the extra suite's default priority (experimental's is 1) keeps everything else from it;
		# the pin gives the major's own source package (server, client, libpq) priority 500, so
		# that its newer libpq5 and libpq-dev replace the base suite's, as it needs
		echo "deb $NL_DEBIAN_MIRROR $extra main" >"$new/etc/apt/sources.list.d/$extra.list"
		printf 'Package: src:postgresql-%s\nPin: release a=%s\nPin-Priority: 500\n' "$major" "$extra" \
			>"$new/etc/apt/preferences.d/99nicelogin"
	fi
	log "apt-get install $(packages_of "$major")"
	# shellcheck disable=SC2046  # the package list is words
	if ! unshare --mount --propagation private --pid --fork --kill-child \
		bash "${BASH_SOURCE[0]}" _in_ns "$new" -- \
		/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
		sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@" && apt-get clean' \
		apt $(packages_of "$major") >>"$NL_CHROOT_DIR/$name.log" 2>&1; then
		tail -n 30 "$NL_CHROOT_DIR/$name.log" >&2
		die "apt-get install in the $name chroot failed (log: $NL_CHROOT_DIR/$name.log)"
	fi
	[ -x "$new/usr/lib/postgresql/$major/bin/postgres" ] || die "no postgres $major in the $name chroot"
	rm -rf "$dir"
	mv "$new" "$dir"
	stamp_text "$major" >"$dir.stamp"
	log "chroot ready: $dir (postgresql-$major $(dpkg-query --admindir="$dir/var/lib/dpkg" -W -f='${Version}' "postgresql-$major" 2>/dev/null || echo '?'))"
}

# Take the lock of MAJOR's cache (exclusive while checking and building), build the chroot if it
# is missing or stale, then keep a shared lock on fd 9 until the caller exits (so no other run
# rebuilds it while this one uses it).
prepare() {
	local major=$1 suite dir
	suite=$(cache_of "$major")
	dir=$NL_CHROOT_DIR/$suite
	[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
	mkdir -p "$NL_CHROOT_DIR"
	exec 9>"$NL_CHROOT_DIR/$suite.lock"
	flock -x 9
	if [ -x "$dir/usr/lib/postgresql/$major/bin/postgres" ] && [ -f "$dir.stamp" ] &&
		[ "$(cat "$dir.stamp")" = "$(stamp_text "$major")" ]; then
		log "using the cached $suite chroot ($dir)"
	else
		[ -d "$dir" ] && log "the cached $suite chroot is stale or incomplete: rebuilding it"
		local t0=$SECONDS
		build_chroot "$major"
		log "built the $suite chroot in $((SECONDS - t0)) s"
	fi
	flock -s 9
}

# ---------------------------------------------------------------- running

# Inside new namespaces (called by unshare): mount what ROOT needs, bring up the loopback, run
# CMD in the chroot, unmount on every exit path.
in_ns() {
	local root=$1
	shift 2 # ROOT --
	trap unmount_all EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	mount_all "$root"
	ip link set lo up 2>/dev/null || true
	local rc=0
	chroot "$root" "$@" || rc=$?
	exit "$rc"
}

# Print the FAIL line and summary of a run that could not start, and exit 1.
fail_run() {
	printf 'FAIL  pg%s/chroot (%s)\n' "$1" "$2"
	printf '0 passed, 1 failed\n'
	exit 1
}

run() {
	local major=$1 suite base run_dir merged src vars=() v
	shift
	suite=$(cache_of "$major") || fail_run "$major" "no Debian suite carries PostgreSQL $major"
	(prepare "$major") || fail_run "$major" "could not build the $suite chroot"
	# the subshell's lock is gone: take the shared one for this process
	exec 9>"$NL_CHROOT_DIR/$suite.lock"
	flock -s 9
	base=$NL_CHROOT_DIR/$suite
	mkdir -p "$NL_CHROOT_DIR/runs"
	run_dir=$(mktemp -d "$NL_CHROOT_DIR/runs/$suite.XXXXXX")
	mkdir -p "$run_dir/upper" "$run_dir/work" "$run_dir/root"
	RUN_DIR=$run_dir
	trap end_run EXIT
	merged=$run_dir/root

	# The repository (without .git and build products), the vectors and the dump from 15 go into
	# the copy's /tmp: written straight into the overlay's upper layer, before it is mounted.
	src=/tmp/nicelogin-src
	vars=(PATH="/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" NL_IN_CHROOT="$suite")
	for v in CI NL_PGPORT NL_API_PORT NL_SCRIPT_TIMEOUT NL_KEEP_STAGE; do
		[ -n "${!v:-}" ] && vars+=("$v=${!v}")
	done
	local vectors="" dump=""
	vectors=$(find_vectors) || true
	[ -n "$vectors" ] && vars+=(NICELOGIN_VECTORS="$src/.ci-vectors")
	if [ -n "${NL_DUMP_IMPORT:-}" ] && [ -d "$NL_DUMP_IMPORT" ]; then
		dump=$NL_DUMP_IMPORT
		vars+=(NL_DUMP_IMPORT="$src/.ci-dump")
	fi
	mkdir -p "$run_dir/upper/tmp"
	chmod 1777 "$run_dir/upper/tmp"
	mkdir -p "$run_dir/upper$src"
	tar -C "$NL_REPO" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./output_iso --exclude=./tmp_check --exclude=./log \
		--exclude='__pycache__' -cf - . | tar -C "$run_dir/upper$src" -xf -
	[ -n "$vectors" ] && mkdir -p "$run_dir/upper$src/.ci-vectors" && cp "$vectors"/*.json "$run_dir/upper$src/.ci-vectors/"
	[ -n "$dump" ] && cp -r "$dump" "$run_dir/upper$src/.ci-dump"

	log "PostgreSQL $major: running the tests in a copy of the $suite chroot ($run_dir)"
	local rc=0
	# in the background, so that a signal to this script is handled at once (end_run)
	# shellcheck disable=SC2016  # expanded by the inner bash
	unshare --mount --propagation private --net --pid --fork --kill-child \
		bash -c 'set -e
			mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/root"
			shift 2
			exec bash "$@"' overlay "$base" "$run_dir" \
		"${BASH_SOURCE[0]}" _in_ns "$merged" -- \
		/usr/bin/env -i "${vars[@]}" bash "$src/test/run-tests.sh" --pg "$major" "$@" &
	NS_PID=$!
	wait "$NS_PID" || rc=$?
	NS_PID=
	if [ "${NL_KEEP_STAGE:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
		# keep the staged trees (logs, results) of the run; the rest of the copy goes
		local keep
		keep=$(mktemp -d "/tmp/nicelogin-pg$major.XXXXXX")
		cp -a "$run_dir/upper/tmp/." "$keep/" 2>/dev/null || true
		log "the copy's /tmp (staged trees, logs) is kept in $keep"
	fi
	return "$rc"
}

# EXIT trap of `run`: if the run is still going (this script got a signal), kill its namespace's
# first process (unshare ignores SIGTERM): the kernel then kills every process of the namespace
# and drops its mounts.  Then remove the run's copy.
NS_PID=
RUN_DIR=
end_run() {
	local c
	if [ -n "$NS_PID" ] && kill -0 "$NS_PID" 2>/dev/null; then
		log "stopping the run in the chroot"
		for c in $(pgrep -P "$NS_PID"); do
			kill -KILL "$c" 2>/dev/null || true
		done
		wait "$NS_PID" 2>/dev/null || true
	fi
	[ -z "$RUN_DIR" ] || rm -rf "$RUN_DIR"
}

# The Wycheproof vectors folder as test/lib.sh's nl_find_vectors would pick it on the host.
find_vectors() {
	local c
	for c in "${NICELOGIN_VECTORS:-}" "$NL_REPO/../shared/vectors/wycheproof" /work/shared/vectors/wycheproof; do
		if [ -n "$c" ] && [ -f "$c/json_web_signature_test.json" ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

case ${1:-} in
prepare) [ $# -eq 2 ] || die "usage: prepare MAJOR"; prepare "$2" ;;
run) [ $# -ge 2 ] || die "usage: run MAJOR [ARGS...]"; shift; run "$@" ;;
remove)
	[ $# -eq 2 ] || die "usage: remove MAJOR"
	suite=$(cache_of "$2")
	exec 9>"$NL_CHROOT_DIR/$suite.lock"
	flock -x 9
	rm -rf "${NL_CHROOT_DIR:?}/$suite" "$NL_CHROOT_DIR/$suite.stamp" "$NL_CHROOT_DIR/$suite.new"
	;;
_in_ns) shift; in_ns "$@" ;;
*) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
