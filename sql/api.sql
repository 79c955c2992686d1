-- api: the NiceLogin API functions against the stand-in server
-- (test/nicelogin_server.py on 127.0.0.1:18089, started by test/run-tests.sh).
--
-- The server's mode is switched with psql's \! running test/nicelogin_ctl.py, which prints
-- nothing (\! output is not ordered with query output); what the server received is read
-- back with \copy ... FROM PROGRAM.  The server is reset first, so the test only depends on
-- what it does itself.  SQLSTATEs are shown with \echo :LAST_ERROR_SQLSTATE; messages whose
-- detail holds timings or library text are shown with VERBOSITY terse.
\! python3 test/nicelogin_ctl.py reset
\set SHOW_CONTEXT never
-- the stored keys, put back at the end
CREATE TEMP TABLE keys_saved AS SELECT * FROM nicelogin_keys;
CREATE TEMP TABLE server_lines (n serial, line text);
CREATE TEMP VIEW server_json AS
    SELECT n, convert_from(decode(line, 'base64'), 'UTF8')::jsonb AS j FROM server_lines;

--
-- Settings that must be set first
--
SET nicelogin.base_url = 'http://127.0.0.1:18089///';  -- trailing slashes are ignored
RESET nicelogin.api_key;
RESET nicelogin.api_secret;
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_refresh_jwks();
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\echo :LAST_ERROR_SQLSTATE
-- a role that may call the function but is not a superuser cannot set the key:
-- the hint says who can, and where
GRANT EXECUTE ON FUNCTION nicelogin_request_password_reset(text) TO regress_nl_app;
SET ROLE regress_nl_app;
SET nicelogin.api_key = 'test-api-key';
SELECT nicelogin_request_password_reset('alice@acme.example');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION nicelogin_request_password_reset(text) FROM regress_nl_app;
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';

--
-- Password reset: success
--
SELECT length(nicelogin_request_password_reset('alice@acme.example')) AS token_length;
SELECT nicelogin_request_password_reset('alice@acme.example') AS tok \gset
SELECT nicelogin_reset_password('alice@acme.example', 'Correct-Horse-1', 'Staple-Battery-9', :'tok');
-- a reset token is single-use
SELECT nicelogin_reset_password('alice@acme.example', 'Staple-Battery-9', 'Other-Pass-77', :'tok');
\echo :LAST_ERROR_SQLSTATE
-- both steps in one call, back to the first password
SELECT nicelogin_change_password('alice@acme.example', 'Staple-Battery-9', 'Correct-Horse-1');
-- what went over the wire
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT n, j->>'method' AS method, j->>'path' AS path,
       (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(j->'body') AS k) AS fields,
       j->>'content_type' AS content_type, j->>'user_agent' AS user_agent
  FROM server_json ORDER BY n;
SELECT n, j->'body'->>'email' AS email, j->'body'->>'api_key' AS api_key,
       j->'body'->>'confirm_password' = j->'body'->>'new_password' AS confirmed,
       j->'body'->>'reset_token' = :'tok' AS first_token
  FROM server_json WHERE j->>'path' = '/reset_password' ORDER BY n;
TRUNCATE server_lines RESTART IDENTITY;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py users --b64'
SELECT j->>'email' AS email, j->>'password' = 'Correct-Horse-1' AS first_password
  FROM server_json WHERE j->>'email' = 'alice@acme.example';
TRUNCATE server_lines RESTART IDENTITY;

--
-- Password reset: the API's errors, with their SQLSTATEs
--
-- 400: bad email, weak password
SELECT nicelogin_request_password_reset('not-an-email');
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_change_password('alice@acme.example', 'Correct-Horse-1', 'short');
\echo :LAST_ERROR_SQLSTATE
-- 401: wrong password, wrong API key
SELECT nicelogin_change_password('alice@acme.example', 'Not-The-Password', 'Good-Enough-123');
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_reset_password('alice@acme.example', 'Correct-Horse-1', 'Good-Enough-123', 'forged-token');
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.api_key = 'wrong-api-key';
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.api_key = 'test-api-key';
-- 404: unknown email
SELECT nicelogin_request_password_reset('nobody@acme.example');
\echo :LAST_ERROR_SQLSTATE
-- an API that repeats what it was sent in its error text: passwords and tokens are masked
\! python3 test/nicelogin_ctl.py mode echo_error
SELECT nicelogin_reset_password('alice@acme.example', 'Correct-Horse-1', 'Good-Enough-123', 'some-token');
\! python3 test/nicelogin_ctl.py mode normal

--
-- Server failures
--
\! python3 test/nicelogin_ctl.py mode error500
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
\! python3 test/nicelogin_ctl.py mode empty500
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
\! python3 test/nicelogin_ctl.py mode garbage
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
\! python3 test/nicelogin_ctl.py mode huge
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
-- timeout: nicelogin.http_timeout against a server that answers after 3 s
\! python3 test/nicelogin_ctl.py mode slow 3000
SET nicelogin.http_timeout = 200;
SELECT clock_timestamp() AS t0 \gset
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '150 ms' AND interval '2 s' AS stopped_by_http_timeout;
-- an answer that begins (status, headers, half the body) and then stalls
\! python3 test/nicelogin_ctl.py mode slow_body 3000
SELECT clock_timestamp() AS t0 \gset
\set VERBOSITY terse
SELECT nicelogin_refresh_jwks();
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '150 ms' AND interval '2 s' AS stopped_by_http_timeout;
RESET nicelogin.http_timeout;
-- statement_timeout (a pending cancel) stops a request to a server that never answers
\! python3 test/nicelogin_ctl.py mode hang
SET statement_timeout = '300ms';
SELECT clock_timestamp() AS t0 \gset
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '250 ms' AND interval '1 s' AS stopped_by_cancel;
-- same inside the password functions
SET statement_timeout = '300ms';
SELECT nicelogin_change_password('alice@acme.example', 'Correct-Horse-1', 'Good-Enough-123');
RESET statement_timeout;
\! python3 test/nicelogin_ctl.py mode normal

--
-- Where requests may go
--
-- plain http to a host that is not loopback: refused before any connection
SET nicelogin.base_url = 'http://example.com';
SELECT nicelogin_request_password_reset('alice@acme.example');
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.base_url = 'http://127.0.0.1.example.com:18089';
SELECT nicelogin_refresh_jwks();
SET nicelogin.base_url = 'http://10.0.0.1:18089';
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
-- other schemes, and URLs that do not parse
SET nicelogin.base_url = 'ftp://127.0.0.1:18089';
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.base_url = 'file:///etc/passwd';
SELECT nicelogin_refresh_jwks();
SET nicelogin.base_url = 'no url at all';
-- the detail is libcurl's own text, which differs between its versions
\set VERBOSITY terse
SELECT nicelogin_refresh_jwks();
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.base_url = '';
SELECT nicelogin_refresh_jwks();
-- loopback over plain http is allowed: by name, by any 127/8 address, by ::1
\set VERBOSITY terse
SET nicelogin.base_url = 'http://localhost:18089/';
SELECT nicelogin_refresh_jwks() > 0 AS refreshed;
SET nicelogin.base_url = 'http://127.0.0.2:1';
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.base_url = 'http://[::1]:1';
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
-- user information in the URL never shows in a message
SET nicelogin.base_url = 'http://someone:hunter2@127.0.0.1:1';
SELECT nicelogin_refresh_jwks();
-- https is verified: the stand-in server speaks no TLS
SET nicelogin.base_url = 'https://127.0.0.1:18089';
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SET nicelogin.base_url = 'http://127.0.0.1:18089';

--
-- Deactivation and activation
--
\! python3 test/nicelogin_ctl.py reset
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT user_id, deactivated_by = session_user AS by_me,
       deactivated_at > now() - interval '1 minute' AS recent
  FROM nicelogin_deactivated_users;
-- again: still one row
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT count(*) FROM nicelogin_deactivated_users;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py users --b64'
SELECT j->>'email' AS email, j->'is_active' AS is_active FROM server_json ORDER BY j->>'email';
TRUNCATE server_lines RESTART IDENTITY;
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
SELECT count(*) FROM nicelogin_deactivated_users;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py users --b64'
SELECT j->>'email' AS email, j->'is_active' AS is_active FROM server_json ORDER BY j->>'email';
TRUNCATE server_lines RESTART IDENTITY;
-- what the toggle requests carried (the secret only in the body)
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT j->>'method' AS method, j->>'path' AS path,
       (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(j->'body') AS k) AS fields,
       j->'body'->>'api_secret' = 'test-api-secret' AS secret_sent,
       j->'body'->'user_id' AS user_id, j->'body'->'is_active' AS is_active
  FROM server_json WHERE j->>'path' = '/toggle_user_status' ORDER BY n;
TRUNCATE server_lines RESTART IDENTITY;
-- failed calls leave nothing behind
SELECT nicelogin_deactivate('44444444-4444-4444-8444-444444444444');
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.api_secret = 'not-the-secret';
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.api_secret = 'test-api-secret';
\! python3 test/nicelogin_ctl.py mode error500
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode garbage
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
-- an API that answers 200 without making the change: false, nothing recorded
\! python3 test/nicelogin_ctl.py mode toggle_ignored
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode normal
SELECT count(*) FROM nicelogin_deactivated_users;
-- the local record follows the calling transaction
BEGIN;
SELECT nicelogin_deactivate('33333333-3333-4333-8333-333333333333');
SELECT count(*) FROM nicelogin_deactivated_users;
ROLLBACK;
SELECT count(*) FROM nicelogin_deactivated_users;
SELECT nicelogin_activate('33333333-3333-4333-8333-333333333333');

--
-- Key refresh
--
SELECT nicelogin_refresh_jwks() AS n_keys \gset
SELECT :n_keys > 0 AS got_keys, :n_keys = (SELECT count(*) FROM nicelogin_keys) AS all_stored;
-- the manual refresh is recorded with the keys it stored, also without
-- shared_preload_libraries (no worker here)
SELECT worker_pid IS NULL AS no_worker, last_fetch_by = session_user AS by_me,
       last_fetch_keys = :n_keys AS fetched, last_fetch_at > now() - interval '1 minute' AS recent,
       keys_stored = :n_keys AS stored
  FROM nicelogin_jwks_state;
SELECT last_fetch_at AS fetched_at FROM nicelogin_jwks_state \gset
-- a refresh that rolls back, or fails, leaves the record as it was
BEGIN;
SELECT nicelogin_refresh_jwks() = :n_keys AS refreshed;
ROLLBACK;
SELECT last_fetch_at = :'fetched_at' AS unchanged FROM nicelogin_jwks_state;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT j->>'method' AS method, j->>'path' AS path, j->'body' AS body,
       j->>'content_type' AS content_type, j->>'user_agent' AS user_agent
  FROM server_json ORDER BY n DESC LIMIT 1;
TRUNCATE server_lines RESTART IDENTITY;
CREATE TEMP TABLE kids_before AS SELECT kid FROM nicelogin_keys;
-- a failed fetch leaves the stored keys as they were
\! python3 test/nicelogin_ctl.py mode garbage
SELECT nicelogin_refresh_jwks();
\! python3 test/nicelogin_ctl.py mode error500
SELECT nicelogin_refresh_jwks();
\! python3 test/nicelogin_ctl.py mode normal
-- and an empty set
\! python3 test/nicelogin_ctl.py jwks '{"keys": []}'
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
-- so does a set that nicelogin refuses (a 1024-bit RSA key)
\! python3 test/nicelogin_ctl.py jwks test/fixtures/jwks_weak.json
\set VERBOSITY sqlstate
SELECT nicelogin_refresh_jwks();
\set VERBOSITY default
SELECT (SELECT count(*) FROM nicelogin_keys) = :n_keys AS unchanged,
       NOT EXISTS (SELECT kid FROM nicelogin_keys EXCEPT SELECT kid FROM kids_before) AS same_kids;
SELECT last_fetch_at = :'fetched_at' AS unchanged, last_fetch_keys = :n_keys AS fetched
  FROM nicelogin_jwks_state;
-- the API key is one escaped path segment
SET nicelogin.api_key = 'a b/c?d#é';
SELECT nicelogin_refresh_jwks();
\echo :LAST_ERROR_SQLSTATE
SET nicelogin.api_key = 'test-api-key';
\! python3 test/nicelogin_ctl.py reset

--
-- Secrets echoed in every form.  The values hold quotes, backslashes, slashes, a
-- space, '+', '%', a tab, é and 😀; the server repeats the request body in its error
-- text as received (escape_json), as the bare values, as Python's json.dumps
-- (ensure_ascii: \uxxxx, surrogate pairs) in lower and upper case, with "\/" for "/",
-- JSON-escaped twice, form-encoded (%XX in upper and lower case, "+" for a space) and
-- cut short ("...").  Every form is masked.
--
SET nicelogin.api_secret = E'S3cr"et/\\Tail é😀 +%x\t~';
\! python3 test/nicelogin_ctl.py mode echo_error raw
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error values
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error ascii
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error ascii_upper
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error slash
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error twice
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error url
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error url_lower
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
\! python3 test/nicelogin_ctl.py mode echo_error truncated
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
-- shortened to its start and end in the middle of the text, as pydantic does
\! python3 test/nicelogin_ctl.py mode echo_error shortened
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
SET nicelogin.api_secret = 'sk_live_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e';
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
-- passwords and the reset token; the new password contains the current one (the
-- longer is masked first)
\! python3 test/nicelogin_ctl.py mode echo_error raw
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error values
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error ascii
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error ascii_upper
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error slash
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error twice
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error url
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error url_lower
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error truncated
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
\! python3 test/nicelogin_ctl.py mode echo_error shortened
SELECT nicelogin_reset_password('alice@acme.example', E'Pa"ss\\wörd/😀',
       E'Pa"ss\\wörd/😀 +new', E'tok/"\\é%2F');
-- change_password: the first step fails, so no password is sent at all
\! python3 test/nicelogin_ctl.py mode echo_error ascii
SELECT nicelogin_change_password('alice@acme.example', E'Pa"ss\\wörd/😀', E'Pa"ss\\wörd/😀 +new');
-- long secrets around the clip at 500 bytes: masked before the text is clipped
\! python3 test/nicelogin_ctl.py mode echo_error raw
SELECT nicelogin_reset_password('alice@acme.example', repeat(E'a"\\', 120),
       repeat('é', 150), repeat('t', 600));
-- a secret that straddles the clip (a long email first, echoed with \u00fc
-- for each ü, so that the current password starts near byte 490): masked,
-- then clipped
\! python3 test/nicelogin_ctl.py mode echo_error ascii
SELECT nicelogin_reset_password(repeat('ü', 72) || '@acme.example', repeat(E'a"\\', 120),
       repeat('é', 150), repeat('t', 600));
\! python3 test/nicelogin_ctl.py mode echo_error raw
-- input longer than the API takes is refused (22001) before any request: an
-- email over RFC 5321's 254 bytes, a password over 1024 bytes, a reset token
-- over 4096 bytes (bytes, not characters: 'é' is two)
TRUNCATE server_lines;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT count(*) AS requests_before FROM server_lines \gset
SELECT nicelogin_request_password_reset(repeat('e', 242) || '@acme.example');
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_request_password_reset(repeat('e', 241) || '@acme.example' || repeat(' ', 10000000));
SELECT nicelogin_change_password(repeat('e', 242) || '@acme.example', 'Correct-Horse-1', 'Good-Enough-123');
SELECT nicelogin_change_password('alice@acme.example', repeat('p', 1025), 'Good-Enough-123');
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_change_password('alice@acme.example', 'Correct-Horse-1', repeat('é', 513));
SELECT nicelogin_change_password('alice@acme.example', 'Correct-Horse-1', repeat('x', 200000));
SELECT nicelogin_reset_password('alice@acme.example', repeat('p', 1025), 'Good-Enough-123', 'tok');
SELECT nicelogin_reset_password('alice@acme.example', 'Correct-Horse-1', repeat('é', 513), 'tok');
SELECT nicelogin_reset_password('alice@acme.example', 'Correct-Horse-1', 'Good-Enough-123', repeat('t', 4097));
\echo :LAST_ERROR_SQLSTATE
SELECT nicelogin_reset_password(repeat('e', 242) || '@acme.example', 'a', 'b', 'c');
TRUNCATE server_lines;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT count(*) - :requests_before AS requests_sent FROM server_lines;
-- at the limits: sent (and refused by the server, echoing them, masked)
SELECT nicelogin_reset_password(repeat('e', 241) || '@acme.example', repeat('p', 1024),
       repeat('é', 512), repeat('t', 4096));
TRUNCATE server_lines;
\copy server_lines (line) FROM PROGRAM 'python3 test/nicelogin_ctl.py requests --b64'
SELECT count(*) - :requests_before AS requests_sent FROM server_lines;
-- masking takes linear time, whatever the secrets' lengths: a 200,000-byte
-- API secret (a superuser's SET) echoed back is masked at once, well within
-- a statement_timeout that the old quadratic masking never let fire
SELECT set_config('nicelogin.api_secret', repeat('s', 200000), false) IS NOT NULL AS long_secret;
SET statement_timeout = '3s';
SELECT clock_timestamp() AS t0 \gset
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS prompt;
RESET nicelogin.api_secret;
\! python3 test/nicelogin_ctl.py mode normal
-- nothing was recorded by the failed calls
SELECT count(*) FROM nicelogin_deactivated_users;
SET nicelogin.api_secret = 'test-api-secret';

--
-- nicelogin.api_secret stays with superusers
--
SHOW nicelogin.api_secret;
CREATE ROLE regress_nl_api_user;
SET ROLE regress_nl_api_user;
-- refused with insufficient_privilege (42501); 15 and 16+ word it differently
\set VERBOSITY sqlstate
SHOW nicelogin.api_secret;
SELECT current_setting('nicelogin.api_secret');
SELECT current_setting('nicelogin.api_secret', true);
\set VERBOSITY default
SELECT count(*) FROM pg_settings WHERE name = 'nicelogin.api_secret';
SELECT count(*) FROM pg_settings
 WHERE setting LIKE '%test-api-secret%' OR reset_val LIKE '%test-api-secret%';
SET nicelogin.api_secret = 'mine';
SELECT set_config('nicelogin.api_secret', 'mine', false);
SET nicelogin.base_url = 'https://attacker.example';
-- the API functions are not granted to PUBLIC
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_request_password_reset('alice@acme.example');
RESET ROLE;
-- members of pg_read_all_settings see a mask
GRANT pg_read_all_settings TO regress_nl_api_user;
SET ROLE regress_nl_api_user;
SHOW nicelogin.api_secret;
SELECT current_setting('nicelogin.api_secret');
SELECT count(*) FROM pg_settings
 WHERE setting LIKE '%test-api-secret%' OR reset_val LIKE '%test-api-secret%'
    OR boot_val LIKE '%test-api-secret%';
RESET ROLE;
-- a role granted the function uses the secret without seeing it (SECURITY DEFINER)
GRANT EXECUTE ON FUNCTION nicelogin_deactivate(uuid), nicelogin_activate(uuid) TO regress_nl_api_user;
SET ROLE regress_nl_api_user;
SELECT nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
SELECT nicelogin_activate('22222222-2222-4222-8222-222222222222');
RESET ROLE;
SELECT count(*) FROM nicelogin_deactivated_users;
-- the secret cannot be stored where other roles can read it
ALTER ROLE regress_nl_api_user SET nicelogin.api_secret = 'test-api-secret';
ALTER ROLE ALL SET nicelogin.api_secret = 'test-api-secret';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET nicelogin.api_secret = %L', current_database(), 'test-api-secret'); END $$;
CREATE FUNCTION nl_leaky() RETURNS int LANGUAGE sql
    SET nicelogin.api_secret = 'test-api-secret' AS 'SELECT 1';
SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%api_secret%';
-- with no secret set, others see an empty string
RESET nicelogin.api_secret;
SET ROLE regress_nl_api_user;
SHOW nicelogin.api_secret;
RESET ROLE;

REVOKE pg_read_all_settings FROM regress_nl_api_user;
REVOKE ALL ON FUNCTION nicelogin_deactivate(uuid), nicelogin_activate(uuid) FROM regress_nl_api_user;
DROP ROLE regress_nl_api_user;
RESET nicelogin.base_url;
RESET nicelogin.api_key;
DELETE FROM nicelogin_keys;
INSERT INTO nicelogin_keys SELECT * FROM keys_saved;
