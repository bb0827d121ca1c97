/*
 * os_core.h
 *	  The order_system domain core: order state machine, money arithmetic,
 *	  payment strategies, points rules and result codes.
 *
 * Pure C: no server headers.  It returns result codes; the extension maps
 * them to SQLSTATEs (os_result_info), the standalone test links it as is.
 */
#ifndef OS_CORE_H
#define OS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- results */

typedef enum os_result
{
	OS_OK = 0,
	OS_NOOP,					/* already done: a harmless repeat */
	OS_ERR_MEMBER_NOT_FOUND,
	OS_ERR_MEMBER_INACTIVE,
	OS_ERR_PRODUCT_NOT_FOUND,
	OS_ERR_PRODUCT_INACTIVE,
	OS_ERR_OUT_OF_STOCK,
	OS_ERR_INSUFFICIENT_POINTS,
	OS_ERR_ILLEGAL_TRANSITION,
	OS_ERR_UNKNOWN_PAYMENT_METHOD,
	OS_ERR_IDEMPOTENCY_CONFLICT,
	OS_ERR_ORDER_NOT_FOUND,
	OS_ERR_CURRENCY_MISMATCH,
	OS_ERR_PAYMENT_MISMATCH,
	OS_ERR_BAD_PAYMENT_PLAN,
	OS_ERR_PAYMENT_NOT_FOUND,
	OS_ERR_CONSUMER_NOT_FOUND,
	OS_ERR_BATCH_NOT_FOUND,
	OS_ERR_RATE_LIMITED,
	OS_ERR_POSITIONS_UNRESTORED,
	OS_ERR_OVERFLOW,
	OS_ERR_INVALID_PARAMETER,
	OS_ERR_NULL_VALUE,
	OS_RESULT_COUNT
} os_result;

typedef struct os_result_info
{
	os_result	code;
	const char *name;			/* snake_case name, as documented */
	const char *sqlstate;		/* five characters */
	const char *message;		/* default message */
} os_result_info;

extern const os_result_info *os_result_lookup(os_result code);

/* ------------------------------------------------------------------ money */

/* Money is an int64 count of minor units (cents, won); never a float. */
typedef int64_t os_money;

extern os_result os_money_add(os_money a, os_money b, os_money *out);
extern os_result os_money_sub(os_money a, os_money b, os_money *out);
extern os_result os_money_mul(os_money a, int64_t qty, os_money *out);
extern os_result os_money_rate_bp(os_money amount, int32_t basis_points,
								  os_money *out);

/* One order line as the core sees it: priced, quantity already checked. */
typedef struct os_line
{
	int64_t		product_id;
	int64_t		quantity;
	os_money	unit_price;
} os_line;

extern os_result os_check_quantity(int64_t quantity);
extern os_result os_lines_normalize(os_line *lines, int *nlines);
extern os_result os_lines_total(const os_line *lines, int nlines,
								os_money *total);

/* ------------------------------------------------------------ row rules */

/*
 * *equal: parts[0] + ... + parts[nparts - 1] == total.  OS_ERR_OVERFLOW if
 * the sum leaves int64.
 */
extern os_result os_parts_add_up(const os_money *parts, int nparts,
								 os_money total, bool *equal);

/* A ledger entry's sign: spend < 0, adjust <> 0, earn and refund > 0. */
extern bool os_ledger_delta_ok(const char *kind, size_t kind_len, int64_t delta);

/* --------------------------------------------------------- state machine */

typedef enum os_state
{
	OS_STATE_PENDING_PAYMENT = 0,
	OS_STATE_PAID,
	OS_STATE_COMPLETED,
	OS_STATE_CANCELLED,
	OS_STATE_EXPIRED,
	OS_STATE_REFUNDED,
	OS_STATE_COUNT
} os_state;

typedef enum os_event
{
	OS_EVENT_CAPTURE = 0,		/* payment captured (confirm, deposit) */
	OS_EVENT_DECLINE,			/* gateway declined the payment */
	OS_EVENT_CANCEL,			/* member or admin cancelled */
	OS_EVENT_EXPIRE,			/* unpaid past its deadline */
	OS_EVENT_COMPLETE,			/* fulfilled */
	OS_EVENT_REFUND,			/* paid order refunded */
	OS_EVENT_COUNT
} os_event;

extern const char *os_state_name(os_state s);
extern bool os_state_parse(const char *name, os_state *out);
extern const char *os_event_name(os_event e);
extern bool os_event_parse(const char *name, os_event *out);

/*
 * Apply an event: OS_OK with *to set (a move), OS_NOOP when the order is
 * already where the event would take it, OS_ERR_ILLEGAL_TRANSITION else.
 */
extern os_result os_transition(os_state from, os_event ev, os_state *to);
extern bool os_transition_edge_exists(os_state from, os_state to);
extern bool os_state_is_final(os_state s);

/*
 * The events that move an order out of status s, in event order, into out
 * (room for OS_EVENT_COUNT); returns how many.
 */
extern int	os_allowed_events(os_state s, os_event *out);

/* What to do instead of an illegal event ev on an order in status s, or NULL. */
extern const char *os_transition_hint(os_state s, os_event ev);

/*
 * What the metrics count (order_system.metrics_counters()): orders placed,
 * each saga move by its outcome, the compensations run, and the orders the
 * rate limit refused.
 */
typedef enum os_counter
{
	OS_COUNTER_PLACED = 0,
	OS_COUNTER_PAID,
	OS_COUNTER_COMPLETED,
	OS_COUNTER_CANCELLED,
	OS_COUNTER_DECLINED,
	OS_COUNTER_EXPIRED,
	OS_COUNTER_REFUNDED,
	OS_COUNTER_COMPENSATIONS,
	OS_COUNTER_RATE_LIMITED,
	OS_COUNTER_COUNT
} os_counter;

/*
 * The counter a saga move by event ev adds to; *compensates: the move also
 * runs a compensation (stock back, points back, the payment ended).
 * OS_COUNTER_COUNT for an unknown event.
 */
extern os_counter os_event_counter(os_event ev, bool *compensates);

/* -------------------------------------------------------------- payments */

/*
 * The longest a payment may stay pending: 366 days, 366 * 24 * 3600 s.  An
 * int: it bounds int GUCs and is printed with %d.
 */
#define OS_MAX_EXPIRY_S 31622400

/* What a payment strategy decides: how much from points, how much outside. */
typedef struct os_payment_plan
{
	os_money	points_amount;	/* captured at once from the balance */
	os_money	external_amount;	/* pending until a participant answers */
	int64_t		expires_in_s;	/* 0: the default payment timeout */
	char		reference[40];	/* e.g. a virtual account; "" if none */
} os_payment_plan;

typedef struct os_payment_request
{
	int64_t		order_id;
	int64_t		member_id;
	os_money	amount;
	os_money	points_requested;	/* split only: points part; -1 unset */
	int64_t		card_timeout_s;
	int64_t		bank_transfer_ttl_s;
} os_payment_request;

typedef os_result (*os_payment_planner) (const os_payment_request *req,
										 os_payment_plan *plan);

typedef struct os_payment_strategy
{
	const char *name;			/* method name registered by default */
	const char *handler;		/* SQL name of its handler function */
	os_payment_planner plan;
	const char *description;
} os_payment_strategy;

extern const os_payment_strategy os_builtin_strategies[];
extern const int os_builtin_strategy_count;
extern const os_payment_strategy *os_strategy_by_handler(const char *handler);
extern os_result os_payment_plan_check(const os_payment_plan *plan,
									   os_money amount);
extern bool os_virtual_account(int64_t order_id, char *buf, size_t buflen);
extern bool os_virtual_account_valid(const char *ref);

/* ---------------------------------------------------------------- points */

extern os_result os_points_earned(os_money paid_outside, int32_t rate_bp,
								  os_money *earned);

/* ------------------------------------------------------------ rate limit */

/*
 * A member's orders are limited by a token bucket: it holds up to burst
 * tokens, refills at per_minute tokens a minute, and each order takes one.
 * tokens_left is what the bucket holds after the take (below 0: refused).
 */
extern bool os_rate_allows(double tokens_left);
extern double os_rate_retry_after(double tokens_left, int32_t per_minute);

/*
 * Take one token from a bucket that held tokens elapsed_s seconds ago
 * (never_used: a bucket not used yet, full): refill at per_s tokens a second
 * (time running backwards refills nothing), cap at burst, take one.
 * Returns the tokens left (below 0: the order is refused).
 */
extern double os_rate_take(double tokens, bool never_used, double elapsed_s,
						   double burst, double per_s);

/* -------------------------------------------------------------- stock */

/* A product's stock as a reservation sees it. */
typedef struct os_stock
{
	bool		active;
	int16_t		flash_buckets;	/* > 0: stock lives in buckets, not the row */
	int64_t		available;
	int64_t		reserved;
} os_stock;

/*
 * Reserve quantity from the product row: OS_OK moves it from available to
 * reserved; OS_NOOP leaves the row alone (inactive, short, or on flash
 * sale: the caller explains or takes a bucket); OS_ERR_OVERFLOW if reserved
 * would leave int64.
 */
extern os_result os_stock_reserve(os_stock *stock, int64_t quantity);

/* ------------------------------------------------------------- hashing */

/* FNV-1a 64: fingerprint of an order request for idempotency keys. */
#define OS_FNV_INIT UINT64_C(0xcbf29ce484222325)
extern uint64_t os_fnv1a(uint64_t h, const void *data, size_t len);
extern uint64_t os_request_fingerprint(int64_t member_id, const char *method,
									   const os_line *lines, int nlines,
									   const char *params_text);

/* --------------------------------------------------------- replication */

/*
 * The server a keyword=value conninfo (a standby's primary_conninfo) names,
 * as "host=H port=P" with whichever of host (or hostaddr) and port it sets,
 * into buf; nothing else of it (never a password).  False, buf "", when it
 * names neither, is malformed or is a URI.
 */
extern bool os_conninfo_server(const char *conninfo, char *buf, size_t buflen);

/* ------------------------------------------------- consumer positions */

/*
 * Whether a consumer position (a transaction snapshot) can be read in this
 * cluster: cut in the cluster with this system identifier, and no snapshot
 * of it (the acknowledged one, the open batch's if batch_xmax is not 0)
 * reaches past cur_xmax, the current snapshot's xmax.  A dump restored
 * into another cluster, or into one whose xid counter is behind, fails it.
 */
extern bool os_position_trusted(uint64_t stamp, uint64_t system_identifier,
								uint64_t last_xmax, uint64_t batch_xmax,
								uint64_t cur_xmax);

#endif							/* OS_CORE_H */
