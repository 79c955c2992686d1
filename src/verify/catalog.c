/*
 * catalog.c
 *		How the caches learn that the extension's tables changed, and see
 *		them as committed: the invalidation trigger, invalidations accepted
 *		once per statement, and the fresh snapshot every read of those
 *		tables takes.
 *
 * A statement trigger on each of the extension's tables (and a row trigger
 * enabled for the replica role) queues a relcache invalidation of the table:
 * sent at commit to every backend, replayed on hot standbys from the commit
 * record.  The caches' relcache callbacks (keycache.c, revocation.c) only
 * mark them stale; they reload inside a transaction, with a fresh snapshot.
 */
#include "nicelogin.h"
#include "extension.h"
#include "verify/verify.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "storage/procarray.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(nicelogin_invalidate_cache);

/*
 * A fresh MVCC snapshot, registered: the latest committed state.  It sees
 * every commit whose invalidation we have processed, and our own
 * transaction's changes.  GetLatestSnapshot() refuses in a parallel
 * operation, and the active snapshot there may be the transaction's (under
 * REPEATABLE READ, from before a revocation the leader already sees); a
 * parallel worker must see the same latest state, so there we take one
 * ourselves.  Only ever used to read the extension's tables, never to
 * answer a query.
 */
Snapshot
nl_register_fresh_snapshot(void)
{
	static SnapshotData fresh;	/* zeroed: SNAPSHOT_MVCC, arrays made on first use */

	if (!IsInParallelMode())
		return RegisterSnapshot(GetLatestSnapshot());
	return RegisterSnapshot(GetSnapshotData(&fresh));
}

/*
 * Processes pending invalidations once per statement.  PostgreSQL does so
 * when a statement takes a lock it does not hold yet; an EXECUTE of a
 * prepared statement or a PL/pgSQL statement whose locks the transaction
 * already holds would otherwise keep answering from before a committed
 * revocation for the rest of the transaction.
 */
void
nl_accept_invalidations(void)
{
	static TimestampTz last_statement = 0;
	static TimestampTz last_xact = 0;
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	TimestampTz xact = GetCurrentTransactionStartTimestamp();

	if (stmt != last_statement || xact != last_xact)
	{
		last_statement = stmt;
		last_xact = xact;
		AcceptInvalidationMessages();
	}
}

/*
 * Is relid the extension's nicelogin_keys: of that name, and a member of the
 * extension (found as everywhere, nl_extension_find())?
 */
static bool
is_member_key_table(Oid relid)
{
	char	   *name = get_rel_name(relid);
	NlExtension ext;

	return name != NULL && strcmp(name, "nicelogin_keys") == 0 &&
		nl_extension_find(&ext) &&
		getExtensionOfObject(RelationRelationId, relid) == ext.oid;
}

/*
 * Tells PostgREST to reload its configuration (and so, through its
 * db-pre-config function, nicelogin_public_jwks()) once this transaction
 * commits: NOTIFY on nicelogin.postgrest_channel with PostgREST's payload.
 * PostgreSQL's NOTIFY is transactional: sent at commit only, dropped with a
 * rolled-back (sub)transaction, and the same channel and payload queued
 * twice in one transaction are sent once.  So each committed change of the
 * keys sends one notification, however many statements or rows it took.
 */
static void
notify_postgrest(void)
{
	if (nl_postgrest_channel == NULL || nl_postgrest_channel[0] == '\0')
		return;
	Async_Notify(nl_postgrest_channel, "reload config");
}

/*
 * Trigger on the extension's tables: a statement trigger (every local
 * change) and a row trigger enabled for the replica role (logical
 * replication's apply worker, which fires row triggers only) call it.  Queues
 * a relcache invalidation of the table, sent to every backend at commit and
 * WAL-logged for standbys, and moves the shared cache's epoch at commit.
 * Per row, repeats cost a syscache lookup: inval.c keeps one message per
 * relation and transaction.  A change of the key table also queues
 * PostgREST's reload notification (notify_postgrest()): every committed
 * change of the keys passes here (nicelogin_set_jwks, nicelogin_refresh_jwks,
 * the refresh worker, SQL on the table, logical apply).
 */
Datum
nicelogin_invalidate_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nicelogin_invalidate_cache() must be called as a trigger")));
	relid = RelationGetRelid(trigdata->tg_relation);
	CacheInvalidateRelcacheByRelid(relid);
	nl_sharedcache_note_change();
	if (is_member_key_table(relid))
		notify_postgrest();
	/* an AFTER trigger's result is ignored, a row trigger's included */
	return PointerGetDatum(NULL);
}
