/*
 * ops.h
 *		Operations: the statistics behind the nicelogin_stats views, the
 *		failure log, and the refresh worker's state in shared memory.  The
 *		bottom layer: every other one may use it, it uses only the JOSE core's
 *		result codes and the settings.
 */
#ifndef NL_OPS_H
#define NL_OPS_H

#include "postgres.h"

#include "access/xact.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "nicelogin.h"
#include "jose/jose.h"

/* ---------- stats.c: counters behind the nicelogin_stats views ---------- */
/*
 * Who answered a verification request: a full verification (a token cache
 * miss) or the per-backend token cache.  A new source (say, a cluster-wide
 * cache's hits) is one more value here (before the count below is taken)
 * and one more OUT column of nicelogin_stats_answers() and of the view, in
 * this order; stats.c needs no change.
 */
typedef enum NlStatsSource
{
	NL_STATS_VERIFIED = 0,
	NL_STATS_CACHED,
	NL_STATS_SHARED				/* the cluster-wide cache (sharedcache.c) */
} NlStatsSource;
#define NL_STATS_NSOURCES (NL_STATS_SHARED + 1)

/*
 * Per-database events that are not answers; one column each in
 * nicelogin_stats_events() and nicelogin_stats_keys, in this order (a new
 * one, say shared cache evictions, is added the same way as a source).
 */
typedef enum NlStatsEvent
{
	NL_STATS_KEY_LOAD = 0,		/* a backend read the key table */
	NL_STATS_KEY_PARSE,			/* ... and found other keys than it had */
	NL_STATS_REFRESH_REQUEST	/* a kid not in the stored set: early refresh asked */
} NlStatsEvent;
#define NL_STATS_NEVENTS (NL_STATS_REFRESH_REQUEST + 1)

/*
 * This backend's counts not yet added to shared memory.  Counting is a
 * plain increment here; stats.c adds them to shared memory at the end of
 * each transaction, before the views are read, and at backend exit.
 */
typedef struct NlStatsPending
{
	bool		any;
	int64		answers[NL_STATS_NSOURCES][NL_NRESULTS];
	int64		events[NL_STATS_NEVENTS];
} NlStatsPending;

extern NlStatsPending nl_stats_pending;

/* Counts one answer with result r from source src. */
static inline void
nl_stats_answer(NlStatsSource src, NlResult r)
{
	if (nl_track_stats)
	{
		nl_stats_pending.answers[src][r]++;
		nl_stats_pending.any = true;
	}
}

/* Counts one event of the current database. */
static inline void
nl_stats_count(NlStatsEvent ev)
{
	if (nl_track_stats)
	{
		nl_stats_pending.events[ev]++;
		nl_stats_pending.any = true;
	}
}

extern Size nl_stats_shmem_size(void);
extern void nl_stats_shmem_init(void *base, bool found, LWLockPadded *locks);
extern void nl_stats_xact_callback(XactEvent event, void *arg);

/* ---------- faillog.c: nicelogin.log_failures ---------- */
/*
 * Logs a refused verification (when nicelogin.log_failures is on, at most
 * NL_LOG_FAILURES_PER_MINUTE a minute per backend).  Never raises for a bad
 * token; never logs the token, its signature or its payload.
 */
/*
 * tok is the token as the verification decoded it, NULL when it was not
 * (too long); nothing is decoded again here.
 */
extern void nl_log_refusal(const NlToken *tok, int len, NlResult r);

/* ---------- workerstate.c: the refresh worker's state, nicelogin_jwks_status() ---------- */
extern Size nl_workerstate_shmem_size(void);
extern void nl_workerstate_shmem_init(void *base, bool found, LWLockPadded *locks);
/* A backend met a kid that is not in the stored set: asks for an early refresh. */
extern void nl_worker_request_refresh(void);
/* Outcome of a refresh (the worker's or nicelogin_refresh_jwks()'s), for nicelogin_jwks_status(). */
extern void nl_worker_record(bool ok, const char *by, int keys, const char *error);
/* The worker's side: requests wake it from nl_worker_attach() on. */
extern void nl_worker_attach(void);
extern bool nl_worker_refresh_requested(void);
extern void nl_worker_clear_request(void);
extern TimestampTz nl_worker_last_attempt(void);
extern void nl_worker_publish(TimestampTz next_refresh_at);

#endif							/* NL_OPS_H */
