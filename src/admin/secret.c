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
#include "admin/admin.h"

/* What replaces a secret: in SHOW for other roles, and in echoed error texts. */
#define NL_MASK					"********"

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
 * At each position of the text we look for every secret in each of these
 * forms, and replace the longest match by NL_MASK:
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
 * A match is the whole secret, or any run of at least NL_MASK_MIN_FRAGMENT
 * of its characters.  A match that fails only because the text ends (a
 * server that truncated its echo) after NL_MASK_MIN_PREFIX characters of a
 * secret masks the rest of the text too.
 *
 * In linear time.  In each form, the text read from a given position
 * decodes to one sequence of characters (each form is prefix-free: a
 * backslash, or a percent sign, always starts an escape), so the longest run
 * of a secret's characters that starts there is the longest prefix of that
 * sequence that is a substring of the secret.  A suffix automaton of each
 * secret (built once per call, linear in the secret's length) gives it by
 * walking the decoded characters once, with no loop over the secret's
 * start positions.  A walk of NL_MASK_MIN_FRAGMENT characters or more is a
 * match, and the scan resumes after the longest match, so each position
 * costs a bounded amount of work (forms x secrets x the longest escape)
 * plus walks that the mask then skips: in all, about the text's length x
 * forms x secrets, whatever the secrets' lengths.  "+" and " " count as the
 * same character in every form (a little more is masked, never less).
 */

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

/* The forms: JSON-escaped 0 .. NL_MASK_MAX_LEVEL times, then percent-encoded. */
#define NL_MASK_URL_FORM		(NL_MASK_MAX_LEVEL + 1)

/*
 * A character as the matcher compares them: its Unicode code point, with
 * "+" read as " "; a character of the server encoding that has no UTF-8
 * form (it could not be sent to the API, whose bodies are UTF-8) is
 * NL_KEY_NO_UTF8 plus its first byte, matched in the raw form only; a
 * character of the text that is in no secret is NL_KEY_OTHER.
 */
#define NL_KEY_NO_UTF8			0x110000
#define NL_KEY_OTHER			(-2)

static inline int32
nl_key_canon(int32 k)
{
	return k == '+' ? ' ' : k;
}

/* A secret: its characters and their suffix automaton. */
typedef struct NlSecret
{
	int			nchars;
	int32	   *keys;			/* nl_key_canon()'d, nchars of them */
	/* states (at most 2 * nchars), 0 being the initial one */
	int			nstates;
	int		   *len;			/* longest substring that ends in the state */
	int		   *link;			/* suffix link, -1 for the initial state */
	int		   *first_edge;		/* list of the state's transitions, -1: none */
	/* transitions (at most 3 * nchars), found by a hash of (state, key) */
	int			nedges;
	int		   *edge_from;
	int32	   *edge_key;
	int		   *edge_to;
	int		   *edge_next;		/* next transition of the same state */
	int		   *slots;			/* open addressing: an edge index, -1: empty */
	uint32		mask;
} NlSecret;

/*
 * The secrets' characters that are not ASCII, by their bytes in the server
 * encoding: how the raw form of the text is read (no conversion per
 * character of the text).
 */
typedef struct NlRawChars
{
	uint32		mask;			/* size - 1, the size a power of 2 */
	uint64	   *bytes;			/* the bytes and their count packed; 0: empty */
	int32	   *key;
} NlRawChars;

static inline uint32
nl_mix64(uint64 v)
{
	v ^= v >> 33;
	v *= UINT64CONST(0xff51afd7ed558ccd);
	v ^= v >> 33;
	return (uint32) v;
}

/* A character's bytes (at most 7) and their count in one number, never 0. */
static inline uint64
nl_pack_raw(const char *p, int l)
{
	uint64		v = (uint64) l;

	for (int i = 0; i < l; i++)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

static void
nl_raw_add(NlRawChars *r, const char *p, int l, int32 key)
{
	uint64		v;
	uint32		i;

	if (l > 7)
		return;
	v = nl_pack_raw(p, l);
	i = nl_mix64(v) & r->mask;
	while (r->bytes[i] != 0 && r->bytes[i] != v)
		i = (i + 1) & r->mask;
	r->bytes[i] = v;
	r->key[i] = key;
}

static int32
nl_raw_find(const NlRawChars *r, const char *p, int l)
{
	uint64		v;
	uint32		i;

	if (l > 7)
		return NL_KEY_OTHER;
	v = nl_pack_raw(p, l);
	i = nl_mix64(v) & r->mask;
	while (r->bytes[i] != 0)
	{
		if (r->bytes[i] == v)
			return r->key[i];
		i = (i + 1) & r->mask;
	}
	return NL_KEY_OTHER;
}

/* The length of the server-encoding character at p, within the len bytes left. */
static inline int
nl_char_len(const char *p, int len)
{
	int			l = pg_mblen(p);

	return (l < 1 || l > len) ? 1 : l;
}

static inline uint32
nl_edge_hash(int state, int32 key)
{
	return nl_mix64(((uint64) (uint32) state << 32) | (uint32) key);
}

/* The transition of state on key (an edge index), or -1. */
static inline int
nl_sa_find(const NlSecret *s, int state, int32 key)
{
	uint32		i = nl_edge_hash(state, key) & s->mask;
	int			e;

	while ((e = s->slots[i]) >= 0)
	{
		if (s->edge_from[e] == state && s->edge_key[e] == key)
			return e;
		i = (i + 1) & s->mask;
	}
	return -1;
}

static void
nl_sa_add_edge(NlSecret *s, int from, int32 key, int to)
{
	int			e = s->nedges++;
	uint32		i = nl_edge_hash(from, key) & s->mask;

	s->edge_from[e] = from;
	s->edge_key[e] = key;
	s->edge_to[e] = to;
	s->edge_next[e] = s->first_edge[from];
	s->first_edge[from] = e;
	while (s->slots[i] >= 0)
		i = (i + 1) & s->mask;
	s->slots[i] = e;
}

static int
nl_sa_new_state(NlSecret *s, int len)
{
	int			st = s->nstates++;

	s->len[st] = len;
	s->link[st] = -1;
	s->first_edge[st] = -1;
	return st;
}

/* Builds the suffix automaton of s->keys (the textbook online construction). */
static void
nl_sa_build(NlSecret *s)
{
	int			n = s->nchars;
	int			maxstates = 2 * n + 1;
	int			maxedges = 3 * n + 1;
	uint32		nslots = 4;
	int			last;

	while (nslots < (uint32) maxedges * 2)
		nslots <<= 1;
	s->len = palloc(sizeof(int) * maxstates);
	s->link = palloc(sizeof(int) * maxstates);
	s->first_edge = palloc(sizeof(int) * maxstates);
	s->edge_from = palloc(sizeof(int) * maxedges);
	s->edge_key = palloc(sizeof(int32) * maxedges);
	s->edge_to = palloc(sizeof(int) * maxedges);
	s->edge_next = palloc(sizeof(int) * maxedges);
	s->slots = palloc(sizeof(int) * nslots);
	memset(s->slots, -1, sizeof(int) * nslots);
	s->mask = nslots - 1;
	s->nstates = 0;
	s->nedges = 0;
	last = nl_sa_new_state(s, 0);

	for (int i = 0; i < n; i++)
	{
		int32		c = s->keys[i];
		int			cur = nl_sa_new_state(s, s->len[last] + 1);
		int			p = last;

		CHECK_FOR_INTERRUPTS();
		while (p >= 0 && nl_sa_find(s, p, c) < 0)
		{
			nl_sa_add_edge(s, p, c, cur);
			p = s->link[p];
		}
		if (p < 0)
			s->link[cur] = 0;
		else
		{
			int			q = s->edge_to[nl_sa_find(s, p, c)];

			if (s->len[p] + 1 == s->len[q])
				s->link[cur] = q;
			else
			{
				int			clone = nl_sa_new_state(s, s->len[p] + 1);
				int			e;

				for (e = s->first_edge[q]; e >= 0; e = s->edge_next[e])
					nl_sa_add_edge(s, clone, s->edge_key[e], s->edge_to[e]);
				s->link[clone] = s->link[q];
				while (p >= 0 && (e = nl_sa_find(s, p, c)) >= 0 && s->edge_to[e] == q)
				{
					s->edge_to[e] = clone;
					p = s->link[p];
				}
				s->link[q] = clone;
				s->link[cur] = clone;
			}
		}
		last = cur;
	}
}

/*
 * Splits a secret into characters (keys), records its non-ASCII characters
 * in raw, and builds its automaton.
 */
static void
nl_secret_prepare(const char *secret, NlSecret *out, NlRawChars *raw)
{
	int			slen = strlen(secret);
	int			n = 0;
	const char *p = secret;

	out->keys = palloc(sizeof(int32) * (slen + 1));
	while (*p)
	{
		int			l = nl_char_len(p, slen - (p - secret));
		int32		key;

		if ((unsigned char) *p < 0x80)
			key = (unsigned char) *p;
		else
		{
			char	   *u = pg_server_to_any(p, l, PG_UTF8);
			/* the same pointer (not terminated) when no conversion is needed */
			int			ulen = (u == p) ? l : (int) strlen(u);

			if (ulen <= 4 && pg_utf_mblen((const unsigned char *) u) == ulen &&
				pg_utf8_islegal((const unsigned char *) u, ulen))
				key = (int32) utf8_to_unicode((const unsigned char *) u);
			else
				key = NL_KEY_NO_UTF8 + (unsigned char) *p;
			if (u != p)
			{
				explicit_bzero(u, ulen);
				pfree(u);
			}
			nl_raw_add(raw, p, l, key);
		}
		out->keys[n++] = nl_key_canon(key);
		p += l;
	}
	out->nchars = n;
	nl_sa_build(out);
}

static void
nl_secret_free(NlSecret *s)
{
	explicit_bzero(s->keys, sizeof(int32) * s->nchars);
	explicit_bzero(s->edge_key, sizeof(int32) * s->nedges);
	pfree(s->keys);
	pfree(s->len);
	pfree(s->link);
	pfree(s->first_edge);
	pfree(s->edge_from);
	pfree(s->edge_key);
	pfree(s->edge_to);
	pfree(s->edge_next);
	pfree(s->slots);
}

/*
 * Decoders: read one character at t[pos] in a form; return the position
 * after it and set *key, or return -1 (no character of that form here).
 */

/* The raw form: the server encoding's bytes. */
static int
nl_read_raw(const NlRawChars *raw, const char *t, int len, int pos, int32 *key)
{
	int			l;

	if (pos >= len)
		return -1;
	if ((unsigned char) t[pos] < 0x80)
	{
		*key = (unsigned char) t[pos];
		return pos + 1;
	}
	l = nl_char_len(t + pos, len - pos);
	*key = nl_raw_find(raw, t + pos, l);
	return pos + l;
}

static int	nl_read_json(const NlRawChars *raw, const char *t, int len, int pos,
						 int level, int32 *key);

/* Four hex digits (either case), each JSON-escaped `level` times: a 16-bit unit. */
static int
nl_read_hex4(const NlRawChars *raw, const char *t, int len, int pos, int level,
			 uint32 *unit)
{
	*unit = 0;
	for (int i = 0; i < 4; i++)
	{
		int32		k;

		pos = nl_read_json(raw, t, len, pos, level, &k);
		if (pos < 0)
			return -1;
		if (k >= '0' && k <= '9')
			*unit = (*unit << 4) | (k - '0');
		else if (k >= 'a' && k <= 'f')
			*unit = (*unit << 4) | (k - 'a' + 10);
		else if (k >= 'A' && k <= 'F')
			*unit = (*unit << 4) | (k - 'A' + 10);
		else
			return -1;
	}
	return pos;
}

/* \uXXXX, its characters JSON-escaped `level` times; the backslash is read. */
static int
nl_read_uescape_rest(const NlRawChars *raw, const char *t, int len, int pos,
					 int level, uint32 *unit)
{
	int32		k;

	pos = nl_read_json(raw, t, len, pos, level, &k);
	if (pos < 0 || k != 'u')
		return -1;
	return nl_read_hex4(raw, t, len, pos, level, unit);
}

/* One character JSON-escaped `level` times. */
static int
nl_read_json(const NlRawChars *raw, const char *t, int len, int pos, int level,
			 int32 *key)
{
	int32		k;
	uint32		unit;

	if (level == 0)
		return nl_read_raw(raw, t, len, pos, key);

	pos = nl_read_json(raw, t, len, pos, level - 1, &k);
	if (pos < 0)
		return -1;
	if (k != '\\')
	{
		/* unescaped, where JSON allows it */
		if (k == '"' || (k >= 0 && k < 0x20))
			return -1;
		*key = k;
		return pos;
	}

	/* an escape */
	{
		int			after = nl_read_json(raw, t, len, pos, level - 1, &k);

		if (after < 0)
			return -1;
		switch (k)
		{
			case '"':
			case '\\':
			case '/':
				*key = k;
				return after;
			case 'b':
				*key = '\b';
				return after;
			case 'f':
				*key = '\f';
				return after;
			case 'n':
				*key = '\n';
				return after;
			case 'r':
				*key = '\r';
				return after;
			case 't':
				*key = '\t';
				return after;
			default:
				break;
		}
	}
	pos = nl_read_uescape_rest(raw, t, len, pos, level - 1, &unit);
	if (pos < 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
		return -1;
	if (unit >= 0xD800 && unit <= 0xDBFF)
	{
		uint32		low;

		/* a surrogate pair */
		pos = nl_read_json(raw, t, len, pos, level - 1, &k);
		if (pos < 0 || k != '\\')
			return -1;
		pos = nl_read_uescape_rest(raw, t, len, pos, level - 1, &low);
		if (pos < 0 || low < 0xDC00 || low > 0xDFFF)
			return -1;
		*key = (int32) (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
		return pos;
	}
	*key = (int32) unit;
	return pos;
}

/* Two hex digits at t[pos] (either case); -1 when not. */
static inline int
nl_hex2(const char *t, int len, int pos)
{
	int			v = 0;

	if (len - pos < 2)
		return -1;
	for (int i = 0; i < 2; i++)
	{
		char		c = t[pos + i];

		if (c >= '0' && c <= '9')
			v = (v << 4) | (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = (v << 4) | (c - 'A' + 10);
		else
			return -1;
	}
	return v;
}

/* One character percent-encoded, or as it is (where URLs allow it). */
static int
nl_read_url(const NlRawChars *raw, const char *t, int len, int pos, int32 *key)
{
	unsigned char u[4];
	int			n;

	if (pos >= len)
		return -1;
	if (t[pos] != '%')
		return nl_read_raw(raw, t, len, pos, key);
	for (n = 0; n < 4; n++)
	{
		int			b;

		if (pos >= len || t[pos] != '%' || (b = nl_hex2(t, len, pos + 1)) < 0)
			break;
		u[n] = (unsigned char) b;
		pos += 3;
		if (pg_utf_mblen(u) == n + 1)
		{
			n++;
			break;
		}
	}
	if (n == 0 || pg_utf_mblen(u) != n || !pg_utf8_islegal(u, n))
		return -1;
	*key = (int32) utf8_to_unicode(u);
	return pos;
}

/* One character of the text in form `form`. */
static inline int
nl_read_form(const NlRawChars *raw, const char *t, int len, int pos, int form,
			 int32 *key)
{
	int			r;

	if (form == NL_MASK_URL_FORM)
		r = nl_read_url(raw, t, len, pos, key);
	else
		r = nl_read_json(raw, t, len, pos, form, key);
	if (r >= 0)
		*key = nl_key_canon(*key);
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
 * Length in bytes of the longest form of secret s at t[pos], or 0.  A
 * truncated echo counts as a match to the end of the text.
 */
static int
nl_match_secret(const NlRawChars *raw, const char *t, int len, int pos,
				const NlSecret *s)
{
	int			best = 0;
	int			min_fragment = Min(NL_MASK_MIN_FRAGMENT, s->nchars);
	int			min_prefix = Min(NL_MASK_MIN_PREFIX, s->nchars);

	for (int form = 0; form <= NL_MASK_URL_FORM; form++)
	{
		int			state = 0;
		int			walked = 0;
		int			p = pos;
		int			prefix = 0;		/* characters of the secret's start matched */
		int			prefix_end = pos;
		bool		prefix_alive = true;

		for (;;)
		{
			int32		k;
			int			r = nl_read_form(raw, t, len, p, form, &k);
			int			e;

			if (r < 0 || (e = nl_sa_find(s, state, k)) < 0)
				break;
			if (prefix_alive && prefix < s->nchars && s->keys[prefix] == k)
			{
				prefix++;
				prefix_end = r;
			}
			else
				prefix_alive = false;
			state = s->edge_to[e];
			walked++;
			p = r;
			/* a walk is at most as long as the text: stay cancellable */
			if ((walked & 255) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (prefix < s->nchars && prefix >= min_prefix &&
			nl_tail_is_truncation(t + prefix_end, len - prefix_end))
			return len - pos;
		if (walked >= min_fragment)
			best = Max(best, p - pos);
	}
	return best;
}

/* text with every form of every secret replaced by NL_MASK; text is wiped. */
char *
nl_mask_secrets(char *text, const char *const *secrets, int nsecrets)
{
	NlSecret   *split = palloc0(sizeof(NlSecret) * Max(nsecrets, 1));
	NlRawChars	raw;
	int			len = strlen(text);
	StringInfoData out;
	int			pos = 0;
	int			total = 0;
	bool		any = false;

	for (int i = 0; i < nsecrets; i++)
	{
		if (secrets[i] != NULL && secrets[i][0] != '\0')
		{
			total += strlen(secrets[i]);
			any = true;
		}
	}
	if (!any)
		return text;

	/* every non-ASCII character of every secret, at most half full */
	raw.mask = 3;
	while (raw.mask + 1 < (uint32) total * 2)
		raw.mask = (raw.mask << 1) | 1;
	raw.bytes = palloc0(sizeof(uint64) * (raw.mask + 1));
	raw.key = palloc0(sizeof(int32) * (raw.mask + 1));
	for (int i = 0; i < nsecrets; i++)
	{
		if (secrets[i] != NULL && secrets[i][0] != '\0')
			nl_secret_prepare(secrets[i], &split[i], &raw);
	}

	initStringInfo(&out);
	enlargeStringInfo(&out, len + 1);
	while (pos < len)
	{
		int			best = 0;

		/* bounded work per position, see above; the cancel check is cheap */
		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < nsecrets; i++)
		{
			if (split[i].nchars > 0)
				best = Max(best, nl_match_secret(&raw, text, len, pos, &split[i]));
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
		if (split[i].nchars > 0)
			nl_secret_free(&split[i]);
	}
	pfree(split);
	explicit_bzero(raw.bytes, sizeof(uint64) * (raw.mask + 1));
	pfree(raw.bytes);
	pfree(raw.key);
	explicit_bzero(text, len);
	pfree(text);
	return out.data;
}
