/*
 * metrics.c (store)
 *	  What the counters need from the tables: the payment method an order
 *	  was placed with.
 */
#include "order_system.h"

#include "catalog/pg_type.h"

/*
 * A kept statement, not a plan-free read: orders is a table the plan-free
 * writer only inserts into.
 */
static os_stmt order_method = OS_STMT(
									  "SELECT payment_method FROM order_system.orders WHERE id = $1 AND member_id = $2",
									  2, INT8OID, INT8OID);

/*
 * The payment method of member_id's order order_id; NULL if there is no
 * such order.  Leaves SPI_tuptable as it was: saga steps call it between
 * statements.
 */
char *
os_store_order_method(int64 order_id, int64 member_id)
{
	Datum		v[2] = {Int64GetDatum(order_id), Int64GetDatum(member_id)};
	SPITupleTable *saved = SPI_tuptable;
	uint64		processed = SPI_processed;
	char	   *method = NULL;

	SPI_tuptable = NULL;
	if (os_exec(&order_method, v, NULL, 1) == 1)
		method = os_getstr(0, 1);
	SPI_freetuptable(SPI_tuptable);
	SPI_tuptable = saved;
	SPI_processed = processed;
	return method;
}
