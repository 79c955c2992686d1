/*
 * sharedcache.c
 *		Verified tokens shared by all backends of the server: the second
 *		level behind each backend's token cache (tokencache.c).
 *
 * With nicelogin in shared_preload_libraries, a fixed array of
 * nicelogin.shared_token_cache_size entries lives in shared memory, split in
 * up to NL_SHARED_PARTITIONS partitions, each with its own LWLock, hash
 * chains and CLOCK hand.  A backend that misses its own cache looks here
 * before verifying; a hit is copied into its own cache.  Only valid verdicts
 * are inserted (one may become revoked or user_deactivated when the lists
 * are looked up again, below): refusals stay per backend, so a flood of
 * distinct bad tokens cannot push valid entries out.
 *
 * An entry is the answer for one token under one "context", with the
 * "lists epoch" its lists answer was made under:
 *
 * - token: SHA-256 of the exact token bytes, its length, and the database;
 * - context: SHA-256 of the verification settings that decide the verdict
 *   (require_exp, leeway, issuer, audience, max_token_length) and of the text
 *   of the key set the verdict was made with (keycache.c).  Sessions with
 *   other settings, or a backend that has loaded another key set, never take
 *   it: a key change is a full miss;
 * - epoch: a counter per database (NL_SHARED_EPOCH_SLOTS slots hashed by
 *   database OID: a collision only costs extra lookups), which a backend
 *   reads before it takes the fresh snapshot of its lookup in the
 *   deactivated users and revocations (nl_stamp_take), and stores with the
 *   answer.  A transaction that fired the invalidation trigger of one of the
 *   extension's tables increments it at commit, in the commit callback,
 *   which runs once the transaction is visible to every new snapshot and
 *   before the commit returns: so a lists answer whose epoch is still
 *   current was looked up with a snapshot that sees every committed change,
 *   whoever looks, whenever it connected.
 *
 * The two halves of an answer age differently.  The signature and claims
 * verdict (and the claims) depend only on the token and the context, which
 * a lookup matches exactly: it never ages.  The lists answer (valid, revoked
 * or user_deactivated) is current only under its epoch.  So a lookup whose
 * entry has an older epoch is a "signature hit": the backend looks the lists
 * up again (nl_lists_check: three index probes, no signature), exactly as a
 * miss would after verifying, with the epoch read before that lookup's fresh
 * snapshot, and stores the new answer with that epoch in the entry
 * (nl_sharedcache_refresh, unless the entry already holds a newer one).  A
 * refreshed entry is then what a fresh insert would be: the argument above
 * holds for it unchanged, and a change to the lists costs one lookup per
 * token in use, made by the first backend that needs it, never a signature.
 * A revoked or deactivated answer is stored the same way, so the others
 * refuse that token at once; only a full verification inserts, and only
 * valid verdicts (refusals stay per backend, see above).
 *
 * Nothing commits on a hot standby: there the backends increment the epoch
 * when they process a replayed invalidation of the lists (revocation.c, also
 * for invalidations processed before the tables' OIDs were known), and a
 * backend takes the lists answer only of entries tagged after its own first
 * use of the cache (start_seq), since it may have connected after an
 * invalidation that no backend had processed yet; an older one is a
 * signature hit, looked up again and tagged with a start sequence read after
 * this backend's.  The same holds from the first PREPARE TRANSACTION that
 * changed a table until the next restart (the change becomes visible at a
 * COMMIT PREPARED, without the commit callback of the transaction that made
 * it).  A backend processes pending invalidations at the start of each
 * statement, before its lookup (verify.c).  The one check of an epoch and a
 * start sequence is nl_stamp_check() (verify.c), the same as for answers
 * kept per backend.
 *
 * exp (with the session's leeway, which is part of the context) and nbf are
 * checked on every hit (nl_time_check), and an expired entry counts as a
 * miss, so an entry
 * never outlives its token.  A transaction that has a transaction id (it may
 * have changed the key or list tables, and its fresh snapshots see its own
 * uncommitted changes) neither reads nor fills the shared level.
 *
 * Memory is fixed at server start: sizeof(SharedEntry) (NL_SHARED_DATA_BYTES
 * of claims and email plus about 210 bytes) and 4 to 8 bytes of hash chain heads
 * per entry.  Claims larger than that are not shared (counted as too_large).
 * Locks are held for a hash probe and a copy of at most a few kilobytes,
 * never across anything that can wait or raise.  A backend that dies holding
 * one (kill -9) makes the postmaster reinitialize shared memory: the cache
 * starts empty, as after a restart.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(nicelogin_shared_cache_info);

#define NL_SHARED_EPOCH_SLOTS 64

typedef struct SharedEntry
{
	uint8		token_hash[NL_SHA256_LEN];
	uint8		context[NL_SHA256_LEN];
	Oid			dboid;
	int32		next;			/* next entry of the hash chain, -1 at the end */
	int32		token_len;
	uint16		claims_len;
	uint16		email_len;		/* with its NUL; 0: no email */
	bool		in_use;
	pg_atomic_uint32 referenced;	/* CLOCK bit, set by hits under a shared lock */
	/*
	 * The answer: genuine, its stamp's epoch and start sequence those of its
	 * lists lookup (its generations 0), claims and email NULL (in data).
	 */
	NlVerified	v;
	char		data[NL_SHARED_DATA_BYTES]; /* claims (jsonb), then email */
} SharedEntry;

typedef struct SharedPartition
{
	LWLock	   *lock;
	int			hand;			/* CLOCK hand */
	int			nused;
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 inserts;
	pg_atomic_uint64 evictions;
	char		pad[PG_CACHE_LINE_SIZE];	/* counters of partitions apart */
} SharedPartition;

typedef struct SharedCache
{
	int			nparts;
	int			per_part;		/* entries per partition */
	int			nbuckets;		/* chain heads per partition, a power of 2 */
	pg_atomic_uint64 epochs[NL_SHARED_EPOCH_SLOTS];
	pg_atomic_uint64 start_seq;	/* moved by each backend's first use */
	pg_atomic_uint32 readers_bump;	/* in recovery, or after a PREPARE: see above */
	pg_atomic_uint64 invalidations; /* epoch increments */
	pg_atomic_uint64 too_large;
	SharedPartition parts[NL_SHARED_PARTITIONS];
	/* then int32 heads[nparts][nbuckets], then SharedEntry entries[nparts][per_part] */
} SharedCache;

static SharedCache *shared = NULL;
static int32 *heads_base = NULL;
static SharedEntry *entries_base = NULL;

/* this backend's context digest, and what it was computed from */
static uint8 context_digest[NL_SHA256_LEN];
static bool context_ok = false;
static uint64 context_policy_generation = 0;
static uint64 context_key_generation = 0;

/* this backend's start sequence; 0 until its first use */
static uint64 my_start_seq = 0;

/* this transaction fired the invalidation trigger of one of the tables */
static bool xact_changed = false;

/* a hit's copy, valid until the next lookup */
static MemoryContext hit_cxt = NULL;
static NlVerified hit_result;

static void
layout(int size, int *nparts, int *per_part, int *nbuckets)
{
	/* partitions of at least 64 entries, so that CLOCK has room to choose */
	*nparts = Max(1, Min(size / 64, NL_SHARED_PARTITIONS));
	*per_part = (size + *nparts - 1) / *nparts;
	*nbuckets = 1;
	while (*nbuckets < *per_part)
		*nbuckets *= 2;
}

/* Shared memory to ask for at server start (_PG_init): 0 when the cache is off. */
Size
nl_sharedcache_shmem_size(void)
{
	int			nparts,
				per_part,
				nbuckets;
	Size		size;

	if (nl_shared_token_cache_size == 0)
		return 0;
	layout(nl_shared_token_cache_size, &nparts, &per_part, &nbuckets);
	size = MAXALIGN(sizeof(SharedCache));
	size = add_size(size, MAXALIGN(mul_size(mul_size(nparts, nbuckets), sizeof(int32))));
	size = add_size(size, mul_size(mul_size(nparts, per_part), sizeof(SharedEntry)));
	return size;
}

/*
 * Attaches to the cache at base (NL_SHARED_PARTITIONS locks), and sets it up
 * empty when it is new (not found).
 */
void
nl_sharedcache_shmem_init(void *base, bool found, LWLockPadded *locks)
{
	int			nparts,
				per_part,
				nbuckets;

	layout(nl_shared_token_cache_size, &nparts, &per_part, &nbuckets);
	shared = (SharedCache *) base;
	heads_base = (int32 *) ((char *) base + MAXALIGN(sizeof(SharedCache)));
	entries_base = (SharedEntry *) ((char *) base + MAXALIGN(sizeof(SharedCache)) +
									MAXALIGN(sizeof(int32) * nparts * nbuckets));
	if (found)
		return;

	memset(shared, 0, sizeof(SharedCache));
	shared->nparts = nparts;
	shared->per_part = per_part;
	shared->nbuckets = nbuckets;
	for (int i = 0; i < NL_SHARED_EPOCH_SLOTS; i++)
		pg_atomic_init_u64(&shared->epochs[i], 1);
	pg_atomic_init_u64(&shared->start_seq, 1);
	pg_atomic_init_u32(&shared->readers_bump, 0);
	pg_atomic_init_u64(&shared->invalidations, 0);
	pg_atomic_init_u64(&shared->too_large, 0);
	for (int p = 0; p < nparts; p++)
	{
		SharedPartition *part = &shared->parts[p];

		part->lock = &locks[p].lock;
		pg_atomic_init_u64(&part->hits, 0);
		pg_atomic_init_u64(&part->misses, 0);
		pg_atomic_init_u64(&part->inserts, 0);
		pg_atomic_init_u64(&part->evictions, 0);
	}
	for (int i = 0; i < nparts * nbuckets; i++)
		heads_base[i] = -1;
	for (int i = 0; i < nparts * per_part; i++)
	{
		memset(&entries_base[i], 0, offsetof(SharedEntry, data));
		entries_base[i].next = -1;
		pg_atomic_init_u32(&entries_base[i].referenced, 0);
	}
}

/*
 * After each utility statement (nicelogin's ProcessUtility hook, preloaded
 * only): COMMIT PREPARED makes visible a transaction whose commit callback
 * never ran, possibly prepared before a restart or crash (readers_bump is
 * then 0 again): its own transaction's commit moves the epoch, whatever the
 * prepared one changed.
 */
void
nl_sharedcache_after_utility(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
		xact_changed = true;
}

static inline pg_atomic_uint64 *
epoch_slot(Oid dboid)
{
	return &shared->epochs[hash_uint32((uint32) dboid) % NL_SHARED_EPOCH_SLOTS];
}

/*
 * Whether this transaction may use the shared level: the library is
 * preloaded with a cache, we are in a database, and the transaction has no
 * transaction id (so it has changed none of the extension's tables, and its
 * snapshots see only committed rows).  Parallel workers see the leader's.
 */
bool
nl_sharedcache_usable(void)
{
	if (shared == NULL || !OidIsValid(MyDatabaseId) ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return false;
	if (my_start_seq == 0)
	{
		/* before this backend stores anything: nobody writes here */
		if (RecoveryInProgress() && pg_atomic_read_u32(&shared->readers_bump) == 0)
			pg_atomic_write_u32(&shared->readers_bump, 1);
		my_start_seq = pg_atomic_add_fetch_u64(&shared->start_seq, 1);
		pg_memory_barrier();
	}
	return true;
}

static void
bump_epoch(void)
{
	pg_atomic_fetch_add_u64(epoch_slot(MyDatabaseId), 1);
	pg_atomic_fetch_add_u64(&shared->invalidations, 1);
}

/*
 * The invalidation trigger of a table of the extension fired in this
 * transaction (catalog.c): its commit moves the epoch.
 */
void
nl_sharedcache_note_change(void)
{
	xact_changed = true;
}

/*
 * At commit, once the transaction is visible to every new snapshot (the
 * commit callbacks run after ProcArrayEndTransaction), and before its
 * invalidations are even sent, a transaction that changed the tables moves
 * its database's epoch.  A prepared one becomes visible at a COMMIT PREPARED
 * that may run anywhere: from its PREPARE on, readers move the epoch.
 */
void
nl_sharedcache_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (xact_changed && shared != NULL && OidIsValid(MyDatabaseId))
				bump_epoch();
			xact_changed = false;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact_changed && shared != NULL)
			{
				pg_atomic_write_u32(&shared->readers_bump, 1);
				pg_memory_barrier();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			xact_changed = false;
			break;
		default:
			break;
	}
}

/*
 * A backend processed an invalidation of the lists (or a reset of its
 * caches): when readers move the epoch (in recovery, or after a PREPARE),
 * it moves its database's.  Called from relcache callbacks: touches nothing
 * but counters.
 */
void
nl_sharedcache_bump(void)
{
	if (shared == NULL || !OidIsValid(MyDatabaseId) ||
		pg_atomic_read_u32(&shared->readers_bump) == 0)
		return;
	bump_epoch();
}

/*
 * This database's lists epoch and the start sequence, to tag an answer
 * with: read before the snapshot of the lists lookup is taken (hence the
 * barrier).  0 and 0 without the shared level.
 */
void
nl_sharedcache_tag(uint64 *epoch, uint64 *seq)
{
	*epoch = *seq = 0;
	if (shared == NULL || !OidIsValid(MyDatabaseId))
		return;
	*epoch = pg_atomic_read_u64(epoch_slot(MyDatabaseId));
	*seq = pg_atomic_read_u64(&shared->start_seq);
	pg_memory_barrier();
}

/*
 * What a tag must show for its lists answer to be current here: this
 * database's epoch, and a start sequence of at least *min_seq (this
 * backend's own, when readers move the epoch; else 0).  For
 * nl_stamp_check().
 */
void
nl_sharedcache_current(uint64 *epoch, uint64 *min_seq)
{
	*epoch = *min_seq = 0;
	if (shared == NULL || !OidIsValid(MyDatabaseId))
		return;
	*epoch = pg_atomic_read_u64(epoch_slot(MyDatabaseId));
	if (pg_atomic_read_u32(&shared->readers_bump) != 0)
		*min_seq = my_start_seq;
}

/*
 * The digest of what decides a verdict besides the token and the lists:
 * the settings and the stored key set's text.  Recomputed when either
 * changed.  False when it cannot be computed (then nothing is shared).
 */
static bool
current_context(void)
{
	StringInfoData buf;
	const char *issuer = nl_issuer ? nl_issuer : "";
	const char *audience = nl_audience ? nl_audience : "";
	const uint8 *keys = nl_keycache_digest();

	if (context_ok && context_policy_generation == nl_policy_generation &&
		context_key_generation == nl_keycache_generation())
		return true;
	context_ok = false;
	if (keys == NULL)
		return false;

	initStringInfo(&buf);
	/* every value with its length: no two settings give the same text */
	appendStringInfo(&buf, "nicelogin shared cache 1;require_exp=%d;leeway=%d;max_token_length=%d;"
					 "issuer=%zu:", nl_require_exp ? 1 : 0, nl_leeway, nl_max_token_length,
					 strlen(issuer));
	appendBinaryStringInfo(&buf, issuer, strlen(issuer));
	appendStringInfo(&buf, ";audience=%zu:", strlen(audience));
	appendBinaryStringInfo(&buf, audience, strlen(audience));
	appendStringInfoString(&buf, ";keys=");
	appendBinaryStringInfo(&buf, (const char *) keys, NL_SHA256_LEN);
	context_ok = nl_sha256(buf.data, buf.len, context_digest);
	pfree(buf.data);
	context_policy_generation = nl_policy_generation;
	context_key_generation = nl_keycache_generation();
	return context_ok;
}

/* The token's digest; false when it cannot be computed. */
bool
nl_sharedcache_key(const char *token, int len, NlSharedKey *key)
{
	key->len = len;
	return nl_sha256(token, len, key->hash);
}

static inline SharedPartition *
partition_of(const NlSharedKey *key, int *pindex)
{
	uint32		h;

	memcpy(&h, key->hash, sizeof(h));
	*pindex = h % shared->nparts;
	return &shared->parts[*pindex];
}

static inline int32 *
chain_head(int p, const NlSharedKey *key)
{
	uint32		h;

	memcpy(&h, key->hash + 4, sizeof(h));
	return &heads_base[p * shared->nbuckets + (h & (shared->nbuckets - 1))];
}

static inline SharedEntry *
entry_at(int p, int32 i)
{
	return &entries_base[(Size) p * shared->per_part + i];
}

static inline bool
entry_matches(const SharedEntry *e, const NlSharedKey *key)
{
	return e->in_use && e->dboid == MyDatabaseId && e->token_len == key->len &&
		memcmp(e->token_hash, key->hash, NL_SHA256_LEN) == 0 &&
		memcmp(e->context, context_digest, NL_SHA256_LEN) == 0;
}

/* Is the entry's token within its time at now (the one check, nl_time_check)? */
static inline bool
entry_in_time(const SharedEntry *e, TimestampTz now)
{
	NlResult	r = nl_time_check(&e->v, now);

	return r != NL_EXPIRED && r != NL_NOT_YET_VALID;
}

/*
 * Looks a token up: the verdict made by some backend under this session's
 * context, within its time, or NULL.  The result (claims in a memory
 * context of ours) stays until the next lookup.  *lists_old tells that its
 * lists answer is not current (nl_stamp_check): the caller looks the lists
 * up again and hands the answer to nl_sharedcache_refresh().  Call only
 * when nl_sharedcache_usable(), after processing pending invalidations and
 * getting the keys.
 */
NlVerified *
nl_sharedcache_lookup(const NlSharedKey *key, TimestampTz now, bool *lists_old)
{
	int			p;
	SharedPartition *part;
	bool		found = false;
	SharedEntry copy;

	*lists_old = false;
	if (!current_context())
		return NULL;
	part = partition_of(key, &p);

	LWLockAcquire(part->lock, LW_SHARED);
	for (int32 i = *chain_head(p, key); i >= 0;)
	{
		SharedEntry *e = entry_at(p, i);

		if (entry_matches(e, key))
		{
			if (entry_in_time(e, now))
			{
				memcpy(&copy, e, offsetof(SharedEntry, data) + e->claims_len + e->email_len);
				pg_atomic_write_u32(&e->referenced, 1);
				found = true;
			}
			break;
		}
		i = e->next;
	}
	LWLockRelease(part->lock);

	if (!found)
	{
		pg_atomic_fetch_add_u64(&part->misses, 1);
		return NULL;
	}
	pg_atomic_fetch_add_u64(&part->hits, 1);

	if (hit_cxt == NULL)
		hit_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin shared cache hit",
										ALLOCSET_SMALL_SIZES);
	MemoryContextReset(hit_cxt);
	*lists_old = nl_stamp_check(&copy.v.stamp) != NL_CURRENT;
	hit_result = copy.v;
	hit_result.claims = MemoryContextAlloc(hit_cxt, copy.claims_len);
	memcpy(hit_result.claims, copy.data, copy.claims_len);
	if (copy.email_len > 0)
	{
		hit_result.email = MemoryContextAlloc(hit_cxt, copy.email_len);
		memcpy(hit_result.email, copy.data + copy.claims_len, copy.email_len);
	}
	return &hit_result;
}

/*
 * An answer as a shared entry keeps it: no generation of this backend (its
 * context digest stands for the keys and the settings), no pointer.
 */
static inline void
shared_stamp(NlVerified *v)
{
	v->stamp.key_generation = 0;
	v->stamp.policy_generation = 0;
	v->stamp.lists_generation = 0;
	v->claims = NULL;
	v->email = NULL;
}

/* Unlinks entry i of partition p from its hash chain. */
static void
unlink_entry(int p, int32 i)
{
	SharedEntry *e = entry_at(p, i);
	NlSharedKey k;
	int32	   *link;

	memcpy(k.hash, e->token_hash, NL_SHA256_LEN);
	link = chain_head(p, &k);
	while (*link != i)
	{
		Assert(*link >= 0);
		link = &entry_at(p, *link)->next;
	}
	*link = e->next;
	e->next = -1;
	e->in_use = false;
}

/*
 * The entry to reuse in partition p (its lock held exclusively): a free or
 * expired one, else the first the CLOCK hand finds unreferenced (one whose
 * lists answer is old keeps its signature verdict: it stays in the CLOCK).
 * At most two turns of the hand.
 */
static int32
victim(SharedPartition *part, int p, TimestampTz now, bool *live)
{
	int			n = shared->per_part;

	for (int step = 0; step < 2 * n; step++)
	{
		int32		i = part->hand;
		SharedEntry *e = entry_at(p, i);

		part->hand = (part->hand + 1) % n;
		if (!e->in_use)
		{
			*live = false;
			return i;
		}
		if (nl_time_check(&e->v, now) == NL_EXPIRED)
		{
			*live = false;
			return i;
		}
		if (pg_atomic_read_u32(&e->referenced) != 0)
		{
			pg_atomic_write_u32(&e->referenced, 0);
			continue;
		}
		*live = true;
		return i;
	}
	/* every entry was referenced again meanwhile: take the one under the hand */
	*live = true;
	return part->hand;
}

/*
 * Stores a valid verdict with the tag read before its lists lookup.
 * Call only when nl_sharedcache_usable(), right after the verification, so
 * that the keys and settings are those it used.
 */
void
nl_sharedcache_insert(const NlSharedKey *key, const NlVerified *v, TimestampTz now)
{
	Size		claims_len;
	Size		email_len;
	int			p;
	SharedPartition *part;
	SharedEntry *e = NULL;
	int32		i;
	bool		live = false;
	bool		fresh = false;

	/* the keys or settings it was made with changed meanwhile: not shared */
	if (v->result != NL_VALID || v->claims == NULL ||
		nl_stamp_check(&v->stamp) == NL_OUTDATED || !current_context())
		return;
	claims_len = VARSIZE(v->claims);
	email_len = v->email ? strlen(v->email) + 1 : 0;
	if (claims_len + email_len > NL_SHARED_DATA_BYTES)
	{
		pg_atomic_fetch_add_u64(&shared->too_large, 1);
		return;
	}
	part = partition_of(key, &p);

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	for (i = *chain_head(p, key); i >= 0; i = entry_at(p, i)->next)
	{
		if (entry_matches(entry_at(p, i), key))
		{
			e = entry_at(p, i);
			break;
		}
	}
	if (e == NULL)
	{
		i = victim(part, p, now, &live);
		e = entry_at(p, i);
		if (e->in_use)
			unlink_entry(p, i);
		else
			part->nused++;
		fresh = true;
	}
	memcpy(e->token_hash, key->hash, NL_SHA256_LEN);
	memcpy(e->context, context_digest, NL_SHA256_LEN);
	e->dboid = MyDatabaseId;
	e->token_len = key->len;
	e->v = *v;
	shared_stamp(&e->v);
	e->claims_len = (uint16) claims_len;
	e->email_len = (uint16) email_len;
	memcpy(e->data, v->claims, claims_len);
	if (email_len > 0)
		memcpy(e->data + claims_len, v->email, email_len);
	/* stored cold: a token used once goes before any that was hit */
	pg_atomic_write_u32(&e->referenced, 0);
	if (fresh)
	{
		int32	   *head = chain_head(p, key);

		e->in_use = true;
		e->next = *head;
		*head = i;
	}
	LWLockRelease(part->lock);

	pg_atomic_fetch_add_u64(&part->inserts, 1);
	if (live)
		pg_atomic_fetch_add_u64(&part->evictions, 1);
}

/*
 * A "signature hit" was looked up in the lists again (verify.c): the entry
 * takes that answer and its stamp, read before the lookup's snapshot, if it
 * still holds the same token under the same context and its own tag is not
 * newer (epochs and start sequences only grow).  A revoked or deactivated
 * answer is kept too: it is the answer while the epoch stays, and a later
 * change to the lists is looked up again like any other.
 */
void
nl_sharedcache_refresh(const NlSharedKey *key, const NlVerified *v)
{
	int			p;
	SharedPartition *part;

	if (!v->genuine || v->stamp.shared_epoch == 0 ||
		nl_stamp_check(&v->stamp) == NL_OUTDATED || !current_context())
		return;
	part = partition_of(key, &p);
	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	for (int32 i = *chain_head(p, key); i >= 0;)
	{
		SharedEntry *e = entry_at(p, i);

		if (entry_matches(e, key))
		{
			const NlStamp *old = &e->v.stamp;

			if (v->stamp.shared_epoch > old->shared_epoch ||
				(v->stamp.shared_epoch == old->shared_epoch &&
				 v->stamp.shared_seq > old->shared_seq))
			{
				e->v.result = v->result;
				e->v.stamp = v->stamp;
				shared_stamp(&e->v);
			}
			break;
		}
		i = e->next;
	}
	LWLockRelease(part->lock);
}

/*
 * nicelogin_shared_cache_info(): the shared level's size and counters since
 * server start; capacity 0 (and zeros) when it is off or not preloaded.
 */
Datum
nicelogin_shared_cache_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {0};
	int64		entries = 0,
				hits = 0,
				misses = 0,
				inserts = 0,
				evictions = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (shared != NULL)
	{
		for (int p = 0; p < shared->nparts; p++)
		{
			SharedPartition *part = &shared->parts[p];

			LWLockAcquire(part->lock, LW_SHARED);
			entries += part->nused;
			LWLockRelease(part->lock);
			hits += pg_atomic_read_u64(&part->hits);
			misses += pg_atomic_read_u64(&part->misses);
			inserts += pg_atomic_read_u64(&part->inserts);
			evictions += pg_atomic_read_u64(&part->evictions);
		}
	}
	values[0] = Int32GetDatum(shared ? shared->nparts * shared->per_part : 0);
	values[1] = Int64GetDatum(entries);
	values[2] = Int32GetDatum((int32) sizeof(SharedEntry));
	values[3] = Int64GetDatum(hits);
	values[4] = Int64GetDatum(misses);
	values[5] = Int64GetDatum(inserts);
	values[6] = Int64GetDatum(evictions);
	values[7] = Int64GetDatum(shared ? pg_atomic_read_u64(&shared->too_large) : 0);
	values[8] = Int64GetDatum(shared ? pg_atomic_read_u64(&shared->invalidations) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
