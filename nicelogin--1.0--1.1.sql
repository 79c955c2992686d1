/* nicelogin--1.0--1.1.sql: upgrade from 1.0 (ALTER EXTENSION nicelogin UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.1'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.1.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

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
          HINT = 'As a superuser, make the schema writable by superusers only'
                 || CASE WHEN drops IS NOT NULL THEN ', drop what is not nicelogin''s,' ELSE '' END
                 || ' and update (1.0 cannot move to another schema): ' || fix
                 || CASE WHEN can_move
                         THEN ' Afterwards nicelogin can move to a schema of its own (CREATE SCHEMA nicelogin; ALTER EXTENSION nicelogin SET SCHEMA nicelogin;) and the schema''s owner and privileges can be restored.'
                         ELSE '' END;
END
$nl_schema_check$;

-- nicelogin_revoke_token trusts only a verified token (it read the jti and exp
-- of an unverified decoding in 1.0); now in C, same signature and privileges.
CREATE OR REPLACE FUNCTION nicelogin_revoke_token(token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_revoke_token'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_revoke_token(text) IS
    'revokes a genuine token (signed by a stored key, within its exp, nbf, iss and aud rules) by its jti until its exp; false for any other token or one without jti; never raises for a bad token';
REVOKE ALL ON FUNCTION nicelogin_revoke_token(text) FROM PUBLIC;

-- Verification looks revocations up by index instead of loading the tables.
-- Expired entries go away by themselves: a bounded batch at every revocation,
-- all of them hourly in the refresh worker; purging keeps an entry for the
-- leeway too, when that is longer than a day.
CREATE INDEX nicelogin_revocations_expires_at_idx ON nicelogin_revocations (expires_at);

CREATE FUNCTION nicelogin_purge_before()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'nicelogin_purge_before'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_purge_before() IS
    'the time before which an expired revocation may be purged: now() minus a day, or minus the longest nicelogin.leeway (this session''s, any database''s or role''s) if longer';
REVOKE ALL ON FUNCTION nicelogin_purge_before() FROM PUBLIC;

CREATE FUNCTION nicelogin_purge_revocations(max_rows integer)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM nicelogin_revocations
         WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM nicelogin_revocations
                    WHERE expires_at < nicelogin_purge_before()
                    ORDER BY expires_at
                    LIMIT max_rows
                    FOR UPDATE SKIP LOCKED))
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION nicelogin_purge_revocations(integer) IS
    'deletes at most max_rows (NULL: all) revocations whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer), oldest first, skipping rows another session is deleting; returns how many';
REVOKE ALL ON FUNCTION nicelogin_purge_revocations(integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nicelogin_purge_revocations()
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN nicelogin_purge_revocations(NULL::integer);
COMMENT ON FUNCTION nicelogin_purge_revocations() IS
    'deletes every revocation whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer); returns how many';
REVOKE ALL ON FUNCTION nicelogin_purge_revocations() FROM PUBLIC;

CREATE OR REPLACE FUNCTION nicelogin_revoke_jti(jti text, expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO nicelogin_revocations AS r (kind, value, expires_at)
    VALUES ('jti', jti, expires_at)
    ON CONFLICT (kind, value) DO UPDATE SET expires_at =
        CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
             ELSE GREATEST(r.expires_at, EXCLUDED.expires_at) END;
    SELECT nicelogin_purge_revocations(100);
END;
COMMENT ON FUNCTION nicelogin_revoke_jti(text, timestamptz) IS
    'refuses the token with this jti from commit on; an existing entry keeps the later expiry (NULL: for good); the entry is purged a day (or the longest nicelogin.leeway) after expires_at; each call also purges up to 100 expired entries';
REVOKE ALL ON FUNCTION nicelogin_revoke_jti(text, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nicelogin_revoke_sid(sid text, expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO nicelogin_revocations AS r (kind, value, expires_at)
    VALUES ('sid', sid, expires_at)
    ON CONFLICT (kind, value) DO UPDATE SET expires_at =
        CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
             ELSE GREATEST(r.expires_at, EXCLUDED.expires_at) END;
    SELECT nicelogin_purge_revocations(100);
END;
COMMENT ON FUNCTION nicelogin_revoke_sid(text, timestamptz) IS
    'refuses every token of this session (sid) from commit on; an existing entry keeps the later expiry (NULL: for good); the entry is purged a day (or the longest nicelogin.leeway) after expires_at; each call also purges up to 100 expired entries';
REVOKE ALL ON FUNCTION nicelogin_revoke_sid(text, timestamptz) FROM PUBLIC;

-- Logout: an API role revokes its own request's session.
CREATE FUNCTION nicelogin_revoke_current_session()
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_revoke_current_session'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_revoke_current_session() IS
    'logout: revokes the session (sid) of the request''s own genuine token (nicelogin.token, else request.headers) until its exp, or the token itself (jti) when it has no sid; false when there is none or it has neither; grant it to the API role';
REVOKE ALL ON FUNCTION nicelogin_revoke_current_session() FROM PUBLIC;

-- BEGIN stats (verification statistics)
------------------------------------------------------------------------
-- Verification statistics, summed over all sessions when nicelogin is in
-- shared_preload_libraries (else: this session's only).  Readable by
-- superusers and pg_monitor; the reset is the superuser's unless granted.
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_stats_answers(
    OUT datname name,
    OUT reason text,
    OUT verified bigint,
    OUT cached bigint,
    OUT shared bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'nicelogin_stats_answers'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION nicelogin_stats_answers() IS
    'per database and result: full verifications, per-backend and shared token cache answers since stats_reset';
REVOKE ALL ON FUNCTION nicelogin_stats_answers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nicelogin_stats_answers() TO pg_monitor;

CREATE VIEW nicelogin_stats AS
    SELECT s.datname, s.reason, s.verified, s.cached, s.shared, s.stats_reset
      FROM nicelogin_stats_answers() AS s;
COMMENT ON VIEW nicelogin_stats IS
    'one row per database and outcome (valid or a refusal reason): full verifications (cache misses), answers from the session''s token cache, and from the shared token cache';
REVOKE ALL ON nicelogin_stats FROM PUBLIC;
GRANT SELECT ON nicelogin_stats TO pg_monitor;

CREATE FUNCTION nicelogin_stats_events(
    OUT datname name,
    OUT key_loads bigint,
    OUT key_parses bigint,
    OUT refresh_requests bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'nicelogin_stats_events'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION nicelogin_stats_events() IS
    'per database: key table reads, key sets parsed, early refreshes asked for unknown kids, since stats_reset';
REVOKE ALL ON FUNCTION nicelogin_stats_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nicelogin_stats_events() TO pg_monitor;

CREATE VIEW nicelogin_stats_keys AS
    SELECT s.datname, s.key_loads, s.key_parses, s.refresh_requests, s.stats_reset
      FROM nicelogin_stats_events() AS s;
COMMENT ON VIEW nicelogin_stats_keys IS
    'one row per database: key table reads by sessions, reads that found other keys, early refreshes asked for unknown kids';
REVOKE ALL ON nicelogin_stats_keys FROM PUBLIC;
GRANT SELECT ON nicelogin_stats_keys TO pg_monitor;

CREATE FUNCTION nicelogin_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'nicelogin_stats_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nicelogin_stats_reset() IS
    'zeroes the counts of nicelogin_stats and nicelogin_stats_keys for every database';
REVOKE ALL ON FUNCTION nicelogin_stats_reset() FROM PUBLIC;
-- END stats

-- Comments that changed with 1.1's behaviour.
COMMENT ON FUNCTION nicelogin_token() IS
    'the request''s token: nicelogin.token, else the bearer token in request.headers; surrounding whitespace and a Bearer prefix (any case) removed';
COMMENT ON FUNCTION nicelogin_set_jwks(jsonb) IS
    'validates a JWKS and replaces the stored keys with it; returns the number of keys; an empty set is refused (22023): DELETE FROM nicelogin_keys removes every key on purpose';

-- BEGIN admin lists (the same in both install scripts)
-- What an administrator needs besides revoking: see the revocations and
-- deactivations, and undo a revocation.  Nothing granted to PUBLIC: grant
-- them to the admin role.  The views read the tables with their owner's
-- privileges, so the admin role needs no privilege on the tables.
CREATE VIEW nicelogin_revocation_list AS
    SELECT kind, value, expires_at, revoked_at, revoked_by
      FROM nicelogin_revocations;
COMMENT ON VIEW nicelogin_revocation_list IS
    'revoked token ids (kind jti) and sessions (kind sid): expires_at (NULL: for good; purged a day, or the longest nicelogin.leeway, after it), when and by which session user; grant SELECT to the admin role';
REVOKE ALL ON nicelogin_revocation_list FROM PUBLIC;

CREATE VIEW nicelogin_deactivation_list AS
    SELECT user_id, deactivated_at, deactivated_by
      FROM nicelogin_deactivated_users;
COMMENT ON VIEW nicelogin_deactivation_list IS
    'users whose tokens are refused (user_deactivated), when and by which session user; grant SELECT to the admin role';
REVOKE ALL ON nicelogin_deactivation_list FROM PUBLIC;

CREATE FUNCTION nicelogin_unrevoke_jti(jti text)
RETURNS boolean
LANGUAGE sql STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM nicelogin_revocations AS r
         WHERE r.kind OPERATOR(pg_catalog.=) 'jti' AND r.value OPERATOR(pg_catalog.=) jti
        RETURNING 1)
    SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 FROM gone;
END;
COMMENT ON FUNCTION nicelogin_unrevoke_jti(text) IS
    'lifts the revocation of the token with this jti from commit on; true when there was one, false otherwise (never raises for an unknown jti)';
REVOKE ALL ON FUNCTION nicelogin_unrevoke_jti(text) FROM PUBLIC;

CREATE FUNCTION nicelogin_unrevoke_sid(sid text)
RETURNS boolean
LANGUAGE sql STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM nicelogin_revocations AS r
         WHERE r.kind OPERATOR(pg_catalog.=) 'sid' AND r.value OPERATOR(pg_catalog.=) sid
        RETURNING 1)
    SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 FROM gone;
END;
COMMENT ON FUNCTION nicelogin_unrevoke_sid(text) IS
    'lifts the revocation of this session (sid) from commit on; true when there was one, false otherwise (never raises for an unknown sid)';
REVOKE ALL ON FUNCTION nicelogin_unrevoke_sid(text) FROM PUBLIC;
-- END admin lists

-- BEGIN jwks fetch (the last committed fetch; the same in both install scripts)
-- The last fetch of the key set that committed (one row at most), written by
-- nicelogin_refresh_jwks() and the refresh worker in the transaction that
-- stores the keys: so it is seen without shared_preload_libraries, after a
-- restart and on standbys, and a refresh that rolled back left none.
CREATE TABLE nicelogin_jwks_fetch (
    one_row     boolean PRIMARY KEY DEFAULT true CHECK (one_row),
    fetched_at  timestamptz NOT NULL,
    fetched_by  text NOT NULL,
    keys        integer NOT NULL
);
COMMENT ON TABLE nicelogin_jwks_fetch IS
    'the last committed fetch of the JWKS from NiceLogin: when, by whom (the refresh worker or the session user), how many keys';
REVOKE ALL ON nicelogin_jwks_fetch FROM PUBLIC;

CREATE OR REPLACE VIEW nicelogin_jwks_state AS
    SELECT s.worker_pid,
           f.fetched_at AS last_fetch_at,
           f.fetched_by AS last_fetch_by,
           f.keys AS last_fetch_keys,
           s.last_error_at, s.last_error, s.next_refresh_at, s.refresh_requested,
           s.refreshes, s.failures,
           (SELECT count(*) FROM nicelogin_keys) AS keys_stored,
           (SELECT max(added_at) FROM nicelogin_keys) AS keys_stored_at
      FROM nicelogin_jwks_status() AS s
      LEFT JOIN nicelogin_jwks_fetch AS f ON true;
COMMENT ON VIEW nicelogin_jwks_state IS
    'the last committed fetch of the JWKS and by whom (also without shared_preload_libraries), the last failed refresh, the next planned refresh and counters (these with shared_preload_libraries only), and the stored keys';
REVOKE ALL ON nicelogin_jwks_state FROM PUBLIC;
-- END jwks fetch

------------------------------------------------------------------------
-- The shared token cache's counters (monitoring roles only).
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_shared_cache_info(
    OUT capacity integer,
    OUT entries bigint,
    OUT entry_bytes integer,
    OUT hits bigint,
    OUT misses bigint,
    OUT inserts bigint,
    OUT evictions bigint,
    OUT too_large bigint,
    OUT invalidations bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'nicelogin_shared_cache_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION nicelogin_shared_cache_info() IS
    'size and counters of the verified-token cache shared by all sessions, since server start (capacity 0 unless nicelogin is in shared_preload_libraries)';
REVOKE ALL ON FUNCTION nicelogin_shared_cache_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nicelogin_shared_cache_info() TO pg_monitor;

-- BEGIN secrets (stored-secret checks)
-- Tell the superuser who installs or updates the extension about copies of
-- nicelogin.api_secret that any role can read: settings of roles and
-- databases (pg_db_role_setting, shared by all databases), SET clauses of
-- this database's functions, and a secret in the server configuration that
-- is ignored because nicelogin is not in shared_preload_libraries (until a
-- session loads the library, any role can SHOW it).  Values are never shown.
-- Every name and operator is qualified: nothing depends on search_path.
DO $nl_secrets$
DECLARE
    r record;
BEGIN
    IF NOT COALESCE((SELECT a.rolsuper FROM pg_catalog.pg_roles a
                      WHERE a.rolname OPERATOR(pg_catalog.=) session_user), false) THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT CASE
                 WHEN s.setrole OPERATOR(pg_catalog.<>) 0 AND s.setdatabase OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('the setting of role "%s" in database "%s"',
                                     rl.rolname, d.datname)
                 WHEN s.setrole OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('the setting of role "%s"', rl.rolname)
                 WHEN s.setdatabase OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('the setting of database "%s"', d.datname)
                 ELSE 'the setting for all roles (ALTER ROLE ALL)'
               END AS place,
               CASE
                 WHEN s.setrole OPERATOR(pg_catalog.<>) 0 AND s.setdatabase OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('ALTER ROLE %I IN DATABASE %I RESET nicelogin.api_secret',
                                     rl.rolname, d.datname)
                 WHEN s.setrole OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('ALTER ROLE %I RESET nicelogin.api_secret', rl.rolname)
                 WHEN s.setdatabase OPERATOR(pg_catalog.<>) 0 THEN
                   pg_catalog.format('ALTER DATABASE %I RESET nicelogin.api_secret', d.datname)
                 ELSE 'ALTER ROLE ALL RESET nicelogin.api_secret'
               END AS fix
          FROM pg_catalog.pg_db_role_setting s
          LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.setdatabase
          LEFT JOIN pg_catalog.pg_roles rl ON rl.oid OPERATOR(pg_catalog.=) s.setrole
         WHERE EXISTS (SELECT FROM pg_catalog.unnest(s.setconfig) AS c(item)
                        WHERE pg_catalog.lower(c.item) OPERATOR(pg_catalog.~~) 'nicelogin.api\_secret=%')
        UNION ALL
        SELECT pg_catalog.format('the SET clause of %s %s in database "%s"',
                                 CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
                                 p.oid::pg_catalog.regprocedure, pg_catalog.current_database()),
               pg_catalog.format('ALTER %s %s RESET nicelogin.api_secret',
                                 CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                                 p.oid::pg_catalog.regprocedure)
          FROM pg_catalog.pg_proc p
         WHERE EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) AS c(item)
                        WHERE pg_catalog.lower(c.item) OPERATOR(pg_catalog.~~) 'nicelogin.api\_secret=%')
    LOOP
        RAISE WARNING 'nicelogin.api_secret is stored in a catalog that every role can read'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('A value is stored in %s; any role can read it there, and nicelogin never uses it.', r.place),
                  HINT = pg_catalog.format('Remove it (%s) and rotate the secret at NiceLogin.', r.fix);
    END LOOP;
    IF EXISTS (SELECT FROM pg_catalog.pg_file_settings f
                WHERE f.name OPERATOR(pg_catalog.=) 'nicelogin.api_secret' AND f.applied
                  AND f.setting OPERATOR(pg_catalog.<>) '')
       AND NOT pg_catalog.current_setting('shared_preload_libraries')
               OPERATOR(pg_catalog.~) '(^|[,[:space:]"/])nicelogin("|[,[:space:]]|$)' THEN
        RAISE WARNING 'nicelogin.api_secret from the server configuration is ignored because nicelogin is not in shared_preload_libraries'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Until a session loads the library, any role can read a value set in the server configuration.',
                  HINT = 'Add nicelogin to shared_preload_libraries, restart the server, and rotate the secret at NiceLogin.';
    END IF;
END
$nl_secrets$;
-- END secrets
