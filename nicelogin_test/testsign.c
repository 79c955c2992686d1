/*
 * testsign.c
 *		The nicelogin_test extension: private keys and signed tokens for
 *		testing row-level security policies, in test and CI databases only.
 *
 * Built into a library of its own, nicelogin_test.so, which only this
 * extension's functions load: a production database, where nicelogin_test
 * is never created, holds no signing code.  It links the JOSE core's
 * base64url, JSON tree and algorithm table (src/jose/: one description per
 * algorithm, the same as nicelogin verifies with) and nothing of
 * nicelogin's verification; the tokens it makes are checked by nicelogin
 * itself, through SQL.
 *
 * Private keys live in the caller's memory and, after use_test_key(), in
 * this backend's memory (a copy, wiped when it goes); never in a table.  The
 * session's test key follows the transactions that set it: a rolled back
 * use_test_key() (or savepoint) restores the previous test key, just as the
 * key set it stored is rolled back.
 *
 * Unlike nicelogin, this extension raises on bad input: it is a test tool.
 */
#include "compat.h"
#include "extension.h"
#include "jose/jose.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(nicelogin_test_generate_key);
PG_FUNCTION_INFO_V1(nicelogin_test_sign);
PG_FUNCTION_INFO_V1(nicelogin_test_public_jwk);
PG_FUNCTION_INFO_V1(nicelogin_test_use_test_key);
PG_FUNCTION_INFO_V1(nicelogin_test_authenticate_as);

/* RSA keys made by generate_key(): the verifier's minimum */
#define TEST_RSA_BITS 2048
/* lifetime authenticate_as() gives a token without exp */
#define TEST_TOKEN_SECONDS 3600

/*
 * The algorithms are the JOSE core's table (nl_algs, src/jose/alg.c): the
 * same rows nicelogin verifies with.
 */
typedef NlAlgInfo TestAlg;

/* "RS256, RS384, ..." for messages: every row of the table */
static const char *
alg_list(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < nl_nalgs; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", nl_algs[i].name);
	return buf.data;
}

/*
 * OpenSSL objects of one call.  Registered with a reset callback on the
 * calling memory context, so an ERROR anywhere frees them; a normal return
 * frees them with ossl_release() at once.
 */
#define MAX_BN 8
typedef struct Ossl
{
	EVP_PKEY   *pkey;
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mdctx;
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params;
	unsigned char *raw;			/* OPENSSL_malloc'd */
	BIGNUM	   *bn[MAX_BN];
} Ossl;

static void
ossl_release(void *arg)
{
	Ossl	   *o = (Ossl *) arg;

	EVP_PKEY_free(o->pkey);
	EVP_PKEY_CTX_free(o->pctx);
	EVP_MD_CTX_free(o->mdctx);
	OSSL_PARAM_free(o->params);
	OSSL_PARAM_BLD_free(o->bld);
	OPENSSL_free(o->raw);
	for (int i = 0; i < MAX_BN; i++)
		BN_clear_free(o->bn[i]);
	memset(o, 0, sizeof(Ossl));
}

static Ossl *
ossl_new(void)
{
	Ossl	   *o = palloc0(sizeof(Ossl));
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	cb->func = ossl_release;
	cb->arg = o;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return o;
}

/* The first line of OpenSSL's error queue (emptied), for a detail. */
static char *
openssl_detail(void)
{
	unsigned long e = ERR_get_error();
	char		buf[256];

	ERR_clear_error();
	if (e == 0)
		return pstrdup("OpenSSL gave no reason.");
	ERR_error_string_n(e, buf, sizeof(buf));
	return psprintf("OpenSSL: %s.", buf);
}

nl_noreturn static void openssl_fail(const char *what);

static void
openssl_fail(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("could not %s", what),
			 errdetail_internal("%s", openssl_detail())));
}

static const TestAlg *
find_alg(const char *name)
{
	const TestAlg *alg = nl_alg_by_name(name, strlen(name));

	if (alg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"%s\" is not supported", name),
				 errdetail("nicelogin verifies %s.", alg_list())));
	return alg;
}

/* ---------------------------------------------------------------- JSON */

/*
 * A jsonb object as the JOSE core's JSON tree, freed with the calling
 * memory context (nothing in it is an OpenSSL object).
 */
static NlJson *
json_tree(Jsonb *obj)
{
	char	   *text = JsonbToCString(NULL, &obj->root, VARSIZE(obj));
	NlJson	   *tree = nl_json_parse(text, strlen(text));

	if (tree == NULL)
		elog(ERROR, "could not read a jsonb value back");
	return tree;
}

/* A string member as a C string; NULL when absent or null, an ERROR when not a string. */
static const char *
string_member(const NlJson *obj, const char *name, const char *what)
{
	const NlJson *v = nl_json_member(obj, name);
	bool		ok = true;
	const char *s;

	if (v == NULL || v->type == NL_JSON_NULL)
		return NULL;
	s = nl_json_member_string(obj, name, &ok);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member \"%s\" of the %s is not a string", name, what)));
	return s;
}

/* A base64url member of a private JWK, decoded; an ERROR when absent or bad. */
static unsigned char *
b64_member(const NlJson *jwk, const char *name, int *len)
{
	unsigned char *out;

	if (string_member(jwk, name, "private JWK") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK has no member \"%s\"", name),
				 errhint("Make keys with nicelogin_test.generate_key().")));
	*len = nl_json_member_b64(jwk, name, &out, MaxAllocSize / 4);
	if (*len <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member \"%s\" of the private JWK is not a non-empty base64url string", name)));
	return out;
}

static void
push_string(NlJsonbState *ps, const char *key, const char *val, int len)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvString;
	v.val.string.val = (char *) val;
	v.val.string.len = len < 0 ? (int) strlen(val) : len;
	pushJsonbValue(ps, WJB_KEY, &k);
	pushJsonbValue(ps, WJB_VALUE, &v);
}

static void
push_b64(NlJsonbState *ps, const char *key, const unsigned char *bytes, int len)
{
	StringInfoData buf;

	/* the parse state keeps pointing at buf until the value is built */
	initStringInfo(&buf);
	nl_b64url_encode(bytes, len, &buf);
	push_string(ps, key, buf.data, buf.len);
}

static void
push_number(NlJsonbState *ps, const char *key, int64 val)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(val);
	pushJsonbValue(ps, WJB_KEY, &k);
	pushJsonbValue(ps, WJB_VALUE, &v);
}

/*
 * Pushes the members of obj (a JSON object) into ps; with skip_null, a
 * member whose value is null is left out.
 */
static void
push_members(NlJsonbState *ps, Jsonb *obj, bool skip_null)
{
	JsonbIterator *it = JsonbIteratorInit(&obj->root);
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &k, true);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_END_OBJECT)
	{
		CHECK_FOR_INTERRUPTS();
		Assert(tok == WJB_KEY);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (skip_null && v.type == jbvNull)
			continue;
		pushJsonbValue(ps, WJB_KEY, &k);
		pushJsonbValue(ps, WJB_VALUE, &v);
	}
}

/* Has the jsonb object (a header or claims being built on) this member? */
static bool
has_member(Jsonb *obj, const char *name)
{
	return obj != NULL &&
		getKeyJsonValueFromContainer(&obj->root, name, strlen(name), NULL) != NULL;
}

static void
require_object(Jsonb *j, const char *what)
{
	if (!JB_ROOT_IS_OBJECT(j) || JB_ROOT_IS_SCALAR(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not a JSON object", what)));
}

/* ---------------------------------------------------------------- keys */

/* A private key, ready to sign. */
typedef struct TestKey
{
	const TestAlg *alg;
	char	   *kid;			/* NULL when the JWK has none */
	Ossl	   *o;				/* o->pkey, for asymmetric keys */
	unsigned char *secret;		/* HMAC keys */
	int			secret_len;
} TestKey;

static void
push_bn(NlJsonbState *ps, const char *key, const BIGNUM *bn, int pad)
{
	int			len = pad > 0 ? pad : BN_num_bytes(bn);
	unsigned char *bytes = palloc(Max(len, 1));

	if (BN_bn2binpad(bn, bytes, len) != len)
		elog(ERROR, "could not encode a big number");
	push_b64(ps, key, bytes, len);
	explicit_bzero(bytes, len);
	pfree(bytes);
}

/* A BIGNUM parameter of o->pkey, kept in o->bn[slot]. */
static const BIGNUM *
get_bn(Ossl *o, const char *param, int slot)
{
	if (!EVP_PKEY_get_bn_param(o->pkey, param, &o->bn[slot]))
		openssl_fail("read a parameter of the new key");
	return o->bn[slot];
}

/* Builds the key pair o->pkey from o->params; false when OpenSSL refuses them. */
static bool
keypair_fromdata(Ossl *o, const char *type)
{
	o->pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (o->pctx == NULL || EVP_PKEY_fromdata_init(o->pctx) <= 0 ||
		EVP_PKEY_fromdata(o->pctx, &o->pkey, EVP_PKEY_KEYPAIR, o->params) <= 0)
		return false;
	EVP_PKEY_CTX_free(o->pctx);
	/* OpenSSL's own check: for RSA the factors, for EC the pair */
	o->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, o->pkey, NULL);
	if (o->pctx == NULL || EVP_PKEY_check(o->pctx) != 1)
		return false;
	EVP_PKEY_CTX_free(o->pctx);
	o->pctx = NULL;
	return true;
}

nl_noreturn static void bad_key(const char *detail);

static void
bad_key(const char *detail)
{
	char	   *ossl = openssl_detail();

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("private JWK is not a usable private key"),
			 errdetail("%s %s", detail, ossl)));
}

static void
load_rsa(const NlJson *jwk, TestKey *key)
{
	static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
	static const char *const params[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1
	};
	unsigned char *bytes[8];
	int			lens[8];
	const int	nparams = 8;
	Ossl	   *o = key->o;

	if (nl_json_member(jwk, "oth") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("RSA keys with more than two primes (member \"oth\") are not supported")));
	/* all eight members, as every JWK library writes them (RFC 7518 6.3.2) */
	for (int i = 0; i < nparams; i++)
		bytes[i] = b64_member(jwk, names[i], &lens[i]);

	/* no palloc (nor ERROR) below until the key is built: o holds it all */
	o->bld = OSSL_PARAM_BLD_new();
	if (o->bld == NULL)
		openssl_fail("build an RSA key");
	for (int i = 0; i < nparams; i++)
	{
		o->bn[i] = BN_bin2bn(bytes[i], lens[i], NULL);
		if (o->bn[i] == NULL || !OSSL_PARAM_BLD_push_BN(o->bld, params[i], o->bn[i]))
			openssl_fail("build an RSA key");
	}
	o->params = OSSL_PARAM_BLD_to_param(o->bld);
	if (o->params == NULL || !keypair_fromdata(o, "RSA"))
		bad_key("OpenSSL refused the RSA key (n, e, d, p, q, dp, dq, qi do not fit together).");
	for (int i = 0; i < nparams; i++)
		explicit_bzero(bytes[i], lens[i]);
}

static void
load_ec(const NlJson *jwk, TestKey *key)
{
	const TestAlg *alg = key->alg;
	int			size = alg->sig_size / 2;	/* of a coordinate */
	int			x_len,
				y_len,
				d_len;
	unsigned char *x = b64_member(jwk, "x", &x_len);
	unsigned char *y = b64_member(jwk, "y", &y_len);
	unsigned char *d = b64_member(jwk, "d", &d_len);
	unsigned char *point;
	Ossl	   *o = key->o;

	if (x_len != size || y_len != size || d_len != size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK is not a usable private key"),
				 errdetail("Members \"x\", \"y\" and \"d\" of a %s key must be %d bytes long.",
						   alg->crv, size)));
	point = palloc(1 + 2 * size);
	point[0] = 0x04;			/* uncompressed */
	memcpy(point + 1, x, size);
	memcpy(point + 1 + size, y, size);

	o->bld = OSSL_PARAM_BLD_new();
	o->bn[0] = BN_bin2bn(d, d_len, NULL);
	if (o->bld == NULL || o->bn[0] == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(o->bld, OSSL_PKEY_PARAM_GROUP_NAME, alg->group, 0) ||
		!OSSL_PARAM_BLD_push_octet_string(o->bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) ||
		!OSSL_PARAM_BLD_push_BN(o->bld, OSSL_PKEY_PARAM_PRIV_KEY, o->bn[0]))
		openssl_fail("build an EC key");
	o->params = OSSL_PARAM_BLD_to_param(o->bld);
	if (o->params == NULL || !keypair_fromdata(o, "EC"))
		bad_key(psprintf("OpenSSL refused the %s key (is (x, y) the public point of d?).", alg->crv));
	explicit_bzero(d, d_len);
}

static void
load_ed25519(const NlJson *jwk, TestKey *key)
{
	int			d_len,
				x_len;
	unsigned char *d = b64_member(jwk, "d", &d_len);
	unsigned char *x = nl_json_member(jwk, "x") ? b64_member(jwk, "x", &x_len) : NULL;
	unsigned char pub[32];
	size_t		pub_len = sizeof(pub);

	if (d_len != 32 || (x != NULL && x_len != 32))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK is not a usable private key"),
				 errdetail("Members \"x\" and \"d\" of an Ed25519 key must be 32 bytes long.")));
	key->o->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, d_len);
	explicit_bzero(d, d_len);
	if (key->o->pkey == NULL)
		bad_key("OpenSSL refused the Ed25519 key.");
	if (!EVP_PKEY_get_raw_public_key(key->o->pkey, pub, &pub_len))
		openssl_fail("derive the Ed25519 public key");
	if (x != NULL && memcmp(pub, x, 32) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK is not a usable private key"),
				 errdetail("Member \"x\" is not the public key of \"d\".")));
}

/*
 * Reads a private JWK.  The algorithm is its "alg" member; without one, an
 * EC key's curve or an OKP key names it, while an RSA or oct key, usable
 * with several, must say.
 */
static void
load_key(Jsonb *jsonb, TestKey *key)
{
	NlJson	   *jwk;
	const char *kty;
	const char *crv;
	const char *alg;

	require_object(jsonb, "private JWK");
	jwk = json_tree(jsonb);
	memset(key, 0, sizeof(TestKey));
	key->o = ossl_new();
	key->kid = (char *) string_member(jwk, "kid", "private JWK");
	kty = string_member(jwk, "kty", "private JWK");
	crv = string_member(jwk, "crv", "private JWK");
	alg = string_member(jwk, "alg", "private JWK");
	if (kty == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK has no member \"kty\"")));
	if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0 &&
		strcmp(kty, "OKP") != 0 && strcmp(kty, "oct") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key type \"%s\" is not supported", kty),
				 errdetail("Key types are RSA, EC, OKP (Ed25519) and oct.")));

	if (alg != NULL)
		key->alg = find_alg(alg);
	else if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0)
	{
		if (crv == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("private JWK has no member \"crv\"")));
		for (int i = 0; i < nl_nalgs; i++)
			if (nl_algs[i].crv != NULL && strcmp(nl_algs[i].crv, crv) == 0)
				key->alg = &nl_algs[i];
		if (key->alg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("curve \"%s\" is not supported", crv),
					 errdetail("Curves are P-256, P-384, P-521 (EC) and Ed25519 (OKP).")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("private JWK has no member \"alg\""),
				 errdetail("A key of type %s can sign with several algorithms; the key must name one.", kty),
				 errhint("Add one, e.g. private_jwk || '{\"alg\": \"%s\"}'.",
						 strcmp(kty, "RSA") == 0 ? "RS256" : "HS256")));

	switch (key->alg->kty)
	{
		case NL_KTY_RSA:
			if (strcmp(kty, "RSA") == 0)
			{
				load_rsa(jwk, key);
				return;
			}
			break;
		case NL_KTY_EC:
			if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, key->alg->crv) == 0)
			{
				load_ec(jwk, key);
				return;
			}
			break;
		case NL_KTY_OKP:
			if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, key->alg->crv) == 0)
			{
				load_ed25519(jwk, key);
				return;
			}
			break;
		case NL_KTY_OCT:
			if (strcmp(kty, "oct") == 0)
			{
				key->secret = b64_member(jwk, "k", &key->secret_len);
				return;
			}
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("algorithm %s does not fit a key of type %s%s%s",
					key->alg->name, kty, crv ? " on curve " : "", crv ? crv : "")));
}

/*
 * Members of the public half of an asymmetric key: the JWK's own (RFC 7517)
 * and the public parameters of RFC 7518 (n, e; crv, x, y) and RFC 8037.
 * Anything else, private or unknown ("k" on an EC key, say), is left out.
 */
static const char *const public_members[] = {"kty", "kid", "alg", "use", "n", "e", "crv", "x", "y"};

static bool
is_public_member(const JsonbValue *k)
{
	for (int i = 0; i < (int) lengthof(public_members); i++)
		if (k->val.string.len == (int) strlen(public_members[i]) &&
			memcmp(k->val.string.val, public_members[i], k->val.string.len) == 0)
			return true;
	return false;
}

/*
 * The public half of a private JWK: the members public_members names (for an
 * HMAC key, every member but key_ops: the verifier needs k itself).
 */
static Jsonb *
public_jwk(Jsonb *jwk, const TestKey *key)
{
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	JsonbIterator *it = JsonbIteratorInit(&jwk->root);
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_END_OBJECT)
	{
		bool		skip = false;

		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(&it, &v, true);
		/* an HMAC key has no public half: the verifier needs k itself */
		if (key->alg->kty != NL_KTY_OCT && !is_public_member(&k))
			skip = true;
		/* "sign" in key_ops means "verify" for the public half; use says it */
		if (k.val.string.len == 7 && memcmp(k.val.string.val, "key_ops", 7) == 0)
			skip = true;
		if (!skip)
		{
			pushJsonbValue(&ps, WJB_KEY, &k);
			pushJsonbValue(&ps, WJB_VALUE, &v);
		}
	}
	if (!has_member(jwk, "alg"))
		push_string(&ps, "alg", key->alg->name, -1);
	return JsonbValueToJsonb(nl_jsonb_finish(&ps, WJB_END_OBJECT));
}

/* ---------------------------------------------------------------- signing */

/* Appends the signature of input (base64url) to out. */
static void
sign_input(const TestKey *key, const char *input, int input_len, StringInfo out)
{
	const TestAlg *alg = key->alg;
	Ossl	   *o = key->o;
	unsigned char *sig;
	size_t		sig_len = 0;

	if (alg->kty == NL_KTY_OCT)
	{
		unsigned char mac[EVP_MAX_MD_SIZE];

		if (EVP_Q_mac(NULL, "HMAC", NULL, alg->md, NULL, key->secret, key->secret_len,
					  (const unsigned char *) input, input_len, mac, sizeof(mac), &sig_len) == NULL)
			openssl_fail("compute the HMAC");
		nl_b64url_encode(mac, (int) sig_len, out);
		return;
	}

	o->mdctx = EVP_MD_CTX_new();
	if (o->mdctx == NULL ||
		EVP_DigestSignInit_ex(o->mdctx, &o->pctx, alg->md, NULL, NULL, o->pkey, NULL) <= 0)
		openssl_fail("start signing");
	/* o->pctx belongs to o->mdctx from here; RSA's padding as nicelogin verifies it */
	if (!nl_alg_setup_pkey_ctx(alg, o->pctx))
	{
		o->pctx = NULL;
		openssl_fail(alg->pss ? "set up RSA-PSS" : "set up RSA padding");
	}
	o->pctx = NULL;
	if (EVP_DigestSign(o->mdctx, NULL, &sig_len, (const unsigned char *) input, input_len) <= 0)
		openssl_fail("sign");
	sig = palloc(sig_len);
	if (EVP_DigestSign(o->mdctx, sig, &sig_len, (const unsigned char *) input, input_len) <= 0)
		openssl_fail("sign");

	if (alg->kty == NL_KTY_EC)
	{
		/* DER from OpenSSL; JWS wants r || s (alg->sig_size bytes) */
		o->raw = nl_ecdsa_der_to_raw(sig, (int) sig_len, alg->sig_size / 2);
		if (o->raw == NULL)
			openssl_fail("convert the ECDSA signature");
		nl_b64url_encode(o->raw, alg->sig_size, out);
	}
	else
		nl_b64url_encode(sig, (int) sig_len, out);
}

/*
 * A compact JWS of claims (any JSON) with key.  The header is
 * {"alg": key's, "typ": "JWT", "kid": key's (when it has one)} with the
 * members of extra_header over it; a member set to null there is left out.
 * The key's algorithm signs whatever the header says, except that a header
 * "alg" of "none" (any case) gives an empty signature, as RFC 7515's
 * unsecured JWS has.
 */
static text *
make_token(Jsonb *claims, const TestKey *key, Jsonb *extra_header)
{
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	Jsonb	   *header;
	char	   *header_text;
	char	   *payload_text;
	const char *alg;
	StringInfoData buf;

	if (extra_header != NULL)
		require_object(extra_header, "header");
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	if (!has_member(extra_header, "alg"))
		push_string(&ps, "alg", key->alg->name, -1);
	if (!has_member(extra_header, "typ"))
		push_string(&ps, "typ", "JWT", -1);
	if (key->kid != NULL && !has_member(extra_header, "kid"))
		push_string(&ps, "kid", key->kid, -1);
	if (extra_header != NULL)
		push_members(&ps, extra_header, true);
	header = JsonbValueToJsonb(nl_jsonb_finish(&ps, WJB_END_OBJECT));

	header_text = JsonbToCString(NULL, &header->root, VARSIZE(header));
	payload_text = JsonbToCString(NULL, &claims->root, VARSIZE(claims));
	initStringInfo(&buf);
	nl_b64url_encode((unsigned char *) header_text, strlen(header_text), &buf);
	appendStringInfoChar(&buf, '.');
	nl_b64url_encode((unsigned char *) payload_text, strlen(payload_text), &buf);

	alg = string_member(json_tree(header), "alg", "header");
	if (alg == NULL || pg_strcasecmp(alg, "none") != 0)
	{
		int			input_len = buf.len;

		appendStringInfoChar(&buf, '.');
		sign_input(key, buf.data, input_len, &buf);
	}
	else
		appendStringInfoChar(&buf, '.');
	ossl_release(key->o);
	return cstring_to_text_with_len(buf.data, buf.len);
}

/* ---------------------------------------------------------------- the session's test key */

/*
 * A stack of test keys, newest first.  The committed one (if any) has subid
 * InvalidSubTransactionId; keys set in the open transaction carry the
 * subtransaction that set them, and go with it when it aborts.
 */
typedef struct SessionKey
{
	Jsonb	   *jwk;			/* the private JWK, in TopMemoryContext */
	SubTransactionId subid;
	struct SessionKey *next;
} SessionKey;

static SessionKey *session_keys = NULL;

static void
session_key_free(SessionKey *sk)
{
	explicit_bzero(sk->jwk, VARSIZE(sk->jwk));
	pfree(sk->jwk);
	pfree(sk);
}

static void
session_key_push(Jsonb *jwk)
{
	SessionKey *sk = MemoryContextAlloc(TopMemoryContext, sizeof(SessionKey));

	sk->jwk = MemoryContextAlloc(TopMemoryContext, VARSIZE(jwk));
	memcpy(sk->jwk, jwk, VARSIZE(jwk));
	sk->subid = GetCurrentSubTransactionId();
	sk->next = session_keys;
	session_keys = sk;
}

static void
session_key_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* the newest key is the session's; older ones go */
			if (session_keys != NULL)
			{
				while (session_keys->next != NULL)
				{
					SessionKey *old = session_keys->next;

					session_keys->next = old->next;
					session_key_free(old);
				}
				session_keys->subid = InvalidSubTransactionId;
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			while (session_keys != NULL && session_keys->subid != InvalidSubTransactionId)
			{
				SessionKey *gone = session_keys;

				session_keys = gone->next;
				session_key_free(gone);
			}
			break;
		default:
			break;
	}
}

static void
session_key_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (session_keys != NULL && session_keys->subid == mySubid)
		{
			SessionKey *gone = session_keys;

			session_keys = gone->next;
			session_key_free(gone);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (SessionKey *sk = session_keys; sk != NULL; sk = sk->next)
			if (sk->subid == mySubid)
				sk->subid = parentSubid;
	}
}

void
_PG_init(void)
{
	RegisterXactCallback(session_key_xact_callback, NULL);
	RegisterSubXactCallback(session_key_subxact_callback, NULL);
}

/* ---------------------------------------------------------------- SQL functions */

/* generate_key(alg text, kid text DEFAULT NULL) returns jsonb */
Datum
nicelogin_test_generate_key(PG_FUNCTION_ARGS)
{
	const TestAlg *alg;
	Ossl	   *o;
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	JsonbValue *res;
	char	   *kid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("alg must not be null"),
				 errdetail("Algorithms are %s.", alg_list())));
	alg = find_alg(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	if (!PG_ARGISNULL(1))
		kid = text_to_cstring(PG_GETARG_TEXT_PP(1));
	else
	{
		unsigned char rnd[12];
		StringInfoData buf;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			openssl_fail("make a random kid");
		initStringInfo(&buf);
		appendStringInfoString(&buf, "test-");
		nl_b64url_encode(rnd, sizeof(rnd), &buf);
		kid = buf.data;
	}

	o = ossl_new();
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	push_string(&ps, "alg", alg->name, -1);
	push_string(&ps, "kid", kid, -1);
	push_string(&ps, "use", "sig", -1);
	switch (alg->kty)
	{
		case NL_KTY_RSA:
			o->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) TEST_RSA_BITS);
			if (o->pkey == NULL)
				openssl_fail("generate an RSA key");
			push_string(&ps, "kty", "RSA", -1);
			push_bn(&ps, "n", get_bn(o, OSSL_PKEY_PARAM_RSA_N, 0), 0);
			push_bn(&ps, "e", get_bn(o, OSSL_PKEY_PARAM_RSA_E, 1), 0);
			push_bn(&ps, "d", get_bn(o, OSSL_PKEY_PARAM_RSA_D, 2), 0);
			push_bn(&ps, "p", get_bn(o, OSSL_PKEY_PARAM_RSA_FACTOR1, 3), 0);
			push_bn(&ps, "q", get_bn(o, OSSL_PKEY_PARAM_RSA_FACTOR2, 4), 0);
			push_bn(&ps, "dp", get_bn(o, OSSL_PKEY_PARAM_RSA_EXPONENT1, 5), 0);
			push_bn(&ps, "dq", get_bn(o, OSSL_PKEY_PARAM_RSA_EXPONENT2, 6), 0);
			push_bn(&ps, "qi", get_bn(o, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 7), 0);
			break;
		case NL_KTY_EC:
			o->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg->group);
			if (o->pkey == NULL)
				openssl_fail("generate an EC key");
			push_string(&ps, "kty", "EC", -1);
			push_string(&ps, "crv", alg->crv, -1);
			push_bn(&ps, "x", get_bn(o, OSSL_PKEY_PARAM_EC_PUB_X, 0), alg->sig_size / 2);
			push_bn(&ps, "y", get_bn(o, OSSL_PKEY_PARAM_EC_PUB_Y, 1), alg->sig_size / 2);
			push_bn(&ps, "d", get_bn(o, OSSL_PKEY_PARAM_PRIV_KEY, 2), alg->sig_size / 2);
			break;
		case NL_KTY_OKP:
			{
				unsigned char pub[32];
				unsigned char priv[32];
				size_t		pub_len = sizeof(pub);
				size_t		priv_len = sizeof(priv);

				o->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
				if (o->pkey == NULL ||
					!EVP_PKEY_get_raw_public_key(o->pkey, pub, &pub_len) ||
					!EVP_PKEY_get_raw_private_key(o->pkey, priv, &priv_len))
					openssl_fail("generate an Ed25519 key");
				push_string(&ps, "kty", "OKP", -1);
				push_string(&ps, "crv", "Ed25519", -1);
				push_b64(&ps, "x", pub, (int) pub_len);
				push_b64(&ps, "d", priv, (int) priv_len);
				explicit_bzero(priv, sizeof(priv));
			}
			break;
		case NL_KTY_OCT:
			{
				unsigned char k[64];

				/* as long as the hash, as RFC 7518 section 3.2 asks */
				if (RAND_bytes(k, alg->min_key_bytes) != 1)
					openssl_fail("make a random HMAC key");
				push_string(&ps, "kty", "oct", -1);
				push_b64(&ps, "k", k, alg->min_key_bytes);
				explicit_bzero(k, sizeof(k));
			}
			break;
	}
	res = nl_jsonb_finish(&ps, WJB_END_OBJECT);
	ossl_release(o);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* sign(claims jsonb, private_jwk jsonb, header jsonb DEFAULT NULL) returns text */
Datum
nicelogin_test_sign(PG_FUNCTION_ARGS)
{
	TestKey		key;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "claims" : "private_jwk")));
	load_key(PG_GETARG_JSONB_P(1), &key);
	PG_RETURN_TEXT_P(make_token(PG_GETARG_JSONB_P(0), &key,
								PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2)));
}

/* public_jwk(private_jwk jsonb) returns jsonb */
Datum
nicelogin_test_public_jwk(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwk = PG_GETARG_JSONB_P(0);
	TestKey		key;
	Jsonb	   *pub;

	load_key(jwk, &key);
	pub = public_jwk(jwk, &key);
	ossl_release(key.o);
	PG_RETURN_JSONB_P(pub);
}

/*
 * use_test_key(private_jwk jsonb) returns jsonb: stores the public half as
 * nicelogin's key set (through nicelogin_set_jwks(), so in the caller's
 * transaction and with its privileges) and keeps the private JWK as this
 * session's test key.  Runs with search_path pinned (the SQL definition).
 */
Datum
nicelogin_test_use_test_key(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwk = PG_GETARG_JSONB_P(0);
	TestKey		key;
	Jsonb	   *pub;
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	JsonbValue	k,
				v;
	Jsonb	   *jwks;
	Oid			argtypes[1] = {JSONBOID};
	NlExtension ext;
	Oid			set_jwks;
	int			save_nestlevel;

	load_key(jwk, &key);
	pub = public_jwk(jwk, &key);
	ossl_release(key.o);

	/* {"keys": [pub]} */
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = "keys";
	k.val.string.len = 4;
	pushJsonbValue(&ps, WJB_KEY, &k);
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	v.type = jbvBinary;
	v.val.binary.data = &pub->root;
	v.val.binary.len = VARSIZE(pub) - VARHDRSZ;
	pushJsonbValue(&ps, WJB_ELEM, &v);
	pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	jwks = JsonbValueToJsonb(nl_jsonb_finish(&ps, WJB_END_OBJECT));

	/*
	 * nicelogin's own nicelogin_set_jwks(jsonb), a member of the extension
	 * found in its schema, called by OID: no SQL text, so the key set (an
	 * HMAC key's k) is never a constant of a plan that auto_explain logs.
	 */
	nl_extension_get(&ext);
	set_jwks = nl_member_function(&ext, "nicelogin_set_jwks", 1, argtypes, "1.0");
	save_nestlevel = nl_pin_search_path();
	(void) OidFunctionCall1(set_jwks, JsonbPGetDatum(jwks));
	nl_unpin_search_path(save_nestlevel);

	session_key_push(jwk);
	PG_RETURN_JSONB_P(pub);
}

/*
 * authenticate_as(claims jsonb) returns text: signs claims with the
 * session's test key, adding iat (now) and exp (an hour ahead), and iss and
 * aud from nicelogin.issuer and nicelogin.audience when those are set,
 * unless the claims have them; sets nicelogin.token to the token for the
 * current transaction and returns it.  NULL claims: nicelogin.token is set
 * to '' (no token) for the transaction, and NULL is returned.
 */
Datum
nicelogin_test_authenticate_as(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims;
	TestKey		key;
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	int64		now;
	const char *iss;
	const char *aud;
	text	   *token;

	if (PG_ARGISNULL(0))
	{
		DirectFunctionCall3(set_config_by_name,
							CStringGetTextDatum("nicelogin.token"),
							CStringGetTextDatum(""), BoolGetDatum(true));
		PG_RETURN_NULL();
	}
	claims = PG_GETARG_JSONB_P(0);
	require_object(claims, "claims");
	if (session_keys == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this session has no test key"),
				 errdetail("The test key lives in the memory of the session that called use_test_key(), until that session ends; a rolled back use_test_key() is undone."),
				 errhint("Call SELECT nicelogin_test.use_test_key(nicelogin_test.generate_key('ES256')); first, in this session.")));

	now = (int64) (GetCurrentTimestamp() / USECS_PER_SEC) +
		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	iss = GetConfigOption("nicelogin.issuer", true, false);
	aud = GetConfigOption("nicelogin.audience", true, false);
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	if (!has_member(claims, "iat"))
		push_number(&ps, "iat", now);
	if (!has_member(claims, "exp"))
		push_number(&ps, "exp", now + TEST_TOKEN_SECONDS);
	if (iss != NULL && iss[0] != '\0' && !has_member(claims, "iss"))
		push_string(&ps, "iss", iss, -1);
	if (aud != NULL && aud[0] != '\0' && !has_member(claims, "aud"))
		push_string(&ps, "aud", aud, -1);
	push_members(&ps, claims, false);
	claims = JsonbValueToJsonb(nl_jsonb_finish(&ps, WJB_END_OBJECT));

	load_key(session_keys->jwk, &key);
	token = make_token(claims, &key, NULL);
	DirectFunctionCall3(set_config_by_name,
						CStringGetTextDatum("nicelogin.token"),
						PointerGetDatum(token), BoolGetDatum(true));
	PG_RETURN_TEXT_P(token);
}
