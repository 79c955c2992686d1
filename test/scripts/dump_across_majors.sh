#!/usr/bin/env bash
# test/scripts/dump_across_majors.sh -- a dump taken on one major restores into a later one with
# keys, deactivations and revocations intact, and tokens get the same verdicts there.
#
# On every major: a database with the fixture key set stored, a user deactivated, a jti and a sid
# revoked (picked from the fixture tokens' claims) is dumped in the custom and the plain format and
# restored into the same cluster; the copies must hold the same rows (every column), the
# invalidation triggers, and give every fixture token the same verdict.
#   NL_DUMP_EXPORT=DIR  (set by test/run-tests.sh on 15, the host's major): the dumps and what
#                       they must give (contents, verdicts, triggers, version) are left in DIR;
#   NL_DUMP_IMPORT=DIR  (set on 17, 18 and 19, pointing at a copy of that DIR): those dumps, made by
#                       15's pg_dump, are restored with this major's pg_restore and psql and must
#                       give what they gave on 15; then a deletion in each table must still reach
#                       a session's caches.
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
export PGTZ=UTC PGDATABASE=postgres
q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

MAJOR=$(q -c "SELECT current_setting('server_version_num')::int / 10000")
WORK=$(mktemp -d /tmp/nicelogin-dumpcheck.XXXXXX)
chmod 755 "$WORK"
DBS=(nl_dump_src nl_dump_dst nl_dump_plain nl_dump_from_old nl_dump_from_old_plain)
drop_all() {
	local d
	for d in "${DBS[@]}"; do
		psql -X -q -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
nl_on_exit drop_all
for d in "${DBS[@]}"; do
	q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $d"
done

# the content of the three tables, every column, in a stable order
CONTENTS_SQL="
SELECT 'k', kid, kty, alg, use, jwk::text, added_at::text FROM nicelogin_keys
UNION ALL
SELECT 'd', user_id::text, deactivated_at::text, deactivated_by::text, NULL, NULL, NULL
  FROM nicelogin_deactivated_users
UNION ALL
SELECT 'r', kind, value, expires_at::text, revoked_at::text, revoked_by::text, NULL
  FROM nicelogin_revocations
ORDER BY 1, 2, 3"
VERDICTS_SQL="SELECT name, nicelogin_check(token) FROM nl_dump_tokens ORDER BY name"
TRIGGERS_SQL="
SELECT string_agg(format('%s:%s:%s', c.relname, t.tgname, t.tgenabled), ',' ORDER BY c.relname, t.tgname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal AND c.relname LIKE 'nicelogin%'"
VERSION_SQL="SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'"

# describe DB OUTDIR: what a restored database must give
describe() {
	q -d "$1" -c "$CONTENTS_SQL" >"$2/contents.txt"
	q -d "$1" -c "$VERDICTS_SQL" >"$2/verdicts.txt"
	q -d "$1" -c "$TRIGGERS_SQL" >"$2/triggers.txt"
	q -d "$1" -c "$VERSION_SQL" >"$2/version.txt"
}

# same EXPECTED_DIR DB WHAT: DB gives what EXPECTED_DIR recorded
same() {
	local exp=$1 db=$2 what=$3 f
	mkdir -p "$WORK/got-$db"
	describe "$db" "$WORK/got-$db"
	for f in contents verdicts triggers version; do
		if ! diff -u "$exp/$f.txt" "$WORK/got-$db/$f.txt" >&2; then
			fail "$what: $f differ (above: - expected, + $db)"
		fi
	done
	echo "ok: $what: same keys, deactivations, revocations, triggers, version and $(wc -l <"$exp/verdicts.txt") verdicts"
}

# restore_custom DUMP DB / restore_plain SQL DB: into a new database, without any error or warning
restore_custom() {
	q -c "CREATE DATABASE $2"
	pg_restore --exit-on-error -d "$2" "$1" 2>"$WORK/restore.err" || { cat "$WORK/restore.err" >&2; fail "pg_restore of $1 failed"; }
	[ ! -s "$WORK/restore.err" ] || { cat "$WORK/restore.err" >&2; fail "pg_restore of $1 printed messages"; }
}
restore_plain() {
	q -c "CREATE DATABASE $2"
	psql -X -q -v ON_ERROR_STOP=1 -d "$2" -f "$1" >/dev/null 2>"$WORK/restore.err" ||
		{ cat "$WORK/restore.err" >&2; fail "psql -f $1 failed"; }
	[ ! -s "$WORK/restore.err" ] || { cat "$WORK/restore.err" >&2; fail "psql -f $1 printed messages"; }
}

# ------------------------------------------------------------------ the source database

SRC=nl_dump_src
q -c "CREATE DATABASE $SRC"
q -d $SRC -c "CREATE EXTENSION nicelogin"
# the fixture tokens travel with the dump (an ordinary table)
q -d $SRC <<'EOF' >/dev/null
\set jwks `cat test/fixtures/jwks.json`
\set tokens `cat test/fixtures/tokens.json`
SELECT nicelogin_set_jwks(:'jwks'::jsonb);
CREATE TABLE nl_dump_tokens (name text PRIMARY KEY, token text NOT NULL);
INSERT INTO nl_dump_tokens SELECT key, value FROM jsonb_each_text(:'tokens'::jsonb);
-- valid tokens and their claims; deactivate the first user with a uuid sub, revoke the jti of a
-- token of another user and the sid of a third token
CREATE TEMP TABLE valid AS
  SELECT name, nicelogin_claims(token) AS c FROM nl_dump_tokens WHERE nicelogin_check(token) = 'valid';
INSERT INTO nicelogin_deactivated_users(user_id)
  SELECT (c->>'sub')::uuid FROM valid
   WHERE c->>'sub' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
   ORDER BY name LIMIT 1;
SELECT nicelogin_revoke_jti(c->>'jti') FROM valid
 WHERE c->>'jti' IS NOT NULL
   AND c->>'sub' NOT IN (SELECT user_id::text FROM nicelogin_deactivated_users)
 ORDER BY name LIMIT 1;
SELECT nicelogin_revoke_sid(c->>'sid', '2100-01-01 00:00:00+00') FROM valid
 WHERE c->>'sid' IS NOT NULL
   AND c->>'sub' NOT IN (SELECT user_id::text FROM nicelogin_deactivated_users)
   AND c->>'jti' IS DISTINCT FROM (SELECT value FROM nicelogin_revocations WHERE kind = 'jti')
 ORDER BY name LIMIT 1;
EOF
counts=$(q -d $SRC -c "SELECT (SELECT count(*) FROM nicelogin_keys) > 0,
	(SELECT count(*) FROM nicelogin_deactivated_users), (SELECT count(*) FROM nicelogin_revocations)")
[ "$counts" = "t|1|2" ] || fail "source: expected keys, one deactivated user and two revocations, got $counts (do the fixture tokens still carry uuid subs, jti and sid?)"
mkdir -p "$WORK/src"
describe $SRC "$WORK/src"
for v in user_deactivated revoked valid; do
	grep -q "|$v\$" "$WORK/src/verdicts.txt" || fail "source: no fixture token is $v"
done
pg_dump -Fc -f "$WORK/src/src.dump" -d $SRC
pg_dump -Fp -f "$WORK/src/src.sql" -d $SRC
echo "$MAJOR" >"$WORK/src/major.txt"

# ------------------------------------------------------------------ same major

restore_custom "$WORK/src/src.dump" nl_dump_dst
same "$WORK/src" nl_dump_dst "pg_dump -Fc / pg_restore on $MAJOR"
restore_plain "$WORK/src/src.sql" nl_dump_plain
same "$WORK/src" nl_dump_plain "pg_dump -Fp / psql on $MAJOR"

if [ -n "${NL_DUMP_EXPORT:-}" ]; then
	cp "$WORK/src"/* "$NL_DUMP_EXPORT"/
	echo "ok: left the dumps of $MAJOR and what they give in $NL_DUMP_EXPORT for the later majors"
fi

# ------------------------------------------------------------------ from an earlier major

if [ -z "${NL_DUMP_IMPORT:-}" ]; then
	echo "(no dump from an earlier major given: NL_DUMP_IMPORT is set when 15 runs before this major)"
	exit 0
fi
OLD=$(cat "$NL_DUMP_IMPORT/major.txt")
[ "$OLD" -lt "$MAJOR" ] || fail "the dump to import was made on $OLD, not on an earlier major than $MAJOR"
restore_custom "$NL_DUMP_IMPORT/src.dump" nl_dump_from_old
same "$NL_DUMP_IMPORT" nl_dump_from_old "a custom dump made on $OLD, pg_restore on $MAJOR"
restore_plain "$NL_DUMP_IMPORT/src.sql" nl_dump_from_old_plain
same "$NL_DUMP_IMPORT" nl_dump_from_old_plain "a plain dump made on $OLD, psql on $MAJOR"

# The restored triggers still reach a session's caches: in one session, verdicts before and after
# deleting every deactivation and revocation and then every key.
out=$(q -d nl_dump_from_old <<'EOF'
SELECT count(*) FILTER (WHERE v IN ('user_deactivated', 'revoked')) > 0,
       count(*) FILTER (WHERE v = 'unknown_key') < count(*)
  FROM (SELECT nicelogin_check(token) AS v FROM nl_dump_tokens) s;
DELETE FROM nicelogin_deactivated_users;
DELETE FROM nicelogin_revocations;
SELECT count(*) FILTER (WHERE v IN ('user_deactivated', 'revoked'))
  FROM (SELECT nicelogin_check(token) AS v FROM nl_dump_tokens) s;
DELETE FROM nicelogin_keys;
SELECT count(*) FILTER (WHERE v = 'valid') FROM (SELECT nicelogin_check(token) AS v FROM nl_dump_tokens) s;
EOF
)
[ "$out" = "$(printf 't|t\n0\n0')" ] ||
	fail "after the restore from $OLD, deletions did not reach the session's caches: got $(tr '\n' ' ' <<<"$out")"
echo "ok: in the database restored from $OLD, deletions reach a session's warm caches"
