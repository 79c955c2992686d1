-- store: storing a key set that equals the stored one writes nothing (no new
-- row versions, no cache invalidation for other sessions); any other set
-- replaces the rows
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
\! python3 test/nicelogin_ctl.py reset
SELECT nicelogin_set_jwks(:'jwks');
CREATE TEMP TABLE before AS SELECT kid, xmin::text AS row_xmin, added_at FROM nicelogin_keys;
-- the same set again, and the same keys in another order
SELECT nicelogin_set_jwks(:'jwks');
SELECT nicelogin_set_jwks(jsonb_build_object('keys',
         (SELECT jsonb_agg(k ORDER BY k ->> 'kid' DESC) FROM jsonb_array_elements((:'jwks')::jsonb -> 'keys') k)));
SELECT count(*) AS unchanged FROM nicelogin_keys k JOIN before b USING (kid)
 WHERE k.xmin::text = b.row_xmin AND k.added_at = b.added_at;
-- no row written, so no invalidation is queued (counts taken within one
-- transaction: on PostgreSQL 15 the view also shows earlier pending counts)
BEGIN;
CREATE TEMP TABLE counts AS
    SELECT n_tup_ins, n_tup_del FROM pg_stat_xact_user_tables WHERE relname = 'nicelogin_keys';
SELECT nicelogin_set_jwks(:'jwks');
SELECT s.n_tup_ins - c.n_tup_ins AS inserted, s.n_tup_del - c.n_tup_del AS deleted
  FROM pg_stat_xact_user_tables s, counts c WHERE s.relname = 'nicelogin_keys';
COMMIT;
-- NiceLogin serving the same set: the refresh writes nothing either
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
SELECT nicelogin_refresh_jwks() AS refreshed;
SELECT count(*) AS unchanged FROM nicelogin_keys k JOIN before b USING (kid)
 WHERE k.xmin::text = b.row_xmin AND k.added_at = b.added_at;
-- a key changed (one member): the set is rewritten
SELECT nicelogin_set_jwks(jsonb_build_object('keys',
         (SELECT jsonb_agg(CASE WHEN k ->> 'kid' = 'rsa2' THEN k - 'use' ELSE k END)
            FROM jsonb_array_elements((:'jwks')::jsonb -> 'keys') k)));
SELECT count(*) AS unchanged FROM nicelogin_keys k JOIN before b USING (kid)
 WHERE k.xmin::text = b.row_xmin;
-- one key fewer: rewritten
SELECT nicelogin_set_jwks(jsonb_build_object('keys',
         (SELECT jsonb_agg(k) FROM jsonb_array_elements((:'jwks')::jsonb -> 'keys') k WHERE k ->> 'kid' <> 'ed1')));
SELECT count(*) AS stored FROM nicelogin_keys;
SELECT nicelogin_set_jwks(:'jwks');
RESET nicelogin.base_url;
RESET nicelogin.api_key;
