/* nicelogin_test--1.0.sql: install script of nicelogin_test */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nicelogin_test" to load this file. \quit

-- Keys and signed tokens for testing row-level security policies that use
-- nicelogin, in test and CI databases only: whoever can run these functions
-- can sign tokens that the database accepts.  Only superusers can create the
-- extension; EXECUTE is revoked from PUBLIC on everything.  Private keys are
-- never stored in a table: use_test_key() keeps the private JWK in the
-- memory of the calling session.

-- The schema must belong to a superuser and be writable by superusers only: a
-- role that could create objects in it (a database owner who made the schema
-- before CREATE EXTENSION, which then uses it) could add overloads that match
-- a superuser's call better (authenticate_as('{...}') with an unknown-type
-- literal picks a text overload), and read the private keys passed to them.
DO $nlt_schema_check$
DECLARE
    writers text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
             WHERE n.oid OPERATOR(pg_catalog.=) pg_catalog.current_schema()::pg_catalog.regnamespace::pg_catalog.oid) THEN
        RAISE EXCEPTION 'schema "%" of nicelogin_test is not owned by a superuser', pg_catalog.current_schema()
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'DROP SCHEMA nicelogin_test; then CREATE EXTENSION nicelogin_test; creates it for the extension.';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)
      INTO writers
      FROM pg_catalog.pg_roles r
     WHERE NOT r.rolsuper
       AND r.oid OPERATOR(pg_catalog.<>) 'pg_database_owner'::pg_catalog.regrole::pg_catalog.oid
       AND pg_catalog.has_schema_privilege(r.oid, pg_catalog.current_schema(), 'CREATE');
    IF writers IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" can be written by roles that are not superusers: %',
            pg_catalog.current_schema(), writers
        USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$nlt_schema_check$;

CREATE FUNCTION generate_key(alg text, kid text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_test_generate_key'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION generate_key(text, text) IS
    'a new private JWK (with kid, alg and use "sig") for any algorithm nicelogin verifies; kid NULL: a random one';
REVOKE ALL ON FUNCTION generate_key(text, text) FROM PUBLIC;

CREATE FUNCTION public_jwk(private_jwk jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_test_public_jwk'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION public_jwk(jsonb) IS
    'the public half of a private JWK (without d, p, q, dp, dq, qi, oth and key_ops), as nicelogin_set_jwks() takes it; an oct key is its own public half';
REVOKE ALL ON FUNCTION public_jwk(jsonb) FROM PUBLIC;

CREATE FUNCTION sign(claims jsonb, private_jwk jsonb, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_test_sign'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION sign(jsonb, jsonb, jsonb) IS
    'a compact JWS of claims signed with the key''s alg; header members go over {"alg", "typ": "JWT", "kid"} (null removes one; "alg": "none" leaves the signature empty)';
REVOKE ALL ON FUNCTION sign(jsonb, jsonb, jsonb) FROM PUBLIC;

CREATE FUNCTION use_test_key(private_jwk jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_test_use_test_key'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION use_test_key(jsonb) IS
    'stores the key''s public half as nicelogin''s key set (nicelogin_set_jwks) and keeps the private key in this session''s memory for authenticate_as(), undone with the transaction; returns the public half';
REVOKE ALL ON FUNCTION use_test_key(jsonb) FROM PUBLIC;

CREATE FUNCTION authenticate_as(claims jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_test_authenticate_as'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION authenticate_as(jsonb) IS
    'signs claims with the session''s test key (adding iat, exp an hour ahead, and iss and aud from the nicelogin settings, unless given), sets nicelogin.token to it for the transaction and returns it; NULL: no token for the transaction';
REVOKE ALL ON FUNCTION authenticate_as(jsonb) FROM PUBLIC;
