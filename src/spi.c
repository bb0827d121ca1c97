/*
 * spi.c
 *	  Statements prepared once per backend and kept, plus result accessors.
 *
 * Every statement names its tables with the order_system schema and runs
 * under the pinned search_path of the calling SECURITY DEFINER function.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "storage/proc.h"
#include "utils/builtins.h"

/* The version of the SQL objects this library's statements are written for. */
#define OS_LIBRARY_VERSION "0.2.0"

static os_stmt installed_version = OS_STMT(
										   "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'order_system'",
										   0, InvalidOid);

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

/*
 * Once per transaction: the installed SQL objects must be those this
 * library was built for.  A new library over an old schema (before ALTER
 * EXTENSION ... UPDATE) gets a clear error instead of a missing column.
 */
static void
check_installed_version(void)
{
	static LocalTransactionId checked = InvalidLocalTransactionId;
	char	   *version = NULL;

	if (MyProc->lxid == checked)
		return;
	checked = MyProc->lxid;		/* before the query: it runs through here */
	if (SPI_execute_plan(stmt_plan(&installed_version), NULL, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (version == NULL || strcmp(version, OS_LIBRARY_VERSION) != 0)
	{
		checked = InvalidLocalTransactionId;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the order_system library is version %s but the extension installed here is %s",
						OS_LIBRARY_VERSION, version ? version : "missing"),
				 errhint("Run ALTER EXTENSION order_system UPDATE.")));
	}
}

/* Execute; returns SPI_processed.  Errors inside raise as usual. */
int
os_exec(os_stmt *stmt, Datum *values, const char *nulls, long count)
{
	int			rc;

	check_installed_version();
	rc = SPI_execute_plan(stmt_plan(stmt), values, nulls, false, count);

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
