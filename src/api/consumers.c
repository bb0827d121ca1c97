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
 *
 * A consumer belongs to the role that registered it: only that role's
 * members, order_system_admin's and superusers read, acknowledge, replay or
 * forget it (require_consumer_owner), so that one service cannot take or
 * skip another's events.  The caller is the role the session acts as (SET
 * ROLE included), not the definer of the SECURITY DEFINER function asking.
 */
#include "order_system.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "executor/tstoreReceiver.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
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

/* A pg_snapshot's xmax, as a number. */
static uint64
snapshot_xmax(Datum snap)
{
	Datum		xmax = OidFunctionCall1(F_PG_SNAPSHOT_XMAX, snap);

	return U64FromFullTransactionId(DatumGetFullTransactionId(xmax));
}

/*
 * Whether the locked row's position can be read against cut, a snapshot
 * just taken: the rule of order_system_internal.position_trusted, on the
 * row already in hand (no query).
 */
static bool
position_trusted(const os_consumer_row *c, Datum cut)
{
	return os_position_trusted((uint64) c->system_identifier, GetSystemIdentifier(),
							   snapshot_xmax(c->last_snapshot),
							   c->batch_snapshot ? snapshot_xmax(c->batch_snapshot) : 0,
							   snapshot_xmax(cut));
}

/* A consumer name for a message: at most 100 characters. */
static char *
consumer_label(text *name)
{
	char	   *s = text_to_cstring(name);

	return pnstrdup(s, pg_mbcharcliplen(s, strlen(s), 100));
}

/*
 * Refuse (42501) a caller that may use the consumer functions but is not a
 * member of the consumer's owner (InvalidOid: none recorded, anyone), of
 * order_system_admin, nor a superuser.  Catalog caches only: no query.  The
 * message names neither the owner nor anything of the position.
 */
static void
require_consumer_owner(text *name, Oid owner)
{
	Oid			caller = GetOuterUserId();
	Oid			admin;

	if (!OidIsValid(owner) || is_member_of_role(caller, owner))
		return;
	admin = get_role_oid("order_system_admin", true);
	if (OidIsValid(admin) && is_member_of_role(caller, admin))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for consumer \"%s\"", consumer_label(name)),
			 errdetail("A consumer may be used only by members of the role that registered it."),
			 errhint("Register a consumer of your own, or ask an operator (order_system.set_consumer_owner).")));
}

/*
 * Whether this backend has made sure that no consumer position of another
 * cluster is left (every consumer call checks its own row as well).  A
 * change in pg_proc (the extension dropped and restored, or updated)
 * makes it check again.
 */
static bool positions_checked = false;
static bool positions_callback = false;

static void
forget_positions_check(Datum arg, int cacheid, uint32 hashvalue)
{
	positions_checked = false;
}

/*
 * Lock a consumer's row (OS015 if it is not registered) and return the
 * snapshot cut after the lock.  A position from another cluster (a restored
 * dump, a pg_upgrade) or ahead of this one's xids is re-based first, never
 * read: the first consumer call of a backend asks rebase_positions before
 * taking its row lock (so that two consumers starting together do not wait
 * on each other's rows), and every call compares its row's stamp and xmax,
 * which costs no query.
 */
static Datum
lock_consumer_row(text *name, os_consumer_row *c)
{
	Datum		cut;

	if (!positions_checked)
	{
		if (!positions_callback)
		{
			CacheRegisterSyscacheCallback(PROCOID, forget_positions_check, (Datum) 0);
			positions_callback = true;
		}
		(void) os_store_rebase_positions();
		positions_checked = true;
	}
	for (int attempt = 0;; attempt++)
	{
		if (!os_store_lock_consumer(name, c))
			ereport(ERROR,
					(errcode(os_sqlstate(OS_ERR_CONSUMER_NOT_FOUND)),
					 errmsg("consumer \"%s\" is not registered", consumer_label(name)),
					 errhint("Call order_system.register_consumer first.")));
		/* the owner came with the lock: refused before anything is read */
		require_consumer_owner(name, c->owner);
		/* the cut comes after the lock: never older than an acknowledgement */
		cut = cut_snapshot();
		if (position_trusted(c, cut))
			return cut;
		if (attempt > 0 || !os_store_rebase_positions())
			ereport(ERROR,
					(errcode(os_sqlstate(OS_ERR_POSITIONS_UNRESTORED)),
					 errmsg("the position of consumer \"%s\" cannot be trusted in this cluster",
							text_to_cstring(name)),
					 errhint("Run SELECT * FROM order_system.rebase_consumers().")));
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
		c->last_mark = c->batch_mark;
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

/* caller_role(): the role the session acts as, SET ROLE included. */
OS_FUNCTION(os_caller_role)
{
	PG_RETURN_OID(GetOuterUserId());
}

/*
 * require_consumer_owner(name, owner): the owner check of next_batch and
 * ack_batch, for replay_consumer and unregister_consumer (which read the
 * owner with their own lock).
 */
OS_FUNCTION(os_require_consumer_owner)
{
	if (PG_ARGISNULL(0))
		os_error(OS_ERR_NULL_VALUE, "consumer must not be null");
	require_consumer_owner(PG_GETARG_TEXT_PP(0), PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1));
	PG_RETURN_VOID();
}

/* system_identifier(): the cluster consumer positions are stamped with. */
OS_FUNCTION(os_system_identifier)
{
	PG_RETURN_INT64((int64) GetSystemIdentifier());
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
	Datum		cut;
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
	cut = lock_consumer_row(name, &c);
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		acked = ack_open_batch(name, &c, PG_GETARG_INT64(1));
	replay = c.batch_snapshot != (Datum) 0;
	args[0] = c.last_snapshot;
	args[1] = replay ? c.batch_snapshot : cut;
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
		c.batch_mark = OS_MARK_NOW;
		c.batch_id++;
	}
	else if (!replay)
	{
		c.last_snapshot = args[1];
		c.last_mark = OS_MARK_NOW;
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
