#!/usr/bin/env bash
# test/scripts/pgbouncer_pooling.sh -- tokens scoped to the transaction never leak between the
# clients of a transaction-pooling PgBouncer.  PgBouncer (pool_mode = transaction, 2 server
# connections) sits in front of a database made from examples/apps/schema.sql; through it,
# test/scripts/pgbouncer_pooling.py runs 12 clients of two tenants, each transaction starting with
# set_config('nicelogin.token', $1, true), and 4 clients without a token, for a few seconds:
#   1. scope local (the advice): every transaction sees its own tenant's rows only, a client's
#      next transaction and the clients without a token see no row and no token, no error, and
#      the clients really shared the 2 server connections;
#   2. the control, scope session (set_config(..., false), as a plain SET does): the same run
#      must see leaks, which proves that the test can see one;
#   3. the control again, behind a PgBouncer with server_reset_query = DISCARD ALL and
#      server_reset_query_always = 1 (the defence in depth): no leak, even of a session setting;
#   4. the FastAPI example app behind the first PgBouncer, under the same concurrent load over
#      HTTP: each tenant is answered its own rows only, no error.
# Python's psycopg and Debian's pgbouncer (test/lib.sh's NL_APP_DEPS, installed on the host only):
# the script runs on the host's major only (the nl-run line).
#
# Run by test/run-tests.sh (see test/scripts/README.md).
# nl-run: host-major
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PY=/usr/bin/python3
HERE=$(pwd -P)
DB=nl_pgbouncer_pooling
SECONDS_RUN=${NL_POOLING_SECONDS:-4}
BOUNCER_PORT=${NL_PGBOUNCER_PORT:-16432}
APP_PORT=18121
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$PGBOUNCER" ] || ! $PY -c 'import psycopg, psycopg_pool, fastapi, uvicorn' 2>/dev/null; then
	if [ -n "${NL_IN_CHROOT:-}" ]; then
		echo "SKIP: the PgBouncer test does not run on PostgreSQL $NL_PG_MAJOR ($NL_IN_CHROOT chroot): pgbouncer or python3-psycopg/-fastapi missing"
		exit 0
	fi
	fail "pgbouncer or $PY's psycopg/fastapi is missing: install ${NL_APP_DEPS[*]}"
fi

psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
# the schema's roles are cluster-wide: gone before and after
drop_all() {
	psql_pg -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" \
		-c "DROP ROLE IF EXISTS notes_app" -c "DROP ROLE IF EXISTS notes_admin"
}
drop_all
nl_on_exit "drop_all >/dev/null 2>&1"
psql_pg -d postgres -c "CREATE DATABASE $DB"
psql_pg -d "$DB" -f "$HERE/examples/apps/schema.sql"
psql_pg -d "$DB" -f "$HERE/examples/apps/seed.sql"
psql_pg -d "$DB" -v jwks="$(cat "$HERE/test/fixtures/jwks.json")" >/dev/null <<'SQL'
SELECT nicelogin.nicelogin_set_jwks(:'jwks');
SQL

# ---- PgBouncer, as postgres, on loopback
work=$(mktemp -d /tmp/nicelogin-pgbouncer.XXXXXX)
chmod 755 "$work"
chown "$NL_PG_USER": "$work"
nl_on_exit "rm -rf '$work'"
printf '"notes_app" ""\n' >"$work/users.txt"
cat >"$work/pgbouncer.ini" <<EOF
[databases]
notes = host=$PGHOST port=$PGPORT dbname=$DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
default_pool_size = 2
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 100
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
EOF
# the same with the reset query run after every transaction (a second config)
sed 's/^pool_mode = transaction$/&\nserver_reset_query = DISCARD ALL\nserver_reset_query_always = 1/' \
	"$work/pgbouncer.ini" >"$work/pgbouncer-reset.ini"
grep -q '^server_reset_query_always = 1$' "$work/pgbouncer-reset.ini" || fail "pgbouncer-reset.ini"
chown "$NL_PG_USER": "$work"/*
start_bouncer() { # INI: (re)start PgBouncer with it, on fresh server connections
	if [ -n "${bouncer:-}" ]; then
		kill -- -"$bouncer" 2>/dev/null || true
		wait "$bouncer" 2>/dev/null || true
		psql_pg -d "$DB" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'notes_app'" >/dev/null
	fi
	(exec setsid runuser -u "$NL_PG_USER" -- "$PGBOUNCER" "$1") >>"$work/pgbouncer.out" 2>&1 </dev/null 7>&- 8>&- &
	bouncer=$!
	nl_on_exit "kill -- -$bouncer 2>/dev/null"
	local i
	for ((i = 0; i < 100; i++)); do
		$PY -c "import psycopg, sys; psycopg.connect(sys.argv[1]).close()" "$CONNINFO" 2>/dev/null && return 0
		sleep 0.1
	done
	show_logs
	fail "PgBouncer ($1) did not accept connections on 127.0.0.1:$BOUNCER_PORT"
}
show_logs() {
	echo "----- pgbouncer's log"
	cat "$work/pgbouncer.out" "$work/pgbouncer.log" 2>/dev/null || true
	[ ! -f "$work/app.log" ] || { echo "----- the FastAPI app's log"; cat "$work/app.log"; }
	echo "-----"
}
CONNINFO="host=127.0.0.1 port=$BOUNCER_PORT dbname=notes user=notes_app"
start_bouncer "$work/pgbouncer.ini"
echo "PgBouncer $("$PGBOUNCER" --version | head -n 1 | awk '{print $2}') on 127.0.0.1:$BOUNCER_PORT: pool_mode transaction, 2 server connections"

# field VALUE of the summary line
field() { sed -n "s/^scope=.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# ---- 1. set_config(..., true): no leak
out=$($PY "$HERE/test/scripts/pgbouncer_pooling.py" "$CONNINFO" local "$SECONDS_RUN")
printf '%s\n' "$out"
[ "$(field errors "$out")" = 0 ] || { show_logs; fail "scope local: a client saw an error"; }
[ "$(field leaks "$out")" = 0 ] || { show_logs; fail "scope local: a token reached another client"; }
[ "$(field transactions "$out")" -ge 200 ] || fail "scope local: too few transactions to mean anything"
[ "$(field anonymous "$out")" -ge 100 ] || fail "scope local: too few tokenless queries to mean anything"
backends=$(field backends "$out")
if [ "$backends" -lt 1 ] || [ "$backends" -gt 2 ]; then
	fail "scope local: served by $backends server connections, expected 16 clients on 1 or 2"
fi
echo "scope local: no leak, 16 clients on $backends server connections"

# ---- 2. the control: set_config(..., false) (a plain SET) leaks, and the test sees it
out=$($PY "$HERE/test/scripts/pgbouncer_pooling.py" "$CONNINFO" session "$SECONDS_RUN")
printf '%s\n' "$out"
[ "$(field leaks "$out")" -gt 0 ] || { show_logs; fail "control: a session-level token did not leak; the test cannot see a leak"; }
echo "control (scope session): $(field leaks "$out") leaks seen, as expected"

# ---- 3. the control behind PgBouncer with DISCARD ALL after every transaction: no leak
start_bouncer "$work/pgbouncer-reset.ini"
echo "PgBouncer with server_reset_query = DISCARD ALL, server_reset_query_always = 1"
out=$($PY "$HERE/test/scripts/pgbouncer_pooling.py" "$CONNINFO" session "$SECONDS_RUN")
printf '%s\n' "$out"
[ "$(field errors "$out")" = 0 ] || { show_logs; fail "DISCARD ALL: a client saw an error"; }
[ "$(field leaks "$out")" = 0 ] || { show_logs; fail "DISCARD ALL: a session-level token reached another client"; }
[ "$(field transactions "$out")" -ge 200 ] || fail "DISCARD ALL: too few transactions to mean anything"
[ "$(field anonymous "$out")" -ge 100 ] || fail "DISCARD ALL: too few tokenless queries to mean anything"
echo "control with DISCARD ALL after every transaction: no leak"

# PgBouncer (the first config) keeps the leaked session settings on its server connections: it
# was stopped and its server connections ended; start afresh
start_bouncer "$work/pgbouncer.ini"

# ---- 4. the FastAPI example behind PgBouncer, under concurrent HTTP load
(cd "$HERE/examples/apps/fastapi" &&
	NOTES_DATABASE_URL="$CONNINFO" NOTES_ADMIN_DATABASE_URL="$CONNINFO" NOTES_OUTBOX="$work/outbox" \
		exec setsid runuser -u "$NL_PG_USER" -- $PY -m uvicorn app:app --host 127.0.0.1 --port "$APP_PORT") \
	>"$work/app.log" 2>&1 </dev/null 7>&- 8>&- &
app=$!
nl_on_exit "kill -- -$app 2>/dev/null"
for ((i = 0; i < 150; i++)); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT/me")" = 401 ] && break
	sleep 0.2
done
[ "$i" -lt 150 ] || { show_logs; fail "the FastAPI app did not start"; }
out=$($PY "$HERE/test/scripts/pgbouncer_pooling.py" --http "http://127.0.0.1:$APP_PORT" "$SECONDS_RUN")
printf '%s\n' "$out"
[ "$(field errors "$out")" = 0 ] || { show_logs; fail "FastAPI behind PgBouncer: errors"; }
[ "$(field leaks "$out")" = 0 ] || { show_logs; fail "FastAPI behind PgBouncer: a tenant saw another's rows"; }
[ "$(field transactions "$out")" -ge 50 ] || { show_logs; fail "FastAPI behind PgBouncer: too few requests"; }
echo "pgbouncer pooling: no leak with set_config(..., true), leaks seen with a session-level token, none with DISCARD ALL"
