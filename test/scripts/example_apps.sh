#!/usr/bin/env bash
# test/scripts/example_apps.sh -- the example apps (examples/apps: FastAPI, Flask, Django, Express),
# each started on loopback against a database made from examples/apps/schema.sql and driven with
# real HTTP requests by test/scripts/example_apps_check.py: two tenants see only their rows;
# forged, expired, alg none, unknown-key and deactivated tokens get 401 with nicelogin_check()'s
# reason; a cross-tenant insert is refused; the password reset flow and the admin deactivation
# reach the stand-in NiceLogin server.
#
# It starts a cluster of its own (unix socket only) because deactivation needs
# nicelogin.api_secret, which is only used with shared_preload_libraries = 'nicelogin'.  The
# Python apps run with /usr/bin/python3 (Debian's python3-fastapi, -uvicorn, -flask, -django,
# -psycopg, -psycopg-pool: test/lib.sh's NL_APP_DEPS, installed on the host only: the script runs
# on the host's major only, see the nl-run line).  The Express app needs node and npm; it runs
# `npm ci` in examples/apps/express when node_modules is missing (that needs the npm registry;
# run it by hand beforehand where the tests have no network), and is skipped, with a SKIP line,
# where node or npm is missing (the Debian chroots of test/chroot.sh).
#
# Run by test/run-tests.sh (see test/scripts/README.md).
# nl-run: host-major
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PY=/usr/bin/python3
HERE=$(pwd -P)
APPS=$HERE/examples/apps
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
[ -n "${NICELOGIN_API_URL:-}" ] || fail "NICELOGIN_API_URL is not set (the stand-in server)"

for m in fastapi uvicorn flask django psycopg psycopg_pool; do
	$PY -c "import $m" 2>/dev/null && continue
	if [ -n "${NL_IN_CHROOT:-}" ]; then
		# test/chroot.sh's package list leaves them out (test/lib.sh's NL_APP_DEPS)
		echo "SKIP: the example apps are not tested on PostgreSQL $NL_PG_MAJOR ($NL_IN_CHROOT chroot): $PY cannot import $m"
		exit 0
	fi
	fail "$PY cannot import $m: install ${NL_APP_DEPS[*]}"
done
command -v curl >/dev/null || fail "curl is not installed"

# ---- the apps' cluster
work=$(mktemp -d /tmp/nicelogin-apps.XXXXXX)
chmod 755 "$work"
nl_on_exit "rm -rf '$work'"
NL_EXTRA_CONF="shared_preload_libraries = 'nicelogin'
nicelogin.database = 'notes'
nicelogin.base_url = '$NICELOGIN_API_URL'
nicelogin.api_key = 'test-api-key'
nicelogin.api_secret = 'test-api-secret'" nl_start_cluster "$work/pg" 5497
psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_pg -d postgres -c "CREATE DATABASE notes"
psql_pg -d notes -f "$APPS/schema.sql"
psql_pg -d notes -f "$APPS/seed.sql"
psql_pg -d notes -v jwks="$(cat "$HERE/test/fixtures/jwks.json")" >/dev/null <<'SQL'
SELECT nicelogin.nicelogin_set_jwks(:'jwks');
SQL
# URLs: libpq (psycopg) and node-postgres both read them
export NOTES_DATABASE_URL="postgresql://notes_app@/notes?host=$PGHOST&port=$PGPORT"
export NOTES_ADMIN_DATABASE_URL="postgresql://notes_admin@/notes?host=$PGHOST&port=$PGPORT"

# ---- Express: node_modules
express=yes
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	express=no
	echo "SKIP: examples/apps/express: node or npm is not installed here (PostgreSQL $NL_PG_MAJOR); the Express app is not tested on this major"
elif [ ! -d "$APPS/express/node_modules" ]; then
	echo "examples/apps/express: npm ci"
	(cd "$APPS/express" && npm ci --no-audit --no-fund) >"$work/npm.log" 2>&1 || {
		cat "$work/npm.log"
		fail "npm ci failed in examples/apps/express (no network? run it there by hand beforehand)"
	}
fi
# ---- start the apps, as postgres (the cluster's socket folder is its own)
PIDS=()
start_app() { # NAME PORT DIR CMD...
	local name=$1 port=$2 dir=$3
	shift 3
	mkdir -p "$work/outbox-$name"
	chown "$NL_PG_USER": "$work/outbox-$name"
	(cd "$dir" && NOTES_OUTBOX=$work/outbox-$name PORT=$port exec setsid runuser -u "$NL_PG_USER" -- "$@") \
		>"$work/$name.log" 2>&1 </dev/null 7>&- 8>&- &
	PIDS+=("$name:$!")
	nl_on_exit "kill -- -$! 2>/dev/null"
}
start_app fastapi 18111 "$APPS/fastapi" $PY -m uvicorn app:app --host 127.0.0.1 --port 18111
start_app flask 18112 "$APPS/flask" $PY app.py --port 18112
start_app django 18113 "$APPS/django" $PY app.py runserver --noreload 127.0.0.1:18113
[ "$express" = no ] || start_app express 18114 "$APPS/express" node server.js

# wait until each answers (GET /me without a token: 401)
wait_app() { # NAME PORT
	local i
	for ((i = 0; i < 150; i++)); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/me")" = 401 ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

failed=()
for entry in "${PIDS[@]}"; do
	name=${entry%%:*}
	case $name in
	fastapi) port=18111 ;; flask) port=18112 ;; django) port=18113 ;; express) port=18114 ;;
	esac
	nl_heading "$name (http://127.0.0.1:$port)"
	t0=$SECONDS
	if ! wait_app "$name" "$port"; then
		echo "FAIL [$name] did not answer on port $port within 30 s"
		failed+=("$name")
	elif ! $PY "$HERE/test/scripts/example_apps_check.py" "$name" "http://127.0.0.1:$port" "$work/outbox-$name"; then
		failed+=("$name")
	fi
	echo "[$name] $((SECONDS - t0)) s"
	if [ ${#failed[@]} -gt 0 ] && [ "${failed[-1]}" = "$name" ]; then
		echo "----- $name's log"
		cat "$work/$name.log"
		echo "-----"
	fi
done

[ ${#failed[@]} -eq 0 ] || fail "example apps failed: ${failed[*]}"
echo "example apps: all passed (${PIDS[*]%%:*})"
