#!/usr/bin/env bash
# test/scripts/pgtap_example.sh -- runs the pgTAP example, examples/pgtap/multitenant_test.sql,
# with pg_prove, as its header says: a database with examples/multitenant.sql, pgtap and
# nicelogin_test.  Fails when pg_prove reports any failed test, a wrong plan or no test at all.
# Needs pgTAP (postgresql-MAJOR-pgtap) and pg_prove (libtap-parser-sourcehandler-pgtap-perl),
# both in test/lib.sh's NL_DEPS.  On a major for which Debian has no pgTAP package (19, a release
# candidate: test/lib.sh's NL_PGTAP_PACKAGE is empty) it prints a SKIP: line and passes.
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DB=nl_pgtap_example
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
if [ -z "$NL_PGTAP_PACKAGE" ]; then
	echo "SKIP: the pgTAP example is not run on PostgreSQL $NL_PG_MAJOR: Debian has no pgTAP package for it yet (no postgresql-$NL_PG_MAJOR-pgtap)"
	exit 0
fi
command -v pg_prove >/dev/null 2>&1 || fail "pg_prove is missing (apt-get install libtap-parser-sourcehandler-pgtap-perl)"

nl_as_pg psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"

nl_as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" \
	-f "$NL_REPO/examples/multitenant.sql" \
	-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION nicelogin_test' ||
	fail "could not set up the database (is postgresql-$NL_PG_MAJOR-pgtap installed?)"

out=$(mktemp /tmp/nicelogin-pgtap.XXXXXX.log)
nl_on_exit "rm -f '$out'"
rc=0
nl_as_pg pg_prove -v -d "$DB" "$NL_REPO/examples/pgtap/multitenant_test.sql" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || fail "pg_prove exited with status $rc"
grep -q '^Result: PASS' "$out" || fail "pg_prove did not say PASS"
planned=$(grep -Eo 'SELECT plan\([0-9]+\)' "$NL_REPO/examples/pgtap/multitenant_test.sql" | grep -Eo '[0-9]+')
passed=$(grep -cE '^ok [0-9]+ - ' "$out" || true)
[ "$passed" -eq "$planned" ] || fail "$passed tests passed, $planned planned"
echo "pgTAP example: all $passed tests passed"
