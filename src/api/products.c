/*
 * products.c
 *	  Products and stock: create, price, restock, deactivate.  Reserving
 *	  and releasing stock for orders lives with the orders and the saga.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

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
OS_WRITER(os_create_product)
{
	static const char *const names[] = {"sku", "name", "price", "currency"};
	char	   *sku;
	char	   *name;
	char	   *currency;
	int64		price;
	int64		stock = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT64(4);
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

	os_store_open();
	id = os_store_insert_product(sku, name, price, currency, stock);
	emit_product_event("product.created", id, "stock_available", stock);
	os_store_close();
	PG_RETURN_INT64(id);
}

/* set_price(product_id, price) -> the new price */
OS_WRITER(os_set_price)
{
	static const char *const names[] = {"product_id", "price"};

	os_require_args(fcinfo, 2, names);
	check_price(PG_GETARG_INT64(1));
	os_store_open();
	if (!os_store_set_price(PG_GETARG_INT64(0), PG_GETARG_INT64(1)))
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 PG_GETARG_INT64(0));
	emit_product_event("product.repriced", PG_GETARG_INT64(0), "price", PG_GETARG_INT64(1));
	os_store_close();
	PG_RETURN_INT64(PG_GETARG_INT64(1));
}

/* restock(product_id, quantity) -> stock available afterwards */
OS_WRITER(os_restock)
{
	static const char *const names[] = {"product_id", "quantity"};
	int64		available;

	os_require_args(fcinfo, 2, names);
	if (os_check_quantity(PG_GETARG_INT64(1)) != OS_OK)
		os_error(OS_ERR_INVALID_PARAMETER,
				 "quantity must be between 1 and 1000000000");
	os_store_open();
	if (!os_store_add_stock(PG_GETARG_INT64(0), PG_GETARG_INT64(1), &available))
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found",
				 PG_GETARG_INT64(0));
	emit_product_event("product.restocked", PG_GETARG_INT64(0), "quantity",
					   PG_GETARG_INT64(1));
	os_store_close();
	PG_RETURN_INT64(available);
}

/* deactivate_product(product_id) -> true if it was active */
OS_WRITER(os_deactivate_product)
{
	static const char *const names[] = {"product_id"};
	int64		id;
	bool		was_active;

	os_require_args(fcinfo, 1, names);
	id = PG_GETARG_INT64(0);
	os_store_open();
	if (!os_store_deactivate_product(id, &was_active))
		os_error(OS_ERR_PRODUCT_NOT_FOUND, "product " INT64_FORMAT " not found", id);
	if (was_active)
		emit_product_event("product.deactivated", id, NULL, 0);
	os_store_close();
	PG_RETURN_BOOL(was_active);
}
