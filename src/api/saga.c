/*
 * saga.c
 *	  Saga steps after placement and their compensations: confirm or decline
 *	  a payment, confirm a deposit, cancel, expire, complete, refund.
 *
 * Every step locks the order row, asks the core state machine what the
 * event does, and only on a move applies its effects.  The row lock makes
 * racing steps (cancel vs confirm) take turns, and the state machine makes
 * the loser a no-op or an illegal-transition error, so each compensation
 * (release stock, refund points, void or refund the payment) runs once.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

typedef struct order_row
{
	int64		id;
	int64		member_id;
	os_state	status;
	char	   *currency;
	int64		payment_id;
	int64		points_amount;
	int64		external_amount;
	bool		has_buckets;	/* some line took flash-sale bucket stock */
	bool		bank_transfer;	/* its reference is a virtual account */
	char	   *reference;
} order_row;

static os_stmt lock_order = OS_STMT(
									"SELECT o.status, o.member_id, o.currency, p.id, p.points_amount, p.external_amount,"
									" EXISTS (SELECT 1 FROM order_system.order_line l"
									" WHERE l.order_id = o.id AND l.bucket IS NOT NULL), p.reference"
									" FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id"
									" WHERE o.id = $1 FOR NO KEY UPDATE OF o",
									1, INT8OID);

static os_stmt lock_products = OS_STMT(
									   "SELECT p.id FROM order_system.product p WHERE p.id IN"
									   " (SELECT l.product_id FROM order_system.order_line l WHERE l.order_id = $1)"
									   " ORDER BY p.id FOR NO KEY UPDATE OF p",
									   1, INT8OID);

static os_stmt stock_moves[] = {
	[OS_STOCK_SELL] = OS_STMT(
							  "UPDATE order_system.product p SET stock_reserved = p.stock_reserved - l.quantity,"
							  " stock_sold = p.stock_sold + l.quantity"
							  " FROM order_system.order_line l WHERE l.order_id = $1 AND p.id = l.product_id"
							  " AND l.bucket IS NULL",
							  1, INT8OID),
	[OS_STOCK_RELEASE] = OS_STMT(
								 "UPDATE order_system.product p SET stock_reserved = p.stock_reserved - l.quantity,"
								 " stock_available = p.stock_available + l.quantity"
								 " FROM order_system.order_line l WHERE l.order_id = $1 AND p.id = l.product_id"
								 " AND l.bucket IS NULL",
								 1, INT8OID),
	[OS_STOCK_RETURN] = OS_STMT(
								"UPDATE order_system.product p SET stock_sold = p.stock_sold - l.quantity,"
								" stock_available = p.stock_available + l.quantity"
								" FROM order_system.order_line l WHERE l.order_id = $1 AND p.id = l.product_id"
								" AND l.bucket IS NULL",
								1, INT8OID),
};

static os_stmt set_order_status = OS_STMT(
										  "UPDATE order_system.orders SET status = $2, status_reason = coalesce($3, status_reason),"
										  " points_earned = points_earned + $4, updated_at = pg_catalog.now() WHERE id = $1",
										  4, INT8OID, TEXTOID, TEXTOID, INT8OID);

static os_stmt set_payment_status = OS_STMT(
											"UPDATE order_system.payment SET status = $2, gateway_ref = coalesce($3, gateway_ref),"
											" updated_at = pg_catalog.now() WHERE id = $1",
											3, INT8OID, TEXTOID, TEXTOID);

static os_stmt find_deposit = OS_STMT(
									  "SELECT order_id, external_amount FROM order_system.payment WHERE reference = $1",
									  1, TEXTOID);

static os_stmt expirable = OS_STMT(
								   "SELECT o.id FROM order_system.orders o"
								   " JOIN order_system.payment p ON p.order_id = o.id"
								   " WHERE o.status = 'pending_payment' AND p.status = 'pending'"
								   " AND p.expires_at <= pg_catalog.now()"
								   " ORDER BY p.expires_at LIMIT $1 FOR NO KEY UPDATE OF o SKIP LOCKED",
								   1, INT4OID);

/*
 * An expiry batch takes every lock it needs before settling anything, in
 * the global order orders -> products by id (their rows or flash-sale
 * buckets, os_lock_line_stock) -> members by id that every other step
 * follows, so a batch never deadlocks with place_order.
 */
static os_stmt lock_batch_members = OS_STMT(
											"SELECT m.id FROM order_system.member m WHERE m.id IN"
											" (SELECT o.member_id FROM order_system.orders o"
											" JOIN order_system.payment p ON p.order_id = o.id"
											" WHERE o.id OPERATOR(pg_catalog.=) ANY ($1) AND p.points_amount > 0)"
											" ORDER BY m.id FOR NO KEY UPDATE OF m",
											1, INT8ARRAYOID);

/* ------------------------------------------------------------ effects */

static void
load_order(int64 order_id, order_row *o)
{
	Datum		v = Int64GetDatum(order_id);
	char	   *status;
	bool		isnull;

	int64		scope = os_caller_member();

	/* another member's order is "not found" to a member role */
	if (os_exec(&lock_order, &v, NULL, 1) == 0 ||
		(scope != 0 && os_getint64(0, 2) != scope))
		os_error(OS_ERR_ORDER_NOT_FOUND, "order " INT64_FORMAT " not found", order_id);
	status = os_getstr(0, 1);
	if (!os_state_parse(status, &o->status))
		os_error(OS_ERR_ILLEGAL_TRANSITION, "order " INT64_FORMAT " has unknown status \"%s\"",
				 order_id, status);
	o->id = order_id;
	o->member_id = os_getint64(0, 2);
	o->currency = os_getstr(0, 3);
	o->payment_id = os_getint64(0, 4);
	o->points_amount = os_getint64(0, 5);
	o->external_amount = os_getint64(0, 6);
	o->has_buckets = DatumGetBool(os_getattr(0, 7, &isnull));
	o->reference = os_getstr(0, 8);
	o->bank_transfer = o->reference != NULL && os_virtual_account_valid(o->reference);
}

static Datum
id_array(const Datum *ids, int n)
{
	return PointerGetDatum(construct_array((Datum *) ids, n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

static void
move_stock(const order_row *o, os_stock_move how)
{
	Datum		v = Int64GetDatum(o->id);

	if (o->has_buckets)
		os_lock_line_stock(id_array(&v, 1));
	else
		os_exec(&lock_products, &v, NULL, 0);
	os_exec(&stock_moves[how], &v, NULL, 0);
	if (o->has_buckets)
		os_bucket_move(o->id, how);
}

static void
update_status(const order_row *o, os_state to, const char *reason, int64 earned)
{
	Datum		v[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	v[0] = Int64GetDatum(o->id);
	v[1] = CStringGetTextDatum(os_state_name(to));
	v[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[2] = reason ? ' ' : 'n';
	v[3] = Int64GetDatum(earned);
	os_exec(&set_order_status, v, nulls, 0);
}

static void
update_payment(const order_row *o, const char *status, const char *gateway_ref)
{
	Datum		v[3];
	char		nulls[3] = {' ', ' ', ' '};

	v[0] = Int64GetDatum(o->payment_id);
	v[1] = CStringGetTextDatum(status);
	v[2] = gateway_ref ? CStringGetTextDatum(gateway_ref) : (Datum) 0;
	nulls[2] = gateway_ref ? ' ' : 'n';
	os_exec(&set_payment_status, v, nulls, 0);
}

/* Give back points an order spent; returns how many. */
static int64
refund_points(const order_row *o, const char *reason)
{
	if (o->points_amount > 0)
		os_points_apply(o->member_id, o->id, "refund", o->points_amount, reason, NULL);
	return o->points_amount;
}

/* Start an order event's payload: {"order_id": .., "payment_id": .. */
static void
payload_begin(os_json *p, const order_row *o)
{
	os_json_begin(p);
	os_json_int(p, "order_id", o->id);
	os_json_int(p, "payment_id", o->payment_id);
}

static void
payload_emit(os_json *p, const char *type, const order_row *o)
{
	os_emit_event(type, "order", o->id, os_json_end(p));
}

/* Ask the gateway to void or refund the external part, if there is one. */
static void
emit_external(const char *type, const order_row *o, const char *reason)
{
	os_json		p;

	if (o->external_amount == 0)
		return;
	payload_begin(&p, o);
	os_json_int(&p, "amount", o->external_amount);
	os_json_str(&p, "reason", reason);
	payload_emit(&p, type, o);
}

/* ------------------------------------------------------------- steps */

static void
step_capture(const order_row *o, const char *gateway_ref)
{
	os_json		p;

	move_stock(o, OS_STOCK_SELL);
	update_payment(o, "captured", gateway_ref);
	update_status(o, OS_STATE_PAID, NULL, 0);
	payload_begin(&p, o);
	os_json_int(&p, "points_amount", o->points_amount);
	os_json_int(&p, "external_amount", o->external_amount);
	os_json_str(&p, "gateway_ref", gateway_ref);
	payload_emit(&p, "order.paid", o);
}

/* decline, cancel and expire: release stock, refund points, end payment */
static void
step_unwind(const order_row *o, os_event ev, os_state to, const char *reason)
{
	const char *payment_status = ev == OS_EVENT_DECLINE ? "declined" :
	ev == OS_EVENT_EXPIRE ? "expired" : "voided";
	os_json		p;

	move_stock(o, OS_STOCK_RELEASE);
	update_payment(o, payment_status, NULL);
	update_status(o, to, reason, 0);
	payload_begin(&p, o);
	os_json_str(&p, "payment_status", payment_status);
	os_json_int(&p, "points_refunded", refund_points(o, reason));
	os_json_str(&p, "reason", reason);
	payload_emit(&p, to == OS_STATE_EXPIRED ? "order.expired" : "order.cancelled", o);
	if (ev != OS_EVENT_DECLINE)
		emit_external("payment.voided", o, reason);
}

static void
step_complete(const order_row *o)
{
	int64		earned = 0;
	os_json		p;

	if (strcmp(o->currency, os_points_currency) == 0)
		os_check(os_points_earned(o->external_amount, os_points_earn_rate_bp, &earned),
				 "points earned");
	if (earned > 0)
		earned = Min(earned, os_points_headroom(o->member_id)); /* balances are capped */
	if (earned > 0)
		os_points_apply(o->member_id, o->id, "earn", earned, NULL, NULL);
	update_status(o, OS_STATE_COMPLETED, NULL, earned);
	payload_begin(&p, o);
	os_json_int(&p, "points_earned", earned);
	payload_emit(&p, "order.completed", o);
}

static void
step_refund(const order_row *o, const char *reason)
{
	os_json		p;

	move_stock(o, OS_STOCK_RETURN);
	update_payment(o, "refunded", NULL);
	update_status(o, OS_STATE_REFUNDED, reason, 0);
	payload_begin(&p, o);
	os_json_int(&p, "points_refunded", refund_points(o, reason));
	os_json_int(&p, "external_refund", o->external_amount);
	os_json_str(&p, "reason", reason);
	payload_emit(&p, "order.refunded", o);
	emit_external("payment.refunded", o, reason);
}

/*
 * Apply one saga event to an order; returns the status afterwards.  A repeat
 * of a step already taken changes nothing; a step the state machine does not
 * allow raises OS007 and changes nothing.
 */
const char *
os_saga_apply(int64 order_id, os_event ev, const char *reason,
			  const char *gateway_ref)
{
	order_row	o;
	os_state	to;
	os_result	r;

	load_order(order_id, &o);
	r = os_transition(o.status, ev, &to);
	if (r == OS_NOOP)
		return os_state_name(o.status);
	if (r != OS_OK)
		os_error(OS_ERR_ILLEGAL_TRANSITION, "order " INT64_FORMAT " is %s and cannot %s",
				 order_id, os_state_name(o.status), os_event_name(ev));
	/* a bank transfer is paid by its deposit, not by a card gateway's word */
	if (ev == OS_EVENT_CAPTURE && o.bank_transfer &&
		(gateway_ref == NULL || strcmp(gateway_ref, o.reference) != 0))
		os_error(OS_ERR_PAYMENT_MISMATCH,
				 "order " INT64_FORMAT " is paid by bank transfer: confirm its deposit with confirm_deposit",
				 order_id);
	switch (ev)
	{
		case OS_EVENT_CAPTURE:
			step_capture(&o, gateway_ref);
			break;
		case OS_EVENT_DECLINE:
		case OS_EVENT_CANCEL:
		case OS_EVENT_EXPIRE:
			step_unwind(&o, ev, to, reason);
			break;
		case OS_EVENT_COMPLETE:
			step_complete(&o);
			break;
		case OS_EVENT_REFUND:
			step_refund(&o, reason);
			break;
		case OS_EVENT_COUNT:
			break;
	}
	return os_state_name(to);
}

/* ------------------------------------------------------- SQL functions */

/* Shared body of the (order_id, optional reason or gateway_ref) steps. */
static Datum
saga_sql(FunctionCallInfo fcinfo, os_event ev, const char *text_name)
{
	static const char *const names[] = {"order_id"};
	char	   *text_arg;
	const char *status;

	os_require_args(fcinfo, 1, names);
	text_arg = text_name ? os_text_arg(fcinfo, 1, text_name,
									   ev == OS_EVENT_CAPTURE ? 200 : 1000) : NULL;
	SPI_connect();
	status = os_saga_apply(PG_GETARG_INT64(0), ev,
						   ev == OS_EVENT_CAPTURE ? NULL : text_arg,
						   ev == OS_EVENT_CAPTURE ? text_arg : NULL);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

OS_WRITER(os_confirm_payment)
{
	return saga_sql(fcinfo, OS_EVENT_CAPTURE, "gateway_ref");
}

OS_WRITER(os_decline_payment)
{
	return saga_sql(fcinfo, OS_EVENT_DECLINE, "reason");
}

OS_WRITER(os_cancel_order)
{
	return saga_sql(fcinfo, OS_EVENT_CANCEL, "reason");
}

OS_WRITER(os_complete_order)
{
	return saga_sql(fcinfo, OS_EVENT_COMPLETE, NULL);
}

OS_WRITER(os_refund_order)
{
	return saga_sql(fcinfo, OS_EVENT_REFUND, "reason");
}

/* confirm_deposit(reference, amount): a bank transfer arrived. */
OS_WRITER(os_confirm_deposit)
{
	static const char *const names[] = {"reference", "amount"};
	char	   *reference;
	int64		amount;
	int64		order_id;
	const char *status;
	Datum		v;

	os_require_args(fcinfo, 2, names);
	reference = os_text_arg(fcinfo, 0, "reference", 200);
	amount = PG_GETARG_INT64(1);
	SPI_connect();
	v = CStringGetTextDatum(reference);
	if (os_exec(&find_deposit, &v, NULL, 1) == 0)
		os_error(OS_ERR_PAYMENT_NOT_FOUND, "no payment has reference \"%s\"", reference);
	order_id = os_getint64(0, 1);
	if (os_getint64(0, 2) != amount)
		os_error(OS_ERR_PAYMENT_MISMATCH,
				 "deposit of " INT64_FORMAT " does not match the " INT64_FORMAT " due on \"%s\"",
				 amount, os_getint64(0, 2), reference);
	status = os_saga_apply(order_id, OS_EVENT_CAPTURE, NULL, reference);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/* expire_orders(max_orders): expire unpaid orders past their deadline. */
OS_WRITER(os_expire_orders)
{
	static const char *const names[] = {"max_orders"};
	int32		max_orders;
	int			n;
	int			expired = 0;
	Datum	   *ids;
	Datum		v;

	os_require_args(fcinfo, 1, names);
	max_orders = PG_GETARG_INT32(0);
	if (max_orders <= 0)
		os_error(OS_ERR_INVALID_PARAMETER, "max_orders must be positive");
	SPI_connect();
	v = Int32GetDatum(max_orders);
	n = os_exec(&expirable, &v, NULL, 0);
	ids = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(os_getint64(i, 1));
	if (n > 0)
	{
		v = id_array(ids, n);
		os_lock_line_stock(v);
		os_exec(&lock_batch_members, &v, NULL, 0);
	}
	for (int i = 0; i < n; i++)
		if (strcmp(os_saga_apply(DatumGetInt64(ids[i]), OS_EVENT_EXPIRE, "payment deadline passed", NULL),
				   "expired") == 0)
			expired++;
	SPI_finish();
	PG_RETURN_INT32(expired);
}
