/*
 * products.c
 *	  Products and stock: create, price, restock, deactivate.  Reserving
 *	  and releasing stock for orders lives with the orders and the saga.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
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

static void
check_currency_code(const char *c)
{
	if (strlen(c) != 3 || strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		os_error(OS_ERR_INVALID_PARAMETER,
				 "currency \"%s\" is not three upper-case letters", c);
}

static void
check_price(int64 price)
{
	if (price < 0)
		os_error(OS_ERR_INVALID_PARAMETER, "price must not be negative");
}

static void
emit_product_event(const char *type, int64 product_id, const char *key, int64 value)
{
	os_json		payload;

	os_json_begin(&payload);
	os_json_int(&payload, "product_id", product_id);
	if (key)
		os_json_int(&payload, key, value);
	os_emit_event(type, "product", product_id, os_json_end(&payload));
}

/* create_product(sku, name, price, currency, initial_stock) -> product id */
OS_FUNCTION(os_create_product)
{
	static const char *const names[] = {"sku", "name", "price", "currency"};
	char	   *sku;
	char	   *name;
	char	   *currency;
	int64		price;
	int64		stock = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT64(4);
	Datum		values[5];
	int64		id;

	os_require_args(fcinfo, 4, names);
	sku = os_text_arg(fcinfo, 0, "sku", 64);
	name = os_text_arg(fcinfo, 1, "name", 200);
	price = PG_GETARG_INT64(2);
	currency = os_text_arg(fcinfo, 3, "currency", 16);
	if (sku[0] == '\0' || name[0] == '\0')
		os_error(OS_ERR_INVALID_PARAMETER, "sku and name must not be empty");
	check_price(price);
	check_currency_code(currency);
	if (stock != 0)
		os_check(os_check_quantity(stock), "initial_stock");

	SPI_connect();
	values[0] = CStringGetTextDatum(sku);
	values[1] = CStringGetTextDatum(name);
	values[2] = Int64GetDatum(price);
	values[3] = CStringGetTextDatum(currency);
	values[4] = Int64GetDatum(stock);
	os_exec(&insert_product, values, NULL, 0);
	id = os_getint64(0, 1);
	emit_product_event("product.created", id, "stock_available", stock);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* set_price(product_id, price) -> the new price */
OS_FUNCTION(os_set_price)
{
	static const char *const names[] = {"product_id", "price"};
	Datum		values[2];

	os_require_args(fcinfo, 2, names);
	check_price(PG_GETARG_INT64(1));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	SPI_connect();
	if (os_exec(&update_price, values, NULL, 0) == 0)
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 PG_GETARG_INT64(0));
	emit_product_event("product.repriced", PG_GETARG_INT64(0), "price", PG_GETARG_INT64(1));
	SPI_finish();
	PG_RETURN_INT64(PG_GETARG_INT64(1));
}

/* restock(product_id, quantity) -> stock available afterwards */
OS_FUNCTION(os_restock)
{
	static const char *const names[] = {"product_id", "quantity"};
	Datum		values[2];
	int64		available;

	os_require_args(fcinfo, 2, names);
	if (os_check_quantity(PG_GETARG_INT64(1)) != OS_OK)
		os_error(OS_ERR_INVALID_PARAMETER,
				 "quantity must be between 1 and 1000000000");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	SPI_connect();
	if (os_exec(&add_stock, values, NULL, 0) == 0)
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 PG_GETARG_INT64(0));
	available = os_getint64(0, 1);
	emit_product_event("product.restocked", PG_GETARG_INT64(0), "quantity",
					   PG_GETARG_INT64(1));
	SPI_finish();
	PG_RETURN_INT64(available);
}

/* deactivate_product(product_id) -> true if it was active */
OS_FUNCTION(os_deactivate_product)
{
	static const char *const names[] = {"product_id"};
	Datum		id;
	bool		was_active;
	bool		isnull;

	os_require_args(fcinfo, 1, names);
	id = PG_GETARG_DATUM(0);
	SPI_connect();
	if (os_exec(&deactivate_product, &id, NULL, 0) == 0)
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 DatumGetInt64(id));
	was_active = DatumGetBool(os_getattr(0, 1, &isnull));
	if (was_active)
		emit_product_event("product.deactivated", DatumGetInt64(id), NULL, 0);
	SPI_finish();
	PG_RETURN_BOOL(was_active);
}
