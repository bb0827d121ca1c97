/*
 * metrics.c (store)
 *	  What the counters need from the tables: the payment method an order
 *	  was placed with (read by primary key, without a plan).
 */
#include "order_system.h"

#include "utils/builtins.h"

/* The payment method of order order_id; NULL if there is no such order. */
char *
os_store_order_method(int64 order_id)
{
	Datum		cols[OS_ORDERS_NCOLS];
	bool		nulls[OS_ORDERS_NCOLS];

	if (!os_rows_read(OS_ORDERS, Int64GetDatum(order_id), cols, nulls) ||
		nulls[OS_ORDERS_PAYMENT_METHOD])
		return NULL;
	return TextDatumGetCString(cols[OS_ORDERS_PAYMENT_METHOD]);
}
