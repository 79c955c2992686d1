-- rls_audit: nicelogin_rls_audit(role) lists what would make the policies
-- that call nicelogin not protect a role.  A database of its own, set up as
-- the README recommends (the extension in schema nicelogin); each fault is
-- set up, seen, and removed again, and then nothing is found.
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_nl_audit;
\c regress_nl_audit
\set VERBOSITY terse
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_nl_audit_app, regress_nl_audit_owner, regress_nl_audit_bypass,
    regress_nl_audit_su, regress_nl_audit_other, regress_nl_audit_mid;
RESET client_min_messages;
CREATE ROLE regress_nl_audit_app;      -- the role the API connects as
CREATE ROLE regress_nl_audit_owner;    -- owns the tables
CREATE ROLE regress_nl_audit_bypass BYPASSRLS;
CREATE ROLE regress_nl_audit_su SUPERUSER;
CREATE ROLE regress_nl_audit_other;
CREATE ROLE regress_nl_audit_mid;

-- Before the audit, the install's own check.  A schema where another role
-- created a function and an operator while it could (it no longer can): the
-- schema is writable by superusers only, but what was planted stays, and
-- CREATE EXTENSION refuses it, listing what to drop.
CREATE SCHEMA nl;
GRANT CREATE, USAGE ON SCHEMA nl TO regress_nl_audit_other;
SET ROLE regress_nl_audit_other;
CREATE FUNCTION nl.nicelogin_verify(token varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION nl.same(int, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR nl.= (LEFTARG = int, RIGHTARG = text, FUNCTION = nl.same);
RESET ROLE;
REVOKE CREATE ON SCHEMA nl FROM regress_nl_audit_other;
CREATE TEMP TABLE planted_refusal (message text, hint text);
DO $$
DECLARE m text; h text;
BEGIN
    CREATE EXTENSION nicelogin SCHEMA nl;
EXCEPTION WHEN insufficient_privilege THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    INSERT INTO planted_refusal VALUES (m, h);
END $$;
\x on
SELECT * FROM planted_refusal;
\x off
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'nicelogin';
DROP SCHEMA nl CASCADE;

-- A schema nicelogin that another
-- role owns (and has put a function in): CREATE EXTENSION refuses it, with a
-- hint that fits (no CREATE SCHEMA: one exists; the function stays its
-- owner's after ALTER SCHEMA ... OWNER) and no PL/pgSQL context line.
CREATE SCHEMA nicelogin AUTHORIZATION regress_nl_audit_app;
CREATE FUNCTION nicelogin.nicelogin_company_id(varchar) RETURNS uuid LANGUAGE sql
    AS $$ SELECT NULL::uuid $$;
ALTER FUNCTION nicelogin.nicelogin_company_id(varchar) OWNER TO regress_nl_audit_app;
CREATE TEMP TABLE refusal (message text, hint text, plpgsql_context boolean);
DO $$
DECLARE m text; h text; c text;
BEGIN
    CREATE EXTENSION nicelogin SCHEMA nicelogin;
EXCEPTION WHEN insufficient_privilege THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT, c = PG_EXCEPTION_CONTEXT;
    -- the context of this DO block's own statement is "at SQL statement"
    INSERT INTO refusal VALUES (m, replace(h, quote_ident(current_user), 'CURRENT_USER'),
                                c LIKE '%at RAISE%');
END $$;
\x on
SELECT * FROM refusal;
\x off
-- the hint's way out works
DROP FUNCTION nicelogin.nicelogin_company_id(varchar);
ALTER SCHEMA nicelogin OWNER TO CURRENT_USER;
SET client_min_messages = warning;
CREATE EXTENSION nicelogin SCHEMA nicelogin;
RESET client_min_messages;
-- and the refusal's helper is gone
SELECT to_regprocedure('nicelogin.nicelogin_install_refuse(text,text,text)') AS install_refuse;

-- The clean setup: the table is another role's, RLS enabled, the policy calls
-- the extension's function, schema-qualified; a FORCEd table the role owns;
-- a security_invoker view; a permissive true policy for another role only;
-- a restrictive true policy; a policy that calls nothing of nicelogin's.
CREATE TABLE public.invoices (id int, company_id uuid);
ALTER TABLE public.invoices OWNER TO regress_nl_audit_owner;
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON public.invoices
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()));
CREATE POLICY others_only ON public.invoices FOR SELECT TO regress_nl_audit_other USING (true);
CREATE POLICY always ON public.invoices AS RESTRICTIVE USING (true);
GRANT SELECT ON public.invoices TO regress_nl_audit_app;
CREATE TABLE public.own_notes (user_id uuid, note text);
ALTER TABLE public.own_notes OWNER TO regress_nl_audit_app;
ALTER TABLE public.own_notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY mine ON public.own_notes USING (user_id = nicelogin.nicelogin_user_id());
CREATE TABLE public.plain (id int);
ALTER TABLE public.plain ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_setting ON public.plain USING (id = current_setting('app.id')::int);
ALTER TABLE public.plain DISABLE ROW LEVEL SECURITY;  -- not a nicelogin policy: not ours to judge
CREATE VIEW public.invoices_v WITH (security_invoker = true) AS SELECT * FROM public.invoices;
GRANT SELECT ON public.invoices_v TO regress_nl_audit_app;
-- a partitioned table (two levels) with the policy on the parent only, the
-- partitions not readable directly; a policy that reads verified claims
CREATE TABLE public.events (id int, company_id uuid) PARTITION BY LIST (id);
CREATE TABLE public.events_1 PARTITION OF public.events FOR VALUES IN (1, 2) PARTITION BY LIST (id);
CREATE TABLE public.events_1a PARTITION OF public.events_1 FOR VALUES IN (1);
ALTER TABLE public.events OWNER TO regress_nl_audit_owner;
ALTER TABLE public.events_1 OWNER TO regress_nl_audit_owner;
ALTER TABLE public.events_1a OWNER TO regress_nl_audit_owner;
ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON public.events
    USING (company_id = (SELECT nicelogin.nicelogin_company_id()))
    WITH CHECK ((nicelogin.nicelogin_claims(nicelogin.nicelogin_token()) ->> 'company_id')::uuid = company_id);
GRANT SELECT, INSERT ON public.events TO regress_nl_audit_app;
INSERT INTO public.events VALUES (1, '00000000-0000-0000-0000-000000000001');
GRANT USAGE ON SCHEMA nicelogin TO regress_nl_audit_app, regress_nl_audit_other;
\set audit 'SELECT problem, object, hint FROM nicelogin.nicelogin_rls_audit(''regress_nl_audit_app'')'
:audit;
-- the role runs it for itself (the default), and so can any role, for any role
SET ROLE regress_nl_audit_app;
SELECT count(*) AS found FROM nicelogin.nicelogin_rls_audit();
SET ROLE regress_nl_audit_other;
SELECT count(*) AS found FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
RESET ROLE;
SELECT nicelogin.nicelogin_rls_audit('regress_nl_audit_nosuch');
SELECT nicelogin.nicelogin_rls_audit(NULL);

-- 1. a superuser: RLS never applies (and nothing else is worth saying)
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_su');
ALTER ROLE regress_nl_audit_su NOSUPERUSER;
SELECT problem, object FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_su');

-- 2. BYPASSRLS
ALTER ROLE regress_nl_audit_app BYPASSRLS;
:audit;
ALTER ROLE regress_nl_audit_app NOBYPASSRLS;
:audit;

-- 3. a role it can SET ROLE to bypasses RLS (membership, here through another
-- role; PostgreSQL checks the current role's own attribute, so the membership
-- alone changes nothing until SET ROLE, which any session of the role can run)
GRANT regress_nl_audit_bypass TO regress_nl_audit_mid;
GRANT regress_nl_audit_mid TO regress_nl_audit_app;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE regress_nl_audit_bypass FROM regress_nl_audit_mid;
:audit;
REVOKE regress_nl_audit_mid FROM regress_nl_audit_app;
-- ... and a superuser role
GRANT regress_nl_audit_su TO regress_nl_audit_app;
ALTER ROLE regress_nl_audit_su SUPERUSER;
:audit;
REVOKE regress_nl_audit_su FROM regress_nl_audit_app;
:audit;
-- ADMIN OPTION without the membership itself (PostgreSQL 16 on: WITH SET FALSE):
-- the role can grant itself the membership
DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'GRANT regress_nl_audit_bypass TO regress_nl_audit_app WITH ADMIN TRUE, SET FALSE, INHERIT FALSE';
    ELSE
        EXECUTE 'GRANT regress_nl_audit_bypass TO regress_nl_audit_app WITH ADMIN OPTION';
    END IF;
END $$;
SELECT problem, object FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE regress_nl_audit_bypass FROM regress_nl_audit_app;
:audit;
-- CREATEROLE: before PostgreSQL 16 it could grant itself any role that is not
-- a superuser's; from 16 on only roles it was given ADMIN on
ALTER ROLE regress_nl_audit_app CREATEROLE;
SELECT count(*) FILTER (WHERE problem = 'can_become_bypassing_role' AND object = 'regress_nl_audit_bypass')
       = CASE WHEN current_setting('server_version_num')::int < 160000 THEN 1 ELSE 0 END AS as_expected,
       count(*) FILTER (WHERE object = 'regress_nl_audit_su') AS superuser_role
  FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER ROLE regress_nl_audit_app NOCREATEROLE;
:audit;

-- 4. the role owns a table with a nicelogin policy whose RLS is not forced
ALTER TABLE public.own_notes NO FORCE ROW LEVEL SECURITY;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER TABLE public.own_notes FORCE ROW LEVEL SECURITY;
:audit;
-- ... or has the privileges of its owner, or can SET ROLE to it
GRANT regress_nl_audit_owner TO regress_nl_audit_app;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE regress_nl_audit_owner FROM regress_nl_audit_app;
:audit;
-- ... or can grant itself the owner's membership and SET ROLE to it: with
-- CREATEROLE before PostgreSQL 16 (every role that is not a superuser), with
-- the ADMIN OPTION on every major.  becomes_owner() tries it as the role
-- (and rolls it back): the audit must report the table (and the extension's
-- schema, owned by that role here) exactly when the role reads every row so
INSERT INTO public.invoices VALUES (1, '00000000-0000-0000-0000-000000000001');
CREATE FUNCTION pg_temp.becomes_owner() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SET LOCAL ROLE regress_nl_audit_app;
    SELECT count(*) INTO n FROM public.invoices;   -- no token: no row, unless it has the owner's privileges
    IF n = 0 THEN
        BEGIN
            EXECUTE 'GRANT regress_nl_audit_owner TO regress_nl_audit_app';
            SET LOCAL ROLE regress_nl_audit_owner;
            SELECT count(*) INTO n FROM public.invoices;
        EXCEPTION WHEN insufficient_privilege THEN n := 0;
        END;
    END IF;
    RAISE EXCEPTION USING MESSAGE = n::text, ERRCODE = 'P0001';   -- undo it all
EXCEPTION WHEN raise_exception THEN RETURN SQLERRM::bigint > 0;
END $$;
ALTER SCHEMA nicelogin OWNER TO regress_nl_audit_owner;
ALTER ROLE regress_nl_audit_app CREATEROLE;
SELECT a.table_found = pg_temp.becomes_owner() AS audit_matches_attack,
       a.table_found = (current_setting('server_version_num')::int < 160000) AS table_as_expected,
       a.schema_found = a.table_found AS schema_as_expected
  FROM (SELECT count(*) FILTER (WHERE problem = 'owner_not_forced' AND object = 'public.invoices') = 1 AS table_found,
               count(*) FILTER (WHERE problem = 'schema_owner') = 1 AS schema_found
          FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app')) a;
ALTER ROLE regress_nl_audit_app NOCREATEROLE;
DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'GRANT regress_nl_audit_owner TO regress_nl_audit_mid WITH ADMIN TRUE, SET FALSE, INHERIT FALSE';
    ELSE
        EXECUTE 'GRANT regress_nl_audit_owner TO regress_nl_audit_mid WITH ADMIN OPTION';
    END IF;
END $$;
GRANT regress_nl_audit_mid TO regress_nl_audit_app;
SELECT count(*) FILTER (WHERE problem = 'owner_not_forced' AND object = 'public.invoices') = 1 AS table_found,
       count(*) FILTER (WHERE problem = 'schema_owner') = 1 AS schema_found,
       pg_temp.becomes_owner() AS reads_all
  FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE regress_nl_audit_mid FROM regress_nl_audit_app;
REVOKE regress_nl_audit_owner FROM regress_nl_audit_mid;
ALTER SCHEMA nicelogin OWNER TO CURRENT_USER;
SELECT pg_temp.becomes_owner() AS reads_all;
:audit;

-- 5. a table whose policies call nicelogin has RLS disabled
ALTER TABLE public.invoices DISABLE ROW LEVEL SECURITY;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
:audit;

-- 6. a policy calls a look-alike (the extension's name, someone else's function)
CREATE FUNCTION public.nicelogin_company_id() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT NULL::uuid $$;
CREATE POLICY tenant2 ON public.invoices USING (company_id = public.nicelogin_company_id());
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
DROP POLICY tenant2 ON public.invoices;
:audit;

-- 7. the role owns the extension's schema
ALTER SCHEMA nicelogin OWNER TO regress_nl_audit_app;
:audit;
ALTER SCHEMA nicelogin OWNER TO CURRENT_USER;
:audit;

-- 8. the role can create in the extension's schema: granted, through a role,
-- to PUBLIC
GRANT CREATE ON SCHEMA nicelogin TO regress_nl_audit_app;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE CREATE ON SCHEMA nicelogin FROM regress_nl_audit_app;
GRANT CREATE ON SCHEMA nicelogin TO regress_nl_audit_mid;
GRANT regress_nl_audit_mid TO regress_nl_audit_app;
:audit;
REVOKE CREATE ON SCHEMA nicelogin FROM regress_nl_audit_mid;
REVOKE regress_nl_audit_mid FROM regress_nl_audit_app;
GRANT CREATE ON SCHEMA nicelogin TO PUBLIC;
:audit;
REVOKE CREATE ON SCHEMA nicelogin FROM PUBLIC;
:audit;

-- 9. a permissive policy that calls nothing of nicelogin's, for the role:
-- plainly true (here for PUBLIC), or true in other words (1 = 1), or
-- anything else (a setting the role sets itself)
ALTER POLICY others_only ON public.invoices TO PUBLIC;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER POLICY others_only ON public.invoices TO regress_nl_audit_other;
:audit;
CREATE POLICY one_is_one ON public.invoices FOR SELECT TO regress_nl_audit_mid USING (1 = 1);
CREATE POLICY by_setting ON public.invoices FOR INSERT WITH CHECK (company_id::text = current_setting('app.company'));
GRANT regress_nl_audit_mid TO regress_nl_audit_app;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE regress_nl_audit_mid FROM regress_nl_audit_app;
DROP POLICY by_setting ON public.invoices;
:audit;
DROP POLICY one_is_one ON public.invoices;

-- 10. a view that reads the table as a role RLS does not apply to (its owner
-- here, a superuser), readable by the role
ALTER VIEW public.invoices_v OWNER TO regress_nl_audit_su;
ALTER VIEW public.invoices_v SET (security_invoker = false);
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER VIEW public.invoices_v OWNER TO regress_nl_audit_owner;
SELECT problem, object, detail FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER VIEW public.invoices_v SET (security_invoker = true);
:audit;
-- ... through views over views: a view that is not security_invoker over one
-- that is, and the other way round
CREATE VIEW public.invoices_vv AS SELECT * FROM public.invoices_v;
ALTER VIEW public.invoices_vv OWNER TO regress_nl_audit_su;
GRANT SELECT ON public.invoices_vv TO regress_nl_audit_app;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER VIEW public.invoices_vv SET (security_invoker = true);
:audit;
ALTER VIEW public.invoices_v SET (security_invoker = false);
REVOKE SELECT ON public.invoices_v FROM regress_nl_audit_app;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
ALTER VIEW public.invoices_v SET (security_invoker = true);
GRANT SELECT ON public.invoices_v TO regress_nl_audit_app;
DROP VIEW public.invoices_vv;
:audit;

-- 11. a materialized view over the table (holds what its owner read at the
-- last refresh), read directly or through a view, security_invoker or not
CREATE MATERIALIZED VIEW public.invoices_mv AS SELECT * FROM public.invoices;
ALTER MATERIALIZED VIEW public.invoices_mv OWNER TO regress_nl_audit_owner;
CREATE VIEW public.invoices_mv_v WITH (security_invoker = true) AS SELECT * FROM public.invoices_mv;
GRANT SELECT ON public.invoices_mv_v TO regress_nl_audit_app;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
GRANT SELECT ON public.invoices_mv TO regress_nl_audit_app;
SELECT problem, object FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
DROP MATERIALIZED VIEW public.invoices_mv CASCADE;
:audit;

-- 12. a partition (here at the second level) of a table with a nicelogin
-- policy, readable directly: the parent's policies do not apply to it
GRANT SELECT ON public.events_1a TO regress_nl_audit_app;
SET ROLE regress_nl_audit_app;
SELECT count(*) AS through_parent FROM public.events;
SELECT count(*) AS partition_directly FROM public.events_1a;
RESET ROLE;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
-- its own row-level security, without a policy: nothing gets through
ALTER TABLE public.events_1a ENABLE ROW LEVEL SECURITY;
:audit;
-- with a policy of its own that calls nothing of nicelogin's
CREATE POLICY open ON public.events_1a USING (true);
SELECT problem, object FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
DROP POLICY open ON public.events_1a;
ALTER TABLE public.events_1a DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON public.events_1a FROM regress_nl_audit_app;
:audit;

-- 13. TRUNCATE (row-level security does not apply to it): granted to the
-- role, through a role, to PUBLIC, on a partition
GRANT TRUNCATE ON public.invoices TO regress_nl_audit_app;
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE TRUNCATE ON public.invoices FROM regress_nl_audit_app;
GRANT TRUNCATE ON public.invoices TO regress_nl_audit_mid;
GRANT regress_nl_audit_mid TO regress_nl_audit_app;
SELECT problem, object, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE TRUNCATE ON public.invoices FROM regress_nl_audit_mid;
REVOKE regress_nl_audit_mid FROM regress_nl_audit_app;
GRANT TRUNCATE ON public.events_1a TO PUBLIC;
SELECT problem, object, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
REVOKE TRUNCATE ON public.events_1a FROM PUBLIC;
:audit;

-- 14. a policy that decodes the token without verifying it (the clean setup
-- has nicelogin_claims(token), verified)
CREATE POLICY unverified ON public.invoices AS RESTRICTIVE
    USING ((nicelogin.nicelogin_claims(nicelogin.nicelogin_token(), false) ->> 'company_id') IS NOT NULL);
CREATE POLICY unverified_named ON public.own_notes AS RESTRICTIVE FOR INSERT
    WITH CHECK ((nicelogin.nicelogin_claims(coalesce(nicelogin.nicelogin_token(), ''), verify => false) ->> 'sub') IS NOT NULL);
SELECT problem, object, detail, hint FROM nicelogin.nicelogin_rls_audit('regress_nl_audit_app');
DROP POLICY unverified ON public.invoices;
DROP POLICY unverified_named ON public.own_notes;
:audit;

-- everything at once, for the superuser who runs it by default: the role is
-- the finding, and the facts about tables and policies hold for every role
ALTER TABLE public.invoices DISABLE ROW LEVEL SECURITY;
SELECT problem, CASE WHEN object = quote_ident(current_user) THEN '(current_user)' ELSE object END AS object
  FROM nicelogin.nicelogin_rls_audit();

-- the function: SECURITY INVOKER, search_path pinned, executable by PUBLIC
SELECT p.prosecdef, p.proconfig, p.provolatile, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.oid = 'nicelogin.nicelogin_rls_audit(name)'::regprocedure;

\c :regress_db
DROP DATABASE regress_nl_audit;
DROP ROLE regress_nl_audit_app, regress_nl_audit_owner, regress_nl_audit_bypass,
    regress_nl_audit_su, regress_nl_audit_other, regress_nl_audit_mid;
