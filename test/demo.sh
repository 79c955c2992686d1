#!/usr/bin/env bash
# test/demo.sh -- the main job, end to end: build and install nicelogin, start a throwaway
# PostgreSQL and the stand-in NiceLogin API server, store the test key set, verify test tokens,
# then show row-level security giving each company only its own invoices, refusing a write into
# another company, and locking a deactivated user and a logged-out session out at once.
#
#   bash test/demo.sh          run the demo, then stop and remove the cluster
#   bash test/demo.sh --keep   leave the cluster running and print how to connect
#
# Run as root from any folder (it installs packages and the extension; PostgreSQL runs as
# postgres).  The cluster lives in $NICELOGIN_DEMO_DIR (default /tmp/nicelogin-demo), port 5498
# (NICELOGIN_DEMO_PORT), database nicelogin_demo; the stand-in API server listens on
# 127.0.0.1:18088 (NICELOGIN_DEMO_API_PORT).  A rerun replaces both.
#
# Every SQL statement printed is the text psql runs: :'alice' and the like are psql variables
# holding the test tokens (printed in full once, in step 4).  nicelogin is installed as the README
# recommends (in schema nicelogin, which a superuser owns; every function called schema-qualified),
# and the end of the output repeats the setup (schema, extension, keys, tables and policies,
# grants) as the SQL a user would copy.
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
DEMO_API_PORT=${NICELOGIN_DEMO_API_PORT:-18088}
DB=nicelogin_demo
ALICE_COMPANY=aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa
BOB_COMPANY=bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb

cat <<'EOF'
NiceLogin is an identity service: it signs JWTs for your users (claims sub = user id, email,
company_id = tenant, exp, jti, sid) and publishes its public keys as a JWKS. nicelogin, this
extension, verifies those tokens inside PostgreSQL against keys stored in a table, so that
row-level-security policies trust a request's tenant only when its token checks out.

The demo uses TEST keys and TEST tokens (test/gen_fixtures.py made them; they are not NiceLogin's)
and a stand-in for NiceLogin's admin API (test/nicelogin_server.py) on loopback.
EOF

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

nl_heading "3. a throwaway cluster and the stand-in NiceLogin API"
if [ "$KEEP" = 1 ]; then
	NL_KEEP_CLUSTER=1
else
	nl_on_exit "rm -rf '$DEMO_DIR'"
fi
nl_start_cluster "$DEMO_DIR" "$DEMO_PORT" 127.0.0.1
export PGDATABASE=$DB
psql -X -q -d postgres -c "CREATE DATABASE $DB"
if [ "$KEEP" = 1 ]; then
	echo "(the stand-in API server stops with the demo; the cluster keeps running)"
fi
nl_start_api_server "$DEMO_API_PORT" "$NL_STAGE"

# The test tokens, by what they are, as psql variables (name in test/fixtures/tokens.json).
TOKENS=(
	"alice=rs256"                      # Alice, Acme: valid (RS256)
	"carol=alice2"                     # Carol, Acme: valid
	"bob=bob"                          # Bob, Globex: valid
	"expired=expired"                  # Alice's claims, exp in the past
	"unsigned=alg_none"                # "alg": "none", no signature
	"tampered=rs256_bad_sig"           # Alice's token with one byte of the signature changed
	"key_confusion=hs256_confusion_pem" # HS256, "signed" with the RSA public key as HMAC secret
	"unknown_key=unknown_kid"          # signed by a key that is not in the stored set
)
PSQL_VARS=()
while IFS=$'\t' read -r var value; do
	[ -n "$value" ] || nl_die "no test token for :'$var' in test/fixtures/tokens.json (run test/gen_fixtures.py)"
	PSQL_VARS+=(-v "$var=$value")
done < <(python3 - "$FIXTURES/tokens.json" "${TOKENS[@]}" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
for pair in sys.argv[2:]:
    var, name = pair.split("=", 1)
    v = data.get(name, "")
    print("%s\t%s" % (var, v if isinstance(v, str) else ""))
EOF
)

# sql "TEXT": print TEXT, then run exactly that text with psql (variables are substituted by psql;
# from the staged tree, so that \i examples/... works)
sql() {
	printf '%s\n' "$1" | sed 's/^/    /'
	printf '%s\n' "$1" | (cd "$NL_STAGE" && psql -X -q -v ON_ERROR_STOP=1 --pset=null='(null)' "${PSQL_VARS[@]}" \
		-v jwks="$(cat "$FIXTURES/jwks.json")" -v api="http://127.0.0.1:$DEMO_API_PORT")
}
# setup_sql "TEXT": sql, and keep TEXT for the setup printed at the end
SETUP=""
setup_sql() {
	sql "$1"
	SETUP+="$1"$'\n'
}
# sql_fails "TEXT": the same, for a statement that must fail (its error is shown)
sql_fails() {
	printf '%s\n' "$1" | sed 's/^/    /'
	if printf '%s\n' "$1" | psql -X -q -v ON_ERROR_STOP=1 --pset=null='(null)' "${PSQL_VARS[@]}" 2>&1; then
		nl_die "that statement should have failed"
	fi
}
say() { printf '\n'; printf '%s\n' "$@"; }

nl_heading "4. the extension and the key set"
say "Install it as a superuser, in a schema of its own that only superusers can write (a" \
	"superuser's CREATE SCHEMA makes it so; CREATE EXTENSION refuses a schema others can write)," \
	"and store the key set: nicelogin_set_jwks checks every key first. Every name is schema-qualified." \
	"(:'jwks' holds test/fixtures/jwks.json; in production the refresh worker or" \
	" nicelogin.nicelogin_refresh_jwks() fetches NiceLogin's {base_url}/.well-known/jwks/{api_key}.)"
setup_sql "CREATE SCHEMA nicelogin;
CREATE EXTENSION nicelogin SCHEMA nicelogin;
SELECT nicelogin.nicelogin_set_jwks(:'jwks') AS keys_stored;"
sql "SELECT kid, kty, alg FROM nicelogin.nicelogin_key_list ORDER BY kid;"
say "Alice's token, :'alice', in full (a JWT: header.payload.signature):"
sql "\echo :alice"

nl_heading "5. verifying test tokens"
say "nicelogin_check(token) says valid or why a token is refused; nicelogin_claims(token) is the" \
	"payload of a valid token, else NULL. Verification functions never raise an error."
sql "SELECT t.token_is, nicelogin.nicelogin_check(t.token), nicelogin.nicelogin_claims(t.token) ->> 'email' AS email
FROM (VALUES ('Alice at Acme',                         :'alice'),
             ('Bob at Globex',                         :'bob'),
             ('Alice''s, expired',                     :'expired'),
             ('unsigned (alg: none)',                  :'unsigned'),
             ('Alice''s, signature tampered',          :'tampered'),
             ('HMAC with the RSA public key as secret', :'key_confusion'),
             ('signed by a key not in the set',        :'unknown_key')) AS t(token_is, token);"

nl_heading "6. row-level security: one database, two companies"
say "examples/multitenant.sql, in one transaction: the role app, which owns nothing, with USAGE on" \
	"schema nicelogin; tables companies, users and invoices; and policies for app on the function in a" \
	"scalar subquery, evaluated once per statement (an InitPlan) rather than once per row. Its RLS part:"
[ -f "$NL_STAGE/examples/multitenant.sql" ] || nl_die "missing examples/multitenant.sql"
sed -n '/^ALTER TABLE invoices ENABLE/p; /^CREATE POLICY tenant_[a-z]* ON invoices/,/;$/p' \
	"$NL_STAGE/examples/multitenant.sql" | sed 's/^/      | /'
export PGOPTIONS="-c client_min_messages=warning"   # no notices from the file's IF NOT EXISTS
sql "\\i examples/multitenant.sql"
unset PGOPTIONS
# the setup printed at the end: the file's SQL, without its comments, nor its own install lines and
# schema check (the setup printed has run them already)
SETUP+="-- examples/multitenant.sql (less its CREATE SCHEMA/EXTENSION IF NOT EXISTS, done above):"$'\n'
SETUP+="$(grep -v '^--' "$NL_STAGE/examples/multitenant.sql" | sed 's/ *-- .*$//' |
	sed '/^CREATE SCHEMA IF NOT EXISTS nicelogin;$/,/^\$\$;$/d' | cat -s | sed '1{/^$/d}')"$'\n'
sql "INSERT INTO companies (id, name) VALUES
    ('$ALICE_COMPANY', 'Acme'), ('$BOB_COMPANY', 'Globex');
INSERT INTO users (id, company_id, email)
    SELECT (c ->> 'sub')::uuid, (c ->> 'company_id')::uuid, c ->> 'email'
    FROM (VALUES (nicelogin.nicelogin_claims(:'alice')), (nicelogin.nicelogin_claims(:'carol')),
                 (nicelogin.nicelogin_claims(:'bob'))) AS t(c);
INSERT INTO invoices (company_id, customer, amount) VALUES
    ('$ALICE_COMPANY', 'Initech', 120.00), ('$ALICE_COMPANY', 'Umbrella', 75.50),
    ('$BOB_COMPANY', 'Hooli', 990.00), ('$BOB_COMPANY', 'Vandelay', 12.00), ('$BOB_COMPANY', 'Wonka', 42.00);"

say "Each request is a transaction of the role app, with the bearer token set for it alone" \
	"(an application passes it as a bind parameter: set_config('nicelogin.token', \$1, true)):"
for who in alice bob tampered; do
	say "--- as app, with :'$who' ---"
	sql "BEGIN;
SET LOCAL ROLE app;
SELECT set_config('nicelogin.token', :'$who', true) IS NOT NULL AS token_set;
SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token()), nicelogin.nicelogin_email(),
       nicelogin.nicelogin_company_id();
SELECT id, company_id, customer, amount FROM invoices ORDER BY id;
COMMIT;"
done
say "--- as app, with no token: no rows ---"
sql "BEGIN;
SET LOCAL ROLE app;
SELECT count(*) AS invoices_seen FROM invoices;
COMMIT;"

say "A write into another company is refused by the policy's WITH CHECK:"
sql_fails "BEGIN;
SET LOCAL ROLE app;
SELECT set_config('nicelogin.token', :'alice', true) IS NOT NULL AS token_set;
INSERT INTO invoices (company_id, customer, amount) VALUES ('$BOB_COMPANY', 'Sneaky', 1.00);
COMMIT;"
say "(Without a company_id the row gets Alice's own: the column defaults to nicelogin.nicelogin_company_id().)"

nl_heading "7. deactivation and logout take effect at once"
say "Deactivate Carol through NiceLogin's admin API (here the stand-in server). The call also" \
	"records her locally, so from its commit every session refuses her tokens, long before exp:"
sql "SET nicelogin.base_url = :'api';
SET nicelogin.api_secret = 'test-api-secret';   -- the demo's test secret; in production postgresql.conf
SELECT nicelogin.nicelogin_deactivate('33333333-3333-4333-8333-333333333333') AS deactivated;"
sql "BEGIN;
SET LOCAL ROLE app;
SELECT set_config('nicelogin.token', :'carol', true) IS NOT NULL AS token_set;
SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token()) AS carol, count(*) AS invoices_seen FROM invoices;
COMMIT;"

say "Bob logs out: the API revokes the session (sid) of the very token it holds, and" \
	"nothing else. GRANT EXECUTE on that one function is all the app role needs:"
setup_sql "GRANT EXECUTE ON FUNCTION nicelogin.nicelogin_revoke_current_session() TO app;"
sql "BEGIN;
SET LOCAL ROLE app;
SELECT set_config('nicelogin.token', :'bob', true) IS NOT NULL AS token_set;
SELECT nicelogin.nicelogin_revoke_current_session() AS logged_out;
COMMIT;"
sql "SELECT nicelogin.nicelogin_check(:'bob') AS bob, nicelogin.nicelogin_check(:'alice') AS alice;"

nl_heading "the setup, to copy"
cat <<'EOF'
The SQL that set this database up, as the demo ran it (psql, as a superuser, in your database).
Replace :'jwks' with NiceLogin's key set, or leave the keys to the refresh worker (README, "Keys
that rotate themselves"). The admin API calls (nicelogin.nicelogin_deactivate and the rest) also
need nicelogin.base_url, nicelogin.api_key and nicelogin.api_secret in postgresql.conf, set by a
superuser (the demo SET them in its session, with the stand-in's test values).
EOF
echo "----- 8< -----"
printf '%s' "$SETUP"
echo "----- >8 -----"

nl_heading "done"
cat <<'EOF'
Next steps:
  README.md            the quick start snippet, every function, the settings, the security model
  examples/            the same in an API: FastAPI, Flask, Django and Express apps, tested
  bash test/run-tests.sh   every test, on PostgreSQL 15, 17, 18 and 19
EOF
if [ "$KEEP" = 1 ]; then
	cat <<EOF
The cluster keeps running (data in $DEMO_DIR/data, log in $DEMO_DIR/postgres.log):
    psql -h 127.0.0.1 -p $DEMO_PORT -U postgres $DB
The test tokens, as psql variables (:'rs256' is Alice's, :'bob', :'alice2' Carol's, ...):
    \i $NL_REPO/test/fixtures/tokens.sql
Stop it with:
    runuser -u postgres -- $NL_PGBIN/pg_ctl -D $DEMO_DIR/data stop
(or run test/demo.sh again, which replaces it)
EOF
else
	echo "stopping the cluster (use --keep to leave it running)"
fi
