-- examples/pgtap/multitenant_test.sql: pgTAP tests of the policies of
-- examples/multitenant.sql, with real signed tokens from nicelogin_test instead
-- of a live identity provider.
--
-- In a test database, as a superuser, once:
--
--     psql -v ON_ERROR_STOP=1 -d testdb -f examples/multitenant.sql   # nicelogin in schema nicelogin
--     psql -d testdb -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION nicelogin_test'
--
-- then, every time:
--
--     pg_prove -d testdb examples/pgtap/multitenant_test.sql
--
-- Everything happens in one transaction that is rolled back: the rows, the
-- deactivation, and the test key (its public half replaces the stored key set
-- until the rollback; the private half lives in this session's memory only).

BEGIN;
SELECT plan(21);

-- a fresh key; nicelogin now trusts it (for this transaction)
SELECT ok(nicelogin_test.use_test_key(nicelogin_test.generate_key('ES256')) IS NOT NULL, 'a test key is stored');

-- two tenants: Acme (Alice, Dave) and Globex (Bob)
INSERT INTO companies VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Acme'),
                             ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Globex');
INSERT INTO users VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'alice@acme.example'),
                         ('44444444-4444-4444-8444-444444444444', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'dave@acme.example'),
                         ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'bob@globex.example');
INSERT INTO invoices (company_id, customer, amount)
VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'acme 1', 10),
       ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'acme 2', 20),
       ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'globex 1', 30);

-- Alice, of Acme: her tenant's rows only, and no write into Globex
SELECT is(nicelogin.nicelogin_check(nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111",
                                                                     "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}')),
          'valid', 'Alice signs in');
SET LOCAL ROLE app;
SELECT results_eq('SELECT customer FROM invoices ORDER BY customer', ARRAY['acme 1', 'acme 2'],
                  'Alice sees the invoices of Acme only');
SELECT results_eq('SELECT name FROM companies', ARRAY['Acme'], 'Alice sees her company only');
SELECT results_eq('SELECT email FROM users ORDER BY email', ARRAY['alice@acme.example', 'dave@acme.example'],
                  'Alice sees her colleagues only');
SELECT lives_ok($$INSERT INTO invoices (customer, amount) VALUES ('by alice', 5)$$,
                'Alice adds an invoice');
SELECT is((SELECT company_id FROM invoices WHERE customer = 'by alice'), 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid,
          'the new invoice belongs to Acme');
SELECT throws_ok($$INSERT INTO invoices (company_id, customer, amount)
                   VALUES ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'into globex', 1)$$,
                 '42501', 'new row violates row-level security policy for table "invoices"',
                 'Alice cannot add an invoice to Globex');
SELECT throws_ok($$UPDATE invoices SET company_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb' WHERE customer = 'acme 1'$$,
                 '42501', 'new row violates row-level security policy for table "invoices"',
                 'Alice cannot move an invoice to Globex');
UPDATE invoices SET amount = 0 WHERE customer = 'globex 1';
DELETE FROM invoices WHERE customer = 'globex 1';
RESET ROLE;
SELECT is((SELECT amount FROM invoices WHERE customer = 'globex 1'), 30.00,
          'Alice''s update and delete of a Globex invoice changed nothing');

-- Bob, of Globex
SELECT is(nicelogin.nicelogin_check(nicelogin_test.authenticate_as('{"sub": "22222222-2222-4222-8222-222222222222",
                                                                     "company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}')),
          'valid', 'Bob signs in');
SET LOCAL ROLE app;
SELECT results_eq('SELECT customer FROM invoices ORDER BY customer', ARRAY['globex 1'],
                  'Bob sees the invoices of Globex only');
SELECT results_eq('SELECT email FROM users', ARRAY['bob@globex.example'], 'Bob sees his colleagues only');
RESET ROLE;

-- Dave, of Acme, deactivated: his genuine, unexpired token is refused
INSERT INTO nicelogin.nicelogin_deactivated_users (user_id) VALUES ('44444444-4444-4444-8444-444444444444');
SELECT is(nicelogin.nicelogin_check(nicelogin_test.authenticate_as('{"sub": "44444444-4444-4444-8444-444444444444",
                                                                     "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}')),
          'user_deactivated', 'Dave''s token is refused');
SET LOCAL ROLE app;
SELECT is_empty('SELECT * FROM invoices', 'Dave sees no invoice');
SELECT is_empty('SELECT * FROM companies', 'Dave sees no company');
SELECT throws_ok($$INSERT INTO invoices (company_id, customer, amount)
                   VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'by dave', 1)$$,
                 '42501', 'new row violates row-level security policy for table "invoices"',
                 'Dave cannot add an invoice');
RESET ROLE;

-- no token, and an expired one: nothing
SELECT is(nicelogin_test.authenticate_as(NULL), NULL, 'signed out');
SET LOCAL ROLE app;
SELECT is_empty('SELECT * FROM invoices', 'without a token nothing is visible');
RESET ROLE;
SELECT is(nicelogin.nicelogin_check(nicelogin_test.authenticate_as('{"sub": "11111111-1111-4111-8111-111111111111",
                                                                     "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                                                                     "exp": 1000000000}')),
          'expired', 'Alice''s token of 2001 has expired');
SET LOCAL ROLE app;
SELECT is_empty('SELECT * FROM invoices', 'with an expired token nothing is visible');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
