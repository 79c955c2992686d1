/* nicelogin--1.0--1.1.sql: upgrade from 1.0 (ALTER EXTENSION nicelogin UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.1'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.1.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- The schema must be writable by superusers only: a role that can create
-- objects in it could add functions and operators that match a call better
-- than nicelogin's own (an overload taking varchar, say), and a superuser's or
-- an administrator's call, schema-qualified or not, would run them.
DO $nl_schema_check$
DECLARE
    writers text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)
      INTO writers
      FROM pg_catalog.pg_roles r
     WHERE NOT r.rolsuper
       -- stands for the database's owner, who is looked at as a role of its own
       AND r.oid OPERATOR(pg_catalog.<>) 'pg_database_owner'::pg_catalog.regrole::pg_catalog.oid
       AND pg_catalog.has_schema_privilege(r.oid, '@extschema@'::pg_catalog.regnamespace, 'CREATE');
    IF writers IS NOT NULL THEN
        RAISE WARNING 'schema "%" can be written by roles that are not superusers: %',
            (SELECT n.nspname FROM pg_catalog.pg_namespace n
              WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace::pg_catalog.oid), writers
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'They could create functions or operators there that shadow nicelogin''s, which superusers and administrators would then run.',
              HINT = 'Make a superuser own the schema (ALTER SCHEMA ... OWNER TO) and revoke CREATE on it from every other role; nicelogin cannot be moved to another schema.';
    END IF;
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
        DELETE FROM @extschema@.nicelogin_revocations
         WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM @extschema@.nicelogin_revocations
                    WHERE expires_at < @extschema@.nicelogin_purge_before()
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
RETURN @extschema@.nicelogin_purge_revocations(NULL::integer);
COMMENT ON FUNCTION nicelogin_purge_revocations() IS
    'deletes every revocation whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer); returns how many';
REVOKE ALL ON FUNCTION nicelogin_purge_revocations() FROM PUBLIC;

CREATE OR REPLACE FUNCTION nicelogin_revoke_jti(jti text, expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO @extschema@.nicelogin_revocations AS r (kind, value, expires_at)
    VALUES ('jti', jti, expires_at)
    ON CONFLICT (kind, value) DO UPDATE SET expires_at =
        CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
             ELSE GREATEST(r.expires_at, EXCLUDED.expires_at) END;
    SELECT @extschema@.nicelogin_purge_revocations(100);
END;
COMMENT ON FUNCTION nicelogin_revoke_jti(text, timestamptz) IS
    'refuses the token with this jti from commit on; an existing entry keeps the later expiry (NULL: for good); the entry is purged a day (or the longest nicelogin.leeway) after expires_at; each call also purges up to 100 expired entries';
REVOKE ALL ON FUNCTION nicelogin_revoke_jti(text, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nicelogin_revoke_sid(sid text, expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO @extschema@.nicelogin_revocations AS r (kind, value, expires_at)
    VALUES ('sid', sid, expires_at)
    ON CONFLICT (kind, value) DO UPDATE SET expires_at =
        CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
             ELSE GREATEST(r.expires_at, EXCLUDED.expires_at) END;
    SELECT @extschema@.nicelogin_purge_revocations(100);
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
    'logout: revokes the session (sid) of the request''s own genuine token (nicelogin.token, else request.headers) until its exp; false when there is none or it has no sid; grant it to the API role';
REVOKE ALL ON FUNCTION nicelogin_revoke_current_session() FROM PUBLIC;

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
