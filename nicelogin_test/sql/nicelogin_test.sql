-- nicelogin_test: the test-token extension.  Keys for every algorithm nicelogin
-- verifies, tokens that nicelogin accepts, the session's test key (in memory,
-- following the transaction), authenticate_as() with RLS, grants, bad input.
\set ECHO none
\i ../test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse

-- nicelogin, and an ordinary role with no privilege on the extensions' objects
-- (as the top folder's setup test makes them)
CREATE EXTENSION nicelogin;
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_nl_app;
RESET client_min_messages;
CREATE ROLE regress_nl_app NOLOGIN;

CREATE EXTENSION nicelogin_test;
SELECT e.extname, n.nspname AS schema, e.extrelocatable, e.extversion,
       (SELECT string_agg(r.extname, ',') FROM pg_extension r WHERE r.oid = ANY (
            SELECT refobjid FROM pg_depend WHERE objid = e.oid AND refclassid = 'pg_extension'::regclass)) AS requires
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'nicelogin_test';
-- its functions come from a library of their own; nicelogin's do not load it
SELECT p.proname, p.probin, p.provolatile, p.proparallel, p.proisstrict, p.proacl,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p WHERE p.pronamespace = 'nicelogin_test'::regnamespace ORDER BY 1;
SELECT DISTINCT probin FROM pg_proc WHERE proname LIKE 'nicelogin%' AND probin IS NOT NULL;

-- helpers: the decoded header of a token, and the lengths of its segments
CREATE FUNCTION pg_temp.b64(s text) RETURNS bytea LANGUAGE sql IMMUTABLE
RETURN decode(translate(s, '-_', '+/') || repeat('=', (4 - length(s) % 4) % 4), 'base64');
CREATE FUNCTION pg_temp.header(t text) RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN convert_from(pg_temp.b64(split_part(t, '.', 1)), 'UTF8')::jsonb;

-- a key for every algorithm nicelogin verifies
CREATE TEMP TABLE k AS
  SELECT alg, ord, nicelogin_test.generate_key(alg, 'kid-' || alg) AS jwk
    FROM unnest(ARRAY['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384',
                      'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512']) WITH ORDINALITY AS a(alg, ord);
SELECT alg, jwk->>'kty' AS kty, jwk->>'crv' AS crv, jwk->>'alg' AS jwk_alg, jwk->>'use' AS use,
       jwk->>'kid' AS kid, (SELECT string_agg(m, ',' ORDER BY m) FROM jsonb_object_keys(jwk) m
                             WHERE m NOT IN ('kty', 'crv', 'alg', 'use', 'kid')) AS members,
       length(pg_temp.b64(coalesce(jwk->>'n', jwk->>'x', jwk->>'k'))) AS key_bytes
  FROM k ORDER BY ord;
-- a random kid when none is given; new keys each time
SELECT nicelogin_test.generate_key('ES256')->>'kid' ~ '^test-[A-Za-z0-9_-]{16}$' AS random_kid,
       nicelogin_test.generate_key('ES256')->>'d' <> nicelogin_test.generate_key('ES256')->>'d' AS fresh;
-- the public half: no private member (an HMAC key has no public half: k is the key)
SELECT alg, (SELECT string_agg(m, ',' ORDER BY m) FROM jsonb_object_keys(nicelogin_test.public_jwk(jwk)) m) AS public_members
  FROM k ORDER BY ord;
-- nor any member that is not public: a k, an unknown member and key_ops on an EC key
SELECT (SELECT string_agg(m, ',' ORDER BY m) FROM jsonb_object_keys(nicelogin_test.public_jwk(
          jwk || '{"k": "c2VjcmV0", "priv": "x", "key_ops": ["sign"]}')) m) AS public_members
  FROM k WHERE alg = 'ES256';

-- every algorithm round-trips: signed by sign() and by authenticate_as(), valid for
-- nicelogin with the public half stored by use_test_key() (two statements per algorithm,
-- run by \gexec with echo off: a key set change is seen from the next statement on)
\set ECHO none
SELECT format($$SELECT %1$L AS alg, nicelogin_test.use_test_key(jwk) = nicelogin_test.public_jwk(jwk) AS stored
                  FROM k WHERE alg = %1$L$$, alg),
       format($$SELECT %1$L AS alg,
                       (SELECT count(*) FROM nicelogin_keys) AS keys,
                       (SELECT bool_or(jwk ?| array['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']) FROM nicelogin_keys) AS private_stored,
                       nicelogin_check(nicelogin_test.sign(
                           jsonb_build_object('sub', '11111111-1111-4111-8111-111111111111',
                                              'exp', extract(epoch FROM now())::bigint + 600), jwk)) AS signed,
                       nicelogin_check(nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111"}')) AS authenticated,
                       nicelogin_user_id() AS user_id,
                       pg_temp.header(current_setting('nicelogin.token')) AS header,
                       length(split_part(current_setting('nicelogin.token'), '.', 3)) AS sig_chars
                  FROM k WHERE alg = %1$L$$, alg)
  FROM k ORDER BY ord
\gexec
\set ECHO all
-- nicelogin's own check of the signatures, with the key given (no claims rules)
SELECT alg, nicelogin_jws_verify(nicelogin_test.sign('{"a": 1}', jwk), nicelogin_test.public_jwk(jwk)) AS ok,
       nicelogin_jws_verify(nicelogin_test.sign('{"a": 1}', jwk),
                            nicelogin_test.public_jwk(nicelogin_test.generate_key(alg, 'kid-' || alg))) AS other_key
  FROM k ORDER BY ord;

-- the token authenticate_as() makes: iat now, exp an hour ahead, given claims win
SELECT nicelogin_test.use_test_key(jwk) IS NOT NULL AS used FROM k WHERE alg = 'ES256';
BEGIN;
SELECT nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111", "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}') IS NOT NULL AS token;
SELECT c - 'iat' - 'exp' AS claims, (c->>'exp')::bigint - (c->>'iat')::bigint AS lifetime,
       abs((c->>'iat')::bigint - extract(epoch FROM clock_timestamp())) < 5 AS iat_now,
       nicelogin_company_id(), nicelogin_user_id()
  FROM nicelogin_claims() c;
COMMIT;
-- set for the transaction only
SELECT current_setting('nicelogin.token') AS token_after_commit, nicelogin_user_id();
SELECT nicelogin_check(nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111", "exp": 1000000000}')) AS given_exp,
       nicelogin_claims(current_setting('nicelogin.token'), false)->'exp' AS exp;
-- iss and aud from nicelogin.issuer and nicelogin.audience
SET nicelogin.issuer = 'https://issuer.test';
SET nicelogin.audience = 'app.test';
SELECT nicelogin_check(nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111"}')) AS check,
       nicelogin_claims(current_setting('nicelogin.token'), false) - 'iat' - 'exp' AS claims;
SELECT nicelogin_check(nicelogin_test.authenticate_as('{"iss": "https://other.test"}')) AS other_issuer;
SELECT nicelogin_check(nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk)) AS sign_adds_nothing
  FROM k WHERE alg = 'ES256';
RESET nicelogin.issuer;
RESET nicelogin.audience;
-- NULL: no token for the transaction
BEGIN;
SELECT nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111"}') IS NOT NULL AS signed_in;
SELECT nicelogin_test.authenticate_as(NULL) AS token, current_setting('nicelogin.token') = '' AS empty, nicelogin_user_id();
COMMIT;

-- sign(): the header, and odd ones for negative tests
SELECT pg_temp.header(nicelogin_test.sign('{}', jwk)) AS default_header,
       pg_temp.header(nicelogin_test.sign('{}', jwk, '{"kid": null, "typ": "at+jwt", "x": [1]}')) AS changed,
       pg_temp.header(nicelogin_test.sign('{}', jwk - 'kid')) AS key_without_kid
  FROM k WHERE alg = 'ES256';
SELECT name, nicelogin_check(token) AS check, length(split_part(token, '.', 3)) AS sig_chars
  FROM k, LATERAL (VALUES
    ('valid', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk)),
    ('expired', nicelogin_test.sign('{"exp": 1000000000}', jwk)),
    ('no exp', nicelogin_test.sign('{"sub": "x"}', jwk)),
    ('not yet valid', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 600,
                                                             'nbf', extract(epoch FROM now())::bigint + 300), jwk)),
    ('alg none', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"alg": "none"}')),
    ('alg NONE', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"alg": "NONE"}')),
    ('header says ES384', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"alg": "ES384"}')),
    ('header says HS256', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"alg": "HS256"}')),
    ('unknown kid', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"kid": "nope"}')),
    ('no kid', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"kid": null}')),
    ('crit', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60), jwk, '{"crit": ["exp"], "exp": 1}')),
    ('payload is an array', nicelogin_test.sign('[1, 2]', jwk)),
    ('other key, same kid', nicelogin_test.sign(jsonb_build_object('exp', extract(epoch FROM now())::bigint + 60),
                                                nicelogin_test.generate_key('ES256', 'kid-ES256')))
  ) AS t(name, token)
 WHERE alg = 'ES256';
-- an RSA or oct key without "alg" must name one; a curve names its own
\set VERBOSITY default
SELECT nicelogin_test.sign('{"a": 1}', nicelogin_test.generate_key('RS256') - 'alg');
SELECT nicelogin_test.sign('{"a": 1}', nicelogin_test.generate_key('HS256') - 'alg');
SELECT nicelogin_test.generate_key('ES256K');
\set VERBOSITY terse
SELECT pg_temp.header(nicelogin_test.sign('{}', nicelogin_test.generate_key(alg) - 'alg'))->>'alg' AS alg_from_curve
  FROM unnest(ARRAY['ES256', 'ES384', 'ES512', 'EdDSA']) alg;

-- the session's test key follows the transaction that set it
SELECT nicelogin_test.use_test_key(jwk)->>'kid' AS kid FROM k WHERE alg = 'EdDSA';
BEGIN;
SELECT nicelogin_test.use_test_key(jwk)->>'kid' AS kid FROM k WHERE alg = 'PS256';
SELECT pg_temp.header(nicelogin_test.authenticate_as('{}'))->>'kid' AS signing_kid;
ROLLBACK;
SELECT pg_temp.header(nicelogin_test.authenticate_as('{}'))->>'kid' AS after_rollback,
       (SELECT kid FROM nicelogin_keys) AS stored;
BEGIN;
SAVEPOINT a;
SELECT nicelogin_test.use_test_key(jwk)->>'kid' AS kid FROM k WHERE alg = 'ES384';
SAVEPOINT b;
SELECT nicelogin_test.use_test_key(jwk)->>'kid' AS kid FROM k WHERE alg = 'ES512';
ROLLBACK TO SAVEPOINT b;
SELECT pg_temp.header(nicelogin_test.authenticate_as('{}'))->>'kid' AS after_rollback_to_b;
RELEASE SAVEPOINT a;
COMMIT;
SELECT pg_temp.header(nicelogin_test.authenticate_as('{}'))->>'kid' AS after_commit,
       (SELECT kid FROM nicelogin_keys) AS stored;
-- the private key is in no table: not in nicelogin's, not in this extension's (it has none)
SELECT count(*) AS tables_of_nicelogin_test FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nicelogin_test') AND classid = 'pg_class'::regclass;
SELECT count(*) AS private_in_nicelogin_keys FROM nicelogin_keys
 WHERE jwk ?| array['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];
-- another session has no test key
\c
\set VERBOSITY terse
CREATE FUNCTION pg_temp.b64(s text) RETURNS bytea LANGUAGE sql IMMUTABLE
RETURN decode(translate(s, '-_', '+/') || repeat('=', (4 - length(s) % 4) % 4), 'base64');
CREATE FUNCTION pg_temp.header(t text) RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN convert_from(pg_temp.b64(split_part(t, '.', 1)), 'UTF8')::jsonb;
SELECT nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111"}');

-- authenticate_as() and row-level security
CREATE TEMP TABLE k AS
  SELECT alg, nicelogin_test.generate_key(alg) AS jwk FROM unnest(ARRAY['RS256', 'HS512']) alg;
SELECT nicelogin_test.use_test_key(jwk) IS NOT NULL AS used FROM k WHERE alg = 'RS256';
CREATE TABLE regress_nl_docs (company_id uuid NOT NULL, title text NOT NULL);
INSERT INTO regress_nl_docs VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'acme plan'),
                                   ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'acme budget'),
                                   ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'globex plan');
ALTER TABLE regress_nl_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON regress_nl_docs TO regress_nl_app
    USING (company_id = nicelogin_company_id()) WITH CHECK (company_id = nicelogin_company_id());
GRANT SELECT, INSERT ON regress_nl_docs TO regress_nl_app;
BEGIN;
SELECT nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111", "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}') IS NOT NULL AS alice;
SET LOCAL ROLE regress_nl_app;
SELECT title FROM regress_nl_docs ORDER BY title;
INSERT INTO regress_nl_docs VALUES ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'into globex');
ROLLBACK;
BEGIN;
SELECT nicelogin_test.authenticate_as('{"sub": "22222222-2222-4222-8222-222222222222", "company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}') IS NOT NULL AS bob;
SET LOCAL ROLE regress_nl_app;
SELECT title FROM regress_nl_docs ORDER BY title;
INSERT INTO regress_nl_docs VALUES ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'by bob') RETURNING title;
ROLLBACK;
-- a deactivated user sees nothing
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('22222222-2222-4222-8222-222222222222');
BEGIN;
SELECT nicelogin_check(nicelogin_test.authenticate_as('{"sub": "22222222-2222-4222-8222-222222222222", "company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}')) AS bob;
SET LOCAL ROLE regress_nl_app;
SELECT count(*) AS bob_sees FROM regress_nl_docs;
ROLLBACK;
DELETE FROM nicelogin_deactivated_users;
-- an HMAC test key works the same
SELECT nicelogin_test.use_test_key(jwk) ? 'k' AS secret_stored FROM k WHERE alg = 'HS512';
BEGIN;
SELECT nicelogin_check(nicelogin_test.authenticate_as('{"sub": "22222222-2222-4222-8222-222222222222", "company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}')) AS bob;
SET LOCAL ROLE regress_nl_app;
SELECT title FROM regress_nl_docs ORDER BY title;
ROLLBACK;
DROP TABLE regress_nl_docs;

-- bad input: clean errors
SELECT nicelogin_test.generate_key(NULL);
SELECT nicelogin_test.generate_key('none');
SELECT nicelogin_test.generate_key('rs256');
SELECT nicelogin_test.sign(NULL, jwk) FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', NULL);
SELECT nicelogin_test.sign('{}', '[1]');
SELECT nicelogin_test.sign('{}', '{"kty": "RSA"}');
SELECT nicelogin_test.sign('{}', '{"kty": "XYZ", "alg": "RS256"}');
SELECT nicelogin_test.sign('{}', '{"alg": "RS256"}');
SELECT nicelogin_test.sign('{}', jwk, '"header"') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', jwk, '{"alg": 1}') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', nicelogin_test.public_jwk(jwk)) FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', jwk || '{"alg": "ES256"}') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', jwk || '{"d": "AAAA"}') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', jwk || '{"d": "!!"}') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', jwk || '{"kid": 7}') FROM k WHERE alg = 'RS256';
SELECT nicelogin_test.sign('{}', g || jsonb_build_object('d', nicelogin_test.generate_key('ES256')->>'d'))
  FROM nicelogin_test.generate_key('ES256') g;
SELECT nicelogin_test.sign('{}', g || '{"crv": "P-384"}') FROM nicelogin_test.generate_key('ES256') g;
SELECT nicelogin_test.sign('{}', g - 'alg' || '{"crv": "secp256k1"}') FROM nicelogin_test.generate_key('ES256') g;
SELECT nicelogin_test.sign('{}', g - 'alg' - 'crv') FROM nicelogin_test.generate_key('ES256') g;
SELECT nicelogin_test.sign('{}', g || jsonb_build_object('x', nicelogin_test.generate_key('EdDSA')->>'x'))
  FROM nicelogin_test.generate_key('EdDSA') g;
SELECT nicelogin_test.sign('{}', g || '{"d": "AAAA"}') FROM nicelogin_test.generate_key('EdDSA') g;
SELECT nicelogin_test.use_test_key('{"kty": "RSA"}');
SELECT nicelogin_test.authenticate_as('[1]');
SELECT nicelogin_test.authenticate_as('"alice"');
-- a key nicelogin refuses to store is refused by use_test_key, and nothing changes
SELECT nicelogin_test.use_test_key('{"kty": "oct", "alg": "HS512", "k": "c2hvcnQ"}');
SELECT pg_temp.header(nicelogin_test.authenticate_as('{}'))->>'alg' AS still_signing_with;

-- privileges: EXECUTE for superusers only; a non-superuser cannot create the extension
SELECT p.oid::regprocedure AS function, has_function_privilege('regress_nl_app', p.oid, 'EXECUTE') AS app_may_execute
  FROM pg_proc p WHERE p.pronamespace = 'nicelogin_test'::regnamespace ORDER BY p.proname;
SELECT has_schema_privilege('regress_nl_app', 'nicelogin_test', 'USAGE') AS app_schema_usage;
SET ROLE regress_nl_app;
SELECT nicelogin_test.generate_key('ES256');
RESET ROLE;
DROP EXTENSION nicelogin_test;
DROP SCHEMA nicelogin_test;
GRANT CREATE ON DATABASE :"DBNAME" TO regress_nl_app;
SET ROLE regress_nl_app;
CREATE EXTENSION nicelogin_test;
RESET ROLE;
-- a schema of that name made beforehand by a role that is not a superuser
-- (a database owner could, and then add overloads that catch a superuser's
-- calls and their private keys): CREATE EXTENSION refuses it
SET ROLE regress_nl_app;
CREATE SCHEMA nicelogin_test;
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM regress_nl_app;
CREATE EXTENSION nicelogin_test;
DROP SCHEMA nicelogin_test;
-- one a superuser owns but others may write in: refused too
CREATE SCHEMA nicelogin_test;
GRANT CREATE ON SCHEMA nicelogin_test TO regress_nl_app;
CREATE EXTENSION nicelogin_test;
DROP SCHEMA nicelogin_test;
SELECT count(*) AS left_behind FROM pg_namespace WHERE nspname = 'nicelogin_test';

-- the key set the later tests expect
SELECT nicelogin_set_jwks(:'jwks');
