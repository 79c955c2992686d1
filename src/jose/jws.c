/*
 * jws.c
 *		Compact JWS: splitting and decoding once (NlToken), header rules, key
 *		choice and the signature check.  With alg.c (digests, RSA padding,
 *		ECDSA's r || s), the only file that calls OpenSSL's signature and
 *		digest functions.
 *
 * Rules (RFC 7515, RFC 8725): compact serialization only; "alg" from a fixed
 * allow-list, never "none"; the key comes from the stored set only (jwk, jku,
 * x5u and x5c in the header are never used); "crit" and "b64": false are
 * refused; the key's kty, crv, alg, use and key_ops must allow the token's
 * algorithm; HMAC tags are compared in constant time.
 */
#include "jose/jose.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* May this key verify a token signed with alg? */
static bool
key_fits(const NlKey *key, const NlAlgInfo *alg)
{
	if (!key->for_signing)
		return false;
	if (key->alg_present && key->alg != alg->alg)
		return false;
	if (key->kty != alg->kty)
		return false;
	switch (alg->kty)
	{
		case NL_KTY_RSA:
			return true;
		case NL_KTY_EC:
		case NL_KTY_OKP:
			return key->curve_nid == alg->curve_nid;
		case NL_KTY_OCT:
			return key->secret_len >= alg->min_key_bytes;
	}
	return false;
}

/* HMAC check; the tag is compared in constant time. */
static bool
verify_hmac(const NlKey *key, const NlAlgInfo *alg, const unsigned char *input,
			size_t input_len, const unsigned char *sig, int sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (sig_len != alg->sig_size)
		return false;
	if (HMAC(nl_alg_md(alg), key->secret, key->secret_len, input, input_len, mac, &mac_len) == NULL)
		return false;
	return mac_len == (unsigned int) sig_len && CRYPTO_memcmp(mac, sig, sig_len) == 0;
}

/* Sets up a verification context for alg with the key; false on failure. */
static bool
init_verify_ctx(EVP_MD_CTX *mdctx, const NlKey *key, const NlAlgInfo *alg)
{
	EVP_PKEY_CTX *pctx = NULL;

	if (EVP_DigestVerifyInit(mdctx, &pctx, nl_alg_md(alg), NULL, (EVP_PKEY *) key->pkey) != 1)
		return false;
	return nl_alg_setup_pkey_ctx(alg, pctx);
}

/*
 * The key's prepared verification context for alg, made on first use and
 * kept with the key (nl_keyset_free() frees it): copying it is cheaper than
 * OpenSSL 3's setup of a new one.  NULL when the key already keeps one for
 * another algorithm (a key without "alg") or on failure.
 */
static EVP_MD_CTX *
key_verify_ctx(const NlKey *key, const NlAlgInfo *alg)
{
	NlKey	   *mkey = (NlKey *) key;
	EVP_MD_CTX *ctx;

	if (key->verify_ctx != NULL)
		return key->verify_ctx_alg == alg->alg ? (EVP_MD_CTX *) key->verify_ctx : NULL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (!init_verify_ctx(ctx, key, alg))
	{
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	mkey->verify_ctx = ctx;
	mkey->verify_ctx_alg = alg->alg;
	return ctx;
}

/* Asymmetric check with OpenSSL's EVP interface.  Never raises. */
static bool
verify_pkey(const NlKey *key, const NlAlgInfo *alg, const unsigned char *input,
			size_t input_len, const unsigned char *sig, int sig_len)
{
	EVP_MD_CTX *proto;
	EVP_MD_CTX *mdctx;
	unsigned char *der = NULL;
	int			der_len = 0;
	bool		ok = false;

	if (alg->sig_size == 0)
	{
		/* RFC 7518: an RSA signature is exactly as long as the modulus */
		if (sig_len != EVP_PKEY_get_size((EVP_PKEY *) key->pkey))
			return false;
	}
	else if (sig_len != alg->sig_size)
		return false;
	if (key->kty == NL_KTY_EC)
	{
		der = nl_ecdsa_raw_to_der(sig, sig_len, alg->sig_size / 2, &der_len);
		if (der == NULL)
			return false;
		sig = der;
		sig_len = der_len;
	}

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
verify_with_key(const NlKey *key, const NlAlgInfo *alg, const unsigned char *input,
				size_t input_len, const unsigned char *sig, int sig_len)
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

NlResult
nl_token_decode(const char *token, int len, const NlPolicy *policy, NlToken *tok)
{
	int			dot1 = 0,
				dot2 = 0;

	memset(tok, 0, sizeof(NlToken));
	tok->text = token;
	tok->len = len;
	if (len > policy->max_token_length)
		return NL_TOO_LONG;
	tok->decoded = true;

	if (!split_compact(token, len, &dot1, &dot2))
		return NL_MALFORMED;
	tok->signing_input_len = dot2;

	/* each segment on its own, so that the failure log has what decodes */
	tok->header_json = (char *) decode_segment(token, dot1, &tok->header_len);
	tok->payload_json = (char *) decode_segment(token + dot1 + 1, dot2 - dot1 - 1,
												&tok->payload_len);
	tok->sig = decode_segment(token + dot2 + 1, len - dot2 - 1, &tok->sig_len);
	if (tok->header_json != NULL)
		tok->header_ok = nl_header_parse(tok->header_json, tok->header_len, &tok->header);

	if (dot1 == 0 || tok->header_json == NULL || tok->payload_json == NULL || tok->sig == NULL)
		return NL_MALFORMED;
	if (!tok->header_ok || !tok->header.has_alg)
		return NL_MALFORMED;
	if (alg_is_none(tok->header.alg))
		return NL_UNSUPPORTED_ALG;
	tok->alg = nl_alg_by_name(tok->header.alg, strlen(tok->header.alg));
	if (tok->alg == NULL)
		return NL_UNSUPPORTED_ALG;
	/* no extension is understood, so any "crit" must be refused */
	if (tok->header.has_crit || tok->header.b64_false)
		return NL_MALFORMED;
	return NL_VALID;
}

NlResult
nl_jws_verify(NlToken *tok, const NlKeySet *keys)
{
	const NlHeader *hdr = &tok->header;
	const NlAlgInfo *alg = tok->alg;
	const unsigned char *input = (const unsigned char *) tok->text;
	bool		tried = false;
	int			ntried = 0;

	tok->kid_not_stored = false;
	if (alg == NULL)
		return NL_MALFORMED;	/* not passed by nl_token_decode() */
	if (tok->sig_len == 0)
		return NL_BAD_SIGNATURE;

	for (int i = 0; i < keys->nkeys; i++)
	{
		const NlKey *key = &keys->keys[i];

		/* no OpenSSL object is held here: each check frees its own */
		CHECK_FOR_INTERRUPTS();

		if (hdr->has_kid)
		{
			if (key->kid == NULL || strcmp(key->kid, hdr->kid) != 0)
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
		if (verify_with_key(key, alg, input, tok->signing_input_len, tok->sig, tok->sig_len))
			return NL_VALID;
		if (hdr->has_kid)
			break;
	}
	if (!tried && hdr->has_kid)
	{
		/* was it the kid that no key has (a rotation?), or an unfit key? */
		tok->kid_not_stored = true;
		for (int i = 0; i < keys->nkeys; i++)
			if (keys->keys[i].kid && strcmp(keys->keys[i].kid, hdr->kid) == 0)
				tok->kid_not_stored = false;
	}
	return tried ? NL_BAD_SIGNATURE : NL_UNKNOWN_KEY;
}

bool
nl_token_claims(NlToken *tok)
{
	if (tok->claims_state == 0)
		tok->claims_state =
			tok->payload_json != NULL &&
			nl_claims_parse(tok->payload_json, tok->payload_len, &tok->claims) ? 1 : -1;
	return tok->claims_state > 0;
}

void
nl_token_free(NlToken *tok)
{
	if (tok->header_json)
		pfree(tok->header_json);
	if (tok->payload_json)
		pfree(tok->payload_json);
	if (tok->sig)
		pfree(tok->sig);
	nl_header_free(&tok->header);
	nl_claims_free(&tok->claims);
	memset(tok, 0, sizeof(NlToken));
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
