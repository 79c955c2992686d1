/*
 * workerstate.c
 *		The refresh worker's state in shared memory: backends' requests for an
 *		early refresh, the outcome of the last refreshes, the worker's
 *		schedule; nicelogin_jwks_status() reads it.
 *
 * Everyone reaches it through the few functions of ops.h: backends that met
 * an unknown kid (nl_worker_request_refresh()), both refresh paths
 * (nl_worker_record(): the worker and nicelogin_refresh_jwks()), and the
 * worker itself (worker.c), which is the only one to wait on it.  Without
 * shared_preload_libraries it does not exist: requests and records are
 * dropped, and nicelogin_jwks_status() returns NULLs.
 */
#include "ops/ops.h"

#include "access/htup_details.h"	/* heap_form_tuple() from 19 */
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(nicelogin_jwks_status);

#define NL_ERROR_LEN 512

typedef struct WorkerState
{
	slock_t		mutex;
	pg_atomic_uint32 refresh_requested;	/* a backend met an unknown kid */
	Latch	   *worker_latch;
	pid_t		worker_pid;
	TimestampTz last_attempt_at;
	TimestampTz last_fetch_at;
	char		last_fetch_by[NAMEDATALEN];
	int			last_fetch_keys;
	TimestampTz last_error_at;
	char		last_error[NL_ERROR_LEN];
	TimestampTz next_refresh_at;
	int64		refreshes;
	int64		failures;
} WorkerState;

static WorkerState *state = NULL;

Size
nl_workerstate_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkerState));
}

void
nl_workerstate_shmem_init(void *base, bool found, LWLockPadded *locks)
{
	state = (WorkerState *) base;
	if (found)
		return;
	memset(state, 0, sizeof(WorkerState));
	SpinLockInit(&state->mutex);
	pg_atomic_init_u32(&state->refresh_requested, 0);
}

/*
 * A backend met a token whose kid is not in the stored set: ask the worker
 * for an early refresh.  Cheap and lock-free; only the first request since
 * the last refresh sets the worker's latch.
 */
void
nl_worker_request_refresh(void)
{
	Latch	   *latch;

	if (state == NULL)
		return;
	if (pg_atomic_exchange_u32(&state->refresh_requested, 1) != 0)
		return;
	SpinLockAcquire(&state->mutex);
	latch = state->worker_latch;
	SpinLockRelease(&state->mutex);
	if (latch)
		SetLatch(latch);
}

/* Records the outcome of a refresh, by the worker or by nicelogin_refresh_jwks(). */
void
nl_worker_record(bool ok, const char *by, int keys, const char *error)
{
	TimestampTz now = GetCurrentTimestamp();

	if (state == NULL)
		return;
	SpinLockAcquire(&state->mutex);
	state->last_attempt_at = now;
	if (ok)
	{
		state->last_fetch_at = now;
		strlcpy(state->last_fetch_by, by, NAMEDATALEN);
		state->last_fetch_keys = keys;
		state->refreshes++;
	}
	else
	{
		state->last_error_at = now;
		strlcpy(state->last_error, error ? error : "unknown error", NL_ERROR_LEN);
		state->failures++;
	}
	SpinLockRelease(&state->mutex);
}

/* The worker is going away: nobody to wake any more. */
static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&state->mutex);
	state->worker_latch = NULL;
	state->worker_pid = 0;
	SpinLockRelease(&state->mutex);
}

/* The worker, once connected: requests set its latch from now on, until it exits. */
void
nl_worker_attach(void)
{
	SpinLockAcquire(&state->mutex);
	state->worker_latch = MyLatch;
	state->worker_pid = MyProcPid;
	SpinLockRelease(&state->mutex);
	on_shmem_exit(worker_detach, (Datum) 0);
}

/* Is an early refresh requested? */
bool
nl_worker_refresh_requested(void)
{
	return pg_atomic_read_u32(&state->refresh_requested) != 0;
}

/* The worker takes the pending request (if any) before it refreshes. */
void
nl_worker_clear_request(void)
{
	pg_atomic_write_u32(&state->refresh_requested, 0);
}

/* When the last refresh, by anyone, was tried. */
TimestampTz
nl_worker_last_attempt(void)
{
	TimestampTz last_attempt;

	SpinLockAcquire(&state->mutex);
	last_attempt = state->last_attempt_at;
	SpinLockRelease(&state->mutex);
	return last_attempt;
}

/* The worker's next scheduled refresh, for nicelogin_jwks_status(); 0: none (a standby). */
void
nl_worker_publish(TimestampTz next_refresh_at)
{
	SpinLockAcquire(&state->mutex);
	state->next_refresh_at = next_refresh_at;
	SpinLockRelease(&state->mutex);
}

/*
 * nicelogin_jwks_status(): the refresh state kept in shared memory.  All NULL
 * (and worker_pid NULL) when the library is not preloaded.
 */
Datum
nicelogin_jwks_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10];
	WorkerState s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, true, sizeof(nulls));
	if (state != NULL)
	{
		SpinLockAcquire(&state->mutex);
		memcpy(&s, state, sizeof(WorkerState));
		SpinLockRelease(&state->mutex);

		if (s.worker_pid != 0)
		{
			values[0] = Int32GetDatum(s.worker_pid);
			nulls[0] = false;
		}
		if (s.last_fetch_at != 0)
		{
			values[1] = TimestampTzGetDatum(s.last_fetch_at);
			values[2] = CStringGetTextDatum(s.last_fetch_by);
			values[3] = Int32GetDatum(s.last_fetch_keys);
			nulls[1] = nulls[2] = nulls[3] = false;
		}
		if (s.last_error_at != 0)
		{
			values[4] = TimestampTzGetDatum(s.last_error_at);
			values[5] = CStringGetTextDatum(s.last_error);
			nulls[4] = nulls[5] = false;
		}
		if (s.next_refresh_at != 0)
		{
			values[6] = TimestampTzGetDatum(s.next_refresh_at);
			nulls[6] = false;
		}
		values[7] = BoolGetDatum(pg_atomic_read_u32(&state->refresh_requested) != 0);
		values[8] = Int64GetDatum(s.refreshes);
		values[9] = Int64GetDatum(s.failures);
		nulls[7] = nulls[8] = nulls[9] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
