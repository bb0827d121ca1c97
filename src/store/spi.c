/*
 * spi.c
 *	  Statements prepared once per backend and kept, plus result accessors.
 *
 * Every statement names its tables with the order_system schema and runs
 * under the pinned search_path of the calling SECURITY DEFINER function.
 */
#include "order_system.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/rel.h"

/* The version of the SQL objects this library's statements are written for. */
#define OS_LIBRARY_VERSION "0.8.0"

static SPIPlanPtr
stmt_plan(os_stmt *stmt)
{
	SPIPlanPtr	plan;

	if (stmt->plan != NULL)
		return stmt->plan;
	plan = SPI_prepare_cursor(stmt->sql, stmt->nargs, stmt->argtypes,
							  stmt->cursor_options);
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

/* extversion of order_system in this database, NULL if not installed. */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("order_system"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * The installed SQL objects must be those this library was built for: a new
 * library over an old schema (before ALTER EXTENSION ... UPDATE) gets a
 * clear error instead of a missing column.  A match is remembered until a
 * function changes in pg_proc: creating, dropping or updating the extension
 * always does (its scripts define its functions), so the catalog is read
 * again only then.
 */
static bool version_checked = false;
static bool version_callback = false;

static void
forget_version(Datum arg, int cacheid, uint32 hashvalue)
{
	version_checked = false;
}

/*
 * Whether the running command is order_system's own install or update
 * script: its calls come before the version it installs is complete.
 * Another extension's script gets no such pass.
 */
static bool
in_own_script(void)
{
	return creating_extension &&
		CurrentExtensionObject == get_extension_oid("order_system", true);
}

void
os_check_installed_version(void)
{
	char	   *version;

	if (version_checked || in_own_script())
		return;
	if (!version_callback)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_version, (Datum) 0);
		version_callback = true;
	}
	version = installed_version();
	if (version == NULL || strcmp(version, OS_LIBRARY_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the order_system library is version %s but the extension installed here is %s",
						OS_LIBRARY_VERSION, version ? version : "missing"),
				 errhint("Run ALTER EXTENSION order_system UPDATE.")));
	version_checked = true;
}

/*
 * After a store operation: the objects it used may have been replaced while
 * it waited for its locks (the invalidations arrive with the lock, after the
 * door let the call in).  Check again then, so that such a call fails and
 * its transaction writes nothing.
 */
void
os_recheck_installed_version(void)
{
	if (!version_checked)
		os_check_installed_version();
}

/* Execute; returns SPI_processed.  Errors inside raise as usual. */
int
os_exec(os_stmt *stmt, Datum *values, const char *nulls, long count)
{
	int			rc;

	rc = SPI_execute_plan(stmt_plan(stmt), values, nulls, false, count);
	os_recheck_installed_version();

	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_execute_plan failed (%s) for \"%s\"",
								 SPI_result_code_string(rc), stmt->sql)));
	return (int) SPI_processed;
}

/*
 * Execute with every argument not null, sending the rows to dest instead of
 * SPI_tuptable (a set-returning function's tuplestore takes them without a
 * copy in between).
 */
void
os_exec_to(os_stmt *stmt, const Datum *values, DestReceiver *dest)
{
	SPIPlanPtr	plan;
	ParamListInfo params = makeParamList(stmt->nargs);
	SPIExecuteOptions options = {0};
	int			rc;

	plan = stmt_plan(stmt);
	for (int i = 0; i < stmt->nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = stmt->argtypes[i];
	}
	options.params = params;
	options.dest = dest;
	rc = SPI_execute_plan_extended(plan, &options);
	os_recheck_installed_version();
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_execute_plan_extended failed (%s) for \"%s\"",
								 SPI_result_code_string(rc), stmt->sql)));
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
