-- rls_example: examples/multitenant.sql loaded as its header says, as a superuser into a new
-- database (it installs nicelogin in schema nicelogin), then driven as the app role
\set ECHO none
\i test/fixtures/tokens.sql
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_nl_rls_example;
CREATE DATABASE regress_nl_rls_example;
\c regress_nl_rls_example
SET client_min_messages = warning;
\i examples/multitenant.sql
RESET client_min_messages;
\set ECHO all
\set VERBOSITY terse

-- nicelogin in schema nicelogin, which a superuser owns
SELECT extnamespace::regnamespace AS nicelogin_schema,
       (SELECT rolsuper FROM pg_roles WHERE oid = nspowner) AS owner_is_superuser
  FROM pg_extension JOIN pg_namespace n ON n.oid = extnamespace WHERE extname = 'nicelogin';
SELECT nicelogin.nicelogin_set_jwks(:'jwks');
-- two tenants from the fixtures (acme: alice and carol; globex: bob) and 98 more
INSERT INTO companies VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Acme'),
                             ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Globex');
INSERT INTO companies SELECT gen_random_uuid(), 'tenant ' || i FROM generate_series(1, 98) i;
INSERT INTO users VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'alice@acme.example'),
                         ('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'carol@acme.example'),
                         ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'bob@globex.example');
INSERT INTO invoices (company_id, customer, amount)
  SELECT c.id, 'customer ' || i, i FROM companies c, generate_series(1, 50) i;
ANALYZE companies, users, invoices;

SET ROLE app;

-- no token: nothing visible, nothing writable
SELECT count(*) AS invoices, (SELECT count(*) FROM companies) AS companies FROM invoices;
INSERT INTO invoices (company_id, customer, amount) VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'no token', 1);

-- Alice (acme) through nicelogin.token
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
SELECT c.name, count(i.*) AS invoices, sum(i.amount) AS total
  FROM companies c LEFT JOIN invoices i ON i.company_id = c.id GROUP BY c.name;
SELECT email FROM users ORDER BY email;
INSERT INTO invoices (customer, amount) VALUES ('by alice', 10) RETURNING company_id, created_by, customer;
UPDATE invoices SET amount = amount + 1 WHERE company_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
DELETE FROM invoices WHERE company_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
COMMIT;
-- ... and cannot write into another tenant or move a row there
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
INSERT INTO invoices (company_id, customer, amount) VALUES ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'into globex', 1);
ROLLBACK;
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
UPDATE invoices SET company_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb' WHERE customer = 'by alice';
ROLLBACK;

-- Carol, same company, another user: same rows
BEGIN;
SET LOCAL nicelogin.token = :'alice2';
SELECT count(*) AS acme_invoices, count(*) FILTER (WHERE customer = 'by alice') AS alices FROM invoices;
COMMIT;

-- Bob (globex) through PostgREST's request.headers
BEGIN;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'bob')::text, true) IS NOT NULL AS set;
SELECT c.name, count(*) AS invoices FROM invoices i JOIN companies c ON c.id = i.company_id GROUP BY c.name;
DELETE FROM invoices WHERE customer = 'customer 1';
SELECT count(*) AS globex_left FROM invoices;
COMMIT;

-- a forged token, an expired token, alg none, a confused key: nothing
SELECT name, set_config('nicelogin.token', token, false) IS NOT NULL AS set,
       (SELECT count(*) FROM invoices WHERE v.token IS NOT NULL) AS invoices
  FROM (VALUES ('forged', :'rs256_bad_sig'), ('expired', :'bob_expired'), ('alg none', :'alg_none'),
               ('hs256 with rsa key', :'hs256_confusion_pem'), ('unknown kid', :'unknown_kid')) AS v(name, token);
BEGIN;
SET LOCAL nicelogin.token = :'rs256_bad_sig';
INSERT INTO invoices (company_id, customer, amount) VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'forged', 1);
ROLLBACK;
RESET nicelogin.token;

-- EXPLAIN, with the InitPlan printed as on 15 ($0; 17 and 18 print (InitPlan 1).col1, 19
-- (InitPlan expr_1).col1 and names it InitPlan expr_1)
RESET ROLE;
CREATE FUNCTION pg_temp.plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        RETURN NEXT replace(replace(replace(replace(line, '(InitPlan 1).col1', '$0'), '(InitPlan expr_1).col1', '$0'),
                            'InitPlan 1 (returns $0)', 'InitPlan 1'), 'InitPlan expr_1', 'InitPlan 1');
    END LOOP;
END
$$;
SET ROLE app;
-- the policy's subquery is an InitPlan: the function runs once per statement, and the scan
-- uses the index on company_id with its value
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
SELECT pg_temp.plan('SELECT * FROM invoices');
COMMIT;
-- ... once per statement in a sequential scan too (the bare call would run for each of the
-- 5,000 rows): the calls of nicelogin_company_id() made by one count(*) of all invoices
RESET ROLE;
SET track_functions = 'all';
SET ROLE app;
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_temp.plan('SELECT count(*) FROM invoices');
SELECT count(*) AS acme_invoices FROM invoices;
SELECT pg_stat_get_xact_function_calls('nicelogin.nicelogin_company_id()'::regprocedure) AS calls;
COMMIT;

RESET ROLE;
RESET track_functions;
SELECT c.name, count(*) AS invoices FROM invoices i JOIN companies c ON c.id = i.company_id
 WHERE c.name IN ('Acme', 'Globex') GROUP BY c.name ORDER BY c.name;

\c :regress_db
DROP DATABASE regress_nl_rls_example;
