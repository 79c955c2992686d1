/* nicelogin--1.2--1.3.sql: upgrade from 1.2 (ALTER EXTENSION nicelogin UPDATE TO '1.3') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.3'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.3.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- No schema check here, unlike CREATE EXTENSION's (which refuses a schema that
-- others can write or that holds functions or operators other roles own):
-- this update only adds nicelogin_rls_audit(), SECURITY INVOKER, whose body
-- runs with search_path pinned to pg_catalog, pg_temp and names every
-- catalog object qualified; creating it runs no code, and nothing here calls a
-- function or an operator through the extension's schema, so an object
-- planted there binds to nothing this script does.  (Such an object does
-- threaten the callers of nicelogin's functions, updated or not: moving the
-- extension to a schema of its own, as the install's refusal says, is the fix.)

-- 1.3: the RLS audit

-- What would make the policies that call nicelogin not protect a role, in the
-- current database: one row per finding, none when nothing is found (for a
-- CI check).  It reads only catalogs that every role can read (pg_roles,
-- pg_auth_members, pg_policy, pg_class, pg_inherits, pg_rewrite, pg_depend,
-- pg_namespace, pg_proc, pg_extension), so it tells no role more than it could find out
-- itself, and every role may run it, as itself (SECURITY INVOKER).
-- Policies are found through what they call directly (pg_depend): a policy
-- that reaches nicelogin through a function of its own is not seen.
-- unverified_claims is a heuristic on the policy's deparsed expression.
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
    WITH RECURSIVE
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
    -- the roles whose privileges the role has or that it can become: itself,
    -- a role it has the privileges of or can SET ROLE to, and one it can
    -- grant itself (the ADMIN OPTION, held directly or through a role; before
    -- PostgreSQL 16, CREATEROLE, which covered every role that is not a
    -- superuser; from 16 on CREATEROLE grants only roles it has ADMIN on)
    reach AS (
        SELECT r.oid,
               CASE WHEN r.oid = who THEN 0
                    WHEN pg_catalog.pg_has_role(who, r.oid, 'USAGE') THEN 1
                    WHEN pg_catalog.pg_has_role(who, r.oid, set_mode) THEN 2
                    WHEN EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                                  WHERE m.roleid = r.oid AND m.admin_option
                                    AND pg_catalog.pg_has_role(who, m.member, 'MEMBER')) THEN 3
                    ELSE 4 END AS how
          FROM pg_catalog.pg_roles r
         WHERE NOT who_super
           AND (r.oid = who
                OR pg_catalog.pg_has_role(who, r.oid, 'USAGE')
                OR pg_catalog.pg_has_role(who, r.oid, set_mode)
                OR (NOT r.rolsuper AND r.rolname <> 'pg_database_owner'
                    AND (EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                                  WHERE m.roleid = r.oid AND m.admin_option
                                    AND pg_catalog.pg_has_role(who, m.member, 'MEMBER'))
                         OR (set_mode = 'MEMBER' AND who_createrole))))),
    -- the partitions, at any level, of those tables (a partition queried
    -- directly is protected by its own row-level security only)
    parts AS (
        SELECT DISTINCT ON (pt.relid) pt.relid AS oid, t.tname AS root_name
          FROM tabs t
         CROSS JOIN LATERAL pg_catalog.pg_partition_tree(t.oid) pt
         WHERE pt.relid <> t.oid
         ORDER BY pt.relid, pt.level DESC),
    -- views and materialized views over those tables, through other views
    -- too (at most 16 deep): reader is the role as which the table is read
    -- when the view is queried (NULL: as whoever queries it), reader_rel the
    -- view whose owner that is, mv the materialized view in the way (its rows
    -- are what its owner read at its last refresh)
    chain (rel, tab, reader, reader_rel, mv, depth) AS (
        SELECT v.oid, t.oid,
               CASE WHEN v.relkind = 'm' OR NOT COALESCE((SELECT CAST(pg_catalog.split_part(o.opt, '=', 2) AS pg_catalog.bool)
                                                            FROM pg_catalog.unnest(v.reloptions) AS o(opt)
                                                           WHERE pg_catalog.split_part(o.opt, '=', 1) = 'security_invoker'), false)
                    THEN v.relowner END,
               v.oid,
               CASE WHEN v.relkind = 'm' THEN v.oid END,
               1
          FROM tabs t
          JOIN pg_catalog.pg_depend d
            ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = t.oid
           AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
          JOIN pg_catalog.pg_class v ON v.oid = rw.ev_class
         WHERE v.relkind IN ('v', 'm') AND v.oid <> t.oid
        UNION
        SELECT v.oid, c.tab,
               COALESCE(c.reader,
                        CASE WHEN v.relkind = 'm' OR NOT COALESCE((SELECT CAST(pg_catalog.split_part(o.opt, '=', 2) AS pg_catalog.bool)
                                                                     FROM pg_catalog.unnest(v.reloptions) AS o(opt)
                                                                    WHERE pg_catalog.split_part(o.opt, '=', 1) = 'security_invoker'), false)
                             THEN v.relowner END),
               CASE WHEN c.reader IS NULL THEN v.oid ELSE c.reader_rel END,
               COALESCE(c.mv, CASE WHEN v.relkind = 'm' THEN v.oid END),
               c.depth + 1
          FROM chain c
          JOIN pg_catalog.pg_depend d
            ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = c.rel
           AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
          JOIN pg_catalog.pg_class v ON v.oid = rw.ev_class
         WHERE v.relkind IN ('v', 'm') AND v.oid <> c.rel AND c.depth < 16),
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
                   CASE r.how WHEN 0 THEN 'is that owner'
                              WHEN 1 THEN 'has its privileges'
                              WHEN 2 THEN 'can SET ROLE to it'
                              WHEN 3 THEN 'has the ADMIN OPTION on it, and so can grant itself the role and SET ROLE to it'
                              ELSE 'has CREATEROLE (PostgreSQL 15 and older), and so can grant itself the role and SET ROLE to it' END),
               pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY; (or connect as a role that does not own the table)', t.tname)
          FROM tabs t JOIN pg_catalog.pg_roles o ON o.oid = t.relowner
          JOIN reach r ON r.oid = t.relowner
         WHERE NOT t.relforcerowsecurity
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
                   CASE r.how WHEN 0 THEN 'owns'
                              WHEN 1 THEN 'has the privileges of the owner of'
                              WHEN 2 THEN 'can SET ROLE to the owner of'
                              WHEN 3 THEN 'has the ADMIN OPTION on (and so can become) the owner of'
                              ELSE 'has CREATEROLE (PostgreSQL 15 and older), and so can become the owner of' END,
                   n.nspname),
               pg_catalog.format('ALTER SCHEMA %I OWNER TO a superuser (and keep CREATE on it for superusers only).', n.nspname)
          FROM pg_catalog.pg_namespace n
          JOIN reach r ON r.oid = n.nspowner
         WHERE n.oid = ext_schema
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
                       AND (a.grantee = 0 OR a.grantee IN (SELECT r.oid FROM reach r))))
          FROM pg_catalog.pg_namespace n
         WHERE NOT who_super AND n.oid = ext_schema
           AND n.nspowner NOT IN (SELECT r.oid FROM reach r)
           AND EXISTS (SELECT FROM pg_catalog.pg_roles x JOIN reach r ON r.oid = x.oid
                        WHERE NOT x.rolsuper   -- (can_become_bypassing_role)
                          AND pg_catalog.has_schema_privilege(x.oid, n.oid, 'CREATE'))
        UNION ALL
        -- permissive policies are OR-ed: one that calls none of nicelogin's
        -- functions (USING (true), USING (1 = 1), ...) lets the rows it
        -- passes through for the roles it names, whatever the token
        SELECT 9, 'policy_without_token',
               pg_catalog.format('policy %I on %s', p.polname, t.tname),
               pg_catalog.format('The policy is permissive, applies to role %I and calls none of nicelogin''s functions (%s): permissive policies are combined with OR, so what it lets through for %s does not depend on the token, whatever the policies that call nicelogin say.',
                   role_name,
                   COALESCE('USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',
                            'WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
                   CASE p.polcmd WHEN '*' THEN 'every command' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                 WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END),
               pg_catalog.format('DROP POLICY %I ON %s; (or make it AS RESTRICTIVE)', p.polname, t.tname)
          FROM pg_catalog.pg_policy p JOIN tabs t ON t.oid = p.polrelid
         WHERE NOT who_super AND p.polpermissive
           AND NOT EXISTS (SELECT FROM calls c WHERE c.polid = p.oid AND c.ours)
           AND (0 = ANY (p.polroles)
                OR EXISTS (SELECT FROM pg_catalog.unnest(p.polroles) AS pr(oid)
                            WHERE pg_catalog.pg_has_role(who, pr.oid, 'USAGE')))
        UNION ALL
        -- a view reads its tables as its owner (unless security_invoker):
        -- an owner that RLS does not apply to shows every row; through views
        -- over views, as the owner of the nearest view that is not
        -- security_invoker
        SELECT DISTINCT 10, 'view_bypasses_rls', v.oid::pg_catalog.regclass::text,
               CASE WHEN c.reader_rel = c.rel
                    THEN pg_catalog.format('The view reads %s as its owner %I, to whom the table''s policies do not apply (%s), and role %I can read the view: it sees every row.',
                             t.tname, vo.rolname, why.txt, role_name)
                    ELSE pg_catalog.format('The view reads %s through view %s, which reads it as its owner %I, to whom the table''s policies do not apply (%s), and role %I can read the view: it sees every row.',
                             t.tname, c.reader_rel::pg_catalog.regclass, vo.rolname, why.txt, role_name) END,
               pg_catalog.format('ALTER VIEW %s SET (security_invoker = true);', c.reader_rel::pg_catalog.regclass)
          FROM chain c
          JOIN tabs t ON t.oid = c.tab
          JOIN pg_catalog.pg_class v ON v.oid = c.rel
          JOIN pg_catalog.pg_roles vo ON vo.oid = c.reader
         CROSS JOIN LATERAL (SELECT CASE WHEN vo.rolsuper THEN 'a superuser'
                                         WHEN vo.rolbypassrls THEN 'BYPASSRLS'
                                         ELSE 'the table''s owner, row-level security not forced' END AS txt) why
         WHERE NOT who_super AND v.relkind = 'v' AND c.mv IS NULL AND t.relrowsecurity
           AND (vo.rolsuper OR vo.rolbypassrls
                OR (NOT t.relforcerowsecurity AND pg_catalog.pg_has_role(vo.oid, t.relowner, 'USAGE')))
           AND pg_catalog.has_table_privilege(who, v.oid, 'SELECT')
        UNION ALL
        -- a materialized view holds what its owner read at its last refresh,
        -- with the token (if any) of the session that refreshed it: the
        -- policies are not applied to those who read it
        SELECT DISTINCT 11, 'matview_bypasses_rls', v.oid::pg_catalog.regclass::text,
               CASE WHEN c.mv = c.rel
                    THEN pg_catalog.format('The materialized view holds rows of %s as its owner %I read them at its last REFRESH, and role %I can read it: the table''s policies are not applied to its readers, whatever their token.',
                             t.tname, mo.rolname, role_name)
                    ELSE pg_catalog.format('The view reads materialized view %s, which holds rows of %s as its owner %I read them at its last REFRESH, and role %I can read the view: the table''s policies are not applied to its readers, whatever their token.',
                             c.mv::pg_catalog.regclass, t.tname, mo.rolname, role_name) END,
               pg_catalog.format('Replace %s with a view WITH (security_invoker = true) (or REVOKE SELECT ON %s FROM %I;)',
                   c.mv::pg_catalog.regclass, v.oid::pg_catalog.regclass, role_name)
          FROM chain c
          JOIN tabs t ON t.oid = c.tab
          JOIN pg_catalog.pg_class v ON v.oid = c.rel
          JOIN pg_catalog.pg_class m ON m.oid = c.mv
          JOIN pg_catalog.pg_roles mo ON mo.oid = m.relowner
         WHERE NOT who_super
           AND pg_catalog.has_table_privilege(who, v.oid, 'SELECT')
        UNION ALL
        -- a partition queried directly: the parent's policies do not apply
        SELECT 12, 'partition_unprotected', pc.oid::pg_catalog.regclass::text,
               pg_catalog.format('%s is a partition of %s, whose policies call nicelogin, but queried directly a partition is protected only by its own row-level security and policies, and %s; role %I has %s on it.',
                   pc.oid::pg_catalog.regclass, p.root_name,
                   CASE WHEN NOT pc.relrowsecurity THEN 'row-level security is not enabled on it'
                        ELSE 'none of its own policies calls nicelogin' END,
                   role_name,
                   COALESCE((SELECT pg_catalog.string_agg(pr.priv, ', ' ORDER BY pr.n)
                               FROM pg_catalog.unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) WITH ORDINALITY AS pr(priv, n)
                              WHERE pg_catalog.has_table_privilege(who, pc.oid, pr.priv)),
                            'column privileges')),
               pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY; and create on it the policies of %s (or REVOKE ALL ON %s FROM %I;)',
                   pc.oid::pg_catalog.regclass, p.root_name, pc.oid::pg_catalog.regclass, role_name)
          FROM parts p JOIN pg_catalog.pg_class pc ON pc.oid = p.oid
         WHERE NOT who_super
           AND p.oid NOT IN (SELECT tabs.oid FROM tabs)
           AND (NOT pc.relrowsecurity OR EXISTS (SELECT FROM pg_catalog.pg_policy x WHERE x.polrelid = pc.oid))
           AND (pg_catalog.has_table_privilege(who, pc.oid, 'SELECT, INSERT, UPDATE, DELETE')
                OR pg_catalog.has_any_column_privilege(who, pc.oid, 'SELECT, INSERT, UPDATE'))
        UNION ALL
        -- TRUNCATE is not subject to row-level security (the owner, who can
        -- always truncate, is owner_not_forced's concern)
        SELECT 13, 'truncate_allowed', x.name,
               pg_catalog.format('Role %I may TRUNCATE %s (granted to %s): TRUNCATE ignores row-level security and empties the table for every tenant.',
                   role_name, x.name, x.grantees),
               pg_catalog.format('REVOKE TRUNCATE ON %s FROM %s;', x.name, x.grantees)
          FROM (SELECT y.name,
                       (SELECT pg_catalog.string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                                                   ELSE pg_catalog.quote_ident(g.rolname) END, ', ')
                          FROM pg_catalog.pg_class rc
                         CROSS JOIN LATERAL pg_catalog.aclexplode(rc.relacl) a
                          LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
                         WHERE rc.oid = y.oid AND a.privilege_type = 'TRUNCATE'
                           AND a.grantee <> rc.relowner
                           AND (a.grantee = 0 OR a.grantee IN (SELECT r.oid FROM reach r))) AS grantees
                  FROM (SELECT tabs.oid, tabs.tname AS name FROM tabs
                        UNION
                        SELECT parts.oid, parts.oid::pg_catalog.regclass::text FROM parts) y) x
         WHERE NOT who_super AND x.grantees IS NOT NULL
        UNION ALL
        -- nicelogin_claims(token, false): heuristic, on the deparsed
        -- expression (a first argument with at most two levels of
        -- parentheses and none in string constants): a second argument that
        -- is not the constant true
        SELECT DISTINCT 14, 'unverified_claims',
               pg_catalog.format('policy %I on %s', p.polname, p.polrelid::pg_catalog.regclass),
               'The policy calls nicelogin_claims(token, verify) with verify not true: it decodes the token without verifying it, so a forged, expired or revoked token''s claims decide what it lets through.',
               pg_catalog.format('Recreate policy %I with nicelogin_claims() (the verified current token) or nicelogin_claims(token) (verify defaults to true).', p.polname)
          FROM pg_catalog.pg_policy p
          JOIN calls c ON c.polid = p.oid AND c.proname = 'nicelogin_claims'
          CROSS JOIN LATERAL (VALUES (pg_catalog.pg_get_expr(p.polqual, p.polrelid)),
                                     (pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))) AS e(expr)
         WHERE e.expr ~ 'nicelogin_claims\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*,(?!\s*(?:verify\s*=>\s*)?true\s*\))')
    SELECT f.problem, f.object, f.detail, f.hint FROM findings f ORDER BY f.ord, f.object, f.detail;
END
$nl_audit$;
COMMENT ON FUNCTION nicelogin_rls_audit(name) IS
    'what would make the policies that call nicelogin not protect a role in this database (superuser, BYPASSRLS or a way to become such a role, owning or being able to become the owner of a table whose RLS is not forced, RLS disabled, a look-alike function in a policy, the extension''s schema owned or writable, a permissive policy that calls none of nicelogin''s functions, a view or materialized view that bypasses RLS, a partition usable directly, TRUNCATE, unverified claims in a policy); no rows: nothing found';
