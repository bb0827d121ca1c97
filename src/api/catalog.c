/*
 * catalog.c
 *	  The core's tables exported to SQL (state machine, error codes), the
 *	  trigger that holds the orders table to the state machine, and whether
 *	  Citus manages a table.
 */
#include "order_system.h"

#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/rel.h"

/* Every (state, event) pair with its outcome: move, noop or illegal. */
OS_FUNCTION(os_order_transitions)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int s = 0; s < OS_STATE_COUNT; s++)
		for (int e = 0; e < OS_EVENT_COUNT; e++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			os_state	to;
			os_result	r = os_transition((os_state) s, (os_event) e, &to);

			values[0] = CStringGetTextDatum(os_state_name((os_state) s));
			values[1] = CStringGetTextDatum(os_event_name((os_event) e));
			if (r == OS_ERR_ILLEGAL_TRANSITION)
				nulls[2] = true;
			else
				values[2] = CStringGetTextDatum(os_state_name(to));
			values[3] = CStringGetTextDatum(r == OS_OK ? "move" :
											r == OS_NOOP ? "noop" : "illegal");
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}

/* The error table: every domain result code with its SQLSTATE. */
OS_FUNCTION(os_error_codes)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int c = OS_ERR_MEMBER_NOT_FOUND; c < OS_RESULT_COUNT; c++)
	{
		const os_result_info *info = os_result_lookup((os_result) c);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(info->name);
		values[1] = CStringGetTextDatum(info->sqlstate);
		values[2] = CStringGetTextDatum(info->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

OS_FUNCTION(os_virtual_account_valid_sql)
{
	PG_RETURN_BOOL(os_virtual_account_valid(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

static os_state
status_of(HeapTuple tuple, TupleDesc desc, int attno)
{
	char	   *name = SPI_getvalue(tuple, desc, attno);
	os_state	s;

	if (!os_state_parse(name, &s))
		os_error(OS_ERR_ILLEGAL_TRANSITION, "unknown order status \"%s\"",
				 name ? name : "NULL");
	return s;
}

/*
 * BEFORE UPDATE OF status: allow only moves of the core state machine, so
 * that even direct table writes cannot put an order in an illegal state.
 */
OS_FUNCTION(os_orders_status_guard)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			attno;
	os_state	from,
				to;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_status_guard must be a row-level UPDATE trigger")));
	desc = RelationGetDescr(trigdata->tg_relation);
	attno = SPI_fnumber(desc, "status");
	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("orders_status_guard needs a \"status\" column")));
	from = status_of(trigdata->tg_trigtuple, desc, attno);
	to = status_of(trigdata->tg_newtuple, desc, attno);
	if (from != to && !os_transition_edge_exists(from, to))
		os_error(OS_ERR_ILLEGAL_TRANSITION,
				 "illegal order status change from %s to %s",
				 os_state_name(from), os_state_name(to));
	return PointerGetDatum(trigdata->tg_newtuple);
}

/* managed_by_citus(regclass): whether Citus manages the table. */
OS_FUNCTION(os_managed_by_citus)
{
	PG_RETURN_BOOL(os_store_managed_by_citus(PG_GETARG_OID(0)));
}
