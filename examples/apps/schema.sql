-- examples/apps/schema.sql: the database the example apps (examples/apps/*) share.
--
-- Run as a superuser, in a new database (it installs nicelogin as the README
-- recommends: in schema nicelogin, which only superusers can write, and calls
-- its functions schema-qualified):
--
--     createdb notes
--     psql -v ON_ERROR_STOP=1 -d notes -f examples/apps/schema.sql
--
-- then store NiceLogin's keys (SELECT nicelogin.nicelogin_set_jwks('…');, or
-- let the refresh worker fetch them) and give the two login roles passwords.
--
-- The apps connect as notes_app, which owns nothing and is not a superuser, so
-- row-level security applies to every query they make: a request sees and
-- writes its own tenant's rows only, and only while its token verifies.  The
-- admin endpoints connect as notes_admin, which may call NiceLogin's admin
-- API functions and nothing else.

CREATE SCHEMA nicelogin;
CREATE EXTENSION nicelogin SCHEMA nicelogin;

CREATE ROLE notes_app LOGIN;
CREATE ROLE notes_admin LOGIN;
GRANT USAGE ON SCHEMA nicelogin TO notes_app, notes_admin;

-- Who belongs to which company (the admin endpoints look a user up here).
CREATE TABLE members (
    user_id     uuid PRIMARY KEY,
    company_id  uuid NOT NULL,
    email       text NOT NULL
);

CREATE TABLE notes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  uuid NOT NULL DEFAULT nicelogin.nicelogin_company_id(),
    author      uuid NOT NULL DEFAULT nicelogin.nicelogin_user_id(),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON notes (company_id);

-- ENABLE makes the policies apply to notes_app; FORCE makes them apply to the
-- tables' owner too (superusers bypass them whatever is set).
ALTER TABLE members ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- The functions in scalar subqueries: each is evaluated once per statement (an
-- InitPlan), so a scan costs what it would with constants; the bare call would
-- run once per row of a sequential scan.  (Column defaults cannot hold a
-- subquery: they call the functions themselves, once per inserted row.)
CREATE POLICY tenant ON members
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()));
-- WITH CHECK: a row written into another company (or in another user's name)
-- is refused with "new row violates row-level security policy".
CREATE POLICY tenant ON notes
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()))
    WITH CHECK (company_id = (SELECT nicelogin.nicelogin_company_id())
                AND author = (SELECT nicelogin.nicelogin_user_id()));

GRANT SELECT ON members TO notes_app;
GRANT SELECT, INSERT (company_id, body) ON notes TO notes_app;

-- NiceLogin's API (see the README's "The NiceLogin API from SQL"): the password
-- functions for the app, the admin ones for notes_admin.  activate/deactivate
-- need nicelogin.api_secret in postgresql.conf with
-- shared_preload_libraries = 'nicelogin'.
GRANT EXECUTE ON FUNCTION nicelogin.nicelogin_request_password_reset(text),
      nicelogin.nicelogin_reset_password(text, text, text, text) TO notes_app;
GRANT EXECUTE ON FUNCTION nicelogin.nicelogin_deactivate(uuid),
      nicelogin.nicelogin_activate(uuid) TO notes_admin;
