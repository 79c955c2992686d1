-- move: ALTER EXTENSION nicelogin SET SCHEMA moves every object, and
-- everything keeps working in a session that used the old schema (its
-- caches) and in a new one: verification, RLS policies and defaults that
-- call the functions, the revocation and deactivation lookups, the admin and
-- API functions, the fetch record.  In a database of its own.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
\set SHOW_CONTEXT never
\! python3 test/nicelogin_ctl.py reset
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_nl_move;
DROP ROLE IF EXISTS regress_nl_move_app;
RESET client_min_messages;
CREATE DATABASE regress_nl_move;
CREATE ROLE regress_nl_move_app NOLOGIN;
\c regress_nl_move
CREATE SCHEMA nl_old;
CREATE EXTENSION nicelogin SCHEMA nl_old;
SELECT nl_old.nicelogin_set_jwks(:'jwks') AS keys;
-- an application schema whose policies and defaults call the functions
CREATE TABLE invoices (
    id          int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  uuid NOT NULL DEFAULT nl_old.nicelogin_company_id(),
    customer    text NOT NULL
);
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON invoices TO regress_nl_move_app
    USING (company_id = nl_old.nicelogin_company_id())
    WITH CHECK (company_id = nl_old.nicelogin_company_id());
GRANT SELECT, INSERT ON invoices TO regress_nl_move_app;
GRANT USAGE ON SCHEMA nl_old TO regress_nl_move_app;
INSERT INTO invoices (company_id, customer) VALUES
    ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'acme customer'),
    ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'globex customer');
SELECT nl_old.nicelogin_revoke_sid('sid-alice-1', now() + interval '1 day');
INSERT INTO nl_old.nicelogin_deactivated_users (user_id) VALUES ('33333333-3333-4333-8333-333333333333');
-- this session uses everything once before the move (its caches are warm)
SELECT nl_old.nicelogin_check(:'rs256') AS alice, nl_old.nicelogin_check(:'bob') AS bob,
       nl_old.nicelogin_check(:'alice2') AS carol;
SET ROLE regress_nl_move_app;
SET nicelogin.token = :'bob';
SELECT customer FROM invoices;
RESET ROLE;

-- the move
CREATE SCHEMA nl_new;
ALTER EXTENSION nicelogin SET SCHEMA nl_new;
SELECT n.nspname, count(*) AS functions FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'nicelogin%' GROUP BY 1;
SELECT n.nspname, string_agg(c.relname, ', ' ORDER BY c.relname) AS relations
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname LIKE 'nicelogin%' AND c.relkind IN ('r', 'v') GROUP BY 1;
SELECT extnamespace::regnamespace, extrelocatable FROM pg_extension WHERE extname = 'nicelogin';
-- the policy and the default now name the functions in the new schema
SELECT pg_get_expr(polqual, polrelid) AS policy FROM pg_policy WHERE polname = 'tenant';
SELECT pg_get_expr(adbin, adrelid) AS default FROM pg_attrdef WHERE adrelid = 'invoices'::regclass;

-- the same session: verification, the lists, RLS, the default
SELECT nl_new.nicelogin_check(:'rs256') AS alice, nl_new.nicelogin_check(:'bob') AS bob,
       nl_new.nicelogin_check(:'alice2') AS carol, nl_new.nicelogin_check(:'expired') AS expired;
GRANT USAGE ON SCHEMA nl_new TO regress_nl_move_app;
SET ROLE regress_nl_move_app;
SELECT customer FROM invoices;
INSERT INTO invoices (customer) VALUES ('new globex customer');
INSERT INTO invoices (company_id, customer) VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'cross-tenant');
SELECT customer FROM invoices ORDER BY id;
RESET nicelogin.token;
SELECT count(*) AS without_token FROM invoices;
RESET ROLE;
-- key changes, revocations and deactivations reach the caches as before
-- (from the next statement on)
SELECT nl_new.nicelogin_unrevoke_sid('sid-alice-1') AS unrevoked;
SELECT nl_new.nicelogin_check(:'rs256') AS alice;
DELETE FROM nl_new.nicelogin_deactivated_users;
SELECT nl_new.nicelogin_check(:'alice2') AS carol;
SELECT nl_new.nicelogin_revoke_token(:'rs256') AS revoked;
SELECT nl_new.nicelogin_check(:'rs256') AS alice;
SELECT kind, value FROM nl_new.nicelogin_revocation_list;
SELECT nl_new.nicelogin_unrevoke_jti('jti-alice-1') AS unrevoked;
SELECT nl_new.nicelogin_purge_revocations() AS purged;
SELECT nl_new.nicelogin_set_jwks(:'jwks_hs') AS keys, nl_new.nicelogin_check(:'rs256') AS rs256,
       nl_new.nicelogin_check(:'hs256') AS hs256;
-- the API functions: the refresh stores the keys and its record, deactivate records the user
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';
SELECT nl_new.nicelogin_refresh_jwks() > 0 AS refreshed, nl_new.nicelogin_check(:'bob') AS bob;
SELECT last_fetch_by = session_user AS by_me, last_fetch_keys = keys_stored AS all_stored
  FROM nl_new.nicelogin_jwks_state;
SELECT nl_new.nicelogin_deactivate('22222222-2222-4222-8222-222222222222') AS deactivated,
       nl_new.nicelogin_check(:'bob') AS bob;
SELECT user_id FROM nl_new.nicelogin_deactivation_list;
SELECT nl_new.nicelogin_activate('22222222-2222-4222-8222-222222222222') AS activated,
       nl_new.nicelogin_check(:'bob') AS bob;
SELECT nl_new.nicelogin_set_jwks(:'jwks') AS keys;
SET nicelogin.token = :'rs256';
SELECT nl_new.nicelogin_company_id() AS company;
SELECT nl_new.nicelogin_revoke_current_session() AS logged_out;
SELECT nl_new.nicelogin_company_id() AS company;
RESET nicelogin.token;

-- a new session
\c
SELECT nl_new.nicelogin_check(:'rs256') AS alice, nl_new.nicelogin_check(:'bob') AS bob;
SET ROLE regress_nl_move_app;
SET nicelogin.token = :'bob';
SELECT customer FROM invoices ORDER BY id;
RESET nicelogin.token;
RESET ROLE;
-- and back: a move is repeatable
ALTER EXTENSION nicelogin SET SCHEMA nl_old;
SELECT nl_old.nicelogin_check(:'bob') AS bob, nl_old.nicelogin_unrevoke_sid('sid-alice-1') AS unrevoked;
SELECT nl_old.nicelogin_check(:'rs256') AS alice;

-- 1.0 (its script names its schema) cannot move; updated to 1.1 it can
DROP EXTENSION nicelogin CASCADE;
CREATE EXTENSION nicelogin VERSION '1.0' SCHEMA nl_old;
SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'nicelogin';
ALTER EXTENSION nicelogin SET SCHEMA nl_new;
ALTER EXTENSION nicelogin UPDATE TO '1.1';
SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'nicelogin';
ALTER EXTENSION nicelogin SET SCHEMA nl_new;
SELECT nl_new.nicelogin_set_jwks(:'jwks') AS keys, nl_new.nicelogin_revoke_jti('jti-alice-1') IS NULL AS revoked;
SELECT nl_new.nicelogin_check(:'rs256') AS alice;
SELECT nl_new.nicelogin_unrevoke_jti('jti-alice-1') AS unrevoked;
SELECT nl_new.nicelogin_check(:'rs256') AS alice_again;

\c :regress_db
DROP DATABASE regress_nl_move;
DROP ROLE regress_nl_move_app;
