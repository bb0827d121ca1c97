/*
 * payments.c (store)
 *	  The payment-method registry's rows.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

static os_stmt insert_method = OS_STMT(
									   "INSERT INTO order_system.payment_method (name, handler, description)"
									   " VALUES ($1, $2, $3)",
									   3, TEXTOID, REGPROCEDUREOID, TEXTOID);

static os_stmt enable_method = OS_STMT(
									   "UPDATE order_system.payment_method SET enabled = $2 WHERE name = $1",
									   2, TEXTOID, BOOLOID);

bool
os_store_payment_method(const char *name, Oid *handler, bool *enabled)
{
	Datum		pm[OS_PAYMENT_METHOD_NCOLS];
	bool		pmnull[OS_PAYMENT_METHOD_NCOLS];

	if (!os_rows_read(OS_PAYMENT_METHOD, CStringGetTextDatum(name), pm, pmnull))
		return false;
	*handler = DatumGetObjectId(pm[OS_PAYMENT_METHOD_HANDLER]);
	*enabled = DatumGetBool(pm[OS_PAYMENT_METHOD_ENABLED]);
	return true;
}

void
os_store_insert_payment_method(const char *name, Oid handler, const char *description)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(handler);
	values[2] = description ? CStringGetTextDatum(description) : (Datum) 0;
	nulls[2] = description ? ' ' : 'n';
	os_exec(&insert_method, values, nulls, 0);
}

bool
os_store_set_payment_method_enabled(const char *name, bool enabled)
{
	Datum		values[2] = {CStringGetTextDatum(name), BoolGetDatum(enabled)};

	return os_exec(&enable_method, values, NULL, 0) > 0;
}
