/*
 * consumers.c
 *	  The consumer side of the outbox: cutting batches and acknowledging
 *	  them (next_batch, ack_batch, cut_snapshot).
 *
 * A consumer's position is a transaction snapshot (as PgQ keeps it): a
 * batch holds exactly the events whose transactions committed after the
 * consumer's acknowledged snapshot and are visible in the batch's own, in
 * outbox id order.  A listener calls these on every wake-up: one lock, one
 * range scan on outbox(tx_id), one update (store/consumers.c).
 * The README ("Event delivery") describes the contract.
 */
#include "order_system.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "executor/tstoreReceiver.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

/*
 * The current snapshot with this transaction counted as running, so that
 * events it wrote (before or after the cut) are delivered once it commits,
 * never taken as delivered while it is open.
 */
static Datum
cut_snapshot(void)
{
	Datum		snap;
	FullTransactionId own = GetTopFullTransactionIdIfAny();
	uint64		own64 = U64FromFullTransactionId(own);
	char	   *text;
	char	   *xip;
	uint64		xmin;
	StringInfoData buf;

	/*
	 * A fresh snapshot, as a new statement would take (the caller's may
	 * predate a wait for the consumer's row lock, and a cut older than the
	 * acknowledgement it waited for would move the position backwards).
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	snap = OidFunctionCall0(F_PG_CURRENT_SNAPSHOT);
	PopActiveSnapshot();
	if (!FullTransactionIdIsValid(own) ||
		!DatumGetBool(OidFunctionCall2(F_PG_VISIBLE_IN_SNAPSHOT,
									   FullTransactionIdGetDatum(own), snap)))
		return snap;

	/* "xmin:xmax:xip,xip,..." with own added in order and xmin lowered */
	text = OidOutputFunctionCall(F_PG_SNAPSHOT_OUT, snap);

	xmin = strtou64(text, NULL, 10);
	xip = strchr(strchr(text, ':') + 1, ':') + 1;
	initStringInfo(&buf);
	appendStringInfo(&buf, UINT64_FORMAT ":", Min(xmin, own64));
	appendBinaryStringInfo(&buf, strchr(text, ':') + 1, xip - strchr(text, ':') - 1);
	while (*xip != '\0' && strtou64(xip, NULL, 10) < own64)
	{
		const char *end = strchr(xip, ',');
		int			len = end ? (int) (end - xip) + 1 : (int) strlen(xip);

		appendBinaryStringInfo(&buf, xip, len);
		xip += len;
	}
	if (buf.data[buf.len - 1] != ':' && buf.data[buf.len - 1] != ',')
		appendStringInfoChar(&buf, ',');
	appendStringInfo(&buf, UINT64_FORMAT "%s%s", own64, *xip ? "," : "", xip);
	return OidInputFunctionCall(F_PG_SNAPSHOT_IN, buf.data, InvalidOid, -1);
}

/* Lock a consumer's row; OS015 if it is not registered. */
static void
lock_consumer_row(text *name, os_consumer_row *c)
{
	if (!os_store_lock_consumer(name, c))
	{
		char	   *s = text_to_cstring(name);

		ereport(ERROR,
				(errcode(os_sqlstate(OS_ERR_CONSUMER_NOT_FOUND)),
				 errmsg("consumer \"%s\" is not registered", pnstrdup(s, pg_mbcharcliplen(s, strlen(s), 100))),
				 errhint("Call order_system.register_consumer first.")));
	}
}

/*
 * Acknowledge batch_id in the locked row c (not yet written back): true if
 * it was the open batch, which closes; false for one acknowledged before
 * (or dropped by a replay); OS016 for a batch never cut.
 */
static bool
ack_open_batch(text *name, os_consumer_row *c, int64 batch_id)
{
	if (c->batch_snapshot && c->batch_id == batch_id)
	{
		c->last_snapshot = c->batch_snapshot;
		c->batch_snapshot = (Datum) 0;
		return true;
	}
	if (batch_id < 1 || batch_id > c->batch_id)
		ereport(ERROR,
				(errcode(os_sqlstate(OS_ERR_BATCH_NOT_FOUND)),
				 errmsg("consumer \"%s\" has no batch " INT64_FORMAT, text_to_cstring(name),
						batch_id)));
	return false;
}

/* cut_snapshot(): the snapshot positions are cut at. */
OS_FUNCTION(os_cut_snapshot)
{
	PG_RETURN_DATUM(cut_snapshot());
}

/*
 * next_batch(consumer, acked_batch): acknowledge acked_batch first if it is
 * not NULL (as ack_batch would), then the open batch again if it was not
 * acknowledged, else a new one cut now.  No rows: nothing new (the position
 * moves on).  One lock and one update of the consumer's row either way.
 */
OS_FUNCTION(os_next_batch)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *name;
	os_consumer_row c;
	bool		acked = false;
	bool		replay;
	Datum		args[3];
	DestReceiver *dest;
	int64		n;

	os_require_writable("next_batch, which records the consumer's position,");
	if (PG_ARGISNULL(0))
		os_error(OS_ERR_NULL_VALUE, "consumer must not be null");
	name = PG_GETARG_TEXT_PP(0);
	InitMaterializedSRF(fcinfo, 0);
	os_store_open();
	lock_consumer_row(name, &c);
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		acked = ack_open_batch(name, &c, PG_GETARG_INT64(1));
	replay = c.batch_snapshot != (Datum) 0;
	args[0] = c.last_snapshot;
	/* the cut comes after the lock: never older than an acknowledgement */
	args[1] = replay ? c.batch_snapshot : cut_snapshot();
	args[2] = Int64GetDatum(replay ? c.batch_id : c.batch_id + 1);
	dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory, false, NULL, NULL);
	os_store_batch_events(args[0], args[1], DatumGetInt64(args[2]), dest);
	dest->rDestroy(dest);
	n = tuplestore_tuple_count(rsinfo->setResult);
	if (!replay && n > 0)
	{
		c.batch_snapshot = args[1];
		c.batch_id++;
	}
	else if (!replay)
	{
		c.last_snapshot = args[1];
		acked = true;
	}
	if (!replay || acked)
		os_store_set_position(name, &c, acked);
	os_store_close();
	return (Datum) 0;
}

/*
 * ack_batch(consumer, batch_id): the batch is processed, move past it.  True
 * the first time; false for a batch acknowledged before (or dropped by a
 * replay); OS016 for a batch never cut.
 */
OS_WRITER(os_ack_batch)
{
	text	   *name;
	os_consumer_row c;
	bool		acked;

	if (PG_ARGISNULL(1))
		os_error(OS_ERR_NULL_VALUE, "batch_id must not be null");
	if (PG_ARGISNULL(0))
		os_error(OS_ERR_NULL_VALUE, "consumer must not be null");
	name = PG_GETARG_TEXT_PP(0);
	os_store_open();
	lock_consumer_row(name, &c);
	acked = ack_open_batch(name, &c, PG_GETARG_INT64(1));
	if (acked)
		os_store_set_position(name, &c, true);
	os_store_close();
	PG_RETURN_BOOL(acked);
}
