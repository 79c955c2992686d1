/*
 * nicelogin.c
 *		Module entry: PG_MODULE_MAGIC and _PG_init, which installs every hook;
 *		every nicelogin.* setting; the one owner of nicelogin's shared memory.
 *
 * Each setting is defined here the same way, with the check, assign or show
 * hooks of the file that owns its behaviour (declared in that layer's
 * header); the generations bumped by the assign hooks below tell the caches
 * that a setting changed.  Each part of shared memory is a row of
 * shmem_parts: its name (of the ShmemInitStruct and of its LWLock tranche),
 * its size, its locks and its init function; one request hook and one
 * startup hook serve them all.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "admin/admin.h"
#include "ops/ops.h"

#include <limits.h>

#include "access/xact.h"
#include "commands/dbcommands.h"	/* get_database_name() up to 18 */
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"	/* get_database_name() from 19 */

PG_MODULE_MAGIC;

void		_PG_init(void);

/* verification policy */
bool		nl_require_exp = true;
int			nl_leeway = 30;
char	   *nl_issuer = NULL;
char	   *nl_audience = NULL;
int			nl_max_token_length = 16384;
int			nl_token_cache_size = 128;

/* the request's token */
char	   *nl_token = NULL;
char	   *nl_request_headers = NULL;

/* the NiceLogin API */
char	   *nl_base_url = NULL;
char	   *nl_api_key = NULL;
char	   *nl_api_secret = NULL;
int			nl_http_timeout = 10000;

/* PostgREST */
char	   *nl_postgrest_channel = NULL;

/* the shared token cache (defined only when preloaded) */
int			nl_shared_token_cache_size = 10000;

/* the refresh worker */
char	   *nl_database = NULL;
char	   *nl_worker_role = NULL;
int			nl_refresh_interval = 86400;
int			nl_min_refresh_interval = 60;

/* operations */
bool		nl_track_stats = true;
bool		nl_log_failures = false;

uint64		nl_policy_generation = 1;
uint64		nl_token_generation = 1;
uint64		nl_headers_generation = 1;

/* Assign hooks only note the change; caches compare the generations. */
static void
policy_assign_bool(bool newval, void *extra)
{
	nl_policy_generation++;
}

static void
policy_assign_int(int newval, void *extra)
{
	nl_policy_generation++;
}

static void
policy_assign_string(const char *newval, void *extra)
{
	nl_policy_generation++;
}

static void
token_assign(const char *newval, void *extra)
{
	nl_token_generation++;
}

/*
 * The role that logged in and the database, quoted, for a hint that names
 * where a stored setting comes from; NULL when they cannot be known here.
 * The stored settings applied are those of the role that logged in, even
 * after SET SESSION AUTHORIZATION.  The names come from the catalogs, read
 * only inside a transaction (at session start, and when the library loads at
 * a function's first call, the hook runs in one); the hook also runs where
 * catalog access is not possible (a reload, session_preload_libraries).
 */
static const char *
login_role_name(void)
{
	const char *name = NULL;

	if (IsTransactionState())
		name = GetUserNameFromId(GetAuthenticatedUserId(), true);
	return name != NULL ? quote_identifier(name) : NULL;
}

static const char *
login_database_name(void)
{
	const char *name = NULL;

	if (IsTransactionState() && OidIsValid(MyDatabaseId))
		name = get_database_name(MyDatabaseId);
	return name != NULL ? quote_identifier(name) : NULL;
}

/*
 * nicelogin.token check hook: a request's identity comes from the request.
 * Only the session's own settings are taken: SET, SET LOCAL, set_config()
 * (PGC_S_SESSION), and the options of its connection (PGC_S_CLIENT, chosen
 * by the same client that could SET it a moment later).  A value stored per
 * role, per database, for a function, or in the server configuration
 * (postgresql.conf, ALTER SYSTEM, the command line) would give every session
 * it reaches that token's tenant and user: it is refused when stored
 * (PGC_S_TEST, and PGC_S_FILE for ALTER SYSTEM), and when applied (at
 * session start, at a reload, or when the library loads and takes over a
 * value stored as a placeholder before), with a WARNING there, so that the
 * session starts without an identity.  An empty value is always taken.
 */
static bool
token_check(char **newval, void **extra, GucSource source)
{
	const char *where;
	const char *role;
	const char *db;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	switch (source)
	{
		case PGC_S_DEFAULT:
		case PGC_S_DYNAMIC_DEFAULT:
		case PGC_S_CLIENT:
		case PGC_S_OVERRIDE:
		case PGC_S_INTERACTIVE:
		case PGC_S_SESSION:
			return true;
		case PGC_S_TEST:
			where = "ALTER ROLE ... SET, ALTER DATABASE ... SET or CREATE FUNCTION ... SET";
			break;
		case PGC_S_GLOBAL:
			where = "ALTER ROLE ALL RESET nicelogin.token";
			break;
		case PGC_S_DATABASE:
			db = login_database_name();
			where = psprintf("ALTER DATABASE %s RESET nicelogin.token", db ? db : "...");
			break;
		case PGC_S_USER:
			role = login_role_name();
			where = psprintf("ALTER ROLE %s RESET nicelogin.token", role ? role : "...");
			break;
		case PGC_S_DATABASE_USER:
			role = login_role_name();
			db = login_database_name();
			where = psprintf("ALTER ROLE %s IN DATABASE %s RESET nicelogin.token",
							 role ? role : "...", db ? db : "...");
			break;
		default:
			/* PGC_S_FILE (postgresql.conf, ALTER SYSTEM), PGC_S_ARGV, PGC_S_ENV_VAR */
			where = NULL;
			break;
	}
	GUC_check_errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM);
	GUC_check_errmsg("nicelogin.token can only be set by the session itself");
	GUC_check_errdetail("A value stored per role, per database, for a function or in the server configuration would give every session it reaches that token's identity; a request's identity must come from the request.");
	if (source == PGC_S_TEST)
		GUC_check_errhint("Set it for each request with SET LOCAL nicelogin.token or set_config('nicelogin.token', ..., true) instead of %s.",
						  where);
	else if (where != NULL)
		GUC_check_errhint("The stored value was ignored; remove it with %s.", where);
	else
		GUC_check_errhint("Remove it from the server configuration (postgresql.conf, ALTER SYSTEM RESET nicelogin.token, the command line), and set it for each request with SET LOCAL nicelogin.token.");
	return false;
}

static void
headers_assign(const char *newval, void *extra)
{
	nl_headers_generation++;
}

/*
 * A NOTIFY channel is an identifier: refuse a longer name here, where the
 * superuser sets it, rather than fail every later change of the keys.
 */
static bool
postgrest_channel_check(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A channel name is at most %d bytes long.", NAMEDATALEN - 1);
		return false;
	}
	return true;
}

/*
 * Defines every setting.  preloaded: in shared_preload_libraries, where
 * alone a PGC_POSTMASTER setting can be defined.  nicelogin.api_secret's
 * check hook (secret.c) learns from its first call, for the boot value
 * here, how the library was loaded.
 */
static void
define_settings(bool preloaded)
{
	DefineCustomBoolVariable("nicelogin.require_exp",
							 "Refuses tokens that carry no exp claim.",
							 NULL,
							 &nl_require_exp,
							 true,
							 PGC_SUSET, 0,
							 NULL, policy_assign_bool, NULL);

	DefineCustomIntVariable("nicelogin.leeway",
							"Clock skew allowed when checking exp and nbf.",
							NULL,
							&nl_leeway,
							30, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, policy_assign_int, NULL);

	DefineCustomStringVariable("nicelogin.issuer",
							   "When set, the iss claim every token must carry.",
							   NULL,
							   &nl_issuer,
							   "",
							   PGC_SUSET, 0,
							   NULL, policy_assign_string, NULL);

	DefineCustomStringVariable("nicelogin.audience",
							   "When set, the audience every token's aud claim must contain.",
							   NULL,
							   &nl_audience,
							   "",
							   PGC_SUSET, 0,
							   NULL, policy_assign_string, NULL);

	DefineCustomIntVariable("nicelogin.max_token_length",
							"Longest token accepted; longer ones are refused before any decoding.",
							NULL,
							&nl_max_token_length,
							16384, 256, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, policy_assign_int, NULL);

	DefineCustomIntVariable("nicelogin.token_cache_size",
							"Number of verified tokens each session keeps.",
							NULL,
							&nl_token_cache_size,
							128, 0, 65536,
							PGC_SUSET, 0,
							NULL, policy_assign_int, NULL);

	DefineCustomStringVariable("nicelogin.token",
							   "The current request's token, set by the API layer with SET LOCAL.",
							   "Only the session itself can set it (SET, SET LOCAL, set_config, connection options); values stored per role, per database, for a function or in the server configuration are refused.",
							   &nl_token,
							   "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE,
							   token_check, token_assign, NULL);

	/*
	 * PostgREST's request.headers, which PostgREST sets as a placeholder.
	 * Defining it lets its assign hook tell the RLS helpers when it changed,
	 * so the per-row path never compares the (client-sized) header text.
	 * Flags as a placeholder's: not in SHOW ALL or the sample file.  The
	 * "request" prefix is not reserved: request.jwt.claims, request.method
	 * and the others stay placeholders.
	 */
	DefineCustomStringVariable("request.headers",
							   "The current request's headers as a JSON object, set by PostgREST.",
							   "nicelogin reads the bearer token of its authorization member when nicelogin.token is empty.",
							   &nl_request_headers,
							   "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, headers_assign, NULL);

	DefineCustomStringVariable("nicelogin.base_url",
							   "Base URL of the NiceLogin API.",
							   NULL,
							   &nl_base_url,
							   "https://api.v1.nicelogin.com",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("nicelogin.api_key",
							   "NiceLogin API key of this application.",
							   NULL,
							   &nl_api_key,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("nicelogin.api_secret",
							   "NiceLogin admin API secret; only superusers can set or read it.",
							   NULL,
							   &nl_api_secret,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   nl_api_secret_check_hook, NULL, nl_api_secret_show_hook);

	DefineCustomIntVariable("nicelogin.http_timeout",
							"Time limit for one NiceLogin API call, connection included.",
							NULL,
							&nl_http_timeout,
							10000, 1, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("nicelogin.postgrest_channel",
							   "Channel on which a committed change of the stored keys tells PostgREST to reload its configuration.",
							   "Each transaction that changes nicelogin_keys sends NOTIFY with the payload 'reload config' on it when it commits; when empty, none is sent.",
							   &nl_postgrest_channel,
							   "",
							   PGC_SUSET, 0,
							   postgrest_channel_check, NULL, NULL);

	DefineCustomStringVariable("nicelogin.database",
							   "Database whose nicelogin key set the refresh worker keeps fresh.",
							   NULL,
							   &nl_database,
							   "postgres",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("nicelogin.worker_role",
							   "Role the refresh worker connects as.",
							   "Empty: the bootstrap superuser, refreshing as the extension's owner. "
							   "A role needs LOGIN, SELECT, INSERT and DELETE on nicelogin_keys, INSERT and DELETE on "
							   "nicelogin_jwks_fetch, EXECUTE on "
							   "nicelogin_purge_revocations(), and USAGE on the extension's schema.",
							   &nl_worker_role,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	/*
	 * The intervals' maximum (INT_MAX / 1000 s, about 24 days) keeps every
	 * schedule sum below (int64 ms and µs arithmetic on now + interval) far
	 * from overflowing.
	 */
	DefineCustomIntVariable("nicelogin.jwks_refresh_interval",
							"Time between two scheduled refreshes of the stored JWKS.",
							NULL,
							&nl_refresh_interval,
							86400, 10, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nicelogin.jwks_min_refresh_interval",
							"Shortest time between two refreshes caused by unknown key ids.",
							NULL,
							&nl_min_refresh_interval,
							60, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("nicelogin.track_stats",
							 "Counts verifications and token cache answers for the nicelogin_stats views.",
							 NULL,
							 &nl_track_stats,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("nicelogin.log_failures",
							 "Logs each refused token verification with its reason and the token's kid, alg, iss, sub and jti.",
							 "At most 10 lines a minute per session; the token itself is never logged.",
							 &nl_log_failures,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	if (preloaded)
		DefineCustomIntVariable("nicelogin.shared_token_cache_size",
								"Number of verified tokens kept in shared memory for all sessions.",
								"0 turns the shared cache off.",
								&nl_shared_token_cache_size,
								10000, 0, 1000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
}

/* ---------- shared memory ---------- */

/*
 * One part of nicelogin's shared memory.  A part whose size is 0 is off:
 * nothing is asked for, init is not called.  nlocks LWLocks come in a
 * tranche named as the part; init gets them when the part is new (found
 * false), else NULL, and keeps its pointer to base either way.
 */
typedef struct NlShmemPart
{
	const char *name;
	Size		(*size) (void);
	int			nlocks;
	void		(*init) (void *base, bool found, LWLockPadded *locks);
} NlShmemPart;

static const NlShmemPart shmem_parts[] = {
	{"nicelogin", nl_workerstate_shmem_size, 0, nl_workerstate_shmem_init},
	{"nicelogin stats", nl_stats_shmem_size, 1, nl_stats_shmem_init},
	{"nicelogin shared token cache", nl_sharedcache_shmem_size, NL_SHARED_PARTITIONS,
	nl_sharedcache_shmem_init},
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static void
nl_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < (int) lengthof(shmem_parts); i++)
	{
		const NlShmemPart *part = &shmem_parts[i];
		Size		size = part->size();

		if (size == 0)
			continue;
		RequestAddinShmemSpace(size);
		if (part->nlocks > 0)
			RequestNamedLWLockTranche(part->name, part->nlocks);
	}
}

static void
nl_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < (int) lengthof(shmem_parts); i++)
	{
		const NlShmemPart *part = &shmem_parts[i];
		Size		size = part->size();
		void	   *base;
		bool		found;

		if (size == 0)
			continue;
		base = ShmemInitStruct(part->name, size, &found);
		part->init(base, found,
				   !found && part->nlocks > 0 ? GetNamedLWLockTranche(part->name) : NULL);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ProcessUtility hook (preloaded only): the shared cache looks at COMMIT PREPARED. */
static void
nl_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	nl_sharedcache_after_utility(pstmt);
}

/*
 * Every setting, then the prefix reserved (a nicelogin.* placeholder left
 * over is removed with a WARNING); the callbacks of every backend; with the
 * library in shared_preload_libraries, shared memory, the shared cache's
 * hooks and the refresh worker (never in a binary upgrade: see worker.c).
 */
void
_PG_init(void)
{
	bool		preloaded = process_shared_preload_libraries_in_progress;

	define_settings(preloaded);
	MarkGUCPrefixReserved("nicelogin");

	CacheRegisterRelcacheCallback(nl_keycache_relcache_callback, (Datum) 0);
	CacheRegisterRelcacheCallback(nl_lists_relcache_callback, (Datum) 0);
	RegisterXactCallback(nl_stats_xact_callback, NULL);

	if (!preloaded)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = nl_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = nl_shmem_startup;
	RegisterXactCallback(nl_sharedcache_xact_callback, NULL);
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = nl_process_utility;
	if (!IsBinaryUpgrade)
		nl_worker_register();
}
