-- postgrest: nicelogin_public_jwks() (the stored keys as PostgREST's jwt-secret
-- may hold them: public members only, no oct key), who may call it,
-- nicelogin.postgrest_channel, and a db-pre-config function called the way
-- PostgREST calls it.  The reload notifications themselves are seen by a
-- listening session in t/011_postgrest.pl.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
SELECT nicelogin_set_jwks(:'jwks');
-- the public set is the stored set, key for key, member for member
SELECT jsonb_typeof(nicelogin_public_jwks() -> 'keys') AS keys_type,
       jsonb_array_length(nicelogin_public_jwks() -> 'keys') AS public_keys,
       (SELECT count(*) FROM nicelogin_keys) AS stored_keys;
SELECT (SELECT jsonb_agg(k ORDER BY k::text) FROM jsonb_array_elements(nicelogin_public_jwks() -> 'keys') k)
     = (SELECT jsonb_agg(jwk ORDER BY jwk::text) FROM nicelogin_keys) AS public_equals_stored;
SELECT nicelogin_public_jwks() = nicelogin_public_jwks() AS stable_order;
-- rows written around nicelogin_set_jwks(): private members, a k on an EC
-- key, unknown members and an oct key stay out; the rest of each key is kept
BEGIN;
UPDATE nicelogin_keys
   SET jwk = jwk || '{"d": "AQAB", "p": "AQAB", "q": "AQAB", "dp": "AQAB", "dq": "AQAB", "qi": "AQAB",
                      "oth": [{"r": "AQAB", "d": "AQAB", "t": "AQAB"}], "x5c": ["AQAB"], "ext": true}'
 WHERE kid IN ('rsa1', 'ps256');
UPDATE nicelogin_keys SET jwk = jwk || '{"d": "AQAB", "k": "c2VjcmV0"}' WHERE kid IN ('ec256', 'ed1');
UPDATE nicelogin_keys SET jwk = jwk || '{"key_ops": ["verify"]}' WHERE kid = 'rsa2';
INSERT INTO nicelogin_keys (kid, kty, jwk)
VALUES ('hs-sneaked', 'oct', '{"kty": "oct", "kid": "hs-sneaked", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}'),
       ('odd', 'XYZ', '{"kty": "XYZ", "kid": "odd", "n": "AQAB"}'),
       ('no-kty', 'RSA', '{"kid": "no-kty", "n": "AQAB", "e": "AQAB"}'),
       ('not-an-object', 'RSA', '["RSA"]');
-- keys not for signatures: "enc", and a use PostgREST's parser would refuse
-- (and then read the whole text as an HMAC secret)
UPDATE nicelogin_keys SET jwk = jwk || '{"use": "enc"}' WHERE kid = 'rsa384';
UPDATE nicelogin_keys SET jwk = jwk || '{"use": "other"}' WHERE kid = 'rsa512';
SELECT k ->> 'kid' AS kid, (SELECT string_agg(m, ',' ORDER BY m) FROM jsonb_object_keys(k) m) AS members
  FROM jsonb_array_elements(nicelogin_public_jwks() -> 'keys') k
 WHERE k ->> 'kid' IN ('rsa1', 'rsa2', 'ps256', 'ec256', 'ed1')
 ORDER BY 1;
-- each listed key is its stored JWK less the members that are not public
SELECT count(*) AS keys_equal_to_stored_less_private
  FROM jsonb_array_elements(nicelogin_public_jwks() -> 'keys') k
  JOIN nicelogin_keys s ON s.kid = k ->> 'kid'
 WHERE k = s.jwk - ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'x5c', 'ext'];
SELECT jsonb_array_length(nicelogin_public_jwks() -> 'keys') AS public_keys,
       nicelogin_public_jwks()::text ~ '"(d|p|q|dp|dq|qi|oth|k)":' AS private_member_seen,
       nicelogin_public_jwks()::text LIKE '%oct%' AS oct_seen;
ROLLBACK;
-- a symmetric (HS256) set: nothing to hand to PostgREST
SELECT nicelogin_set_jwks(:'jwks_hs');
SELECT nicelogin_public_jwks() AS public_jwks_of_hs_set;
DELETE FROM nicelogin_keys;
SELECT nicelogin_public_jwks() AS public_jwks_of_no_keys;
SELECT nicelogin_set_jwks(:'jwks');
-- not open to PUBLIC; a role granted EXECUTE needs no privilege on the table
SELECT has_function_privilege('regress_nl_app', 'nicelogin_public_jwks()', 'EXECUTE') AS app_may_call;
SET ROLE regress_nl_app;
SELECT nicelogin_public_jwks();
RESET ROLE;
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_nl_authenticator;
RESET client_min_messages;
CREATE ROLE regress_nl_authenticator NOINHERIT;
GRANT EXECUTE ON FUNCTION nicelogin_public_jwks() TO regress_nl_authenticator;
SET ROLE regress_nl_authenticator;
SELECT jsonb_array_length(nicelogin_public_jwks() -> 'keys') AS public_keys;
SELECT count(*) FROM nicelogin_keys;
RESET ROLE;
-- nicelogin.postgrest_channel: off by default, superuser only, a channel name
SHOW nicelogin.postgrest_channel;
SET nicelogin.postgrest_channel = 'pgrst';
SHOW nicelogin.postgrest_channel;
SET nicelogin.postgrest_channel = 'a_channel_name_longer_than_an_identifier_may_be_in_postgresql_xyz';
RESET nicelogin.postgrest_channel;
SELECT setting, context FROM pg_settings WHERE name = 'nicelogin.postgrest_channel';
SET ROLE regress_nl_app;
SET nicelogin.postgrest_channel = 'pgrst';
RESET ROLE;
-- A db-pre-config function as in the README, run by the authenticator role
-- within PostgREST's own query for its in-database settings (PostgREST's
-- src/PostgREST/Config/Database.hs, queryDbSettings, in a READ ONLY
-- transaction): pgrst.jwt_secret comes back as the public key set.
CREATE SCHEMA regress_postgrest;
CREATE FUNCTION regress_postgrest.pre_config() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    jwks jsonb := public.nicelogin_public_jwks();
BEGIN
    IF pg_catalog.jsonb_array_length(jwks -> 'keys') > 0 THEN
        PERFORM pg_catalog.set_config('pgrst.jwt_secret', jwks::text, true);
    END IF;
END $$;
GRANT USAGE ON SCHEMA regress_postgrest TO regress_nl_authenticator;
SET ROLE regress_nl_authenticator;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
WITH
role_setting AS (
  SELECT setdatabase as database,
         unnest(setconfig) as setting
  FROM pg_catalog.pg_db_role_setting
  WHERE setrole = CURRENT_USER::regrole::oid
    AND setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = CURRENT_CATALOG))
),
kv_settings AS (
  SELECT database,
         substr(setting, 1, strpos(setting, '=') - 1) as k,
         substr(setting, strpos(setting, '=') + 1) as v
  FROM role_setting
  UNION
  SELECT
    null as database,
    x as k,
    current_setting(x, true) as v
  FROM unnest(ARRAY['pgrst.db_anon_role', 'pgrst.db_pre_config', 'pgrst.jwt_secret', 'pgrst.jwt_secret_is_base64']) x
  JOIN regress_postgrest.pre_config() _ ON TRUE
)
SELECT DISTINCT ON (key)
       replace(k, 'pgrst.', '') AS key,
       v::jsonb = public.nicelogin_public_jwks() AS value_is_the_public_jwks,
       jsonb_array_length(v::jsonb -> 'keys') AS keys
FROM kv_settings
WHERE k = ANY(ARRAY['pgrst.db_anon_role', 'pgrst.db_pre_config', 'pgrst.jwt_secret', 'pgrst.jwt_secret_is_base64']) AND v IS NOT NULL
ORDER BY key, database DESC NULLS LAST;
COMMIT;
RESET ROLE;
-- an HS256 set: the function sets nothing, and PostgREST keeps the
-- jwt-secret of its configuration file
SELECT nicelogin_set_jwks(:'jwks_hs');
BEGIN READ ONLY;
SET LOCAL ROLE regress_nl_authenticator;
SELECT regress_postgrest.pre_config();
-- ('' once a SET LOCAL of it ended in this session: PostgREST reads '' as unset)
SELECT coalesce(current_setting('pgrst.jwt_secret', true), '') = '' AS jwt_secret_unset;
COMMIT;
SELECT nicelogin_set_jwks(:'jwks');
DROP SCHEMA regress_postgrest CASCADE;
REVOKE EXECUTE ON FUNCTION nicelogin_public_jwks() FROM regress_nl_authenticator;
DROP ROLE regress_nl_authenticator;
