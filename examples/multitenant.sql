-- examples/multitenant.sql: a multi-tenant schema whose row-level security
-- trusts only verified NiceLogin claims.
--
-- Run as the owner of the schema (not as the application's role).  The
-- application connects as "app", which owns nothing, and hands each
-- request's token to the database inside its transaction:
--
--     BEGIN;
--     SELECT set_config('nicelogin.token', $1, true);   -- $1: the bearer token
--     SELECT * FROM invoices;                            -- this tenant's rows only
--     COMMIT;
--
-- or, behind PostgREST, nothing at all: nicelogin reads the bearer token from
-- request.headers.

CREATE EXTENSION IF NOT EXISTS nicelogin;

DO $$
BEGIN
    CREATE ROLE app NOLOGIN;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;

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
    company_id  uuid NOT NULL DEFAULT nicelogin_company_id() REFERENCES companies,
    created_by  uuid DEFAULT nicelogin_user_id(),
    customer    text NOT NULL,
    amount      numeric(12, 2) NOT NULL
);
CREATE INDEX ON invoices (company_id);

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;

-- A tenant sees its own company and colleagues, read-only.
CREATE POLICY tenant_read ON companies FOR SELECT TO app
    USING (id = nicelogin_company_id());
CREATE POLICY tenant_read ON users FOR SELECT TO app
    USING (company_id = nicelogin_company_id());

-- Invoices: read and write only the tenant's rows, and never move a row to
-- another tenant (WITH CHECK).
CREATE POLICY tenant_select ON invoices FOR SELECT TO app
    USING (company_id = nicelogin_company_id());
CREATE POLICY tenant_insert ON invoices FOR INSERT TO app
    WITH CHECK (company_id = nicelogin_company_id());
CREATE POLICY tenant_update ON invoices FOR UPDATE TO app
    USING (company_id = nicelogin_company_id())
    WITH CHECK (company_id = nicelogin_company_id());
CREATE POLICY tenant_delete ON invoices FOR DELETE TO app
    USING (company_id = nicelogin_company_id());

GRANT SELECT ON companies, users TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON invoices TO app;
