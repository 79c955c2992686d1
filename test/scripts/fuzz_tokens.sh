#!/usr/bin/env bash
# test/scripts/fuzz_tokens.sh -- mutated tokens never make a verification function (or
# nicelogin_revoke_token) raise, and no mutation of a valid token verifies or gets revoked
# (test/fuzz/mutate_tokens.sql).  NL_FUZZ_ROUNDS mutations per seed token (8 seeds; default 2000).
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DB=nl_fuzz
ROUNDS=${NL_FUZZ_ROUNDS:-2000}
psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

psql_pg -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"
psql_pg -d "$DB" -c "CREATE EXTENSION nicelogin" -c "CREATE EXTENSION pgcrypto"

# from the repo root, whose test/fixtures/tokens.sql the script reads (nl_as_pg would cd to /)
as_pg_here() { if [ "$(id -u)" = 0 ]; then runuser -u "$NL_PG_USER" -- "$@"; else "$@"; fi; }
out=$(as_pg_here psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB" -v rounds="$ROUNDS" -f test/fuzz/mutate_tokens.sql)
printf '%s\n' "$out"
forged=$(printf '%s\n' "$out" | tail -n 1)
[ "$forged" = 0 ] || { echo "FAILED: $forged mutated tokens verified" >&2; exit 1; }
echo "fuzz: $((ROUNDS * 8)) mutated tokens, no error, none verified"
