/*
 * api.c
 *		SQL entry points of the NiceLogin admin API.
 *
 * Each function builds a JSON request body with PostgreSQL's JSON escaping,
 * sends it through nl_http_request() (http.c, the only curl user), and reads
 * the answer with PostgreSQL's JSON parser.  A non-2xx answer raises an ERROR
 * that carries the API's "error" text and the HTTP status:
 *
 *	400 -> 22023   401 -> 28000   403 -> 42501   404 -> P0002   other -> 58000
 *
 * Passwords, reset tokens and the API secret never appear in a message: they
 * are only ever put into request bodies, which are wiped after the request,
 * and they are masked (secret.c) in every form if the API echoes them in its
 * error text.
 *
 * nicelogin_activate/_deactivate record the result in the extension's table
 * nicelogin_deactivated_users in the calling transaction, after the API has
 * confirmed the change; the statement trigger on that table invalidates the
 * caches of every session at commit.  If the transaction later rolls back,
 * the remote change stays: call the function again to bring both in line.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "nicelogin.h"
#include "extension.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "admin/admin.h"

/* Longest API error text we repeat in a message, in bytes. */
#define NL_API_ERROR_MAX		500
/* Longest start of the API's error text that is looked at, in bytes. */
#define NL_API_ERROR_SCAN_MAX	(16 * 1024)

/*
 * Longest input the API functions take, in bytes, checked before any
 * request (and before anything is copied): the API has no use for more,
 * and every byte of a password is matched against the API's error text.
 *
 * NL_MAX_EMAIL_BYTES: RFC 5321 (section 4.5.3.1.3) limits a path to 256
 * octets with its angle brackets, so an address has at most 254.
 * NL_MAX_PASSWORD_BYTES: far beyond any password a person types or a
 * manager generates (bcrypt reads 72 bytes; 1024 bytes is 256 characters
 * of any script), and small enough to send and mask at no cost.
 * NL_MAX_RESET_TOKEN_BYTES: a reset token is NiceLogin's (an opaque string
 * or a signed token of a few hundred bytes); one from a client or from the
 * API longer than this is refused.
 */
#define NL_MAX_EMAIL_BYTES			254
#define NL_MAX_PASSWORD_BYTES		1024
#define NL_MAX_RESET_TOKEN_BYTES	4096

PG_FUNCTION_INFO_V1(nicelogin_request_password_reset);
PG_FUNCTION_INFO_V1(nicelogin_reset_password);
PG_FUNCTION_INFO_V1(nicelogin_change_password);
PG_FUNCTION_INFO_V1(nicelogin_activate);
PG_FUNCTION_INFO_V1(nicelogin_deactivate);

static const char *nl_require_api_key(void);
static char *nl_api_url(const char *path);
static void nl_body_init(StringInfo body, const char *const *values, int nvalues);
static void nl_json_string_member(StringInfo buf, const char *key, const char *value);
static void nl_json_bool_member(StringInfo buf, const char *key, bool value);
static char *nl_url_escape(const char *s);
static Jsonb *nl_api_call(const char *method, const char *path, StringInfo body,
						  const char *const *secrets, int nsecrets);
static Jsonb *nl_parse_answer(StringInfo answer);
nl_noreturn static void nl_api_fail(const char *method, const char *path, long status,
									Jsonb *answer, const char *const *secrets, int nsecrets);
static int	nl_status_errcode(long status);
static char *nl_clean_error_text(const char *s, int len,
								 const char *const *secrets, int nsecrets);
static JsonbValue *nl_answer_member(Jsonb *answer, const char *key,
									enum jbvType type, const char *method,
									const char *path);
static char *nl_request_reset_token(const char *email);
static bool nl_reset_password(const char *email, const char *current_password,
							  const char *new_password, const char *reset_token);
static bool nl_set_user_active(FunctionCallInfo fcinfo, bool active);
static void nl_record_user_status(const NlExtension *ext, pg_uuid_t *user_id, bool active);


/* ---------- SQL entry points ---------- */

/*
 * Refuses argument argno of the call when it is longer than max bytes:
 * measured without detoasting or copying it, before any request.
 */
static void
nl_check_length(FunctionCallInfo fcinfo, int argno, const char *what, Size max)
{
	Size		len = toast_raw_datum_size(PG_GETARG_DATUM(argno)) - VARHDRSZ;

	if (len > max)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("It has %zu bytes; at most %zu are allowed.", len, max)));
}

/* nicelogin_request_password_reset(email text) returns text */
Datum
nicelogin_request_password_reset(PG_FUNCTION_ARGS)
{
	char	   *email;

	nl_check_length(fcinfo, 0, "email address", NL_MAX_EMAIL_BYTES);
	email = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_RETURN_TEXT_P(cstring_to_text(nl_request_reset_token(email)));
}

/*
 * Sets the new password with a reset token, then wipes the passwords and the
 * token from memory, whether the call succeeded or raised.
 */
static bool
nl_reset_password_and_wipe(char *email, char *current_password,
						   char *new_password, char *reset_token)
{
	bool		result = false;

	PG_TRY();
	{
		result = nl_reset_password(email, current_password, new_password,
								   reset_token);
	}
	PG_FINALLY();
	{
		explicit_bzero(current_password, strlen(current_password));
		explicit_bzero(new_password, strlen(new_password));
		explicit_bzero(reset_token, strlen(reset_token));
	}
	PG_END_TRY();
	return result;
}

/* nicelogin_reset_password(email, current_password, new_password, reset_token) */
Datum
nicelogin_reset_password(PG_FUNCTION_ARGS)
{
	nl_check_length(fcinfo, 0, "email address", NL_MAX_EMAIL_BYTES);
	nl_check_length(fcinfo, 1, "current password", NL_MAX_PASSWORD_BYTES);
	nl_check_length(fcinfo, 2, "new password", NL_MAX_PASSWORD_BYTES);
	nl_check_length(fcinfo, 3, "reset token", NL_MAX_RESET_TOKEN_BYTES);
	PG_RETURN_BOOL(nl_reset_password_and_wipe(text_to_cstring(PG_GETARG_TEXT_PP(0)),
											  text_to_cstring(PG_GETARG_TEXT_PP(1)),
											  text_to_cstring(PG_GETARG_TEXT_PP(2)),
											  text_to_cstring(PG_GETARG_TEXT_PP(3))));
}

/* nicelogin_change_password(email, current_password, new_password): both steps */
Datum
nicelogin_change_password(PG_FUNCTION_ARGS)
{
	char	   *email;

	nl_check_length(fcinfo, 0, "email address", NL_MAX_EMAIL_BYTES);
	nl_check_length(fcinfo, 1, "current password", NL_MAX_PASSWORD_BYTES);
	nl_check_length(fcinfo, 2, "new password", NL_MAX_PASSWORD_BYTES);
	email = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(nl_reset_password_and_wipe(email,
											  text_to_cstring(PG_GETARG_TEXT_PP(1)),
											  text_to_cstring(PG_GETARG_TEXT_PP(2)),
											  nl_request_reset_token(email)));
}

/* nicelogin_activate(user_id uuid) returns boolean */
Datum
nicelogin_activate(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(nl_set_user_active(fcinfo, true));
}

/* nicelogin_deactivate(user_id uuid) returns boolean */
Datum
nicelogin_deactivate(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(nl_set_user_active(fcinfo, false));
}

/* ---------- the calls ---------- */

/*
 * GET /.well-known/jwks/{api_key}: the key set NiceLogin publishes for
 * nicelogin.api_key, not yet checked beyond being a non-empty answer (the
 * caller stores it with nl_store_jwks(), which checks every key).
 */
Jsonb *
nl_api_get_jwks(void)
{
	const char *api_key = nl_require_api_key();
	char	   *path;
	Jsonb	   *jwks;

	path = psprintf("/.well-known/jwks/%s", nl_url_escape(api_key));
	jwks = nl_api_call("GET", path, NULL, NULL, 0);

	/*
	 * An empty set would refuse every token: NiceLogin always publishes its
	 * signing keys, so an empty answer is a fault, not a rotation.
	 * nl_store_jwks() refuses an empty set too (and other bad sets); this
	 * says where it came from.
	 */
	if (JB_ROOT_IS_OBJECT(jwks))
	{
		JsonbValue *keys = getKeyJsonValueFromContainer(&jwks->root, "keys", 4, NULL);

		if (keys != NULL && keys->type == jbvBinary &&
			JsonContainerIsArray(keys->val.binary.data) &&
			JsonContainerSize(keys->val.binary.data) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("NiceLogin published an empty key set"),
					 errdetail("The stored keys are kept: an empty set would refuse every token."),
					 errhint("Check nicelogin.api_key and nicelogin.base_url.")));
	}
	return jwks;
}

/* POST /request_password_reset: returns the reset token. */
static char *
nl_request_reset_token(const char *email)
{
	const char *api_key = nl_require_api_key();
	StringInfoData body;
	Jsonb	   *answer;
	JsonbValue *token;
	char	   *result;

	{
		const char *values[] = {email, api_key};

		nl_body_init(&body, values, lengthof(values));
	}
	appendStringInfoChar(&body, '{');
	nl_json_string_member(&body, "email", email);
	nl_json_string_member(&body, "api_key", api_key);
	appendStringInfoChar(&body, '}');

	answer = nl_api_call("POST", "/request_password_reset", &body, NULL, 0);
	token = nl_answer_member(answer, "reset_token", jbvString,
							 "POST", "/request_password_reset");
	result = pnstrdup(token->val.string.val, token->val.string.len);
	/* the parsed answer holds the token too */
	explicit_bzero(answer, VARSIZE(answer));
	/* it is sent back, and masked, as any reset token is */
	if (strlen(result) > NL_MAX_RESET_TOKEN_BYTES)
	{
		explicit_bzero(result, strlen(result));
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not parse the answer of NiceLogin"),
				 errdetail("The answer to POST /request_password_reset has a reset token of more than %d bytes.",
						   NL_MAX_RESET_TOKEN_BYTES)));
	}
	return result;
}

/* POST /reset_password: true when the API reports success. */
static bool
nl_reset_password(const char *email, const char *current_password,
				  const char *new_password, const char *reset_token)
{
	const char *api_key = nl_require_api_key();
	const char *secrets[3];
	StringInfoData body;
	Jsonb	   *answer;
	JsonbValue *success;

	secrets[0] = current_password;
	secrets[1] = new_password;
	secrets[2] = reset_token;

	{
		const char *values[] = {email, current_password, new_password,
		new_password, api_key, reset_token};

		nl_body_init(&body, values, lengthof(values));
	}
	appendStringInfoChar(&body, '{');
	nl_json_string_member(&body, "email", email);
	nl_json_string_member(&body, "current_password", current_password);
	nl_json_string_member(&body, "new_password", new_password);
	nl_json_string_member(&body, "confirm_password", new_password);
	nl_json_string_member(&body, "api_key", api_key);
	nl_json_string_member(&body, "reset_token", reset_token);
	appendStringInfoChar(&body, '}');

	answer = nl_api_call("POST", "/reset_password", &body,
						 secrets, lengthof(secrets));
	success = nl_answer_member(answer, "success", jbvBool,
							   "POST", "/reset_password");
	return success->val.boolean;
}

/*
 * PATCH /toggle_user_status, then the local record.  Returns true when the
 * API reports the state we asked for; otherwise false, and nothing local
 * changes.
 */
static bool
nl_set_user_active(FunctionCallInfo fcinfo, bool active)
{
	pg_uuid_t  *user_id = PG_GETARG_UUID_P(0);
	const char *api_secret = nl_require_api_secret();
	const char *secrets[1];
	char	   *user_text;
	StringInfoData body;
	Jsonb	   *answer;
	JsonbValue *is_active;
	NlExtension ext;
	char	   *table;

	/* before the remote change: the local record must be possible */
	nl_extension_get(&ext);
	(void) nl_member_table(&ext, "nicelogin_deactivated_users", "1.0", RowExclusiveLock, &table);

	secrets[0] = api_secret;
	user_text = DatumGetCString(DirectFunctionCall1(uuid_out,
													UUIDPGetDatum(user_id)));

	{
		const char *values[] = {api_secret, user_text};

		nl_body_init(&body, values, lengthof(values));
	}
	appendStringInfoChar(&body, '{');
	nl_json_string_member(&body, "api_secret", api_secret);
	nl_json_string_member(&body, "user_id", user_text);
	nl_json_bool_member(&body, "is_active", active);
	appendStringInfoChar(&body, '}');

	answer = nl_api_call("PATCH", "/toggle_user_status", &body,
						 secrets, lengthof(secrets));
	is_active = nl_answer_member(answer, "is_active", jbvBool,
								 "PATCH", "/toggle_user_status");
	if (is_active->val.boolean != active)
		return false;

	nl_record_user_status(&ext, user_id, active);
	return true;
}

/*
 * Records a deactivation (or lifts it) in the extension's table, in the
 * calling transaction.
 */
static void
nl_record_user_status(const NlExtension *ext, pg_uuid_t *user_id, bool active)
{
	char	   *table;
	char	   *sql;
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1];
	int			ret;
	int			save_nestlevel;

	(void) nl_member_table(ext, "nicelogin_deactivated_users", "1.0", RowExclusiveLock, &table);
	if (active)
		sql = psprintf("DELETE FROM %s"
					   " WHERE user_id OPERATOR(pg_catalog.=) $1",
					   table);
	else
		sql = psprintf("INSERT INTO %s AS d (user_id)"
					   " VALUES ($1)"
					   " ON CONFLICT (user_id) DO UPDATE"
					   " SET deactivated_at = excluded.deactivated_at,"
					   " deactivated_by = excluded.deactivated_by",
					   table);
	values[0] = UUIDPGetDatum(user_id);

	/* the function is SECURITY DEFINER with its own search_path; pin it anyway */
	save_nestlevel = nl_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = nl_spi_execute(sql, 1, argtypes, values, NULL, 0);
	if (ret != (active ? SPI_OK_DELETE : SPI_OK_INSERT))
		elog(ERROR, "could not record the user's status: %s",
			 SPI_result_code_string(ret));
	SPI_finish();
	nl_unpin_search_path(save_nestlevel);
}


/* ---------- settings ---------- */

/* The API key, or an ERROR saying which setting to set. */
static const char *
nl_require_api_key(void)
{
	if (nl_api_key == NULL || nl_api_key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nicelogin.api_key is not set"),
				 errhint("Set nicelogin.api_key to the API key of your NiceLogin application, in postgresql.conf or with ALTER DATABASE ... SET; only superusers can set it.")));
	return nl_api_key;
}

/* base_url without its trailing slashes, followed by path. */
static char *
nl_api_url(const char *path)
{
	int			len;

	if (nl_base_url == NULL || nl_base_url[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nicelogin.base_url is not set"),
				 errhint("Set nicelogin.base_url to the NiceLogin API address, for example https://api.v1.nicelogin.com.")));

	len = strlen(nl_base_url);
	while (len > 0 && nl_base_url[len - 1] == '/')
		len--;
	return psprintf("%.*s%s", len, nl_base_url, path);
}

/* ---------- JSON requests ---------- */

/*
 * Starts a request body with room for the escaped values and the rest of
 * it, so that the buffer never grows: a StringInfo that grows frees its old
 * buffer without wiping it, and the body holds passwords or the secret.
 */
static void
nl_body_init(StringInfo body, const char *const *values, int nvalues)
{
	Size		need = 512;

	for (int i = 0; i < nvalues; i++)
		need += (Size) strlen(values[i]) * MAX_CONVERSION_GROWTH * 6 + 64;
	if (need >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("request to NiceLogin is too large")));
	initStringInfo(body);
	enlargeStringInfo(body, (int) need);
}

/* Appends "key": "value" (with a comma when needed), value sent as UTF-8. */
static void
nl_json_string_member(StringInfo buf, const char *key, const char *value)
{
	char	   *utf8 = pg_server_to_any(value, strlen(value), PG_UTF8);

	if (buf->len > 1)
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
	escape_json(buf, utf8);
	if (utf8 != value)
	{
		explicit_bzero(utf8, strlen(utf8));
		pfree(utf8);
	}
}

/* Appends "key": true|false. */
static void
nl_json_bool_member(StringInfo buf, const char *key, bool value)
{
	if (buf->len > 1)
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoString(buf, value ? ":true" : ":false");
}

/* Percent-encodes s (as UTF-8) for use as one URL path segment. */
static char *
nl_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char	   *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);
	StringInfoData out;

	initStringInfo(&out);
	for (const unsigned char *p = (const unsigned char *) utf8; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(&out, (char) *p);
		else
		{
			appendStringInfoChar(&out, '%');
			appendStringInfoChar(&out, hex[*p >> 4]);
			appendStringInfoChar(&out, hex[*p & 0x0F]);
		}
	}
	return out.data;
}


/* ---------- answers ---------- */

/*
 * Sends one request to {base_url}{path} and returns the parsed JSON answer of
 * a 2xx status; any other status raises the API's error.  body (may be NULL)
 * is wiped afterwards, on every path.  secrets are masked in error texts.
 */
static Jsonb *
nl_api_call(const char *method, const char *path, StringInfo body,
			const char *const *secrets, int nsecrets)
{
	char	   *url = nl_api_url(path);
	StringInfoData answer;
	volatile long status = 0;
	Jsonb	   *parsed;

	initStringInfo(&answer);
	PG_TRY();
	{
		status = nl_http_request(method, url, body ? body->data : NULL, &answer);
	}
	PG_FINALLY();
	{
		if (body != NULL)
			explicit_bzero(body->data, body->len);
	}
	PG_END_TRY();

	parsed = nl_parse_answer(&answer);
	/* The raw answer may hold a reset token; the parsed copy is all we need. */
	explicit_bzero(answer.data, answer.len);

	if (status < 200 || status > 299)
		nl_api_fail(method, path, status, parsed, secrets, nsecrets);

	if (parsed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not parse the answer of NiceLogin"),
				 answer.len == 0 ?
				 errdetail("NiceLogin answered %s %s with HTTP status %ld and an empty body.",
						   method, path, status) :
				 errdetail("NiceLogin answered %s %s with HTTP status %ld and a body that is not JSON.",
						   method, path, status)));
	return parsed;
}

/*
 * The answer as jsonb, or NULL when it is not a JSON object we can take.  The
 * same checks as for token payloads (encoding, nesting depth, syntax,
 * escapes, numbers) come first, so that building the jsonb never raises.
 */
static Jsonb *
nl_parse_answer(StringInfo answer)
{
	if (answer->len == 0 || !nl_json_object_ok(answer->data, answer->len))
		return NULL;
	return nl_json_to_jsonb(answer->data, answer->len);
}

/*
 * A member of the answer object with the given type, or an ERROR saying the
 * answer is not what the API documents.
 */
static JsonbValue *
nl_answer_member(Jsonb *answer, const char *key, enum jbvType type,
				 const char *method, const char *path)
{
	JsonbValue *v = NULL;

	if (JB_ROOT_IS_OBJECT(answer))
		v = getKeyJsonValueFromContainer(&answer->root, key, strlen(key), NULL);
	if (v == NULL || v->type != type)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not parse the answer of NiceLogin"),
				 errdetail("The answer to %s %s has no %s member \"%s\".",
						   method, path,
						   type == jbvBool ? "boolean" : "string", key)));
	return v;
}

/* Raises the error for a non-2xx answer. */
static void
nl_api_fail(const char *method, const char *path, long status, Jsonb *answer,
			const char *const *secrets, int nsecrets)
{
	char	   *text = NULL;
	bool		refused = status >= 400 && status <= 499;

	if (answer != NULL && JB_ROOT_IS_OBJECT(answer))
	{
		JsonbValue *v;

		v = getKeyJsonValueFromContainer(&answer->root, "error", 5, NULL);
		if (v != NULL && v->type == jbvString && v->val.string.len > 0)
			text = nl_clean_error_text(v->val.string.val, v->val.string.len,
									   secrets, nsecrets);
	}
	/* the answer may echo secrets: only the masked text is kept */
	if (answer != NULL)
		explicit_bzero(answer, VARSIZE(answer));

	if (status >= 300 && status <= 399)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("NiceLogin could not process the request"),
				 errdetail("NiceLogin answered %s %s with HTTP status %ld; redirects are not followed.",
						   method, path, status),
				 errhint("Check nicelogin.base_url.")));

	if (text != NULL)
		ereport(ERROR,
				(errcode(nl_status_errcode(status)),
				 refused ?
				 errmsg("NiceLogin refused the request: %s", text) :
				 errmsg("NiceLogin could not process the request: %s", text),
				 errdetail("NiceLogin answered %s %s with HTTP status %ld.",
						   method, path, status)));

	ereport(ERROR,
			(errcode(nl_status_errcode(status)),
			 refused ?
			 errmsg("NiceLogin refused the request") :
			 errmsg("NiceLogin could not process the request"),
			 errdetail("NiceLogin answered %s %s with HTTP status %ld and no error message.",
					   method, path, status)));
	pg_unreachable();
}

/* The SQLSTATE for a non-2xx HTTP status. */
static int
nl_status_errcode(long status)
{
	switch (status)
	{
		case 400:
		case 422:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case 401:
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		case 403:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case 404:
			return ERRCODE_NO_DATA_FOUND;
		default:
			return ERRCODE_SYSTEM_ERROR;
	}
}

/*
 * The API's error text made fit for a message: secrets masked in every form
 * (before anything else, so that no clipping can cut a secret in two),
 * control characters replaced by spaces, clipped to NL_API_ERROR_MAX bytes.
 */
static char *
nl_clean_error_text(const char *s, int len, const char *const *secrets,
					int nsecrets)
{
	char	   *text;
	int			cut;

	/*
	 * Only the start can be shown; masking costs the text's length times a
	 * secret's length squared, so a longer text is cut first (what follows
	 * the cut is never shown).
	 */
	if (len > NL_API_ERROR_SCAN_MAX)
		len = pg_mbcliplen(s, len, NL_API_ERROR_SCAN_MAX);
	text = pnstrdup(s, len);
	text = nl_mask_secrets(text, secrets, nsecrets);

	for (char *p = text; *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7F)
			*p = ' ';
	}

	len = strlen(text);
	if (len > NL_API_ERROR_MAX)
	{
		cut = pg_mbcliplen(text, len, NL_API_ERROR_MAX);
		text[cut] = '\0';
		text = psprintf("%s...", text);
	}
	return text;
}
