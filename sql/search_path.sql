-- search_path: nothing a lesser role places on the search path runs with the
-- privilege of the extension's SECURITY DEFINER functions or its SPI from C.
-- A schema owned by a non-superuser shadows every operator and function the
-- extension's SQL uses; its functions record each call in evil.hits and try
-- to make their owner a superuser.  The database's and the caller's
-- search_path put that schema first.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
\! python3 test/nicelogin_ctl.py reset
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS evil CASCADE;
DROP ROLE IF EXISTS regress_nl_dbo;
DROP ROLE IF EXISTS regress_nl_admin;
RESET client_min_messages;
CREATE ROLE regress_nl_dbo NOLOGIN;
CREATE ROLE regress_nl_admin LOGIN;
GRANT EXECUTE ON FUNCTION nicelogin_set_jwks(jsonb), nicelogin_revoke_jti(text, timestamptz),
      nicelogin_revoke_sid(text, timestamptz), nicelogin_revoke_token(text),
      nicelogin_purge_revocations(), nicelogin_purge_revocations(integer),
      nicelogin_revoke_current_session(), nicelogin_refresh_jwks(),
      nicelogin_unrevoke_jti(text), nicelogin_unrevoke_sid(text) TO regress_nl_admin;
GRANT SELECT ON nicelogin_revocation_list, nicelogin_deactivation_list TO regress_nl_admin;
CREATE SCHEMA evil AUTHORIZATION regress_nl_dbo;

-- Every SECURITY DEFINER function of the extension pins its search_path.
SELECT p.oid::regprocedure AS security_definer, p.proconfig
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nicelogin')
   AND p.prosecdef
 ORDER BY 1::text;

SET ROLE regress_nl_dbo;
CREATE TABLE evil.hits (who name, what text);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT SELECT, INSERT ON evil.hits TO PUBLIC;
CREATE FUNCTION evil.hit(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.hits VALUES (current_user, what);
    BEGIN
        EXECUTE 'ALTER ROLE regress_nl_dbo SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $$;
CREATE FUNCTION evil.jt(j jsonb, k text) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('->>'); RETURN pg_catalog.jsonb_object_field_text(j, k); END$$;
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.jt);
CREATE FUNCTION evil.jo(j jsonb, k text) RETURNS jsonb LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('->'); RETURN pg_catalog.jsonb_object_field(j, k); END$$;
CREATE OPERATOR evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.jo);
CREATE FUNCTION evil.ueq(a uuid, b uuid) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('uuid ='); RETURN pg_catalog.uuid_eq(a, b); END$$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.ueq);
CREATE FUNCTION evil.teq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('text ='); RETURN pg_catalog.texteq(a, b); END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.teq);
CREATE FUNCTION evil.tslt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('timestamptz <'); RETURN pg_catalog.timestamptz_lt(a, b); END$$;
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tslt);
CREATE FUNCTION evil.tsmi(a timestamptz, b interval) RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('timestamptz - interval'); RETURN pg_catalog.timestamptz_mi_interval(a, b); END$$;
CREATE OPERATOR evil.- (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.tsmi);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('now()'); RETURN pg_catalog.now(); END$$;
CREATE FUNCTION evil.jsonb_array_elements(j jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('jsonb_array_elements'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements(j); END$$;
CREATE FUNCTION evil.current_setting(n text, m boolean) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('current_setting'); RETURN pg_catalog.current_setting(n, m); END$$;
CREATE FUNCTION evil.to_timestamp(s double precision) RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('to_timestamp'); RETURN pg_catalog.to_timestamp(s); END$$;
RESET ROLE;

-- The trap works: an unqualified query under that search_path calls it (run
-- by a role that cannot grant superuser, so that the trap stays harmless).
SET ROLE regress_nl_admin;
SET search_path = evil, pg_catalog, public;
SELECT '{"a": "1"}'::jsonb ->> 'a' AS shadowed;
RESET search_path;
RESET ROLE;
SELECT who, what FROM evil.hits;
TRUNCATE evil.hits;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_nl_dbo';

-- The search_path through the database's settings and the admin role's.
\set ECHO none
SELECT format('ALTER DATABASE %I SET search_path = evil, pg_catalog, public', current_database()) \gexec
\set ECHO all
ALTER ROLE regress_nl_admin SET search_path = evil, pg_catalog, public;
ALTER ROLE regress_nl_admin SET nicelogin.base_url = 'http://127.0.0.1:18089';
ALTER ROLE regress_nl_admin SET nicelogin.api_key = 'test-api-key';

-- An administrator role: every SECURITY DEFINER function it may call.
\c - regress_nl_admin
SHOW search_path;
SELECT nicelogin_set_jwks(:'jwks') AS keys;
SELECT nicelogin_set_jwks(:'jwks_hs') AS keys;
SELECT nicelogin_set_jwks(:'jwks') AS keys;
SELECT nicelogin_revoke_jti('jti-x', pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 year');
SELECT nicelogin_revoke_sid('sid-x', NULL);
SELECT nicelogin_revoke_token(:'rs256') AS revoked;
SELECT nicelogin_revoke_token(:'forged_victim_jti') AS forged;
SELECT nicelogin_purge_revocations() AS purged;
SELECT nicelogin_purge_revocations(10) AS purged;
SELECT set_config('nicelogin.token', :'alice2', false) IS NOT NULL AS token_set;
SELECT nicelogin_revoke_current_session() AS logged_out;
SELECT nicelogin_check(:'alice2') AS alice2;
RESET nicelogin.token;
SELECT nicelogin_refresh_jwks() AS refreshed;
SELECT count(*) AS listed FROM nicelogin_revocation_list;
SELECT count(*) AS listed FROM nicelogin_deactivation_list;
SELECT nicelogin_unrevoke_jti('jti-x') AS unrevoked_jti, nicelogin_unrevoke_sid('sid-x') AS unrevoked_sid;

-- A superuser's session under the database's search_path: every function
-- that runs SQL from C, including the admin API's.
\c - :superuser
SHOW search_path;
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';
SELECT nicelogin_set_jwks(:'jwks_hs') AS keys;
SELECT nicelogin_refresh_jwks() AS refreshed;
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222') AS deactivated;
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222') AS activated;
SELECT nicelogin_revoke_token(:'bob') AS revoked;
SELECT nicelogin_purge_revocations() AS purged;
-- the verification path and the RLS helpers (not privileged, but they must not care)
SELECT nicelogin_check(:'rs256') AS rs256, nicelogin_check(:'bob') AS bob,
       nicelogin_claims(:'alice2') OPERATOR(pg_catalog.->>) 'email' AS email;

-- Nothing ran: no hit, and the schema's owner is no superuser.
RESET search_path;
SELECT count(*) AS hits FROM evil.hits;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_nl_dbo';

-- clean up
\set ECHO none
SELECT format('ALTER DATABASE %I RESET search_path', current_database()) \gexec
\set ECHO all
\c
DELETE FROM nicelogin_revocations;
SELECT nicelogin_set_jwks(:'jwks') AS keys;
DROP SCHEMA evil CASCADE;
REVOKE ALL ON FUNCTION nicelogin_set_jwks(jsonb), nicelogin_revoke_jti(text, timestamptz),
      nicelogin_revoke_sid(text, timestamptz), nicelogin_revoke_token(text),
      nicelogin_purge_revocations(), nicelogin_purge_revocations(integer),
      nicelogin_revoke_current_session(), nicelogin_refresh_jwks(),
      nicelogin_unrevoke_jti(text), nicelogin_unrevoke_sid(text) FROM regress_nl_admin;
REVOKE ALL ON nicelogin_revocation_list, nicelogin_deactivation_list FROM regress_nl_admin;
DROP ROLE regress_nl_admin;
DROP ROLE regress_nl_dbo;
