-- stats: the statistics views without shared_preload_libraries (this
-- session's counts, with a NOTICE), who may read and reset them, and who may
-- set nicelogin.log_failures.  The counts across sessions are tested with
-- preloading in t/006_stats.pl.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse

SELECT nicelogin_set_jwks(:'jwks');
SELECT nicelogin_stats_reset();

-- twice each: the second answer of a refusal that does not depend on the
-- clock comes from the token cache, an expired token is verified again
SELECT nicelogin_check(:'rs256'), nicelogin_check(:'rs256'),
       nicelogin_check(:'expired'), nicelogin_check(:'expired'),
       nicelogin_check(:'rs256_wrong_key'), nicelogin_check(:'rs256_wrong_key'),
       nicelogin_check('x'), nicelogin_check(repeat('x', 20000)),
       nicelogin_check(:'unknown_kid');
SELECT reason, verified, cached, stats_reset <= now() AS reset_before
  FROM nicelogin_stats
 WHERE datname = current_database() AND verified + cached > 0
 ORDER BY reason;
-- every outcome has a row, in the order of the reason table
SELECT string_agg(reason, ' ') FROM nicelogin_stats WHERE datname = current_database();
SELECT key_loads, key_parses, refresh_requests FROM nicelogin_stats_keys
 WHERE datname = current_database();

-- counting off: nothing counted
SET nicelogin.track_stats = off;
SELECT nicelogin_check(:'rs256');
RESET nicelogin.track_stats;
SELECT sum(verified) AS verified, sum(cached) AS cached FROM nicelogin_stats;

-- the failure log's path, hostile tokens and the rate limit included (the
-- log itself is checked in t/006_stats.pl; LOG does not reach the client)
SET nicelogin.log_failures = on;
SELECT nicelogin_check(:'payload_bad_utf8'), nicelogin_check(:'dup_header'),
       nicelogin_check(:'header_kid_number'), nicelogin_check(:'big_payload'),
       nicelogin_check(:'alg_none');
SELECT count(*) FROM generate_series(1, 12) i WHERE nicelogin_check(:'expired' || repeat('', i)) = 'expired';
RESET nicelogin.log_failures;

-- an ordinary role can neither read nor reset them, nor turn logging on or off
SET ROLE regress_nl_app;
SELECT * FROM nicelogin_stats;
SELECT * FROM nicelogin_stats_keys;
SELECT * FROM nicelogin_stats_answers();
SELECT nicelogin_stats_reset();
SET nicelogin.log_failures = on;
SET nicelogin.track_stats = off;
RESET ROLE;

-- pg_monitor can read them; reset is granted separately
CREATE ROLE regress_nl_monitor NOLOGIN IN ROLE pg_monitor;
SET ROLE regress_nl_monitor;
SELECT count(*) > 0 AS readable FROM nicelogin_stats;
SELECT count(*) AS rows FROM nicelogin_stats_keys;
SELECT nicelogin_stats_reset();
RESET ROLE;
GRANT EXECUTE ON FUNCTION nicelogin_stats_reset() TO regress_nl_monitor;
SET ROLE regress_nl_monitor;
SELECT nicelogin_stats_reset();
SELECT count(*) AS rows_after_reset FROM nicelogin_stats;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION nicelogin_stats_reset() FROM regress_nl_monitor;
DROP ROLE regress_nl_monitor;
