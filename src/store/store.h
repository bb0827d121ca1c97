/*
 * store.h
 *	  The store's named operations: the only way code outside src/store/
 *	  reads or writes the extension's tables.  Each operation says what it
 *	  does in the domain's words; how (a kept SPI statement or plan-free
 *	  rows) is the store's business.
 */
#ifndef OS_STORE_H
#define OS_STORE_H

/* Included by order_system.h, after the store's internals it names. */

/* ------------------------------------------------------------ sessions */

/*
 * A SQL-callable function's reads and writes happen between open and close
 * (an SPI connection: kept statements run inside it).
 */
extern void os_store_open(void);
extern void os_store_close(void);

/* ------------------------------------------------------------- batches */

/*
 * A batch of plan-free writes (one executor state, each table opened
 * once): the lines of an order are reserved in one batch.
 */
typedef struct os_rows os_batch;

extern void os_store_batch_begin(os_batch *b);
extern void os_store_batch_end(os_batch *b);

/* -------------------------------------------------------------- members */

extern int64 os_store_insert_member(const char *name, const char *email);

/* Lock a member's row (FOR NO KEY UPDATE); false when there is none. */
extern bool os_store_lock_member(int64 member_id, bool *active);
extern void os_store_deactivate_member(int64 member_id);

/* Read a member as a statement of its own would; false when there is none. */
extern bool os_store_member_active(int64 member_id, bool *active);

/*
 * Take one of the member's order tokens (the core's token bucket, at the
 * transaction's start time): false when there is no such member, else
 * *left holds what the bucket has after the take (below 0: refused).
 */
extern bool os_store_take_order_token(int64 member_id, double burst,
									  double per_s, double *left);

/* The member a login role acts for, 0 if none. */
extern int64 os_store_login_member(Oid login);

/* --------------------------------------------------------------- points */

extern int64 os_points_headroom(int64 member_id);

/*
 * Add delta to the member's points and write the ledger row: true with the
 * new balance in *balance; false (nothing written) when the balance would
 * go below zero, with the current one in *balance.
 */
extern bool os_points_apply(int64 member_id, int64 order_id, const char *kind,
							int64 delta, const char *reason, int64 *balance);

/* ------------------------------------------------------- stock buckets */

/* How settling an order moves its lines' stock. */
typedef enum os_stock_move
{
	OS_STOCK_SELL,				/* reserved -> sold (capture) */
	OS_STOCK_RELEASE,			/* reserved -> available (decline, cancel,
								 * expire) */
	OS_STOCK_RETURN				/* sold -> available (refund) */
} os_stock_move;

extern int	os_bucket_reserve(int64 product_id, int64 quantity);
extern void os_lock_line_stock(Datum order_ids);
extern void os_lock_order_stock(int64 order_id, int64 member_id);
extern void os_bucket_move(int64 order_id, int64 member_id, os_stock_move how);

/* ------------------------------------------------------------- products */

extern int64 os_store_insert_product(const char *sku, const char *name,
									 int64 price, const char *currency,
									 int64 stock);
extern bool os_store_set_price(int64 product_id, int64 price);

/* Add stock; false when there is no such product, else the new available. */
extern bool os_store_add_stock(int64 product_id, int64 quantity,
							   int64 *available);

/* false: no such product; else *was_active says whether it was active. */
extern bool os_store_deactivate_product(int64 product_id, bool *was_active);

/* What a reservation needs to know of a product it could not reserve. */
typedef struct os_product_brief
{
	bool		active;
	int64		available;
	int16		flash_buckets;
	int64		price;
	char	   *currency;
} os_product_brief;

extern bool os_store_product_brief(int64 product_id, os_product_brief *out);

/*
 * Reserve quantity from the product's row (the core's os_stock_reserve, on
 * the row locked at its newest version): true with the unit price and
 * currency, false when the row is missing or the rule leaves it alone.
 */
extern bool os_store_reserve_from_row(os_batch *b, int64 product_id,
									  int64 quantity, int64 *price,
									  char **currency);

/*
 * Move the stock of an order's lines that came from product rows (sell,
 * release or return it); lines from flash-sale buckets move in buckets.c.
 */
extern void os_store_move_line_stock(int64 order_id, int64 member_id,
									 os_stock_move how);

/* (Citus) lines -> a row of arrays, the arguments of move (products.c). */
extern void os_move_from_line_arrays(os_stmt *lines, os_stmt *move,
									 int64 order_id, int64 member_id);

/* --------------------------------------------------------------- orders */

extern int64 os_store_next_order_id(void);
extern int64 os_store_next_payment_id(void);

/* An order as its idempotency key replays it. */
typedef struct os_order_replay
{
	int64		order_id;
	char	   *status;
	int64		total;
	char	   *currency;
	int64		payment_id;
	char	   *payment_status;
	char	   *reference;
	Datum		expires_at;
	bool		expires_isnull;
	uint64		fingerprint;
} os_order_replay;

extern bool os_store_order_by_key(int64 member_id, const char *key,
								  os_order_replay *out);

/* The rows place_order writes. */
typedef struct os_order_row
{
	int64		id;
	int64		member_id;
	const char *status;
	const char *currency;
	int64		total;
	const char *method;
	const char *idempotency_key;	/* NULL: none */
	uint64		fingerprint;
} os_order_row;

typedef struct os_payment_row
{
	int64		id;
	int64		order_id;
	const char *method;
	int64		amount;
	int64		points_amount;
	int64		external_amount;
	const char *status;
	const char *reference;		/* NULL: none */
	Datum		expires_at;
	bool		expires_isnull;
} os_payment_row;

typedef struct os_event_row
{
	const char *type;
	const char *aggregate_type;
	int64		aggregate_id;
	text	   *payload;		/* a JSON object */
} os_event_row;

/* Write an order, its lines (buckets[i] < 0: none), payment and events. */
extern void os_store_write_order(const os_order_row *order, const os_line *lines,
								 const int16 *buckets, int nlines,
								 const os_payment_row *payment,
								 const os_event_row *events, int nevents);

/* ----------------------------------------------------------------- saga */

/* An order and its payment as a saga step locks them. */
typedef struct os_locked_order
{
	char	   *status;
	int64		member_id;
	char	   *currency;
	int64		payment_id;
	int64		points_amount;
	int64		external_amount;
	bool		has_buckets;	/* some line took flash-sale bucket stock */
	char	   *reference;		/* NULL: none */
} os_locked_order;

/* The order's member, read without a lock; false when there is no order. */
extern bool os_store_order_member(int64 order_id, int64 *member_id);

/*
 * Lock the order (FOR NO KEY UPDATE) and read it; false when there is none.
 * The saga's other statements on the order's rows name its member too.
 */
extern bool os_store_lock_order(int64 order_id, os_locked_order *o);

/* Lock the stock the order's lines hold: product rows, or their buckets. */
extern void os_store_lock_line_stock(int64 order_id, int64 member_id, bool has_buckets);

extern void os_store_set_order_status(int64 order_id, int64 member_id,
									  const char *status, const char *reason,
									  int64 points_earned);
extern void os_store_set_payment_status(int64 payment_id, int64 member_id,
										const char *status, const char *gateway_ref);

/* The payment a deposit reference names; false when there is none. */
extern bool os_store_find_deposit(const char *reference, int64 *order_id,
								  int64 *amount_due);

/*
 * Lock up to max_orders unpaid orders past their deadline (skipping locked
 * ones), then the stock of their lines and their members in the global lock
 * order (orders, products by id, members by id), so an expiry batch never
 * deadlocks with place_order.  Returns how many, their ids in *order_ids.
 */
extern int	os_store_lock_expired_orders(int max_orders, int64 **order_ids);

/* ------------------------------------------------------------ consumers */

/*
 * A consumer's position (pg_snapshot datums) and its open batch, the
 * cluster they were cut in, their outbox id marks (OS_MARK_NOW: the
 * snapshot was cut just now, write the sequence's current value), and the
 * role it belongs to.
 */
typedef struct os_consumer_row
{
	Datum		last_snapshot;
	Datum		batch_snapshot; /* (Datum) 0: no open batch */
	int64		batch_id;
	int64		system_identifier;
	int64		last_mark;
	int64		batch_mark;
	Oid			owner;			/* InvalidOid: none recorded, any caller */
} os_consumer_row;

#define OS_MARK_NOW (-1)

/*
 * Lock a consumer's row (FOR UPDATE), its owner read in the same
 * statement; false when it is not registered.
 */
extern bool os_store_lock_consumer(text *name, os_consumer_row *c);

/* Write the consumer's row back; acked: stamp acked_at. */
extern void os_store_set_position(text *name, const os_consumer_row *c, bool acked);

/*
 * Re-base every consumer position that is not trusted in this cluster
 * (order_system_internal.rebase_positions); true if it did.
 */
extern bool os_store_rebase_positions(void);

/*
 * The events committed after snapshot after and visible in upto, in id
 * order, as rows of next_batch's result (batch batch_id) sent to dest.
 */
extern void os_store_batch_events(Datum after, Datum upto, int64 batch_id,
								  DestReceiver *dest);

/* --------------------------------------------------------------- outbox */

/*
 * For the notifier (a background worker connected as the bootstrap
 * superuser): prune the outbox by the rule prune_outbox() uses, the
 * extension's own order_system_internal.prune_events() (found by OID
 * through pg_depend), as the extension's owner.  False when order_system
 * is not installed here or has no such function.
 */
extern bool os_store_prune_outbox_as_owner(void);

/* ------------------------------------------------------- payment methods */

/*
 * false when there is no such method.  *handler is the function the method's
 * handler text names (cached per backend), InvalidOid when it names none.
 */
extern bool os_store_payment_method(const char *name, Oid *handler,
									char **handler_text, bool *enabled);

/* A handler text's function (InvalidOid: none), and a function's text. */
extern Oid	os_store_payment_handler_oid(const char *handler);
extern char *os_store_payment_handler_text(Oid handler);
extern void os_store_insert_payment_method(const char *name, Oid handler,
										   const char *description);
extern bool os_store_set_payment_method_enabled(const char *name, bool enabled);

/* ---------------------------------------------------------------- Citus */

/* Whether Citus manages the table (it is in pg_dist_partition). */
extern bool os_store_managed_by_citus(Oid relid);

/* 55000 on a Citus worker of distributed tables: writes run on the coordinator. */
extern void os_store_require_coordinator(const char *what);

/* -------------------------------------------------------------- metrics */

/* The payment method member_id's order order_id was placed with; NULL if none. */
extern char *os_store_order_method(int64 order_id, int64 member_id);

#endif							/* OS_STORE_H */
