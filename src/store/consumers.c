/*
 * consumers.c (store)
 *	  A consumer's row and the outbox range a batch reads.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/guc.h"

static os_stmt lock_consumer = OS_STMT(
									   "SELECT last_snapshot, batch_snapshot, batch_id, system_identifier, last_mark,"
									   " batch_mark FROM order_system.consumer WHERE name = $1 FOR UPDATE",
									   1, TEXTOID);

/*
 * The events committed after $1 and visible in $2, as next_batch returns
 * them (batch $3): the rows go straight into its result.  Found by a range
 * scan on outbox(tx_id), then sorted: "id + 0" keeps the planner from
 * reading the whole primary key in id order instead, which it prefers
 * when the outbox was analysed while empty (see os_next_batch).
 */
static os_stmt batch_events = OS_STMT_GENERIC(
											  "SELECT $3, e.id, e.tx_id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload,"
											  " e.created_at, e.trace_context FROM order_system.outbox e"
											  " WHERE e.tx_id >= pg_catalog.pg_snapshot_xmin($1)"
											  " AND e.tx_id < pg_catalog.pg_snapshot_xmax($2)"
											  " AND NOT pg_catalog.pg_visible_in_snapshot(e.tx_id, $1)"
											  " AND pg_catalog.pg_visible_in_snapshot(e.tx_id, $2)"
											  " ORDER BY e.id + 0",
											  3, PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT8OID);

/* order_system_internal.outbox_mark(), written out: no function call */
#define OUTBOX_MARK \
	"coalesce(pg_catalog.pg_sequence_last_value('order_system.outbox_id_seq'::pg_catalog.regclass), 0)"

/*
 * The consumer's position and open batch ($3 NULL: none), acknowledged now
 * if $5, with their marks ($6, $7; negative: the outbox sequence's value
 * now, read after the snapshot was cut).
 */
static os_stmt set_position = OS_STMT(
									  "UPDATE order_system.consumer SET last_snapshot = $2, batch_snapshot = $3, batch_id = $4,"
									  " acked_at = CASE WHEN $5 THEN pg_catalog.now() ELSE acked_at END,"
									  " last_mark = CASE WHEN $6 < 0 THEN " OUTBOX_MARK " ELSE $6 END,"
									  " batch_mark = CASE WHEN $7 < 0 THEN " OUTBOX_MARK " ELSE $7 END"
									  " WHERE name = $1",
									  7, TEXTOID, PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT8OID, BOOLOID, INT8OID, INT8OID);

static os_stmt rebase_positions = OS_STMT(
										  "SELECT rebased FROM order_system_internal.rebase_positions()", 0, InvalidOid);

enum
{
	CONSUMER_LAST_SNAPSHOT = 1, CONSUMER_BATCH_SNAPSHOT, CONSUMER_BATCH_ID,
	CONSUMER_SYSTEM_IDENTIFIER, CONSUMER_LAST_MARK, CONSUMER_BATCH_MARK
};

bool
os_store_lock_consumer(text *name, os_consumer_row *c)
{
	Datum		v = PointerGetDatum(name);
	bool		isnull;

	if (os_exec(&lock_consumer, &v, NULL, 1) == 0)
		return false;
	c->last_snapshot = os_getattr(0, CONSUMER_LAST_SNAPSHOT, &isnull);
	c->batch_snapshot = os_getattr(0, CONSUMER_BATCH_SNAPSHOT, &isnull);
	if (isnull)
		c->batch_snapshot = (Datum) 0;
	c->batch_id = os_getint64(0, CONSUMER_BATCH_ID);
	c->system_identifier = os_getint64(0, CONSUMER_SYSTEM_IDENTIFIER);
	c->last_mark = os_getint64(0, CONSUMER_LAST_MARK);
	c->batch_mark = DatumGetInt64(os_getattr(0, CONSUMER_BATCH_MARK, &isnull));
	if (isnull)
		c->batch_mark = 0;
	return true;
}

void
os_store_set_position(text *name, const os_consumer_row *c, bool acked)
{
	Datum		v[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	v[0] = PointerGetDatum(name);
	v[1] = c->last_snapshot;
	v[2] = c->batch_snapshot;
	nulls[2] = c->batch_snapshot ? ' ' : 'n';
	v[3] = Int64GetDatum(c->batch_id);
	v[4] = BoolGetDatum(acked);
	v[5] = Int64GetDatum(c->last_mark);
	v[6] = Int64GetDatum(c->batch_mark);
	nulls[6] = c->batch_snapshot ? ' ' : 'n';
	os_exec(&set_position, v, nulls, 0);
}

bool
os_store_rebase_positions(void)
{
	bool		isnull;

	os_exec(&rebase_positions, NULL, NULL, 1);
	return DatumGetBool(os_getattr(0, 1, &isnull));
}

void
os_store_batch_events(Datum after, Datum upto, int64 batch_id, DestReceiver *dest)
{
	Datum		args[3] = {after, upto, Int64GetDatum(batch_id)};
	int			nestlevel;

	/*
	 * The range scan on outbox(tx_id), whatever the statistics said when the
	 * kept plan was made: an outbox analysed while empty (a new install, or
	 * pruned to nothing) got a sequential scan, and every wake-up then read
	 * the whole table as it filled.  No sequential scan, as a function's SET
	 * clause would say, for the query's planning and run only
	 * (RI_Initial_Check sets work_mem so).
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	os_exec_to(&batch_events, args, dest);
	AtEOXact_GUC(true, nestlevel);
}
