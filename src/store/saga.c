/*
 * saga.c (store)
 *	  The rows a saga step reads and changes: the order and its payment
 *	  (locked), the products of its lines, the status columns, the deposit
 *	  lookup and the expiry batch.
 *
 * On Citus (doc/scale-out.md) the order's rows are distributed by member:
 * a statement that locks or changes them names the member as well, so that
 * Citus routes it to one shard, and a lock over many members' rows is taken
 * row by row.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

/*
 * The order's member, read without a lock (it never changes).  On Citus
 * from order_owner first (one shard), from orders (every shard) for an
 * order that has no row there.
 */
static os_stmt order_member = OS_STMT(
									  "SELECT member_id FROM order_system.orders WHERE id = $1",
									  1, INT8OID);
static os_stmt order_owner = OS_STMT(
									 "SELECT member_id FROM order_system.order_owner WHERE order_id = $1",
									 1, INT8OID);

static os_stmt lock_order = OS_STMT(
									"SELECT o.status, o.member_id, o.currency, p.id, p.points_amount, p.external_amount,"
									" EXISTS (SELECT 1 FROM order_system.order_line l"
									" WHERE l.order_id = o.id AND l.bucket IS NOT NULL), p.reference"
									" FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id"
									" WHERE o.id = $1 FOR NO KEY UPDATE OF o",
									1, INT8OID);

/* The same, routed to the member's shard (Citus). */
static os_stmt lock_order_routed = OS_STMT(
										   "SELECT o.status, o.member_id, o.currency, p.id, p.points_amount, p.external_amount,"
										   " EXISTS (SELECT 1 FROM order_system.order_line l"
										   " WHERE l.member_id = $2 AND l.order_id = $1 AND l.bucket IS NOT NULL), p.reference"
										   " FROM order_system.orders o JOIN order_system.payment p"
										   " ON p.member_id = o.member_id AND p.order_id = o.id"
										   " WHERE o.member_id = $2 AND o.id = $1 FOR NO KEY UPDATE OF o",
										   2, INT8OID, INT8OID);
enum
{
	LOCKED_STATUS = 1, LOCKED_MEMBER_ID, LOCKED_CURRENCY, LOCKED_PAYMENT_ID,
	LOCKED_POINTS_AMOUNT, LOCKED_EXTERNAL_AMOUNT, LOCKED_HAS_BUCKETS, LOCKED_REFERENCE
};

static os_stmt lock_products = OS_STMT(
									   "SELECT p.id FROM order_system.product p WHERE p.id IN"
									   " (SELECT l.product_id FROM order_system.order_line l WHERE l.order_id = $1)"
									   " ORDER BY p.id FOR NO KEY UPDATE OF p",
									   1, INT8OID);

static os_stmt set_order_status = OS_STMT(
										  "UPDATE order_system.orders SET status = $2, status_reason = coalesce($3, status_reason),"
										  " points_earned = points_earned + $4, updated_at = pg_catalog.now()"
										  " WHERE id = $1 AND member_id = $5",
										  5, INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID);

static os_stmt set_payment_status = OS_STMT(
											"UPDATE order_system.payment SET status = $2, gateway_ref = coalesce($3, gateway_ref),"
											" updated_at = pg_catalog.now() WHERE id = $1 AND member_id = $4",
											4, INT8OID, TEXTOID, TEXTOID, INT8OID);

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
 * Citus refuses a lock over many shards: the candidates are read unlocked,
 * then each is locked on its member's shard if it still qualifies and no
 * one else holds it, as the statement above would skip it.
 */
static os_stmt expirable_unlocked = OS_STMT(
											"SELECT o.id, o.member_id, p.points_amount > 0 FROM order_system.orders o"
											" JOIN order_system.payment p ON p.member_id = o.member_id AND p.order_id = o.id"
											" WHERE o.status = 'pending_payment' AND p.status = 'pending'"
											" AND p.expires_at <= pg_catalog.now()"
											" ORDER BY p.expires_at LIMIT $1",
											1, INT4OID);
static os_stmt lock_expirable = OS_STMT(
										"SELECT 1 FROM order_system.orders o"
										" JOIN order_system.payment p ON p.member_id = o.member_id AND p.order_id = o.id"
										" WHERE o.member_id = $2 AND o.id = $1"
										" AND o.status = 'pending_payment' AND p.status = 'pending'"
										" AND p.expires_at <= pg_catalog.now()"
										" FOR NO KEY UPDATE OF o SKIP LOCKED",
										2, INT8OID, INT8OID);
static os_stmt lock_member_row = OS_STMT(
										 "SELECT 1 FROM order_system.member WHERE id = $1 FOR NO KEY UPDATE",
										 1, INT8OID);

static os_stmt lock_batch_members = OS_STMT(
											"SELECT m.id FROM order_system.member m WHERE m.id IN"
											" (SELECT o.member_id FROM order_system.orders o"
											" JOIN order_system.payment p ON p.order_id = o.id"
											" WHERE o.id OPERATOR(pg_catalog.=) ANY ($1) AND p.points_amount > 0)"
											" ORDER BY m.id FOR NO KEY UPDATE OF m",
											1, INT8ARRAYOID);

bool
os_store_order_member(int64 order_id, int64 *member_id)
{
	Datum		v = Int64GetDatum(order_id);

	if ((!os_rows_citus(OS_ORDERS) || os_exec(&order_owner, &v, NULL, 1) == 0) &&
		os_exec(&order_member, &v, NULL, 1) == 0)
		return false;
	*member_id = os_getint64(0, 1);
	return true;
}

bool
os_store_lock_order(int64 order_id, os_locked_order *o)
{
	Datum		v[2] = {Int64GetDatum(order_id), 0};
	bool		isnull;

	if (os_rows_citus(OS_ORDERS))
	{
		int64		member_id;

		if (!os_store_order_member(order_id, &member_id))
			return false;
		v[1] = Int64GetDatum(member_id);
		if (os_exec(&lock_order_routed, v, NULL, 1) == 0)
			return false;
	}
	else if (os_exec(&lock_order, v, NULL, 1) == 0)
		return false;
	o->status = os_getstr(0, LOCKED_STATUS);
	o->member_id = os_getint64(0, LOCKED_MEMBER_ID);
	o->currency = os_getstr(0, LOCKED_CURRENCY);
	o->payment_id = os_getint64(0, LOCKED_PAYMENT_ID);
	o->points_amount = os_getint64(0, LOCKED_POINTS_AMOUNT);
	o->external_amount = os_getint64(0, LOCKED_EXTERNAL_AMOUNT);
	o->has_buckets = DatumGetBool(os_getattr(0, LOCKED_HAS_BUCKETS, &isnull));
	o->reference = os_getstr(0, LOCKED_REFERENCE);
	return true;
}

static Datum
id_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

void
os_store_lock_line_stock(int64 order_id, int64 member_id, bool has_buckets)
{
	Datum		v = Int64GetDatum(order_id);

	/* Citus refuses a lock of reference rows chosen by a distributed table */
	if (os_rows_citus(OS_ORDER_LINE))
		os_lock_order_stock(order_id, member_id);
	else if (has_buckets)
		os_lock_line_stock(id_array(&order_id, 1));
	else
		os_exec(&lock_products, &v, NULL, 0);
}

void
os_store_set_order_status(int64 order_id, int64 member_id, const char *status,
						  const char *reason, int64 points_earned)
{
	Datum		v[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	v[0] = Int64GetDatum(order_id);
	v[1] = CStringGetTextDatum(status);
	v[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[2] = reason ? ' ' : 'n';
	v[3] = Int64GetDatum(points_earned);
	v[4] = Int64GetDatum(member_id);
	os_exec(&set_order_status, v, nulls, 0);
}

void
os_store_set_payment_status(int64 payment_id, int64 member_id, const char *status,
							const char *gateway_ref)
{
	Datum		v[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	v[0] = Int64GetDatum(payment_id);
	v[1] = CStringGetTextDatum(status);
	v[2] = gateway_ref ? CStringGetTextDatum(gateway_ref) : (Datum) 0;
	nulls[2] = gateway_ref ? ' ' : 'n';
	v[3] = Int64GetDatum(member_id);
	os_exec(&set_payment_status, v, nulls, 0);
}

bool
os_store_find_deposit(const char *reference, int64 *order_id, int64 *amount_due)
{
	Datum		v = CStringGetTextDatum(reference);

	if (os_exec(&find_deposit, &v, NULL, 1) == 0)
		return false;
	*order_id = os_getint64(0, 1);
	*amount_due = os_getint64(0, 2);
	return true;
}

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * Citus: lock the candidates one by one on their shards (those gone or held
 * elsewhere are left out), then their stock in product order and the
 * members whose points they return in id order: the order every saga step
 * locks rows in.  Returns how many were locked, first in ids.
 */
static int
lock_expired_routed(int n, int64 *ids)
{
	int64	   *members = palloc(sizeof(int64) * Max(n, 1));
	bool	   *points = palloc(sizeof(bool) * Max(n, 1));
	int			kept = 0;
	int			nmembers = 0;

	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		members[i] = os_getint64(i, 2);
		points[i] = DatumGetBool(os_getattr(i, 3, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		Datum		v[2] = {Int64GetDatum(ids[i]), Int64GetDatum(members[i])};

		if (os_exec(&lock_expirable, v, NULL, 1) == 0)
			continue;
		ids[kept] = ids[i];
		if (points[i])
			members[nmembers++] = members[i];
		kept++;
	}
	if (kept == 0)
		return 0;
	os_lock_line_stock(id_array(ids, kept));
	qsort(members, nmembers, sizeof(int64), compare_int64);
	for (int i = 0; i < nmembers; i++)
	{
		Datum		v = Int64GetDatum(members[i]);

		if (i == 0 || members[i] != members[i - 1])
			os_exec(&lock_member_row, &v, NULL, 0);
	}
	return kept;
}

int
os_store_lock_expired_orders(int max_orders, int64 **order_ids)
{
	Datum		v = Int32GetDatum(max_orders);
	bool		citus = os_rows_citus(OS_ORDERS);
	int			n = os_exec(citus ? &expirable_unlocked : &expirable, &v, NULL, 0);
	int64	   *ids = palloc(sizeof(int64) * Max(n, 1));

	for (int i = 0; i < n; i++)
		ids[i] = os_getint64(i, 1);
	if (citus)
		n = lock_expired_routed(n, ids);
	else if (n > 0)
	{
		v = id_array(ids, n);
		os_lock_line_stock(v);
		os_exec(&lock_batch_members, &v, NULL, 0);
	}
	*order_ids = ids;
	return n;
}
