/*
 * stats.c
 *		Verification statistics: per-database counts of answers by result
 *		and source, and of key events, summed over all backends in shared
 *		memory; the SQL functions behind the nicelogin_stats and
 *		nicelogin_stats_keys views and nicelogin_stats_reset().
 *
 * Counting must cost nothing measurable on the hot path, so a backend only
 * increments its own counters (nl_stats_answer(), nl_stats_count() in
 * ops.h) and adds them to shared memory at the end of each
 * transaction (an xact callback), before it reads the views (so it sees its
 * own counts), and at exit.  Every count is made inside a transaction, so an
 * idle backend has nothing pending.  The flush takes the table's LWLock in
 * shared mode and adds with atomics; only claiming a database's slot and
 * resetting take it exclusively.
 *
 * The shared table has NL_STATS_MAX_DATABASES slots, claimed by databases in
 * the order they first count something; counts of further databases go to
 * one overflow slot (shown with datname NULL).  nicelogin_stats_reset()
 * frees every slot.
 *
 * Without shared_preload_libraries there is no shared memory: each backend
 * keeps a table of its own in the same shape, and the views show this
 * session's counts only (with a NOTICE saying so).
 */
#include "jose/jose.h"
#include "ops/ops.h"

#include "access/xact.h"
#include "commands/dbcommands.h"	/* get_database_name() up to 18 */
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"	/* get_database_name() from 19 */
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(nicelogin_stats_answers);
PG_FUNCTION_INFO_V1(nicelogin_stats_events);
PG_FUNCTION_INFO_V1(nicelogin_stats_reset);

/* Databases counted separately; further ones share the overflow slot. */
#define NL_STATS_MAX_DATABASES 64

typedef struct NlStatsSlot
{
	Oid			dboid;			/* InvalidOid: free (and the overflow slot's) */
	pg_atomic_uint64 answers[NL_STATS_NSOURCES][NL_NRESULTS];
	pg_atomic_uint64 events[NL_STATS_NEVENTS];
} NlStatsSlot;

typedef struct NlStatsTable
{
	LWLock	   *lock;			/* NULL in a backend's own table */
	TimestampTz stats_reset;
	NlStatsSlot overflow;
	NlStatsSlot slots[NL_STATS_MAX_DATABASES];
} NlStatsTable;

NlStatsPending nl_stats_pending;

static NlStatsTable *stats_shared = NULL;	/* in shared memory, when preloaded */
static NlStatsTable *stats_local = NULL;	/* this backend's, when not */
static int	my_slot = -1;		/* index of MyDatabaseId's slot, if known */
static bool exit_callback_registered = false;

static void
slot_init(NlStatsSlot *slot, Oid dboid)
{
	slot->dboid = dboid;
	for (int s = 0; s < NL_STATS_NSOURCES; s++)
		for (int r = 0; r < NL_NRESULTS; r++)
			pg_atomic_init_u64(&slot->answers[s][r], 0);
	for (int e = 0; e < NL_STATS_NEVENTS; e++)
		pg_atomic_init_u64(&slot->events[e], 0);
}

/* Sets up an empty table: every slot free, all counts zero. */
static void
table_init(NlStatsTable *t)
{
	slot_init(&t->overflow, InvalidOid);
	for (int i = 0; i < NL_STATS_MAX_DATABASES; i++)
		slot_init(&t->slots[i], InvalidOid);
	t->stats_reset = GetCurrentTimestamp();
}

static void
slot_zero(NlStatsSlot *slot)
{
	slot->dboid = InvalidOid;
	for (int s = 0; s < NL_STATS_NSOURCES; s++)
		for (int r = 0; r < NL_NRESULTS; r++)
			pg_atomic_write_u64(&slot->answers[s][r], 0);
	for (int e = 0; e < NL_STATS_NEVENTS; e++)
		pg_atomic_write_u64(&slot->events[e], 0);
}

/* Empties a table in use; the caller holds its lock exclusively. */
static void
table_clear(NlStatsTable *t)
{
	slot_zero(&t->overflow);
	for (int i = 0; i < NL_STATS_MAX_DATABASES; i++)
		slot_zero(&t->slots[i]);
	t->stats_reset = GetCurrentTimestamp();
}

Size
nl_stats_shmem_size(void)
{
	return MAXALIGN(sizeof(NlStatsTable));
}

/* Attaches to the shared table at base (one lock), set up empty when new. */
void
nl_stats_shmem_init(void *base, bool found, LWLockPadded *locks)
{
	stats_shared = (NlStatsTable *) base;
	if (found)
		return;
	table_init(stats_shared);
	stats_shared->lock = &locks[0].lock;
}

/* The table counts go to: the shared one, else this backend's own. */
static NlStatsTable *
stats_table(void)
{
	if (stats_shared)
		return stats_shared;
	if (stats_local == NULL)
	{
		stats_local = MemoryContextAllocZero(TopMemoryContext, sizeof(NlStatsTable));
		table_init(stats_local);
	}
	return stats_local;
}

/* Adds the pending counts to slot and clears them. */
static void
add_pending(NlStatsSlot *slot)
{
	for (int s = 0; s < NL_STATS_NSOURCES; s++)
		for (int r = 0; r < NL_NRESULTS; r++)
			if (nl_stats_pending.answers[s][r] != 0)
				pg_atomic_fetch_add_u64(&slot->answers[s][r],
										nl_stats_pending.answers[s][r]);
	for (int e = 0; e < NL_STATS_NEVENTS; e++)
		if (nl_stats_pending.events[e] != 0)
			pg_atomic_fetch_add_u64(&slot->events[e], nl_stats_pending.events[e]);
	memset(&nl_stats_pending, 0, sizeof(nl_stats_pending));
}

/*
 * The slot of this backend's database, claimed if need be; the overflow
 * slot when the table is full.  The caller holds the lock exclusively.
 */
static NlStatsSlot *
claim_slot(NlStatsTable *t)
{
	int			free_slot = -1;

	for (int i = 0; i < NL_STATS_MAX_DATABASES; i++)
	{
		if (t->slots[i].dboid == MyDatabaseId)
		{
			my_slot = i;
			return &t->slots[i];
		}
		if (free_slot < 0 && t->slots[i].dboid == InvalidOid)
			free_slot = i;
	}
	if (free_slot < 0)
		return &t->overflow;
	t->slots[free_slot].dboid = MyDatabaseId;
	my_slot = free_slot;
	return &t->slots[free_slot];
}

static void stats_exit(int code, Datum arg);

/* Adds this backend's pending counts to the table. */
static void
stats_flush(void)
{
	NlStatsTable *t;

	if (!nl_stats_pending.any || !OidIsValid(MyDatabaseId))
		return;
	t = stats_table();
	if (t->lock == NULL)
	{
		add_pending(claim_slot(t));
		return;
	}

	if (!exit_callback_registered)
	{
		before_shmem_exit(stats_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	/* the usual case: our slot is known and still ours (a reset frees slots) */
	LWLockAcquire(t->lock, LW_SHARED);
	if (my_slot >= 0 && t->slots[my_slot].dboid == MyDatabaseId)
	{
		add_pending(&t->slots[my_slot]);
		LWLockRelease(t->lock);
		return;
	}
	LWLockRelease(t->lock);

	LWLockAcquire(t->lock, LW_EXCLUSIVE);
	add_pending(claim_slot(t));
	LWLockRelease(t->lock);
}

/* At backend exit: nothing counted is lost (an open transaction's abort flushes again). */
static void
stats_exit(int code, Datum arg)
{
	stats_flush();
}

/* At the end of each transaction (registered in _PG_init): the counts go to the table. */
void
nl_stats_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			stats_flush();
			break;
		default:
			break;
	}
}

/* A copy of one slot's counts, read without holding the lock for long. */
typedef struct SlotCopy
{
	Oid			dboid;
	bool		overflow;
	uint64		answers[NL_STATS_NSOURCES][NL_NRESULTS];
	uint64		events[NL_STATS_NEVENTS];
} SlotCopy;

static void
copy_slot(SlotCopy *c, NlStatsSlot *slot, bool overflow)
{
	c->dboid = slot->dboid;
	c->overflow = overflow;
	for (int s = 0; s < NL_STATS_NSOURCES; s++)
		for (int r = 0; r < NL_NRESULTS; r++)
			c->answers[s][r] = pg_atomic_read_u64(&slot->answers[s][r]);
	for (int e = 0; e < NL_STATS_NEVENTS; e++)
		c->events[e] = pg_atomic_read_u64(&slot->events[e]);
}

static bool
slot_has_counts(const SlotCopy *c)
{
	for (int s = 0; s < NL_STATS_NSOURCES; s++)
		for (int r = 0; r < NL_NRESULTS; r++)
			if (c->answers[s][r] != 0)
				return true;
	for (int e = 0; e < NL_STATS_NEVENTS; e++)
		if (c->events[e] != 0)
			return true;
	return false;
}

/*
 * Flushes this backend's counts and copies the table: the claimed slots,
 * then the overflow slot if it has counts.  Returns the number of copies.
 */
static int
read_table(SlotCopy *copies, TimestampTz *stats_reset)
{
	NlStatsTable *t;
	int			n = 0;

	if (stats_shared == NULL)
		ereport(NOTICE,
				(errmsg("nicelogin is not in shared_preload_libraries, so its statistics are this session's only"),
				 errhint("Add nicelogin to shared_preload_libraries and restart the server to count across all sessions.")));
	stats_flush();
	t = stats_table();
	if (t->lock)
		LWLockAcquire(t->lock, LW_SHARED);
	for (int i = 0; i < NL_STATS_MAX_DATABASES; i++)
		if (t->slots[i].dboid != InvalidOid)
			copy_slot(&copies[n++], &t->slots[i], false);
	copy_slot(&copies[n], &t->overflow, true);
	if (slot_has_counts(&copies[n]))
		n++;
	*stats_reset = t->stats_reset;
	if (t->lock)
		LWLockRelease(t->lock);
	return n;
}

/* The database name of a copy; false for a database dropped since it counted. */
static bool
copy_datname(const SlotCopy *c, Datum *value, bool *isnull)
{
	char	   *name;

	if (c->overflow)
	{
		*isnull = true;
		return true;
	}
	name = get_database_name(c->dboid);
	if (name == NULL)
		return false;
	*value = DirectFunctionCall1(namein, CStringGetDatum(name));
	*isnull = false;
	return true;
}

/*
 * nicelogin_stats_answers(): one row per database and result: datname,
 * reason, then one count per source (verified, cached, shared), stats_reset.
 */
Datum
nicelogin_stats_answers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SlotCopy   *copies = palloc(sizeof(SlotCopy) * (NL_STATS_MAX_DATABASES + 1));
	TimestampTz stats_reset;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	n = read_table(copies, &stats_reset);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3 + NL_STATS_NSOURCES];
		bool		nulls[3 + NL_STATS_NSOURCES] = {0};

		if (!copy_datname(&copies[i], &values[0], &nulls[0]))
			continue;
		for (int r = 0; r < NL_NRESULTS; r++)
		{
			int			col = 1;

			values[col++] = CStringGetTextDatum(nl_result_name((NlResult) r));
			for (int s = 0; s < NL_STATS_NSOURCES; s++)
				values[col++] = Int64GetDatum((int64) copies[i].answers[s][r]);
			values[col] = TimestampTzGetDatum(stats_reset);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * nicelogin_stats_events(): one row per database: datname, one count per
 * event (key_loads, key_parses, refresh_requests), stats_reset.
 */
Datum
nicelogin_stats_events(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SlotCopy   *copies = palloc(sizeof(SlotCopy) * (NL_STATS_MAX_DATABASES + 1));
	TimestampTz stats_reset;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	n = read_table(copies, &stats_reset);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2 + NL_STATS_NEVENTS];
		bool		nulls[2 + NL_STATS_NEVENTS] = {0};
		int			col = 1;

		if (!copy_datname(&copies[i], &values[0], &nulls[0]))
			continue;
		for (int e = 0; e < NL_STATS_NEVENTS; e++)
			values[col++] = Int64GetDatum((int64) copies[i].events[e]);
		values[col] = TimestampTzGetDatum(stats_reset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * nicelogin_stats_reset(): zeroes every count of every database (this
 * backend's pending ones too) and frees the slots.  EXECUTE is revoked from
 * PUBLIC; a superuser may grant it.
 */
Datum
nicelogin_stats_reset(PG_FUNCTION_ARGS)
{
	NlStatsTable *t = stats_table();

	memset(&nl_stats_pending, 0, sizeof(nl_stats_pending));
	if (t->lock)
		LWLockAcquire(t->lock, LW_EXCLUSIVE);
	table_clear(t);
	if (t->lock)
		LWLockRelease(t->lock);
	my_slot = -1;
	PG_RETURN_VOID();
}
