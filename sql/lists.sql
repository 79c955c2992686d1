-- lists: deactivations and revocations at scale.  Verification looks a token's
-- sub, jti and sid up by index (no copy of the tables in memory); a change to
-- either table makes cached answers old (looked up again), without reloading
-- the keys; a change is seen at once by the session that made it and by
-- others after commit, never after a rollback.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
SELECT nicelogin_set_jwks(:'jwks');
DELETE FROM nicelogin_revocations;
DELETE FROM nicelogin_deactivated_users;
-- 100,000 revocations of each kind and 50,000 deactivated users, none of them ours
INSERT INTO nicelogin_revocations (kind, value, expires_at)
    SELECT k, k || '-' || g, now() + interval '1 day'
      FROM generate_series(1, 100000) g, (VALUES ('jti'), ('sid')) v(k);
INSERT INTO nicelogin_deactivated_users (user_id)
    SELECT md5(g::text)::uuid FROM generate_series(1, 50000) g;
SELECT (SELECT count(*) FROM nicelogin_revocations) AS revocations,
       (SELECT count(*) FROM nicelogin_deactivated_users) AS deactivated;
SELECT nicelogin_check(:'rs256') AS alice, nicelogin_check(:'bob') AS bob;

-- the backend's memory does not grow with the tables: nothing of them is loaded
SELECT sum(total_bytes) < 256 * 1024 AS small
  FROM pg_backend_memory_contexts WHERE name LIKE 'nicelogin%';

-- a change to the lists reloads no key: within one transaction (counts taken
-- inside it: on PostgreSQL 15 the view also shows earlier pending counts), a
-- revocation and a deactivation change the answers through index lookups
-- and the key table is not read again
BEGIN;
CREATE TEMP TABLE counts ON COMMIT DROP AS
    SELECT relname, seq_scan, idx_scan FROM pg_stat_xact_user_tables
     WHERE relname IN ('nicelogin_keys', 'nicelogin_revocations', 'nicelogin_deactivated_users');
INSERT INTO nicelogin_revocations (kind, value) VALUES ('jti', 'jti-alice-1');
SELECT nicelogin_check(:'rs256') AS alice_revoked, nicelogin_check(:'bob') AS bob;
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_check(:'rs256') AS alice, nicelogin_check(:'bob') AS bob_deactivated;
SELECT s.relname, s.seq_scan - c.seq_scan AS seq_scans, s.idx_scan - c.idx_scan > 0 AS looked_up
  FROM pg_stat_xact_user_tables s JOIN counts c USING (relname) ORDER BY 1;
ROLLBACK;
-- rolled back: never seen again
SELECT nicelogin_check(:'rs256') AS alice, nicelogin_check(:'bob') AS bob;

-- revoke, unrevoke, deactivate, reactivate: each seen at the next statement
SELECT nicelogin_revoke_sid('sid-bob-1', now() + interval '1 hour');
SELECT nicelogin_check(:'bob') AS bob_session_revoked;
DELETE FROM nicelogin_revocations WHERE kind = 'sid' AND value = 'sid-bob-1';
SELECT nicelogin_check(:'bob') AS bob_unrevoked;
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT nicelogin_check(:'rs256') AS alice_deactivated, nicelogin_check(:'alice2') AS carol;
DELETE FROM nicelogin_deactivated_users WHERE user_id = '11111111-1111-4111-8111-111111111111';
SELECT nicelogin_check(:'rs256') AS alice_reactivated;
-- the RLS helpers follow too
SELECT set_config('nicelogin.token', :'bob', false) IS NOT NULL AS token_set;
SELECT nicelogin_company_id() AS company;
SELECT nicelogin_revoke_jti('jti-bob-1');
SELECT nicelogin_company_id() AS company_after_revoke;
DELETE FROM nicelogin_revocations WHERE value = 'jti-bob-1';
SELECT nicelogin_company_id() AS company_after_unrevoke;
RESET nicelogin.token;

-- logout: the request's own session, nothing else
SELECT nicelogin_revoke_current_session() AS without_token;
SELECT set_config('nicelogin.token', :'forged_victim_jti', false) IS NOT NULL AS forged_set;
SELECT nicelogin_revoke_current_session() AS forged;
SELECT set_config('nicelogin.token', :'no_sid', false) IS NOT NULL AS no_sid_set;
SELECT nicelogin_revoke_current_session() AS no_sid;
-- a token without sid is revoked itself, by its jti
SELECT nicelogin_check(:'no_sid') AS no_sid_token,
       (SELECT kind FROM nicelogin_revocations WHERE value = 'jti-nosid-1') AS revoked_as;
DELETE FROM nicelogin_revocations WHERE value = 'jti-nosid-1';
SELECT set_config('nicelogin.token', :'rs256', false) IS NOT NULL AS alice_set;
SELECT nicelogin_company_id() AS alice_company;
SELECT nicelogin_revoke_current_session() AS logged_out;
SELECT nicelogin_company_id() AS after_logout, nicelogin_check(:'rs256') AS alice,
       nicelogin_check(:'no_jti') AS other_session_of_alice;
SELECT kind, value, expires_at = to_timestamp(4102444800) AS until_exp
  FROM nicelogin_revocations WHERE value = 'sid-alice-1';
-- logout again: still revoked, one entry
SELECT nicelogin_revoke_current_session() AS again,
       (SELECT count(*) FROM nicelogin_revocations WHERE value = 'sid-alice-1') AS entries;
RESET nicelogin.token;
DELETE FROM nicelogin_revocations WHERE value = 'sid-alice-1';

-- expired entries go away by themselves: each revocation purges a batch of
-- up to 100 of the oldest expired ones
UPDATE nicelogin_revocations SET expires_at = now() - interval '3 days'
 WHERE kind = 'jti' AND value IN (SELECT 'jti-' || g FROM generate_series(1, 250) g);
SELECT nicelogin_revoke_jti('jti-x', now() + interval '1 hour');
SELECT count(*) AS expired_left FROM nicelogin_revocations WHERE expires_at < now() - interval '1 day';
SELECT nicelogin_revoke_token(:'alice2') AS revoked;
SELECT count(*) AS expired_left FROM nicelogin_revocations WHERE expires_at < now() - interval '1 day';
SELECT nicelogin_purge_revocations() AS purged_rest;
-- the purge finds them by index, not by reading 200,000 rows
EXPLAIN (COSTS OFF) SELECT ctid FROM nicelogin_revocations
 WHERE expires_at < now() - interval '1 day' ORDER BY expires_at LIMIT 100;

DELETE FROM nicelogin_revocations;
DELETE FROM nicelogin_deactivated_users;
