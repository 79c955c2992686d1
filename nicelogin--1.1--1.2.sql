/* nicelogin--1.1--1.2.sql: upgrade from 1.1 (ALTER EXTENSION nicelogin UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.2'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.2.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- 1.2: security (the 1.0 upgrade path, cached refusals, bounded masking, identity from the request)

-- 1.2: deployments (logical replication, pg_upgrade)

-- 1.2: PostgREST (the public key set, reload notifications)

CREATE FUNCTION nicelogin_public_jwks()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_public_jwks'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_public_jwks() IS
    'the stored keys as a JWKS of public keys: no private member and no symmetric (oct) key; for PostgREST''s jwt-secret (grant EXECUTE to its authenticator role)';
-- Public keys, but only the roles that need them get them (PostgREST's
-- authenticator): nothing of the extension is open to PUBLIC that need not be.
REVOKE ALL ON FUNCTION nicelogin_public_jwks() FROM PUBLIC;
