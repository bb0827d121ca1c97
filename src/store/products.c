/*
 * products.c (store)
 *	  Products and their stock rows: the statements and rows behind the
 *	  product operations of store.h.  Flash-sale buckets are in buckets.c.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/builtins.h"

static os_stmt insert_product = OS_STMT(
										"INSERT INTO order_system.product"
										" (sku, name, price, currency, stock_available, stock_received)"
										" VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
										5, TEXTOID, TEXTOID, INT8OID, TEXTOID, INT8OID);

static os_stmt update_price = OS_STMT(
									  "UPDATE order_system.product SET price = $2 WHERE id = $1",
									  2, INT8OID, INT8OID);

static os_stmt add_stock = OS_STMT(
								   "UPDATE order_system.product SET stock_available = stock_available + $2,"
								   " stock_received = stock_received + $2 WHERE id = $1 RETURNING stock_available",
								   2, INT8OID, INT8OID);

static os_stmt deactivate_product = OS_STMT(
											"UPDATE order_system.product SET active = false WHERE id = $1"
											" RETURNING (SELECT p.active FROM order_system.product p WHERE p.id = $1)",
											1, INT8OID);

static os_stmt product_brief = OS_STMT(
									   "SELECT active, stock_available, flash_buckets, price, currency"
									   " FROM order_system.product WHERE id = $1",
									   1, INT8OID);
enum
{
	BRIEF_ACTIVE = 1, BRIEF_AVAILABLE, BRIEF_FLASH_BUCKETS, BRIEF_PRICE, BRIEF_CURRENCY
};

/* How an order's lines move the stock of their product rows (not buckets). */
static os_stmt line_stock_moves[] = {
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

/*
 * On Citus, where product is a reference table and the lines are
 * distributed, an UPDATE of the one with the other in FROM is refused: the
 * order's lines are read (on their member's shard), then the products
 * updated from the arrays.
 */
static os_stmt order_row_lines = OS_STMT(
										 "SELECT pg_catalog.array_agg(product_id), pg_catalog.array_agg(quantity::bigint)"
										 " FROM order_system.order_line"
										 " WHERE member_id = $2 AND order_id = $1 AND bucket IS NULL",
										 2, INT8OID, INT8OID);
static os_stmt array_stock_moves[] = {
	[OS_STOCK_SELL] = OS_STMT(
							  "UPDATE order_system.product p SET stock_reserved = p.stock_reserved - l.quantity,"
							  " stock_sold = p.stock_sold + l.quantity"
							  " FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::bigint[]))"
							  " AS l(product_id, quantity)"
							  " WHERE p.id = l.product_id",
							  2, INT8ARRAYOID, INT8ARRAYOID),
	[OS_STOCK_RELEASE] = OS_STMT(
								 "UPDATE order_system.product p SET stock_reserved = p.stock_reserved - l.quantity,"
								 " stock_available = p.stock_available + l.quantity"
								 " FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::bigint[]))"
								 " AS l(product_id, quantity)"
								 " WHERE p.id = l.product_id",
								 2, INT8ARRAYOID, INT8ARRAYOID),
	[OS_STOCK_RETURN] = OS_STMT(
								"UPDATE order_system.product p SET stock_sold = p.stock_sold - l.quantity,"
								" stock_available = p.stock_available + l.quantity"
								" FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::bigint[]))"
								" AS l(product_id, quantity)"
								" WHERE p.id = l.product_id",
								2, INT8ARRAYOID, INT8ARRAYOID),
};

int64
os_store_insert_product(const char *sku, const char *name, int64 price,
						const char *currency, int64 stock)
{
	Datum		values[5];

	values[0] = CStringGetTextDatum(sku);
	values[1] = CStringGetTextDatum(name);
	values[2] = Int64GetDatum(price);
	values[3] = CStringGetTextDatum(currency);
	values[4] = Int64GetDatum(stock);
	os_exec(&insert_product, values, NULL, 0);
	return os_getint64(0, 1);
}

bool
os_store_set_price(int64 product_id, int64 price)
{
	Datum		values[2] = {Int64GetDatum(product_id), Int64GetDatum(price)};

	return os_exec(&update_price, values, NULL, 0) > 0;
}

bool
os_store_add_stock(int64 product_id, int64 quantity, int64 *available)
{
	Datum		values[2] = {Int64GetDatum(product_id), Int64GetDatum(quantity)};

	if (os_exec(&add_stock, values, NULL, 0) == 0)
		return false;
	*available = os_getint64(0, 1);
	return true;
}

bool
os_store_deactivate_product(int64 product_id, bool *was_active)
{
	Datum		v = Int64GetDatum(product_id);
	bool		isnull;

	if (os_exec(&deactivate_product, &v, NULL, 0) == 0)
		return false;
	*was_active = DatumGetBool(os_getattr(0, 1, &isnull));
	return true;
}

bool
os_store_product_brief(int64 product_id, os_product_brief *out)
{
	Datum		v = Int64GetDatum(product_id);
	bool		isnull;

	if (os_exec(&product_brief, &v, NULL, 1) == 0)
		return false;
	out->active = DatumGetBool(os_getattr(0, BRIEF_ACTIVE, &isnull));
	out->available = os_getint64(0, BRIEF_AVAILABLE);
	out->flash_buckets = DatumGetInt16(os_getattr(0, BRIEF_FLASH_BUCKETS, &isnull));
	out->price = os_getint64(0, BRIEF_PRICE);
	out->currency = os_getstr(0, BRIEF_CURRENCY);
	return true;
}

/*
 * Reserve from the product row, as
 *   UPDATE product SET stock_available = stock_available - q,
 *     stock_reserved = stock_reserved + q
 *   WHERE id = p AND <os_stock_reserve allows it> RETURNING price, currency
 * would (rows.c): a row the rule leaves alone is neither locked nor written.
 */
typedef struct reserve_arg
{
	int64		quantity;
	int64		price;
	char	   *currency;
} reserve_arg;

static bool
reserve_from_row(Datum *cols, bool *nulls, void *arg)
{
	reserve_arg *a = arg;
	os_stock	stock;
	os_result	r;

	stock.active = DatumGetBool(cols[OS_PRODUCT_ACTIVE]);
	stock.flash_buckets = DatumGetInt16(cols[OS_PRODUCT_FLASH_BUCKETS]);
	stock.available = DatumGetInt64(cols[OS_PRODUCT_STOCK_AVAILABLE]);
	stock.reserved = DatumGetInt64(cols[OS_PRODUCT_STOCK_RESERVED]);
	r = os_stock_reserve(&stock, a->quantity);
	if (r == OS_NOOP)
		return false;
	if (r != OS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	cols[OS_PRODUCT_STOCK_AVAILABLE] = Int64GetDatum(stock.available);
	cols[OS_PRODUCT_STOCK_RESERVED] = Int64GetDatum(stock.reserved);
	a->price = DatumGetInt64(cols[OS_PRODUCT_PRICE]);
	a->currency = TextDatumGetCString(cols[OS_PRODUCT_CURRENCY]);
	return true;
}

bool
os_store_reserve_from_row(os_batch *b, int64 product_id, int64 quantity,
						  int64 *price, char **currency)
{
	reserve_arg a = {quantity, 0, NULL};

	if (!os_rows_update(b, OS_PRODUCT, product_id, reserve_from_row, &a))
		return false;
	*price = a.price;
	*currency = a.currency;
	return true;
}

/*
 * Run lines (order id, member id) -> one row of arrays, then move with those
 * arrays as its arguments; nothing when the order has no such line.
 */
void
os_move_from_line_arrays(os_stmt *lines, os_stmt *move, int64 order_id, int64 member_id)
{
	Datum		v[3] = {Int64GetDatum(order_id), Int64GetDatum(member_id), 0};
	bool		isnull;

	Assert(move->nargs <= lengthof(v));
	os_exec(lines, v, NULL, 1);
	for (int i = 0; i < move->nargs; i++)
	{
		v[i] = os_getattr(0, i + 1, &isnull);
		if (isnull)
			return;				/* array_agg of no line */
	}
	os_exec(move, v, NULL, 0);
}

void
os_store_move_line_stock(int64 order_id, int64 member_id, os_stock_move how)
{
	Datum		v = Int64GetDatum(order_id);

	if (os_rows_citus(OS_ORDER_LINE))
		os_move_from_line_arrays(&order_row_lines, &array_stock_moves[how], order_id, member_id);
	else
		os_exec(&line_stock_moves[how], &v, NULL, 0);
}
