#!/usr/bin/env bash
# test/scripts/jose_interop.sh -- nicelogin_test's keys and tokens against an independent JOSE
# implementation, node's `jose` (test/interop/), for every algorithm nicelogin verifies, in all
# four directions:
#   1. nicelogin_test's key, nicelogin_test signs  -> jose verifies (with public_jwk());
#   2. jose's key, jose signs                      -> nicelogin verifies (jose's public JWK stored);
#   3. nicelogin_test's private JWK, jose signs    -> nicelogin verifies (public_jwk() stored);
#   4. jose's private JWK, nicelogin_test signs    -> jose verifies (with jose's public JWK).
# Every token is also checked with one signature character changed: both sides must refuse it.
#
# Needs node (20 or later) and npm; `npm ci` installs test/interop/node_modules from its
# package-lock.json when it is missing (network needed then).  Without node the script fails.
# It runs on the host's major only (the nl-run line): the signing and verifying code is the same
# on every major, and sql/nicelogin_test.sql tests nicelogin_test itself on each.
#
# Run by test/run-tests.sh (see test/scripts/README.md).
# nl-run: host-major
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DB=nl_jose_interop
INTEROP=$NL_REPO/test/interop
ALGS="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA HS256 HS384 HS512"
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if [ -n "${NL_IN_CHROOT:-}" ]; then
		printf '%s\n' '########################################################################' \
			"# SKIP jose_interop: no node/npm in the $NL_IN_CHROOT chroot (PostgreSQL $NL_PG_MAJOR)." \
			'# The interop test runs on the host (PostgreSQL 15), where node is required.' \
			'########################################################################'
		exit 0
	fi
	fail "node and npm are needed (apt-get install nodejs npm, or node 18+ from nodejs.org)"
fi
if [ ! -f "$INTEROP/node_modules/jose/package.json" ]; then
	nl_log "installing jose into $INTEROP/node_modules (npm ci)"
	(cd "$INTEROP" && npm ci --no-audit --no-fund --loglevel=error) ||
		fail "npm ci failed in $INTEROP (is the npm registry reachable?)"
fi
nl_log "node $(node --version), jose $(node -p "require('$INTEROP/node_modules/jose/package.json').version")"

work=$(mktemp -d /tmp/nicelogin-jose.XXXXXX)
chmod 755 "$work"
nl_on_exit "rm -rf '$work'"
psql_pg() { nl_as_pg psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB" "$@"; }

nl_as_pg psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
nl_on_exit "nl_as_pg psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"

# --- nicelogin_test's keys, and its tokens (direction 1)
psql_pg -v algs="$ALGS" >"$work/pg_keys.json" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nicelogin;
CREATE EXTENSION nicelogin_test;
CREATE TABLE claims AS SELECT jsonb_build_object(
    'sub', '11111111-1111-4111-8111-111111111111', 'company_id', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'iss', 'nicelogin-interop', 'iat', extract(epoch FROM now())::bigint,
    'exp', extract(epoch FROM now())::bigint + 600) AS c;
CREATE TABLE pg_keys AS
  SELECT alg, ord, nicelogin_test.generate_key(alg, 'pg-' || alg) AS jwk
    FROM unnest(string_to_array(:'algs', ' ')) WITH ORDINALITY AS a(alg, ord);
SELECT jsonb_agg(jsonb_build_object('alg', alg, 'private_jwk', jwk) ORDER BY ord) FROM pg_keys;
SQL

# --- jose's keys and tokens (direction 2), and jose signing with nicelogin_test's keys (3)
(cd "$INTEROP" && node jose_interop.mjs make "$work/pg_keys.json") >"$work/jose.json" ||
	fail "jose could not make its keys and tokens"

# --- nicelogin verifies directions 2 and 3; nicelogin_test signs with jose's keys (4)
results="$(psql_pg -v jose="$(cat "$work/jose.json")" <<'SQL'
CREATE TABLE jose AS
  SELECT j->>'alg' AS alg, j->'private_jwk' AS private_jwk, j->'public_jwk' AS public_jwk,
         j->>'token' AS token, j->>'token_with_pg_key' AS token_with_pg_key
    FROM jsonb_array_elements(:'jose'::jsonb) j;
CREATE TABLE results (alg text, direction text, result text, tampered text);
CREATE FUNCTION tamper(t text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN overlay(t placing CASE WHEN substr(t, length(t) - 4, 1) = 'A' THEN 'B' ELSE 'A' END
               from length(t) - 4 for 1);
\set ECHO none
SELECT format($$SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(public_jwk)))
                  FROM jose WHERE alg = %1$L$$, alg),
       format($$INSERT INTO results SELECT alg, '2 jose key, jose signs, nicelogin verifies',
                       nicelogin_check(token), nicelogin_check(tamper(token)) FROM jose WHERE alg = %1$L$$, alg),
       format($$SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(nicelogin_test.public_jwk(jwk))))
                  FROM pg_keys WHERE alg = %1$L$$, alg),
       format($$INSERT INTO results SELECT alg, '3 nicelogin_test key, jose signs, nicelogin verifies',
                       nicelogin_check(token_with_pg_key), nicelogin_check(tamper(token_with_pg_key))
                  FROM jose WHERE alg = %1$L$$, alg)
  FROM jose
\gexec
SELECT alg || '|' || direction || '|' || result || '|' || tampered FROM results ORDER BY direction, alg;
SQL
)" || fail "psql failed"
# only the result rows (nicelogin_set_jwks prints its key count)
results=$(grep '|' <<<"$results" || true)

# --- the tokens for jose to verify: directions 1 and 4
psql_pg >"$work/pg_tokens.json" <<'SQL'
SELECT jsonb_agg(t ORDER BY t->>'name') FROM (
  SELECT jsonb_build_object('name', '1 nicelogin_test key, nicelogin_test signs, jose verifies ' || alg,
                            'alg', alg, 'token', nicelogin_test.sign(c, jwk),
                            'public_jwk', nicelogin_test.public_jwk(jwk)) AS t
    FROM pg_keys, claims
  UNION ALL
  SELECT jsonb_build_object('name', '4 jose key, nicelogin_test signs, jose verifies ' || alg,
                            'alg', alg, 'token', nicelogin_test.sign(c, private_jwk), 'public_jwk', public_jwk)
    FROM jose, claims) s;
SQL

bad=0
printf '%s\n' "$results" | while IFS='|' read -r alg direction result tampered; do
	printf '%-7s %-6s %s (changed signature: %s)\n' "$([ "$result" = valid ] && [ "$tampered" = bad_signature ] && echo ok || echo FAILED)" "$alg" "$direction" "$tampered"
done
n_ok=$(printf '%s\n' "$results" | awk -F'|' '$3 == "valid" && $4 == "bad_signature"' | wc -l)
n_all=$(printf '%s\n' "$results" | grep -c '|' || true)
expected=$(($(wc -w <<<"$ALGS") * 2))
echo "nicelogin: $n_ok of $n_all tokens valid, and refused with a changed signature (expected $expected)"
[ "$n_ok" -eq "$expected" ] && [ "$n_all" -eq "$expected" ] || bad=1

(cd "$INTEROP" && node jose_interop.mjs verify "$work/pg_tokens.json") || bad=1
n_jose=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$work/pg_tokens.json')).length)")
[ "$n_jose" -eq "$expected" ] || { echo "jose got $n_jose tokens, expected $expected"; bad=1; }

[ "$bad" -eq 0 ] || fail "see the FAILED lines above"
echo "all $((expected * 2)) interop checks passed ($(wc -w <<<"$ALGS") algorithms, 4 directions)"
