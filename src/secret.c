/*
 * secret.c
 *		nicelogin.api_secret and the passwords: where the secret may come from,
 *		the copies of it that must never be used, and masking every form of a
 *		secret that the API may echo.
 *
 * The secret may only be set by a superuser, in the server configuration
 * (with nicelogin in shared_preload_libraries) or with SET.  A copy stored
 * in pg_db_role_setting or pg_proc.proconfig is readable by every role: it
 * is never used, a secret equal to it is refused, and superusers and the
 * server log are told where it is.  Catalogs are read with systable scans,
 * never with SQL, so no search_path is involved.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_db_role_setting.h"
#include "catalog/pg_proc.h"
#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "nicelogin.h"

/* What replaces a secret: in SHOW for other roles, and in echoed error texts. */
#define NL_MASK					"********"

/* GUC hooks for nicelogin.api_secret, registered in nicelogin.c. */
extern bool nl_api_secret_check_hook(char **newval, void **extra, GucSource source);
extern const char *nl_api_secret_show_hook(void);

/*
 * Set by the check hook when it dropped a secret from the server
 * configuration because the library is not preloaded; reported (at most
 * once per backend in the server log) when the secret is needed.
 */
static bool nl_api_secret_dropped = false;
static bool nl_api_secret_dropped_logged = false;

/*
 * Set by the check hook when it dropped a value stored per role or per
 * database, applied at session start.
 */
static bool nl_api_secret_stored = false;

/* Where a copy of nicelogin.api_secret is stored in a catalog. */
typedef struct NlStoredSecret
{
	char	   *where;			/* "role \"x\"", "function f(int)" ... */
	char	   *remove;			/* the command that removes it */
} NlStoredSecret;

#define NL_SECRET_PREFIX		"nicelogin.api_secret="

/*
 * The number of nicelogin.api_secret entries among the name=value items of
 * a setconfig or proconfig array that hold value (any value when value is
 * NULL).  The items are wiped after comparing.
 */
static int
nl_config_array_has_secret(Datum array, const char *value)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			hits = 0;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *item;

		if (nulls[i])
			continue;
		item = TextDatumGetCString(elems[i]);
		if (pg_strncasecmp(item, NL_SECRET_PREFIX, strlen(NL_SECRET_PREFIX)) == 0 &&
			(value == NULL || strcmp(item + strlen(NL_SECRET_PREFIX), value) == 0))
			hits++;
		explicit_bzero(item, strlen(item));
		pfree(item);
	}
	pfree(elems);
	pfree(nulls);
	return hits;
}

/*
 * Every nicelogin.api_secret stored where any role can read it: settings of
 * roles and databases (pg_db_role_setting, shared by all databases) and SET
 * clauses of this database's functions (pg_proc.proconfig).  With value,
 * only the entries that hold it; with this_session, only the role and
 * database settings that apply to this session.  Catalog scans, no SQL:
 * nothing here depends on search_path.  Needs a transaction.
 */
static List *
nl_stored_secrets(const char *value, bool this_session)
{
	List	   *found = NIL;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_db_role_setting form = (Form_pg_db_role_setting) GETSTRUCT(tup);
		bool		isnull;
		Datum		d;
		NlStoredSecret *e;
		char	   *role = NULL;
		char	   *db = NULL;

		if (this_session &&
			!((form->setrole == InvalidOid || form->setrole == GetSessionUserId()) &&
			  (form->setdatabase == InvalidOid || form->setdatabase == MyDatabaseId)))
			continue;
		d = heap_getattr(tup, Anum_pg_db_role_setting_setconfig,
						 RelationGetDescr(rel), &isnull);
		if (isnull || nl_config_array_has_secret(d, value) == 0)
			continue;

		if (OidIsValid(form->setrole))
		{
			role = GetUserNameFromId(form->setrole, true);
			if (role == NULL)
				role = psprintf("%u", form->setrole);
		}
		if (OidIsValid(form->setdatabase))
		{
			db = get_database_name(form->setdatabase);
			if (db == NULL)
				db = psprintf("%u", form->setdatabase);
		}

		e = palloc(sizeof(NlStoredSecret));
		if (role != NULL && db != NULL)
		{
			e->where = psprintf("the setting of role \"%s\" in database \"%s\"", role, db);
			e->remove = psprintf("ALTER ROLE %s IN DATABASE %s RESET nicelogin.api_secret",
								 quote_identifier(role), quote_identifier(db));
		}
		else if (role != NULL)
		{
			e->where = psprintf("the setting of role \"%s\"", role);
			e->remove = psprintf("ALTER ROLE %s RESET nicelogin.api_secret",
								 quote_identifier(role));
		}
		else if (db != NULL)
		{
			e->where = psprintf("the setting of database \"%s\"", db);
			e->remove = psprintf("ALTER DATABASE %s RESET nicelogin.api_secret",
								 quote_identifier(db));
		}
		else
		{
			e->where = pstrdup("the setting for all roles (ALTER ROLE ALL)");
			e->remove = pstrdup("ALTER ROLE ALL RESET nicelogin.api_secret");
		}
		found = lappend(found, e);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (this_session)
		return found;

	rel = table_open(ProcedureRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_proc form = (Form_pg_proc) GETSTRUCT(tup);
		bool		isnull;
		Datum		d;
		NlStoredSecret *e;
		char	   *fn;

		d = heap_getattr(tup, Anum_pg_proc_proconfig, RelationGetDescr(rel), &isnull);
		if (isnull || nl_config_array_has_secret(d, value) == 0)
			continue;

		fn = format_procedure_qualified(form->oid);
		e = palloc(sizeof(NlStoredSecret));
		e->where = psprintf("the SET clause of %s %s in database \"%s\"",
							form->prokind == PROKIND_PROCEDURE ? "procedure" : "function",
							fn, get_database_name(MyDatabaseId));
		e->remove = psprintf("ALTER %s %s RESET nicelogin.api_secret",
							 form->prokind == PROKIND_PROCEDURE ? "PROCEDURE" : "FUNCTION",
							 fn);
		found = lappend(found, e);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	return found;
}

/*
 * Refuses a secret of which a copy is stored in a catalog every role can
 * read: it may have come from there (a function's SET clause is applied like
 * a superuser's SET), and it is not a secret any more in any case.
 */
static void
nl_refuse_stored_secret(const char *value)
{
	List	   *found = nl_stored_secrets(value, false);
	NlStoredSecret *e;

	if (found == NIL)
		return;
	e = (NlStoredSecret *) linitial(found);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("nicelogin.api_secret is not used because a copy of it is stored in a catalog that every role can read"),
			 list_length(found) == 1 ?
			 errdetail("The value in use is stored in %s.", e->where) :
			 errdetail_plural("The value in use is stored in %s, and in %d other place.",
							  "The value in use is stored in %s, and in %d other places.",
							  list_length(found) - 1,
							  e->where, list_length(found) - 1),
			 errhint("Have a superuser remove it (%s), rotate the secret at NiceLogin, and set the new one in postgresql.conf with nicelogin in shared_preload_libraries.",
					 e->remove)));
}

/*
 * Reports every stored copy of nicelogin.api_secret, and a secret from the
 * server configuration that is ignored because the library is not
 * preloaded, at elevel.  Never shows a value.  Returns the number of
 * problems.  Needs a transaction.  (The install and upgrade scripts make
 * the same checks in SQL, for the superuser who runs them.)
 */
static int
nl_report_secret_problems(int elevel)
{
	List	   *found = nl_stored_secrets(NULL, false);
	ListCell   *lc;
	int			problems = list_length(found);

	foreach(lc, found)
	{
		NlStoredSecret *e = (NlStoredSecret *) lfirst(lc);

		ereport(elevel,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("nicelogin.api_secret is stored in a catalog that every role can read"),
				 errdetail("A value is stored in %s; any role can read it there, and nicelogin never uses it.",
						   e->where),
				 errhint("Remove it (%s) and rotate the secret at NiceLogin.",
						 e->remove)));
	}
	if (nl_api_secret_dropped)
	{
		problems++;
		ereport(elevel,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("nicelogin.api_secret from the server configuration is ignored because nicelogin is not in shared_preload_libraries"),
				 errdetail("Until a session loads the library, any role can read a value set in the server configuration."),
				 errhint("Add nicelogin to shared_preload_libraries, restart the server, and rotate the secret at NiceLogin.")));
	}
	return problems;
}

/*
 * The refresh worker's check at start, into the server log only.  Opens its
 * own transaction when none is open.
 */
void
nl_log_secret_problems(void)
{
	bool		own_xact = !IsTransactionState();

	if (own_xact)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	(void) nl_report_secret_problems(LOG_SERVER_ONLY);
	if (own_xact)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
}

/*
 * The API secret, or an ERROR saying why there is none (never its value).
 * A secret of which a copy is stored in a catalog is refused.
 */
const char *
nl_require_api_secret(void)
{
	if (nl_api_secret == NULL || nl_api_secret[0] == '\0')
	{
		List	   *found = nl_api_secret_stored ? nl_stored_secrets(NULL, true) : NIL;

		if (found != NIL)
		{
			NlStoredSecret *e = (NlStoredSecret *) linitial(found);

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("nicelogin.api_secret is not set"),
					 errdetail("A value stored in %s, which every role can read, replaced the secret in this session; nicelogin never uses such a value.",
							   e->where),
					 errhint("Have a superuser remove it (%s) and rotate the secret at NiceLogin.",
							 e->remove)));
		}
		if (nl_api_secret_dropped)
		{
			if (!nl_api_secret_dropped_logged)
			{
				nl_api_secret_dropped_logged = true;
				ereport(LOG_SERVER_ONLY,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("nicelogin.api_secret from the server configuration is ignored because nicelogin is not in shared_preload_libraries"),
						 errdetail("Until a session loads the library, any role can read a value set in the server configuration."),
						 errhint("Add nicelogin to shared_preload_libraries, restart the server, and rotate the secret at NiceLogin.")));
			}
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("nicelogin.api_secret is not set"),
					 errdetail("The value in the server configuration is ignored because nicelogin is not in shared_preload_libraries."),
					 errhint("Have an administrator add nicelogin to shared_preload_libraries, restart the server and rotate the secret.")));
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nicelogin.api_secret is not set"),
				 errhint("Set nicelogin.api_secret in postgresql.conf, with nicelogin in shared_preload_libraries; only superusers can set it.")));
	}
	nl_refuse_stored_secret(nl_api_secret);
	return nl_api_secret;
}

/*
 * nicelogin.api_secret check hook.  Keeps out values that other roles could
 * read:
 *
 *	- values stored in catalogs: ALTER ROLE / ALTER DATABASE ... SET and
 *	  function SET clauses (validated with PGC_S_TEST) are refused.  Such
 *	  values stored while the library was not loaded (placeholders then)
 *	  are replaced by an empty string when they are applied at session
 *	  start, without a warning to every session; nl_require_api_secret
 *	  refuses a secret of which a stored copy exists, and says where.
 *	- values from the server configuration (postgresql.conf, ALTER SYSTEM,
 *	  the command line) are replaced by an empty string, without a warning,
 *	  unless the library is in shared_preload_libraries: until a session
 *	  loads the library the setting is a placeholder that any role can SHOW.
 *	  nl_require_api_secret explains it when the secret is needed; the
 *	  server log and the install script tell the administrator.  The first
 *	  call of this hook is for the boot value, from
 *	  DefineCustomStringVariable() in _PG_init, which tells how the library
 *	  was loaded.
 *
 * SET by a superuser stays allowed.  The messages never show the value.  It
 * may run in the postmaster and at session start: no catalog access here.
 */
bool
nl_api_secret_check_hook(char **newval, void **extra, GucSource source)
{
	static int	preloaded = -1;

	if (preloaded < 0)
		preloaded = process_shared_preload_libraries_in_progress ? 1 : 0;

	switch (source)
	{
		case PGC_S_TEST:
			/* ALTER ROLE / DATABASE ... SET, CREATE FUNCTION ... SET: refuse */
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			GUC_check_errmsg("nicelogin.api_secret cannot be set per role, per database or per function");
			GUC_check_errdetail("Such settings are stored in catalogs that other roles can read.");
			GUC_check_errhint("Set nicelogin.api_secret in postgresql.conf, with nicelogin in shared_preload_libraries.");
			return false;
		case PGC_S_GLOBAL:
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
			/*
			 * A copy stored while the library was not loaded, applied at
			 * session start: dropped without a warning to this session's
			 * role; nl_require_api_secret says where it is stored.
			 */
			if (*newval != NULL && (*newval)[0] != '\0')
			{
				/* in place: the buffer is the setting's own malloc'd copy */
				explicit_bzero(*newval, strlen(*newval));
				nl_api_secret_stored = true;
			}
			return true;
		case PGC_S_ENV_VAR:
		case PGC_S_FILE:
		case PGC_S_ARGV:
			if (!preloaded && *newval != NULL && (*newval)[0] != '\0')
			{
				explicit_bzero(*newval, strlen(*newval));
				nl_api_secret_dropped = true;
			}
			else
				nl_api_secret_dropped = false;
			return true;
		case PGC_S_DEFAULT:
			nl_api_secret_dropped = false;
			nl_api_secret_stored = false;
			return true;
		default:
			return true;
	}
}

/*
 * nicelogin.api_secret show hook: superusers see the value, other roles
 * (such as members of pg_read_all_settings) see a mask, or an empty string
 * when no secret is set.
 */
const char *
nl_api_secret_show_hook(void)
{
	if (nl_api_secret == NULL || nl_api_secret[0] == '\0')
		return "";
	if (superuser())
		return nl_api_secret;
	return NL_MASK;
}


/*
 * Masking secrets in the API's error text.
 *
 * A server that echoes what it was sent may return a secret in many forms.
 * At each position of the text we try to match every secret in each of
 * these forms, and replace the longest match by NL_MASK:
 *
 *	- JSON-escaped 0, 1 or 2 times (raw; the request body as sent, or as
 *	  re-escaped by an encoder; a body echoed inside a JSON string).  At each
 *	  level a character may appear unescaped (where JSON allows it), with its
 *	  short escape (\" \\ \/ \b \f \n \r \t), or as \uXXXX in either case
 *	  (characters beyond the BMP as a surrogate pair), so PostgreSQL's
 *	  escape_json form, Python's ensure_ascii form and "\/" for "/" all match,
 *	  in any mix;
 *	- percent-encoded (UTF-8 bytes as %XX in either case, "+" for a space,
 *	  unreserved characters as they are).
 *
 * Each set of alternatives is prefix-free, so a greedy match is exact and
 * the cost is linear in the text for each start position.  A match that
 * fails only because the text ends (a server that truncated its echo) after
 * NL_MASK_MIN_PREFIX characters of a secret masks the rest of the text too.
 */

/* One character of a secret: its bytes in the server encoding, its code point. */
typedef struct NlSecretChar
{
	const char *raw;			/* bytes in the server encoding */
	int			rawlen;
	unsigned char utf8[8];		/* bytes in UTF-8 */
	int			u8len;
	pg_wchar	cp;				/* code point, or the byte for invalid UTF-8 */
} NlSecretChar;

typedef struct NlSecret
{
	NlSecretChar *chars;
	int			nchars;
} NlSecret;

/*
 * Fewest characters of a secret, in a row, that are masked wherever they
 * appear (so a server's shortened echo, "sk_live_4f9a...b9c8d7e", shows at
 * most three in a row).  Words of the message that share four characters
 * with a secret are masked too ("invalid api ********" for a secret that
 * contains "secr"): a price paid for never showing most of a secret.
 */
#define NL_MASK_MIN_FRAGMENT	4

/* Fewest characters of a secret that a truncated echo may show before we mask it. */
#define NL_MASK_MIN_PREFIX		3

/* Deepest JSON escaping matched. */
#define NL_MASK_MAX_LEVEL		2

static int	nl_match_char(const char *t, int len, int pos, pg_wchar cp,
						  const char *raw, int rawlen, int level);

/* Splits a secret into characters, in both encodings. */
static void
nl_secret_split(const char *secret, NlSecret *out)
{
	int			slen = strlen(secret);
	int			n = 0;
	const char *p = secret;

	out->chars = palloc0(sizeof(NlSecretChar) * (slen + 1));
	while (*p)
	{
		NlSecretChar *c = &out->chars[n++];
		int			l = pg_mblen(p);
		char	   *u;
		int			ulen;

		if (l < 1 || l > slen - (p - secret))
			l = 1;
		c->raw = p;
		c->rawlen = l;
		u = pg_server_to_any(p, l, PG_UTF8);
		/* the same pointer (not terminated) when no conversion is needed */
		ulen = (u == p) ? l : (int) strlen(u);
		if (ulen < (int) sizeof(c->utf8) &&
			pg_utf_mblen((const unsigned char *) u) == ulen &&
			pg_utf8_islegal((const unsigned char *) u, ulen))
		{
			c->u8len = ulen;
			memcpy(c->utf8, u, ulen);
			c->cp = utf8_to_unicode((const unsigned char *) u);
		}
		else
		{
			/* not representable: match the raw bytes only */
			c->u8len = 1;
			c->utf8[0] = (unsigned char) *p;
			c->cp = (unsigned char) *p;
		}
		if (u != p)
		{
			explicit_bzero(u, ulen);
			pfree(u);
		}
		p += l;
	}
	out->nchars = n;
}

/* Matches one ASCII character escaped `level` times. */
static int
nl_match_ascii(const char *t, int len, int pos, char ch, int level)
{
	return nl_match_char(t, len, pos, (unsigned char) ch, &ch, 1, level);
}

/* Matches one hex digit of value v (either case) escaped `level` times. */
static int
nl_match_hexdigit(const char *t, int len, int pos, int v, int level)
{
	int			r;

	r = nl_match_ascii(t, len, pos, "0123456789abcdef"[v], level);
	if (r < 0 && v >= 10)
		r = nl_match_ascii(t, len, pos, "0123456789ABCDEF"[v], level);
	return r;
}

/* Matches \uXXXX for a 16-bit unit u, escaped `level` more times. */
static int
nl_match_uescape(const char *t, int len, int pos, unsigned int u, int level)
{
	pos = nl_match_ascii(t, len, pos, '\\', level);
	if (pos >= 0)
		pos = nl_match_ascii(t, len, pos, 'u', level);
	for (int shift = 12; shift >= 0 && pos >= 0; shift -= 4)
		pos = nl_match_hexdigit(t, len, pos, (u >> shift) & 0xF, level);
	return pos;
}

/*
 * Matches one character JSON-escaped `level` times at t[pos]; returns the
 * position after it, or -1.
 */
static int
nl_match_char(const char *t, int len, int pos, pg_wchar cp, const char *raw,
			  int rawlen, int level)
{
	char		shortesc = 0;
	int			r;

	if (pos < 0 || pos >= len)
		return -1;
	if (level == 0)
		return (len - pos >= rawlen && memcmp(t + pos, raw, rawlen) == 0) ?
			pos + rawlen : -1;

	/* unescaped, where JSON allows it */
	if (cp >= 0x20 && cp != '"' && cp != '\\')
	{
		r = nl_match_char(t, len, pos, cp, raw, rawlen, level - 1);
		if (r >= 0)
			return r;
	}

	switch (cp)
	{
		case '"':
			shortesc = '"';
			break;
		case '\\':
			shortesc = '\\';
			break;
		case '/':
			shortesc = '/';
			break;
		case '\b':
			shortesc = 'b';
			break;
		case '\f':
			shortesc = 'f';
			break;
		case '\n':
			shortesc = 'n';
			break;
		case '\r':
			shortesc = 'r';
			break;
		case '\t':
			shortesc = 't';
			break;
	}
	if (shortesc)
	{
		r = nl_match_ascii(t, len, pos, '\\', level - 1);
		if (r >= 0)
			r = nl_match_ascii(t, len, r, shortesc, level - 1);
		if (r >= 0)
			return r;
	}

	if (cp < 0x10000)
		return nl_match_uescape(t, len, pos, cp, level - 1);
	if (cp <= 0x10FFFF)
	{
		unsigned int v = cp - 0x10000;

		r = nl_match_uescape(t, len, pos, 0xD800 + (v >> 10), level - 1);
		return nl_match_uescape(t, len, r, 0xDC00 + (v & 0x3FF), level - 1);
	}
	return -1;
}

/* Matches one character percent-encoded (or as it is, where URLs allow it). */
static int
nl_match_url_char(const char *t, int len, int pos, const NlSecretChar *c)
{
	int			r;

	if (pos >= len)
		return -1;
	if (c->cp == ' ' && t[pos] == '+')
		return pos + 1;
	if (c->cp != '%')
	{
		r = nl_match_char(t, len, pos, c->cp, c->raw, c->rawlen, 0);
		if (r >= 0)
			return r;
	}
	r = pos;
	for (int i = 0; i < c->u8len && r >= 0; i++)
	{
		r = nl_match_ascii(t, len, r, '%', 0);
		if (r >= 0)
			r = nl_match_hexdigit(t, len, r, c->utf8[i] >> 4, 0);
		if (r >= 0)
			r = nl_match_hexdigit(t, len, r, c->utf8[i] & 0xF, 0);
	}
	return r;
}

/*
 * True when what follows a failed match can be the end of a truncated echo:
 * at most a cut escape sequence, then nothing, or an ellipsis ("..." or
 * U+2026) followed only by quotes, spaces or closing brackets.
 */
static bool
nl_tail_is_truncation(const char *t, int len)
{
	int			i = 0;

	if (i < len && (t[i] == '\\' || t[i] == '%'))
	{
		while (i < len && i < 14 &&
			   (t[i] == '\\' || t[i] == '%' || t[i] == 'u' || t[i] == 'U' ||
				isxdigit((unsigned char) t[i])))
			i++;
	}
	if (i == len)
		return true;
	if (len - i >= 3 && memcmp(t + i, "...", 3) == 0)
		i += 3;
	else if (len - i >= 3 && memcmp(t + i, "\xE2\x80\xA6", 3) == 0)
		i += 3;
	else
		return false;
	for (; i < len; i++)
	{
		if (strchr(". \"'}])\\", t[i]) == NULL)
			return false;
	}
	return true;
}

/*
 * Length of the longest form of secret s at t[pos], or 0.  A truncated echo
 * counts as a match to the end of the text.
 */
static int
nl_match_secret(const char *t, int len, int pos, const NlSecret *s)
{
	int			best = 0;
	int			min_fragment = Min(NL_MASK_MIN_FRAGMENT, s->nchars);

	for (int mode = 0; mode <= NL_MASK_MAX_LEVEL + 1; mode++)
	{
		/*
		 * The whole secret, or any run of at least NL_MASK_MIN_FRAGMENT of
		 * its characters (from any position: servers that shorten a long
		 * value to its start and end, "sk_live_4f9a...b9c8d7e", echo two).
		 */
		for (int first = 0; first < s->nchars; first++)
		{
			int			p = pos;
			int			k;

			for (k = first; k < s->nchars; k++)
			{
				const NlSecretChar *c = &s->chars[k];
				int			r;

				if (mode <= NL_MASK_MAX_LEVEL)
					r = nl_match_char(t, len, p, c->cp, c->raw, c->rawlen, mode);
				else
					r = nl_match_url_char(t, len, p, c);
				if (r < 0)
					break;
				p = r;
			}
			if (first == 0 && k < s->nchars &&
				k >= Min(NL_MASK_MIN_PREFIX, s->nchars) &&
				nl_tail_is_truncation(t + p, len - p))
				p = len;
			else if (k - first < min_fragment)
				continue;
			best = Max(best, p - pos);
		}
	}
	return best;
}

/* text with every form of every secret replaced by NL_MASK; text is wiped. */
char *
nl_mask_secrets(char *text, const char *const *secrets, int nsecrets)
{
	NlSecret   *split = palloc0(sizeof(NlSecret) * Max(nsecrets, 1));
	int			len = strlen(text);
	StringInfoData out;
	int			pos = 0;
	bool		any = false;

	for (int i = 0; i < nsecrets; i++)
	{
		if (secrets[i] != NULL && secrets[i][0] != '\0')
		{
			nl_secret_split(secrets[i], &split[i]);
			any = true;
		}
	}
	if (!any)
		return text;

	initStringInfo(&out);
	enlargeStringInfo(&out, len + 1);
	while (pos < len)
	{
		int			best = 0;

		/* the text is the API's (at most the HTTP size cap): stay cancellable */
		if ((pos & 1023) == 0)
			CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < nsecrets; i++)
		{
			if (split[i].nchars > 0)
				best = Max(best, nl_match_secret(text, len, pos, &split[i]));
		}
		if (best > 0)
		{
			appendStringInfoString(&out, NL_MASK);
			pos += best;
		}
		else
			appendStringInfoChar(&out, text[pos++]);
	}
	for (int i = 0; i < nsecrets; i++)
	{
		if (split[i].chars != NULL)
			pfree(split[i].chars);
	}
	pfree(split);
	explicit_bzero(text, len);
	pfree(text);
	return out.data;
}
