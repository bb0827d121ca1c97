/*
 * outbox.c (store)
 *	  Pruning the outbox on behalf of the notifier, which runs as the
 *	  bootstrap superuser: it touches only tables it has verified as the
 *	  extension's own, and works as the extension's owner.
 */
#include "order_system.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/*
 * The extension's tables that pruning touches, found by OID: the extension
 * by name in pg_extension, then its member relations (pg_depend, deptype
 * 'e') in its schema.  False when the extension is not installed here or
 * is a version without them.
 */
typedef struct os_outbox_tables
{
	Oid			owner;			/* the extension's owner */
	Oid			outbox;
	Oid			consumer;
	Oid			pruned;
} os_outbox_tables;

static bool
find_outbox_tables(os_outbox_tables *t)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	HeapTuple	tup;
	Oid			extoid = InvalidOid;
	Oid			extnsp = InvalidOid;

	memset(t, 0, sizeof(*t));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("order_system"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tup);

		extoid = ext->oid;
		extnsp = ext->extnamespace;
		t->owner = ext->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(extoid))
		return false;

	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		char	   *name;

		if (dep->deptype != DEPENDENCY_EXTENSION || dep->classid != RelationRelationId ||
			dep->objsubid != 0 || get_rel_relkind(dep->objid) != RELKIND_RELATION ||
			get_rel_namespace(dep->objid) != extnsp ||
			(name = get_rel_name(dep->objid)) == NULL)
			continue;
		if (strcmp(name, "outbox") == 0)
			t->outbox = dep->objid;
		else if (strcmp(name, "consumer") == 0)
			t->consumer = dep->objid;
		else if (strcmp(name, "outbox_pruned") == 0)
			t->pruned = dep->objid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return OidIsValid(t->outbox) && OidIsValid(t->consumer) && OidIsValid(t->pruned);
}

/* A verified table's name for SQL: schema-qualified and quoted. */
static char *
table_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * What prune_outbox() does: delete the events every registered consumer has
 * acknowledged, or with no consumer those older than
 * order_system.outbox_retention, and note the deletion in outbox_pruned.
 * Every function and operator is schema-qualified.  Returns how many.
 */
static uint64
prune_tables(const os_outbox_tables *t)
{
	Datum		arg;
	Oid			argtype;
	bool		isnull;
	uint64		n = 0;
	char	   *outbox = table_name(t->outbox);

	if (SPI_execute(psprintf("SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0,"
							 " pg_catalog.min(pg_catalog.pg_snapshot_xmin(c.last_snapshot))"
							 " FROM %s c", table_name(t->consumer)), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "order_system notifier: could not read the consumers");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		/* consumers: up to the oldest snapshot one of them acknowledged */
		arg = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			return 0;
		argtype = XID8OID;
		if (SPI_execute_with_args(psprintf("DELETE FROM %s e WHERE e.tx_id OPERATOR(pg_catalog.<) $1",
										   outbox), 1, &argtype, &arg, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "order_system notifier: could not prune the outbox");
	}
	else
	{
		Interval   *keep = palloc0(sizeof(Interval));

		keep->time = (int64) os_outbox_retention_s * USECS_PER_SEC;
		arg = IntervalPGetDatum(keep);
		argtype = INTERVALOID;
		if (SPI_execute_with_args(psprintf("DELETE FROM %s e WHERE e.created_at OPERATOR(pg_catalog.<)"
										   " (pg_catalog.now() OPERATOR(pg_catalog.-) $1)", outbox),
								  1, &argtype, &arg, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "order_system notifier: could not prune the outbox");
	}
	n = SPI_processed;
	if (n > 0)
	{
		arg = Int64GetDatum((int64) n);
		argtype = INT8OID;
		if (SPI_execute_with_args(psprintf("INSERT INTO %s AS p VALUES (1, pg_catalog.now(), $1)"
										   " ON CONFLICT (id) DO UPDATE SET pruned_at = pg_catalog.now(),"
										   " deleted_total = p.deleted_total OPERATOR(pg_catalog.+) $1",
										   table_name(t->pruned)),
								  1, &argtype, &arg, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "order_system notifier: could not record the pruning");
	}
	return n;
}

/*
 * Prune the outbox if this database has order_system with its outbox, in
 * the current transaction; false when it has not.  The tables are locked by
 * OID before their names go into SQL, and found again under the lock: a
 * locked table cannot be renamed, moved or dropped, so the names mean those
 * tables.  The work runs as the extension's owner, security-restricted,
 * with search_path pinned: nothing of the caller's privileges is lent to
 * it.
 */
bool
os_store_prune_outbox_as_owner(void)
{
	os_outbox_tables t;
	os_outbox_tables again;

	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!find_outbox_tables(&t))
		return false;
	LockRelationOid(t.consumer, AccessShareLock);
	LockRelationOid(t.outbox, RowExclusiveLock);
	LockRelationOid(t.pruned, RowExclusiveLock);
	if (!find_outbox_tables(&again) || memcmp(&t, &again, sizeof(t)) != 0)
		return false;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(t.owner, save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	prune_tables(&t);
	SPI_finish();
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return true;
}
