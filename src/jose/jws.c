/*
 * jws.c
 *		Compact JWS: splitting, header rules, key choice and the signature
 *		check.  The only file that calls OpenSSL's signature and digest
 *		functions.
 *
 * Rules (RFC 7515, RFC 8725): compact serialization only; "alg" from a fixed
 * allow-list, never "none"; the key comes from the stored set only (jwk, jku,
 * x5u and x5c in the header are never used); "crit" and "b64": false are
 * refused; the key's kty, crv, alg, use and key_ops must allow the token's
 * algorithm; HMAC tags are compared in constant time.
 */
#include "jose/jose.h"
#include "verify/verify.h"
#include "ops/ops.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "miscadmin.h"

static const struct
{
	const char *name;
	NlAlg		alg;
}			alg_table[] =
{
	{"RS256", NL_ALG_RS256}, {"RS384", NL_ALG_RS384}, {"RS512", NL_ALG_RS512},
	{"PS256", NL_ALG_PS256}, {"PS384", NL_ALG_PS384}, {"PS512", NL_ALG_PS512},
	{"ES256", NL_ALG_ES256}, {"ES384", NL_ALG_ES384}, {"ES512", NL_ALG_ES512},
	{"EdDSA", NL_ALG_EDDSA},
	{"HS256", NL_ALG_HS256}, {"HS384", NL_ALG_HS384}, {"HS512", NL_ALG_HS512},
};

NlAlg
nl_alg_from_name(const char *name, int len)
{
	for (int i = 0; i < (int) lengthof(alg_table); i++)
		if ((int) strlen(alg_table[i].name) == len &&
			memcmp(alg_table[i].name, name, len) == 0)
			return alg_table[i].alg;
	return NL_ALG_NONE;
}

const char *
nl_alg_name(NlAlg alg)
{
	for (int i = 0; i < (int) lengthof(alg_table); i++)
		if (alg_table[i].alg == alg)
			return alg_table[i].name;
	return "none";
}

static const EVP_MD *
alg_md(NlAlg alg)
{
	switch (alg)
	{
		case NL_ALG_RS256:
		case NL_ALG_PS256:
		case NL_ALG_ES256:
		case NL_ALG_HS256:
			return EVP_sha256();
		case NL_ALG_RS384:
		case NL_ALG_PS384:
		case NL_ALG_ES384:
		case NL_ALG_HS384:
			return EVP_sha384();
		case NL_ALG_RS512:
		case NL_ALG_PS512:
		case NL_ALG_ES512:
		case NL_ALG_HS512:
			return EVP_sha512();
		default:
			return NULL;
	}
}

/* May this key verify a token signed with alg? */
static bool
key_fits(const NlKey *key, NlAlg alg)
{
	if (!key->for_signing)
		return false;
	if (key->alg_present && key->alg != alg)
		return false;
	switch (alg)
	{
		case NL_ALG_RS256:
		case NL_ALG_RS384:
		case NL_ALG_RS512:
		case NL_ALG_PS256:
		case NL_ALG_PS384:
		case NL_ALG_PS512:
			return key->kty == NL_KTY_RSA;
		case NL_ALG_ES256:
			return key->kty == NL_KTY_EC && key->curve_nid == NID_X9_62_prime256v1;
		case NL_ALG_ES384:
			return key->kty == NL_KTY_EC && key->curve_nid == NID_secp384r1;
		case NL_ALG_ES512:
			return key->kty == NL_KTY_EC && key->curve_nid == NID_secp521r1;
		case NL_ALG_EDDSA:
			return key->kty == NL_KTY_OKP && key->curve_nid == NID_ED25519;
		case NL_ALG_HS256:
		case NL_ALG_HS384:
		case NL_ALG_HS512:
			return key->kty == NL_KTY_OCT &&
				key->secret_len >= EVP_MD_get_size(alg_md(alg));
		case NL_ALG_NONE:
			break;
	}
	return false;
}

/* HMAC check; the tag is compared in constant time. */
static bool
verify_hmac(const NlKey *key, NlAlg alg, const unsigned char *input, size_t input_len,
			const unsigned char *sig, int sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	const EVP_MD *md = alg_md(alg);

	if (sig_len != EVP_MD_get_size(md))
		return false;
	if (HMAC(md, key->secret, key->secret_len, input, input_len, mac, &mac_len) == NULL)
		return false;
	return mac_len == (unsigned int) sig_len && CRYPTO_memcmp(mac, sig, sig_len) == 0;
}

/*
 * ECDSA signatures in JWS are r || s, each exactly the curve's byte size;
 * OpenSSL wants DER.  Returns an OPENSSL_malloc'd DER buffer or NULL.
 */
static unsigned char *
ecdsa_raw_to_der(const unsigned char *sig, int sig_len, int coord_len, int *der_len)
{
	ECDSA_SIG  *esig;
	BIGNUM	   *r;
	BIGNUM	   *s;
	unsigned char *der = NULL;
	int			len;

	if (sig_len != 2 * coord_len)
		return NULL;
	esig = ECDSA_SIG_new();
	r = BN_bin2bn(sig, coord_len, NULL);
	s = BN_bin2bn(sig + coord_len, coord_len, NULL);
	if (esig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(esig, r, s))
	{
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(esig);
		return NULL;
	}
	/* esig owns r and s now */
	len = i2d_ECDSA_SIG(esig, &der);
	ECDSA_SIG_free(esig);
	if (len <= 0)
		return NULL;
	*der_len = len;
	return der;
}

static int
ec_coord_len(NlAlg alg)
{
	switch (alg)
	{
		case NL_ALG_ES256:
			return 32;
		case NL_ALG_ES384:
			return 48;
		default:
			return 66;
	}
}

/* Sets up a verification context for alg with the key; false on failure. */
static bool
init_verify_ctx(EVP_MD_CTX *mdctx, const NlKey *key, NlAlg alg)
{
	EVP_PKEY_CTX *pctx = NULL;

	if (EVP_DigestVerifyInit(mdctx, &pctx, key->kty == NL_KTY_OKP ? NULL : alg_md(alg),
							 NULL, (EVP_PKEY *) key->pkey) != 1)
		return false;
	if (alg == NL_ALG_PS256 || alg == NL_ALG_PS384 || alg == NL_ALG_PS512)
	{
		/* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg_md(alg)) == 1 &&
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	}
	if (key->kty == NL_KTY_RSA)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
	return true;
}

/*
 * The key's prepared verification context for alg, made on first use and
 * kept with the key (jwk.c frees it with the key set): copying it is cheaper
 * than OpenSSL 3's setup of a new one.  NULL when the key already keeps one
 * for another algorithm (a key without "alg") or on failure.
 */
static EVP_MD_CTX *
key_verify_ctx(const NlKey *key, NlAlg alg)
{
	NlKey	   *mkey = (NlKey *) key;
	EVP_MD_CTX *ctx;

	if (key->verify_ctx != NULL)
		return key->verify_ctx_alg == alg ? (EVP_MD_CTX *) key->verify_ctx : NULL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (!init_verify_ctx(ctx, key, alg))
	{
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	mkey->verify_ctx = ctx;
	mkey->verify_ctx_alg = alg;
	return ctx;
}

/* Asymmetric check with OpenSSL's EVP interface.  Never raises. */
static bool
verify_pkey(const NlKey *key, NlAlg alg, const unsigned char *input, size_t input_len,
			const unsigned char *sig, int sig_len)
{
	EVP_MD_CTX *proto;
	EVP_MD_CTX *mdctx;
	unsigned char *der = NULL;
	int			der_len = 0;
	bool		ok = false;

	if (key->kty == NL_KTY_RSA)
	{
		/* RFC 7518: the signature is exactly as long as the modulus */
		if (sig_len != EVP_PKEY_get_size((EVP_PKEY *) key->pkey))
			return false;
	}
	else if (key->kty == NL_KTY_EC)
	{
		der = ecdsa_raw_to_der(sig, sig_len, ec_coord_len(alg), &der_len);
		if (der == NULL)
			return false;
		sig = der;
		sig_len = der_len;
	}
	else if (sig_len != 64)		/* Ed25519 */
		return false;

	proto = key_verify_ctx(key, alg);
	mdctx = EVP_MD_CTX_new();
	if (mdctx == NULL)
		goto done;
	if (proto != NULL ? EVP_MD_CTX_copy_ex(mdctx, proto) != 1 : !init_verify_ctx(mdctx, key, alg))
		goto done;
	ok = EVP_DigestVerify(mdctx, sig, sig_len, input, input_len) == 1;

done:
	EVP_MD_CTX_free(mdctx);		/* frees its EVP_PKEY_CTX too */
	OPENSSL_free(der);
	return ok;
}

static bool
verify_with_key(const NlKey *key, NlAlg alg, const unsigned char *input, size_t input_len,
				const unsigned char *sig, int sig_len)
{
	if (key->kty == NL_KTY_OCT)
		return verify_hmac(key, alg, input, input_len, sig, sig_len);
	return verify_pkey(key, alg, input, input_len, sig, sig_len);
}

/* Is this spelling of alg some form of "none"? */
static bool
alg_is_none(const char *alg)
{
	return pg_strcasecmp(alg, "none") == 0;
}

/* Splits a compact JWS into its three segments; false unless exactly three. */
static bool
split_compact(const char *token, int len, int *dot1, int *dot2)
{
	int			ndots = 0;

	*dot1 = *dot2 = 0;
	for (int i = 0; i < len; i++)
	{
		if (token[i] == '.')
		{
			if (ndots == 0)
				*dot1 = i;
			else if (ndots == 1)
				*dot2 = i;
			ndots++;
		}
	}
	return ndots == 2;
}

/* Decodes one segment into a palloc'd, NUL-terminated buffer; NULL if bad. */
static unsigned char *
decode_segment(const char *seg, int seglen, int *outlen)
{
	unsigned char *buf = palloc(nl_b64url_dec_len(seglen) + 1);
	int			n = nl_b64url_decode(seg, seglen, buf);

	if (n < 0)
	{
		pfree(buf);
		return NULL;
	}
	buf[n] = '\0';
	*outlen = n;
	return buf;
}

char *
nl_jws_unverified_payload(const char *token, int len, int *payload_len)
{
	int			dot1,
				dot2;

	if (!split_compact(token, len, &dot1, &dot2))
		return NULL;
	return (char *) decode_segment(token + dot1 + 1, dot2 - dot1 - 1, payload_len);
}

char *
nl_jws_unverified_header(const char *token, int len, int *header_len)
{
	int			dot1,
				dot2;

	if (!split_compact(token, len, &dot1, &dot2))
		return NULL;
	return (char *) decode_segment(token, dot1, header_len);
}

NlResult
nl_jws_verify(const char *token, int len, const NlKeySet *keys, NlJws *out)
{
	int			dot1 = 0,
				dot2 = 0;
	unsigned char *header;
	unsigned char *payload;
	unsigned char *sig;
	int			header_len = 0,
				payload_len = 0,
				sig_len = 0;
	NlHeader	hdr;
	NlAlg		alg;
	const unsigned char *input = (const unsigned char *) token;
	size_t		input_len;
	bool		tried = false;
	int			ntried = 0;

	memset(out, 0, sizeof(NlJws));
	out->key_index = -1;

	if (!split_compact(token, len, &dot1, &dot2) || dot1 == 0)
		return NL_MALFORMED;
	input_len = dot2;

	header = decode_segment(token, dot1, &header_len);
	payload = decode_segment(token + dot1 + 1, dot2 - dot1 - 1, &payload_len);
	sig = decode_segment(token + dot2 + 1, len - dot2 - 1, &sig_len);
	if (header == NULL || payload == NULL || sig == NULL)
		return NL_MALFORMED;

	if (!nl_header_parse((char *) header, header_len, &hdr))
		return NL_MALFORMED;
	if (!hdr.has_alg)
		return NL_MALFORMED;
	if (alg_is_none(hdr.alg))
		return NL_UNSUPPORTED_ALG;
	alg = nl_alg_from_name(hdr.alg, strlen(hdr.alg));
	if (alg == NL_ALG_NONE)
		return NL_UNSUPPORTED_ALG;
	/* no extension is understood, so any "crit" must be refused */
	if (hdr.has_crit || hdr.b64_false)
		return NL_MALFORMED;
	if (sig_len == 0)
		return NL_BAD_SIGNATURE;

	for (int i = 0; i < keys->nkeys; i++)
	{
		const NlKey *key = &keys->keys[i];

		/* no OpenSSL object is held here: each check frees its own */
		CHECK_FOR_INTERRUPTS();

		if (hdr.has_kid)
		{
			if (key->kid == NULL || strcmp(key->kid, hdr.kid) != 0)
				continue;
			if (!key_fits(key, alg))
				return NL_UNKNOWN_KEY;
		}
		else if (!key_fits(key, alg))
			continue;
		else if (ntried >= NL_MAX_KIDLESS_TRIES)
			break;				/* bounded work for a token without kid */

		tried = true;
		ntried++;
		if (verify_with_key(key, alg, input, input_len, sig, sig_len))
		{
			out->payload = (char *) payload;
			out->payload_len = payload_len;
			out->alg = alg;
			out->key_index = i;
			return NL_VALID;
		}
		if (hdr.has_kid)
			break;
	}
	if (!tried && hdr.has_kid)
	{
		/* was it the kid that no key has (a rotation?), or an unfit key? */
		out->kid_not_stored = true;
		for (int i = 0; i < keys->nkeys; i++)
			if (keys->keys[i].kid && strcmp(keys->keys[i].kid, hdr.kid) == 0)
				out->kid_not_stored = false;
	}
	return tried ? NL_BAD_SIGNATURE : NL_UNKNOWN_KEY;
}

/*
 * SHA-256 of data, for the shared token cache's keys.  The digest is fetched
 * once and one context is reused for the life of the process (both are
 * process-wide, like OpenSSL's own tables), so a call allocates nothing.
 * Never raises: false when OpenSSL fails.
 */
bool
nl_sha256(const void *data, size_t len, uint8 *out)
{
	static EVP_MD_CTX *ctx = NULL;
	static EVP_MD *md = NULL;
	unsigned int outlen = 0;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (md == NULL || ctx == NULL)
		return false;
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
		EVP_DigestUpdate(ctx, data, len) != 1 ||
		EVP_DigestFinal_ex(ctx, out, &outlen) != 1 ||
		outlen != NL_SHA256_LEN)
	{
		ERR_clear_error();
		return false;
	}
	return true;
}
