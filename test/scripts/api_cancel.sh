#!/usr/bin/env bash
# test/scripts/api_cancel.sh -- a NiceLogin API call that hangs is stopped at once by a query
# cancel from another session (pg_cancel_backend: SQLSTATE 57014) and by a backend termination
# (pg_terminate_backend), each within a second; then the stand-in server's own wire rules.
#
# Run by test/run-tests.sh (see test/scripts/README.md): PGHOST/PGPORT/PGUSER point at the
# suite's cluster, NICELOGIN_API_URL at the stand-in server, the working folder is the staged
# repo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

API=${NICELOGIN_API_URL:-http://127.0.0.1:18089}
export NICELOGIN_API_URL=$API
DB=nl_api_cancel
CTL="python3 $PWD/test/nicelogin_ctl.py"

psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

psql_pg -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "$CTL mode normal >/dev/null 2>&1; nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"
psql_pg -d "$DB" -c "CREATE EXTENSION nicelogin"

now() { date +%s.%N; }

# hung_call NAME LOG: in the background, a session named NAME calls nicelogin_refresh_jwks()
# against the hanging server; its output goes to LOG, the time it ended to LOG.end.
hung_call() {
	local name=$1 log=$2
	: >"$log"
	chmod 666 "$log"
	(
		nl_as_pg env PGAPPNAME="$name" psql -X -q -d "$DB" \
			-c "SET nicelogin.base_url = '$API'" \
			-c "SET nicelogin.api_key = 'test-api-key'" \
			-c "SELECT nicelogin_refresh_jwks()" >>"$log" 2>&1 || true
		now >"$log.end"
	) &
	BG=$!
}

# The pid of session NAME once it has been waiting in the API call for a while.
wait_active() {
	local name=$1 pid="" i
	for ((i = 0; i < 100; i++)); do
		pid=$(psql_pg -d postgres -c "SELECT pid FROM pg_stat_activity
			WHERE application_name = '$name' AND state = 'active'
			  AND query LIKE '%nicelogin_refresh_jwks%'")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || fail "session $name never started its API call"
	sleep 0.5
	# still there: the request really hangs
	[ -n "$(psql_pg -d postgres -c "SELECT pid FROM pg_stat_activity WHERE pid = $pid AND state = 'active'")" ] ||
		fail "session $name finished before it was interrupted"
	echo "$pid"
}

# check_quick T0 LOG WHAT: the session ended less than a second after T0.
check_quick() {
	local t0=$1 log=$2 what=$3 t1 ms
	t1=$(cat "$log.end")
	ms=$(python3 -c "print(int((float('$t1') - float('$t0')) * 1000))")
	echo "$what: the call ended $ms ms after the signal"
	[ "$ms" -lt 1000 ] || fail "$what took $ms ms"
}

$CTL reset
$CTL mode hang

echo "== query cancel (pg_cancel_backend)"
LOG=$(mktemp /tmp/nl-api-cancel.XXXXXX)
nl_on_exit "rm -f '$LOG' '$LOG.end'"
hung_call nl_cancel_test "$LOG"
pid=$(wait_active nl_cancel_test)
t0=$(now)
[ "$(psql_pg -d postgres -c "SELECT pg_cancel_backend($pid)")" = t ] || fail "pg_cancel_backend"
wait "$BG"
cat "$LOG"
check_quick "$t0" "$LOG" "cancel"
grep -q 'ERROR:  canceling statement due to user request' "$LOG" || fail "no cancel error"

echo "== backend termination (pg_terminate_backend)"
hung_call nl_terminate_test "$LOG"
pid=$(wait_active nl_terminate_test)
t0=$(now)
[ "$(psql_pg -d postgres -c "SELECT pg_terminate_backend($pid)")" = t ] || fail "pg_terminate_backend"
wait "$BG"
cat "$LOG"
check_quick "$t0" "$LOG" "terminate"
grep -q 'terminating connection due to administrator command' "$LOG" || fail "no termination message"
for ((i = 0; i < 50; i++)); do
	[ -z "$(psql_pg -d postgres -c "SELECT pid FROM pg_stat_activity WHERE pid = $pid")" ] && break
	sleep 0.1
done
[ -z "$(psql_pg -d postgres -c "SELECT pid FROM pg_stat_activity WHERE pid = $pid")" ] ||
	fail "backend $pid still there"

$CTL mode normal

echo "== the stand-in server's wire rules"
python3 - "$API" <<'EOF'
import json, sys, urllib.error, urllib.request

base = sys.argv[1].rstrip("/")


def call(method, path, body=None, ctype="application/json", raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": ctype} if ctype else {}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def expect(got, status, what):
    if got[0] != status:
        sys.exit("FAILED: %s: expected %d, got %r" % (what, status, got))
    print("ok  %-40s %d %.70s" % (what, got[0], got[1]))


alice = {"email": "alice@acme.example", "api_key": "test-api-key"}
expect(call("POST", "/request_password_reset", alice, ctype="text/plain"), 415, "wrong Content-Type")
expect(call("POST", "/request_password_reset", alice, ctype=None), 415, "no Content-Type")
expect(call("GET", "/request_password_reset"), 405, "wrong method")
expect(call("POST", "/request_password_reset", raw=b"{not json"), 400, "body not JSON")
expect(call("POST", "/request_password_reset", raw=b"[1]"), 400, "body not an object")
expect(call("POST", "/request_password_reset", {"email": "alice@acme.example"}), 400, "missing api_key")
expect(call("POST", "/request_password_reset", dict(alice, api_key="x")), 401, "wrong api_key")
expect(call("POST", "/request_password_reset", dict(alice, email="nope")), 400, "bad email")
expect(call("POST", "/request_password_reset", dict(alice, email="x@y.example")), 404, "unknown email")
st, tok = call("POST", "/request_password_reset", alice)
expect((st, tok), 200, "reset token")
token = tok["reset_token"]
reset = dict(alice, current_password="Correct-Horse-1", new_password="Brand-New-Pass-1",
             confirm_password="Brand-New-Pass-1", reset_token=token)
expect(call("POST", "/reset_password", dict(reset, confirm_password="other-one-1")), 400, "confirmation mismatch")
expect(call("POST", "/reset_password", dict(reset, new_password="short", confirm_password="short")), 400, "weak password")
expect(call("POST", "/reset_password", dict(reset, current_password="wrong")), 401, "wrong password")
expect(call("POST", "/reset_password", dict(reset, reset_token="forged")), 401, "forged token")
expect(call("POST", "/reset_password", reset), 200, "reset")
expect(call("POST", "/reset_password", reset), 401, "token is single-use")
toggle = {"api_secret": "test-api-secret", "user_id": "22222222-2222-4222-8222-222222222222", "is_active": False}
expect(call("POST", "/toggle_user_status", toggle), 405, "toggle needs PATCH")
expect(call("PATCH", "/toggle_user_status", dict(toggle, api_secret="x")), 401, "wrong api_secret")
expect(call("PATCH", "/toggle_user_status", dict(toggle, user_id="bob")), 400, "user_id not a uuid")
expect(call("PATCH", "/toggle_user_status", dict(toggle, is_active="no")), 400, "is_active not a boolean")
expect(call("PATCH", "/toggle_user_status", dict(toggle, user_id="44444444-4444-4444-8444-444444444444")), 404, "unknown user")
st, ans = call("PATCH", "/toggle_user_status", toggle)
expect((st, ans), 200, "deactivate")
assert ans["is_active"] is False, ans
expect(call("GET", "/.well-known/jwks/test-api-key"), 200, "JWKS")
expect(call("GET", "/.well-known/jwks/test%2Dapi%2Dkey"), 200, "JWKS, escaped key")
expect(call("GET", "/.well-known/jwks/other-key"), 404, "JWKS of another key")
expect(call("GET", "/nothing-here"), 404, "unknown path")
users = {u["email"]: u for u in call("GET", "/_control/users")[1]}
assert users["alice@acme.example"]["password"] == "Brand-New-Pass-1", users
assert users["bob@globex.example"]["is_active"] is False, users
expect(call("POST", "/_control/reset", {}), 200, "reset control")
users = {u["email"]: u for u in call("GET", "/_control/users")[1]}
assert users["alice@acme.example"]["password"] == "Correct-Horse-1", users
assert users["bob@globex.example"]["is_active"] is True, users
assert call("GET", "/_control/requests")[1] == [], "reset clears the request log"
EOF

echo "all passed"
