/*
 * metrics.c
 *	  Counters of orders placed and of saga moves by outcome and payment
 *	  method, kept in shared memory (no row per order), for the read-only
 *	  monitoring functions of src/sql/87_metrics.sql.
 *
 * The counters live in shared memory, so they exist only when order_system
 * is in shared_preload_libraries (as pg_stat_statements' do); otherwise the
 * counting calls do nothing, metrics_counters() counts rows instead, and
 * metrics_reset() says the counters are off.  A move is counted when its
 * transaction commits (or is prepared): a backend keeps what its open
 * transaction did, per subtransaction level, and adds it to the shared
 * counters at commit, so a rolled-back order or step counts nothing.  A
 * refusal by the rate limit is counted at once: it aborts its transaction.
 *
 * Payment methods are rows of a table, so each gets a slot on first use;
 * once OS_METRIC_METHODS slots are taken, further methods count under
 * "other".  Counters restart at zero with the server and on metrics_reset().
 */
#include "order_system.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define OS_METRIC_METHODS 32
#define OS_METRIC_OTHER "other"

typedef struct os_metrics_shared
{
	slock_t		mutex;			/* slot allocation and reset_at */
	int			nmethods;		/* slots in use (only grows) */
	TimestampTz reset_at;		/* start or last metrics_reset() */
	char		method[OS_METRIC_METHODS][NAMEDATALEN];
	pg_atomic_uint64 count[OS_METRIC_METHODS][OS_COUNTER_COUNT];
} os_metrics_shared;

/* What this backend's open transaction counted, not yet shared. */
typedef struct pending_count
{
	int			slot;
	os_counter	counter;
	int			level;			/* subtransaction nesting level */
	uint64		n;
} pending_count;

static os_metrics_shared *metrics = NULL;
static pending_count *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

int			os_low_stock_threshold = 5;

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* ------------------------------------------------------ shared memory */

static void
metrics_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(os_metrics_shared)));
}

static void
metrics_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	metrics = ShmemInitStruct("order_system metrics", sizeof(os_metrics_shared), &found);
	if (!found)
	{
		SpinLockInit(&metrics->mutex);
		metrics->nmethods = 0;
		metrics->reset_at = GetCurrentTimestamp();
		for (int m = 0; m < OS_METRIC_METHODS; m++)
			for (int c = 0; c < OS_COUNTER_COUNT; c++)
				pg_atomic_init_u64(&metrics->count[m][c], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The slot of a payment method, taken on first use; the last slot is
 * "other" once the others are taken.  Slots are never given back, so a
 * backend may keep the index it found.
 */
static int
method_slot(const char *method)
{
	static char last_method[NAMEDATALEN];
	static int	last_slot = -1;
	int			n;
	int			slot = -1;

	if (last_slot >= 0 && strcmp(last_method, method) == 0)
		return last_slot;

	SpinLockAcquire(&metrics->mutex);
	n = metrics->nmethods;
	for (int i = 0; i < n; i++)
		if (strncmp(metrics->method[i], method, NAMEDATALEN - 1) == 0)
		{
			slot = i;
			break;
		}
	if (slot < 0)
	{
		if (n < OS_METRIC_METHODS - 1)
		{
			slot = n;
			strlcpy(metrics->method[slot], method, NAMEDATALEN);
			metrics->nmethods = n + 1;
		}
		else
		{
			slot = OS_METRIC_METHODS - 1;
			if (n < OS_METRIC_METHODS)
			{
				strlcpy(metrics->method[slot], OS_METRIC_OTHER, NAMEDATALEN);
				metrics->nmethods = OS_METRIC_METHODS;
			}
		}
	}
	SpinLockRelease(&metrics->mutex);

	strlcpy(last_method, method, NAMEDATALEN);
	last_slot = slot;
	return slot;
}

/* ---------------------------------------------- per-transaction counts */

static void
count_pending(int slot, os_counter counter)
{
	int			level = GetCurrentTransactionNestLevel();

	if (npending > 0 && pending[npending - 1].slot == slot &&
		pending[npending - 1].counter == counter && pending[npending - 1].level == level)
	{
		pending[npending - 1].n++;
		return;
	}
	if (npending == maxpending)
	{
		maxpending = maxpending == 0 ? 16 : maxpending * 2;
		pending = pending == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxpending * sizeof(pending_count)) :
			repalloc(pending, maxpending * sizeof(pending_count));
	}
	pending[npending].slot = slot;
	pending[npending].counter = counter;
	pending[npending].level = level;
	pending[npending].n = 1;
	npending++;
}

static void
metrics_xact(XactEvent event, void *arg)
{
	if (npending == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			for (int i = 0; i < npending; i++)
				pg_atomic_fetch_add_u64(&metrics->count[pending[i].slot][pending[i].counter],
										pending[i].n);
			npending = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			npending = 0;
			break;
		default:
			break;
	}
}

/*
 * Entries are appended in order of nesting level (a committed
 * subtransaction's move to its parent's level), so an aborted
 * subtransaction's counts are the tail at or above its level.
 */
static void
metrics_subxact(SubXactEvent event, SubTransactionId mySubid,
				SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (npending == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (npending > 0 && pending[npending - 1].level >= level)
			npending--;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = npending - 1; i >= 0 && pending[i].level >= level; i--)
			pending[i].level = level - 1;
	}
}

/* ------------------------------------------------ the counting points */

/* place_order wrote a new order (paid at once when nothing is due outside). */
void
os_metrics_order_placed(const char *method, bool paid)
{
	int			slot;

	if (metrics == NULL)
		return;
	slot = method_slot(method);
	count_pending(slot, OS_COUNTER_PLACED);
	if (paid)
		count_pending(slot, OS_COUNTER_PAID);
}

/* A saga step moved order_id by event ev. */
void
os_metrics_saga_move(int64 order_id, int64 member_id, os_event ev)
{
	bool		compensates;
	os_counter	counter = os_event_counter(ev, &compensates);
	char	   *method;
	int			slot;

	if (metrics == NULL || counter == OS_COUNTER_COUNT)
		return;
	method = os_store_order_method(order_id, member_id);
	if (method == NULL)
		return;
	slot = method_slot(method);
	count_pending(slot, counter);
	if (compensates)
		count_pending(slot, OS_COUNTER_COMPENSATIONS);
}

/* The rate limit refused an order: counted now, its transaction aborts. */
void
os_metrics_rate_limited(const char *method)
{
	if (metrics == NULL)
		return;
	pg_atomic_fetch_add_u64(&metrics->count[method_slot(method)][OS_COUNTER_RATE_LIMITED], 1);
}

/* ------------------------------------------------------- module load */

void
os_metrics_init(void)
{
	DefineCustomIntVariable("order_system.low_stock_threshold",
							"Products with this much available stock or less count as low on stock.",
							NULL, &os_low_stock_threshold, 5, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = metrics_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = metrics_shmem_startup;
	RegisterXactCallback(metrics_xact, NULL);
	RegisterSubXactCallback(metrics_subxact, NULL);
}

/* ------------------------------------------------------- SQL functions */

/* order_system_internal.metrics_preloaded(): are the counters on? */
OS_FUNCTION(os_metrics_preloaded)
{
	PG_RETURN_BOOL(metrics != NULL);
}

/* order_system_internal.metrics_since(): when the counters started; NULL: off. */
OS_FUNCTION(os_metrics_since)
{
	TimestampTz since;

	if (metrics == NULL)
		PG_RETURN_NULL();
	SpinLockAcquire(&metrics->mutex);
	since = metrics->reset_at;
	SpinLockRelease(&metrics->mutex);
	PG_RETURN_TIMESTAMPTZ(since);
}

/* order_system_internal.low_stock_threshold(): the setting, as an integer. */
OS_FUNCTION(os_metrics_low_stock_threshold)
{
	PG_RETURN_INT32(os_low_stock_threshold);
}

/*
 * order_system_internal.metrics_shared_counters(): one row per payment
 * method counted since the server started or the counters were reset, its
 * counters in the order of os_counter.
 */
OS_FUNCTION(os_metrics_shared_counters)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	char		names[OS_METRIC_METHODS][NAMEDATALEN];

	InitMaterializedSRF(fcinfo, 0);
	if (metrics == NULL)
		return (Datum) 0;
	SpinLockAcquire(&metrics->mutex);
	n = metrics->nmethods;
	memcpy(names, metrics->method, sizeof(names));
	SpinLockRelease(&metrics->mutex);
	for (int m = 0; m < n; m++)
	{
		Datum		values[OS_COUNTER_COUNT + 1];
		bool		nulls[OS_COUNTER_COUNT + 1] = {false};

		values[0] = CStringGetTextDatum(names[m]);
		for (int c = 0; c < OS_COUNTER_COUNT; c++)
			values[1 + c] = Int64GetDatum((int64) pg_atomic_read_u64(&metrics->count[m][c]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* order_system.metrics_reset(): every counter back to zero. */
OS_FUNCTION(os_metrics_reset)
{
	if (metrics == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order_system's counters are off: the library is not preloaded"),
				 errhint("Add order_system to shared_preload_libraries and restart the server.")));
	/* counts added while this runs land before or after it: either is fine */
	for (int m = 0; m < OS_METRIC_METHODS; m++)
		for (int c = 0; c < OS_COUNTER_COUNT; c++)
			pg_atomic_write_u64(&metrics->count[m][c], 0);
	SpinLockAcquire(&metrics->mutex);
	metrics->reset_at = GetCurrentTimestamp();
	SpinLockRelease(&metrics->mutex);
	PG_RETURN_VOID();
}
