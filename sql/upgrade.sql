-- upgrade: ALTER EXTENSION nicelogin UPDATE from every earlier version gives the
-- same objects as a fresh install of the current one: functions with their
-- attributes, bodies, settings, grants and comments; tables with columns,
-- defaults, constraints, indexes, triggers (and whether they fire always),
-- replica identity, grants and comments; views; the tables pg_dump keeps.
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_nl_upgrade;
\c regress_nl_upgrade
SET client_min_messages = warning;
CREATE SCHEMA upgrade_check;
-- one row per property of every object of the extension, without OIDs
CREATE FUNCTION upgrade_check.describe() RETURNS TABLE (object text, property text, value text)
LANGUAGE sql STABLE AS $$
    WITH ext AS (SELECT oid, extconfig FROM pg_extension WHERE extname = 'nicelogin'),
    members AS (
        SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, d.objsubid) AS object
          FROM pg_depend d, ext
         WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
    SELECT m.object, 'definition', pg_get_functiondef(p.oid)
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT m.object, 'acl', coalesce(p.proacl::text, 'default')
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT m.object, 'parallel', p.proparallel::text
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT m.object, 'kind', c.relkind::text || ' ' || c.relpersistence::text || ' ' || c.relreplident::text
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT m.object, 'acl', coalesce(c.relacl::text, 'default')
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT m.object, 'column ' || a.attnum || ' ' || a.attname,
           format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM members m JOIN pg_attribute a ON m.classid = 'pg_class'::regclass AND a.attrelid = m.objid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT m.object, 'constraint ' || co.conname, pg_get_constraintdef(co.oid)
      FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT m.object, 'index ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
      FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT m.object, 'trigger ' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
      FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT m.object, 'view', pg_get_viewdef(c.oid)
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
     WHERE c.relkind = 'v'
    UNION ALL
    SELECT m.object, 'comment', obj_description(m.objid, m.classid::regclass::name)
      FROM members m
    UNION ALL
    SELECT 'extension', 'config table', c::regclass::text
      FROM ext, unnest(ext.extconfig) AS c
    UNION ALL
    SELECT 'extension', 'member', m.object FROM members m
$$;
CREATE TABLE upgrade_check.upgraded AS SELECT '' AS from_version, * FROM upgrade_check.describe() WHERE false;

-- every version this build can install, except the current one, upgraded to the current one
SELECT version AS from_version FROM pg_available_extension_versions
 WHERE name = 'nicelogin' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'nicelogin')
 ORDER BY 1;
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
CREATE TABLE upgrade_check.data (from_version text, what text, value text);
-- the rows every table holds, as text (the tables come with the extension, below)
SET check_function_bodies = off;
CREATE FUNCTION upgrade_check.rows() RETURNS TABLE (what text, value text) LANGUAGE sql STABLE AS $$
    SELECT 'key', concat_ws(' ', kid, kty, alg, use, jwk::text, added_at::text) FROM public.nicelogin_keys
    UNION ALL
    SELECT 'deactivated', concat_ws(' ', user_id::text, deactivated_at::text, deactivated_by) FROM public.nicelogin_deactivated_users
    UNION ALL
    SELECT 'revoked', concat_ws(' ', kind, value, expires_at::text, revoked_at::text, revoked_by) FROM public.nicelogin_revocations
$$;
RESET check_function_bodies;
SELECT set_config('upgrade.jwks', :'jwks', false) IS NOT NULL AS ok;
SELECT format($f$CREATE EXTENSION nicelogin VERSION %L;
                SELECT nicelogin_set_jwks(current_setting('upgrade.jwks')::jsonb);
                INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('22222222-2222-4222-8222-222222222222');
                SELECT nicelogin_revoke_jti('jti-bob-1', '2100-01-01');
                SELECT nicelogin_revoke_sid('sid-bob-1');
                INSERT INTO upgrade_check.data SELECT %L || ' before', * FROM upgrade_check.rows();
                ALTER EXTENSION nicelogin UPDATE;
                INSERT INTO upgrade_check.data SELECT %L || ' after', * FROM upgrade_check.rows();
                INSERT INTO upgrade_check.upgraded SELECT %L, * FROM upgrade_check.describe();
                DROP EXTENSION nicelogin;$f$, version, version, version, version)
  FROM pg_available_extension_versions
 WHERE name = 'nicelogin' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'nicelogin')
\gexec
CREATE EXTENSION nicelogin;
SELECT extversion FROM pg_extension WHERE extname = 'nicelogin';
CREATE TABLE upgrade_check.fresh AS SELECT * FROM upgrade_check.describe();
-- the description is not empty, and covers what it should (comments: those set; from 17 on
-- the row and array types of the tables and views are members too, without comments)
SELECT property, count(*) FROM upgrade_check.fresh
 WHERE property IN ('definition', 'view') OR (property = 'comment' AND value IS NOT NULL)
    OR property LIKE 'trigger %'
 GROUP BY 1 ORDER BY 1;
-- differences: none, for every earlier version
SELECT v.from_version, d.* FROM (SELECT DISTINCT from_version FROM upgrade_check.upgraded) v,
  LATERAL ((SELECT 'only fresh' AS side, * FROM upgrade_check.fresh
            EXCEPT SELECT 'only fresh', object, property, value FROM upgrade_check.upgraded u
                    WHERE u.from_version = v.from_version)
           UNION ALL
           (SELECT 'only upgraded', object, property, value FROM upgrade_check.upgraded u
             WHERE u.from_version = v.from_version
            EXCEPT SELECT 'only upgraded', * FROM upgrade_check.fresh)) d
 ORDER BY 1, 3, 4, 2;
SELECT count(DISTINCT from_version) AS versions_checked FROM upgrade_check.upgraded;
-- the stored keys, deactivations and revocations survive the upgrade unchanged
SELECT split_part(from_version, ' ', 1) AS from_version, what, count(*) AS rows,
       count(DISTINCT value) FILTER (WHERE from_version LIKE '% before') AS before,
       count(DISTINCT value) FILTER (WHERE from_version LIKE '% after') AS after
  FROM upgrade_check.data GROUP BY 1, 2 ORDER BY 1, 2;
SELECT split_part(b.from_version, ' ', 1) AS from_version, count(*) AS changed_rows
  FROM (SELECT * FROM upgrade_check.data WHERE from_version LIKE '% before') b
  FULL JOIN (SELECT * FROM upgrade_check.data WHERE from_version LIKE '% after') a
    ON split_part(a.from_version, ' ', 1) = split_part(b.from_version, ' ', 1)
   AND a.what = b.what AND a.value = b.value
 WHERE a.value IS NULL OR b.value IS NULL
 GROUP BY 1;
\c :regress_db
DROP DATABASE regress_nl_upgrade;
