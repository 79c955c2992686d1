/*
 * keystore.c
 *		The one path that stores keys: a key set checked and written to
 *		nicelogin_keys (nl_store_jwks), the record of a fetch, the refresh
 *		from NiceLogin (nl_refresh_jwks), and their SQL entry points
 *		nicelogin_set_jwks(), nicelogin_refresh_jwks() and
 *		nicelogin_public_jwks().
 *
 * Every committed change of the keys fires the invalidation trigger
 * (verify/catalog.c), which tells every backend's key cache and PostgREST.
 * On a logical replication subscriber that receives the key table, keys are
 * never stored locally (they would conflict with the publisher's rows):
 * nl_refuse_replicated_keys().
 */
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
#include "catalog/pg_subscription.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(nicelogin_set_jwks);
PG_FUNCTION_INFO_V1(nicelogin_refresh_jwks);
PG_FUNCTION_INFO_V1(nicelogin_public_jwks);

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
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

/*
 * Fetches the JWKS published for nicelogin.api_key (api.c) and stores it.  A
 * failed fetch, an unreadable answer or a set that nl_store_jwks() refuses
 * all raise before the stored keys change.  The one refresh path:
 * nicelogin_refresh_jwks() and the refresh worker.
 */
int
nl_refresh_jwks(const NlExtension *ext, const char *by)
{
	Jsonb	   *jwks;
	int			count;

	/*
	 * Before any request: the tables it writes must be the extension's own,
	 * of a version that has them (nicelogin_jwks_fetch comes with 1.1).
	 */
	(void) nl_member_table(ext, "nicelogin_jwks_fetch", "1.1", NoLock, NULL);
	(void) nl_member_table(ext, "nicelogin_keys", "1.0", NoLock, NULL);

	/* the answer could not be stored where a subscription receives the keys */
	nl_refuse_replicated_keys(ext);
	jwks = nl_api_get_jwks();

	count = nl_store_jwks(jwks, ext);
	nl_record_fetch(ext, by, count);
	return count;
}

/*
 * nicelogin_refresh_jwks() returns integer; the refresh worker calls
 * nl_refresh_jwks() directly.  Both outcomes are recorded for
 * nicelogin_jwks_status().
 */
Datum
nicelogin_refresh_jwks(PG_FUNCTION_ARGS)
{
	char	   *by = GetUserNameFromId(GetSessionUserId(), false);
	MemoryContext cxt = CurrentMemoryContext;
	NlExtension ext;
	int			keys;

	PG_TRY();
	{
		nl_extension_get(&ext);
		keys = nl_refresh_jwks(&ext, by);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		nl_worker_record(false, by, 0, edata->message);
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
	nl_worker_record(true, by, keys, NULL);
	PG_RETURN_INT32(keys);
}
