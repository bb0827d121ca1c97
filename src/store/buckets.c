/*
 * buckets.c
 *	  Flash-sale stock: a hot product's available stock split over bucket
 *	  rows, so that concurrent orders lock different rows.
 *
 * A guarded UPDATE of one product row holds its lock until the commit
 * record is flushed, so every order for one product waits for the previous
 * one's commit.  With set_flash_sale(product, k) the product's available
 * stock moves into k rows of order_system.stock_bucket; an order line takes
 * its quantity from a random bucket no other transaction holds (SKIP
 * LOCKED), and only waits when all are busy.  The line remembers its bucket, and the saga settles stock
 * there.  Nothing oversells: every bucket decrement is guarded like the
 * product's, and a line must fit in one bucket.
 *
 * Locks are always taken in product-id order, a product meaning either its
 * row or one of its buckets, so bucket lines keep place_order and the saga
 * deadlock-free.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/array.h"

static os_stmt take_free_bucket = OS_STMT(
										  "UPDATE order_system.stock_bucket b"
										  " SET available = b.available - $2, reserved = b.reserved + $2"
										  " WHERE (b.product_id, b.bucket) = (SELECT s.product_id, s.bucket"
										  " FROM order_system.stock_bucket s WHERE s.product_id = $1 AND s.available >= $2"
										  " ORDER BY pg_catalog.random() LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED)"
										  " RETURNING b.bucket",
										  2, INT8OID, INT8OID);

static os_stmt wait_for_bucket = OS_STMT(
										 "UPDATE order_system.stock_bucket b"
										 " SET available = b.available - $2, reserved = b.reserved + $2"
										 " WHERE (b.product_id, b.bucket) = (SELECT s.product_id, s.bucket"
										 " FROM order_system.stock_bucket s WHERE s.product_id = $1 AND s.available >= $2"
										 " ORDER BY s.available DESC, s.bucket LIMIT 1 FOR NO KEY UPDATE)"
										 " AND b.available >= $2 RETURNING b.bucket",
										 2, INT8OID, INT8OID);

static os_stmt line_stock = OS_STMT(
									"SELECT l.product_id, l.bucket FROM order_system.order_line l"
									" WHERE l.order_id OPERATOR(pg_catalog.=) ANY ($1)"
									" GROUP BY l.product_id, l.bucket ORDER BY l.product_id, l.bucket",
									1, INT8ARRAYOID);

/* One order's, on its member's shard (Citus). */
static os_stmt order_line_stock = OS_STMT(
										  "SELECT l.product_id, l.bucket FROM order_system.order_line l"
										  " WHERE l.member_id = $2 AND l.order_id = $1"
										  " GROUP BY l.product_id, l.bucket ORDER BY l.product_id, l.bucket",
										  2, INT8OID, INT8OID);

static os_stmt lock_product_row = OS_STMT(
										  "SELECT 1 FROM order_system.product WHERE id = $1 FOR NO KEY UPDATE",
										  1, INT8OID);

static os_stmt lock_bucket_row = OS_STMT(
										 "SELECT 1 FROM order_system.stock_bucket WHERE product_id = $1 AND bucket = $2"
										 " FOR NO KEY UPDATE",
										 2, INT8OID, INT2OID);

/* How each stock move changes a bucket's columns, as in saga.c for products. */
static os_stmt bucket_moves[] = {
	[OS_STOCK_SELL] = OS_STMT(
							  "UPDATE order_system.stock_bucket b SET reserved = b.reserved - l.quantity,"
							  " sold = b.sold + l.quantity FROM order_system.order_line l"
							  " WHERE l.order_id = $1 AND b.product_id = l.product_id AND b.bucket = l.bucket",
							  1, INT8OID),
	[OS_STOCK_RELEASE] = OS_STMT(
								 "UPDATE order_system.stock_bucket b SET reserved = b.reserved - l.quantity,"
								 " available = b.available + l.quantity FROM order_system.order_line l"
								 " WHERE l.order_id = $1 AND b.product_id = l.product_id AND b.bucket = l.bucket",
								 1, INT8OID),
	[OS_STOCK_RETURN] = OS_STMT(
								"UPDATE order_system.stock_bucket b SET sold = b.sold - l.quantity,"
								" available = b.available + l.quantity FROM order_system.order_line l"
								" WHERE l.order_id = $1 AND b.product_id = l.product_id AND b.bucket = l.bucket",
								1, INT8OID),
};

/*
 * On Citus the bucket lines are read first (on the member's shard) and the
 * buckets updated from the arrays, as products.c does for product rows.
 */
static os_stmt order_bucket_lines = OS_STMT(
											"SELECT pg_catalog.array_agg(product_id), pg_catalog.array_agg(bucket),"
											" pg_catalog.array_agg(quantity::bigint) FROM order_system.order_line"
											" WHERE member_id = $2 AND order_id = $1 AND bucket IS NOT NULL",
											2, INT8OID, INT8OID);
#define BUCKET_LINES \
	" FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::smallint[])," \
	" pg_catalog.unnest($3::bigint[])) AS l(product_id, bucket, quantity)" \
	" WHERE b.product_id = l.product_id AND b.bucket = l.bucket"
static os_stmt array_bucket_moves[] = {
	[OS_STOCK_SELL] = OS_STMT(
							  "UPDATE order_system.stock_bucket b SET reserved = b.reserved - l.quantity,"
							  " sold = b.sold + l.quantity" BUCKET_LINES,
							  3, INT8ARRAYOID, INT2ARRAYOID, INT8ARRAYOID),
	[OS_STOCK_RELEASE] = OS_STMT(
								 "UPDATE order_system.stock_bucket b SET reserved = b.reserved - l.quantity,"
								 " available = b.available + l.quantity" BUCKET_LINES,
								 3, INT8ARRAYOID, INT2ARRAYOID, INT8ARRAYOID),
	[OS_STOCK_RETURN] = OS_STMT(
								"UPDATE order_system.stock_bucket b SET sold = b.sold - l.quantity,"
								" available = b.available + l.quantity" BUCKET_LINES,
								3, INT8ARRAYOID, INT2ARRAYOID, INT8ARRAYOID),
};

/*
 * Reserve quantity from a free bucket of a flash-sale product, waiting only
 * when every bucket with enough stock is busy.  Returns the bucket, or -1
 * when no single bucket has enough.
 */
int
os_bucket_reserve(int64 product_id, int64 quantity)
{
	Datum		v[2];
	bool		isnull;

	v[0] = Int64GetDatum(product_id);
	v[1] = Int64GetDatum(quantity);
	if (os_exec(&take_free_bucket, v, NULL, 0) == 0 &&
		os_exec(&wait_for_bucket, v, NULL, 0) == 0)
		return -1;
	return DatumGetInt16(os_getattr(0, 1, &isnull));
}

/*
 * Lock the stock rows the n rows of SPI_tuptable (product_id, bucket) name,
 * one product at a time in id order: its row, or the buckets the lines used.
 */
static void
lock_listed_stock(int n)
{
	int64	   *products = palloc(sizeof(int64) * (n > 0 ? n : 1));
	int16	   *buckets = palloc(sizeof(int16) * (n > 0 ? n : 1));

	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		b = os_getattr(i, 2, &isnull);

		products[i] = os_getint64(i, 1);
		buckets[i] = isnull ? -1 : DatumGetInt16(b);
	}
	for (int i = 0; i < n; i++)
	{
		Datum		v[2];

		v[0] = Int64GetDatum(products[i]);
		v[1] = Int16GetDatum(buckets[i]);
		os_exec(buckets[i] < 0 ? &lock_product_row : &lock_bucket_row, v, NULL, 0);
	}
}

/* Lock the stock rows behind the lines of the given orders (an int8[]). */
void
os_lock_line_stock(Datum order_ids)
{
	lock_listed_stock(os_exec(&line_stock, &order_ids, NULL, 0));
}

/* The same for one order of member_id, read from the member's shard. */
void
os_lock_order_stock(int64 order_id, int64 member_id)
{
	Datum		v[2] = {Int64GetDatum(order_id), Int64GetDatum(member_id)};

	lock_listed_stock(os_exec(&order_line_stock, v, NULL, 0));
}

/* Settle the bucket lines of an order (the product lines are saga.c's). */
void
os_bucket_move(int64 order_id, int64 member_id, os_stock_move how)
{
	Datum		v = Int64GetDatum(order_id);

	if (os_rows_citus(OS_ORDER_LINE))
		os_move_from_line_arrays(&order_bucket_lines, &array_bucket_moves[how], order_id, member_id);
	else
		os_exec(&bucket_moves[how], &v, NULL, 0);
}
