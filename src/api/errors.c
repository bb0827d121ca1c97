/*
 * errors.c
 *	  Domain errors an application can act on: besides the message, a DETAIL
 *	  that is one small JSON object (the numbers the caller needs, named as
 *	  README's error table says for each SQLSTATE) and, where there is a next
 *	  step, a HINT.  A client reads the DETAIL with any JSON parser instead of
 *	  matching message text.
 */
#include "order_system.h"

#include <math.h>

/* The finished object as a C string (the builder keeps a NUL after it). */
static const char *
detail_text(os_json *j)
{
	return VARDATA(os_json_end(j));
}

/* OS005: {"product_id": .., "requested": .., "available": ..}, flash_sale if so. */
void
os_raise_out_of_stock(int64 product_id, int64 available, int64 requested, bool flash_sale)
{
	os_json		d;

	os_json_begin(&d);
	os_json_int(&d, "product_id", product_id);
	os_json_int(&d, "requested", requested);
	if (!flash_sale)
		os_json_int(&d, "available", available);
	else
		os_json_raw(&d, "flash_sale", "true");
	if (!flash_sale)
		ereport(ERROR,
				(errcode(os_sqlstate(OS_ERR_OUT_OF_STOCK)),
				 errmsg("product " INT64_FORMAT " has " INT64_FORMAT " in stock, "
						INT64_FORMAT " requested", product_id, available, requested),
				 errdetail_internal("%s", detail_text(&d))));
	ereport(ERROR,
			(errcode(os_sqlstate(OS_ERR_OUT_OF_STOCK)),
			 errmsg("product " INT64_FORMAT " is on flash sale and no bucket holds "
					INT64_FORMAT, product_id, requested),
			 errdetail_internal("%s", detail_text(&d))));
}

/*
 * OS006: {"member_id": .., "balance": .., "required": ..}: the change delta
 * (below zero) needed -delta points, the member has balance.
 */
void
os_raise_insufficient_points(int64 member_id, int64 balance, int64 delta,
							 const char *message)
{
	os_json		d;

	os_json_begin(&d);
	os_json_int(&d, "member_id", member_id);
	os_json_int(&d, "balance", balance);
	if (delta == PG_INT64_MIN)
		os_json_raw(&d, "required", "9223372036854775808");
	else
		os_json_int(&d, "required", -delta);
	ereport(ERROR,
			(errcode(os_sqlstate(OS_ERR_INSUFFICIENT_POINTS)),
			 errmsg_internal("%s", message),
			 errdetail_internal("%s", detail_text(&d))));
}

/*
 * OS007 from a saga step: {"order_id": .., "status": .., "event": ..,
 * "allowed_events": [..]} (the events that move the order from its status).
 */
void
os_raise_illegal_transition(int64 order_id, os_state status, os_event ev)
{
	os_json		d;
	os_event	allowed[OS_EVENT_COUNT];
	int			n = os_allowed_events(status, allowed);
	const char *hint = os_transition_hint(status, ev);

	os_json_begin(&d);
	os_json_int(&d, "order_id", order_id);
	os_json_str(&d, "status", os_state_name(status));
	os_json_str(&d, "event", os_event_name(ev));
	os_json_open(&d, "allowed_events", true);
	for (int i = 0; i < n; i++)
		os_json_str(&d, NULL, os_event_name(allowed[i]));
	os_json_close(&d, true);
	ereport(ERROR,
			(errcode(os_sqlstate(OS_ERR_ILLEGAL_TRANSITION)),
			 errmsg("order " INT64_FORMAT " is %s and cannot %s",
					order_id, os_state_name(status), os_event_name(ev)),
			 errdetail_internal("%s", detail_text(&d)),
			 hint ? errhint("%s", hint) : 0));
}

/* OS009: {"idempotency_key": .., "order_id": ..} (the key's first order). */
void
os_raise_idempotency_conflict(const char *key, int64 order_id)
{
	os_json		d;

	os_json_begin(&d);
	os_json_str(&d, "idempotency_key", key);
	os_json_int(&d, "order_id", order_id);
	ereport(ERROR,
			(errcode(os_sqlstate(OS_ERR_IDEMPOTENCY_CONFLICT)),
			 errmsg("idempotency key \"%s\" was used for a different order request", key),
			 errdetail_internal("%s", detail_text(&d)),
			 errhint("Send the first request again to get its order, or use a new key for a new order.")));
}

/*
 * OS017: {"member_id": .., "retry_after_s": .., "burst": .., "per_minute": ..};
 * retry_after_s is rounded up to the millisecond, so that a retry that
 * waits that long finds a token.
 */
void
os_raise_rate_limited(int64 member_id, double retry_after_s, int burst, int per_minute)
{
	os_json		d;
	char		num[64];

	snprintf(num, sizeof num, "%.3f", ceil(retry_after_s * 1000.0) / 1000.0);
	os_json_begin(&d);
	os_json_int(&d, "member_id", member_id);
	os_json_raw(&d, "retry_after_s", num);
	os_json_int(&d, "burst", burst);
	os_json_int(&d, "per_minute", per_minute);
	ereport(ERROR,
			(errcode(os_sqlstate(OS_ERR_RATE_LIMITED)),
			 errmsg("member " INT64_FORMAT " has placed too many orders: try again in %.1f s",
					member_id, retry_after_s),
			 errdetail_internal("%s", detail_text(&d)),
			 errhint("Retry after retry_after_s seconds.")));
}
