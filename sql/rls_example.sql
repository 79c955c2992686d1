-- rls_example: examples/multitenant.sql driven as the app role
\set ECHO none
\i test/fixtures/tokens.sql
SET client_min_messages = warning;
\i examples/multitenant.sql
RESET client_min_messages;
\set ECHO all
\set VERBOSITY terse

SELECT nicelogin_set_jwks(:'jwks');
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

-- the policy uses the index on company_id
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
EXPLAIN (COSTS OFF) SELECT * FROM invoices;
COMMIT;

RESET ROLE;
SELECT c.name, count(*) AS invoices FROM invoices i JOIN companies c ON c.id = i.company_id
 WHERE c.name IN ('Acme', 'Globex') GROUP BY c.name ORDER BY c.name;
DROP TABLE invoices, users, companies;
