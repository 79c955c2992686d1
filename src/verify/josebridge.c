/*
 * josebridge.c
 *		The JOSE core (src/jose/) in the server: key sets in memory contexts,
 *		the policy from the settings, and JSON text and JWKs as jsonb.  The
 *		core knows neither memory contexts, settings nor jsonb; this is where
 *		they meet it.
 */
#include "nicelogin.h"
#include "compat.h"
#include "jose/jose.h"
#include "verify/verify.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

const NlPolicy *
nl_policy(void)
{
	static NlPolicy policy;

	/* the settings as they are now: SET may change them between calls */
	policy.require_exp = nl_require_exp;
	policy.leeway = nl_leeway;
	policy.issuer = nl_issuer;
	policy.audience = nl_audience;
	policy.max_token_length = nl_max_token_length;
	return &policy;
}

/* Frees the OpenSSL objects of a key set when its memory context goes. */
static void
keyset_free_callback(void *arg)
{
	nl_keyset_free((NlKeySet *) arg);
}

NlKeySet *
nl_keyset_load(const char *json, MemoryContext parent, bool allow_single_jwk,
			   bool ignore_private, bool full_checks, char **errmsg, char **errdetail)
{
	MemoryContext cxt;
	MemoryContext oldcxt;
	MemoryContextCallback *cb;
	NlKeySet   *set;
	char	   *msg;
	char	   *detail;
	bool		ok;

	cxt = AllocSetContextCreate(parent, "nicelogin key set", ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	/* the set first: nl_keyset_unload() finds the context from it */
	set = palloc0(sizeof(NlKeySet));
	/* before any key is parsed: an error (a cancel) frees what is made */
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = keyset_free_callback;
	cb->arg = set;
	MemoryContextRegisterResetCallback(cxt, cb);
	ok = nl_keyset_parse(json, strlen(json), allow_single_jwk, ignore_private,
						 full_checks, set, &msg, &detail);
	MemoryContextSwitchTo(oldcxt);
	if (ok)
	{
		*errmsg = NULL;
		*errdetail = NULL;
		return set;
	}
	*errmsg = pstrdup(msg);
	*errdetail = detail ? pstrdup(detail) : NULL;
	MemoryContextDelete(cxt);
	return NULL;
}

NlKeySet *
nl_keyset_load_jsonb(Jsonb *jwks, MemoryContext parent, bool allow_single_jwk,
					 bool ignore_private, bool full_checks, char **errmsg, char **errdetail)
{
	char	   *text = JsonbToCString(NULL, &jwks->root, VARSIZE(jwks));
	NlKeySet   *set = nl_keyset_load(text, parent, allow_single_jwk, ignore_private,
									 full_checks, errmsg, errdetail);

	pfree(text);
	return set;
}

void
nl_keyset_unload(NlKeySet *set)
{
	MemoryContextDelete(GetMemoryChunkContext(set));
}

Jsonb *
nl_json_to_jsonb(const char *buf, int len)
{
	char	   *copy = pnstrdup(buf, len);

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(copy)));
}

/* A string member as a palloc'd C string; *ok = false when not a string. */
static char *
string_member(JsonbContainer *obj, const char *name, bool *ok)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(obj, name, strlen(name), &buf);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
	{
		*ok = false;
		return NULL;
	}
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * The members of a JWK that are public, by key type: what a verifier needs
 * and the key's description.  Anything else (a private member, a "k" on an
 * EC key, a member nicelogin does not know) is not handed on.
 */
static const char *const public_common[] = {"kty", "kid", "alg", "use", "key_ops"};
static const char *const public_rsa[] = {"n", "e"};
static const char *const public_ec[] = {"crv", "x", "y"};
static const char *const public_okp[] = {"crv", "x"};

static bool
name_in(const JsonbValue *name, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (name->val.string.len == (int) strlen(list[i]) &&
			memcmp(name->val.string.val, list[i], name->val.string.len) == 0)
			return true;
	return false;
}

/*
 * The public half of a stored JWK, for a verifier elsewhere (PostgREST): its
 * public members only.  NULL for a key that has no public half (an oct key:
 * its "k" is the secret itself), of an unknown type, not an object, or not
 * for signatures by its "use" (a verifier has no use for it, and one that
 * does not know the value may refuse the whole set).
 */
Jsonb *
nl_jwk_public(JsonbContainer *jwk)
{
	bool		ok = true;
	char	   *kty;
	char	   *use;
	const char *const *own;
	int			nown;
	NlJsonbState ps = NL_JSONB_STATE_INIT;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(jwk))
		return NULL;
	kty = string_member(jwk, "kty", &ok);
	if (!ok || kty == NULL)
		return NULL;
	if (strcmp(kty, "RSA") == 0)
	{
		own = public_rsa;
		nown = lengthof(public_rsa);
	}
	else if (strcmp(kty, "EC") == 0)
	{
		own = public_ec;
		nown = lengthof(public_ec);
	}
	else if (strcmp(kty, "OKP") == 0)
	{
		own = public_okp;
		nown = lengthof(public_okp);
	}
	else
		return NULL;
	use = string_member(jwk, "use", &ok);
	if (!ok || (use != NULL && strcmp(use, "sig") != 0))
		return NULL;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(jwk);
	tok = JsonbIteratorNext(&it, &k, true);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (name_in(&k, public_common, lengthof(public_common)) || name_in(&k, own, nown))
		{
			pushJsonbValue(&ps, WJB_KEY, &k);
			pushJsonbValue(&ps, WJB_VALUE, &v);
		}
	}
	return JsonbValueToJsonb(nl_jsonb_finish(&ps, WJB_END_OBJECT));
}
