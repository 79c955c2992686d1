/* nicelogin--1.0--1.1.sql: upgrade from 1.0 (ALTER EXTENSION nicelogin UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.1'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.1.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- nicelogin_revoke_token trusts only a verified token (it read the jti and exp
-- of an unverified decoding in 1.0); now in C, same signature and privileges.
CREATE OR REPLACE FUNCTION nicelogin_revoke_token(token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_revoke_token'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_revoke_token(text) IS
    'revokes a genuine token (signed by a stored key, within its exp, nbf, iss and aud rules) by its jti until its exp; false for any other token or one without jti; never raises for a bad token';
REVOKE ALL ON FUNCTION nicelogin_revoke_token(text) FROM PUBLIC;

-- Purging keeps a revocation for the leeway too, when that is longer than a day.
CREATE OR REPLACE FUNCTION nicelogin_purge_revocations()
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM @extschema@.nicelogin_revocations
         WHERE expires_at < now() - GREATEST(interval '1 day',
                                             current_setting('nicelogin.leeway', true)::interval)
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION nicelogin_purge_revocations() IS
    'deletes revocations whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer); returns how many';
REVOKE ALL ON FUNCTION nicelogin_purge_revocations() FROM PUBLIC;

-- BEGIN secrets (stored-secret checks)
-- END secrets
