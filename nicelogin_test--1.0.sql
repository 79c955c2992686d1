/* nicelogin_test--1.0.sql: install script of nicelogin_test */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nicelogin_test" to load this file. \quit

-- Keys and signed tokens for testing row-level security policies that use
-- nicelogin, in test and CI databases only: whoever can run these functions
-- can sign tokens that the database accepts.  Only superusers can create the
-- extension; EXECUTE is revoked from PUBLIC on everything.  Private keys are
-- never stored in a table: use_test_key() keeps the private JWK in the
-- memory of the calling session.

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
