#!/usr/bin/env bash
# test/scripts/revocation_churn.sh -- verification under constant change of the revocation and
# key tables: 4 pgbench clients verify tokens through an RLS policy for 8 s while another session
# commits revocations and unrevocations and runs ANALYZE on the extension's tables (invalidations
# arriving at any point of a lookup).  No transaction may fail, and afterwards every token has
# the verdict its rows say.  A stress test, not a timed one.
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DB=nl_revocation_churn
SECONDS_RUN=${NL_CHURN_SECONDS:-8}
psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

psql_pg -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"

# from the repo root, whose test/fixtures/tokens.sql the SQL reads (nl_as_pg would cd to /)
as_pg_here() { if [ "$(id -u)" = 0 ]; then runuser -u "$NL_PG_USER" -- "$@"; else "$@"; fi; }
as_pg_here psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB" <<'SQL'
\set ECHO none
\i test/fixtures/tokens.sql
CREATE EXTENSION nicelogin;
SELECT nicelogin_set_jwks(:'jwks');
CREATE TABLE toks (i int PRIMARY KEY, t text NOT NULL, jti text NOT NULL);
INSERT INTO toks VALUES (0, :'rs256', 'jti-alice-1'), (1, :'bob', 'jti-bob-1'),
                        (2, :'alice2', 'jti-carol-1'), (3, :'no_sid', 'jti-nosid-1');
CREATE TABLE docs AS SELECT g AS id, (ARRAY['aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'])[1 + g % 2]::uuid AS company_id FROM generate_series(1, 2000) g;
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE ROLE churn_app NOLOGIN;
CREATE POLICY tenant ON docs TO churn_app USING (company_id = nicelogin_company_id());
GRANT SELECT ON docs, toks TO churn_app;
INSERT INTO nicelogin_revocations (kind, value, expires_at)
    SELECT k, k || '-other-' || g, now() + interval '1 day'
      FROM generate_series(1, 10000) g, (VALUES ('jti'), ('sid')) v(k);
SQL

script=$(mktemp /tmp/nicelogin-churn.XXXXXX.sql)
chmod 644 "$script"
nl_on_exit "rm -f '$script'"
cat >"$script" <<'EOF2'
\set i random(0, 3)
BEGIN;
SET LOCAL ROLE churn_app;
SELECT set_config('nicelogin.token', (SELECT t FROM toks WHERE i = :i), true);
SELECT count(*) FROM docs;
SELECT nicelogin_check(t) FROM toks WHERE i = :i;
COMMIT;
EOF2

# the churn: revoke and unrevoke the fixture tokens' jti, ANALYZE the extension's tables
churn() {
	local end=$(($(date +%s) + SECONDS_RUN)) n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$((n + 1))
		printf "SELECT nicelogin_revoke_jti('jti-bob-1');\nDELETE FROM nicelogin_revocations WHERE value = 'jti-bob-1';\n"
		printf "SELECT nicelogin_revoke_jti('churn-%s');\n" "$n"
		[ $((n % 10)) -ne 0 ] || printf "ANALYZE nicelogin_revocations;\nANALYZE nicelogin_keys;\nANALYZE nicelogin_deactivated_users;\n"
		sleep 0.02
	done
}
churn | nl_as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null &
churn_pid=$!

out=$(nl_as_pg "$NL_PGBIN/pgbench" -n -c 4 -j 2 -T "$SECONDS_RUN" -f "$script" "$DB" 2>&1) || {
	printf '%s\n' "$out"
	fail "pgbench failed"
}
wait "$churn_pid" || fail "the churning session failed"
printf '%s\n' "$out" | grep -E '^(number of (transactions actually processed|failed transactions)|tps)' || true
if printf '%s\n' "$out" | grep -qE 'error|aborted'; then
	printf '%s\n' "$out"
	fail "a client saw an error"
fi

# afterwards: bob is valid (his jti was unrevoked last), alice revoked once revoked
verdicts=$(psql_pg -d "$DB" -c "SELECT string_agg(nicelogin_check(t), ',' ORDER BY i) FROM toks")
[ "$verdicts" = "valid,valid,valid,valid" ] || fail "verdicts after the churn: $verdicts"
psql_pg -d "$DB" -c "SELECT nicelogin_revoke_jti('jti-alice-1')"
verdicts=$(psql_pg -d "$DB" -c "SELECT string_agg(nicelogin_check(t), ',' ORDER BY i) FROM toks")
[ "$verdicts" = "revoked,valid,valid,valid" ] || fail "verdicts after revoking alice: $verdicts"
echo "revocation churn: no error, verdicts right"
