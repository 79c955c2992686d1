-- Copies of nicelogin.api_secret in catalogs that every role can read: settings of
-- roles and databases (pg_db_role_setting, shared by all databases) and SET clauses
-- of functions (pg_proc.proconfig).  A session that has not loaded the library
-- accepts them as placeholders.  The secret in use is refused wherever a copy of it
-- is stored; a stored copy applied at session start is dropped without a warning to
-- that session; the install and upgrade scripts warn the superuser.
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db, current_user AS regress_user \gset
CREATE ROLE regress_nl_leaky LOGIN;
CREATE ROLE regress_nl_admin;
GRANT EXECUTE ON FUNCTION nicelogin_deactivate(uuid), nicelogin_activate(uuid) TO regress_nl_admin;
-- a new session: the library is not loaded, so these are accepted as placeholders
\c
ALTER ROLE regress_nl_leaky SET nicelogin.api_secret = 'test-api-secret';
ALTER ROLE ALL SET nicelogin.api_secret = 'test-api-secret';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET nicelogin.api_secret = %L', current_database(), 'test-api-secret'); END $$;
DO $$ BEGIN EXECUTE format('ALTER ROLE regress_nl_leaky IN DATABASE %I SET nicelogin.api_secret = %L', current_database(), 'an-old-secret'); END $$;
CREATE FUNCTION nl_leaky_deactivate(uuid) RETURNS boolean LANGUAGE sql
    SET nicelogin.api_secret = 'test-api-secret'
    AS 'SELECT nicelogin_deactivate($1)';
-- any role reads them
SET ROLE regress_nl_leaky;
SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ' ') LIKE '%test-api-secret%';
SELECT proconfig FROM pg_proc WHERE proname = 'nl_leaky_deactivate';
RESET ROLE;

-- a session of a role with stored copies: no warning when the library loads, and
-- the stored value is never used
\c - regress_nl_leaky
SELECT nicelogin_verify('x');
-- insufficient_privilege (42501); 15 and 16+ word it differently
\set VERBOSITY sqlstate
SHOW nicelogin.api_secret;
\set VERBOSITY default
\c - :regress_user
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
-- the stored copy (ALTER ROLE ALL, ALTER DATABASE) replaced the secret in this session
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\echo :LAST_ERROR_SQLSTATE

-- a superuser's SET of the same value: refused while a copy is stored, and the
-- message names where (never the value)
SET nicelogin.api_secret = 'test-api-secret';
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_nl_admin;
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
RESET ROLE;
ALTER ROLE regress_nl_leaky RESET nicelogin.api_secret;
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
ALTER ROLE ALL RESET nicelogin.api_secret;
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET nicelogin.api_secret', current_database()); END $$;
-- the function's SET clause is applied like a superuser's SET: still refused
RESET nicelogin.api_secret;
SELECT nl_leaky_deactivate('22222222-2222-4222-8222-222222222222');
\echo :LAST_ERROR_SQLSTATE
ALTER FUNCTION nl_leaky_deactivate(uuid) RESET nicelogin.api_secret;
-- a stored copy of another value (an old secret) does not stop the one in use
SET nicelogin.api_secret = 'test-api-secret';
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
SELECT count(*) FROM nicelogin_deactivated_users;

-- with the library loaded, storing the secret is refused
ALTER ROLE regress_nl_leaky SET nicelogin.api_secret = 'test-api-secret';
CREATE FUNCTION nl_leaky2() RETURNS int LANGUAGE sql
    SET nicelogin.api_secret = 'test-api-secret' AS 'SELECT 1';

-- CREATE EXTENSION and ALTER EXTENSION UPDATE warn the superuser about every
-- stored copy (here: the old secret of regress_nl_leaky, and a function's SET clause
-- and the database's setting stored before the library was loaded)
CREATE DATABASE regress_nl_secrets;
\c regress_nl_secrets
ALTER DATABASE regress_nl_secrets SET nicelogin.api_secret = 'test-api-secret';
CREATE FUNCTION nl_leaky3() RETURNS int LANGUAGE sql
    SET nicelogin.api_secret = 'test-api-secret' AS 'SELECT 1';
CREATE EXTENSION nicelogin;
DROP EXTENSION nicelogin;
CREATE EXTENSION nicelogin VERSION '1.0';
ALTER EXTENSION nicelogin UPDATE TO '1.1';
DROP EXTENSION nicelogin;
\c :regress_db
DROP DATABASE regress_nl_secrets;

DO $$ BEGIN EXECUTE format('ALTER ROLE regress_nl_leaky IN DATABASE %I RESET nicelogin.api_secret', current_database()); END $$;
SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ' ') LIKE '%api_secret%';
DROP FUNCTION nl_leaky_deactivate(uuid);
REVOKE ALL ON FUNCTION nicelogin_deactivate(uuid), nicelogin_activate(uuid) FROM regress_nl_admin;
DROP ROLE regress_nl_leaky;
DROP ROLE regress_nl_admin;
