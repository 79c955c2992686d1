/*
 * claims.c
 *		JSON checks for JWS headers and JWT payloads, and the claims rules
 *		(exp, nbf, iat, iss, aud, leeway).
 *
 * Everything here must be safe on hostile input and never raise: the text is
 * checked for UTF-8 and nesting depth before PostgreSQL's JSON parser sees it
 * (the parser recurses and would raise "stack depth limit exceeded"), parse
 * errors come back as codes, and numbers are range-checked before anything
 * converts them.  Only a payload that passed these checks is turned into
 * jsonb, and jsonb_in cannot fail on it.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "ops/ops.h"

#include <math.h>

#include "common/int.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

/* deeper JSON is refused; NiceLogin's tokens nest two or three levels */
#define NL_MAX_JSON_DEPTH 32
/* a JSON number longer than this, or with a larger exponent, is refused */
#define NL_MAX_NUMBER_LEN 64
#define NL_MAX_EXPONENT 400

/*
 * PostgreSQL 16 made the JSON parser's semantic actions return a
 * JsonParseErrorType (JSON_SUCCESS: go on); up to 15 they return void.
 */
#if PG_VERSION_NUM >= 160000
#define NL_JSON_ACTION JsonParseErrorType
#define NL_JSON_CONTINUE return JSON_SUCCESS
#else
#define NL_JSON_ACTION void
#define NL_JSON_CONTINUE return
#endif

/* seconds since 1970 that fit in timestamptz */
#define NL_MIN_UNIX_TIME (-210866803200.0)	/* 4714-11-24 BC */
#define NL_MAX_UNIX_TIME (9224318016000.0)	/* 294277-01-01 */

/*
 * Cheap checks before parsing: valid UTF-8 without NUL, an object at the top,
 * nesting no deeper than NL_MAX_JSON_DEPTH.  Brackets inside strings are
 * skipped; whatever else is wrong is left to the parser.
 */
static bool
json_prescan(const char *buf, int len)
{
	int			depth = 0;
	bool		in_string = false;
	int			i = 0;

	if (!pg_verify_mbstr(PG_UTF8, buf, len, true))
		return false;
	/* in another server encoding, only ASCII passes through unchanged */
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
	{
		for (int j = 0; j < len; j++)
			if (IS_HIGHBIT_SET(buf[j]))
				return false;
	}

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i >= len || buf[i] != '{')
		return false;

	for (; i < len; i++)
	{
		char		c = buf[i];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > NL_MAX_JSON_DEPTH)
				return false;
		}
		else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

typedef enum WalkMode
{
	WALK_CHECK,					/* structure only */
	WALK_HEADER,
	WALK_CLAIMS,
	WALK_FIND					/* one top-level string member, any case */
} WalkMode;

typedef struct WalkState
{
	WalkMode	mode;
	int			depth;
	List	   *names[NL_MAX_JSON_DEPTH + 2];	/* member names per open object */
	char	   *top_field;		/* member of the top object being parsed */
	bool		in_aud;			/* inside the top-level "aud" array */
	bool		bad;			/* duplicate name or unusable number */
	NlHeader   *hdr;
	NlClaims   *claims;
	const char *find_name;
	char	   *found;
	int			find_matches;	/* members of that name, in any case */
} WalkState;

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* True when an object's member names are all distinct. */
static bool
names_distinct(List *names)
{
	int			n = list_length(names);
	char	  **arr;
	int			i = 0;
	ListCell   *lc;
	bool		ok = true;

	if (n < 2)
		return true;
	arr = palloc(sizeof(char *) * n);
	foreach(lc, names)
		arr[i++] = lfirst(lc);
	qsort(arr, n, sizeof(char *), cmp_names);
	for (i = 1; i < n && ok; i++)
		if (strcmp(arr[i - 1], arr[i]) == 0)
			ok = false;
	pfree(arr);
	return ok;
}

static bool
is_registered_claim(const char *f)
{
	return strcmp(f, "exp") == 0 || strcmp(f, "nbf") == 0 || strcmp(f, "iat") == 0 ||
		strcmp(f, "iss") == 0 || strcmp(f, "sub") == 0 || strcmp(f, "jti") == 0 ||
		strcmp(f, "aud") == 0;
}

/* A nested value (object or array) is starting at the current depth. */
static void
composite_start(WalkState *st, bool is_array)
{
	if (st->depth == 1 && st->top_field != NULL)
	{
		if (st->mode == WALK_HEADER &&
			(strcmp(st->top_field, "alg") == 0 || strcmp(st->top_field, "kid") == 0 ||
			 strcmp(st->top_field, "b64") == 0))
			st->hdr->bad_types = true;
		if (st->mode == WALK_CLAIMS && is_registered_claim(st->top_field))
		{
			if (is_array && strcmp(st->top_field, "aud") == 0)
			{
				st->in_aud = true;
				st->claims->has_aud = true;
			}
			else
				st->claims->bad_types = true;
		}
	}
	else if (st->in_aud)
		st->claims->bad_types = true;	/* aud holds strings only */
}

static NL_JSON_ACTION
walk_object_start(void *state)
{
	WalkState  *st = state;

	composite_start(st, false);
	st->depth++;
	if (st->depth <= NL_MAX_JSON_DEPTH + 1)
		st->names[st->depth] = NIL;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
walk_object_end(void *state)
{
	WalkState  *st = state;

	/* a long token (up to nicelogin.max_token_length) is many elements */
	CHECK_FOR_INTERRUPTS();
	if (st->depth <= NL_MAX_JSON_DEPTH + 1)
	{
		if (!names_distinct(st->names[st->depth]))
			st->bad = true;
		list_free(st->names[st->depth]);
		st->names[st->depth] = NIL;
	}
	st->depth--;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
walk_array_start(void *state)
{
	WalkState  *st = state;

	composite_start(st, true);
	st->depth++;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
walk_array_end(void *state)
{
	WalkState  *st = state;

	st->depth--;
	if (st->depth == 1)
		st->in_aud = false;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
walk_field_start(void *state, char *fname, bool isnull)
{
	WalkState  *st = state;

	CHECK_FOR_INTERRUPTS();
	if (st->depth <= NL_MAX_JSON_DEPTH + 1)
		st->names[st->depth] = lappend(st->names[st->depth], fname);
	if (st->depth == 1)
	{
		st->top_field = fname;
		if (st->mode == WALK_HEADER && strcmp(fname, "crit") == 0)
			st->hdr->has_crit = true;
	}
	NL_JSON_CONTINUE;
}

/* Is this JSON number one that jsonb and our conversions take without error? */
static bool
number_ok(const char *token)
{
	int			len = strlen(token);
	const char *e;

	if (len > NL_MAX_NUMBER_LEN)
		return false;
	e = strpbrk(token, "eE");
	if (e != NULL)
	{
		long		exponent = strtol(e + 1, NULL, 10);

		if (exponent > NL_MAX_EXPONENT || exponent < -NL_MAX_EXPONENT)
			return false;
	}
	return true;
}

/* Converts a JSON number to seconds since 1970; false when out of range. */
static bool
number_to_time(const char *token, double *out)
{
	double		v = strtod(token, NULL);

	if (!isfinite(v) || v < NL_MIN_UNIX_TIME || v >= NL_MAX_UNIX_TIME)
		return false;
	*out = v;
	return true;
}

static void
header_scalar(WalkState *st, const char *f, char *token, JsonTokenType type)
{
	NlHeader   *hdr = st->hdr;

	if (strcmp(f, "alg") == 0)
	{
		hdr->has_alg = true;
		if (type == JSON_TOKEN_STRING)
			hdr->alg = token;
		else
			hdr->bad_types = true;
	}
	else if (strcmp(f, "kid") == 0)
	{
		hdr->has_kid = true;
		if (type == JSON_TOKEN_STRING)
			hdr->kid = token;
		else
			hdr->bad_types = true;
	}
	else if (strcmp(f, "b64") == 0)
	{
		if (type == JSON_TOKEN_FALSE)
			hdr->b64_false = true;
		else if (type != JSON_TOKEN_TRUE)
			hdr->bad_types = true;
	}
}

static void
claims_scalar(WalkState *st, const char *f, char *token, JsonTokenType type)
{
	NlClaims   *c = st->claims;
	bool		is_string = (type == JSON_TOKEN_STRING);

	if (strcmp(f, "exp") == 0 || strcmp(f, "nbf") == 0 || strcmp(f, "iat") == 0)
	{
		double		v;

		if (type != JSON_TOKEN_NUMBER || !number_to_time(token, &v))
		{
			c->bad_types = true;
			return;
		}
		if (f[0] == 'e')
		{
			c->exp = v;
			c->has_exp = true;
		}
		else if (f[0] == 'n')
		{
			c->nbf = v;
			c->has_nbf = true;
		}
		else
		{
			c->iat = v;
			c->has_iat = true;
		}
	}
	else if (strcmp(f, "aud") == 0)
	{
		c->has_aud = true;
		if (is_string)
			c->aud = lappend(c->aud, token);
		else
			c->bad_types = true;
	}
	else if (strcmp(f, "iss") == 0 || strcmp(f, "sub") == 0 || strcmp(f, "jti") == 0)
	{
		if (!is_string)
			c->bad_types = true;
		else if (f[0] == 'i')
			c->iss = token;
		else if (f[0] == 's')
			c->sub = token;
		else
			c->jti = token;
	}
	/* private claims of NiceLogin: a value of another type counts as absent */
	else if (is_string && strcmp(f, "company_id") == 0)
		c->company_id = token;
	else if (is_string && strcmp(f, "email") == 0)
		c->email = token;
	else if (is_string && strcmp(f, "sid") == 0)
		c->sid = token;
}

static NL_JSON_ACTION
walk_scalar(void *state, char *token, JsonTokenType type)
{
	WalkState  *st = state;

	CHECK_FOR_INTERRUPTS();
	if (type == JSON_TOKEN_NUMBER && !number_ok(token))
	{
		st->bad = true;
		NL_JSON_CONTINUE;
	}
	if (st->depth == 1 && st->top_field != NULL)
	{
		if (st->mode == WALK_HEADER)
			header_scalar(st, st->top_field, token, type);
		else if (st->mode == WALK_CLAIMS)
			claims_scalar(st, st->top_field, token, type);
		else if (st->mode == WALK_FIND &&
				 pg_strcasecmp(st->top_field, st->find_name) == 0)
		{
			st->find_matches++;
			if (type == JSON_TOKEN_STRING)
				st->found = token;
		}
	}
	else if (st->in_aud && st->depth == 2)
	{
		if (type == JSON_TOKEN_STRING)
			st->claims->aud = lappend(st->claims->aud, token);
		else
			st->claims->bad_types = true;
	}
	NL_JSON_CONTINUE;
}

/* Runs the checks and, by mode, collects header or claims members. */
static bool
json_walk(const char *buf, int len, WalkState *stp)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	WalkState	st = *stp;
	JsonParseErrorType rc;

	if (!json_prescan(buf, len))
		return false;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = walk_object_start;
	sem.object_end = walk_object_end;
	sem.array_start = walk_array_start;
	sem.array_end = walk_array_end;
	sem.object_field_start = walk_field_start;
	sem.scalar = walk_scalar;

	/* with escapes decoded: \u0000 and bad surrogates come back as errors */
#if PG_VERSION_NUM >= 170000
	/* 17 added a first argument: a context to fill, or NULL to allocate one */
	lex = makeJsonLexContextCstringLen(NULL, buf, len, GetDatabaseEncoding(), true);
#else
	lex = makeJsonLexContextCstringLen((char *) buf, len, GetDatabaseEncoding(), true);
#endif
	rc = pg_parse_json(lex, &sem);
	*stp = st;
	return rc == JSON_SUCCESS && !st.bad;
}

bool
nl_json_object_ok(const char *buf, int len)
{
	WalkState	st = {.mode = WALK_CHECK};

	return json_walk(buf, len, &st);
}

bool
nl_header_parse(const char *buf, int len, NlHeader *hdr)
{
	WalkState	st = {.mode = WALK_HEADER, .hdr = hdr};

	memset(hdr, 0, sizeof(NlHeader));
	if (!json_walk(buf, len, &st))
		return false;
	return !hdr->bad_types;
}

bool
nl_claims_parse(const char *buf, int len, NlClaims *claims)
{
	WalkState	st = {.mode = WALK_CLAIMS, .claims = claims};

	memset(claims, 0, sizeof(NlClaims));
	if (!json_walk(buf, len, &st))
		return false;
	return !claims->bad_types;
}

char *
nl_json_find_string(const char *buf, int len, const char *name)
{
	WalkState	st = {.mode = WALK_FIND, .find_name = name};

	if (!json_walk(buf, len, &st))
		return NULL;
	/*
	 * Two members that differ only in case ("authorization" and
	 * "Authorization"): SQL's ->> would read one and we another, so take
	 * neither.
	 */
	if (st.find_matches != 1)
		return NULL;
	return st.found;
}

/*
 * Seconds since 1970 -> TimestampTz.  The caller checked the range
 * (NL_MIN_UNIX_TIME <= secs < NL_MAX_UNIX_TIME, that is timestamptz's); the
 * clamp only keeps a rounding at the ends from casting a double that does
 * not fit in int64, which C leaves undefined.
 */
TimestampTz
nl_unix_to_timestamptz(double secs)
{
	double		usecs = (secs - ((double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY))
		* USECS_PER_SEC;

	if (!(usecs < (double) END_TIMESTAMP))
		return END_TIMESTAMP;
	if (!(usecs > (double) MIN_TIMESTAMP))
		return MIN_TIMESTAMP;
	return (TimestampTz) usecs;
}

/*
 * t + delta for times, saturating instead of wrapping: an overflow gives
 * DT_NOEND / DT_NOBEGIN (PG_INT64_MAX / PG_INT64_MIN, timestamptz's
 * 'infinity' and '-infinity'), which compare right with every finite time.
 * So exp + leeway past the end of the range means "never expires", not a
 * date in 4714 BC.
 */
static inline TimestampTz
time_add(TimestampTz t, int64 delta)
{
	TimestampTz r;

	if (pg_add_s64_overflow(t, delta, &r))
		return delta > 0 ? DT_NOEND : DT_NOBEGIN;
	return r;
}

/* nicelogin.leeway in microseconds: at most INT_MAX * 10^6, far below 2^63 */
static inline int64
leeway_usecs(void)
{
	return (int64) nl_leeway * USECS_PER_SEC;
}

NlResult
nl_claims_check(const NlClaims *claims, TimestampTz now)
{
	int64		leeway = leeway_usecs();

	if (!claims->has_exp)
	{
		if (nl_require_exp)
			return NL_MISSING_EXP;
	}
	else if (now >= time_add(nl_unix_to_timestamptz(claims->exp), leeway))
		return NL_EXPIRED;

	if (claims->has_nbf && time_add(now, leeway) < nl_unix_to_timestamptz(claims->nbf))
		return NL_NOT_YET_VALID;

	if (nl_issuer != NULL && nl_issuer[0] != '\0')
	{
		if (claims->iss == NULL || strcmp(claims->iss, nl_issuer) != 0)
			return NL_WRONG_ISSUER;
	}

	if (nl_audience != NULL && nl_audience[0] != '\0')
	{
		ListCell   *lc;
		bool		found = false;

		foreach(lc, claims->aud)
		{
			if (strcmp((char *) lfirst(lc), nl_audience) == 0)
			{
				found = true;
				break;
			}
		}
		if (!found)
			return NL_WRONG_AUDIENCE;
	}
	return NL_VALID;
}

TimestampTz
nl_exp_deadline(const NlClaims *claims)
{
	return time_add(nl_unix_to_timestamptz(claims->exp), leeway_usecs());
}

TimestampTz
nl_nbf_time(const NlClaims *claims)
{
	return nl_unix_to_timestamptz(claims->nbf);
}

/* The nbf rule of nl_claims_check(), for a verdict kept in a cache. */
bool
nl_nbf_pending(TimestampTz nbf, TimestampTz now)
{
	return time_add(now, leeway_usecs()) < nbf;
}

Jsonb *
nl_json_to_jsonb(const char *buf, int len)
{
	char	   *copy = pnstrdup(buf, len);

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(copy)));
}
