/*
 * keycache.c
 *		The key table and its per-backend cache, and the one path that
 *		stores keys.
 *
 * Each backend parses the stored keys once into OpenSSL objects.  A
 * statement trigger on the key table (and on the revocation tables, see
 * revocation.c) queues a relcache invalidation of it; the invalidation is
 * sent at commit (and replayed on hot standbys from the commit record), and
 * our relcache callback only marks the cache stale.  The next verification
 * reloads it, inside a transaction, with a fresh snapshot.  A change of the
 * revocation tables does not touch the keys, nor the other way round.  The
 * hot path never reads a table.
 *
 * Logical replication's apply worker fires row triggers only: row triggers
 * enabled for the replica role call the same function, so a replicated
 * change invalidates exactly as a local commit does.  On a subscriber that
 * receives the key table, keys are never stored locally (they would conflict
 * with the publisher's rows): nl_refuse_replicated_keys().
 */
#include "nicelogin.h"
#include "extension.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "admin/admin.h"
#include "ops/ops.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(nicelogin_invalidate_cache);
PG_FUNCTION_INFO_V1(nicelogin_set_jwks);
PG_FUNCTION_INFO_V1(nicelogin_public_jwks);

static MemoryContext cache_cxt = NULL;	/* everything loaded lives here */
static bool cache_valid = false;
static uint64 cache_generation = 1;

static Oid	keys_relid = InvalidOid;

static NlKeySet *cached_keys = NULL;
static char *cached_text = NULL;	/* the rows cached_keys was parsed from */
static uint8 cached_digest[NL_SHA256_LEN];	/* SHA-256 of cached_text */
static bool cached_digest_ok = false;
static NlKeySet empty_keys;

/*
 * Relcache callback: marks the cache stale; never reads or frees anything.
 * The generation moves only when the reload finds other keys: VACUUM,
 * ANALYZE or REINDEX of the table (which a database owner may run) send an
 * invalidation too, and must not cost every session its token cache.
 * Hence every user of the generation calls nl_keycache_get() first.
 */
static void
relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_relid)
		cache_valid = false;
}

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

void
nl_keycache_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
}

uint64
nl_keycache_generation(void)
{
	return cache_generation;
}

/* NULL when there is none (no keys loaded, or OpenSSL failed). */
const uint8 *
nl_keycache_digest(void)
{
	return cached_digest_ok ? cached_digest : NULL;
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Reads the key table into a JWKS text. */
static char *
read_keys(Relation rel, Snapshot snap)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), "jwk");
	TableScanDesc scan = nl_table_beginscan(rel, snap);
	HeapTuple	tuple;
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"keys\": [");
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		appendStringInfoString(&buf, JsonbToCString(NULL, &DatumGetJsonbP(d)->root, 0));
	}
	appendStringInfoString(&buf, "]}");
	table_endscan(scan);
	return buf.data;
}

/* Turns a list of C strings into a sorted array. */
static char **
sorted_array(List *strings, int *n)
{
	char	  **arr = palloc(sizeof(char *) * Max(list_length(strings), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, strings)
		arr[i++] = lfirst(lc);
	qsort(arr, i, sizeof(char *), cmp_cstring);
	*n = i;
	return arr;
}

/*
 * Loads the keys; cache_valid is already true.  Rows equal to those the
 * cached set was parsed from keep the set (and the generation).
 */
static void
load_cache(const NlExtension *ext)
{
	Relation	keys_rel;
	Snapshot	snap;
	char	   *jwks_text;
	char	   *emsg = NULL;
	char	   *edetail = NULL;

	keys_relid = nl_member_table(ext, "nicelogin_keys", "1.0", NoLock, NULL);

	/* lock first: taking a lock may process invalidations */
	keys_rel = table_open(keys_relid, AccessShareLock);

	snap = nl_register_fresh_snapshot();

	jwks_text = read_keys(keys_rel, snap);
	UnregisterSnapshot(snap);
	/* locks are kept to the end of the transaction, as for any reader */
	table_close(keys_rel, NoLock);

	nl_stats_count(NL_STATS_KEY_LOAD);
	if (cached_keys != NULL && cached_text != NULL && strcmp(jwks_text, cached_text) == 0)
		return;

	nl_stats_count(NL_STATS_KEY_PARSE);
	MemoryContextReset(cache_cxt);
	cached_keys = NULL;
	cached_text = NULL;
	cached_digest_ok = false;
	cache_generation++;

	cached_keys = nl_keyset_load(jwks_text, cache_cxt, false, false, false, &emsg, &edetail);
	if (cached_keys == NULL)
	{
		/* rows written around nicelogin_set_jwks(): fail closed */
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stored keys of nicelogin are not usable, so no token verifies: %s", emsg),
				 edetail ? errdetail_internal("%s", edetail) : 0,
				 errhint("Replace the key set with nicelogin_set_jwks().")));
		cached_keys = &empty_keys;
	}
	cached_text = MemoryContextStrdup(cache_cxt, jwks_text);
	/* part of the shared token cache's context; none if OpenSSL fails */
	cached_digest_ok = nl_sha256(cached_text, strlen(cached_text), cached_digest);
}

const NlKeySet *
nl_keycache_get(Oid fn_oid)
{
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin key cache",
										  ALLOCSET_DEFAULT_SIZES);
	if (!cache_valid)
	{
		NlExtension ext;

		/* an invalidation arriving during the load marks it stale again */
		cache_valid = true;
		PG_TRY();
		{
			/*
			 * The key table is the same since 1.0: verification works on an
			 * installation not yet updated (it only reads, by OID).
			 */
			nl_extension_get(&ext);
			load_cache(&ext);
			if (!cache_valid)
			{
				cache_valid = true;
				load_cache(&ext);
			}
		}
		PG_CATCH();
		{
			cache_valid = false;
			cached_keys = NULL;
			cached_text = NULL;
			cached_digest_ok = false;
			cache_generation++;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return cached_keys;
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
static void notify_postgrest(void);

/* Is relid the extension's nicelogin_keys (by name, and a member)? */
static bool
is_member_key_table(Oid relid)
{
	char	   *name = get_rel_name(relid);

	return name != NULL && strcmp(name, "nicelogin_keys") == 0 &&
		getExtensionOfObject(RelationRelationId, relid) ==
		get_extension_oid("nicelogin", true);
}

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

/* The subscription that receives nicelogin_keys (any one of them), or NULL. */
char *
nl_keys_subscription(const NlExtension *ext)
{
	Oid			relid = nl_member_table(ext, "nicelogin_keys", "1.0", NoLock, NULL);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			subid = InvalidOid;
	char	   *name = NULL;

	rel = table_open(SubscriptionRelRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_subscription_rel_srrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, SubscriptionRelSrrelidSrsubidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		subid = ((Form_pg_subscription_rel) GETSTRUCT(tuple))->srsubid;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(subid))
		return NULL;

	tuple = SearchSysCache1(SUBSCRIPTIONOID, ObjectIdGetDatum(subid));
	if (HeapTupleIsValid(tuple))
	{
		name = pstrdup(NameStr(((Form_pg_subscription) GETSTRUCT(tuple))->subname));
		ReleaseSysCache(tuple);
	}
	else
		name = psprintf("%u", subid);
	return name;
}

/* Raises when a subscription receives nicelogin_keys: keys are the publisher's. */
void
nl_refuse_replicated_keys(const NlExtension *ext)
{
	char	   *sub = nl_keys_subscription(ext);

	if (sub != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nicelogin_keys is replicated from another server by subscription \"%s\"", sub),
				 errdetail("Keys stored here would conflict with the publisher's rows and could stop the subscription."),
				 errhint("Change the keys on the publisher; after a cutover, drop the subscription (DROP SUBSCRIPTION) to manage them here.")));
}

/*
 * The jwk column of the key table, read with snap, as sorted canonical JSON
 * texts (jsonb prints its objects with sorted member names, so equal keys
 * print equally).  public_only: each key's public members only
 * (nl_jwk_public()), a key without any (oct) left out.
 */
static char **
key_table_texts(Oid relid, Snapshot snap, bool public_only, int *n)
{
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), "jwk");
	TableScanDesc scan;
	HeapTuple	tuple;
	List	   *texts = NIL;
	char	  **arr;

	scan = nl_table_beginscan(rel, snap);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);
		Jsonb	   *jwk;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		jwk = DatumGetJsonbP(d);
		if (public_only && (jwk = nl_jwk_public(&jwk->root)) == NULL)
			continue;
		texts = lappend(texts, JsonbToCString(NULL, &jwk->root, VARSIZE(jwk)));
	}
	table_endscan(scan);
	/* locks are kept to the end of the transaction, as for any reader */
	table_close(rel, NoLock);
	arr = sorted_array(texts, n);
	list_free(texts);
	return arr;
}

/* The stored keys, exactly as the latest snapshot has them. */
static char **
stored_key_texts(Oid relid, int *n)
{
	Snapshot	snap;
	char	  **arr;

	/* the caller holds a lock that excludes writers: the latest snapshot is exact */
	snap = nl_register_fresh_snapshot();
	arr = key_table_texts(relid, snap, false, n);
	UnregisterSnapshot(snap);
	return arr;
}

/* The keys of a JWKS that nl_keyset_parse() accepted, as sorted canonical texts. */
static char **
new_key_texts(Jsonb *jwks, int *n)
{
	JsonbValue *keys = getKeyJsonValueFromContainer(&jwks->root, "keys", 4, NULL);
	List	   *texts = NIL;
	char	  **arr;
	int			count;

	Assert(keys != NULL && keys->type == jbvBinary);
	count = JsonContainerSize(keys->val.binary.data);
	for (int i = 0; i < count; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(keys->val.binary.data, i);

		CHECK_FOR_INTERRUPTS();
		texts = lappend(texts, JsonbToCString(NULL, elem->val.binary.data, elem->val.binary.len));
	}
	arr = sorted_array(texts, n);
	list_free(texts);
	return arr;
}

/* Does the table hold exactly the keys of jwks (in any order)? */
static bool
same_keys(Oid relid, Jsonb *jwks)
{
	int			nold,
				nnew;
	char	  **old = stored_key_texts(relid, &nold);
	char	  **new = new_key_texts(jwks, &nnew);

	if (nold != nnew)
		return false;
	for (int i = 0; i < nold; i++)
		if (strcmp(old[i], new[i]) != 0)
			return false;
	return true;
}

/*
 * Validates a JWKS and replaces the stored keys with it, in the current
 * transaction.  The one path by which keys are stored (nicelogin_set_jwks,
 * nicelogin_refresh_jwks, the refresh worker).  A set equal to the stored
 * one writes nothing, so that it invalidates no cache: any role can make the
 * worker refetch (a token with an unknown kid), and an unchanged answer must
 * not cost every session its caches.  Runs its SQL with search_path pinned
 * and every name qualified, whoever calls it.
 */
int
nl_store_jwks(Jsonb *jwks, const NlExtension *ext)
{
	char	   *emsg = NULL;
	char	   *edetail = NULL;
	NlKeySet   *set;
	int			count;
	char	   *table;
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1];
	int			rc;
	int			save_nestlevel;
	Oid			relid;

	/*
	 * First, as statements of ours name the table.  The lock serializes
	 * concurrent replacements: the later one sees the earlier's rows.
	 */
	relid = nl_member_table(ext, "nicelogin_keys", "1.0", ShareRowExclusiveLock, &table);

	set = nl_keyset_load_jsonb(jwks, CurrentMemoryContext, false, false, true, &emsg, &edetail);
	if (set == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", emsg),
				 edetail ? errdetail_internal("%s", edetail) : 0,
				 errhint("The stored keys were not changed.")));
	count = set->nkeys;
	nl_keyset_unload(set);

	nl_refuse_replicated_keys(ext);

	/*
	 * An empty set would refuse every token.  The same rule for every path
	 * (nicelogin_set_jwks, nicelogin_refresh_jwks, the worker); removing
	 * every key on purpose is a DELETE on the table.
	 */
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key set is empty"),
				 errdetail("An empty key set would refuse every token; the stored keys were not changed."),
				 errhint("To remove every key on purpose, run DELETE FROM %s; with the refresh worker running, also unset nicelogin.api_key, or it fetches NiceLogin's keys again.",
						 table)));

	values[0] = JsonbPGetDatum(jwks);

	save_nestlevel = nl_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!same_keys(relid, jwks))
	{
		rc = SPI_execute(psprintf("DELETE FROM %s", table), false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "could not delete from %s: %s", table, SPI_result_code_string(rc));
		/* the key set (HMAC keys: k) is never a constant of a plan */
		rc = nl_spi_execute(psprintf("INSERT INTO %s (kid, kty, alg, use, jwk) "
									 "SELECT k OPERATOR(pg_catalog.->>) 'kid', "
									 "k OPERATOR(pg_catalog.->>) 'kty', "
									 "k OPERATOR(pg_catalog.->>) 'alg', "
									 "k OPERATOR(pg_catalog.->>) 'use', k "
									 "FROM pg_catalog.jsonb_array_elements("
									 "$1 OPERATOR(pg_catalog.->) 'keys') AS k",
									 table),
							 1, argtypes, values, NULL, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not insert into %s: %s", table, SPI_result_code_string(rc));
	}
	SPI_finish();
	nl_unpin_search_path(save_nestlevel);
	return count;
}

/*
 * Records a fetch of the key set in nicelogin_jwks_fetch, in the current
 * transaction (so it commits with the keys it stored, and a rollback takes
 * it back): when, by whom, how many keys.  The same path for
 * nicelogin_refresh_jwks() and the worker.
 */
void
nl_record_fetch(const NlExtension *ext, const char *by, int keys)
{
	char	   *table;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TEXTOID, INT4OID};
	Datum		values[3];
	int			rc;
	int			save_nestlevel;

	(void) nl_member_table(ext, "nicelogin_jwks_fetch", "1.1", RowExclusiveLock, &table);
	values[0] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[1] = CStringGetTextDatum(by);
	values[2] = Int32GetDatum(keys);

	save_nestlevel = nl_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(psprintf("DELETE FROM %s", table), false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not delete from %s: %s", table, SPI_result_code_string(rc));
	rc = nl_spi_execute(psprintf("INSERT INTO %s (fetched_at, fetched_by, keys) "
								 "VALUES ($1, $2, $3)", table),
						3, argtypes, values, NULL, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into %s: %s", table, SPI_result_code_string(rc));
	SPI_finish();
	nl_unpin_search_path(save_nestlevel);
}

Datum
nicelogin_set_jwks(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwks = PG_GETARG_JSONB_P(0);
	NlExtension ext;

	nl_extension_get(&ext);
	PG_RETURN_INT32(nl_store_jwks(jwks, &ext));
}

/*
 * The stored keys as a JWKS of public keys: each key's public members only
 * (nl_jwk_public()), oct keys left out.  What PostgREST's jwt-secret may
 * hold.  Reads the table with the statement's snapshot, without a privilege
 * on it: EXECUTE on this function is the privilege.
 */
Datum
nicelogin_public_jwks(PG_FUNCTION_ARGS)
{
	NlExtension ext;
	char	  **arr;
	int			n;
	StringInfoData buf;

	nl_extension_get(&ext);
	/* sorted: in a stable order, whatever the table's */
	arr = key_table_texts(nl_member_table(&ext, "nicelogin_keys", "1.0", NoLock, NULL),
						  GetActiveSnapshot(), true, &n);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"keys\": [");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, arr[i]);
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
