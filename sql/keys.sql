-- keys: nicelogin_set_jwks() validation, the key table, transactional reloads
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all

SELECT nicelogin_set_jwks(:'jwks') AS stored;
SELECT kid, kty, alg, use, jwk ? 'n' OR jwk ? 'x' AS has_public, added_at <= now() AS added
  FROM nicelogin_keys ORDER BY kid;

-- the first RSA key of the fixtures, to build bad sets from
SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "rsa1")') AS k_rsa1 \gset
SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "ec256")') AS k_ec256 \gset
SELECT jsonb_path_query_first(:'jwks_hs', '$.keys[*] ? (@.kid == "hs256")') AS k_hs256 \gset

-- every refused set names the key and the problem, and changes nothing
SELECT nicelogin_set_jwks(:'jwks_weak');
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"e":"AQ"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"e":"AAE"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb, :'k_rsa1'::jsonb)));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb, :'k_hs256'::jsonb)));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"d":"AQAB"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_ec256'::jsonb || '{"d":"AQAB"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_hs256'::jsonb || '{"k":"c2hvcnQ"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_hs256'::jsonb || '{"k":""}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(
    :'k_ec256'::jsonb || jsonb_build_object('y', :'k_ec256'::jsonb ->> 'x'))));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_ec256'::jsonb || '{"crv":"P-384"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_ec256'::jsonb || '{"alg":"ES384"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"alg":"HS256"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"kty":"DSA"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb - 'n')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"n":"not base64!"}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"kid":7}')));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array('"rsa1"'::jsonb)));
-- a modulus that is prime (2^2203 - 1) passes the cheap checks; storing runs OpenSSL's full check
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(jsonb_build_object(
    'kty', 'RSA', 'kid', 'prime', 'e', 'AQAB',
    'n', rtrim(translate(replace(encode(decode('07' || repeat('ff', 275), 'hex'), 'base64'), E'\n', ''), '+/', '-_'), '=')))));
SELECT nicelogin_set_jwks('{"keys":{}}');
SELECT nicelogin_set_jwks(:'k_rsa1');
SELECT nicelogin_set_jwks('[]');
SELECT count(*) AS still_stored FROM nicelogin_keys;

-- a key that is not for signatures is stored, and never used to verify
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"use":"enc"}')));
SELECT nicelogin_check(:'rs256') AS enc_key;
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"key_ops":["encrypt"]}')));
SELECT nicelogin_check(:'rs256') AS encrypt_only;
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"key_ops":["verify"]}')));
SELECT nicelogin_check(:'rs256') AS verify_op;
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"alg":"RSA-OAEP"}')));
SELECT nicelogin_check(:'rs256') AS oaep_key;
-- a key's alg must equal the token's
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"alg":"PS256"}')));
SELECT nicelogin_check(:'rs256') AS rs256_with_ps256_key;
-- a key without alg serves every algorithm of its type
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb - 'alg' - 'use')));
SELECT nicelogin_check(:'rs256') AS no_alg;
-- an empty set is refused (it would refuse every token), the stored keys stay
SELECT nicelogin_set_jwks(:'jwks') AS keys;
SELECT nicelogin_set_jwks('{"keys":[]}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS still_stored FROM nicelogin_keys;
SELECT nicelogin_check(:'rs256') AS after_refused_empty_set;
-- removing every key on purpose: the reason says so, for any kid or none
BEGIN;
DELETE FROM nicelogin_keys;
SELECT nicelogin_check(:'rs256') AS no_key_stored, nicelogin_check(:'unknown_kid') AS unknown_kid,
       nicelogin_check(:'hs256_confusion_nokid') AS no_kid, nicelogin_check(:'alg_none') AS alg_none,
       nicelogin_check('not a token') AS garbage;
ROLLBACK;
SELECT nicelogin_check(:'rs256') AS keys_back, nicelogin_check(:'unknown_kid') AS unknown_kid;

-- symmetric key material never shows in the list view
SELECT nicelogin_set_jwks(:'jwks_hs');
SELECT kid, jwk ? 'k' AS shows_k FROM nicelogin_key_list ORDER BY kid;

-- changes are seen in the same transaction, and a rollback restores the old keys
SELECT nicelogin_set_jwks(:'jwks');
BEGIN;
SELECT nicelogin_check(:'rs256') AS before;
SELECT nicelogin_set_jwks(:'jwks_hs');
SELECT nicelogin_check(:'rs256') AS inside, nicelogin_check(:'hs256') AS hs_inside;
ROLLBACK;
SELECT nicelogin_check(:'rs256') AS after_rollback, nicelogin_check(:'hs256') AS hs_after_rollback;

-- rows written by hand reach the cache too (a statement trigger invalidates it)
DELETE FROM nicelogin_keys WHERE kid = 'rsa1';
SELECT nicelogin_check(:'rs256') AS deleted_by_hand, nicelogin_check(:'rs256_kid2') AS other_key;
TRUNCATE nicelogin_keys;
SELECT nicelogin_check(:'rs256_kid2') AS truncated;
-- a hand-made set that breaks the rules fails closed, with a warning
INSERT INTO nicelogin_keys (kid, kty, jwk) VALUES ('rsa1', 'RSA', :'k_rsa1'), ('hs256', 'oct', :'k_hs256');
SELECT nicelogin_check(:'rs256') AS mixed_by_hand;
SELECT nicelogin_set_jwks(:'jwks');

-- changes applied as a replica (logical replication, loading tools) reach the cache too
SET session_replication_role = replica;
DELETE FROM nicelogin_keys WHERE kid = 'rsa1';
SELECT nicelogin_check(:'rs256') AS deleted_as_replica;
RESET session_replication_role;
SELECT nicelogin_set_jwks(:'jwks');

-- the hot path reads no table: after the first verification, no more scans
BEGIN;
SELECT nicelogin_verify(:'rs256') AS first;
SELECT seq_scan AS scans_before FROM pg_stat_xact_user_tables WHERE relname = 'nicelogin_keys' \gset
SELECT count(*) FILTER (WHERE nicelogin_verify(t)) AS verified
  FROM (SELECT (ARRAY[:'rs256', :'bob', :'es256', :'eddsa', :'expired'])[1 + i % 5] AS t
          FROM generate_series(1, 500) i) s;
SELECT seq_scan - :scans_before AS new_scans FROM pg_stat_xact_user_tables WHERE relname = 'nicelogin_keys';
COMMIT;

-- pg_dump keeps the rows of the extension's tables
SELECT c.relname, e.extconfig IS NOT NULL AS config
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'nicelogin' ORDER BY 1;
