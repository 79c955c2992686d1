# shellcheck shell=bash
# test/lib.sh -- shared helpers for nicelogin's test and demo scripts.
#
# Source it from a bash script that runs `set -euo pipefail`:
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# What it gives:
#   nl_use_major MAJOR          test against PostgreSQL MAJOR (default: the host's, 15)
#   nl_install_deps             apt-get install what building and testing need (skipped when present;
#                               three tries, NL_APT_RETRY_DELAY seconds apart, a log per run)
#   nl_stage_tree               copy the repo, without build products, to a new /tmp/nicelogin.XXXXXX
#                               (pg_regress writes results/ into it); sets NL_STAGE
#   nl_build_install DIR LOG [PGBIN]  make -j2 (as root) in DIR, then make install, for the
#                               PostgreSQL of PGBIN (default $NL_PGBIN); 2 = compiler warnings
#   nl_find_vectors [DEST]      find the Wycheproof vectors, copy them under DEST, export NICELOGIN_VECTORS
#   nl_start_cluster DIR PORT   initdb + pg_ctl start as postgres, socket in DIR; exports PGHOST PGPORT PGUSER
#   nl_stop_cluster DIR         (on exit too, unless NL_KEEP_CLUSTER=1)
#   nl_start_api_server PORT    start test/nicelogin_server.py, wait for "ready"; exports NICELOGIN_API_URL
#   nl_stop_api_server
#   nl_api_reset                POST /_control/reset to the stand-in server
#   nl_as_pg CMD...             run CMD as the postgres OS user (directly when already postgres)
#   nl_on_exit CMD...           register a cleanup step; all run, newest first, when the shell exits
#   nl_cleanup                  run the registered steps now (the EXIT trap calls it too)
#
# Everything it starts is registered with nl_on_exit, so a failing or interrupted run leaves no
# postmaster or server behind.

if [ -n "${NL_LIB_LOADED:-}" ]; then
	return 0
fi
NL_LIB_LOADED=1

NL_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# The host's PostgreSQL (Debian 12 carries 15); other majors run in chroots (test/chroot.sh).
NL_HOST_MAJOR=15
_NL_PGBIN_ENV=${NL_PGBIN:-}
NL_PG_USER=${NL_PG_USER:-postgres}
export DEBIAN_FRONTEND=noninteractive

# nl_use_major MAJOR: test against PostgreSQL MAJOR.  Sets NL_PG_MAJOR, NL_PGBIN (NL_PGBIN from
# the environment, as /work/tools/isolate.sh sets it, wins), NL_PGTAP_PACKAGE (pgTAP's Debian
# package for MAJOR, or empty where Debian has none: the pgTAP tests then say SKIP) and NL_DEPS,
# the packages a fresh Debian machine needs for building, testing and the demo.
nl_use_major() {
	NL_PG_MAJOR=$1
	NL_PGBIN=${_NL_PGBIN_ENV:-/usr/lib/postgresql/$NL_PG_MAJOR/bin}
	NL_PGTAP_PACKAGE=postgresql-$NL_PG_MAJOR-pgtap
	# 19 (release candidate, from experimental): no postgresql-19-pgtap yet (test/chroot.sh)
	[ "$NL_PG_MAJOR" != 19 ] || NL_PGTAP_PACKAGE=
	NL_DEPS=(
		"postgresql-$NL_PG_MAJOR" "postgresql-server-dev-$NL_PG_MAJOR" libcurl4-openssl-dev libssl-dev
		pkg-config libipc-run-perl make gcc python3 valgrind
		${NL_PGTAP_PACKAGE:+"$NL_PGTAP_PACKAGE"} libtap-parser-sourcehandler-pgtap-perl
	)
	# The example apps' and the pooler's (test/scripts/example_apps.sh, pgbouncer_pooling.sh), on
	# the host only: a chroot has test/chroot.sh's package list, and those scripts run on the host's major only.
	if [ -z "${NL_IN_CHROOT:-}" ]; then
		NL_DEPS+=("${NL_APP_DEPS[@]}")
	fi
}
NL_APP_DEPS=(
	python3-fastapi python3-uvicorn python3-flask python3-django python3-psycopg python3-psycopg-pool
	pgbouncer curl
)
# a script run by test/run-tests.sh gets that run's major in NL_PG_MAJOR (and NL_PGBIN)
nl_use_major "${NL_PG_MAJOR:-$NL_HOST_MAJOR}"

nl_log() { printf '%s\n' "$*" >&2; }
nl_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
nl_heading() { printf '\n===== %s =====\n' "$*"; }

# ---------------------------------------------------------------- cleanup

NL_CLEANUP=()

# The script's own stdout and stderr, kept on fds 7 and 8: a signal trap runs inside whatever
# redirection the interrupted command had, so the exit path writes through these.  Commands that
# leave a process running (pg_ctl start, the stand-in server) close them.
exec 7>&1 8>&2

# Register a cleanup command (one string, evaluated later).
nl_on_exit() { NL_CLEANUP+=("$*"); }

nl_cleanup() {
	local i cmd
	# Newest first; each step runs once even if nl_cleanup is called again.
	for ((i = ${#NL_CLEANUP[@]} - 1; i >= 0; i--)); do
		cmd=${NL_CLEANUP[$i]}
		unset 'NL_CLEANUP[i]'
		eval "$cmd" || true
	done
	NL_CLEANUP=()
}

_nl_exit_trap() {
	local rc=$?
	set +e
	exec 1>&7 2>&8
	nl_cleanup
	exit "$rc"
}
trap _nl_exit_trap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- users

# Run a command as the postgres OS user, from a folder it may enter.
nl_as_pg() {
	if [ "$(id -un)" = "$NL_PG_USER" ]; then
		(cd / && "$@")
	elif [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u "$NL_PG_USER" -- "$@")
	else
		nl_die "run as root (or as $NL_PG_USER): initdb and the tests must run as $NL_PG_USER"
	fi
}

# ---------------------------------------------------------------- packages

nl_install_deps() {
	local missing=() p
	for p in "${NL_DEPS[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		nl_log "dependencies: all installed"
		return 0
	fi
	[ "$(id -u)" = 0 ] || nl_die "missing packages (${missing[*]}); run as root to install them"
	nl_log "dependencies: installing ${missing[*]}"
	# a log of this run's own (the next run does not overwrite it), kept when a try failed
	local try log
	log=$(mktemp /tmp/nicelogin-apt.XXXXXX.log)
	for try in 1 2 3; do
		if apt-get update -q >>"$log" 2>&1 &&
			apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
			if [ "$try" = 1 ]; then
				rm -f "$log"
			else
				nl_log "apt-get succeeded (try $try); the failed tries are in $log"
			fi
			return 0
		fi
		nl_log "apt-get failed (try $try); see $log"
		[ "$try" = 3 ] || sleep "${NL_APT_RETRY_DELAY:-5}"
	done
	tail -n 30 "$log" >&2
	nl_die "could not install ${missing[*]} (log: $log)"
}

# ---------------------------------------------------------------- tree and build

# Copy the repo (no .git, no build products or test output, nor the cluster and logs of a test run
# that runs from a staged tree itself, as test/scripts/demo.sh does) into a new folder; the caller chowns it
# to postgres after building.  Sets NL_STAGE.  The folder is removed on exit unless NL_KEEP_STAGE=1.
nl_stage_tree() {
	NL_STAGE=$(mktemp -d /tmp/nicelogin.XXXXXX)
	tar -C "$NL_REPO" \
		--exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./output_iso --exclude=./tmp_check --exclude=./tmp_check_iso \
		--exclude=./log --exclude='regression.diffs' --exclude='regression.out' \
		--exclude='__pycache__' --exclude=./test-cluster --exclude=./test-logs \
		-cf - . | tar -C "$NL_STAGE" -xf -
	chmod 755 "$NL_STAGE"
	nl_on_exit "_nl_remove_stage '$NL_STAGE'"
	export NL_STAGE
}

_nl_remove_stage() {
	if [ "${NL_KEEP_STAGE:-0}" = 1 ]; then
		nl_log "kept staged tree: $1"
	else
		rm -rf "$1"
	fi
}

# Build in DIR as the current user (root), writing the compiler output to LOG, then `make install`.
# Returns 0 when all went well, 1 when the build or install failed, 2 when it built and installed
# but the compiler printed a warning.  Build from a fresh copy (nl_stage_tree) so every file is
# compiled and no warning hides in an object left by an earlier build.
nl_build_install() {
	local dir=${1:-$NL_REPO} log=${2:-} pgbin=${3:-$NL_PGBIN}
	[ -n "$log" ] || log=$(mktemp /tmp/nicelogin-build.XXXXXX.log)
	nl_log "building in $dir (log: $log)"
	if ! make -C "$dir" -j2 PG_CONFIG="$pgbin/pg_config" >"$log" 2>&1; then
		grep -E -A3 'error:|Error [0-9]' "$log" | head -n 60 >&2 || true
		nl_log "build failed (full log: $log)"
		return 1
	fi
	local warned=0
	if grep -q 'warning:' "$log"; then
		grep -A3 'warning:' "$log" >&2
		nl_log "the compiler printed warnings (above)"
		warned=1
	fi
	if ! make -C "$dir" install PG_CONFIG="$pgbin/pg_config" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		nl_log "make install failed (full log: $log)"
		return 1
	fi
	nl_log "built and installed into $("$pgbin/pg_config" --pkglibdir)"
	[ "$warned" = 0 ] || return 2
}

# ---------------------------------------------------------------- Wycheproof vectors

# Find the vectors (NICELOGIN_VECTORS, else <repo>/../shared/..., else /work/shared/...), copy the
# JSON files into DEST (default $NL_STAGE/test/vectors) so postgres can read them, and export
# NICELOGIN_VECTORS as that absolute path.
nl_find_vectors() {
	local dest=${1:-${NL_STAGE:?nl_stage_tree first}/test/vectors} src="" c
	# the shared copy beside the repo first (CI's), else the copy committed in test/vectors
	for c in "${NICELOGIN_VECTORS:-}" "$NL_REPO/../shared/vectors/wycheproof" /work/shared/vectors/wycheproof \
		"$NL_REPO/test/vectors/wycheproof"; do
		if [ -n "$c" ] && [ -f "$c/json_web_signature_test.json" ]; then
			src=$c
			break
		fi
	done
	if [ -z "$src" ]; then
		nl_die "Wycheproof vectors not found: set NICELOGIN_VECTORS to a folder holding json_web_signature_test.json and json_web_key_test.json (looked in \$NICELOGIN_VECTORS='${NICELOGIN_VECTORS:-}', $NL_REPO/../shared/vectors/wycheproof, /work/shared/vectors/wycheproof)"
	fi
	mkdir -p "$dest"
	cp "$src"/*.json "$dest"/
	chmod 755 "$dest"
	chmod 644 "$dest"/*.json
	NICELOGIN_VECTORS=$(cd "$dest" && pwd -P)
	export NICELOGIN_VECTORS
	nl_log "Wycheproof vectors: $src -> $NICELOGIN_VECTORS"
}

# ---------------------------------------------------------------- clusters

# Pick C.UTF-8 when the C library has it, else C.
nl_locale() {
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		echo C.UTF-8
	else
		echo C
	fi
}

# nl_start_cluster DIR PORT [LISTEN]
# initdb DIR/data as postgres, socket in DIR, log in DIR/postgres.log, start with pg_ctl -w.
# LISTEN is listen_addresses ('' by default: unix socket only).  Extra postgresql.conf lines can be
# passed in NL_EXTRA_CONF.  NL_PG_WRAPPER, when set, is the program pg_ctl starts instead of
# postgres (used for valgrind).  Exports PGHOST, PGPORT, PGUSER.
nl_start_cluster() {
	local dir=$1 port=$2 listen=${3:-}
	local data=$dir/data
	mkdir -p "$dir"
	chown "$NL_PG_USER": "$dir"
	chmod 700 "$dir"
	nl_as_pg test -w "$dir" ||
		nl_die "$NL_PG_USER cannot write $dir: every folder above it must be searchable by $NL_PG_USER"
	if [ -f "$data/postmaster.pid" ]; then
		nl_log "stopping a cluster left running in $data"
		nl_as_pg "$NL_PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$data"
	nl_as_pg "$NL_PGBIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
		--locale="$(nl_locale)" --no-instructions >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; nl_die "initdb failed in $data"; }
	cat >>"$data/postgresql.conf" <<EOF

# added by nicelogin test/lib.sh
port = $port
listen_addresses = '$listen'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
max_prepared_transactions = 10
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
${NL_EXTRA_CONF:-}
EOF
	local pgctl_opts=(-D "$data" -l "$dir/postgres.log" -w -t "${NL_START_TIMEOUT:-120}")
	if [ -n "${NL_PG_WRAPPER:-}" ]; then
		pgctl_opts+=(-p "$NL_PG_WRAPPER")
	fi
	nl_on_exit "_nl_cleanup_cluster '$dir'"
	if ! nl_as_pg "$NL_PGBIN/pg_ctl" "${pgctl_opts[@]}" start >"$dir/pg_ctl.log" 2>&1 7>&- 8>&-; then
		cat "$dir/pg_ctl.log" >&2
		tail -n 30 "$dir/postgres.log" >&2 || true
		nl_die "could not start the cluster in $data"
	fi
	export PGHOST=$dir PGPORT=$port PGUSER=postgres
	nl_log "cluster running: PGHOST=$dir PGPORT=$port (log: $dir/postgres.log)"
}

# Cleanup step: stop the cluster unless NL_KEEP_CLUSTER=1 (demo.sh --keep).
_nl_cleanup_cluster() {
	if [ "${NL_KEEP_CLUSTER:-0}" = 1 ]; then
		return 0
	fi
	nl_stop_cluster "$1"
}

nl_stop_cluster() {
	local data=$1/data
	[ -f "$data/postmaster.pid" ] || return 0
	nl_as_pg "$NL_PGBIN/pg_ctl" -D "$data" -m fast -t "${NL_STOP_TIMEOUT:-120}" stop >/dev/null 2>&1 ||
		nl_as_pg "$NL_PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- stand-in API server

NL_API_PID=""
NL_API_PIDFILE=""

# nl_start_api_server PORT [DIR]: run DIR/test/nicelogin_server.py (DIR defaults to the staged tree,
# else the repo) and wait until it prints "ready".
nl_start_api_server() {
	local port=$1 dir=${2:-${NL_STAGE:-$NL_REPO}}
	local script=$dir/test/nicelogin_server.py jwks=$dir/test/fixtures/jwks.json
	[ -f "$script" ] || nl_die "no stand-in server at $script"
	[ -f "$jwks" ] || nl_die "no fixture JWKS at $jwks (run test/gen_fixtures.py?)"
	# per network namespace too: runs in separate namespaces (unshare -n) may use the same port
	NL_API_PIDFILE=/tmp/nicelogin-api-server.$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo 0).$port.pid
	_nl_kill_stale_api "$port"
	if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		ss -ltnp "sport = :$port" 2>/dev/null >&2 || true
		nl_die "port $port on 127.0.0.1 is already in use (another stand-in server?): stop it, or pick another port (run-tests.sh: NL_API_PORT)"
	fi
	local log
	log=$(mktemp /tmp/nicelogin-api-server.XXXXXX.log)
	# Unbuffered so "ready" reaches the log at once.
	python3 -u "$script" --host 127.0.0.1 --port "$port" --jwks "$jwks" >"$log" 2>&1 </dev/null 7>&- 8>&- &
	NL_API_PID=$!
	echo "$NL_API_PID" >"$NL_API_PIDFILE"
	nl_on_exit "nl_stop_api_server; rm -f '$log'"
	local i
	for ((i = 0; i < 300; i++)); do
		if grep -q '^ready' "$log"; then
			export NICELOGIN_API_URL="http://127.0.0.1:$port" NICELOGIN_API_PORT=$port
			nl_log "stand-in API server ready at $NICELOGIN_API_URL (pid $NL_API_PID)"
			return 0
		fi
		if ! kill -0 "$NL_API_PID" 2>/dev/null; then
			cat "$log" >&2
			nl_die "the stand-in API server exited before printing ready"
		fi
		sleep 0.1
	done
	cat "$log" >&2
	nl_die "the stand-in API server did not print ready within 30 s"
}

# A server left by an earlier, killed run of these scripts holds the port: stop it, by the pid
# that run recorded, only if that pid still runs nicelogin_server.py.
_nl_kill_stale_api() {
	local port=$1 pid
	[ -f "$NL_API_PIDFILE" ] || return 0
	pid=$(cat "$NL_API_PIDFILE" 2>/dev/null || true)
	if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "nicelogin_server.py.*--port $port"; then
		nl_log "stopping a stand-in server left by an earlier run (pid $pid)"
		kill "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$NL_API_PIDFILE"
}

nl_stop_api_server() {
	[ -n "$NL_API_PID" ] || return 0
	if kill -0 "$NL_API_PID" 2>/dev/null; then
		kill "$NL_API_PID" 2>/dev/null || true
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$NL_API_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$NL_API_PID" 2>/dev/null || true
	fi
	wait "$NL_API_PID" 2>/dev/null || true
	rm -f "$NL_API_PIDFILE"
	NL_API_PID=""
}

# Reset the stand-in server's state (users, counters, injected failures).
nl_api_reset() {
	[ -n "${NICELOGIN_API_URL:-}" ] || return 0
	python3 - "$NICELOGIN_API_URL/_control/reset" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b"{}", method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
EOF
}
