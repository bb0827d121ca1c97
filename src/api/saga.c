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

/* ------------------------------------------------------------ effects */

/*
 * A member role steps only its own orders.  Ownership is checked before the
 * order is locked, so another member's order is neither waited for nor
 * locked, and it looks exactly like a missing one: OS010, same message.
 */
static void
check_order_scope(int64 order_id, int64 scope)
{
	int64		member_id;

	if (scope != 0 &&
		(!os_store_order_member(order_id, &member_id) || member_id != scope))
		os_error(OS_ERR_ORDER_NOT_FOUND, "order " INT64_FORMAT " not found", order_id);
}

static void
load_order(int64 order_id, order_row *o)
{
	os_locked_order row;
	int64		scope = os_caller_member();

	check_order_scope(order_id, scope);
	if (!os_store_lock_order(order_id, &row) || (scope != 0 && row.member_id != scope))
		os_error(OS_ERR_ORDER_NOT_FOUND, "order " INT64_FORMAT " not found", order_id);
	if (!os_state_parse(row.status, &o->status))
		os_error(OS_ERR_ILLEGAL_TRANSITION, "order " INT64_FORMAT " has unknown status \"%s\"",
				 order_id, row.status);
	o->id = order_id;
	o->member_id = row.member_id;
	o->currency = row.currency;
	o->payment_id = row.payment_id;
	o->points_amount = row.points_amount;
	o->external_amount = row.external_amount;
	o->has_buckets = row.has_buckets;
	o->reference = row.reference;
	o->bank_transfer = o->reference != NULL && os_virtual_account_valid(o->reference);
}

static void
move_stock(const order_row *o, os_stock_move how)
{
	os_store_lock_line_stock(o->id, o->member_id, o->has_buckets);
	os_store_move_line_stock(o->id, o->member_id, how);
	if (o->has_buckets)
		os_bucket_move(o->id, o->member_id, how);
}

static void
update_status(const order_row *o, os_state to, const char *reason, int64 earned)
{
	os_store_set_order_status(o->id, o->member_id, os_state_name(to), reason, earned);
}

static void
update_payment(const order_row *o, const char *status, const char *gateway_ref)
{
	os_store_set_payment_status(o->payment_id, o->member_id, status, gateway_ref);
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
 * allow raises OS007 and changes nothing.  deposit: the capture comes from
 * confirm_deposit, which has compared the amount.
 */
static const char *
saga_apply(int64 order_id, os_event ev, const char *reason,
		   const char *gateway_ref, bool deposit)
{
	order_row	o;
	os_state	to;
	os_result	r;

	load_order(order_id, &o);
	r = os_transition(o.status, ev, &to);
	if (r == OS_NOOP)
		return os_state_name(o.status);
	if (r != OS_OK)
		os_raise_illegal_transition(order_id, o.status, ev);

	/*
	 * A bank transfer is paid only by its deposit, whose amount
	 * confirm_deposit compares; its reference is no secret (get_order shows
	 * it, and it follows from the order id), so quoting it proves nothing.
	 */
	if (ev == OS_EVENT_CAPTURE && o.bank_transfer && !deposit)
		ereport(ERROR,
				(errcode(os_sqlstate(OS_ERR_PAYMENT_MISMATCH)),
				 errmsg("order " INT64_FORMAT " is paid by bank transfer", order_id),
				 errhint("Confirm its deposit with order_system.confirm_deposit(reference, amount).")));
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
	os_metrics_saga_move(order_id, o.member_id, ev);
	return os_state_name(to);
}

const char *
os_saga_apply(int64 order_id, os_event ev, const char *reason,
			  const char *gateway_ref)
{
	return saga_apply(order_id, ev, reason, gateway_ref, false);
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
	os_store_open();
	status = os_saga_apply(PG_GETARG_INT64(0), ev,
						   ev == OS_EVENT_CAPTURE ? NULL : text_arg,
						   ev == OS_EVENT_CAPTURE ? text_arg : NULL);
	os_store_close();
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
	int64		due;
	const char *status;

	os_require_args(fcinfo, 2, names);
	reference = os_text_arg(fcinfo, 0, "reference", 200);
	amount = PG_GETARG_INT64(1);
	os_store_open();
	if (!os_store_find_deposit(reference, &order_id, &due))
		os_error(OS_ERR_PAYMENT_NOT_FOUND, "no payment has reference \"%s\"", reference);
	if (due != amount)
		os_error(OS_ERR_PAYMENT_MISMATCH,
				 "deposit of " INT64_FORMAT " does not match the " INT64_FORMAT " due on \"%s\"",
				 amount, due, reference);
	status = saga_apply(order_id, OS_EVENT_CAPTURE, NULL, reference, true);
	os_store_close();
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/* expire_orders(max_orders): expire unpaid orders past their deadline. */
OS_WRITER(os_expire_orders)
{
	static const char *const names[] = {"max_orders"};
	int32		max_orders;
	int			n;
	int			expired = 0;
	int64	   *ids;

	os_require_args(fcinfo, 1, names);
	max_orders = PG_GETARG_INT32(0);
	if (max_orders <= 0)
		os_error(OS_ERR_INVALID_PARAMETER, "max_orders must be positive");
	os_store_open();
	n = os_store_lock_expired_orders(max_orders, &ids);
	for (int i = 0; i < n; i++)
		if (strcmp(os_saga_apply(ids[i], OS_EVENT_EXPIRE, "payment deadline passed", NULL),
				   "expired") == 0)
			expired++;
	os_store_close();
	PG_RETURN_INT32(expired);
}
