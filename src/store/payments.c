/*
 * payments.c (store)
 *	  The payment-method registry's rows.
 *
 *	  A method's handler is kept as text, the signature regprocedure prints
 *	  with search_path = pg_catalog (function OIDs do not survive pg_upgrade
 *	  or dump/restore; names do).  The order path resolves it through a
 *	  per-backend cache keyed by that text, emptied by any change to
 *	  pg_proc or pg_namespace, so a steady stream of orders does no lookup
 *	  of its own.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

static os_stmt insert_method = OS_STMT(
									   "INSERT INTO order_system.payment_method (name, handler, description)"
									   " VALUES ($1, $2, $3)",
									   3, TEXTOID, TEXTOID, TEXTOID);

static os_stmt enable_method = OS_STMT(
									   "UPDATE order_system.payment_method SET enabled = $2 WHERE name = $1",
									   2, TEXTOID, BOOLOID);

/* --------------------------------------------------- handler names */

/* Enter a GUC nest level with search_path = pg_catalog; AtEOXact_GUC leaves it. */
static int
catalog_only_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* The function handler names, InvalidOid if none; uncached. */
Oid
os_store_payment_handler_oid(const char *handler)
{
	LOCAL_FCINFO(call, 1);
	int			nestlevel = catalog_only_path();
	Datum		result;

	InitFunctionCallInfoData(*call, NULL, 1, InvalidOid, NULL, NULL);
	call->args[0].value = CStringGetTextDatum(handler);
	call->args[0].isnull = false;
	result = to_regprocedure(call);
	AtEOXact_GUC(false, nestlevel);
	return call->isnull ? InvalidOid : DatumGetObjectId(result);
}

/* How the registry spells an existing function. */
char *
os_store_payment_handler_text(Oid handler)
{
	int			nestlevel = catalog_only_path();
	char	   *text = format_procedure(handler);

	AtEOXact_GUC(false, nestlevel);
	return text;
}

typedef struct handler_entry
{
	char	   *text;			/* in TopMemoryContext */
	Oid			oid;
} handler_entry;

#define HANDLER_CACHE_SIZE 32

static handler_entry handler_cache[HANDLER_CACHE_SIZE];
static int	handler_cache_used;
static uint64 handler_cache_generation;

static void
forget_handlers(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < handler_cache_used; i++)
		pfree(handler_cache[i].text);
	handler_cache_used = 0;
	handler_cache_generation++;
}

/*
 * The function handler names, through the cache.  A name resolved while an
 * invalidation arrived is used once but not kept: it may already be stale.
 */
static Oid
cached_handler_oid(const char *handler)
{
	static bool registered = false;
	uint64		generation;
	Oid			oid;

	for (int i = 0; i < handler_cache_used; i++)
		if (strcmp(handler_cache[i].text, handler) == 0)
			return handler_cache[i].oid;
	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_handlers, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, forget_handlers, (Datum) 0);
		registered = true;
	}
	generation = handler_cache_generation;
	oid = os_store_payment_handler_oid(handler);
	if (generation == handler_cache_generation && OidIsValid(oid))
	{
		if (handler_cache_used == HANDLER_CACHE_SIZE)
			forget_handlers((Datum) 0, PROCOID, 0);
		handler_cache[handler_cache_used].text = MemoryContextStrdup(TopMemoryContext, handler);
		handler_cache[handler_cache_used].oid = oid;
		handler_cache_used++;
	}
	return oid;
}

/* ------------------------------------------------------------- rows */

bool
os_store_payment_method(const char *name, Oid *handler, char **handler_text,
						bool *enabled)
{
	Datum		pm[OS_PAYMENT_METHOD_NCOLS];
	bool		pmnull[OS_PAYMENT_METHOD_NCOLS];

	if (!os_rows_read(OS_PAYMENT_METHOD, CStringGetTextDatum(name), pm, pmnull))
		return false;
	*handler_text = TextDatumGetCString(pm[OS_PAYMENT_METHOD_HANDLER]);
	*enabled = DatumGetBool(pm[OS_PAYMENT_METHOD_ENABLED]);
	*handler = *enabled ? cached_handler_oid(*handler_text) : InvalidOid;
	return true;
}

void
os_store_insert_payment_method(const char *name, Oid handler, const char *description)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(os_store_payment_handler_text(handler));
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
