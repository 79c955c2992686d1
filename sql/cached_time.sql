-- cached_time: exp and nbf hold at every answer from every cache level,
-- whatever verdict was cached and however a refusal is lifted later.
-- Tokens expire 8 s after they are made (leeway 0; room for a run under
-- valgrind before the checks that need them current); a refusal cached while
-- the token was current is lifted after its exp, in every way there is:
-- nicelogin_unrevoke_jti, nicelogin_unrevoke_sid, deleting a deactivation,
-- nicelogin_purge_revocations.  The same session's next answer is expired,
-- never valid (the per-backend token cache and the request's remembered
-- answer); t/007_shared_cache.pl does the same with the shared level.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
CREATE EXTENSION nicelogin_test;
CREATE TEMP TABLE k AS SELECT nicelogin_test.generate_key('ES256', 'cached-time') AS jwk;
SELECT nicelogin_test.use_test_key(jwk) IS NOT NULL AS stored FROM k;
DELETE FROM nicelogin_revocations;
DELETE FROM nicelogin_deactivated_users;
SET nicelogin.leeway = 0;

-- the tokens: each with its own jti, sid and user, exp 8 s away
CREATE TABLE cached_time_tokens (name text PRIMARY KEY, sub uuid, exp bigint, token text);
INSERT INTO cached_time_tokens
SELECT name, sub::uuid, extract(epoch FROM now())::bigint + 8, nicelogin_test.sign(jsonb_build_object(
           'sub', sub, 'company_id', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
           'jti', 'jti-' || name, 'sid', 'sid-' || name,
           'nbf', extract(epoch FROM now())::bigint - 10,
           'exp', extract(epoch FROM now())::bigint + 8), k.jwk)
  FROM (VALUES ('by_jti', '21111111-1111-4111-8111-111111111111'),
               ('by_sid', '31111111-1111-4111-8111-111111111111'),
               ('by_user', '41111111-1111-4111-8111-111111111111'),
               ('by_purge', '51111111-1111-4111-8111-111111111111'),
               ('request', '61111111-1111-4111-8111-111111111111'),
               ('request_valid', '71111111-1111-4111-8111-111111111111'),
               ('valid', '81111111-1111-4111-8111-111111111111')) AS v(name, sub), k;
SELECT name, nicelogin_check(token) FROM cached_time_tokens ORDER BY name;

-- refused while current, each in its own way; the verdicts are cached
SELECT nicelogin_revoke_jti('jti-by_jti');
SELECT nicelogin_revoke_sid('sid-by_sid');
INSERT INTO nicelogin_deactivated_users (user_id) SELECT sub FROM cached_time_tokens WHERE name = 'by_user';
-- revoked until its exp, as nicelogin_revoke_token does
SELECT nicelogin_revoke_token(token) AS revoked FROM cached_time_tokens WHERE name = 'by_purge';
SELECT kind, value, expires_at IS NOT NULL AS until_exp FROM nicelogin_revocations ORDER BY value;
SELECT nicelogin_revoke_jti('jti-request');
SELECT name, nicelogin_check(token) FROM cached_time_tokens ORDER BY name;
-- the request's answers (nicelogin.token), remembered
SELECT set_config('nicelogin.token', token, false) IS NOT NULL AS set FROM cached_time_tokens WHERE name = 'request';
SELECT nicelogin_user_id() AS revoked_user, nicelogin_claims() AS revoked_claims;
SELECT set_config('nicelogin.token', token, false) IS NOT NULL AS set FROM cached_time_tokens WHERE name = 'request_valid';
SELECT nicelogin_user_id() = sub AS valid_user FROM cached_time_tokens WHERE name = 'request_valid';

-- past exp
SELECT pg_sleep_until(to_timestamp(max(exp)) + interval '1 s') FROM cached_time_tokens;
SELECT nicelogin_user_id() AS expired_user, nicelogin_company_id() AS expired_company;
SELECT set_config('nicelogin.token', token, false) IS NOT NULL AS set FROM cached_time_tokens WHERE name = 'request';
SELECT nicelogin_user_id() AS still_refused;

-- each refusal lifted: the cached verdict is looked up again, and expired wins
SELECT nicelogin_unrevoke_jti('jti-by_jti');
SELECT nicelogin_check(token) AS after_unrevoke_jti, nicelogin_verify(token) AS verify,
       nicelogin_claims(token) AS claims FROM cached_time_tokens WHERE name = 'by_jti';
SELECT nicelogin_unrevoke_sid('sid-by_sid');
SELECT nicelogin_check(token) AS after_unrevoke_sid FROM cached_time_tokens WHERE name = 'by_sid';
DELETE FROM nicelogin_deactivated_users;
SELECT nicelogin_check(token) AS after_reactivation FROM cached_time_tokens WHERE name = 'by_user';
-- the purge removes a revocation a day after its expires_at: move it back
-- two days rather than wait
UPDATE nicelogin_revocations SET expires_at = expires_at - interval '2 days' WHERE value = 'jti-by_purge';
SELECT nicelogin_purge_revocations() AS purged;
SELECT nicelogin_check(token) AS after_purge FROM cached_time_tokens WHERE name = 'by_purge';
-- the request's token: unrevoked after its exp, no identity
SELECT nicelogin_unrevoke_jti('jti-request');
SELECT nicelogin_user_id() AS user_after_unrevoke, nicelogin_company_id() AS company,
       nicelogin_email() AS email, nicelogin_claims() AS claims;
SELECT nicelogin_check(nicelogin_token()) AS request_token;
-- and every token, once more, in one statement and in a new transaction
SELECT name, nicelogin_check(token) FROM cached_time_tokens ORDER BY name;
BEGIN;
SELECT name, nicelogin_check(token) FROM cached_time_tokens ORDER BY name;
COMMIT;
-- the same tokens in a new session: expired too (a full verification)
\c
SET nicelogin.leeway = 0;
SELECT name, nicelogin_check(token) FROM cached_time_tokens ORDER BY name;

DROP TABLE cached_time_tokens;
RESET nicelogin.token;
RESET nicelogin.leeway;
DELETE FROM nicelogin_revocations;
DROP EXTENSION nicelogin_test;
DROP SCHEMA nicelogin_test;
SELECT nicelogin_set_jwks(:'jwks');
