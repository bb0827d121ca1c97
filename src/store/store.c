/*
 * store.c
 *	  The store's sessions and batches (store.h).
 */
#include "order_system.h"

void
os_store_open(void)
{
	SPI_connect();
}

void
os_store_close(void)
{
	SPI_finish();
}

void
os_store_batch_begin(os_batch *b)
{
	os_rows_begin(b);
}

void
os_store_batch_end(os_batch *b)
{
	os_rows_end(b);
}
