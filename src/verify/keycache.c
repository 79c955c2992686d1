/*
 * keycache.c
 *		The stored key set, read from the key table into a per-backend cache.
 *
 * Each backend parses the stored keys once into OpenSSL objects.  A
 * statement trigger on the key table (and on the revocation tables, see
 * revocation.c) queues a relcache invalidation of it (catalog.c); the
 * invalidation is sent at commit (and replayed on hot standbys from the
 * commit record), and our relcache callback only marks the cache stale.  The
 * next verification reloads it, inside a transaction, with a fresh snapshot.
 * A change of the revocation tables does not touch the keys, nor the other
 * way round.  The hot path never reads a table.
 *
 * Logical replication's apply worker fires row triggers only: row triggers
 * enabled for the replica role call the same function, so a replicated
 * change invalidates exactly as a local commit does.  Keys are written by
 * the key store (admin/keystore.c) only.
 */
#include "extension.h"
#include "jose/jose.h"
#include "verify/verify.h"
#include "ops/ops.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

static MemoryContext cache_cxt = NULL;	/* everything loaded lives here */
static bool cache_valid = false;
/* read through nl_keycache_generation() (verify.h); written here only */
uint64		nl_keycache_generation_value = 1;

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
void
nl_keycache_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_relid)
		cache_valid = false;
}

/* NULL when there is none (no keys loaded, or OpenSSL failed). */
const uint8 *
nl_keycache_digest(void)
{
	return cached_digest_ok ? cached_digest : NULL;
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
	nl_keycache_generation_value++;

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
nl_keycache_get(void)
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
			nl_keycache_generation_value++;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return cached_keys;
}

