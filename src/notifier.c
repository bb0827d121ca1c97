/*
 * notifier.c
 *	  Wake-ups for event listeners, without a NOTIFY in order transactions.
 *
 * A NOTIFY queued by a transaction takes a cluster-wide lock at pre-commit
 * and holds it until the commit record is flushed, so notifying commits
 * cannot share a WAL flush.  Instead, a transaction that wrote outbox rows
 * bumps a counter in shared memory when it commits and sets the notifier
 * worker's latch; the worker sends one NOTIFY on channel
 * order_system_events (payload: the counter) and then waits
 * order_system.notify_interval before it sends another, so any number of
 * commits in that window share one wake-up.  The outbox stays the truth:
 * listeners read it through next_batch whether or not a wake-up came.
 *
 * All of this needs shared memory, so it runs only when order_system is in
 * shared_preload_libraries.  Otherwise listeners poll (README: "Event
 * delivery").  The worker also prunes acknowledged events every
 * order_system.prune_interval.  Written after src/test/modules/worker_spi.
 */
#include "order_system.h"

#include "access/xact.h"
#include "commands/async.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(os_notifier_status);
PGDLLEXPORT void os_notifier_main(Datum arg);

typedef struct os_notify_shared
{
	pg_atomic_uint64 commits;	/* committed transactions that wrote events */
	pg_atomic_uint64 notifies;	/* NOTIFYs the worker sent */
	pg_atomic_uint32 worker_procno; /* OS_INVALID_PROCNO when not running */
} os_notify_shared;

static os_notify_shared *notify_shared = NULL;
static bool events_in_xact = false;
static bool callback_registered = false;

static char *notify_database = NULL;
static int	notify_interval_ms = 5;
static int	prune_interval_s = 1;

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* ------------------------------------------------- in every backend */

static void
wake_notifier(void)
{
	uint32		procno = pg_atomic_read_u32(&notify_shared->worker_procno);

	pg_atomic_fetch_add_u64(&notify_shared->commits, 1);
	if (procno != OS_INVALID_PROCNO)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

static void
xact_callback(XactEvent event, void *arg)
{
	if (!events_in_xact)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			wake_notifier();
			events_in_xact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:	/* COMMIT PREPARED is found by polling */
			events_in_xact = false;
			break;
		default:
			break;
	}
}

/* An outbox row was written: wake the notifier when this transaction commits. */
void
os_note_event(void)
{
	if (notify_shared == NULL)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(xact_callback, NULL);
		callback_registered = true;
	}
	events_in_xact = true;
}

/* notifier_status() -> (preloaded, running, commits, notifies) */
Datum
os_notifier_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, true, true};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("notifier_status must be declared to return a composite type")));
	values[0] = BoolGetDatum(notify_shared != NULL);
	values[1] = BoolGetDatum(notify_shared != NULL &&
							 pg_atomic_read_u32(&notify_shared->worker_procno) != OS_INVALID_PROCNO);
	if (notify_shared != NULL)
	{
		values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&notify_shared->commits));
		values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&notify_shared->notifies));
		nulls[2] = nulls[3] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* ------------------------------------------------------ shared memory */

static void
shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(os_notify_shared)));
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	notify_shared = ShmemInitStruct("order_system notifier", sizeof(os_notify_shared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&notify_shared->commits, 0);
		pg_atomic_init_u64(&notify_shared->notifies, 0);
		pg_atomic_init_u32(&notify_shared->worker_procno, OS_INVALID_PROCNO);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init: settings always, the worker only when preloading. */
void
os_notifier_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("order_system.notify_interval",
							"Least time between two wake-ups the notifier sends.",
							NULL, &notify_interval_ms, 5, 1, 10000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("order_system.prune_interval",
							"How often the notifier prunes acknowledged events (0: never).",
							NULL, &prune_interval_s, 1, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	/* a PGC_POSTMASTER setting can only be defined while preloading */
	DefineCustomStringVariable("order_system.notify_database",
							   "Database whose listeners the notifier worker wakes.",
							   NULL, &notify_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);

	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "order_system");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "os_notifier_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "order_system notifier");
	snprintf(worker.bgw_type, BGW_MAXLEN, "order_system notifier");
	RegisterBackgroundWorker(&worker);
}

/* ------------------------------------------------------------ the worker */

static void
clear_procno(int code, Datum arg)
{
	pg_atomic_write_u32(&notify_shared->worker_procno, OS_INVALID_PROCNO);
}

static void
send_wakeup(uint64 commits)
{
	char		payload[32];

	snprintf(payload, sizeof(payload), UINT64_FORMAT, commits);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	Async_Notify(OS_EVENTS_CHANNEL, payload);
	CommitTransactionCommand();
	pg_atomic_fetch_add_u64(&notify_shared->notifies, 1);
}

/* Run prune_outbox() if this database has a version of order_system with it. */
static void
prune(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "order_system: prune_outbox()");
	if (SPI_execute("SELECT 1 WHERE pg_catalog.to_regprocedure('order_system.prune_outbox()')"
					" IS NOT NULL", true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		SPI_execute("SELECT order_system.prune_outbox()", false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
os_notifier_main(Datum arg)
{
	uint64		seen;
	TimestampTz last_prune = GetCurrentTimestamp();

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(notify_database, NULL, 0);
	pgstat_report_appname("order_system notifier");

	pg_atomic_write_u32(&notify_shared->worker_procno, OS_MY_PROCNO);
	before_shmem_exit(clear_procno, 0);
	seen = pg_atomic_read_u64(&notify_shared->commits);

	for (;;)
	{
		uint64		now;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = pg_atomic_read_u64(&notify_shared->commits);
		if (now != seen)
		{
			send_wakeup(now);
			seen = now;
			/* coalesce: commits in the next interval share the next wake-up */
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 notify_interval_ms, PG_WAIT_EXTENSION);
		}
		if (prune_interval_s > 0 &&
			TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(),
									   prune_interval_s * 1000))
		{
			prune();
			last_prune = GetCurrentTimestamp();
		}
	}
}
