/* nicelogin--1.1--1.2.sql: upgrade from 1.1 (ALTER EXTENSION nicelogin UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.2'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.2.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- 1.2: security (the 1.0 upgrade path, cached refusals, bounded masking, identity from the request)

-- The schema must be writable by superusers only: a role that can create
-- objects in it could add functions and operators that match a call better
-- than nicelogin's own (an overload taking varchar, say), or a table that an
-- older version lacks and a newer library would write to (with a trigger
-- that runs as the superuser, the administrator or the refresh worker who
-- writes).  The update refuses such a schema, and says how to make it safe.
DO $nl_schema_check$
DECLARE
    schema_oid oid := pg_catalog.to_regnamespace(pg_catalog.quote_ident(pg_catalog.current_schema()))::pg_catalog.oid;
    schema_name text := pg_catalog.quote_ident(pg_catalog.current_schema());
    writers text;
    owner_fix text;
    grantees text;
    suspects text;
    drops text;
    fix text;
    -- a schema of its own only where CREATE SCHEMA nicelogin can work
    can_move boolean := NOT EXISTS (SELECT FROM pg_catalog.pg_namespace
                                     WHERE nspname OPERATOR(pg_catalog.=) 'nicelogin');
BEGIN
    -- CREATE granted to PUBLIC: every role (say so, rather than list them all)
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace n
                CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
               WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
                 AND a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                 AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') THEN
        writers := 'PUBLIC';
    ELSE
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)
          INTO writers
          FROM pg_catalog.pg_roles r
         WHERE NOT r.rolsuper
           -- stands for the database's owner, who is looked at as a role of its own
           AND r.oid OPERATOR(pg_catalog.<>) 'pg_database_owner'::pg_catalog.regrole::pg_catalog.oid
           AND pg_catalog.has_schema_privilege(r.oid, schema_oid, 'CREATE');
    END IF;
    IF writers IS NULL THEN
        RETURN;
    END IF;

    -- an owner that is not a superuser (pg_database_owner: the database's owner)
    SELECT pg_catalog.format('ALTER SCHEMA %s OWNER TO %I; ', schema_name, current_user)
      INTO owner_fix
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) n.nspowner
      LEFT JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
      LEFT JOIN pg_catalog.pg_roles dbo ON dbo.oid OPERATOR(pg_catalog.=) d.datdba
     WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
       AND NOT CASE WHEN o.rolname OPERATOR(pg_catalog.=) 'pg_database_owner'
                    THEN COALESCE(dbo.rolsuper, false) ELSE o.rolsuper END;
    -- those granted CREATE on it that are not superusers (PUBLIC, roles)
    SELECT pg_catalog.string_agg(DISTINCT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                                               THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END, ', ')
      INTO grantees
      FROM pg_catalog.pg_namespace n
     CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
      LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
     WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
       AND NOT COALESCE(g.rolsuper, false);
    -- what such a role may have put there already: objects named like
    -- nicelogin's that are not the extension's
    SELECT pg_catalog.string_agg(s.kind || ' ' || s.name, ', ' ORDER BY s.name),
           pg_catalog.string_agg('DROP ' || s.kind || ' ' || s.name || ';', ' ' ORDER BY s.name)
      INTO suspects, drops
      FROM (SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
                   schema_name || '.' || pg_catalog.quote_ident(c.relname) AS name,
                   'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid AS objid
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) schema_oid
               AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,S,f}'::pg_catalog."char"[])
               AND c.relname OPERATOR(pg_catalog.~~) 'nicelogin\_%'
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                   schema_name || '.' || pg_catalog.quote_ident(p.proname)
                   || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
                   'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) schema_oid
               AND p.proname OPERATOR(pg_catalog.~~) 'nicelogin\_%'
            UNION ALL
            SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                   schema_name || '.' || pg_catalog.quote_ident(t.typname),
                   'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
              FROM pg_catalog.pg_type t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) schema_oid
               AND t.typrelid OPERATOR(pg_catalog.=) 0::pg_catalog.oid
               AND t.typname OPERATOR(pg_catalog.~~) 'nicelogin\_%') s
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
                       WHERE d.classid OPERATOR(pg_catalog.=) s.classid
                         AND d.objid OPERATOR(pg_catalog.=) s.objid
                         AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                         AND d.deptype OPERATOR(pg_catalog.=) 'e'
                         AND e.extname OPERATOR(pg_catalog.=) 'nicelogin');

    fix := COALESCE(owner_fix, '')
        || CASE WHEN grantees IS NOT NULL
                THEN pg_catalog.format('REVOKE CREATE ON SCHEMA %s FROM %s; ', schema_name, grantees) ELSE '' END
        || COALESCE(drops || ' ', '')
        || 'ALTER EXTENSION nicelogin UPDATE;';
    RAISE EXCEPTION 'schema % can be written by roles that are not superusers: %', schema_name, writers
    USING ERRCODE = 'insufficient_privilege',
          DETAIL = 'They could create functions, operators or tables there that shadow nicelogin''s, which superusers, administrators and the refresh worker would then use; nicelogin is not updated in such a schema.'
                   || COALESCE(' Objects there named like nicelogin''s that are not part of the extension: ' || suspects || '.', ''),
          HINT = CASE WHEN can_move
                      THEN 'Move nicelogin to a schema of its own, then update: CREATE SCHEMA nicelogin; ALTER EXTENSION nicelogin SET SCHEMA nicelogin; ALTER EXTENSION nicelogin UPDATE;'
                           || COALESCE(' Drop what is not nicelogin''s: ' || drops, '')
                           || ' Or keep the schema and make it writable by superusers only: ' || fix
                      ELSE 'As a superuser, make the schema writable by superusers only'
                           || CASE WHEN drops IS NOT NULL THEN ', drop what is not nicelogin''s,' ELSE '' END
                           || ' and update: ' || fix END;
END
$nl_schema_check$;


-- 1.2: deployments (logical replication, pg_upgrade)

-- changed in place in nicelogin--1.2.sql
COMMENT ON FUNCTION nicelogin_invalidate_cache() IS
    'statement trigger (and row trigger for logical replication''s apply): tells every session to reload nicelogin''s keys and revocations after commit';

CREATE OR REPLACE FUNCTION nicelogin_purge_revocations(max_rows integer)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM nicelogin_revocations
         WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM nicelogin_revocations
                    WHERE expires_at < nicelogin_purge_before()
                      -- a subscriber receives the publisher's purge: purging here
                      -- could lose a later replicated update of the row
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_subscription_rel s
                                       WHERE s.srrelid OPERATOR(pg_catalog.=)
                                             'nicelogin_revocations'::pg_catalog.regclass::pg_catalog.oid)
                    ORDER BY expires_at
                    LIMIT max_rows
                    FOR UPDATE SKIP LOCKED))
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION nicelogin_purge_revocations(integer) IS
    'deletes at most max_rows (NULL: all) revocations whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer), oldest first, skipping rows another session is deleting; returns how many; deletes nothing on a logical replication subscriber of nicelogin_revocations, which receives the publisher''s purge';


-- Logical replication.  Every table can be published (FOR ALL TABLES
-- included): each has a primary key but nicelogin_keys, whose kid may be
-- missing; its rows are few and small, so the whole row identifies it.
ALTER TABLE nicelogin_keys REPLICA IDENTITY FULL;

-- The apply worker of a subscription fires row triggers only, never the
-- statement triggers nicelogin_*_changed.  These fire only where session_replication_role
-- is replica (the apply worker, always): the same invalidation as a local
-- commit, at the apply transaction's commit, while local bulk changes keep
-- paying one statement trigger.
CREATE TRIGGER nicelogin_keys_applied
    AFTER INSERT OR UPDATE OR DELETE ON nicelogin_keys
    FOR EACH ROW EXECUTE FUNCTION nicelogin_invalidate_cache();
CREATE TRIGGER nicelogin_deactivated_users_applied
    AFTER INSERT OR UPDATE OR DELETE ON nicelogin_deactivated_users
    FOR EACH ROW EXECUTE FUNCTION nicelogin_invalidate_cache();
CREATE TRIGGER nicelogin_revocations_applied
    AFTER INSERT OR UPDATE OR DELETE ON nicelogin_revocations
    FOR EACH ROW EXECUTE FUNCTION nicelogin_invalidate_cache();
ALTER TABLE nicelogin_keys ENABLE REPLICA TRIGGER nicelogin_keys_applied;
ALTER TABLE nicelogin_deactivated_users ENABLE REPLICA TRIGGER nicelogin_deactivated_users_applied;
ALTER TABLE nicelogin_revocations ENABLE REPLICA TRIGGER nicelogin_revocations_applied;

-- A replicated row whose key a row of the subscriber already has (a local
-- revocation or deactivation, made before or after a cutover; the keys and
-- the fetch the subscriber's worker stored before the subscription existed)
-- would stop the subscription with a unique violation.  Instead it merges:
-- a revocation keeps the later expiry (NULL: for good; a replicated update
-- of a revocation too), a deactivation
-- stays, a key or the fetch row of the publisher replaces the local one
-- (and the initial copy of nicelogin_keys replaces the whole local set).
CREATE FUNCTION nicelogin_merge_applied_row()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $nl_merge$
DECLARE
    present boolean;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) ALL (ARRAY['INSERT', 'UPDATE']) OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
       OR TG_WHEN OPERATOR(pg_catalog.<>) 'BEFORE' THEN
        RAISE EXCEPTION 'nicelogin_merge_applied_row() must be called as a BEFORE INSERT or UPDATE row trigger'
            USING ERRCODE = 'triggered_action_exception';
    END IF;
    -- a replicated update of a revocation (the publisher revoked it again)
    -- keeps the later expiry too: a subscriber's revocation for good stays so
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'nicelogin_revocations' THEN
            NEW.expires_at := CASE WHEN OLD.expires_at IS NULL OR NEW.expires_at IS NULL THEN NULL
                                   ELSE GREATEST(OLD.expires_at, NEW.expires_at) END;
        END IF;
        RETURN NEW;
    END IF;
    -- look first: a statement that writes would fire the statement triggers
    -- for every replicated row, also when there is nothing to merge
    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'nicelogin_revocations' THEN
        EXECUTE pg_catalog.format(
            'SELECT EXISTS (SELECT FROM %I.%I AS r'
            ' WHERE r.kind OPERATOR(pg_catalog.=) $1 AND r.value OPERATOR(pg_catalog.=) $2)',
            TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO present USING NEW.kind, NEW.value;
        IF present THEN
            EXECUTE pg_catalog.format(
                'UPDATE %I.%I AS r SET expires_at = CASE WHEN r.expires_at IS NULL OR $1 IS NULL THEN NULL'
                ' ELSE GREATEST(r.expires_at, $1) END'
                ' WHERE r.kind OPERATOR(pg_catalog.=) $2 AND r.value OPERATOR(pg_catalog.=) $3',
                TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.expires_at, NEW.kind, NEW.value;
            RETURN NULL;
        END IF;
    ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'nicelogin_deactivated_users' THEN
        EXECUTE pg_catalog.format(
            'SELECT EXISTS (SELECT FROM %I.%I AS d WHERE d.user_id OPERATOR(pg_catalog.=) $1)',
            TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO present USING NEW.user_id;
        IF present THEN
            RETURN NULL;
        END IF;
    ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'nicelogin_keys' THEN
        -- the initial copy of the table (its synchronization worker, while
        -- the data is copied): the subscriber's key set becomes exactly the
        -- publisher's, so every row that this transaction did not copy goes
        IF EXISTS (SELECT FROM pg_catalog.pg_stat_subscription s
                     JOIN pg_catalog.pg_subscription_rel r
                       ON r.srsubid OPERATOR(pg_catalog.=) s.subid
                      AND r.srrelid OPERATOR(pg_catalog.=) s.relid
                    WHERE s.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
                      AND s.relid OPERATOR(pg_catalog.=) TG_RELID
                      AND r.srsubstate OPERATOR(pg_catalog.=) 'd') THEN
            EXECUTE pg_catalog.format(
                'DELETE FROM %I.%I AS k'
                ' WHERE k.xmin OPERATOR(pg_catalog.<>) pg_catalog.pg_current_xact_id()::pg_catalog.xid',
                TG_TABLE_SCHEMA, TG_TABLE_NAME);
            RETURN NEW;
        END IF;
        EXECUTE pg_catalog.format(
            'SELECT EXISTS (SELECT FROM %I.%I AS k WHERE k.kid OPERATOR(pg_catalog.=) $1'
            ' OR ($1 IS NULL AND k.kid IS NULL AND k.jwk OPERATOR(pg_catalog.=) $2))',
            TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO present USING NEW.kid, NEW.jwk;
        IF present THEN
            EXECUTE pg_catalog.format(
                'DELETE FROM %I.%I AS k WHERE k.kid OPERATOR(pg_catalog.=) $1'
                ' OR ($1 IS NULL AND k.kid IS NULL AND k.jwk OPERATOR(pg_catalog.=) $2)',
                TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.kid, NEW.jwk;
        END IF;
    ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'nicelogin_jwks_fetch' THEN
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO present;
        IF present THEN
            EXECUTE pg_catalog.format('DELETE FROM %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
        END IF;
    END IF;
    RETURN NEW;
END
$nl_merge$;
COMMENT ON FUNCTION nicelogin_merge_applied_row() IS
    'row trigger for logical replication''s apply: a replicated row whose key the subscriber already has merges with it (a revocation keeps the later expiry, also when the publisher updates it, a deactivation stays, a key or the last fetch is replaced; the initial copy of the keys replaces the whole local set) instead of stopping the subscription';
REVOKE ALL ON FUNCTION nicelogin_merge_applied_row() FROM PUBLIC;

CREATE TRIGGER nicelogin_keys_merge
    BEFORE INSERT ON nicelogin_keys
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_deactivated_users_merge
    BEFORE INSERT ON nicelogin_deactivated_users
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_revocations_merge
    BEFORE INSERT OR UPDATE ON nicelogin_revocations
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_jwks_fetch_merge
    BEFORE INSERT ON nicelogin_jwks_fetch
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
ALTER TABLE nicelogin_keys ENABLE REPLICA TRIGGER nicelogin_keys_merge;
ALTER TABLE nicelogin_deactivated_users ENABLE REPLICA TRIGGER nicelogin_deactivated_users_merge;
ALTER TABLE nicelogin_revocations ENABLE REPLICA TRIGGER nicelogin_revocations_merge;
ALTER TABLE nicelogin_jwks_fetch ENABLE REPLICA TRIGGER nicelogin_jwks_fetch_merge;

-- 1.2: PostgREST (the public key set, reload notifications)

CREATE FUNCTION nicelogin_public_jwks()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_public_jwks'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_public_jwks() IS
    'the stored keys as a JWKS of public keys: no private member and no symmetric (oct) key; for PostgREST''s jwt-secret (grant EXECUTE to its authenticator role)';
-- Public keys, but only the roles that need them get them (PostgREST's
-- authenticator): nothing of the extension is open to PUBLIC that need not be.
REVOKE ALL ON FUNCTION nicelogin_public_jwks() FROM PUBLIC;
