-- request: the request's token (nicelogin.token or request.headers) and its verified claims
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse

SELECT nicelogin_set_jwks(:'jwks');
SET ROLE regress_nl_app;

-- no token: every helper is NULL
SELECT nicelogin_token() AS token, nicelogin_claims() AS claims, nicelogin_user_id() AS user_id,
       nicelogin_company_id() AS company_id, nicelogin_email() AS email;

-- nicelogin.token, set for one transaction
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
SELECT nicelogin_token() = :'rs256' AS same_token, nicelogin_user_id() AS user_id,
       nicelogin_company_id() AS company_id, nicelogin_email() AS email,
       nicelogin_claims() -> 'user_data' AS user_data;
COMMIT;
-- after the transaction the setting is '' again, which counts as unset
SELECT current_setting('nicelogin.token') = '' AS empty, nicelogin_token() IS NULL AS no_token,
       nicelogin_company_id() IS NULL AS no_company;

-- set_config(..., true) is the same as SET LOCAL
BEGIN;
SELECT set_config('nicelogin.token', :'bob', true) IS NOT NULL AS set;
SELECT nicelogin_user_id() AS user_id, nicelogin_company_id() AS company_id, nicelogin_email() AS email;
ROLLBACK;

-- tokens that are not valid give NULLs, never an error
CREATE TEMP TABLE cases(id serial, name text, token text);
INSERT INTO cases (name, token) VALUES
  ('expired', :'expired'), ('forged', :'rs256_bad_sig'), ('alg none', :'alg_none'),
  ('confusion', :'hs256_confusion_pem'), ('garbage', 'not a token'),
  ('company not uuid', :'company_not_uuid'), ('sub not uuid', :'sub_not_uuid'),
  ('unicode', :'payload_unicode');
SELECT name, set_config('nicelogin.token', token, false) IS NOT NULL AS set,
       nicelogin_user_id() AS user_id, nicelogin_company_id() AS company_id,
       nicelogin_email() AS email, nicelogin_claims() IS NOT NULL AS has_claims
  FROM (SELECT * FROM cases ORDER BY id OFFSET 0) c;
RESET nicelogin.token;

-- PostgREST: the bearer token of request.headers, header name and scheme in any case
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'rs256')::text, false) IS NOT NULL AS set;
SELECT nicelogin_token() = :'rs256' AS from_headers, nicelogin_company_id() AS company_id;
SELECT set_config('request.headers', json_build_object('Authorization', 'BEARER   ' || :'bob' || ' ', 'accept', '*/*')::text, false) IS NOT NULL AS set;
SELECT nicelogin_token() = :'bob' AS from_headers, nicelogin_company_id() AS company_id;
-- nicelogin.token wins over request.headers
BEGIN;
SET LOCAL nicelogin.token = :'rs256';
SELECT nicelogin_company_id() AS company_id;
COMMIT;
SELECT nicelogin_company_id() AS company_id_from_headers_again;
-- other schemes, no header, bad JSON: no token
SELECT header, set_config('request.headers', header, false) IS NOT NULL AS set,
       nicelogin_token() AS token, nicelogin_company_id() AS company_id
  FROM (VALUES ('{"authorization": "Basic dXNlcjpwYXNz"}'), ('{"accept": "*/*"}'),
               ('{"authorization": "Bearer"}'), ('{"authorization": 42}'),
               ('not json'), ('{"authorization": "Bearer x", "authorization": "Bearer y"}'),
               ('')) AS v(header);
-- One normalisation for nicelogin.token, the authorization header and the
-- verification functions' argument: surrounding whitespace (spaces, tabs, CR,
-- LF) and a "Bearer " prefix in any case go; nothing looser is accepted.
-- Each form: as nicelogin.token (company, check of nicelogin_token()), as the
-- header's value (company), and as the argument of nicelogin_check().
RESET request.headers;
CREATE TEMP TABLE forms(id serial, name text, value text);
INSERT INTO forms (name, value) VALUES
  ('plain', :'rs256'),
  ('Bearer', 'Bearer ' || :'rs256'),
  ('bearer', 'bearer ' || :'rs256'),
  ('BEARER, two spaces', 'BEARER  ' || :'rs256'),
  ('Bearer, tab', E'Bearer\t' || :'rs256'),
  ('trailing newline', :'rs256' || E'\n'),
  ('trailing CRLF', 'Bearer ' || :'rs256' || E'\r\n'),
  ('spaces and tabs around', E' \t ' || :'rs256' || E' \t'),
  ('Bearer without space', 'Bearer' || :'rs256'),
  ('Bearer twice', 'Bearer Bearer ' || :'rs256'),
  ('two tokens', 'Bearer ' || :'rs256' || ' ' || :'bob'),
  ('Basic', 'Basic ' || :'rs256'),
  ('space inside', 'Bearer ' || overlay(:'rs256' placing ' ' from 40 for 0)),
  ('newline inside', overlay(:'rs256' placing E'\n' from 40 for 0)),
  ('bare Bearer', 'Bearer '),
  ('whitespace only', E' \t\n');
SELECT name,
       set_config('nicelogin.token', value, false) IS NOT NULL AS set,
       nicelogin_company_id() AS token_company,
       nicelogin_check(nicelogin_token()) AS token_check
  FROM (SELECT * FROM forms ORDER BY id OFFSET 0) f;
RESET nicelogin.token;
SELECT name,
       set_config('request.headers', json_build_object('authorization', value)::text, false) IS NOT NULL AS set,
       nicelogin_company_id() AS header_company,
       nicelogin_check(nicelogin_token()) AS header_check,
       nicelogin_check(value) AS arg_check,
       nicelogin_verify(value) = (nicelogin_check(value) = 'valid') AS agree,
       nicelogin_claims(value) IS NOT NULL AS claims,
       nicelogin_claims(value, false) IS NOT NULL AS unverified_claims
  FROM (SELECT * FROM forms ORDER BY id OFFSET 0) f;
RESET request.headers;
-- nicelogin_token() gives the normalised token
SELECT set_config('nicelogin.token', E'  bearer ' || :'rs256' || E'\r\n', false) IS NOT NULL AS set,
       nicelogin_token() = :'rs256' AS normalised;
RESET nicelogin.token;
DROP TABLE forms;

-- the unverified request.jwt.claims setting is never trusted
SELECT set_config('request.jwt.claims', '{"company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}', false) IS NOT NULL AS set;
SELECT nicelogin_company_id() AS company_id, nicelogin_claims() AS claims;
RESET request.headers;
RESET request.jwt.claims;

-- the token may change from row to row; each row sees its own token's claims
SELECT n, set_config('nicelogin.token', t, true) IS NOT NULL AS set, nicelogin_email() AS email
  FROM (VALUES (1, :'rs256'), (2, :'bob'), (3, :'rs256'), (4, :'expired'), (5, :'alice2')) AS v(n, t);
RESET nicelogin.token;

RESET ROLE;

-- key changes, deactivations and revocations reach the remembered answer at once
SET nicelogin.token = :'rs256';
SELECT nicelogin_company_id() AS before;
BEGIN;
SELECT nicelogin_set_jwks(:'jwks_hs');
SELECT nicelogin_company_id() AS keys_replaced;
ROLLBACK;
SELECT nicelogin_company_id() AS keys_back;
INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT nicelogin_company_id() AS deactivated, nicelogin_check(nicelogin_token()) AS reason;
DELETE FROM nicelogin_deactivated_users;
SELECT nicelogin_company_id() AS reactivated;
SELECT nicelogin_revoke_sid('sid-alice-1', now() + interval '1 day');
SELECT nicelogin_company_id() AS session_revoked, nicelogin_check(nicelogin_token()) AS reason;
SELECT nicelogin_check(:'alice2') AS other_session;
DELETE FROM nicelogin_revocations;
SELECT nicelogin_revoke_token(:'rs256') AS revoked_by_jti;
SELECT kind, value, expires_at = to_timestamp(4102444800) AS until_exp FROM nicelogin_revocations;
SELECT nicelogin_company_id() AS token_revoked, nicelogin_check(:'rs256') AS reason;
SELECT nicelogin_revoke_token('not a token') AS without_jti;
DELETE FROM nicelogin_revocations;
-- verification settings reach it too
SET nicelogin.issuer = 'https://issuer.example';
SELECT nicelogin_company_id() AS wrong_issuer;
RESET nicelogin.issuer;
SELECT nicelogin_company_id() AS right_again;
RESET nicelogin.token;

-- parallel workers read the token the leader passed on
CREATE TABLE request_rows AS
  SELECT i, (ARRAY['aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'])[1 + i % 2]::uuid AS company_id
    FROM generate_series(1, 20000) i;
ANALYZE request_rows;
GRANT SELECT ON request_rows TO regress_nl_app;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET ROLE regress_nl_app;
SET nicelogin.token = :'bob';
EXPLAIN (COSTS OFF) SELECT count(*) FROM request_rows WHERE company_id = nicelogin_company_id();
SELECT count(*) FROM request_rows WHERE company_id = nicelogin_company_id();
SET nicelogin.token = :'rs256';
SELECT count(*) FROM request_rows WHERE company_id = nicelogin_company_id();
RESET nicelogin.token;
SELECT count(*) FROM request_rows WHERE company_id = nicelogin_company_id();
RESET ROLE;
RESET max_parallel_workers_per_gather;
DROP TABLE request_rows;

-- request.headers: the helpers see every change at once, whatever the size of
-- the headers (the per-row path compares a counter, never the text)
CREATE FUNCTION pg_temp.headers(tok text, pad int DEFAULT 0) RETURNS text LANGUAGE sql AS
  $$SELECT json_build_object('authorization', 'Bearer ' || tok, 'cookie', repeat('x', pad))::text$$;
BEGIN;
SELECT set_config('request.headers', pg_temp.headers(:'rs256'), true) IS NOT NULL AS alice;
SELECT nicelogin_company_id() AS company;
SELECT set_config('request.headers', pg_temp.headers(:'bob'), true) IS NOT NULL AS bob;
SELECT nicelogin_company_id() AS company;
-- 48 kB of other headers
SELECT set_config('request.headers', pg_temp.headers(:'rs256', 48 * 1024), true) IS NOT NULL AS alice_48kb;
SELECT nicelogin_company_id() AS company;
COMMIT;
SELECT nicelogin_company_id() AS after_commit, current_setting('request.headers', true) AS headers;
-- changes between the statements of one function, and between two
-- expressions that PL/pgSQL evaluates without the executor
CREATE FUNCTION pg_temp.switch(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    first uuid;
    second uuid;
    ignored text;
BEGIN
    PERFORM set_config('request.headers', pg_temp.headers(a), true);
    SELECT nicelogin_company_id() INTO first;
    ignored := set_config('request.headers', pg_temp.headers(b), true);
    second := nicelogin_company_id();
    RETURN first || ' ' || second;
END $$;
BEGIN;
SELECT pg_temp.switch(:'rs256', :'bob') AS alice_then_bob;
SELECT pg_temp.switch(:'bob', :'rs256') AS bob_then_alice;
ROLLBACK;
-- SET and RESET, too
SET request.headers = '{"authorization": "bearer ignored-not-a-token"}';
SELECT nicelogin_company_id() AS not_a_token;
SELECT set_config('request.headers', pg_temp.headers(:'alice2'), false) IS NOT NULL AS carol;
SELECT nicelogin_company_id() AS company;
RESET request.headers;
SELECT nicelogin_company_id() AS reset;
-- two authorization members that differ only in case: SQL's ->> reads one,
-- so nicelogin takes neither (no token)
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer garbage',
       'Authorization', 'Bearer ' || :'rs256')::text, false) IS NOT NULL AS set;
SELECT nicelogin_token() IS NULL AS no_token, nicelogin_user_id() IS NULL AS no_user;
SELECT set_config('request.headers', json_build_object('Authorization', 'Bearer ' || :'rs256')::text, false) IS NOT NULL AS set;
SELECT nicelogin_user_id() AS one_member_any_case;
RESET request.headers;
-- surrounding whitespace counts toward the limit beyond 1 kB: megabytes of it
-- are too_long, unscanned, in every path
SELECT nicelogin_check(repeat(' ', 1000) || 'Bearer ' || :'rs256' || repeat(' ', 10)) AS within_slack,
       nicelogin_check(repeat(' ', 5000000) || 'Bearer ' || :'rs256') AS megabytes_of_spaces;
SELECT set_config('nicelogin.token', repeat(E'\t', 100000) || :'rs256', false) IS NOT NULL AS set;
SELECT nicelogin_check(nicelogin_token()) AS setting, nicelogin_user_id() IS NULL AS no_user;
RESET nicelogin.token;

-- nicelogin_token() reads request.headers once per change of the setting:
-- its answer follows every change, whatever its form (same length, SET
-- LOCAL, set_config, RESET, the end of a transaction or savepoint, a change
-- of nicelogin.token or of nicelogin.max_token_length)
CREATE FUNCTION pg_temp.hdr(tok text, total int) RETURNS text LANGUAGE sql AS
  $$SELECT json_build_object('authorization', 'Bearer ' || tok, 'cookie',
           repeat('x', total - length(json_build_object('authorization', 'Bearer ' || tok, 'cookie', '')::text)))::text$$;
SELECT overlay(:'rs256' placing CASE WHEN substr(:'rs256', 60, 1) = 'A' THEN 'B' ELSE 'A' END from 60) AS mutated \gset
SELECT length(pg_temp.hdr(:'rs256', 70000)) = length(pg_temp.hdr(:'mutated', 70000)) AS same_length;
SELECT set_config('request.headers', pg_temp.hdr(:'rs256', 70000), false) IS NOT NULL AS set;
SELECT nicelogin_token() = :'rs256' AS alice, nicelogin_user_id() AS user_id;
SELECT set_config('request.headers', pg_temp.hdr(:'mutated', 70000), false) IS NOT NULL AS set;
SELECT nicelogin_token() = :'mutated' AS same_length_other_token, nicelogin_user_id() IS NULL AS no_user;
SELECT set_config('request.headers', pg_temp.hdr(:'mutated', 70000), false) IS NOT NULL AS set_again;
SELECT nicelogin_token() = :'mutated' AS same_value_again;
BEGIN;
SELECT set_config('request.headers', pg_temp.hdr(:'bob', 70000), true) IS NOT NULL AS set_local;
SELECT nicelogin_token() = :'bob' AS bob, nicelogin_email() AS email;
SAVEPOINT s;
SET LOCAL request.headers = '{"authorization": "Bearer in-a-savepoint"}';
SELECT nicelogin_token() AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT nicelogin_token() = :'bob' AS bob_again;
COMMIT;
SELECT nicelogin_token() = :'mutated' AS after_commit;
BEGIN;
SET LOCAL request.headers = '{"authorization": "Bearer rolled-back"}';
SELECT nicelogin_token() AS before_rollback;
ROLLBACK;
SELECT nicelogin_token() = :'mutated' AS after_rollback;
SET nicelogin.token = 'from-the-setting';
SELECT nicelogin_token() AS token_first;
RESET nicelogin.token;
SELECT nicelogin_token() = :'mutated' AS headers_again;
-- one row after another in one statement
SELECT n, set_config('request.headers', pg_temp.hdr(t, 2000), true) IS NOT NULL AS set,
       nicelogin_token() = t AS follows
  FROM (VALUES (1, :'rs256'), (2, :'mutated'), (3, :'bob'), (4, :'rs256')) AS v(n, t);
RESET request.headers;
SELECT nicelogin_token() IS NULL AS reset;
RESET ROLE;
-- nicelogin.max_token_length decides how long the headers may be
SELECT set_config('request.headers', pg_temp.hdr(:'rs256', 70000), false) IS NOT NULL AS set;
SET nicelogin.max_token_length = 1024;
SELECT nicelogin_token() IS NULL AS too_long_now;
RESET nicelogin.max_token_length;
SELECT nicelogin_token() = :'rs256' AS fits_again;
RESET request.headers;

-- request.headers counts only when the session set it (SET, SET LOCAL,
-- set_config()): a default given by ALTER DATABASE or ALTER ROLE ... SET
-- gives no session an identity
SELECT set_config('request.headers', pg_temp.hdr(:'rs256', 200), false) AS alice_headers \gset
SELECT set_config('request.headers', pg_temp.hdr(:'bob', 200), false) AS bob_headers \gset
RESET request.headers;
ALTER DATABASE :"DBNAME" SET request.headers = :'alice_headers';
\c
SELECT current_setting('request.headers') = :'alice_headers' AS database_default,
       nicelogin_token() IS NULL AS no_token, nicelogin_user_id() IS NULL AS no_user,
       nicelogin_revoke_current_session() AS logout;
-- the session's own SET counts; RESET goes back to the default: ignored
SET request.headers = :'bob_headers';
SELECT nicelogin_token() = :'bob' AS session_set, nicelogin_email() AS email;
RESET request.headers;
SELECT current_setting('request.headers') = :'alice_headers' AS default_again, nicelogin_token() IS NULL AS no_token;
BEGIN;
SET LOCAL request.headers = :'alice_headers';
SELECT nicelogin_token() = :'rs256' AS set_local_same_value, nicelogin_email() AS email;
COMMIT;
SELECT nicelogin_token() IS NULL AS default_after_commit, nicelogin_company_id() IS NULL AS no_company;
-- a role's setting in this database, likewise
ALTER ROLE CURRENT_USER IN DATABASE :"DBNAME" SET request.headers = :'bob_headers';
\c
SELECT current_setting('request.headers') = :'bob_headers' AS role_default,
       nicelogin_token() IS NULL AS no_token, nicelogin_email() IS NULL AS no_email;
SELECT set_config('request.headers', :'bob_headers', false) IS NOT NULL AS set_by_session;
SELECT nicelogin_token() = :'bob' AS counts_now;
ALTER ROLE CURRENT_USER IN DATABASE :"DBNAME" RESET request.headers;
ALTER DATABASE :"DBNAME" RESET request.headers;
\c
SELECT current_setting('request.headers', true) AS headers, nicelogin_token() IS NULL AS no_token;
