/*
 * os_stock.c
 *	  Stock rules: what reserving a quantity from a product row does.
 */
#include "os_core.h"

os_result
os_stock_reserve(os_stock *stock, int64_t quantity)
{
	int64_t		reserved;

	if (!stock->active || stock->flash_buckets != 0 || stock->available < quantity)
		return OS_NOOP;
	if (__builtin_add_overflow(stock->reserved, quantity, &reserved))
		return OS_ERR_OVERFLOW;
	stock->available -= quantity;
	stock->reserved = reserved;
	return OS_OK;
}
