-- privileges: what an ordinary role can and cannot do
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse

SELECT nicelogin_set_jwks(:'jwks');

SET ROLE regress_nl_app;
-- verification works without any privilege on the extension's tables
SELECT nicelogin_verify(:'rs256') AS verified, nicelogin_check(:'expired') AS reason,
       nicelogin_claims(:'rs256') ->> 'email' AS email,
       nicelogin_jws_verify(:'rs256', :'jwks') AS jws;
-- but nothing stored is readable or writable
SELECT * FROM nicelogin_keys;
SELECT * FROM nicelogin_key_list;
SELECT * FROM nicelogin_deactivated_users;
SELECT * FROM nicelogin_revocations;
INSERT INTO nicelogin_keys (kty, jwk) VALUES ('RSA', '{}');
DELETE FROM nicelogin_deactivated_users;
SELECT nicelogin_set_jwks(:'jwks');
SELECT nicelogin_revoke_jti('x');
SELECT * FROM nicelogin_revocation_list;
SELECT * FROM nicelogin_deactivation_list;
SELECT nicelogin_unrevoke_jti('x');
SELECT nicelogin_unrevoke_sid('x');
SELECT nicelogin_refresh_jwks();
SELECT nicelogin_deactivate('11111111-1111-4111-8111-111111111111');
RESET ROLE;

-- Nothing the extension creates is granted to PUBLIC, except the functions
-- that verify and read the request's claims, and the RLS audit (it reads
-- only catalogs that every role can read).
SELECT p.oid::regprocedure AS public_function
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nicelogin')
   AND d.classid = 'pg_proc'::regclass
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT') AS sel,
       has_table_privilege('public', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') AS write
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nicelogin')
   AND d.classid = 'pg_class'::regclass
 ORDER BY 1;

-- verification functions are STABLE PARALLEL SAFE, never IMMUTABLE
SELECT proname, provolatile, proparallel, proisstrict, prosecdef
  FROM pg_proc WHERE proname LIKE 'nicelogin%' ORDER BY proname, pronargs;
-- every function is documented
SELECT count(*) AS undocumented FROM pg_proc p
 WHERE proname LIKE 'nicelogin%' AND obj_description(p.oid, 'pg_proc') IS NULL;
