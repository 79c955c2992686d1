/* nicelogin--1.2--1.3.sql: upgrade from 1.2 (ALTER EXTENSION nicelogin UPDATE TO '1.3') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.3'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.3.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- 1.3: the RLS audit

-- What would make the policies that call nicelogin not protect a role, in the
-- current database: one row per finding, none when nothing is found (for a
-- CI check).  It reads only catalogs that every role can read (pg_roles,
-- pg_auth_members, pg_policy, pg_class, pg_rewrite, pg_depend, pg_namespace,
-- pg_proc, pg_extension), so it tells no role more than it could find out
-- itself, and every role may run it, as itself (SECURITY INVOKER).
-- Policies are found through what they call directly (pg_depend): a policy
-- that reaches nicelogin through a function of its own is not seen.
CREATE FUNCTION nicelogin_rls_audit(role_name name DEFAULT CURRENT_USER)
RETURNS TABLE (problem text, object text, detail text, hint text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $nl_audit$
#variable_conflict use_column
DECLARE
    who pg_catalog.oid;
    who_super boolean;
    who_bypass boolean;
    who_createrole boolean;
    ext_oid pg_catalog.oid;
    ext_schema pg_catalog.oid;
    -- SET ROLE needs the SET option of a membership from PostgreSQL 16 on,
    -- any membership before
    set_mode text := CASE WHEN pg_catalog.current_setting('server_version_num')::pg_catalog.int4 >= 160000
                          THEN 'SET' ELSE 'MEMBER' END;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.oid, a.rolsuper, a.rolbypassrls, a.rolcreaterole
      INTO who, who_super, who_bypass, who_createrole
      FROM pg_catalog.pg_roles a WHERE a.rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT x.oid, x.extnamespace INTO ext_oid, ext_schema
      FROM pg_catalog.pg_extension x WHERE x.extname = 'nicelogin';

    RETURN QUERY
    WITH
    -- each policy's calls of functions named like nicelogin's, and whether
    -- the function is one of the extension's
    calls AS (
        SELECT DISTINCT pol.oid AS polid, pol.polname, pol.polrelid, f.oid AS fid, f.proname,
               EXISTS (SELECT FROM pg_catalog.pg_depend e
                        WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND e.objid = f.oid
                          AND e.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                          AND e.refobjid = ext_oid
                          AND e.deptype = 'e') AS ours
          FROM pg_catalog.pg_policy pol
          JOIN pg_catalog.pg_depend d
            ON d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = pol.oid
           AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          JOIN pg_catalog.pg_proc f ON f.oid = d.refobjid
         WHERE f.proname LIKE 'nicelogin%'),
    -- the tables whose policies call them
    tabs AS (
        SELECT c.oid, c.oid::pg_catalog.regclass::text AS tname, c.relowner,
               c.relrowsecurity, c.relforcerowsecurity
          FROM pg_catalog.pg_class c
         WHERE c.oid IN (SELECT calls.polrelid FROM calls)),
    findings (ord, problem, object, detail, hint) AS (
        SELECT 1, 'superuser'::text, pg_catalog.quote_ident(role_name),
               pg_catalog.format('Role %I is a superuser: row-level security never applies to it.', role_name),
               pg_catalog.format('Connect the application as a role that is not a superuser (or ALTER ROLE %I NOSUPERUSER;).', role_name)
         WHERE who_super
        UNION ALL
        SELECT 2, 'bypassrls', pg_catalog.quote_ident(role_name),
               pg_catalog.format('Role %I has BYPASSRLS: row-level security never applies to it.', role_name),
               pg_catalog.format('ALTER ROLE %I NOBYPASSRLS;', role_name)
         WHERE who_bypass AND NOT who_super
        UNION ALL
        -- RLS looks at the current role's own attributes, never inherited
        -- ones; but a session of the role can SET ROLE to one that bypasses
        -- (or grant itself the membership, with ADMIN OPTION, or before
        -- PostgreSQL 16 with CREATEROLE, which then covered every role that
        -- is not a superuser)
        SELECT 3, 'can_become_bypassing_role', pg_catalog.quote_ident(b.rolname),
               pg_catalog.format('Role %I %s role %I, which %s: after SET ROLE %I, row-level security does not apply.',
                   role_name,
                   CASE WHEN pg_catalog.pg_has_role(who, b.oid, set_mode) THEN 'can SET ROLE to'
                        WHEN set_mode = 'MEMBER' AND who_createrole
                             AND NOT pg_catalog.pg_has_role(who, b.oid, 'MEMBER')
                             AND NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                                              WHERE m.roleid = b.oid AND m.admin_option
                                                AND pg_catalog.pg_has_role(who, m.member, 'MEMBER'))
                             THEN 'has CREATEROLE (PostgreSQL 15 and older) and so can grant itself'
                        ELSE 'has the ADMIN OPTION on, and so can grant itself,' END,
                   b.rolname,
                   CASE WHEN b.rolsuper THEN 'is a superuser' ELSE 'has BYPASSRLS' END,
                   b.rolname),
               pg_catalog.format('Take the path away (REVOKE %I FROM %I; for a direct membership, or NOCREATEROLE), or ALTER ROLE %I %s;',
                   b.rolname, role_name, b.rolname,
                   CASE WHEN b.rolsuper THEN 'NOSUPERUSER' ELSE 'NOBYPASSRLS' END)
          FROM pg_catalog.pg_roles b
         WHERE NOT who_super AND b.oid <> who AND (b.rolsuper OR b.rolbypassrls)
           AND (pg_catalog.pg_has_role(who, b.oid, set_mode)
                OR (NOT b.rolsuper
                    AND (EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                                  WHERE m.roleid = b.oid AND m.admin_option
                                    AND pg_catalog.pg_has_role(who, m.member, 'MEMBER'))
                         OR (set_mode = 'MEMBER' AND who_createrole))))
        UNION ALL
        -- the owner (and whoever has its privileges) is exempt from the
        -- table's policies unless they are forced
        SELECT 4, 'owner_not_forced', t.tname,
               pg_catalog.format('%s has policies that call nicelogin, but they do not apply to its owner %I unless row-level security is forced, and role %I %s.',
                   t.tname, o.rolname, role_name,
                   CASE WHEN t.relowner = who THEN 'is that owner'
                        WHEN pg_catalog.pg_has_role(who, t.relowner, 'USAGE') THEN 'has its privileges'
                        ELSE 'can SET ROLE to it' END),
               pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY; (or connect as a role that does not own the table)', t.tname)
          FROM tabs t JOIN pg_catalog.pg_roles o ON o.oid = t.relowner
         WHERE NOT who_super AND NOT t.relforcerowsecurity
           AND (pg_catalog.pg_has_role(who, t.relowner, 'USAGE')
                OR pg_catalog.pg_has_role(who, t.relowner, set_mode))
        UNION ALL
        SELECT 5, 'rls_disabled', t.tname,
               pg_catalog.format('%s has policies that call nicelogin, but row-level security is not enabled on it: its policies are ignored, and every role that may read it reads every row.', t.tname),
               pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.tname)
          FROM tabs t
         WHERE NOT t.relrowsecurity
        UNION ALL
        SELECT 6, 'lookalike_function',
               pg_catalog.format('policy %I on %s', c.polname, c.polrelid::pg_catalog.regclass),
               pg_catalog.format('The policy calls %s, which is named like nicelogin''s functions but is not part of the extension nicelogin: whoever created it decides what the policy lets through.',
                   c.fid::pg_catalog.regprocedure),
               CASE WHEN ext_schema IS NULL THEN 'Recreate the policy with the extension''s function, schema-qualified.'
                    ELSE pg_catalog.format('Recreate the policy with the extension''s function, schema-qualified (%s.%I), and find out who created %s.',
                        ext_schema::pg_catalog.regnamespace, c.proname, c.fid::pg_catalog.regprocedure) END
          FROM calls c
         WHERE NOT c.ours
        UNION ALL
        SELECT 7, 'schema_owner', pg_catalog.quote_ident(n.nspname),
               pg_catalog.format('Role %I %s schema %I, the extension''s: it can create functions and operators there that shadow nicelogin''s, and drop or rename nicelogin''s own.',
                   role_name,
                   CASE WHEN n.nspowner = who THEN 'owns'
                        WHEN pg_catalog.pg_has_role(who, n.nspowner, 'USAGE') THEN 'has the privileges of the owner of'
                        ELSE 'can SET ROLE to the owner of' END,
                   n.nspname),
               pg_catalog.format('ALTER SCHEMA %I OWNER TO a superuser (and keep CREATE on it for superusers only).', n.nspname)
          FROM pg_catalog.pg_namespace n
         WHERE NOT who_super AND n.oid = ext_schema
           AND (pg_catalog.pg_has_role(who, n.nspowner, 'USAGE')
                OR pg_catalog.pg_has_role(who, n.nspowner, set_mode))
        UNION ALL
        SELECT 8, 'schema_writable', pg_catalog.quote_ident(n.nspname),
               pg_catalog.format('Role %I can create objects in schema %I, the extension''s: functions and operators there can shadow nicelogin''s, for every caller, schema-qualified or not.',
                   role_name, n.nspname),
               pg_catalog.format('REVOKE CREATE ON SCHEMA %I FROM %s;', n.nspname,
                   (SELECT pg_catalog.string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                                                ELSE pg_catalog.quote_ident(g.rolname) END, ', ')
                      FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
                      LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
                     WHERE a.privilege_type = 'CREATE'
                       AND (a.grantee = 0 OR pg_catalog.pg_has_role(who, a.grantee, 'USAGE')
                            OR pg_catalog.pg_has_role(who, a.grantee, set_mode))))
          FROM pg_catalog.pg_namespace n
         WHERE NOT who_super AND n.oid = ext_schema
           AND NOT (pg_catalog.pg_has_role(who, n.nspowner, 'USAGE')
                    OR pg_catalog.pg_has_role(who, n.nspowner, set_mode))
           AND EXISTS (SELECT FROM pg_catalog.pg_roles x
                        WHERE (x.oid = who OR pg_catalog.pg_has_role(who, x.oid, set_mode))
                          AND NOT x.rolsuper   -- (can_become_bypassing_role)
                          AND pg_catalog.has_schema_privilege(x.oid, n.oid, 'CREATE'))
        UNION ALL
        -- permissive policies are OR-ed: one that is plainly true opens the
        -- table to the roles it names, whatever the nicelogin policies say
        SELECT 9, 'permissive_true_policy',
               pg_catalog.format('policy %I on %s', p.polname, t.tname),
               pg_catalog.format('The policy is permissive and its expression is true, and it applies to role %I: permissive policies are combined with OR, so it lets every row through for %s, whatever the policies that call nicelogin say.',
                   role_name,
                   CASE p.polcmd WHEN '*' THEN 'every command' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                 WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END),
               pg_catalog.format('DROP POLICY %I ON %s; (or make it AS RESTRICTIVE)', p.polname, t.tname)
          FROM pg_catalog.pg_policy p JOIN tabs t ON t.oid = p.polrelid
         WHERE NOT who_super AND p.polpermissive
           AND (pg_catalog.pg_get_expr(p.polqual, p.polrelid) = 'true'
                OR (p.polqual IS NULL AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) = 'true'))
           AND (0 = ANY (p.polroles)
                OR EXISTS (SELECT FROM pg_catalog.unnest(p.polroles) AS pr(oid)
                            WHERE pg_catalog.pg_has_role(who, pr.oid, 'USAGE')))
        UNION ALL
        -- a view reads its tables as its owner (unless security_invoker):
        -- an owner that RLS does not apply to shows every row
        SELECT DISTINCT 10, 'view_bypasses_rls', v.oid::pg_catalog.regclass::text,
               pg_catalog.format('The view reads %s as its owner %I, to whom the table''s policies do not apply (%s), and role %I can read the view: it sees every row.',
                   t.tname, vo.rolname,
                   CASE WHEN vo.rolsuper THEN 'a superuser'
                        WHEN vo.rolbypassrls THEN 'BYPASSRLS'
                        ELSE 'the table''s owner, row-level security not forced' END,
                   role_name),
               pg_catalog.format('ALTER VIEW %s SET (security_invoker = true);', v.oid::pg_catalog.regclass)
          FROM pg_catalog.pg_class v
          JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid
          JOIN pg_catalog.pg_depend d
            ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
          JOIN tabs t ON t.oid = d.refobjid
          JOIN pg_catalog.pg_roles vo ON vo.oid = v.relowner
         WHERE NOT who_super AND v.relkind = 'v' AND v.oid <> t.oid AND t.relrowsecurity
           AND NOT COALESCE((SELECT CAST(pg_catalog.split_part(o.opt, '=', 2) AS pg_catalog.bool)
                               FROM pg_catalog.unnest(v.reloptions) AS o(opt)
                              WHERE pg_catalog.split_part(o.opt, '=', 1) = 'security_invoker'), false)
           AND (vo.rolsuper OR vo.rolbypassrls
                OR (NOT t.relforcerowsecurity AND pg_catalog.pg_has_role(vo.oid, t.relowner, 'USAGE')))
           AND pg_catalog.has_table_privilege(who, v.oid, 'SELECT'))
    SELECT f.problem, f.object, f.detail, f.hint FROM findings f ORDER BY f.ord, f.object, f.detail;
END
$nl_audit$;
COMMENT ON FUNCTION nicelogin_rls_audit(name) IS
    'what would make the policies that call nicelogin not protect a role in this database (superuser, BYPASSRLS or a way to become such a role, owning a table whose RLS is not forced, RLS disabled, a look-alike function in a policy, the extension''s schema writable, a permissive true policy, a view that bypasses RLS); no rows: nothing found';
