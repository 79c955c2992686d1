-- verify: every validity rule and every reason code of nicelogin_check()
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse

SELECT nicelogin_set_jwks(:'jwks');

-- The verdict of each fixture token; verify, check and claims must agree.
CREATE TEMP TABLE fixtures(id serial, name text, token text);
INSERT INTO fixtures (name, token) VALUES
  ('rs256', :'rs256'), ('rs384', :'rs384'), ('rs512', :'rs512'),
  ('ps256', :'ps256'), ('ps384', :'ps384'), ('ps512', :'ps512'),
  ('es256', :'es256'), ('es384', :'es384'), ('es512', :'es512'),
  ('eddsa', :'eddsa'), ('hs256', :'hs256'), ('bob', :'bob'),
  ('rs256_nokid', :'rs256_nokid'), ('rs256_kid2', :'rs256_kid2'),
  ('rs256_wrong_key', :'rs256_wrong_key'), ('unknown_kid', :'unknown_kid'),
  ('expired', :'expired'), ('not_yet_valid', :'not_yet_valid'),
  ('missing_exp', :'missing_exp'), ('exp_string', :'exp_string'),
  ('exp_huge', :'exp_huge'), ('exp_bignum', :'exp_bignum'),
  ('exp_fraction', :'exp_fraction'), ('iat_string', :'iat_string'),
  ('with_iss', :'with_iss'), ('aud_string', :'aud_string'), ('aud_array', :'aud_array'),
  ('alg_none', :'alg_none'), ('alg_None', :'alg_None'), ('alg_NONE', :'alg_NONE'),
  ('alg_none_sig', :'alg_none_sig'), ('alg_unknown', :'alg_unknown'),
  ('hs256_confusion_pem', :'hs256_confusion_pem'),
  ('hs256_confusion_der', :'hs256_confusion_der'),
  ('hs256_confusion_nokid', :'hs256_confusion_nokid'),
  ('embedded_jwk', :'embedded_jwk'), ('embedded_jwk_kid', :'embedded_jwk_kid'),
  ('jku', :'jku'), ('x5u', :'x5u'), ('x5c', :'x5c'),
  ('crit', :'crit'), ('b64_false', :'b64_false'), ('b64_false_nocrit', :'b64_false_nocrit'),
  ('dup_header', :'dup_header'), ('dup_payload', :'dup_payload'), ('dup_nested', :'dup_nested'),
  ('header_array', :'header_array'), ('header_kid_number', :'header_kid_number'),
  ('payload_array', :'payload_array'), ('payload_not_json', :'payload_not_json'),
  ('payload_deep', :'payload_deep'), ('payload_bad_utf8', :'payload_bad_utf8'),
  ('payload_nul_escape', :'payload_nul_escape'), ('payload_unicode', :'payload_unicode'),
  ('es256_der', :'es256_der'), ('company_not_uuid', :'company_not_uuid'),
  ('sub_not_uuid', :'sub_not_uuid'), ('big_payload', :'big_payload'),
  ('eddsa_bad_sig', :'eddsa_bad_sig'), ('rs256_bad_sig', :'rs256_bad_sig'),
  ('rs256_short_sig', :'rs256_short_sig'), ('alice2', :'alice2'),
  ('bob_expired', :'bob_expired');

SELECT name, nicelogin_check(token) AS reason, nicelogin_verify(token) AS verified,
       nicelogin_claims(token) IS NOT NULL AS has_claims
  FROM fixtures ORDER BY id;

-- the three functions never disagree
SELECT count(*) AS disagreements FROM fixtures
 WHERE (nicelogin_check(token) = 'valid') <> nicelogin_verify(token)
    OR nicelogin_verify(token) <> (nicelogin_claims(token) IS NOT NULL);

-- the claims of a valid token, as signed
SELECT jsonb_pretty(nicelogin_claims(:'rs256'));
SELECT nicelogin_claims(:'payload_unicode') -> 'user_data' ->> 'name' AS name,
       nicelogin_claims(:'payload_unicode') ->> 'email' AS email;

-- HMAC tokens verify only against a symmetric key set
SELECT nicelogin_set_jwks(:'jwks_hs');
SELECT name, nicelogin_check(token) AS reason
  FROM (VALUES ('hs256', :'hs256'), ('hs384', :'hs384'), ('hs512', :'hs512'),
               ('rs256', :'rs256'), ('hs256_confusion_pem', :'hs256_confusion_pem'),
               ('alg_none', :'alg_none')) AS t(name, token);
SELECT nicelogin_set_jwks(:'jwks');
SELECT nicelogin_check(:'hs256') AS hs256_with_rsa_keys;

-- NULL in, NULL out
SELECT nicelogin_verify(NULL) IS NULL AS verify_null,
       nicelogin_check(NULL) IS NULL AS check_null,
       nicelogin_claims(NULL) IS NULL AS claims_null,
       nicelogin_claims(NULL, false) IS NULL AS unverified_null,
       nicelogin_jws_verify(NULL, :'jwks') IS NULL AS jws_null;

-- compact serialization only, strict base64url (whitespace around the token and a
-- "Bearer " prefix are normalised away first: see request.sql; inside it they are not)
SELECT input, nicelogin_check(t) AS reason
  FROM (VALUES ('empty', ''),
               ('one dot', '.'),
               ('two dots', '..'),
               ('four segments', :'rs256' || '.x'),
               ('two segments', split_part(:'rs256', '.', 1) || '.' || split_part(:'rs256', '.', 2)),
               ('padding', :'rs256' || '='),
               ('internal space', overlay(:'rs256' placing ' ' from 20 for 0)),
               ('internal newline', overlay(:'rs256' placing E'\n' from 20 for 0)),
               ('standard base64 +', replace(:'rs256', '-', '+')),
               ('standard base64 /', replace(:'rs256', '_', '/')),
               ('JSON serialization', '{"payload":"e30","signatures":[]}'),
               ('not base64', 'a.b.c'),
               ('bad trailing bits', split_part(:'es256', '.', 1) || '.' ||
                    split_part(:'es256', '.', 2) || '.' ||
                    overlay(split_part(:'es256', '.', 3) placing 'B' from length(split_part(:'es256', '.', 3)))),
               ('lowercase header', lower(:'rs256')),
               ('megabytes', repeat('A', 3000000))) AS v(input, t);

-- length limit: refused before decoding, lifted by nicelogin.max_token_length
SELECT nicelogin_check(:'big_payload') AS big_default, length(:'big_payload') > 16384 AS is_big;
SET nicelogin.max_token_length = '1MB';
SELECT nicelogin_check(:'big_payload') AS big_raised,
       nicelogin_check(:'payload_deep') AS deep,
       nicelogin_check(repeat('[', 500000) || '.e30.AAAA') AS brackets,
       nicelogin_claims(:'payload_deep', false) IS NULL AS deep_unverified;
RESET nicelogin.max_token_length;

-- issuer
SET nicelogin.issuer = 'https://issuer.example';
SELECT nicelogin_check(:'with_iss') AS same_iss, nicelogin_check(:'rs256') AS no_iss;
SET nicelogin.issuer = 'https://other.example';
SELECT nicelogin_check(:'with_iss') AS other_iss;
RESET nicelogin.issuer;

-- audience: string or array must contain it; no aud fails
SET nicelogin.audience = 'app1';
SELECT nicelogin_check(:'aud_string') AS aud_string, nicelogin_check(:'aud_array') AS aud_array,
       nicelogin_check(:'rs256') AS no_aud;
SET nicelogin.audience = 'app2';
SELECT nicelogin_check(:'aud_string') AS aud_string, nicelogin_check(:'aud_array') AS aud_array;
SET nicelogin.audience = 'app3';
SELECT nicelogin_check(:'aud_array') AS aud_array;
RESET nicelogin.audience;

-- exp is required unless nicelogin.require_exp is off
SET nicelogin.require_exp = off;
SELECT nicelogin_check(:'missing_exp') AS missing_exp_allowed, nicelogin_check(:'expired') AS still_expired;
RESET nicelogin.require_exp;
SELECT nicelogin_check(:'missing_exp') AS missing_exp;

-- leeway applies to exp (the fixture expired in 2001); nbf 2096 is beyond any leeway
SET nicelogin.leeway = 2000000000;
SELECT nicelogin_check(:'expired') AS expired_in_leeway, nicelogin_check(:'not_yet_valid') AS nbf_in_leeway;
SET nicelogin.leeway = 0;
SELECT nicelogin_check(:'expired') AS expired, nicelogin_check(:'not_yet_valid') AS not_yet_valid;
RESET nicelogin.leeway;

-- verification settings are for superusers: a session cannot weaken them
SET ROLE regress_nl_app;
SET nicelogin.require_exp = off;
SET nicelogin.leeway = 1000000;
SET nicelogin.issuer = '';
SET nicelogin.max_token_length = 100000;
RESET ROLE;

-- decoding without verification (never for authorization)
SELECT nicelogin_claims(:'expired', false) ->> 'exp' AS expired_exp,
       nicelogin_claims(:'rs256_bad_sig', false) ->> 'sub' AS forged_sub,
       nicelogin_claims(:'rs256_bad_sig') AS forged_verified,
       nicelogin_claims(:'payload_not_json', false) AS not_json,
       nicelogin_claims(:'payload_bad_utf8', false) AS bad_utf8,
       nicelogin_claims(:'dup_payload', false) AS duplicate,
       nicelogin_claims('garbage', false) AS garbage;

-- the result cache: the same answer on repeat, for valid and refused tokens
SELECT count(DISTINCT nicelogin_check(t)) AS answers, min(nicelogin_check(t)) AS answer
  FROM (SELECT :'rs256' AS t FROM generate_series(1, 50)) s;
SELECT count(*) FILTER (WHERE nicelogin_check(t) = 'bad_signature') AS bad
  FROM (SELECT :'rs256_bad_sig' AS t FROM generate_series(1, 50)) s;

-- the cache stays bounded: 4 entries, 14 distinct tokens, answers still right
SET nicelogin.token_cache_size = 4;
SELECT count(*) FILTER (WHERE nicelogin_check(t) = expected) AS right_answers, count(*) AS checks
  FROM (SELECT (ARRAY[:'rs256', :'rs384', :'rs512', :'ps256', :'ps384', :'ps512', :'es256',
                      :'es384', :'es512', :'eddsa', :'bob', :'expired', :'rs256_bad_sig', :'alg_none'])[1 + i % 14] AS t,
               (ARRAY['valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'valid',
                      'valid', 'valid', 'expired', 'bad_signature', 'unsupported_alg'])[1 + i % 14] AS expected
          FROM generate_series(1, 280) i) s;
SELECT total_bytes <= 32768 AS bounded
  FROM pg_backend_memory_contexts WHERE name = 'nicelogin token cache';
SET nicelogin.max_token_length = '1MB';
-- 26 distinct 27 kB tokens (forged signatures: refusals are cached too)
SELECT count(*) FILTER (WHERE nicelogin_check(t) = 'bad_signature') AS big_forged
  FROM (SELECT overlay(:'big_payload' placing chr(64 + i) from length(:'big_payload') - 10 for 1) AS t
          FROM generate_series(1, 26) i) s;
SELECT total_bytes <= 4 * 2 * 30000 + 32768 AS bounded_by_size_times_length
  FROM pg_backend_memory_contexts WHERE name = 'nicelogin token cache';
RESET nicelogin.max_token_length;
RESET nicelogin.token_cache_size;
