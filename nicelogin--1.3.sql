/* nicelogin--1.3.sql: install script */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nicelogin" to load this file. \quit

-- The schema must be writable by superusers only: a role that can create
-- objects in it could add functions and operators that match a call better
-- than nicelogin's own (an overload taking varchar, say), and a superuser's or
-- an administrator's call, schema-qualified or not, would run them.
-- One SQL statement, not a DO block, so that the refusal carries no PL/pgSQL
-- context line; nicelogin_install_refuse() only raises, and exists only while
-- this script runs.
CREATE FUNCTION nicelogin_install_refuse(message text, detail text, hint text)
RETURNS void
AS 'MODULE_PATHNAME', 'nicelogin_install_refuse'
LANGUAGE C STRICT VOLATILE;

WITH target AS (
    SELECT n.oid, n.nspowner, pg_catalog.quote_ident(n.nspname) AS qname
      FROM pg_catalog.pg_namespace n
     WHERE n.nspname OPERATOR(pg_catalog.=) pg_catalog.current_schema()
), found AS (
    SELECT t.qname,
           -- CREATE granted to PUBLIC: every role (say so, rather than list them all)
           CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_namespace n
                              CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
                             WHERE n.oid OPERATOR(pg_catalog.=) t.oid
                               AND a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                               AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE')
                THEN 'PUBLIC'
                ELSE (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)
                        FROM pg_catalog.pg_roles r
                       WHERE NOT r.rolsuper
                         -- stands for the database's owner, who is looked at as a role of its own
                         AND r.oid OPERATOR(pg_catalog.<>) 'pg_database_owner'::pg_catalog.regrole::pg_catalog.oid
                         AND pg_catalog.has_schema_privilege(r.oid, t.oid, 'CREATE'))
           END AS writers,
           -- an owner that is not a superuser (pg_database_owner: the database's owner)
           (SELECT pg_catalog.format('ALTER SCHEMA %s OWNER TO %I; ', t.qname, current_user)
              FROM pg_catalog.pg_roles o
              LEFT JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
              LEFT JOIN pg_catalog.pg_roles dbo ON dbo.oid OPERATOR(pg_catalog.=) d.datdba
             WHERE o.oid OPERATOR(pg_catalog.=) t.nspowner
               AND NOT CASE WHEN o.rolname OPERATOR(pg_catalog.=) 'pg_database_owner'
                            THEN COALESCE(dbo.rolsuper, false) ELSE o.rolsuper END) AS owner_fix,
           -- those granted CREATE on it that are not superusers (PUBLIC, roles)
           (SELECT pg_catalog.string_agg(DISTINCT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                                                       THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END, ', ')
              FROM pg_catalog.pg_namespace n
             CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
              LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
             WHERE n.oid OPERATOR(pg_catalog.=) t.oid
               AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
               AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
               AND NOT COALESCE(g.rolsuper, false)) AS grantees,
           -- functions and operators already there that roles other than
           -- superusers own: a new owner or a REVOKE leaves them in place, and
           -- whatever their names, a call from the install's callers (an
           -- operator, an overload that matches better) could bind to them
           (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
              JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) p.proowner
             WHERE p.pronamespace OPERATOR(pg_catalog.=) t.oid AND NOT o.rolsuper)
           OPERATOR(pg_catalog.+)
           (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator p
              JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) p.oprowner
             WHERE p.oprnamespace OPERATOR(pg_catalog.=) t.oid AND NOT o.rolsuper) AS planted,
           -- the first ten of them, as DROP statements
           (SELECT pg_catalog.string_agg(x.stmt, ' ' ORDER BY x.stmt)
              FROM (SELECT pg_catalog.format('DROP %s %s;',
                                             CASE WHEN p.prokind OPERATOR(pg_catalog.=) 'p' THEN 'PROCEDURE' WHEN p.prokind OPERATOR(pg_catalog.=) 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                                             pg_catalog.format('%s.%I(%s)', t.qname, p.proname,
                                                               pg_catalog.pg_get_function_identity_arguments(p.oid))) AS stmt
                      FROM pg_catalog.pg_proc p
                      JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) p.proowner
                     WHERE p.pronamespace OPERATOR(pg_catalog.=) t.oid AND NOT o.rolsuper
                    UNION ALL
                    SELECT pg_catalog.format('DROP OPERATOR %s.%s (%s, %s);', t.qname, p.oprname,
                                             CASE WHEN p.oprleft OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'NONE' ELSE pg_catalog.format_type(p.oprleft, NULL) END,
                                             CASE WHEN p.oprright OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'NONE' ELSE pg_catalog.format_type(p.oprright, NULL) END)
                      FROM pg_catalog.pg_operator p
                      JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) p.oprowner
                     WHERE p.oprnamespace OPERATOR(pg_catalog.=) t.oid AND NOT o.rolsuper
                     ORDER BY 1 LIMIT 10) x) AS planted_drops,
           -- a schema of its own only where CREATE SCHEMA nicelogin can work
           NOT EXISTS (SELECT FROM pg_catalog.pg_namespace
                        WHERE nspname OPERATOR(pg_catalog.=) 'nicelogin') AS can_create_own
      FROM target t
)
SELECT nicelogin_install_refuse(
           pg_catalog.format('schema "%s" can be written by roles that are not superusers: %s',
                             pg_catalog.current_schema(), f.writers),
           'They could create functions or operators there that shadow nicelogin''s, which superusers and administrators would then run.'::pg_catalog.text,
           CASE WHEN f.can_create_own
                THEN 'Install nicelogin into a schema of its own: CREATE SCHEMA nicelogin; CREATE EXTENSION nicelogin SCHEMA nicelogin; Or make this schema writable by superusers only'
                ELSE 'Make the schema writable by superusers only' END
           || CASE WHEN f.planted OPERATOR(pg_catalog.>) 0
                   THEN pg_catalog.format(', once the functions and operators that other roles own in it (%s; \df %s.* and \do %s.* list them) are dropped or moved out',
                                          f.planted, f.qname, f.qname)
                   ELSE '' END
           || ': '
           || COALESCE(f.owner_fix, '')
           || CASE WHEN f.grantees IS NOT NULL
                   THEN pg_catalog.format('REVOKE CREATE ON SCHEMA %s FROM %s; ', f.qname, f.grantees) ELSE '' END
           || pg_catalog.format('CREATE EXTENSION nicelogin SCHEMA %s;', f.qname))
  FROM found f
 WHERE f.writers IS NOT NULL
UNION ALL
-- writable by superusers only now, but functions or operators that other
-- roles created there earlier are still there (and still theirs)
SELECT nicelogin_install_refuse(
           pg_catalog.format('schema "%s" holds functions or operators owned by roles that are not superusers (%s)',
                             pg_catalog.current_schema(), f.planted),
           'Whatever their names, a call made by nicelogin''s callers (a superuser, an administrator, a policy) could bind to one of them, an operator or an overload that matches the call''s argument types better, and run their owners'' code.'::pg_catalog.text,
           pg_catalog.format('See them with \df+ %s.* and \do+ %s.* (their owners are listed), and drop them or move them out (ALTER FUNCTION ... SET SCHEMA), then: ',
                             f.qname, f.qname)
           || f.planted_drops
           || CASE WHEN f.planted OPERATOR(pg_catalog.>) 10 THEN ' ... ' ELSE ' ' END
           || pg_catalog.format('CREATE EXTENSION nicelogin SCHEMA %s;', f.qname))
  FROM found f
 WHERE f.writers IS NULL AND f.planted OPERATOR(pg_catalog.>) 0;

DROP FUNCTION nicelogin_install_refuse(text, text, text);

------------------------------------------------------------------------
-- Tables.  None is readable or writable by PUBLIC.  All three are
-- extension configuration tables, so pg_dump keeps their rows.
------------------------------------------------------------------------

-- The key set tokens are verified against (one row per JWK).
CREATE TABLE nicelogin_keys (
    kid         text UNIQUE,
    kty         text NOT NULL,
    alg         text,
    use         text,
    jwk         jsonb NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE nicelogin_keys IS
    'JWKs that NiceLogin tokens are verified against; write through nicelogin_set_jwks()';

-- Users whose tokens are refused at once (reason user_deactivated).
CREATE TABLE nicelogin_deactivated_users (
    user_id         uuid PRIMARY KEY,
    deactivated_at  timestamptz NOT NULL DEFAULT now(),
    deactivated_by  name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE nicelogin_deactivated_users IS
    'users whose tokens nicelogin refuses, whatever their expiry';

-- Single tokens (by jti) or sessions (by sid) refused at once (reason revoked).
CREATE TABLE nicelogin_revocations (
    kind        text NOT NULL CHECK (kind IN ('jti', 'sid')),
    value       text NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  name NOT NULL DEFAULT session_user,
    PRIMARY KEY (kind, value)
);
COMMENT ON TABLE nicelogin_revocations IS
    'revoked token ids (jti) and sessions (sid); an entry may be purged after expires_at';

-- purging expired entries finds them without a scan
CREATE INDEX nicelogin_revocations_expires_at_idx ON nicelogin_revocations (expires_at);

REVOKE ALL ON nicelogin_keys, nicelogin_deactivated_users, nicelogin_revocations FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('nicelogin_keys', '');
SELECT pg_catalog.pg_extension_config_dump('nicelogin_deactivated_users', '');
SELECT pg_catalog.pg_extension_config_dump('nicelogin_revocations', '');

-- Key list for inspection, without symmetric key material.
CREATE VIEW nicelogin_key_list AS
    SELECT kid, kty, alg, use, jwk - 'k' AS jwk, added_at
      FROM nicelogin_keys;
REVOKE ALL ON nicelogin_key_list FROM PUBLIC;
COMMENT ON VIEW nicelogin_key_list IS
    'stored keys without symmetric key material (k); safe to grant to monitoring roles';

------------------------------------------------------------------------
-- Cache invalidation: any committed change to these tables reaches every
-- backend (and every hot standby) through a relcache invalidation.
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_invalidate_cache()
RETURNS trigger
AS 'MODULE_PATHNAME', 'nicelogin_invalidate_cache'
LANGUAGE C;
COMMENT ON FUNCTION nicelogin_invalidate_cache() IS
    'statement trigger (and row trigger for logical replication''s apply): tells every session to reload nicelogin''s keys and revocations after commit';
REVOKE ALL ON FUNCTION nicelogin_invalidate_cache() FROM PUBLIC;

CREATE TRIGGER nicelogin_keys_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nicelogin_keys
    FOR EACH STATEMENT EXECUTE FUNCTION nicelogin_invalidate_cache();
CREATE TRIGGER nicelogin_deactivated_users_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nicelogin_deactivated_users
    FOR EACH STATEMENT EXECUTE FUNCTION nicelogin_invalidate_cache();
CREATE TRIGGER nicelogin_revocations_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nicelogin_revocations
    FOR EACH STATEMENT EXECUTE FUNCTION nicelogin_invalidate_cache();
-- Fire in every session_replication_role, so that changes made by loading
-- tools that set it to replica reach the caches too.  Logical replication's
-- apply worker fires row triggers only: see the row triggers below (1.2:
-- deployments).
ALTER TABLE nicelogin_keys ENABLE ALWAYS TRIGGER nicelogin_keys_changed;
ALTER TABLE nicelogin_deactivated_users ENABLE ALWAYS TRIGGER nicelogin_deactivated_users_changed;
ALTER TABLE nicelogin_revocations ENABLE ALWAYS TRIGGER nicelogin_revocations_changed;

------------------------------------------------------------------------
-- Verification.  Never raise for a bad token; callable by any role.
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_verify(token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_verify'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_verify(text) IS
    'true when the token is a valid NiceLogin JWT signed by a stored key';

CREATE FUNCTION nicelogin_claims(token text, verify boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_claims'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_claims(text, boolean) IS
    'the payload of a valid token, or NULL; verify => false decodes without any check and must never drive authorization';

CREATE FUNCTION nicelogin_check(token text)
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_check'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_check(text) IS
    'valid, or the reason the token is refused';

CREATE FUNCTION nicelogin_jws_verify(token text, key_set jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_jws_verify'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_jws_verify(text, jsonb) IS
    'checks the signature of a compact JWS against the given JWKS or JWK, without claims rules';

------------------------------------------------------------------------
-- Key management (EXECUTE revoked from PUBLIC).
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_set_jwks(jwks jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'nicelogin_set_jwks'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_set_jwks(jsonb) IS
    'validates a JWKS and replaces the stored keys with it; returns the number of keys; an empty set is refused (22023): DELETE FROM nicelogin_keys removes every key on purpose';
REVOKE ALL ON FUNCTION nicelogin_set_jwks(jsonb) FROM PUBLIC;

------------------------------------------------------------------------
-- The request's token and its verified claims, for RLS policies.
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_token()
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_token'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_token() IS
    'the request''s token: nicelogin.token, else the bearer token in request.headers; surrounding whitespace and a Bearer prefix (any case) removed';

CREATE FUNCTION nicelogin_claims()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nicelogin_request_claims'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_claims() IS
    'the verified claims of the request''s token, or NULL';

CREATE FUNCTION nicelogin_user_id()
RETURNS uuid
AS 'MODULE_PATHNAME', 'nicelogin_user_id'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_user_id() IS
    'the verified sub claim of the request''s token as a uuid, or NULL';

CREATE FUNCTION nicelogin_company_id()
RETURNS uuid
AS 'MODULE_PATHNAME', 'nicelogin_company_id'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_company_id() IS
    'the verified company_id claim of the request''s token as a uuid, or NULL';

CREATE FUNCTION nicelogin_email()
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_email'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION nicelogin_email() IS
    'the verified email claim of the request''s token, or NULL';

------------------------------------------------------------------------
-- Local revocation of single tokens and sessions (EXECUTE revoked from PUBLIC).
------------------------------------------------------------------------

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
REVOKE ALL ON FUNCTION nicelogin_purge_revocations(integer) FROM PUBLIC;

CREATE FUNCTION nicelogin_purge_revocations()
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN nicelogin_purge_revocations(NULL::integer);
COMMENT ON FUNCTION nicelogin_purge_revocations() IS
    'deletes every revocation whose expires_at passed more than a day ago (or more than nicelogin.leeway, if longer); returns how many';
REVOKE ALL ON FUNCTION nicelogin_purge_revocations() FROM PUBLIC;

CREATE FUNCTION nicelogin_revoke_jti(jti text, expires_at timestamptz DEFAULT NULL)
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

CREATE FUNCTION nicelogin_revoke_sid(sid text, expires_at timestamptz DEFAULT NULL)
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

CREATE FUNCTION nicelogin_revoke_token(token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_revoke_token'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_revoke_token(text) IS
    'revokes a genuine token (signed by a stored key, within its exp, nbf, iss and aud rules) by its jti until its exp; false for any other token or one without jti; never raises for a bad token';
REVOKE ALL ON FUNCTION nicelogin_revoke_token(text) FROM PUBLIC;

CREATE FUNCTION nicelogin_revoke_current_session()
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_revoke_current_session'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_revoke_current_session() IS
    'logout: revokes the session (sid) of the request''s own genuine token (nicelogin.token, else request.headers) until its exp, or the token itself (jti) when it has no sid; false when there is none or it has neither; grant it to the API role';
REVOKE ALL ON FUNCTION nicelogin_revoke_current_session() FROM PUBLIC;

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

------------------------------------------------------------------------
-- The NiceLogin API over HTTP (EXECUTE revoked from PUBLIC).
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_request_password_reset(email text)
RETURNS text
AS 'MODULE_PATHNAME', 'nicelogin_request_password_reset'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nicelogin_request_password_reset(text) IS
    'asks NiceLogin for a password reset token for this email';
REVOKE ALL ON FUNCTION nicelogin_request_password_reset(text) FROM PUBLIC;

CREATE FUNCTION nicelogin_reset_password(email text, current_password text,
                                         new_password text, reset_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_reset_password'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nicelogin_reset_password(text, text, text, text) IS
    'sets a new password with a reset token; pass the passwords as bind parameters';
REVOKE ALL ON FUNCTION nicelogin_reset_password(text, text, text, text) FROM PUBLIC;

CREATE FUNCTION nicelogin_change_password(email text, current_password text, new_password text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_change_password'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nicelogin_change_password(text, text, text) IS
    'requests a reset token and sets the new password in one call';
REVOKE ALL ON FUNCTION nicelogin_change_password(text, text, text) FROM PUBLIC;

CREATE FUNCTION nicelogin_activate(user_id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_activate'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_activate(uuid) IS
    'activates the user at NiceLogin and, on success, lifts the local deactivation';
REVOKE ALL ON FUNCTION nicelogin_activate(uuid) FROM PUBLIC;

CREATE FUNCTION nicelogin_deactivate(user_id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nicelogin_deactivate'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_deactivate(uuid) IS
    'deactivates the user at NiceLogin and, on success, refuses the user''s tokens from commit on';
REVOKE ALL ON FUNCTION nicelogin_deactivate(uuid) FROM PUBLIC;

CREATE FUNCTION nicelogin_refresh_jwks()
RETURNS integer
AS 'MODULE_PATHNAME', 'nicelogin_refresh_jwks'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION nicelogin_refresh_jwks() IS
    'fetches the JWKS from NiceLogin, validates and stores it; returns the number of keys';
REVOKE ALL ON FUNCTION nicelogin_refresh_jwks() FROM PUBLIC;

------------------------------------------------------------------------
-- The key set's refresh state (EXECUTE / SELECT revoked from PUBLIC).
------------------------------------------------------------------------

CREATE FUNCTION nicelogin_jwks_status(
    OUT worker_pid integer,
    OUT last_fetch_at timestamptz,
    OUT last_fetch_by text,
    OUT last_fetch_keys integer,
    OUT last_error_at timestamptz,
    OUT last_error text,
    OUT next_refresh_at timestamptz,
    OUT refresh_requested boolean,
    OUT refreshes bigint,
    OUT failures bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'nicelogin_jwks_status'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION nicelogin_jwks_status() IS
    'refresh state kept in shared memory since server start (all NULL unless nicelogin is in shared_preload_libraries)';
REVOKE ALL ON FUNCTION nicelogin_jwks_status() FROM PUBLIC;

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

-- 1.2: security (the 1.0 upgrade path, cached refusals, bounded masking, identity from the request)

-- 1.2: deployments (logical replication, pg_upgrade)

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
