#!/usr/bin/env bash
# test/demo.sh -- the main job, end to end: build and install nicelogin, start a throwaway
# PostgreSQL, load the fixture key set, verify a few tokens, then show row-level security giving
# each company only its own invoices.
#
#   bash test/demo.sh          run the demo, then stop and remove the cluster
#   bash test/demo.sh --keep   leave the cluster running and print how to connect
#
# Run as root from any folder (it installs packages and the extension; PostgreSQL runs as
# postgres).  The cluster lives in $NICELOGIN_DEMO_DIR (default /tmp/nicelogin-demo), port 5498
# (NICELOGIN_DEMO_PORT), database nicelogin_demo; a rerun replaces it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) nl_die "unknown option: $arg (try --help)" ;;
	esac
done

DEMO_DIR=${NICELOGIN_DEMO_DIR:-/tmp/nicelogin-demo}
DEMO_PORT=${NICELOGIN_DEMO_PORT:-5498}
DB=nicelogin_demo
ALICE_COMPANY=aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa
BOB_COMPANY=bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb

nl_heading "1. dependencies"
nl_install_deps

nl_heading "2. build and install"
nl_stage_tree
rc=0
nl_build_install "$NL_STAGE" "$NL_STAGE/build.log" || rc=$?
case $rc in
0) ;;
2) echo "(the build printed warnings; the demo goes on, test/run-tests.sh would fail)" ;;
*) nl_die "the build failed; see $NL_STAGE/build.log" ;;
esac
FIXTURES=$NL_STAGE/test/fixtures
[ -f "$FIXTURES/jwks.json" ] || nl_die "missing $FIXTURES/jwks.json (run test/gen_fixtures.py)"
[ -f "$FIXTURES/tokens.json" ] || nl_die "missing $FIXTURES/tokens.json (run test/gen_fixtures.py)"

nl_heading "3. a throwaway cluster"
if [ "$KEEP" = 1 ]; then
	NL_KEEP_CLUSTER=1
else
	nl_on_exit "rm -rf '$DEMO_DIR'"
fi
nl_start_cluster "$DEMO_DIR" "$DEMO_PORT" 127.0.0.1
export PGDATABASE=$DB
psql -X -q -d postgres -c "CREATE DATABASE $DB"

# psql -X, quiet, stop on the first error, with the fixture tokens as variables tok_<name>.
TOKEN_NAMES=(rs256 expired alg_none rs256_bad_sig hs256_confusion_pem unknown_kid bob)
PSQL_VARS=()
while IFS=$'\t' read -r name value; do
	[ -n "$value" ] || echo "(no fixture token \"$name\" in tokens.json: using '')"
	PSQL_VARS+=(-v "tok_$name=$value")
done < <(python3 - "$FIXTURES/tokens.json" "${TOKEN_NAMES[@]}" <<'EOF'
# Print "name<TAB>token" for each name asked; tokens.json maps names to a token string or to an
# object holding it ("token", "jwt" or "value"), possibly under a top-level "tokens" member.
import json, sys
data = json.load(open(sys.argv[1]))
if isinstance(data, dict) and isinstance(data.get("tokens"), (dict, list)):
    data = data["tokens"]
if isinstance(data, list):
    data = {e.get("name"): e for e in data if isinstance(e, dict)}
for name in sys.argv[2:]:
    v = data.get(name, "")
    if isinstance(v, dict):
        v = v.get("token") or v.get("jwt") or v.get("value") or ""
    print("%s\t%s" % (name, v if isinstance(v, str) else ""))
EOF
)
demo_psql() { psql -X -q -v ON_ERROR_STOP=1 --pset=null='(null)' "${PSQL_VARS[@]}" "$@"; }

nl_heading "4. the extension and the key set"
demo_psql -v jwks="$(cat "$FIXTURES/jwks.json")" <<'SQL'
CREATE EXTENSION nicelogin;
\echo SELECT nicelogin_set_jwks(<test/fixtures/jwks.json>);
SELECT nicelogin_set_jwks(:'jwks'::jsonb) AS keys_stored;
SELECT kid, kty, alg, use FROM nicelogin_key_list ORDER BY kid;
SQL

nl_heading "5. verifying fixture tokens"
demo_psql <<'SQL'
\echo nicelogin_check(token) says valid or why a token is refused;
\echo nicelogin_claims(token) returns the payload of a valid token, else NULL.
SELECT t.fixture,
       nicelogin_check(t.token)                      AS nicelogin_check,
       nicelogin_claims(t.token) ->> 'email'         AS "nicelogin_claims ->> 'email'",
       nicelogin_claims(t.token) ->> 'company_id'    AS "nicelogin_claims ->> 'company_id'"
FROM (VALUES ('rs256 (alice)',        :'tok_rs256'),
             ('bob',                  :'tok_bob'),
             ('expired',              :'tok_expired'),
             ('alg_none',             :'tok_alg_none'),
             ('rs256_bad_sig',        :'tok_rs256_bad_sig'),
             ('hs256_confusion_pem',  :'tok_hs256_confusion_pem'),
             ('unknown_kid',          :'tok_unknown_kid')) AS t(fixture, token);
\echo 'All the claims of the rs256 token (alice):'
SELECT jsonb_pretty(nicelogin_claims(:'tok_rs256')) AS nicelogin_claims;
SQL

nl_heading "6. row-level security: one database, two companies"
# examples/multitenant.sql: companies, users, invoices; RLS policies on
# company_id = nicelogin_company_id() for the role app.
[ -f "$NL_STAGE/examples/multitenant.sql" ] || nl_die "missing examples/multitenant.sql"
echo "loading examples/multitenant.sql"
PGOPTIONS="-c client_min_messages=warning" demo_psql -f "$NL_STAGE/examples/multitenant.sql" >/dev/null

demo_psql -v alice_co="$ALICE_COMPANY" -v bob_co="$BOB_COMPANY" <<'SQL'
\echo Sample rows: two companies, their users (from the token claims), five invoices.
INSERT INTO companies (id, name) VALUES (:'alice_co', 'Acme'), (:'bob_co', 'Globex');
INSERT INTO users (id, company_id, email)
SELECT (c ->> 'sub')::uuid, (c ->> 'company_id')::uuid, c ->> 'email'
FROM (VALUES (nicelogin_claims(:'tok_rs256')), (nicelogin_claims(:'tok_bob'))) AS t(c);
INSERT INTO invoices (company_id, customer, amount) VALUES
    (:'alice_co', 'Initech',       120.00),
    (:'alice_co', 'Umbrella',       75.50),
    (:'bob_co',   'Hooli',         990.00),
    (:'bob_co',   'Vandelay',       12.00),
    (:'bob_co',   'Wonka',          42.00);
\echo
\echo All invoices, as the superuser (RLS does not apply to it):
SELECT * FROM invoices ORDER BY id;

SQL

show_as_app() {
	local title=$1 var=$2
	echo
	echo "--- as role app, $title ---"
	if [ -n "$var" ]; then
		echo "BEGIN; SET LOCAL ROLE app; SET LOCAL nicelogin.token = '<$var>'; SELECT * FROM invoices; COMMIT;"
		demo_psql <<SQL
BEGIN;
SET LOCAL ROLE app;
SET LOCAL nicelogin.token = :'$var';
SELECT nicelogin_check(nicelogin_token()) AS token_check, nicelogin_email() AS email,
       nicelogin_company_id() AS company_id;
SELECT * FROM invoices ORDER BY 1;
COMMIT;
SQL
	else
		echo "BEGIN; SET LOCAL ROLE app; SELECT * FROM invoices; COMMIT;"
		demo_psql <<'SQL'
BEGIN;
SET LOCAL ROLE app;
SELECT nicelogin_company_id() AS company_id;
SELECT * FROM invoices ORDER BY 1;
COMMIT;
SQL
	fi
}
show_as_app "with alice's token (fixture rs256): only her company's invoices" tok_rs256
show_as_app "with bob's token (fixture bob): only his company's invoices" tok_bob
show_as_app "with a forged token (fixture rs256_bad_sig): nothing" tok_rs256_bad_sig
show_as_app "with no token: nothing" ""

nl_heading "done"
if [ "$KEEP" = 1 ]; then
	cat <<EOF
The cluster keeps running (data in $DEMO_DIR/data, log in $DEMO_DIR/postgres.log):
    psql -h 127.0.0.1 -p $DEMO_PORT -U postgres $DB
Stop it with:
    runuser -u postgres -- $NL_PGBIN/pg_ctl -D $DEMO_DIR/data stop
(or run test/demo.sh again, which replaces it)
EOF
else
	echo "stopping the cluster (use --keep to leave it running)"
fi
