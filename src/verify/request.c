/*
 * request.c
 *		The request's token and its verified claims, for row-level security:
 *		nicelogin_token(), nicelogin_claims(), nicelogin_user_id(),
 *		nicelogin_company_id(), nicelogin_email().
 *
 * A policy calls these once per row, so the answer is kept until something
 * it depends on changes: the nicelogin.token setting and PostgREST's
 * request.headers (their assign hooks bump generation counters: the per-row
 * path never looks at the header text, whatever its size), or what
 * nl_stamp_check() looks at (the keys, the verification settings, the
 * deactivated users and revocations); and the clock passing the token's exp
 * or nbf is checked on every call (nl_time_check).  The token itself
 * (nicelogin_token()) is kept the same way.  The per-row path is a few
 * comparisons.
 *
 * request.headers counts only when its value comes from the session (SET,
 * SET LOCAL, set_config(), as PostgREST sets it): a value from ALTER
 * DATABASE / ALTER ROLE ... SET, the server configuration or the connection
 * options is ignored (no token), so that nobody but the request gives a
 * session an identity.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(nicelogin_token);
PG_FUNCTION_INFO_V1(nicelogin_request_claims);
PG_FUNCTION_INFO_V1(nicelogin_user_id);
PG_FUNCTION_INFO_V1(nicelogin_company_id);
PG_FUNCTION_INFO_V1(nicelogin_email);

typedef struct RequestState
{
	bool		known;			/* the fields below describe the current token */
	uint64		token_generation;
	uint64		headers_generation;
	/*
	 * The answer for the request's token (claims and email in req_cxt, when
	 * valid); its stamp was taken before verifying.
	 */
	NlVerified	answer;
	bool		valid;			/* the answer at the statement's time */
} RequestState;

static RequestState req;
static MemoryContext req_cxt = NULL;

/* Whitespace around a token: space, tab, CR, LF (a pasted header, a line read with its end). */
static inline bool
token_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whitespace and "Bearer " allowed around a token beyond nicelogin.max_token_length */
#define NL_TOKEN_SLACK 1024

/*
 * The one normalisation of a token handed in by a client, for
 * nicelogin.token, the authorization header of request.headers and the
 * argument of the verification functions: surrounding whitespace (spaces,
 * tabs, CR, LF) is dropped, then a leading "Bearer" (in any case) followed by
 * one or more spaces or tabs, when what follows holds no whitespace.
 * Nothing looser: internal whitespace, two tokens, "Bearer Bearer x",
 * "Basic ...", "Bearer" with no space or a bare "Bearer " are left as they
 * are and verify as malformed (a compact JWS holds no whitespace).  So the
 * normalisation is idempotent: nicelogin_check(nicelogin_token()) gives the
 * helpers' verdict.  Returns the start of the token inside value and sets
 * *outlen; *bearer (may be NULL) tells whether the value starts with the
 * Bearer scheme.  Never raises, never copies.
 */
const char *
nl_token_normalize(const char *value, int len, int *outlen, bool *bearer)
{
	const char *p = value;
	const char *end = value + len;
	bool		scheme = false;

	/*
	 * Input longer than a token can be plus NL_TOKEN_SLACK of whitespace and
	 * prefix is returned whole, unscanned: it is too_long either way, and
	 * neither megabytes of spaces nor the scan of them are paid for on every
	 * call (nicelogin_token() in a policy normalises once per row).
	 */
	if ((int64) len > (int64) nl_max_token_length + NL_TOKEN_SLACK)
	{
		if (bearer)
			*bearer = true;		/* a header: refused as too_long, not ignored */
		*outlen = len;
		return value;
	}

	while (p < end && token_space(*p))
		p++;
	while (end > p && token_space(end[-1]))
		end--;
	if (end - p > 6 && pg_strncasecmp(p, "bearer", 6) == 0 &&
		(p[6] == ' ' || p[6] == '\t'))
	{
		const char *q = p + 6;
		const char *r;

		scheme = true;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		/* a token over the limit is too_long whatever its prefix: no scan */
		if (end - q <= nl_max_token_length)
		{
			for (r = q; r < end && !token_space(*r); r++)
				;
			if (r == end)
				p = q;
		}
	}
	if (bearer)
		*bearer = scheme;
	*outlen = (int) (end - p);
	return p;
}

/*
 * The bearer token of an Authorization header value, normalised, or NULL
 * when the header is not a Bearer credential (another scheme, no scheme,
 * "Bearer" alone).  A Bearer credential that is not one token ("Bearer a
 * b") is returned whole, so that it is refused as malformed rather than
 * taken for no token.
 */
static char *
bearer_token(const char *value)
{
	bool		bearer;
	int			len;
	const char *token = nl_token_normalize(value, strlen(value), &len, &bearer);

	if (!bearer)
		return NULL;
	return pnstrdup(token, len);
}

/*
 * Room for the headers other than the token's in request.headers; longer
 * headers are ignored (no token), as any role can set that setting and it is
 * parsed on every change.
 */
#define NL_MAX_OTHER_HEADERS_LEN (64 * 1024)

/*
 * The GUC record of request.headers, found once (nicelogin defines it in
 * _PG_init, so the record stays where it is).
 */
static struct config_generic *
headers_guc(void)
{
	static struct config_generic *rec = NULL;

	if (rec == NULL)
	{
		rec = nl_find_setting_record("request.headers");
		if (rec == NULL || rec->vartype != PGC_STRING)
			elog(ERROR, "request.headers is not defined");
	}
	return rec;
}

/*
 * Did the current value of request.headers come from the session (SET, SET
 * LOCAL, set_config(), a function's SET clause, or the connection's options,
 * chosen by the same client that could SET it a moment later)?  Not from
 * ALTER DATABASE / ALTER ROLE ... SET or the server configuration: those
 * would give every session that sets no header an identity.  The same rule
 * as nicelogin.token's check hook (nicelogin.c), with one difference: that
 * hook also refuses a function's SET clause when the function is created,
 * where request.headers (PostgREST's setting, which nicelogin only reads) is
 * left alone; such a clause acts like a set_config() in the function's body,
 * and its owner must hold the genuine token it names.
 */
static inline bool
headers_from_session(void)
{
	GucSource	source = headers_guc()->source;

	return source == PGC_S_SESSION || source == PGC_S_CLIENT;
}

/*
 * PostgREST's request.headers setting, or NULL when unset, empty, not set by
 * the session, or longer than nicelogin.max_token_length plus
 * NL_MAX_OTHER_HEADERS_LEN.
 */
static const char *
request_headers(void)
{
	const char *h = nl_request_headers;
	size_t		max_len = (size_t) nl_max_token_length + NL_MAX_OTHER_HEADERS_LEN;

	if (h == NULL || h[0] == '\0' || !headers_from_session())
		return NULL;
	if (strnlen(h, max_len + 1) > max_len)
		return NULL;
	return h;
}

/*
 * The request's token: nicelogin.token when set and not empty, else the
 * bearer token of request.headers' authorization header, normalised by
 * nl_token_normalize() either way (a whitespace-only nicelogin.token gives
 * '', which verifies as malformed: it does not fall back to the headers).
 * Never raises.
 */
static char *
current_token(void)
{
	const char *headers;
	char	   *auth;

	if (nl_token != NULL && nl_token[0] != '\0')
	{
		int			len;
		const char *token = nl_token_normalize(nl_token, strlen(nl_token), &len, NULL);

		return pnstrdup(token, len);
	}
	headers = request_headers();
	if (headers == NULL)
		return NULL;
	auth = nl_json_find_string(headers, strlen(headers), "authorization");
	return auth ? bearer_token(auth) : NULL;
}

/*
 * The request's token, remembered until nicelogin.token or request.headers
 * is assigned (their assign hooks bump the generations; the same text set
 * again, or another text of the same length, counts as a change), a
 * verification setting changes (nicelogin.max_token_length decides what is
 * read), or the source of request.headers changes: a 70 kB header is
 * parsed once, not at every call.
 */
static struct
{
	bool		known;
	uint64		token_generation;
	uint64		headers_generation;
	uint64		policy_generation;
	bool		from_session;
	char	   *token;			/* in token_cxt; NULL: no token */
}			token_memo;
static MemoryContext token_cxt = NULL;

const char *
nl_request_token(void)
{
	bool		from_session = headers_from_session();
	MemoryContext oldcxt;

	if (token_memo.known &&
		token_memo.token_generation == nl_token_generation &&
		token_memo.headers_generation == nl_headers_generation &&
		token_memo.policy_generation == nl_policy_generation &&
		token_memo.from_session == from_session)
		return token_memo.token;

	if (token_cxt == NULL)
		token_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin request token",
										  ALLOCSET_SMALL_SIZES);
	token_memo.known = false;
	MemoryContextReset(token_cxt);
	oldcxt = MemoryContextSwitchTo(token_cxt);
	token_memo.token = current_token();
	MemoryContextSwitchTo(oldcxt);
	token_memo.token_generation = nl_token_generation;
	token_memo.headers_generation = nl_headers_generation;
	token_memo.policy_generation = nl_policy_generation;
	token_memo.from_session = from_session;
	token_memo.known = true;
	return token_memo.token;
}

/* Is the remembered answer still the answer (nl_stamp_check)? */
static inline bool
request_state_current(void)
{
	return req.known &&
		req.token_generation == nl_token_generation &&
		req.headers_generation == nl_headers_generation &&
		nl_stamp_check(&req.answer.stamp) == NL_CURRENT;
}

/* Verifies the request's token if need be, and returns the answer. */
static const RequestState *
current_request(FunctionCallInfo fcinfo)
{
	const char *token;
	NlStamp		stamp;

	/* pending invalidations are resolved first (the generations may move) */
	nl_accept_invalidations();
	(void) nl_keycache_get();
	if (!request_state_current())
	{
		if (req_cxt == NULL)
			req_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin request",
											ALLOCSET_SMALL_SIZES);
		MemoryContextReset(req_cxt);
		memset(&req, 0, sizeof(req));

		token = nl_request_token();

		/*
		 * What the answer depends on, taken before verifying: a change seen
		 * meanwhile (loading the keys or the lists may process invalidations)
		 * leaves it behind, so the next call verifies again.
		 */
		req.token_generation = nl_token_generation;
		req.headers_generation = nl_headers_generation;
		nl_stamp_take(&stamp);

		req.answer.result = NL_MALFORMED;	/* no token: no identity */
		if (token != NULL)
		{
			const NlVerified *v = nl_verify_token(token, strlen(token));

			req.answer = *v;
			req.answer.claims = NULL;
			req.answer.email = NULL;
			if (v->result == NL_VALID)
			{
				req.answer.claims = MemoryContextAlloc(req_cxt, VARSIZE(v->claims));
				memcpy(req.answer.claims, v->claims, VARSIZE(v->claims));
				if (v->email)
					req.answer.email = MemoryContextStrdup(req_cxt, v->email);
			}
		}
		req.answer.stamp = stamp;
		req.known = true;
	}
	/* the one "valid at now?" check of every remembered verdict */
	req.valid = nl_time_check(&req.answer, GetCurrentStatementStartTimestamp()) == NL_VALID;
	return &req;
}


Datum
nicelogin_token(PG_FUNCTION_ARGS)
{
	const char *token = nl_request_token();

	if (token == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(token));
}

Datum
nicelogin_request_claims(PG_FUNCTION_ARGS)
{
	const RequestState *r = current_request(fcinfo);
	Jsonb	   *copy;

	if (!r->valid)
		PG_RETURN_NULL();
	copy = palloc(VARSIZE(r->answer.claims));
	memcpy(copy, r->answer.claims, VARSIZE(r->answer.claims));
	PG_RETURN_JSONB_P(copy);
}

static Datum
return_uuid(const pg_uuid_t *u)
{
	pg_uuid_t  *copy = palloc(sizeof(pg_uuid_t));

	memcpy(copy, u, sizeof(pg_uuid_t));
	return UUIDPGetDatum(copy);
}

Datum
nicelogin_user_id(PG_FUNCTION_ARGS)
{
	const RequestState *r = current_request(fcinfo);

	if (!r->valid || !r->answer.has_sub_uuid)
		PG_RETURN_NULL();
	return return_uuid(&r->answer.sub_uuid);
}

Datum
nicelogin_company_id(PG_FUNCTION_ARGS)
{
	const RequestState *r = current_request(fcinfo);

	if (!r->valid || !r->answer.has_company_uuid)
		PG_RETURN_NULL();
	return return_uuid(&r->answer.company_uuid);
}

Datum
nicelogin_email(PG_FUNCTION_ARGS)
{
	const RequestState *r = current_request(fcinfo);

	if (!r->valid || r->answer.email == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(r->answer.email));
}
