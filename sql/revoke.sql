-- revoke: functions that act on a token trust only a verified token, never
-- raise for a bad one, and return what they document for every input
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
SELECT nicelogin_set_jwks(:'jwks');
DELETE FROM nicelogin_revocations;

-- Alice's genuine token verifies
SELECT nicelogin_check(:'rs256') AS alice;
-- a token forged with the attacker's key and Alice's jti revokes nothing,
-- with or without kid, and whatever exp it names
SELECT nicelogin_check(:'forged_victim_jti') AS forged, nicelogin_revoke_token(:'forged_victim_jti') AS revoked;
SELECT nicelogin_revoke_token(:'forged_victim_jti_nokid') AS revoked;
SELECT nicelogin_revoke_token(:'embedded_jwk') AS embedded_jwk, nicelogin_revoke_token(:'jku') AS jku,
       nicelogin_revoke_token(:'x5c') AS x5c, nicelogin_revoke_token(:'hs256_confusion_pem') AS confusion,
       nicelogin_revoke_token(:'alg_none') AS alg_none, nicelogin_revoke_token(:'rs256_bad_sig') AS bad_sig;
SELECT count(*) AS stored FROM nicelogin_revocations;
SELECT nicelogin_check(:'rs256') AS alice_still;

-- exp of any form: false, never an ERROR
SELECT nicelogin_revoke_token(:'exp_word') AS exp_soon, nicelogin_revoke_token(:'exp_huge') AS exp_1e300,
       nicelogin_revoke_token(:'exp_1e400') AS exp_1e400, nicelogin_revoke_token(:'exp_bignum') AS exp_1e999999,
       nicelogin_revoke_token(:'exp_string') AS exp_string;
-- other bad input: false
SELECT nicelogin_revoke_token('') AS empty, nicelogin_revoke_token('not a token') AS garbage,
       nicelogin_revoke_token(:'expired') AS expired, nicelogin_revoke_token(:'not_yet_valid') AS not_yet_valid,
       nicelogin_revoke_token(:'unknown_kid') AS unknown_kid, nicelogin_revoke_token(:'payload_deep') AS too_long;
SELECT nicelogin_revoke_token(NULL) AS null_token;
-- a genuine token without jti: false (not NULL), nothing stored
SELECT nicelogin_check(:'no_jti') AS no_jti, nicelogin_revoke_token(:'no_jti') AS revoked;
SELECT count(*) AS stored FROM nicelogin_revocations;

-- a genuine token: revoked until its exp (the verified one)
SELECT nicelogin_revoke_token(:'rs256') AS revoked;
SELECT kind, value, expires_at = to_timestamp(4102444800) AS until_exp FROM nicelogin_revocations;
SELECT nicelogin_check(:'rs256') AS alice_now;
-- revoking it again: still true, the entry unchanged
SELECT nicelogin_revoke_token(:'rs256') AS again;
SELECT count(*) AS stored FROM nicelogin_revocations;
-- an administrator's revocation for good is never shortened by revoke_token
SELECT nicelogin_revoke_jti('jti-alice-1');
SELECT nicelogin_revoke_token(:'rs256') AS revoked, (SELECT expires_at FROM nicelogin_revocations) AS expires_at;
DELETE FROM nicelogin_revocations;
-- a deactivated user's token can still be revoked
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT nicelogin_check(:'rs256') AS deactivated, nicelogin_revoke_token(:'rs256') AS revoked;
DELETE FROM nicelogin_deactivated_users;
SELECT nicelogin_check(:'rs256') AS reactivated_but_revoked;
DELETE FROM nicelogin_revocations;
-- a token without exp (allowed with nicelogin.require_exp off) is revoked for good
SET nicelogin.require_exp = off;
SELECT nicelogin_revoke_token(:'missing_exp') AS revoked, (SELECT expires_at FROM nicelogin_revocations) AS expires_at;
RESET nicelogin.require_exp;
DELETE FROM nicelogin_revocations;
-- claims rules apply: a token of another issuer is not ours to revoke
SET nicelogin.issuer = 'https://other.example';
SELECT nicelogin_revoke_token(:'with_iss') AS other_issuer;
RESET nicelogin.issuer;
SELECT count(*) AS stored FROM nicelogin_revocations;

-- purging keeps an entry for a day after its expiry, or for the leeway if longer
INSERT INTO nicelogin_revocations (kind, value, expires_at) VALUES
    ('jti', 'two-days-ago', now() - interval '2 days'),
    ('jti', 'ten-days-ago', now() - interval '10 days'),
    ('jti', 'an-hour-ago', now() - interval '1 hour'),
    ('jti', 'for-good', NULL),
    ('jti', 'end-of-time', 'infinity');
SET nicelogin.leeway = '7d';
SELECT nicelogin_purge_revocations() AS purged;
RESET nicelogin.leeway;
SELECT nicelogin_purge_revocations() AS purged;
SELECT value FROM nicelogin_revocations ORDER BY value;
DELETE FROM nicelogin_revocations;
-- a role's (or database's) longer leeway counts too, whoever purges
INSERT INTO nicelogin_revocations (kind, value, expires_at) VALUES ('sid', 'two-days-ago', now() - interval '2 days');
ALTER ROLE regress_nl_app SET nicelogin.leeway = '3d';
SELECT nicelogin_purge_revocations() AS purged_under_role_leeway;
ALTER ROLE regress_nl_app RESET nicelogin.leeway;
SELECT nicelogin_purge_revocations() AS purged;
-- revoke_jti and revoke_sid never shorten a revocation either
SELECT nicelogin_revoke_jti('for-good');
SELECT nicelogin_revoke_jti('for-good', now() - interval '5 days');
SELECT nicelogin_revoke_sid('sid-later', now() + interval '2 days');
SELECT nicelogin_revoke_sid('sid-later', now() + interval '1 hour');
SELECT kind, value, expires_at IS NULL AS for_good, expires_at > now() + interval '1 day' AS later_kept
  FROM nicelogin_revocations ORDER BY kind, value;
DELETE FROM nicelogin_revocations;

-- The admin role of the README: with only the grants it lists, it sees the
-- revocations and deactivations it made and can undo a revocation.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_nl_admin_lists;
RESET client_min_messages;
CREATE ROLE regress_nl_admin_lists NOLOGIN;
GRANT EXECUTE ON FUNCTION nicelogin_revoke_jti(text, timestamptz), nicelogin_revoke_sid(text, timestamptz),
      nicelogin_revoke_token(text), nicelogin_unrevoke_jti(text), nicelogin_unrevoke_sid(text)
      TO regress_nl_admin_lists;
GRANT SELECT ON nicelogin_revocation_list, nicelogin_deactivation_list TO regress_nl_admin_lists;
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('33333333-3333-4333-8333-333333333333');
SET ROLE regress_nl_admin_lists;
SELECT nicelogin_revoke_token(:'rs256') AS revoked_jti, nicelogin_revoke_sid('sid-alice-1', now() + interval '1 day');
SELECT nicelogin_check(:'rs256') AS alice, nicelogin_check(:'alice2') AS alice_other_session;
SELECT kind, value, expires_at IS NOT NULL AS expires, revoked_by = session_user AS by_me,
       revoked_at > now() - interval '1 minute' AS recent
  FROM nicelogin_revocation_list ORDER BY kind, value;
SELECT user_id, deactivated_at > now() - interval '1 minute' AS recent FROM nicelogin_deactivation_list;
-- undo: true when there was something to lift, false after
SELECT nicelogin_unrevoke_sid('sid-alice-1') AS sid_lifted, nicelogin_unrevoke_sid('sid-alice-1') AS again,
       nicelogin_unrevoke_sid('no-such-sid') AS unknown;
SELECT nicelogin_check(:'rs256') AS alice_jti_still_revoked, nicelogin_check(:'alice2') AS alice_other_session;
SELECT value FROM nicelogin_revocation_list WHERE kind = 'jti' \gset
SELECT nicelogin_unrevoke_jti(:'value') AS jti_lifted, nicelogin_unrevoke_jti(:'value') AS again;
-- a jti is not a sid: each function lifts its own kind only
SELECT nicelogin_revoke_sid(:'value') IS NULL AS revoked_as_sid;
SELECT nicelogin_unrevoke_jti(:'value') AS not_a_jti;
SELECT nicelogin_unrevoke_sid(:'value') AS sid_lifted;
SELECT nicelogin_check(:'rs256') AS alice_again, count(*) AS left FROM nicelogin_revocation_list;
SELECT nicelogin_unrevoke_jti(NULL) AS null_jti;
-- the tables themselves stay out of reach
SELECT count(*) FROM nicelogin_revocations;
DELETE FROM nicelogin_deactivated_users;
RESET ROLE;
DELETE FROM nicelogin_deactivated_users;
DELETE FROM nicelogin_revocations;
REVOKE ALL ON FUNCTION nicelogin_revoke_jti(text, timestamptz), nicelogin_revoke_sid(text, timestamptz),
      nicelogin_revoke_token(text), nicelogin_unrevoke_jti(text), nicelogin_unrevoke_sid(text)
      FROM regress_nl_admin_lists;
REVOKE ALL ON nicelogin_revocation_list, nicelogin_deactivation_list FROM regress_nl_admin_lists;
DROP ROLE regress_nl_admin_lists;
