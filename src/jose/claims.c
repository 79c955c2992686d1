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
 * jsonb (by the verification layer, nl_json_to_jsonb), and jsonb_in cannot
 * fail on it.  What a parse collects is palloc'd and freed by the
 * nl_*_free() functions; nothing else is left behind, in the server or out
 * of it.
 */
#include "jose/jose.h"

#include <math.h>

#include "common/int.h"

/* deeper JSON is refused; NiceLogin's tokens nest two or three levels */
#define NL_MAX_JSON_DEPTH 32
/* a JSON number longer than this, or with a larger exponent, is refused */
#define NL_MAX_NUMBER_LEN 64
#define NL_MAX_EXPONENT 400

/* seconds since 1970 that fit in timestamptz */
#define NL_MIN_UNIX_TIME (-210866803200.0)	/* 4714-11-24 BC */
#define NL_MAX_UNIX_TIME (9224318016000.0)	/* 294277-01-01 */

/*
 * Cheap checks before parsing a header or payload: valid UTF-8 without NUL,
 * an object at the top, nesting no deeper than NL_MAX_JSON_DEPTH.  Outside
 * UTF-8, nothing beyond ASCII, raw or escaped: the server's JSON lexer
 * converts a \u escape to the server encoding and raises when it cannot
 * (any such character in SQL_ASCII, most in LATIN1).
 */
static bool
json_prescan(const char *buf, int len)
{
	int			i = 0;
	bool		utf8 = nl_server_encoding() == PG_UTF8;

	if (pg_encoding_verifymbstr(PG_UTF8, buf, len) != len)
		return false;
	/* in another server encoding, only ASCII passes through unchanged */
	if (!utf8 && nl_server_encoding() != PG_SQL_ASCII)
	{
		for (int j = 0; j < len; j++)
			if (IS_HIGHBIT_SET(buf[j]))
				return false;
	}

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i >= len || buf[i] != '{')
		return false;
	return nl_json_scan(buf + i, len - i, NL_MAX_JSON_DEPTH, !utf8);
}

typedef enum WalkMode
{
	WALK_CHECK,					/* structure only */
	WALK_HEADER,
	WALK_CLAIMS,
	WALK_FIND					/* one top-level string member, any case */
} WalkMode;

/* member names of an open object (palloc'd, freed when it closes) */
typedef struct NameList
{
	char	  **names;
	int			n;
	int			cap;
} NameList;

typedef struct WalkState
{
	WalkMode	mode;
	int			depth;
	NameList	names[NL_MAX_JSON_DEPTH + 2];	/* member names per open object */
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

/* Appends p to a growing array of pointers. */
static void
push_ptr(char ***arr, int *n, int *cap, char *p)
{
	if (*n == *cap)
	{
		*cap = *cap == 0 ? 8 : *cap * 2;
		*arr = *arr == NULL ? palloc(sizeof(char *) * *cap) :
			repalloc(*arr, sizeof(char *) * *cap);
	}
	(*arr)[(*n)++] = p;
}

/* True when an object's member names are all distinct; sorts them. */
static bool
names_distinct(NameList *names)
{
	if (names->n < 2)
		return true;
	qsort(names->names, names->n, sizeof(char *), cmp_names);
	for (int i = 1; i < names->n; i++)
		if (strcmp(names->names[i - 1], names->names[i]) == 0)
			return false;
	return true;
}

/* Frees the names of an object and forgets them. */
static void
names_free(NameList *names)
{
	for (int i = 0; i < names->n; i++)
		pfree(names->names[i]);
	if (names->names)
		pfree(names->names);
	memset(names, 0, sizeof(NameList));
}

/* Keeps token in *slot (freeing what was there). */
static void
keep(char **slot, char *token)
{
	if (*slot)
		pfree(*slot);
	*slot = token;
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
				st->in_aud = true;
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
		memset(&st->names[st->depth], 0, sizeof(NameList));
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
		if (!names_distinct(&st->names[st->depth]))
			st->bad = true;
		names_free(&st->names[st->depth]);
	}
	if (st->depth == 1)
		st->top_field = NULL;
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
	{
		NameList   *nl = &st->names[st->depth];

		push_ptr(&nl->names, &nl->n, &nl->cap, fname);
	}
	else
	{
		/* cannot happen: json_prescan() bounds the depth */
		pfree(fname);
		NL_JSON_CONTINUE;
	}
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

/* Collects a header member; true when token is kept in the header. */
static bool
header_scalar(WalkState *st, const char *f, char *token, JsonTokenType type)
{
	NlHeader   *hdr = st->hdr;

	if (strcmp(f, "alg") == 0)
	{
		hdr->has_alg = true;
		if (type == JSON_TOKEN_STRING)
		{
			keep(&hdr->alg, token);
			return true;
		}
		hdr->bad_types = true;
	}
	else if (strcmp(f, "kid") == 0)
	{
		hdr->has_kid = true;
		if (type == JSON_TOKEN_STRING)
		{
			keep(&hdr->kid, token);
			return true;
		}
		hdr->bad_types = true;
	}
	else if (strcmp(f, "b64") == 0)
	{
		if (type == JSON_TOKEN_FALSE)
			hdr->b64_false = true;
		else if (type != JSON_TOKEN_TRUE)
			hdr->bad_types = true;
	}
	return false;
}

/* Collects a claim; true when token is kept in the claims. */
static bool
claims_scalar(WalkState *st, const char *f, char *token, JsonTokenType type)
{
	NlClaims   *c = st->claims;
	bool		is_string = (type == JSON_TOKEN_STRING);

	if (strcmp(f, "exp") == 0 || strcmp(f, "nbf") == 0 || strcmp(f, "iat") == 0)
	{
		double		v;

		if (type != JSON_TOKEN_NUMBER || !number_to_time(token, &v))
			c->bad_types = true;
		else if (f[0] == 'e')
		{
			c->exp = v;
			c->has_exp = true;
		}
		else if (f[0] == 'n')
		{
			c->nbf = v;
			c->has_nbf = true;
		}
		/* iat: checked for its type and range, not used */
		return false;
	}
	if (strcmp(f, "aud") == 0)
	{
		if (!is_string)
		{
			c->bad_types = true;
			return false;
		}
		push_ptr(&c->aud, &c->naud, &c->aud_cap, token);
		return true;
	}
	if (strcmp(f, "iss") == 0 || strcmp(f, "sub") == 0 || strcmp(f, "jti") == 0)
	{
		if (!is_string)
		{
			c->bad_types = true;
			return false;
		}
		keep(f[0] == 'i' ? &c->iss : f[0] == 's' ? &c->sub : &c->jti, token);
		return true;
	}
	/* private claims of NiceLogin: a value of another type counts as absent */
	if (!is_string)
		return false;
	if (strcmp(f, "company_id") == 0)
		keep(&c->company_id, token);
	else if (strcmp(f, "email") == 0)
		keep(&c->email, token);
	else if (strcmp(f, "sid") == 0)
		keep(&c->sid, token);
	else
		return false;
	return true;
}

static NL_JSON_ACTION
walk_scalar(void *state, char *token, JsonTokenType type)
{
	WalkState  *st = state;
	bool		kept = false;

	CHECK_FOR_INTERRUPTS();
	if (type == JSON_TOKEN_NUMBER && !number_ok(token))
		st->bad = true;
	else if (st->depth == 1 && st->top_field != NULL)
	{
		if (st->mode == WALK_HEADER)
			kept = header_scalar(st, st->top_field, token, type);
		else if (st->mode == WALK_CLAIMS)
			kept = claims_scalar(st, st->top_field, token, type);
		else if (st->mode == WALK_FIND &&
				 pg_strcasecmp(st->top_field, st->find_name) == 0)
		{
			st->find_matches++;
			if (type == JSON_TOKEN_STRING)
			{
				keep(&st->found, token);
				kept = true;
			}
		}
	}
	else if (st->in_aud && st->depth == 2)
	{
		if (type == JSON_TOKEN_STRING)
		{
			NlClaims   *c = st->claims;

			push_ptr(&c->aud, &c->naud, &c->aud_cap, token);
			kept = true;
		}
		else
			st->claims->bad_types = true;
	}
	if (!kept)
		pfree(token);
	NL_JSON_CONTINUE;
}

/* Runs the checks and, by mode, collects header or claims members. */
static bool
json_walk(const char *buf, int len, WalkState *st)
{
	JsonSemAction sem;
	JsonParseErrorType rc;

	if (!json_prescan(buf, len))
		return false;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = st;
	sem.object_start = walk_object_start;
	sem.object_end = walk_object_end;
	sem.array_start = walk_array_start;
	sem.array_end = walk_array_end;
	sem.object_field_start = walk_field_start;
	sem.scalar = walk_scalar;

	rc = nl_json_parse_text(buf, len, &sem);
	/* the names of objects a parse error left open */
	for (int d = 0; d < (int) lengthof(st->names); d++)
		names_free(&st->names[d]);
	return rc == JSON_SUCCESS && !st->bad;
}

bool
nl_json_object_ok(const char *buf, int len)
{
	WalkState	st = {.mode = WALK_CHECK};

	return json_walk(buf, len, &st);
}

void
nl_header_free(NlHeader *hdr)
{
	if (hdr->alg)
		pfree(hdr->alg);
	if (hdr->kid)
		pfree(hdr->kid);
	memset(hdr, 0, sizeof(NlHeader));
}

void
nl_claims_free(NlClaims *c)
{
	char	   *strings[] = {c->iss, c->sub, c->company_id, c->email, c->jti, c->sid};

	for (int i = 0; i < (int) lengthof(strings); i++)
		if (strings[i])
			pfree(strings[i]);
	for (int i = 0; i < c->naud; i++)
		pfree(c->aud[i]);
	if (c->aud)
		pfree(c->aud);
	memset(c, 0, sizeof(NlClaims));
}

bool
nl_header_parse(const char *buf, int len, NlHeader *hdr)
{
	WalkState	st = {.mode = WALK_HEADER, .hdr = hdr};

	memset(hdr, 0, sizeof(NlHeader));
	if (!json_walk(buf, len, &st) || hdr->bad_types)
	{
		nl_header_free(hdr);
		return false;
	}
	return true;
}

bool
nl_claims_parse(const char *buf, int len, NlClaims *claims)
{
	WalkState	st = {.mode = WALK_CLAIMS, .claims = claims};

	memset(claims, 0, sizeof(NlClaims));
	if (!json_walk(buf, len, &st) || claims->bad_types)
	{
		nl_claims_free(claims);
		return false;
	}
	return true;
}

char *
nl_json_find_string(const char *buf, int len, const char *name)
{
	WalkState	st = {.mode = WALK_FIND, .find_name = name};
	bool		ok = json_walk(buf, len, &st);

	/*
	 * Two members that differ only in case ("authorization" and
	 * "Authorization"): SQL's ->> would read one and we another, so take
	 * neither.
	 */
	if (!ok || st.find_matches != 1)
	{
		if (st.found)
			pfree(st.found);
		return NULL;
	}
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

/* the leeway in microseconds: at most INT_MAX * 10^6, far below 2^63 */
static inline int64
leeway_usecs(const NlPolicy *policy)
{
	return (int64) policy->leeway * USECS_PER_SEC;
}

NlResult
nl_claims_check(const NlClaims *claims, const NlPolicy *policy, TimestampTz now)
{
	int64		leeway = leeway_usecs(policy);

	if (!claims->has_exp)
	{
		if (policy->require_exp)
			return NL_MISSING_EXP;
	}
	else if (now >= time_add(nl_unix_to_timestamptz(claims->exp), leeway))
		return NL_EXPIRED;

	if (claims->has_nbf && time_add(now, leeway) < nl_unix_to_timestamptz(claims->nbf))
		return NL_NOT_YET_VALID;

	if (policy->issuer != NULL && policy->issuer[0] != '\0')
	{
		if (claims->iss == NULL || strcmp(claims->iss, policy->issuer) != 0)
			return NL_WRONG_ISSUER;
	}

	if (policy->audience != NULL && policy->audience[0] != '\0')
	{
		bool		found = false;

		for (int i = 0; i < claims->naud; i++)
		{
			if (strcmp(claims->aud[i], policy->audience) == 0)
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
nl_exp_deadline(const NlClaims *claims, const NlPolicy *policy)
{
	return time_add(nl_unix_to_timestamptz(claims->exp), leeway_usecs(policy));
}

TimestampTz
nl_nbf_time(const NlClaims *claims)
{
	return nl_unix_to_timestamptz(claims->nbf);
}

/* The nbf rule of nl_claims_check(), for a verdict kept in a cache. */
bool
nl_nbf_pending(TimestampTz nbf, TimestampTz now, const NlPolicy *policy)
{
	return time_add(now, leeway_usecs(policy)) < nbf;
}
