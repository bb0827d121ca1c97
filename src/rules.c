/*
 * rules.c
 *	  The functions the tables' CHECK constraints call for rules across
 *	  columns: adds_up (product stock, payment parts, flash-sale buckets)
 *	  and ledger_delta_ok (the sign of a points ledger entry).
 *
 * A CHECK expression is read back from its node text in every statement
 * that writes its table, so a short call costs less than the arithmetic
 * spelled out in SQL (bench/README.md).  The rules are the core's
 * (src/core/os_rules.c).
 */
#include "order_system.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(os_adds_up);
PG_FUNCTION_INFO_V1(os_ledger_delta_ok_sql);

#define OS_MAX_PARTS 8

/* adds_up(part, ..., total): the parts add up to the last argument. */
Datum
os_adds_up(PG_FUNCTION_ARGS)
{
	os_money	parts[OS_MAX_PARTS] = {0};
	int			nparts = PG_NARGS() - 1;
	bool		equal = false;

	if (nparts < 0 || nparts > OS_MAX_PARTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("adds_up takes between 1 and %d arguments", OS_MAX_PARTS + 1)));
	for (int i = 0; i < nparts; i++)
		parts[i] = PG_GETARG_INT64(i);
	if (os_parts_add_up(parts, nparts, PG_GETARG_INT64(nparts), &equal) != OS_OK)
		os_error(OS_ERR_OVERFLOW, "bigint out of range");
	PG_RETURN_BOOL(equal);
}

/* ledger_delta_ok(kind, delta) */
Datum
os_ledger_delta_ok_sql(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(os_ledger_delta_ok(VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind),
									  PG_GETARG_INT64(1)));
}
