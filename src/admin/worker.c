/*
 * worker.c
 *		The key refresh background worker.
 *
 * With shared_preload_libraries = 'nicelogin', one worker connects to
 * nicelogin.database and refreshes the stored JWKS every
 * nicelogin.jwks_refresh_interval, and early when a backend met a token whose
 * kid is not in the stored set (backends raise a flag in shared memory and
 * set the worker's latch: workerstate.c; at most one early refresh per
 * nicelogin.jwks_min_refresh_interval, so forged kids cannot hammer the API).
 * Refreshing goes through nl_refresh_jwks() (keystore.c), the same path as
 * nicelogin_refresh_jwks().  Failures back off and are logged; a failed
 * refresh never removes keys.  On a standby the worker stays idle (keys
 * arrive through WAL) and takes over after promotion.  On a logical
 * replication subscriber that receives nicelogin_keys it fetches nothing
 * (the publisher's keys arrive through the subscription; keys stored here
 * would conflict with them and could stop it), says so once in the log, and
 * looks again every minute, so that it takes over within a minute once the
 * subscription is dropped at a cutover.  Expired revocations are purged by
 * the publisher there too (nicelogin_purge_revocations() deletes nothing on
 * a subscriber of that table).
 *
 * Nothing of this runs during a binary upgrade: pg_upgrade starts the
 * servers with shared_preload_libraries, and a worker connected to a
 * database makes the restore into it fail.
 *
 * Without shared_preload_libraries none of this exists and everything else
 * works; nicelogin_jwks_status() then reports only what the key table says.
 */
#include "nicelogin.h"
#include "extension.h"
#include "admin/admin.h"
#include "ops/ops.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void nl_worker_main(Datum arg);

static bool connected_as_role = false;	/* nicelogin.worker_role was set */

/*
 * Registers the worker; _PG_init calls it when the library is preloaded,
 * outside a binary upgrade.
 */
void
nl_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nicelogin");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "nl_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "nicelogin jwks refresh");
	snprintf(worker.bgw_type, BGW_MAXLEN, "nicelogin jwks refresh");
	RegisterBackgroundWorker(&worker);
}

/* What the worker does in a transaction of its own; ext is NULL without the extension. */
typedef int64 (*WorkerTask) (const NlExtension *ext);

/*
 * Runs task in a transaction of its own, with the privileges the worker
 * acts with.  With nicelogin.worker_role set, the worker connects as that
 * role and works with its privileges only.  Otherwise it connects as the
 * bootstrap superuser (a background worker must name a role, and it cannot
 * know the extension's owner before it has connected), and the task runs as
 * the extension's owner, as PostgreSQL runs maintenance as a table's owner:
 * with SECURITY_RESTRICTED_OPERATION (no SET ROLE, no temporary objects).
 * Either way search_path is pinned to pg_catalog, pg_temp (set once for the
 * whole session, above any database or role setting, and again around the
 * task), so that nothing a database owner placed on the path runs with our
 * privilege.  Returns true and the task's result, or false and the error
 * (in loopcxt; the transaction's abort restored the user and the settings).
 */
static bool
worker_run(MemoryContext loopcxt, const char *activity, WorkerTask task,
		   int64 *result, ErrorData **error)
{
	volatile bool ok = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);

	PG_TRY();
	{
		NlExtension ext;
		bool		installed = nl_extension_find(&ext);
		Oid			save_userid;
		int			save_sec_context;
		int			save_nestlevel;

		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(connected_as_role || !installed ? save_userid : ext.owner,
							   save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		save_nestlevel = nl_pin_search_path();
		*result = task(installed ? &ext : NULL);
		nl_unpin_search_path(save_nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(loopcxt);
		*error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();

	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/* refresh_task's answer when a subscription receives the key table */
#define NL_KEYS_REPLICATED (-1)

/* the subscription that receives the key table, as refresh_task last saw it */
static char replicated_by[NAMEDATALEN];

/*
 * Fetches and stores the key set: nl_refresh_jwks(), the path of
 * nicelogin_refresh_jwks().  Fetches nothing when a logical replication
 * subscription receives the key table.
 */
static int64
refresh_task(const NlExtension *ext)
{
	char	   *sub;

	if (ext == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"nicelogin\" is not installed in database \"%s\"", nl_database),
				 errhint("Run CREATE EXTENSION nicelogin there, or set nicelogin.database.")));
	sub = nl_keys_subscription(ext);
	if (sub != NULL)
	{
		strlcpy(replicated_by, sub, NAMEDATALEN);
		return NL_KEYS_REPLICATED;
	}
	/* an installation not yet updated is not written to (extension.c) */
	return nl_refresh_jwks(ext, "refresh worker");
}

/* What one refresh did. */
typedef enum WorkerRefresh
{
	REFRESH_FAILED,
	REFRESH_DONE,
	REFRESH_REPLICATED,			/* a subscription receives the keys: nothing to do */
} WorkerRefresh;

/* One refresh; failures are logged, and a subscriber's first skip. */
static WorkerRefresh
worker_refresh(MemoryContext loopcxt, bool early)
{
	static bool replicated_logged = false;
	int64		keys = 0;
	ErrorData  *edata = NULL;

	if (worker_run(loopcxt, early ? "refreshing JWKS (unknown kid)" : "refreshing JWKS",
				   refresh_task, &keys, &edata))
	{
		if (keys == NL_KEYS_REPLICATED)
		{
			if (!replicated_logged)
				ereport(LOG,
						(errmsg("nicelogin does not refresh the JWKS in database \"%s\": table nicelogin_keys is replicated by subscription \"%s\"",
								nl_database, replicated_by),
						 errdetail("The publisher's keys arrive through the subscription; keys stored here would conflict with them."),
						 errhint("The worker looks again every minute and refreshes once the subscription is dropped.")));
			replicated_logged = true;
			return REFRESH_REPLICATED;
		}
		if (replicated_logged)
			ereport(LOG,
					(errmsg("nicelogin refreshes the JWKS in database \"%s\" again: table nicelogin_keys is no longer replicated",
							nl_database)));
		replicated_logged = false;
		nl_worker_record(true, "refresh worker", (int) keys, NULL);
		ereport(LOG,
				(errmsg("nicelogin refreshed the JWKS: %d keys%s", (int) keys,
						early ? " (early: a token named an unknown kid)" : "")));
		return REFRESH_DONE;
	}
	nl_worker_record(false, NULL, 0, edata->message);
	ereport(LOG,
			(errcode(edata->sqlerrcode),
			 errmsg("nicelogin could not refresh the JWKS: %s", edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ?
			 errhint("%s The stored keys were kept; the worker tries again later.", edata->hint) :
			 errhint("The stored keys were kept; the worker tries again later.")));
	FreeErrorData(edata);
	return REFRESH_FAILED;
}

/* How often the worker deletes expired revocations. */
#define NL_PURGE_INTERVAL_MS (3600 * 1000)

/* Deletes every expired revocation: nicelogin_purge_revocations(). */
static int64
purge_task(const NlExtension *ext)
{
	Oid			no_args[1] = {InvalidOid};
	Oid			purge;

	if (ext == NULL)
		return 0;
	/* the member function (1.0 has it, with 1.0's rule), by OID */
	purge = nl_member_function(ext, "nicelogin_purge_revocations", 0, no_args, "1.0");
	return DatumGetInt64(OidFunctionCall0(purge));
}

/* One purge; failures are logged. */
static void
worker_purge(MemoryContext loopcxt)
{
	int64		purged = 0;
	ErrorData  *edata = NULL;

	if (worker_run(loopcxt, "purging expired revocations", purge_task, &purged, &edata))
	{
		if (purged > 0)
			ereport(LOG,
					(errmsg("nicelogin purged %lld expired revocations", (long long) purged)));
		return;
	}
	ereport(LOG,
			(errcode(edata->sqlerrcode),
			 errmsg("nicelogin could not purge expired revocations: %s", edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ?
			 errhint("%s The worker tries again in an hour.", edata->hint) :
			 errhint("The worker tries again in an hour.")));
	FreeErrorData(edata);
}

/* Settings the worker pins, whatever the database's and role's settings say. */
static const char *const worker_settings[][2] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
#if PG_VERSION_NUM >= 170000
	/* new in PostgreSQL 17 */
	{"transaction_timeout", "0"},
#endif
};

void
nl_worker_main(Datum arg)
{
	MemoryContext loopcxt;
	int64		backoff_ms = 0;
	TimestampTz next_at = 0;	/* first refresh at once */
	TimestampTz next_purge_at = 0;	/* first purge at once */

	/* never registered then (_PG_init); exit 0 unregisters it */
	if (IsBinaryUpgrade)
		proc_exit(0);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	connected_as_role = nl_worker_role != NULL && nl_worker_role[0] != '\0';
	BackgroundWorkerInitializeConnection(nl_database,
										 connected_as_role ? nl_worker_role : NULL, 0);

	/*
	 * The database's and the role's settings were applied at connection; a
	 * database owner who is not a superuser can set there anything a user
	 * may set: search_path (to run its own operators with our privilege),
	 * or settings that make every refresh fail (a read-only default, a
	 * timeout of a millisecond), which would stop key rotation for good.
	 * PGC_S_OVERRIDE ranks above them, also at later configuration reloads.
	 * (nicelogin.http_timeout is superuser-only for that reason.)
	 */
	for (int i = 0; i < (int) lengthof(worker_settings); i++)
		SetConfigOption(worker_settings[i][0], worker_settings[i][1], PGC_SUSET, PGC_S_OVERRIDE);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "nicelogin worker loop",
									ALLOCSET_DEFAULT_SIZES);

	nl_worker_attach();

	if (connected_as_role)
		ereport(LOG, (errmsg("nicelogin jwks refresh worker started for database \"%s\" as role \"%s\"",
							 nl_database, nl_worker_role)));
	else
		ereport(LOG, (errmsg("nicelogin jwks refresh worker started for database \"%s\"", nl_database)));
	nl_log_secret_problems();

	for (;;)
	{
		TimestampTz now;
		long		wait_ms;
		bool		requested;
		bool		standby;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			char	   *old_database = pstrdup(nl_database);
			char	   *old_role = pstrdup(nl_worker_role);

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(old_database, nl_database) != 0 ||
				strcmp(old_role, nl_worker_role) != 0)
			{
				/* the postmaster restarts us, connected anew */
				ereport(LOG,
						(errmsg("nicelogin jwks refresh worker restarts: nicelogin.database or nicelogin.worker_role changed")));
				proc_exit(1);
			}
			pfree(old_database);
			pfree(old_role);
		}
		MemoryContextReset(loopcxt);

		now = GetCurrentTimestamp();
		standby = RecoveryInProgress();
		requested = nl_worker_refresh_requested();

		if (!standby)
		{
			bool		early_ok;

			early_ok = requested &&
				now >= TimestampTzPlusMilliseconds(nl_worker_last_attempt(),
												   (int64) nl_min_refresh_interval * 1000);

			if (now >= next_at || early_ok)
			{
				bool		early = early_ok && now < next_at;
				WorkerRefresh done;

				nl_worker_clear_request();
				done = worker_refresh(loopcxt, early);
				if (done == REFRESH_REPLICATED)
				{
					/* the publisher refreshes; look again in a minute */
					backoff_ms = 0;
					next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  Min((int64) nl_refresh_interval * 1000, 60000));
				}
				else if (done == REFRESH_DONE)
				{
					/*
					 * Requests raised while we fetched were judged against the
					 * old keys; the commit made every backend drop them and
					 * re-verify, and a kid still unknown raises a new request.
					 */
					nl_worker_clear_request();
					backoff_ms = 0;
					next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  (int64) nl_refresh_interval * 1000);
				}
				else
				{
					/* 10 s, 20 s, 40 s, ... up to the refresh interval */
					backoff_ms = backoff_ms == 0 ? 10000 : Min(backoff_ms * 2, (int64) nl_refresh_interval * 1000);
					next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff_ms);
				}
				now = GetCurrentTimestamp();
				requested = nl_worker_refresh_requested();
			}
		}

		if (!standby && now >= next_purge_at)
		{
			worker_purge(loopcxt);
			now = GetCurrentTimestamp();
			next_purge_at = TimestampTzPlusMilliseconds(now, NL_PURGE_INTERVAL_MS);
		}

		nl_worker_publish(standby ? 0 : next_at);

		/* sleep until the next refresh, an early request, or a minute at most */
		if (standby)
			wait_ms = 5000;		/* look for a promotion now and then */
		else
		{
			TimestampTz wake = next_at;

			if (requested)
				wake = Min(wake, TimestampTzPlusMilliseconds(nl_worker_last_attempt(),
															 (int64) nl_min_refresh_interval * 1000));
			wake = Min(wake, next_purge_at);
			wait_ms = (long) Max((wake - now) / 1000, 0);
			wait_ms = Min(wait_ms, 60000L);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
	}
}
