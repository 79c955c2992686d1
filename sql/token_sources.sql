-- token_sources: nicelogin.token is the request's own; a value stored per
-- role, per database, for a function or in the server configuration would
-- give every session a default identity, and is refused
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
SELECT current_database() AS regress_db, current_user AS regress_user \gset
SELECT nicelogin_set_jwks(:'jwks');
CREATE ROLE regress_nl_tok LOGIN;

-- refused where it would be stored (the library is loaded in this session)
ALTER ROLE regress_nl_tok SET nicelogin.token = :'rs256';
ALTER ROLE regress_nl_tok IN DATABASE :"regress_db" SET nicelogin.token = :'rs256';
ALTER ROLE ALL SET nicelogin.token = :'rs256';
ALTER DATABASE :"regress_db" SET nicelogin.token = :'rs256';
CREATE FUNCTION regress_nl_tok_fn() RETURNS text LANGUAGE sql
    SET nicelogin.token = 'eyJhbGciOiJSUzI1NiJ9.e30.AAAA' RETURN nicelogin_token();
ALTER SYSTEM SET nicelogin.token = :'rs256';
SELECT count(*) AS stored FROM pg_db_role_setting
 WHERE array_to_string(setconfig, ' ') LIKE '%nicelogin.token%';
-- an empty value gives no identity: taken from anywhere
ALTER ROLE regress_nl_tok SET nicelogin.token = '';
ALTER ROLE regress_nl_tok RESET nicelogin.token;

-- the session's own ways keep working: SET, SET LOCAL, set_config
SET ROLE regress_nl_tok;
SET nicelogin.token = :'rs256';
SELECT nicelogin_check(nicelogin_token()) AS session_set;
RESET nicelogin.token;
BEGIN;
SET LOCAL nicelogin.token = :'bob';
SELECT nicelogin_user_id() AS set_local;
COMMIT;
BEGIN;
SELECT set_config('nicelogin.token', :'rs256', true) IS NOT NULL AS set_config;
SELECT nicelogin_user_id() AS in_transaction;
COMMIT;
RESET ROLE;

-- a value stored as a placeholder, before the library was loaded (a new
-- session: nothing of nicelogin is loaded yet), is refused when the library
-- loads: a session of that role gets no identity
\c
ALTER ROLE regress_nl_tok SET nicelogin.token = :'rs256';
ALTER DATABASE :"regress_db" SET nicelogin.token = :'bob';
\c - regress_nl_tok
SELECT nicelogin_token() IS NULL AS no_token, nicelogin_user_id() IS NULL AS no_user,
       nicelogin_company_id() IS NULL AS no_company, current_setting('nicelogin.token') AS setting;
-- and SET still works in such a session
SET nicelogin.token = :'rs256';
SELECT nicelogin_check(nicelogin_token()) AS session_set;
\c - :"regress_user"
ALTER ROLE regress_nl_tok RESET nicelogin.token;
ALTER DATABASE :"regress_db" RESET nicelogin.token;
DROP ROLE regress_nl_tok;
