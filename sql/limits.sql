-- limits: bounded work on hostile key sets and tokens, cancels that stop it, and time
-- arithmetic at the ends of timestamptz's range
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all

SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "rsa1")') AS k_rsa1 \gset
SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "rsa2")') AS k_rsa2 \gset
SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "rsa384")') AS k_rsa384 \gset
SELECT jsonb_path_query_first(:'jwks', '$.keys[*] ? (@.kid == "ec256")') AS k_ec256 \gset
SELECT jsonb_path_query_first(:'jwks_hs', '$.keys[*] ? (@.kid == "hs256")') AS k_hs256 \gset
SELECT jsonb_path_query_first(:'jwks_slow', '$.keys[0]') AS k_slow \gset

-- sets of n keys: copies of rsa2 named k1 .. k(n-1), then rsa1 itself
CREATE TEMP TABLE sets (name text PRIMARY KEY, ks jsonb);
INSERT INTO sets
SELECT 'rsa' || n, jsonb_build_object('keys',
         (SELECT jsonb_agg(:'k_rsa2'::jsonb || jsonb_build_object('kid', 'k' || i) ORDER BY i)
            FROM generate_series(1, n - 1) AS i) || jsonb_build_array(:'k_rsa1'::jsonb))
  FROM (VALUES (64), (65)) AS v(n);
-- 100000 small oct keys, and 64 keys of which the 10th and the 50th share a kid
INSERT INTO sets VALUES
  ('oct100000', jsonb_build_object('keys',
     (SELECT jsonb_agg(jsonb_build_object('kty', 'oct', 'kid', 'h' || i, 'k', 'AAAA'))
        FROM generate_series(1, 100000) AS i))),
  ('dup64', jsonb_build_object('keys',
     (SELECT jsonb_agg(:'k_rsa2'::jsonb || jsonb_build_object('kid', 'k' || CASE i WHEN 50 THEN 10 ELSE i END) ORDER BY i)
        FROM generate_series(1, 64) AS i)));
SELECT name, jsonb_array_length(ks -> 'keys') AS keys FROM sets ORDER BY name;

-- at most 64 keys: at the limit a set works, one more and it is refused before any key is read
SELECT nicelogin_jws_verify(:'rs256', ks) AS at_limit FROM sets WHERE name = 'rsa64';
SELECT nicelogin_jws_verify(:'rs256', ks) AS over_limit FROM sets WHERE name = 'rsa65';
SELECT nicelogin_jws_verify(:'rs256', ks) AS huge_set FROM sets WHERE name = 'oct100000';
SELECT nicelogin_set_jwks(ks) AS stored FROM sets WHERE name = 'rsa64';
SELECT nicelogin_check(:'rs256') AS rs256, nicelogin_check(:'rs256_kid2') AS kid_rsa2;
SELECT nicelogin_set_jwks(ks) FROM sets WHERE name = 'rsa65';
SELECT nicelogin_set_jwks(ks) FROM sets WHERE name = 'oct100000';
SELECT count(*) AS still_stored FROM nicelogin_keys;
-- duplicate kids among many keys
SELECT nicelogin_set_jwks(ks) FROM sets WHERE name = 'dup64';
SELECT nicelogin_jws_verify(:'rs256', ks) AS dup_set FROM sets WHERE name = 'dup64';

-- the RSA public exponent: at most 32 bits (65537 is usual); e = n is as long as n
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('e', :'k_rsa1'::jsonb ->> 'n'))));
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"e":"AQAAAAE"}')));  -- 2^32 + 1
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"e":"AAEAAAAB"}')));  -- same, leading zero
SELECT nicelogin_jws_verify(:'rs256', jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('e', :'k_rsa1'::jsonb ->> 'n')))) AS e_is_n;
-- 2^32 - 1 is allowed (and of course does not verify rsa1's tokens)
SELECT nicelogin_jws_verify(:'rs256', jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || '{"e":"_____w"}'))) AS e_32_bits;

-- the RSA modulus: at most 8192 bits; a megabyte of modulus is refused before decoding
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('n', repeat('_', 1366) || 'w'))));  -- 1025 bytes of ff
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('n', repeat('_', 1000000)))));
SELECT nicelogin_jws_verify(:'rs256', jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('n', repeat('_', 1000000))))) AS huge_n;
-- exactly 8192 bits passes the size rule (this odd number is no RSA modulus: OpenSSL refuses it)
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_rsa1'::jsonb || jsonb_build_object('n', repeat('_', 1365) || 'w'))));

-- HMAC secrets: at most 1024 bytes
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_hs256'::jsonb || jsonb_build_object('k', repeat('QUFB', 341) || 'QUE'))));  -- 1025 bytes
SELECT nicelogin_jws_verify(:'hs256', jsonb_build_object('keys', jsonb_build_array(:'k_hs256'::jsonb || jsonb_build_object('k', repeat('QUFB', 341) || 'QQ')))) AS k_1024_bytes;
-- other members: EC coordinates and Ed25519 keys have fixed sizes, a huge one costs nothing
SELECT nicelogin_set_jwks(jsonb_build_object('keys', jsonb_build_array(:'k_ec256'::jsonb || jsonb_build_object('x', repeat('A', 1000000)))));

-- a token without kid is tried against at most 4 compatible keys, in set order; keys that
-- cannot verify its algorithm (EC, RS384) do not count
SELECT n AS rsa2_copies_first,
       nicelogin_jws_verify(:'rs256_nokid', jsonb_build_object('keys',
         jsonb_build_array(:'k_ec256'::jsonb, :'k_rsa384'::jsonb) ||
         (SELECT coalesce(jsonb_agg(:'k_rsa2'::jsonb - 'kid'), '[]') FROM generate_series(1, n)) ||
         jsonb_build_array(:'k_rsa1'::jsonb))) AS verifies
  FROM generate_series(0, 5) AS n ORDER BY n;
-- the same with stored keys: beyond the cap it is bad_signature; a token with kid is not capped
SELECT nicelogin_set_jwks(jsonb_build_object('keys',
         (SELECT jsonb_agg(:'k_rsa2'::jsonb || jsonb_build_object('kid', 'r' || i)) FROM generate_series(1, 4) AS i) ||
         jsonb_build_array(:'k_rsa1'::jsonb))) AS stored;
SELECT nicelogin_check(:'rs256_nokid') AS nokid, nicelogin_check(:'rs256') AS kid_rsa1;
SELECT nicelogin_set_jwks(:'jwks') AS stored;
SELECT nicelogin_check(:'rs256_nokid') AS nokid;

-- the slowest call left is storing 64 big keys (OpenSSL's check of each, about 0.1 s): a
-- statement timeout stops it between two keys
INSERT INTO sets SELECT 'slow64', jsonb_build_object('keys',
  (SELECT jsonb_agg(:'k_slow'::jsonb || jsonb_build_object('kid', 's' || i)) FROM generate_series(1, 64) AS i));
SET statement_timeout = '200ms';
SELECT nicelogin_set_jwks(ks) FROM sets WHERE name = 'slow64';
RESET statement_timeout;
SELECT count(*) AS still_stored FROM nicelogin_keys;
-- nicelogin_jws_verify skips that check, so the same set is quick there (no kid rsa1: false)
SELECT nicelogin_jws_verify(:'rs256', ks) AS slow_set FROM sets WHERE name = 'slow64';

-- request.headers longer than nicelogin.max_token_length + 64 kB are ignored: no token
SELECT set_config('request.headers', jsonb_build_object('authorization', 'Bearer ' || :'rs256', 'x-pad', repeat('x', 90000))::text, false) IS NOT NULL AS set;
SELECT nicelogin_token() IS NULL AS no_token, nicelogin_user_id() AS user_id;
SELECT set_config('request.headers', jsonb_build_object('authorization', 'Bearer ' || :'rs256', 'x-pad', repeat('x', 1000))::text, false) IS NOT NULL AS set;
SELECT nicelogin_token() = :'rs256' AS token, nicelogin_user_id() AS user_id;
RESET request.headers;

-- times at the ends of timestamptz's range, for leeway 0, the default and the largest:
-- exp + leeway and now + leeway saturate; nothing wraps and nothing raises (the largest
-- leeway, 68 years, makes the token that expired in 2001 valid until 2069)
CREATE TEMP TABLE edge_tokens (name text, token text);
INSERT INTO edge_tokens VALUES ('exp_max', :'exp_max'), ('exp_min', :'exp_min'),
                               ('nbf_max', :'nbf_max'), ('nbf_min', :'nbf_min'),
                               ('expired', :'expired');
SELECT name, nicelogin_check(token) AS leeway_30 FROM edge_tokens ORDER BY name;
SET nicelogin.leeway = 0;
SELECT name, nicelogin_check(token) AS leeway_0 FROM edge_tokens ORDER BY name;
SET nicelogin.leeway = 2147483647;
SELECT name, nicelogin_check(token) AS leeway_max, nicelogin_verify(token) AS verify,
       nicelogin_claims(token) IS NOT NULL AS claims
  FROM edge_tokens ORDER BY name;
-- twice: the second answer comes from the token cache and its saturated deadline
SELECT name, nicelogin_check(token) AS cached FROM edge_tokens ORDER BY name;
-- and through the request helpers
SELECT set_config('nicelogin.token', :'exp_max', false) IS NOT NULL AS set;
SELECT nicelogin_user_id() AS exp_max_user;
SELECT set_config('nicelogin.token', :'exp_min', false) IS NOT NULL AS set;
SELECT nicelogin_user_id() AS exp_min_user;
RESET nicelogin.token;
RESET nicelogin.leeway;
