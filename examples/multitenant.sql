-- examples/multitenant.sql: a multi-tenant schema whose row-level security
-- trusts only verified NiceLogin claims.
--
-- Run as a superuser, in one transaction (all or nothing):
--
--     psql -v ON_ERROR_STOP=1 -d mydb -f examples/multitenant.sql
--
-- It installs nicelogin as the README recommends, in a schema of its own that
-- only superusers can write (a superuser's CREATE SCHEMA makes it so), unless
-- the database has it already (then in schema nicelogin, or this stops), and
-- calls its functions schema-qualified.  The application connects as "app",
-- which owns nothing, and hands each request's token to the database inside
-- its transaction:
--
--     BEGIN;
--     SELECT set_config('nicelogin.token', $1, true);   -- $1: the bearer token
--     SELECT * FROM invoices;                            -- this tenant's rows only
--     COMMIT;
--
-- or, behind PostgREST, nothing at all: nicelogin reads the bearer token from
-- request.headers.  The policies compare company_id with
-- (SELECT nicelogin.nicelogin_company_id()): a scalar subquery is evaluated
-- once per statement (an InitPlan), so a scan costs what it would with a
-- constant; the bare call would run once per row of a sequential scan.

BEGIN;

CREATE SCHEMA IF NOT EXISTS nicelogin;
CREATE EXTENSION IF NOT EXISTS nicelogin SCHEMA nicelogin;
DO $$
BEGIN
    IF (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'nicelogin') <> 'nicelogin' THEN
        RAISE EXCEPTION 'extension "nicelogin" is installed in schema %, not in schema nicelogin',
            (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'nicelogin')
            USING HINT = 'Move it (ALTER EXTENSION nicelogin SET SCHEMA nicelogin;) or use a new database.';
    END IF;
END
$$;

DO $$
BEGIN
    CREATE ROLE app NOLOGIN;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;
GRANT USAGE ON SCHEMA nicelogin TO app;

CREATE TABLE companies (
    id      uuid PRIMARY KEY,
    name    text NOT NULL
);

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    company_id  uuid NOT NULL REFERENCES companies,
    email       text NOT NULL
);
CREATE INDEX ON users (company_id);

CREATE TABLE invoices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  uuid NOT NULL DEFAULT nicelogin.nicelogin_company_id() REFERENCES companies,
    created_by  uuid DEFAULT nicelogin.nicelogin_user_id(),
    customer    text NOT NULL,
    amount      numeric(12, 2) NOT NULL
);
CREATE INDEX ON invoices (company_id);

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;

-- A tenant sees its own company and colleagues, read-only.
CREATE POLICY tenant_read ON companies FOR SELECT TO app
    USING (id = (SELECT nicelogin.nicelogin_company_id()));
CREATE POLICY tenant_read ON users FOR SELECT TO app
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()));

-- Invoices: read and write only the tenant's rows, and never move a row to
-- another tenant (WITH CHECK).  (A column default cannot hold a subquery: the
-- defaults above call the functions themselves, once per inserted row.)
CREATE POLICY tenant_select ON invoices FOR SELECT TO app
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()));
CREATE POLICY tenant_insert ON invoices FOR INSERT TO app
    WITH CHECK (company_id = (SELECT nicelogin.nicelogin_company_id()));
CREATE POLICY tenant_update ON invoices FOR UPDATE TO app
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()))
    WITH CHECK (company_id = (SELECT nicelogin.nicelogin_company_id()));
CREATE POLICY tenant_delete ON invoices FOR DELETE TO app
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()));

GRANT SELECT ON companies, users TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON invoices TO app;

COMMIT;
