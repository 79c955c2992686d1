-- sql/encoding.sql runs these checks in each database that is not UTF-8 (the fixtures loaded)
CREATE EXTENSION nicelogin;
SELECT nicelogin_set_jwks(:'jwks') AS keys;
CREATE FUNCTION pg_temp.b64url(t text) RETURNS text LANGUAGE sql
  AS $$ SELECT rtrim(translate(encode(convert_to(t, 'UTF8'), 'base64'), E'+/\n', '-_'), '=') $$;
CREATE TEMP TABLE t AS
SELECT name, pg_temp.b64url(h) || '.' || pg_temp.b64url(p) || '.AAAA' AS token
  FROM (VALUES
    ('header \u4e00', '{"alg":"RS256","kid":"rsa1","x":"\u4e00"}', '{"sub":"x","exp":9999999999}'),
    ('header \u00e9', '{"alg":"RS256","kid":"rsa1","x":"\u00e9"}', '{"sub":"x","exp":9999999999}'),
    ('payload \ud83d\ude00', '{"alg":"RS256","kid":"rsa1"}', '{"sub":"x","exp":9999999999,"n":"\ud83d\ude00"}'),
    ('payload \u0041', '{"alg":"RS256","kid":"rsa1"}', '{"sub":"x","exp":9999999999,"n":"\u0041"}')) AS v(name, h, p);
SELECT name, nicelogin_check(token), nicelogin_verify(token), nicelogin_claims(token) IS NULL AS no_claims,
       nicelogin_claims(token, false) AS unverified, nicelogin_jws_verify(token, :'jwks') AS jws
  FROM t ORDER BY name;
-- the request's token, as a policy reads it
SELECT set_config('nicelogin.token', token, false) IS NOT NULL AS set, nicelogin_company_id(), nicelogin_user_id()
  FROM t WHERE name = 'header \u4e00';
SELECT set_config('nicelogin.token', '', false) = '' AS reset;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || token)::text, false) IS NOT NULL AS set,
       nicelogin_token() IS NOT NULL AS has_token, nicelogin_company_id()
  FROM t WHERE name = 'payload \ud83d\ude00';
-- a genuine token still verifies
SELECT nicelogin_check(:'rs256');
