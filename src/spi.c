/*
 * spi.c
 *	  Statements prepared once per backend and kept, plus result accessors.
 *
 * Every statement names its tables with the order_system schema and runs
 * under the pinned search_path of the calling SECURITY DEFINER function.
 */
#include "order_system.h"

#include "utils/builtins.h"

static SPIPlanPtr
stmt_plan(os_stmt *stmt)
{
	SPIPlanPtr	plan;

	if (stmt->plan != NULL)
		return stmt->plan;
	plan = SPI_prepare(stmt->sql, stmt->nargs, stmt->argtypes);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_prepare failed for \"%s\": %s",
								 stmt->sql, SPI_result_code_string(SPI_result))));
	if (SPI_keepplan(plan) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_keepplan failed for \"%s\"", stmt->sql)));
	stmt->plan = plan;
	return plan;
}

/* Execute; returns SPI_processed.  Errors inside raise as usual. */
int
os_exec(os_stmt *stmt, Datum *values, const char *nulls, long count)
{
	int			rc = SPI_execute_plan(stmt_plan(stmt), values, nulls, false, count);

	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_execute_plan failed (%s) for \"%s\"",
								 SPI_result_code_string(rc), stmt->sql)));
	return (int) SPI_processed;
}

Datum
os_getattr(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

int64
os_getint64(int row, int col)
{
	bool		isnull;
	Datum		d = os_getattr(row, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* A text column as a C string in the current context, NULL for NULL. */
char *
os_getstr(int row, int col)
{
	bool		isnull;
	Datum		d = os_getattr(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}
