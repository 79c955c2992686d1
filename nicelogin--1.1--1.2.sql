/* nicelogin--1.1--1.2.sql: upgrade from 1.1 (ALTER EXTENSION nicelogin UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.2'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.2.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- 1.2: security (the 1.0 upgrade path, cached refusals, bounded masking, identity from the request)

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
-- a revocation keeps the later expiry (NULL: for good), a deactivation
-- stays, a key or the fetch row of the publisher replaces the local one.
CREATE FUNCTION nicelogin_merge_applied_row()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $nl_merge$
DECLARE
    present boolean;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'INSERT' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
       OR TG_WHEN OPERATOR(pg_catalog.<>) 'BEFORE' THEN
        RAISE EXCEPTION 'nicelogin_merge_applied_row() must be called as a BEFORE INSERT row trigger'
            USING ERRCODE = 'triggered_action_exception';
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
    'row trigger for logical replication''s apply: a replicated row whose key the subscriber already has merges with it (a revocation keeps the later expiry, a deactivation stays, a key or the last fetch is replaced) instead of stopping the subscription';
REVOKE ALL ON FUNCTION nicelogin_merge_applied_row() FROM PUBLIC;

CREATE TRIGGER nicelogin_keys_merge
    BEFORE INSERT ON nicelogin_keys
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_deactivated_users_merge
    BEFORE INSERT ON nicelogin_deactivated_users
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_revocations_merge
    BEFORE INSERT ON nicelogin_revocations
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
CREATE TRIGGER nicelogin_jwks_fetch_merge
    BEFORE INSERT ON nicelogin_jwks_fetch
    FOR EACH ROW EXECUTE FUNCTION nicelogin_merge_applied_row();
ALTER TABLE nicelogin_keys ENABLE REPLICA TRIGGER nicelogin_keys_merge;
ALTER TABLE nicelogin_deactivated_users ENABLE REPLICA TRIGGER nicelogin_deactivated_users_merge;
ALTER TABLE nicelogin_revocations ENABLE REPLICA TRIGGER nicelogin_revocations_merge;
ALTER TABLE nicelogin_jwks_fetch ENABLE REPLICA TRIGGER nicelogin_jwks_fetch_merge;

-- 1.2: PostgREST (the public key set, reload notifications)
