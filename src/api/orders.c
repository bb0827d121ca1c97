/*
 * orders.c
 *	  place_order: one call that checks the member, reserves stock for every
 *	  line all-or-nothing, prices the order, starts its payment through the
 *	  chosen strategy and writes the saga events.
 *
 * Lines are sorted by product id and each product row is locked by its
 * guarded update (the store's reservation) in that order, so two orders
 * never deadlock and stock never goes below zero.  An idempotency key
 * replays the first order.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"

/* Tag of the advisory lock that serialises one (member, key) pair. */
#define OS_IDEMPOTENCY_LOCK_CLASS 0x4F53

typedef struct place_request
{
	int64		member_id;
	char	   *method;
	char	   *idem_key;		/* NULL: no idempotency */
	Jsonb	   *params;			/* NULL: none */
	os_line    *lines;
	int			nlines;
	int16	   *buckets;		/* per line: its flash-sale bucket, -1: none */
	bool		any_bucket;
	uint64		fingerprint;
} place_request;

typedef struct place_result
{
	int64		order_id;
	const char *status;
	int64		total;
	char	   *currency;
	int64		payment_id;
	const char *payment_status;
	char	   *reference;
	Datum		expires_at;
	bool		expires_isnull;
	bool		replayed;
} place_result;

/* ------------------------------------------------------------ parsing */

static int64
line_field(JsonbContainer *line, int i, const char *key)
{
	int64		v;

	if (!os_jsonb_get_int64(line, key, &v, OS_ERR_INVALID_PARAMETER))
		os_error(OS_ERR_INVALID_PARAMETER, "line %d: \"%s\" is required", i + 1, key);
	return v;
}

/* lines: [{"product_id": 1, "quantity": 2}, ...] -> sorted, merged lines */
static os_line *
parse_lines(Jsonb *jb, int *nlines)
{
	int			n;
	os_line    *lines;

	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		os_error(OS_ERR_INVALID_PARAMETER,
				 "lines must be a JSON array of {\"product_id\", \"quantity\"} objects");
	n = JB_ROOT_COUNT(jb);
	if (n == 0)
		os_error(OS_ERR_INVALID_PARAMETER, "an order needs at least one line");
	if (n > 1000)
		os_error(OS_ERR_INVALID_PARAMETER, "an order has at most 1000 lines, not %d", n);
	lines = palloc(sizeof(os_line) * n);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(&jb->root, i);

		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			os_error(OS_ERR_INVALID_PARAMETER, "line %d must be a JSON object", i + 1);
		if (JsonContainerSize(v->val.binary.data) != 2)
			os_error(OS_ERR_INVALID_PARAMETER,
					 "line %d must have exactly the keys product_id and quantity", i + 1);
		lines[i].product_id = line_field(v->val.binary.data, i, "product_id");
		lines[i].quantity = line_field(v->val.binary.data, i, "quantity");
		lines[i].unit_price = 0;
		if (lines[i].product_id <= 0)
			os_error(OS_ERR_INVALID_PARAMETER, "line %d: product_id must be positive", i + 1);
		if (os_check_quantity(lines[i].quantity) != OS_OK)
			os_error(OS_ERR_INVALID_PARAMETER,
					 "line %d: quantity must be between 1 and 1000000000", i + 1);
	}
	if (os_lines_normalize(lines, &n) != OS_OK)
		os_error(OS_ERR_INVALID_PARAMETER,
				 "a product's quantities add up to more than 1000000000");
	*nlines = n;
	return lines;
}

/* Check and fingerprint a request; idem_key and params may be NULL. */
static void
build_request(place_request *req, int64 member_id, Jsonb *lines, text *method,
			  text *idem_key, Jsonb *params)
{
	char	   *params_text;

	req->member_id = member_id;
	req->lines = parse_lines(lines, &req->nlines);
	req->method = os_text_value(method, "payment_method", 63);
	req->idem_key = idem_key ? os_text_value(idem_key, "idempotency_key", 255) : NULL;
	if (req->idem_key != NULL && req->idem_key[0] == '\0')
		os_error(OS_ERR_INVALID_PARAMETER, "idempotency_key must not be empty");
	req->params = params;
	if (req->params != NULL && !JB_ROOT_IS_OBJECT(req->params))
		os_error(OS_ERR_INVALID_PARAMETER, "payment_params must be a JSON object");
	/* no payment_params and {} are the same request */
	params_text = req->params && JB_ROOT_COUNT(req->params) > 0 ?
		JsonbToCString(NULL, &req->params->root, VARSIZE(req->params)) : "";
	req->fingerprint = os_request_fingerprint(req->member_id, req->method,
											  req->lines, req->nlines, params_text);
}

static void
read_request(FunctionCallInfo fcinfo, place_request *req)
{
	static const char *const names[] = {"member_id", "lines", "payment_method"};

	os_require_args(fcinfo, 3, names);
	build_request(req, PG_GETARG_INT64(0), PG_GETARG_JSONB_P(1), PG_GETARG_TEXT_PP(2),
				  PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3),
				  PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4));
}

/* --------------------------------------------------------- idempotency */

/*
 * Does a stored fingerprint match the request?  Before 0.8.0 payment_params
 * {} was fingerprinted as its text and NULL as nothing: a key first used
 * with either still replays its order for either.
 */
static bool
same_request(const place_request *req, uint64 stored)
{
	if (stored == req->fingerprint)
		return true;
	if (req->params != NULL && JB_ROOT_COUNT(req->params) > 0)
		return false;
	return stored == os_request_fingerprint(req->member_id, req->method, req->lines,
											req->nlines, "{}");
}

/*
 * With a key: serialise callers of the same (member, key), then replay the
 * order it made, if any.  Returns true when res holds the replay.
 */
static bool
replay_by_key(const place_request *req, place_result *res)
{
	LOCKTAG		tag;
	uint64		h = os_fnv1a(OS_FNV_INIT, &req->member_id, sizeof(int64));
	os_order_replay r;

	h = os_fnv1a(h, req->idem_key, strlen(req->idem_key));
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 OS_IDEMPOTENCY_LOCK_CLASS);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	if (!os_store_order_by_key(req->member_id, req->idem_key, &r))
		return false;
	if (!same_request(req, r.fingerprint))
		os_raise_idempotency_conflict(req->idem_key, r.order_id);
	res->order_id = r.order_id;
	res->status = r.status;
	res->total = r.total;
	res->currency = r.currency;
	res->payment_id = r.payment_id;
	res->payment_status = r.payment_status;
	res->reference = r.reference;
	res->expires_at = r.expires_at;
	res->expires_isnull = r.expires_isnull;
	res->replayed = true;
	return true;
}

/* ----------------------------------------------------------- checks */

/*
 * The member must exist and be active; the method must be registered and
 * enabled.  Returns the method's handler.
 */
static Oid
check_member_and_method(const place_request *req)
{
	bool		active;
	Oid			handler;
	char	   *handler_text;
	bool		enabled;

	if (!os_store_member_active(req->member_id, &active))
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", req->member_id);
	if (!active)
		os_error(OS_ERR_MEMBER_INACTIVE, "member " INT64_FORMAT " is not active", req->member_id);
	if (!os_store_payment_method(req->method, &handler, &handler_text, &enabled) || !enabled)
		os_error(OS_ERR_UNKNOWN_PAYMENT_METHOD,
				 "payment method \"%s\" is unknown or disabled", req->method);
	if (!OidIsValid(handler))
		os_error(OS_ERR_UNKNOWN_PAYMENT_METHOD,
				 "payment method \"%s\" is unknown or disabled: its handler %s does not exist",
				 req->method, handler_text);
	return handler;
}

/*
 * Take one of the member's order tokens (OS017 when there is none) and the
 * order's and payment's ids (an order the limit refuses leaves a gap in
 * them).  Called once the products are locked: the member's row comes after
 * them, in the order every saga step locks rows (order, products, member),
 * so an order and a compensation of the same member never deadlock.
 */
static void
take_token_and_ids(const place_request *req, place_result *res)
{
	double		left;

	res->order_id = os_store_next_order_id();
	res->payment_id = os_store_next_payment_id();
	if (os_order_rate_per_min <= 0)
		return;
	if (!os_store_take_order_token(req->member_id, (double) os_order_burst,
								   os_order_rate_per_min / 60.0, &left))
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", req->member_id);
	if (!os_rate_allows(left))
	{
		os_metrics_rate_limited(req->method);
		os_raise_rate_limited(req->member_id, os_rate_retry_after(left, os_order_rate_per_min),
							  os_order_burst, os_order_rate_per_min);
	}
}

/*
 * The guarded UPDATE of a line's product found no row: a flash-sale product
 * (take the line from a bucket), or explain why not.  Sets the line's price
 * and returns its currency.
 */
static char *
reserve_elsewhere(os_line *line, int16 *bucket)
{
	os_product_brief p;

	if (!os_store_product_brief(line->product_id, &p))
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 line->product_id);
	if (!p.active)
		os_error(OS_ERR_PRODUCT_INACTIVE, "product " INT64_FORMAT " is not active",
				 line->product_id);
	if (p.flash_buckets == 0)
		os_raise_out_of_stock(line->product_id, p.available, line->quantity, false);
	line->unit_price = p.price;
	*bucket = os_bucket_reserve(line->product_id, line->quantity);
	if (*bucket < 0)
		os_raise_out_of_stock(line->product_id, 0, line->quantity, true);
	return p.currency;
}

/* Reserve every line in product order; returns the order's currency. */
static char *
reserve_lines(place_request *req)
{
	os_line    *lines = req->lines;
	char	   *currency = NULL;
	os_batch	b;

	req->buckets = palloc(sizeof(int16) * req->nlines);
	req->any_bucket = false;
	os_store_batch_begin(&b);
	for (int i = 0; i < req->nlines; i++)
	{
		char	   *cur;

		req->buckets[i] = -1;
		if (!os_store_reserve_from_row(&b, lines[i].product_id, lines[i].quantity,
									   &lines[i].unit_price, &cur))
		{
			cur = reserve_elsewhere(&lines[i], &req->buckets[i]);
			req->any_bucket = true;
		}
		if (currency != NULL && strcmp(currency, cur) != 0)
			os_error(OS_ERR_CURRENCY_MISMATCH,
					 "product " INT64_FORMAT " is priced in %s, the order in %s",
					 lines[i].product_id, cur, currency);
		currency = cur;
	}
	os_store_batch_end(&b);
	return currency;
}

/* ------------------------------------------------------------ writes */

/*
 * order.placed, then payment.requested (the gateway's cue) or order.paid:
 * their payloads and the second one's type.
 */
static const char *
placed_events(const place_request *req, const place_result *res,
			  const os_payment_plan *plan, text **placed_payload, text **next_payload)
{
	os_json		placed;
	os_json		next;
	char		expires[MAXDATELEN + 1];

	os_json_begin(&placed);
	os_json_int(&placed, "order_id", res->order_id);
	os_json_int(&placed, "member_id", req->member_id);
	os_json_str(&placed, "status", res->status);
	os_json_str(&placed, "currency", res->currency);
	os_json_int(&placed, "total_amount", res->total);
	os_json_str(&placed, "payment_method", req->method);
	os_json_int(&placed, "points_spent", plan->points_amount);
	os_json_open(&placed, "lines", true);
	for (int i = 0; i < req->nlines; i++)
	{
		os_json_open(&placed, NULL, false);
		os_json_int(&placed, "product_id", req->lines[i].product_id);
		os_json_int(&placed, "quantity", req->lines[i].quantity);
		os_json_int(&placed, "unit_price", req->lines[i].unit_price);
		os_json_close(&placed, false);
	}
	os_json_close(&placed, true);
	*placed_payload = os_json_end(&placed);

	os_json_begin(&next);
	os_json_int(&next, "order_id", res->order_id);
	os_json_int(&next, "payment_id", res->payment_id);
	if (plan->external_amount > 0)
	{
		os_json_str(&next, "method", req->method);
		os_json_int(&next, "amount", plan->external_amount);
		os_json_str(&next, "currency", res->currency);
		os_json_str(&next, "reference", res->reference);
		os_json_str(&next, "expires_at", res->expires_isnull ? NULL :
					JsonEncodeDateTime(expires, res->expires_at, TIMESTAMPTZOID, NULL));
	}
	else
	{
		os_json_int(&next, "points_amount", plan->points_amount);
		os_json_int(&next, "external_amount", 0);
		os_json_str(&next, "gateway_ref", NULL);
	}
	*next_payload = os_json_end(&next);
	return plan->external_amount > 0 ? "payment.requested" : "order.paid";
}

/*
 * Write the order, its lines, its payment and its events.  A pending
 * payment expires the payment timeout (or the plan's own) after the
 * transaction's start, as now() + that interval would.
 */
static void
write_order(const place_request *req, const os_payment_plan *plan, place_result *res)
{
	int64		expires = plan->expires_in_s > 0 ? plan->expires_in_s : os_payment_timeout_s;
	text	   *placed;
	text	   *next;
	os_order_row order;
	os_payment_row payment;
	os_event_row events[2];

	res->reference = plan->reference[0] ? pstrdup(plan->reference) : NULL;
	res->expires_isnull = strcmp(res->payment_status, "pending") != 0;
	res->expires_at = res->expires_isnull ? (Datum) 0 :
		TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
														expires * 1000));

	order.id = res->order_id;
	order.member_id = req->member_id;
	order.status = res->status;
	order.currency = res->currency;
	order.total = res->total;
	order.method = req->method;
	order.idempotency_key = req->idem_key;
	order.fingerprint = req->fingerprint;

	payment.id = res->payment_id;
	payment.order_id = res->order_id;
	payment.method = req->method;
	payment.amount = res->total;
	payment.points_amount = plan->points_amount;
	payment.external_amount = plan->external_amount;
	payment.status = res->payment_status;
	payment.reference = res->reference;
	payment.expires_at = res->expires_at;
	payment.expires_isnull = res->expires_isnull;

	events[1].type = placed_events(req, res, plan, &placed, &next);
	events[0].type = "order.placed";
	events[0].payload = placed;
	events[1].payload = next;
	for (int i = 0; i < 2; i++)
	{
		events[i].aggregate_type = "order";
		events[i].aggregate_id = res->order_id;
	}
	os_store_write_order(&order, req->lines, req->buckets, req->nlines, &payment,
						 events, lengthof(events));
}

/* Spend the plan's points from the member's balance. */
static void
spend_points(const place_request *req, const place_result *res,
			 const os_payment_plan *plan)
{
	int64		balance;

	if (plan->points_amount == 0)
		return;
	if (strcmp(res->currency, os_points_currency) != 0)
		os_error(OS_ERR_CURRENCY_MISMATCH,
				 "points pay only for orders in %s, this order is in %s",
				 os_points_currency, res->currency);
	if (!os_points_apply(req->member_id, res->order_id, "spend",
						 -plan->points_amount, NULL, &balance))
		os_raise_insufficient_points(req->member_id, balance, -plan->points_amount,
									 psprintf("member " INT64_FORMAT " has fewer than " INT64_FORMAT " points",
											  req->member_id, plan->points_amount));
}

static void
place(place_request *req, place_result *res)
{
	Oid			handler;
	os_payment_request preq;
	os_payment_plan plan;

	handler = check_member_and_method(req);
	res->currency = reserve_lines(req);
	if (os_lines_total(req->lines, req->nlines, &res->total) != OS_OK)
		os_error(OS_ERR_OVERFLOW, "order total is out of range");
	take_token_and_ids(req, res);

	preq.order_id = res->order_id;
	preq.member_id = req->member_id;
	preq.amount = res->total;
	preq.points_requested = -1;
	os_jsonb_get_int64(req->params ? &req->params->root : NULL, "points",
					   &preq.points_requested, OS_ERR_INVALID_PARAMETER);
	preq.card_timeout_s = os_payment_timeout_s;
	preq.bank_transfer_ttl_s = os_bank_transfer_ttl_s;
	os_payment_run_strategy(handler, &preq, res->currency, req->params, &plan);

	res->status = os_state_name(plan.external_amount == 0 ?
								OS_STATE_PAID : OS_STATE_PENDING_PAYMENT);
	res->payment_status = plan.external_amount == 0 ? "captured" : "pending";
	res->replayed = false;
	spend_points(req, res, &plan);
	write_order(req, &plan, res);
	if (plan.external_amount == 0)
	{
		os_store_move_line_stock(res->order_id, req->member_id, OS_STOCK_SELL);
		if (req->any_bucket)
			os_bucket_move(res->order_id, req->member_id, OS_STOCK_SELL);
	}
	os_metrics_order_placed(req->method, plan.external_amount == 0);
}

/* Replay the order of the request's idempotency key, or place a new one. */
static void
place_or_replay(place_request *req, place_result *res)
{
	int64		scope = os_caller_member();

	if (scope != 0 && scope != req->member_id)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a member role may place orders only for its own member " INT64_FORMAT,
						scope)));
	memset(res, 0, sizeof(*res));
	if (req->idem_key == NULL || !replay_by_key(req, res))
		place(req, res);
}

/*
 * place_order from values, for the checkout trigger: the same checks,
 * replay and writes.  The caller is connected to SPI; *status lives in
 * the SPI procedure's memory.  Returns the order id.
 */
int64
os_place_order_values(int64 member_id, Jsonb *lines, text *method, text *idem_key,
					  Jsonb *params, const char **status, bool *replayed)
{
	place_request req;
	place_result res;

	build_request(&req, member_id, lines, method, idem_key, params);
	place_or_replay(&req, &res);
	*status = res.status;
	*replayed = res.replayed;
	return res.order_id;
}

/* place_order(member_id, lines, payment_method, idempotency_key, payment_params) */
OS_WRITER(os_place_order)
{
	place_request req;
	place_result res;
	TupleDesc	tupdesc;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi;
	Datum		values[9];
	bool		nulls[9] = {false};
	HeapTuple	tuple;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("place_order must be declared to return a composite type")));
	read_request(fcinfo, &req);

	os_store_open();
	place_or_replay(&req, &res);

	values[0] = Int64GetDatum(res.order_id);
	values[1] = CStringGetTextDatum(res.status);
	values[2] = Int64GetDatum(res.total);
	values[3] = CStringGetTextDatum(res.currency);
	values[4] = Int64GetDatum(res.payment_id);
	values[5] = CStringGetTextDatum(res.payment_status);
	values[6] = res.reference ? CStringGetTextDatum(res.reference) : (Datum) 0;
	nulls[6] = res.reference == NULL;
	values[7] = res.expires_at;
	nulls[7] = res.expires_isnull;
	values[8] = BoolGetDatum(res.replayed);
	spi = MemoryContextSwitchTo(caller);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	MemoryContextSwitchTo(spi);
	os_store_close();
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
