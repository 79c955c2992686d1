-- api_deactivation: nicelogin_deactivate() makes the verifier refuse the user's tokens at
-- once (reason user_deactivated), in this session and in new ones, and nicelogin_activate()
-- lifts it; failed or rolled-back calls change nothing locally.  Needs the stand-in server
-- (see api.sql) and the fixture tokens (test/fixtures/tokens.sql).
\! python3 test/nicelogin_ctl.py reset
\set SHOW_CONTEXT never
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
-- keep the stored keys to put them back at the end (a plain table: it must outlive \c)
CREATE TABLE api_deactivation_keys AS SELECT * FROM nicelogin_keys;
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';
SELECT nicelogin_refresh_jwks() > 0 AS refreshed;
-- both users valid (and their verdicts now cached)
SELECT nicelogin_check(:'bob') AS bob, nicelogin_check(:'rs256') AS alice;

-- deactivate Bob: refused from the next statement on, Alice untouched
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_check(:'bob') AS bob, nicelogin_verify(:'bob') AS bob_verified,
       nicelogin_claims(:'bob') IS NULL AS bob_no_claims, nicelogin_check(:'rs256') AS alice;
-- the request helpers follow
SET nicelogin.token = :'bob';
SELECT nicelogin_user_id() IS NULL AS no_user_id;
RESET nicelogin.token;

-- a new session sees the deactivation too
\c
SELECT nicelogin_check(:'bob') AS bob, nicelogin_check(:'rs256') AS alice;
SET nicelogin.base_url = 'http://127.0.0.1:18089';
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';

-- an activation that fails at the API leaves Bob refused
\! python3 test/nicelogin_ctl.py mode error500
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode normal
SELECT nicelogin_check(:'bob') AS bob;
-- so does one whose transaction rolls back (the API has already activated Bob then)
BEGIN;
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_check(:'bob') AS bob_inside;
ROLLBACK;
SELECT nicelogin_check(:'bob') AS bob;

-- activate Bob: valid again
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_check(:'bob') AS bob, nicelogin_check(:'rs256') AS alice;
SET nicelogin.token = :'bob';
SELECT nicelogin_user_id();
RESET nicelogin.token;

-- a deactivation that fails at the API leaves Bob valid
SET nicelogin.api_secret = 'not-the-secret';
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_check(:'bob') AS bob;

-- put the keys back
DELETE FROM nicelogin_keys;
INSERT INTO nicelogin_keys SELECT * FROM api_deactivation_keys;
DROP TABLE api_deactivation_keys;
RESET nicelogin.api_secret;
