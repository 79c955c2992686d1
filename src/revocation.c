/*
 * revocation.c
 *		SQL entry points that act on a token: nicelogin_revoke_token.
 *
 * A function with a side effect trusts only what it verified: the token must
 * be signed by a stored key and pass the claims rules (nl_verify_signed_token,
 * which skips the revocation lists only, so that revoking an already revoked
 * or deactivated user's token still works).  The jti and the expiry come from
 * the verified payload, never from a decoding without checks: otherwise a
 * token forged with the attacker's own key and a victim's jti would revoke
 * the victim's token, with an expiry of the forger's choosing.  A bad token
 * is answered with false, never an ERROR.
 */
#include "nicelogin.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(nicelogin_revoke_token);

/* Longest jti we store, in bytes; NiceLogin's are uuids. */
#define NL_MAX_JTI_LEN 1024

/*
 * The verified exp as a timestamptz to store: within the type's range (the
 * claims parser refused anything beyond it), else +/-infinity.
 */
static TimestampTz
exp_to_timestamptz(double secs)
{
	TimestampTz t = nl_unix_to_timestamptz(secs);

	if (t >= END_TIMESTAMP)
		return DT_NOEND;
	if (t <= MIN_TIMESTAMP)
		return DT_NOBEGIN;
	return t;
}

/* A top-level member of the verified claims, or NULL. */
static JsonbValue *
claim(Jsonb *claims, const char *name)
{
	return getKeyJsonValueFromContainer(&claims->root, name, strlen(name), NULL);
}

/*
 * nicelogin_revoke_token(token text) returns boolean: true when the token is
 * genuine, carries a jti, and is revoked from commit on (until its exp, or
 * for good when it has no exp); false for any other token.
 */
Datum
nicelogin_revoke_token(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	const NlVerified *v;
	JsonbValue *jti;
	JsonbValue *exp;
	char	   *jti_text;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};
	char	   *sql;
	int			save_nestlevel;
	int			rc;

	v = nl_verify_signed_token(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), fn_oid);
	if (v->result != NL_VALID)
		PG_RETURN_BOOL(false);

	jti = claim(v->claims, "jti");
	if (jti == NULL || jti->type != jbvString || jti->val.string.len == 0 ||
		jti->val.string.len > NL_MAX_JTI_LEN)
		PG_RETURN_BOOL(false);
	jti_text = pnstrdup(jti->val.string.val, jti->val.string.len);

	exp = claim(v->claims, "exp");
	if (exp != NULL && exp->type == jbvNumeric)
	{
		/* in range: the claims parser checked it before verification passed */
		double		secs = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															  NumericGetDatum(exp->val.numeric)));

		values[1] = TimestampTzGetDatum(exp_to_timestamptz(secs));
	}
	else
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';			/* no exp (nicelogin.require_exp off): for good */
	}
	values[0] = CStringGetTextDatum(jti_text);

	/*
	 * An entry that is already there keeps the later expiry (NULL: for good),
	 * so revoking never shortens an administrator's revocation.
	 */
	sql = psprintf("INSERT INTO %s AS r (kind, value, expires_at) VALUES ('jti', $1, $2) "
				   "ON CONFLICT (kind, value) DO UPDATE SET expires_at = "
				   "CASE WHEN r.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL "
				   "ELSE GREATEST(r.expires_at, excluded.expires_at) END",
				   quote_qualified_identifier(get_namespace_name(nl_extension_schema(fn_oid)),
											  "nicelogin_revocations"));

	save_nestlevel = nl_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, 2, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record the revocation: %s", SPI_result_code_string(rc));
	SPI_finish();
	nl_unpin_search_path(save_nestlevel);
	PG_RETURN_BOOL(true);
}
