-- examples/apps/seed.sql: rows for the users of the test tokens (test/fixtures/README.md):
-- Alice (admin) and Carol in company aaaaaaaa-…, Bob in company bbbbbbbb-….
-- Run as a superuser after schema.sql.
INSERT INTO members (user_id, company_id, email) VALUES
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'alice@acme.example'),
    ('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'carol@acme.example'),
    ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'bob@globex.example');
INSERT INTO notes (company_id, author, body) VALUES
    ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111', 'Acme: order more anvils'),
    ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '33333333-3333-4333-8333-333333333333', 'Acme: test the rocket skates'),
    ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '22222222-2222-4222-8222-222222222222', 'Globex: hire a new CEO');
