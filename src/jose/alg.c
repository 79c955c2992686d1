/*
 * alg.c
 *		The JWS algorithms nicelogin verifies, one row each, and what
 *		verification and test signing share about them: the digest, the RSA
 *		padding (PKCS #1 v1.5 or PSS) and ECDSA's r || s form.
 *
 * Adding an algorithm is one row of nl_algs (and its NlAlg code) and its
 * tests: header parsing (jws.c), key compatibility (jwk.c, jws.c),
 * verification (jws.c) and nicelogin_test's signing (testsign.c) read it.
 */
#include "jose/jose.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

const NlAlgInfo nl_algs[] = {
	/* alg, name, kty, crv, curve_nid, group, md, sig_size, min_key_bytes, pss */
	{NL_ALG_RS256, "RS256", NL_KTY_RSA, NULL, 0, NULL, "SHA256", 0, 0, false},
	{NL_ALG_RS384, "RS384", NL_KTY_RSA, NULL, 0, NULL, "SHA384", 0, 0, false},
	{NL_ALG_RS512, "RS512", NL_KTY_RSA, NULL, 0, NULL, "SHA512", 0, 0, false},
	{NL_ALG_PS256, "PS256", NL_KTY_RSA, NULL, 0, NULL, "SHA256", 0, 0, true},
	{NL_ALG_PS384, "PS384", NL_KTY_RSA, NULL, 0, NULL, "SHA384", 0, 0, true},
	{NL_ALG_PS512, "PS512", NL_KTY_RSA, NULL, 0, NULL, "SHA512", 0, 0, true},
	{NL_ALG_ES256, "ES256", NL_KTY_EC, "P-256", NID_X9_62_prime256v1, SN_X9_62_prime256v1, "SHA256", 64, 0, false},
	{NL_ALG_ES384, "ES384", NL_KTY_EC, "P-384", NID_secp384r1, SN_secp384r1, "SHA384", 96, 0, false},
	{NL_ALG_ES512, "ES512", NL_KTY_EC, "P-521", NID_secp521r1, SN_secp521r1, "SHA512", 132, 0, false},
	{NL_ALG_EDDSA, "EdDSA", NL_KTY_OKP, "Ed25519", NID_ED25519, NULL, NULL, 64, 0, false},
	{NL_ALG_HS256, "HS256", NL_KTY_OCT, NULL, 0, NULL, "SHA256", 32, 32, false},
	{NL_ALG_HS384, "HS384", NL_KTY_OCT, NULL, 0, NULL, "SHA384", 48, 48, false},
	{NL_ALG_HS512, "HS512", NL_KTY_OCT, NULL, 0, NULL, "SHA512", 64, 64, false},
};
const int	nl_nalgs = lengthof(nl_algs);

static const char *const result_names[] = {
	[NL_VALID] = "valid",
	[NL_MALFORMED] = "malformed",
	[NL_TOO_LONG] = "too_long",
	[NL_UNSUPPORTED_ALG] = "unsupported_alg",
	[NL_UNKNOWN_KEY] = "unknown_key",
	[NL_BAD_SIGNATURE] = "bad_signature",
	[NL_MISSING_EXP] = "missing_exp",
	[NL_EXPIRED] = "expired",
	[NL_NOT_YET_VALID] = "not_yet_valid",
	[NL_WRONG_ISSUER] = "wrong_issuer",
	[NL_WRONG_AUDIENCE] = "wrong_audience",
	[NL_USER_DEACTIVATED] = "user_deactivated",
	[NL_REVOKED] = "revoked",
	[NL_NO_KEYS] = "no_keys",
};
StaticAssertDecl(lengthof(result_names) == NL_NRESULTS,
				 "every result code has a name");

const char *
nl_result_name(NlResult r)
{
	if ((int) r < 0 || (int) r >= (int) lengthof(result_names))
		return "unknown";
	return result_names[r];
}

const NlAlgInfo *
nl_alg_by_name(const char *name, int len)
{
	for (int i = 0; i < nl_nalgs; i++)
		if ((int) strlen(nl_algs[i].name) == len &&
			memcmp(nl_algs[i].name, name, len) == 0)
			return &nl_algs[i];
	return NULL;
}

const NlAlgInfo *
nl_alg_info(NlAlg alg)
{
	for (int i = 0; i < nl_nalgs; i++)
		if (nl_algs[i].alg == alg)
			return &nl_algs[i];
	return NULL;
}

NlAlg
nl_alg_from_name(const char *name, int len)
{
	const NlAlgInfo *a = nl_alg_by_name(name, len);

	return a ? a->alg : NL_ALG_NONE;
}

const char *
nl_alg_name(NlAlg alg)
{
	const NlAlgInfo *a = nl_alg_info(alg);

	return a ? a->name : "none";
}

const NlAlgInfo *
nl_alg_by_curve(NlKty kty, const char *crv)
{
	for (int i = 0; i < nl_nalgs; i++)
		if (nl_algs[i].kty == kty && nl_algs[i].crv != NULL &&
			strcmp(nl_algs[i].crv, crv) == 0)
			return &nl_algs[i];
	return NULL;
}

const void *
nl_alg_md(const NlAlgInfo *alg)
{
	/* the built-in digests: no fetch, nothing to free */
	if (alg->md == NULL)
		return NULL;
	if (strcmp(alg->md, "SHA256") == 0)
		return EVP_sha256();
	if (strcmp(alg->md, "SHA384") == 0)
		return EVP_sha384();
	if (strcmp(alg->md, "SHA512") == 0)
		return EVP_sha512();
	return EVP_get_digestbyname(alg->md);
}

bool
nl_alg_setup_pkey_ctx(const NlAlgInfo *alg, void *ctx)
{
	EVP_PKEY_CTX *pctx = (EVP_PKEY_CTX *) ctx;

	if (alg->kty != NL_KTY_RSA)
		return true;
	if (alg->pss)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, nl_alg_md(alg)) == 1 &&
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
}

unsigned char *
nl_ecdsa_raw_to_der(const unsigned char *sig, int sig_len, int coord_len, int *der_len)
{
	ECDSA_SIG  *esig;
	BIGNUM	   *r;
	BIGNUM	   *s;
	unsigned char *der = NULL;
	int			len;

	if (coord_len <= 0 || sig_len != 2 * coord_len)
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

unsigned char *
nl_ecdsa_der_to_raw(const unsigned char *der, int der_len, int coord_len)
{
	const unsigned char *p = der;
	ECDSA_SIG  *esig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
	const BIGNUM *r,
			   *s;
	unsigned char *raw;

	if (esig == NULL)
		return NULL;
	ECDSA_SIG_get0(esig, &r, &s);
	raw = OPENSSL_malloc(2 * coord_len);
	if (raw == NULL ||
		BN_bn2binpad(r, raw, coord_len) != coord_len ||
		BN_bn2binpad(s, raw + coord_len, coord_len) != coord_len)
	{
		OPENSSL_free(raw);
		raw = NULL;
	}
	ECDSA_SIG_free(esig);
	return raw;
}
