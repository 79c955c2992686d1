/*
 * verify.c
 *		One verification end to end, and the SQL functions that expose it:
 *		nicelogin_verify, nicelogin_claims, nicelogin_check and
 *		nicelogin_jws_verify.
 *
 * All of them map the same result, so they can never disagree, and none
 * raises for a bad token.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "ops/ops.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(nicelogin_verify);
PG_FUNCTION_INFO_V1(nicelogin_check);
PG_FUNCTION_INFO_V1(nicelogin_claims);
PG_FUNCTION_INFO_V1(nicelogin_jws_verify);

static MemoryContext verify_cxt = NULL;
static NlVerified scratch;
/* the last full verification's token, decoded once (in verify_cxt) */
static NlToken decoded;

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses a uuid in its canonical 8-4-4-4-12 form (any case) without raising;
 * anything else is not a uuid for our purposes.
 */
bool
nl_parse_uuid(const char *s, pg_uuid_t *out)
{
	int			j = 0;

	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		int			hi,
					lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->data[j++] = (unsigned char) ((hi << 4) | lo);
		i++;
	}
	return true;
}

/* The time tokens are checked against: the statement's start, as STABLE asks. */
static inline TimestampTz
verification_time(void)
{
	return GetCurrentStatementStartTimestamp();
}

/*
 * One verification without the token cache, straight through: the token is
 * split and decoded once (nl_token_decode), its signature checked
 * (nl_jws_verify), its claims parsed once and checked (nl_token_claims,
 * nl_claims_check), and with check_lists the deactivated users and
 * revocations looked up.  The result lives in a static scratch area (claims
 * in the caller's memory context); *tokp is the decoded token, for the
 * failure log, valid until the next call.
 */
static const NlVerified *
verify_uncached(const char *token, int len, TimestampTz now,
				bool check_lists, const NlToken **tokp)
{
	const NlPolicy *policy = nl_policy();
	const NlKeySet *keys;
	MemoryContext callercxt;
	NlClaims   *claims = &decoded.claims;
	NlResult	r;

	memset(&scratch, 0, sizeof(scratch));
	keys = nl_keycache_get();
	/* before the lists lookup's snapshot: a change seen meanwhile makes it old */
	nl_stamp_take(&scratch.stamp);

	if (verify_cxt == NULL)
		verify_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin verification",
										   ALLOCSET_DEFAULT_SIZES);
	/* the previous token goes with the context */
	MemoryContextReset(verify_cxt);
	callercxt = MemoryContextSwitchTo(verify_cxt);

	r = nl_token_decode(token, len, policy, &decoded);
	if (r == NL_VALID)
		r = nl_jws_verify(&decoded, keys);
	/*
	 * A kid that is not stored, or no usable key at all (the table is empty,
	 * or its keys break the rules): maybe NiceLogin rotated its key, so ask
	 * the worker for a refresh.  Without any key, say so rather than blame
	 * the token's kid: the cause is the key table.
	 */
	if (r == NL_UNKNOWN_KEY && (decoded.kid_not_stored || keys->nkeys == 0))
	{
		nl_stats_count(NL_STATS_REFRESH_REQUEST);
		nl_worker_request_refresh();
	}
	if (r == NL_UNKNOWN_KEY && keys->nkeys == 0)
		r = NL_NO_KEYS;
	if (r == NL_VALID && !nl_token_claims(&decoded))
		r = NL_MALFORMED;
	if (r == NL_VALID)
		r = nl_claims_check(claims, policy, now);

	MemoryContextSwitchTo(callercxt);
	if (r == NL_VALID)
	{
		scratch.genuine = true;
		scratch.claims = nl_json_to_jsonb(decoded.payload_json, decoded.payload_len);
		scratch.email = claims->email ? pstrdup(claims->email) : NULL;
		scratch.has_exp = claims->has_exp;
		if (claims->has_exp)
			scratch.exp_deadline = nl_exp_deadline(claims, policy);
		scratch.has_nbf = claims->has_nbf;
		if (claims->has_nbf)
			scratch.nbf = nl_nbf_time(claims);
		scratch.has_sub_uuid = nl_parse_uuid(claims->sub, &scratch.sub_uuid);
		scratch.has_company_uuid = nl_parse_uuid(claims->company_id, &scratch.company_uuid);
		if (check_lists)
			r = nl_lists_check(scratch.has_sub_uuid ? &scratch.sub_uuid : NULL,
							   claims->jti, claims->sid);
	}
	scratch.result = r;
	if (tokp)
		*tokp = &decoded;
	return &scratch;
}

/* The answer for a token over nicelogin.max_token_length, refused before decoding. */
static const NlVerified *
too_long(void)
{
	memset(&scratch, 0, sizeof(scratch));
	scratch.result = NL_TOO_LONG;
	return &scratch;
}

/* A string claim of verified claims, or NULL. */
static char *
string_claim(Jsonb *claims, const char *name)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&claims->root, name, strlen(name), NULL);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * A kept genuine token whose deactivation and revocation answer is older
 * than the last change to those tables (nl_stamp_check): look it up again,
 * with a fresh stamp and a fresh snapshot; its signature is not checked
 * again.  The same at both levels of the cache.
 */
static void
recheck_lists(NlVerified *v)
{
	nl_stamp_take(&v->stamp);
	v->result = nl_lists_check(v->has_sub_uuid ? &v->sub_uuid : NULL,
							   string_claim(v->claims, "jti"),
							   string_claim(v->claims, "sid"));
}

void
nl_stamp_take(NlStamp *stamp)
{
	stamp->key_generation = nl_keycache_generation();
	stamp->policy_generation = nl_policy_generation;
	stamp->lists_generation = nl_lists_generation();
	/* last, with a barrier: before any snapshot taken afterwards */
	nl_sharedcache_tag(&stamp->shared_epoch, &stamp->shared_seq);
}

/*
 * The keys and the settings decide the signature and claims verdict: when
 * either changed, the answer is outdated.  The lists decide only the rest:
 * when they changed (this backend's lists generation moved, or a committed
 * change moved the database's shared epoch, or, where readers move the
 * epoch, the answer was made before this backend's first shared lookup),
 * the verdict stands and the lists are looked up again.  A shared entry's
 * generations are 0 (its context digest matched instead): not compared.
 */
NlCurrency
nl_stamp_check(const NlStamp *made)
{
	uint64		epoch;
	uint64		min_seq;

	if (nl_stamp_outdated(made))
		return NL_OUTDATED;
	if (made->lists_generation != 0 && made->lists_generation != nl_lists_generation())
		return NL_LISTS_OLD;
	nl_sharedcache_current(&epoch, &min_seq);
	if (made->shared_epoch != epoch || made->shared_seq < min_seq)
		return NL_LISTS_OLD;
	return NL_CURRENT;
}

NlResult
nl_time_check(const NlVerified *v, TimestampTz now)
{
	if (!v->genuine)
		return v->result;
	if (v->has_exp && now >= v->exp_deadline)
		return NL_EXPIRED;
	if (v->has_nbf && nl_nbf_pending(v->nbf, now, nl_policy()))
		return NL_NOT_YET_VALID;
	return v->result;
}

/*
 * A remembered verdict as it stands at now: a genuine token's verdict
 * (valid, revoked or user_deactivated, as made or as looked up again) gives
 * way to expired or not_yet_valid when the clock says so.  Every answer of
 * nl_verify_token() from a cache comes through here.
 */
static const NlVerified *
answer_at(const NlVerified *v, TimestampTz now)
{
	static NlVerified expired_result = {.result = NL_EXPIRED};
	static NlVerified not_yet_valid_result = {.result = NL_NOT_YET_VALID};
	NlResult	r = nl_time_check(v, now);

	if (r == v->result)
		return v;
	return r == NL_EXPIRED ? &expired_result : &not_yet_valid_result;
}

/*
 * A full verification's answer, counted, and logged when it is a refusal,
 * from the token as the verification decoded it (NULL: too long, not
 * decoded).
 */
static const NlVerified *
counted_verification(const NlVerified *v, const NlToken *tok, int len)
{
	nl_stats_answer(NL_STATS_VERIFIED, v->result);
	if (v->result != NL_VALID)
		nl_log_refusal(tok, len, v->result);
	return v;
}

/*
 * Every answer is counted by its source for nicelogin_stats (stats.c), and
 * a refusal by a full verification goes to nicelogin.log_failures
 * (faillog.c); refusals from a cache are not logged again.  A kept answer
 * whose lists are old (nl_stamp_check) is looked up in them again, at
 * either level, and every answer from a cache goes through answer_at() (exp
 * and nbf at now).  The token is hashed at most once per level.
 */
const NlVerified *
nl_verify_token(const char *token, int len)
{
	TimestampTz now = verification_time();
	NlVerified *cached;
	const NlVerified *v;
	const NlToken *tok = NULL;
	uint32		hash = 0;

	if (len > nl_max_token_length)
		return counted_verification(too_long(), NULL, len);

	/* first: a reload that finds other keys moves the generation the cache checks */
	nl_accept_invalidations();
	(void) nl_keycache_get();
	cached = nl_tokencache_lookup(token, len, &hash);
	if (cached)
	{
		if (cached->genuine && nl_stamp_check(&cached->stamp) != NL_CURRENT)
			recheck_lists(cached);
		v = answer_at(cached, now);
		nl_stats_answer(NL_STATS_CACHED, v->result);
		return v;
	}

	/* second level: what another backend verified (sharedcache.c) */
	if (nl_sharedcache_usable())
	{
		NlSharedKey key;
		NlStamp		before;

		/* first: every invalidation of the lists must be recognized here */
		nl_lists_prepare();
		nl_stamp_take(&before);
		if (nl_sharedcache_key(token, len, &key))
		{
			bool		lists_old;
			NlVerified *hit = nl_sharedcache_lookup(&key, now, &lists_old);

			if (hit)
			{
				if (lists_old)
				{
					/* the signature verdict stands: the lists again, for everyone */
					recheck_lists(hit);
					nl_sharedcache_refresh(&key, hit);
				}
				else
					hit->stamp = before;
				v = answer_at(nl_tokencache_insert(token, len, hash, hit), now);
				nl_stats_answer(NL_STATS_SHARED, v->result);
				return v;
			}
			v = verify_uncached(token, len, now, true, &tok);
			if (v->result == NL_VALID)
				nl_sharedcache_insert(&key, v, now);
			return counted_verification(nl_tokencache_insert(token, len, hash, v), tok, len);
		}
	}

	v = verify_uncached(token, len, now, true, &tok);
	return counted_verification(nl_tokencache_insert(token, len, hash, v), tok, len);
}

const NlVerified *
nl_verify_signed_token(const char *token, int len)
{
	if (len > nl_max_token_length)
		return too_long();
	return verify_uncached(token, len, verification_time(), false, NULL);
}

/*
 * The token argument, normalised as nicelogin.token and request.headers are
 * (nl_token_normalize: surrounding whitespace and a "Bearer " prefix go), so
 * that nicelogin_check(header value) and the helpers agree; the token cache
 * is keyed by the normalised token.
 */
static const char *
token_arg(FunctionCallInfo fcinfo, int *len)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	return nl_token_normalize(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), len, NULL);
}

static const NlVerified *
verify_arg(FunctionCallInfo fcinfo)
{
	int			len;
	const char *token = token_arg(fcinfo, &len);

	return nl_verify_token(token, len);
}

/* A copy of a jsonb in the caller's memory. */
static Jsonb *
copy_jsonb(const Jsonb *j)
{
	Jsonb	   *copy = palloc(VARSIZE(j));

	memcpy(copy, j, VARSIZE(j));
	return copy;
}

Datum
nicelogin_verify(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(verify_arg(fcinfo)->result == NL_VALID);
}

Datum
nicelogin_check(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(nl_result_name(verify_arg(fcinfo)->result)));
}

Datum
nicelogin_claims(PG_FUNCTION_ARGS)
{
	bool		verify = PG_GETARG_BOOL(1);

	if (verify)
	{
		const NlVerified *v = verify_arg(fcinfo);

		if (v->result != NL_VALID)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(copy_jsonb(v->claims));
	}
	else
	{
		/* decoding only: no signature, no claims rule; never for authorization */
		int			len;
		const char *token = token_arg(fcinfo, &len);
		char	   *payload;
		int			payload_len;

		if (len > nl_max_token_length)
			PG_RETURN_NULL();
		payload = nl_jws_unverified_payload(token, len, &payload_len);
		if (payload == NULL || !nl_json_object_ok(payload, payload_len))
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(nl_json_to_jsonb(payload, payload_len));
	}
}

/*
 * The signature layer alone, against a caller-supplied JWKS or JWK.  Private
 * members of the keys are ignored.  Never raises.
 */
Datum
nicelogin_jws_verify(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	Jsonb	   *jwks = PG_GETARG_JSONB_P(1);
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *emsg;
	char	   *edetail;
	NlKeySet   *keys;
	NlToken		tok;
	bool		ok;

	if (len > nl_max_token_length)
		PG_RETURN_BOOL(false);
	keys = nl_keyset_load_jsonb(jwks, CurrentMemoryContext, true, true, false, &emsg, &edetail);
	if (keys == NULL)
		PG_RETURN_BOOL(false);
	ok = nl_token_decode(VARDATA_ANY(t), len, nl_policy(), &tok) == NL_VALID &&
		nl_jws_verify(&tok, keys) == NL_VALID;
	nl_token_free(&tok);
	nl_keyset_unload(keys);
	PG_RETURN_BOOL(ok);
}
