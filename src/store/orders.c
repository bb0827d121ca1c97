/*
 * orders.c (store)
 *	  An order's rows: place_order's idempotency lookup, its ids, and the
 *	  order, lines, payment and events it writes in one batch (rows.c: no
 *	  INSERT statement).
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

static os_stmt order_by_key = OS_STMT(
									  "SELECT o.id, o.status, o.total_amount, o.currency, p.id, p.status, p.reference,"
									  " p.expires_at, o.request_fingerprint"
									  " FROM order_system.orders o JOIN order_system.payment p"
									  " ON p.member_id = o.member_id AND p.order_id = o.id"
									  " WHERE o.member_id = $1 AND o.idempotency_key = $2",
									  2, INT8OID, TEXTOID);
enum
{
	KEY_ORDER_ID = 1, KEY_STATUS, KEY_TOTAL, KEY_CURRENCY, KEY_PAYMENT_ID,
	KEY_PAYMENT_STATUS, KEY_REFERENCE, KEY_EXPIRES_AT, KEY_FINGERPRINT
};

bool
os_store_order_by_key(int64 member_id, const char *key, os_order_replay *out)
{
	Datum		values[2] = {Int64GetDatum(member_id), CStringGetTextDatum(key)};

	if (os_exec(&order_by_key, values, NULL, 1) == 0)
		return false;
	out->order_id = os_getint64(0, KEY_ORDER_ID);
	out->status = os_getstr(0, KEY_STATUS);
	out->total = os_getint64(0, KEY_TOTAL);
	out->currency = os_getstr(0, KEY_CURRENCY);
	out->payment_id = os_getint64(0, KEY_PAYMENT_ID);
	out->payment_status = os_getstr(0, KEY_PAYMENT_STATUS);
	out->reference = os_getstr(0, KEY_REFERENCE);
	out->expires_at = os_getattr(0, KEY_EXPIRES_AT, &out->expires_isnull);
	out->fingerprint = (uint64) os_getint64(0, KEY_FINGERPRINT);
	return true;
}

/* On Citus: the order's member, by order id (order_owner). */
static os_stmt insert_owner = OS_STMT(
									  "INSERT INTO order_system.order_owner (order_id, member_id) VALUES ($1, $2)",
									  2, INT8OID, INT8OID);

int64
os_store_next_order_id(void)
{
	return os_rows_nextval("orders_id_seq");
}

int64
os_store_next_payment_id(void)
{
	return os_rows_nextval("payment_id_seq");
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

void
os_store_write_order(const os_order_row *order, const os_line *lines,
					 const int16 *buckets, int nlines, const os_payment_row *payment,
					 const os_event_row *events, int nevents)
{
	os_rows		w;
	Datum		o[OS_ORDERS_NCOLS];
	bool		on[OS_ORDERS_NCOLS] = {false};
	Datum		l[OS_ORDER_LINE_NCOLS];
	bool		ln[OS_ORDER_LINE_NCOLS] = {false};
	Datum		p[OS_PAYMENT_NCOLS];
	bool		pn[OS_PAYMENT_NCOLS] = {false};
	Datum		e[OS_OUTBOX_NCOLS];
	bool		en[OS_OUTBOX_NCOLS] = {false};
	Datum		trace = os_trace_context(&en[OS_OUTBOX_TRACE_CONTEXT]);

	os_rows_begin(&w);
	o[OS_ORDERS_ID] = Int64GetDatum(order->id);
	o[OS_ORDERS_MEMBER_ID] = Int64GetDatum(order->member_id);
	o[OS_ORDERS_STATUS] = CStringGetTextDatum(order->status);
	o[OS_ORDERS_CURRENCY] = CStringGetTextDatum(order->currency);
	o[OS_ORDERS_TOTAL_AMOUNT] = Int64GetDatum(order->total);
	o[OS_ORDERS_PAYMENT_METHOD] = CStringGetTextDatum(order->method);
	o[OS_ORDERS_IDEMPOTENCY_KEY] = text_or_null(order->idempotency_key,
												&on[OS_ORDERS_IDEMPOTENCY_KEY]);
	o[OS_ORDERS_REQUEST_FINGERPRINT] = Int64GetDatum((int64) order->fingerprint);
	os_rows_insert(&w, OS_ORDERS, o, on);

	for (int i = 0; i < nlines; i++)
	{
		l[OS_ORDER_LINE_ORDER_ID] = Int64GetDatum(order->id);
		l[OS_ORDER_LINE_PRODUCT_ID] = Int64GetDatum(lines[i].product_id);
		l[OS_ORDER_LINE_QUANTITY] = Int64GetDatum(lines[i].quantity);
		l[OS_ORDER_LINE_UNIT_PRICE] = Int64GetDatum(lines[i].unit_price);
		/* cannot overflow: the order's total was checked */
		l[OS_ORDER_LINE_AMOUNT] = Int64GetDatum(lines[i].unit_price * lines[i].quantity);
		l[OS_ORDER_LINE_BUCKET] = Int16GetDatum(buckets[i]);
		ln[OS_ORDER_LINE_BUCKET] = buckets[i] < 0;
		l[OS_ORDER_LINE_MEMBER_ID] = Int64GetDatum(order->member_id);
		os_rows_insert(&w, OS_ORDER_LINE, l, ln);
	}

	p[OS_PAYMENT_ID] = Int64GetDatum(payment->id);
	p[OS_PAYMENT_ORDER_ID] = Int64GetDatum(payment->order_id);
	p[OS_PAYMENT_METHOD_NAME] = CStringGetTextDatum(payment->method);
	p[OS_PAYMENT_AMOUNT] = Int64GetDatum(payment->amount);
	p[OS_PAYMENT_POINTS_AMOUNT] = Int64GetDatum(payment->points_amount);
	p[OS_PAYMENT_EXTERNAL_AMOUNT] = Int64GetDatum(payment->external_amount);
	p[OS_PAYMENT_STATUS] = CStringGetTextDatum(payment->status);
	p[OS_PAYMENT_REFERENCE] = text_or_null(payment->reference, &pn[OS_PAYMENT_REFERENCE]);
	p[OS_PAYMENT_EXPIRES_AT] = payment->expires_at;
	pn[OS_PAYMENT_EXPIRES_AT] = payment->expires_isnull;
	p[OS_PAYMENT_MEMBER_ID] = Int64GetDatum(order->member_id);
	os_rows_insert(&w, OS_PAYMENT, p, pn);

	for (int i = 0; i < nevents; i++)
	{
		e[OS_OUTBOX_EVENT_TYPE] = CStringGetTextDatum(events[i].type);
		e[OS_OUTBOX_AGGREGATE_TYPE] = CStringGetTextDatum(events[i].aggregate_type);
		e[OS_OUTBOX_AGGREGATE_ID] = Int64GetDatum(events[i].aggregate_id);
		e[OS_OUTBOX_PAYLOAD] = PointerGetDatum(events[i].payload);
		e[OS_OUTBOX_TRACE_CONTEXT] = trace; /* read once for every event */
		os_rows_insert(&w, OS_OUTBOX, e, en);
	}
	os_rows_end(&w);
	if (os_rows_citus(OS_ORDERS))
	{
		Datum		owner[2] = {Int64GetDatum(order->id), Int64GetDatum(order->member_id)};

		os_exec(&insert_owner, owner, NULL, 0);
	}
	if (nevents > 0)
		os_note_event();
}
