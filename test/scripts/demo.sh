#!/usr/bin/env bash
# test/scripts/demo.sh -- the README's first quick-start command, test/demo.sh, runs to the end
# and shows what it says it shows: the verdicts of the test tokens, each company's own invoices
# only, the refused write into another company, the deactivated user and the logged-out session
# refused at once; and that the setup it prints at the end (nicelogin in schema nicelogin, the
# keys, examples/multitenant.sql, the grant), copied as it is into a new database of the suite's
# cluster, runs and gives each tenant its own rows, with policies in the InitPlan form.
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

dir=$(mktemp -d /tmp/nicelogin-demo-test.XXXXXX)
chmod 755 "$dir"   # test/demo.sh makes the cluster below it, as postgres
nl_on_exit "rm -rf '$dir'"
out=$dir/demo.out
rc=0
NICELOGIN_DEMO_DIR=$dir/cluster NICELOGIN_DEMO_PORT=5497 NICELOGIN_DEMO_API_PORT=18087 \
	bash test/demo.sh >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || { echo "FAILED: test/demo.sh exited with $rc"; exit 1; }

expect() {
	grep -qE -- "$1" "$out" || { echo "FAILED: the demo's output lacks: $2"; exit 1; }
}
expect '^ Alice at Acme +\| valid +\| alice@acme\.example' "Alice's token valid"
expect "^ Alice's, expired +\| expired " "the expired token refused as expired"
expect '^ unsigned \(alg: none\) +\| unsupported_alg' "alg: none refused"
expect "^ Alice's, signature tampered +\| bad_signature" "the tampered token refused"
expect '^  2 \| aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa \| Umbrella' "Alice's invoices"
expect '^ \(2 rows\)|^\(2 rows\)' "two rows for Alice"
expect '^\(3 rows\)' "three rows for Bob"
expect '^\(0 rows\)' "no rows for the tampered token"
expect 'new row violates row-level security policy for table "invoices"' "the refused cross-tenant insert"
expect '^ user_deactivated +\| +0$' "Carol refused after her deactivation"
expect '^ revoked +\| valid$' "Bob's session revoked, Alice still valid"
expect '^Next steps:' "the next steps"
expect '^    CREATE EXTENSION nicelogin SCHEMA nicelogin;$' "the install into schema nicelogin"
expect '^    \\i examples/multitenant\.sql$' "examples/multitenant.sql, loaded visibly"
# Bob's invoices are never shown with Alice's token, and the other way round
awk "/with :'alice'/,/with :'bob'/" "$out" | grep -q 'Hooli' && { echo "FAILED: Alice saw Globex's invoice"; exit 1; }
awk "/with :'bob'/,/with :'tampered'/" "$out" | grep -q 'Initech' && { echo "FAILED: Bob saw Acme's invoice"; exit 1; }

# the setup it printed, copied into a new database of the suite's cluster
setup=$(sed -n '/^----- 8< -----$/,/^----- >8 -----$/p' "$out" | sed '1d;$d')
[ -n "$setup" ] || { echo "FAILED: the demo printed no setup between its 8< and >8 lines"; exit 1; }
for stmt in 'CREATE SCHEMA nicelogin;' 'CREATE EXTENSION nicelogin SCHEMA nicelogin;' \
	"SELECT nicelogin.nicelogin_set_jwks(:'jwks')" 'GRANT USAGE ON SCHEMA nicelogin TO app;' \
	'USING (company_id = (SELECT nicelogin.nicelogin_company_id()))' \
	'GRANT EXECUTE ON FUNCTION nicelogin.nicelogin_revoke_current_session() TO app;'; do
	grep -qF -- "$stmt" <<<"$setup" || { echo "FAILED: the printed setup lacks: $stmt"; exit 1; }
done
DB=nl_demo_setup
nl_as_pg psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"
printf '%s\n' "$setup" | nl_as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" -f - \
	-v jwks="$(cat test/fixtures/jwks.json)" >"$dir/setup.out" 2>&1 ||
	{ cat "$dir/setup.out"; echo "FAILED: the printed setup does not run as copied"; exit 1; }
tokens=test/fixtures/tokens.json
token() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tokens" "$1"; }
got=$(nl_as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -v alice="$(token rs256)" -v bob="$(token bob)" <<'EOF'
INSERT INTO companies VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Acme'), ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Globex');
INSERT INTO invoices (company_id, customer, amount) VALUES
    ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Initech', 1), ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Hooli', 2);
SELECT 'schema=' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'nicelogin';
BEGIN;
SET LOCAL ROLE app;
SET LOCAL nicelogin.token = :'alice';
SELECT 'alice=' || string_agg(customer, ',') FROM invoices;
COMMIT;
BEGIN;
SET LOCAL ROLE app;
SET LOCAL nicelogin.token = :'bob';
SELECT 'bob=' || string_agg(customer, ',') FROM invoices;
SELECT 'logout=' || has_function_privilege('nicelogin.nicelogin_revoke_current_session()', 'EXECUTE');
COMMIT;
BEGIN;
SET LOCAL ROLE app;
SELECT 'none=' || count(*) FROM invoices;
COMMIT;
EOF
) || { echo "FAILED: the tenants' queries on the printed setup failed: $got"; exit 1; }
want=$'schema=nicelogin\nalice=Initech\nbob=Hooli\nlogout=true\nnone=0'
[ "$got" = "$want" ] || { printf 'FAILED: on the printed setup, got:\n%s\nwant:\n%s\n' "$got" "$want"; exit 1; }
echo "demo: ok (its printed setup runs as copied)"
