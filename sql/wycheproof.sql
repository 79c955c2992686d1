--
-- Wycheproof JOSE conformance of nicelogin_jws_verify(token, key_set).
--
-- Every case of json_web_signature_test.json (401) and json_web_key_test.json
-- (26) from $NICELOGIN_VECTORS is verified with its group's key ("public",
-- else "private"), and the verdict is compared with the file's.  The test
-- fails when NICELOGIN_VECTORS is unset or a file is missing.
--
-- Verdicts overridden (see README.md beside the vectors):
--   372, 373  a "?" inserted into a signed segment: not base64url, invalid
--   346, 350  PS384 token, key alg PS256: invalid (key alg must match)
--   347, 351  ES512 token, key alg "ES521" (not an algorithm): invalid
--   367, 370  the file's jws is byte-identical to 357's (a valid MAC, same
--             key): the padding the names speak of is missing from the file,
--             so these are valid.  What they meant is checked at the end.
--
\set sigvec `cat "$NICELOGIN_VECTORS"/json_web_signature_test.json`
\set keyvec `cat "$NICELOGIN_VECTORS"/json_web_key_test.json`
CREATE TEMP TABLE wp AS
SELECT f.file, (t ->> 'tcId')::int AS tc_id, t ->> 'comment' AS comment,
       t ->> 'jws' AS jws, coalesce(g -> 'public', g -> 'private') AS key_set,
       coalesce(o.verdict, t ->> 'result') AS expected
  FROM (VALUES ('json_web_signature_test.json', :'sigvec'::jsonb),
               ('json_web_key_test.json', :'keyvec'::jsonb)) AS f(file, doc)
 CROSS JOIN LATERAL jsonb_array_elements(f.doc -> 'testGroups') AS g
 CROSS JOIN LATERAL jsonb_array_elements(g -> 'tests') AS t
  LEFT JOIN (VALUES (372, 'invalid'), (373, 'invalid'), (346, 'invalid'),
                    (350, 'invalid'), (347, 'invalid'), (351, 'invalid'),
                    (367, 'valid'), (370, 'valid')) AS o(tc_id, verdict)
         ON f.file = 'json_web_signature_test.json'
        AND o.tc_id = (t ->> 'tcId')::int;
ALTER TABLE wp ADD COLUMN got text;
UPDATE wp SET got = CASE nicelogin_jws_verify(jws, key_set)
                    WHEN true THEN 'valid' WHEN false THEN 'invalid' END;
-- cases, expected verdicts and matches, per file and in all
SELECT coalesce(file, 'all') AS file, count(*) AS cases,
       count(*) FILTER (WHERE expected = 'valid') AS valid,
       count(*) FILTER (WHERE expected = 'invalid') AS invalid,
       count(*) FILTER (WHERE got = expected) AS matches
  FROM wp GROUP BY ROLLUP (file) ORDER BY file IS NULL, file;
-- mismatches (none expected)
SELECT file, tc_id, comment, expected, got
  FROM wp WHERE got IS DISTINCT FROM expected ORDER BY file, tc_id;
-- what 367 and 370 meant: 357's token with base64 padding in a segment
SELECT nicelogin_jws_verify(jws, key_set) AS tc357,
       nicelogin_jws_verify(replace(jws, '.VGVzdA.', '.VGVzdA==.'), key_set) AS padded_payload,
       nicelogin_jws_verify(jws || '=', key_set) AS padded_mac
  FROM wp WHERE file = 'json_web_signature_test.json' AND tc_id = 357;
