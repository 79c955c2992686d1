// test/interop/jose_interop.mjs -- the independent side of test/scripts/jose_interop.sh, with
// node's `jose` (panva/jose), which shares no code with nicelogin or OpenSSL's JWS handling.
//
//   node jose_interop.mjs make PG_KEYS.json    for each algorithm of PG_KEYS.json
//                                              ([{alg, private_jwk}] from nicelogin_test): a key
//                                              jose generates and a token jose signs with it, and
//                                              a token jose signs with nicelogin_test's private
//                                              key; prints [{alg, private_jwk, public_jwk, token,
//                                              token_with_pg_key}]
//   node jose_interop.mjs verify TOKENS.json   verifies each [{name, alg, token, public_jwk}] with
//                                              jose (signature, alg, exp); a copy with one byte of
//                                              the signature changed must fail; prints one line per
//                                              token, exits 1 if any check went wrong
import { readFileSync } from 'node:fs';
import * as jose from 'jose';

const [mode, file] = process.argv.slice(2);
const input = JSON.parse(readFileSync(file, 'utf8'));
const claims = {
  sub: '11111111-1111-4111-8111-111111111111',
  company_id: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  iss: 'jose-interop',
};

async function signWith(key, alg, kid) {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key);
}

// The same token with one signature character changed (still valid base64url).
function tamper(token) {
  const i = token.lastIndexOf('.') + 5;
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}

if (mode === 'make') {
  const out = [];
  for (const { alg, private_jwk: pgPrivate } of input) {
    const kid = `jose-${alg}`;
    let signingKey;
    let privateJwk;
    let publicJwk;
    if (alg.startsWith('HS')) {
      signingKey = await jose.generateSecret(alg, { extractable: true });
      privateJwk = await jose.exportJWK(signingKey);
      publicJwk = { ...privateJwk };
    } else {
      const pair = await jose.generateKeyPair(alg, { extractable: true });
      signingKey = pair.privateKey;
      privateJwk = await jose.exportJWK(pair.privateKey);
      publicJwk = await jose.exportJWK(pair.publicKey);
    }
    Object.assign(privateJwk, { kid, alg, use: 'sig' });
    Object.assign(publicJwk, { kid, alg, use: 'sig' });
    const token = await signWith(signingKey, alg, kid);
    const pgKey = await jose.importJWK(pgPrivate, alg);
    const tokenWithPgKey = await signWith(pgKey, alg, pgPrivate.kid);
    out.push({ alg, private_jwk: privateJwk, public_jwk: publicJwk, token, token_with_pg_key: tokenWithPgKey });
  }
  process.stdout.write(JSON.stringify(out));
} else if (mode === 'verify') {
  let failed = 0;
  let bad = 0;
  for (const { name, alg, token, public_jwk: publicJwk } of input) {
    const before = failed;
    const key = await jose.importJWK(publicJwk, alg);
    try {
      const { payload, protectedHeader } = await jose.jwtVerify(token, key, { algorithms: [alg] });
      if (protectedHeader.alg !== alg || payload.sub !== claims.sub || typeof payload.exp !== 'number') {
        throw new Error(`unexpected header ${JSON.stringify(protectedHeader)} or payload ${JSON.stringify(payload)}`);
      }
      console.log(`ok      ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAILED  ${name}: ${e.code || ''} ${e.message}`);
    }
    try {
      await jose.jwtVerify(tamper(token), key, { algorithms: [alg] });
      failed++;
      console.log(`FAILED  ${name}, signature changed: jose accepted it`);
    } catch (e) {
      if (e.code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
        failed++;
        console.log(`FAILED  ${name}, signature changed: ${e.code} ${e.message}`);
      }
    }
    if (failed > before) bad++;
  }
  console.log(`jose: ${input.length - bad} of ${input.length} tokens verified, and refused with a changed signature`);
  process.exit(failed ? 1 : 0);
} else {
  console.error('usage: node jose_interop.mjs make|verify FILE.json');
  process.exit(2);
}
