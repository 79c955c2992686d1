-- test/fuzz/mutate_tokens.sql: feeds mutated fixture tokens to every verification entry point.
-- Run with psql -v ON_ERROR_STOP=1 -v rounds=N in a database with nicelogin and pgcrypto, from
-- the repository root (it reads test/fixtures/tokens.sql).  Any ERROR fails the run (the
-- functions must never raise); the last query must report 0 mutated tokens that verify.
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO queries
SELECT nicelogin_set_jwks(:'jwks') AS keys;
SET nicelogin.token_cache_size = 0;   -- verify every mutation in full

CREATE TEMP TABLE seeds (t text);
INSERT INTO seeds VALUES (:'rs256'), (:'es256'), (:'eddsa'), (:'ps256'), (:'es512'), (:'crit'),
    (:'dup_payload'), (:'aud_array');

CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql AS $$
    SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;

-- one random mutation: a character, a cut, a splice, a hostile header or payload, random bytes
CREATE FUNCTION pg_temp.mutate(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r int := (random() * 9)::int;
    p int := 1 + (random() * (length(t) - 1))::int;
    h text := split_part(t, '.', 1);
    pl text := split_part(t, '.', 2);
    s text := split_part(t, '.', 3);
    j text;
BEGIN
    CASE r
    WHEN 0 THEN RETURN overlay(t PLACING chr(33 + (random() * 90)::int) FROM p FOR 1);
    WHEN 1 THEN RETURN left(t, p);
    WHEN 2 THEN RETURN t || substr(t, p, 20);
    WHEN 3 THEN
        j := (ARRAY['{"alg":"RS256","kid":"rsa1","crit":[]}', '{"alg":"RS256","kid":"rsa1","b64":"x"}',
                    '{"alg":null}', '{"alg":"RS256","kid":{"a":1}}', '{"alg":"ES256","kid":"ec256"}',
                    '{"alg":"HS256","kid":"rsa1"}', '{"alg":"EdDSA"}', '{"alg":"RS256","alg":"none"}',
                    repeat('[', 40) || repeat(']', 40), '{"alg":"RS256","kid":"rsa1","x":1e99999}',
                    '{"alg":"RS256","kid":"rsa1","x":"\ud800"}', '{"alg":"RS256","kid":"rsa1","x":-0.0e-0}']
             )[1 + (random() * 11)::int];
        RETURN pg_temp.b64url(convert_to(j, 'UTF8')) || '.' || pl || '.' || s;
    WHEN 4 THEN
        j := (ARRAY['{"exp":"1"}', '{"exp":1e400}', '{"exp":-1e400}', '{"aud":[1,2]}', '{"aud":[[]]}',
                    '{"exp":4102444800,"sub":null}', '{}', '{"exp":-9999999999999999999999}',
                    '{"exp":4102444800, "company_id": 5}', '{"exp":0.0000000001e-300}', '{"a":"\u0000"}',
                    '{"a":' || repeat('[', 40) || repeat(']', 40) || '}']
             )[1 + (random() * 11)::int];
        RETURN h || '.' || pg_temp.b64url(convert_to(j, 'UTF8')) || '.' || s;
    WHEN 5 THEN RETURN h || '.' || pl || '.' || pg_temp.b64url(gen_random_bytes(1 + (random() * 600)::int));
    WHEN 6 THEN RETURN h || '.' || pg_temp.b64url(gen_random_bytes(1 + (random() * 600)::int)) || '.' || s;
    WHEN 7 THEN RETURN pg_temp.b64url(gen_random_bytes(1 + (random() * 100)::int)) || '.' || pl || '.' || s;
    WHEN 8 THEN RETURN replace(t, '.', '..');
    ELSE RETURN reverse(t);
    END CASE;
END $$;

CREATE TEMP TABLE mutants AS
    SELECT t AS seed, pg_temp.mutate(t) AS m FROM seeds, generate_series(1, :rounds);
SELECT count(*) AS mutants,
       count(DISTINCT nicelogin_check(m)) AS distinct_reasons,
       count(*) FILTER (WHERE nicelogin_jws_verify(m, :'jwks')) AS jws_valid,
       count(nicelogin_claims(m, false)) AS decodable
  FROM mutants;
-- a mutated token may verify (or be revoked: nicelogin_revoke_token acts only on
-- verified tokens, and never raises) only if it is the seed itself
SELECT count(*) FILTER (WHERE nicelogin_verify(m)) + count(*) FILTER (WHERE nicelogin_revoke_token(m))
       AS forged_but_verified_or_revoked
  FROM mutants WHERE m <> seed;
