/*
 * faillog.c
 *		nicelogin.log_failures: one server log line per refused verification,
 *		rate-limited per backend.
 *
 * Logged: the reason, the token's length, the header's kid and alg, and the
 * payload's iss, sub and jti, all marked unverified (a refused token's
 * claims are whatever its sender wrote).  Never the token, its signature or
 * the payload.  Each value is cut at NL_LOG_VALUE_MAX bytes and every byte
 * outside printable ASCII (and the quote and backslash) is written as \xNN,
 * so a token can neither add lines to the log nor fill it.  Only full
 * verifications are logged, not answers from the token cache: a token
 * refused again and again by one session is logged once while it stays
 * cached (refusals that depend on the clock, expired and not_yet_valid,
 * are never cached and are logged each time).
 *
 * At most NL_LOG_FAILURES_PER_MINUTE lines per backend per minute; the
 * refusals beyond are counted, and the count is logged when the next minute
 * opens with a refusal, or when the backend exits.
 */
#include "jose/jose.h"
#include "ops/ops.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define NL_LOG_FAILURES_PER_MINUTE 10
#define NL_LOG_VALUE_MAX 64

static TimestampTz window_start = 0;
static int	logged_in_window = 0;
static int64 suppressed = 0;
static bool exit_callback_registered = false;
static MemoryContext faillog_cxt = NULL;

/* Logs how many refusals were not logged, if any. */
static void
report_suppressed(void)
{
	if (suppressed == 0)
		return;
	ereport(LOG,
			(errmsg("nicelogin did not log %lld further refused tokens",
					(long long) suppressed),
			 errdetail("nicelogin.log_failures logs at most %d refusals a minute per session.",
					   NL_LOG_FAILURES_PER_MINUTE),
			 errhidestmt(true)));
	suppressed = 0;
}

static void
faillog_exit(int code, Datum arg)
{
	report_suppressed();
}

/* Appends name="value", value cut and escaped; nothing when value is NULL. */
static void
append_value(StringInfo buf, const char *name, const char *value)
{
	size_t		len;

	if (value == NULL)
		return;
	len = strlen(value);
	if (buf->len > 0 && buf->data[buf->len - 1] != ' ')
		appendStringInfoChar(buf, ' ');
	appendStringInfo(buf, "%s=\"", name);
	for (size_t i = 0; i < len && i < NL_LOG_VALUE_MAX; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			appendStringInfoChar(buf, (char) c);
		else
			appendStringInfo(buf, "\\x%02x", c);
	}
	appendStringInfoChar(buf, '"');
	if (len > NL_LOG_VALUE_MAX)
		appendStringInfo(buf, " (%zu bytes, cut)", len);
}

/*
 * What the log line says about the token, from what the verification
 * decoded (tok; NULL when it was too long to decode); palloc'd in the
 * current context.  The claims are parsed here only when the verification
 * stopped before parsing them, and into a copy: tok is not changed.
 */
static char *
describe_token(const NlToken *tok, int len, NlResult r)
{
	StringInfoData buf;
	const NlHeader *hdr = NULL;
	const NlClaims *claims = NULL;
	NlClaims	parsed;
	bool		decoded = tok != NULL && tok->decoded;

	initStringInfo(&buf);
	/* a token over nicelogin.max_token_length is not decoded at all */
	if (decoded)
	{
		if (tok->header_ok)
			hdr = &tok->header;
		if (tok->claims_state > 0)
			claims = &tok->claims;
		else if (tok->claims_state == 0 && tok->payload_json != NULL &&
				 nl_claims_parse(tok->payload_json, tok->payload_len, &parsed))
			claims = &parsed;
	}
	appendStringInfo(&buf, "Token of %d bytes", len);
	if (hdr && (hdr->alg || hdr->kid))
	{
		appendStringInfoString(&buf, "; header: ");
		append_value(&buf, "kid", hdr->kid);
		append_value(&buf, "alg", hdr->alg);
	}
	else if (decoded && hdr == NULL)
		appendStringInfoString(&buf, "; header unreadable");
	if (claims && (claims->iss || claims->sub || claims->jti))
	{
		appendStringInfoString(&buf, "; unverified claims: ");
		append_value(&buf, "iss", claims->iss);
		append_value(&buf, "sub", claims->sub);
		append_value(&buf, "jti", claims->jti);
	}
	else if (decoded && claims == NULL)
	{
		/* say so, rather than leave a reader to think it had no iss, sub, jti */
		appendStringInfoString(&buf, "; claims unreadable");
	}
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

void
nl_log_refusal(const NlToken *tok, int len, NlResult r)
{
	TimestampTz now;
	MemoryContext oldcxt;

	if (!nl_log_failures || r == NL_VALID)
		return;

	now = GetCurrentTimestamp();
	if (window_start == 0 || now - window_start >= 60 * USECS_PER_SEC || now < window_start)
	{
		report_suppressed();
		window_start = now;
		logged_in_window = 0;
	}
	if (logged_in_window >= NL_LOG_FAILURES_PER_MINUTE)
	{
		suppressed++;
		if (!exit_callback_registered)
		{
			before_shmem_exit(faillog_exit, (Datum) 0);
			exit_callback_registered = true;
		}
		return;
	}
	logged_in_window++;

	if (faillog_cxt == NULL)
		faillog_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin failure log",
											ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(faillog_cxt);
	/* the statement and its context may hold the token: leave them out */
	ereport(LOG,
			(errmsg("nicelogin refused a token: %s", nl_result_name(r)),
			 errdetail_internal("%s", describe_token(tok, len, r)),
			 errhidestmt(true),
			 errhidecontext(true)));
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(faillog_cxt);
}
