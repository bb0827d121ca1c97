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
 *
 * The worker is connected as the bootstrap superuser, in a database where
 * others may create objects, and runs before CREATE EXTENSION and after
 * DROP EXTENSION too.  So it calls nothing by name: it finds the extension
 * in pg_extension, its tables by their pg_depend membership, and prunes
 * them as the extension's owner in a security-restricted operation with a
 * pinned search_path, as VACUUM and ANALYZE act as a table's owner.
 *
 * Until order_system.notify_database exists the worker waits for it
 * without a database connection (a connection to a missing database is
 * FATAL): one LOG line, then a look every 1, 2, 4 ... 60 s.  Once it is
 * there, a fresh worker connects to it (a process connects only once):
 * the database's OID is handed over in shared memory.
 */
#include "order_system.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void os_notifier_main(Datum arg);

typedef struct os_notify_shared
{
	pg_atomic_uint64 commits;	/* committed transactions that wrote events */
	pg_atomic_uint64 notifies;	/* NOTIFYs the worker sent */
	pg_atomic_uint32 worker_procno; /* OS_INVALID_PROCNO when not running */
	pg_atomic_uint32 database;	/* notify_database's OID, found for the next
								 * worker to connect to */
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
OS_FUNCTION(os_notifier_status)
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
		pg_atomic_init_u32(&notify_shared->database, InvalidOid);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
notifier_worker(BackgroundWorker *worker)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = 5;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "order_system");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "os_notifier_main");
	snprintf(worker->bgw_name, BGW_MAXLEN, "order_system notifier");
	snprintf(worker->bgw_type, BGW_MAXLEN, "order_system notifier");
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

	notifier_worker(&worker);
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

/* Prune the outbox, if this database has order_system (store/outbox.c). */
static void
prune(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "order_system: prune the outbox");
	(void) os_store_prune_outbox_as_owner();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The database's OID, or InvalidOid.  Without a database only the shared
 * catalogs' heaps can be read (their indexes need pg_class), so this scans
 * pg_database as the autovacuum launcher does.
 */
static Oid
database_oid(const char *name)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			dboid = InvalidOid;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_database_datname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(name));
	scan = systable_beginscan(rel, DatabaseNameIndexId, false, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		dboid = ((Form_pg_database) GETSTRUCT(tup))->oid;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dboid;
}

/*
 * Without a database: wait until notify_database exists, then hand its OID
 * to a fresh worker and end.  One LOG line, however long the wait.
 */
static void
wait_for_database(void)
{
	long		backoff_ms = 1000;
	bool		logged = false;
	Oid			dboid;
	BackgroundWorker worker;

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("order_system notifier");
	for (;;)
	{
		dboid = database_oid(notify_database);
		if (OidIsValid(dboid))
			break;
		if (!logged)
			ereport(LOG,
					(errmsg("order_system notifier: database \"%s\" does not exist; waiting for it",
							notify_database),
					 errdetail("It looks again after 1, 2, 4 ... and at most 60 seconds, and starts once the database is created.")));
		logged = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 backoff_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		backoff_ms = Min(backoff_ms * 2, 60 * 1000L);
	}
	pg_atomic_write_u32(&notify_shared->database, dboid);
	/* a successor starts at once; failing that, this worker restarts */
	notifier_worker(&worker);
	proc_exit(RegisterDynamicBackgroundWorker(&worker, NULL) ? 0 : 1);
}

void
os_notifier_main(Datum arg)
{
	uint64		seen;
	uint32		no_worker = OS_INVALID_PROCNO;
	TimestampTz last_prune = GetCurrentTimestamp();
	Oid			dboid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	dboid = pg_atomic_exchange_u32(&notify_shared->database, InvalidOid);
	if (!OidIsValid(dboid))
		wait_for_database();	/* does not return */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("order_system notifier");

	/* one notifier at a time */
	if (!pg_atomic_compare_exchange_u32(&notify_shared->worker_procno, &no_worker,
										OS_MY_PROCNO))
		proc_exit(0);
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
