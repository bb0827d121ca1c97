/*
 * outbox.c (store)
 *	  Pruning the outbox on behalf of the notifier, which runs as the
 *	  bootstrap superuser: it calls only the extension's own prune rule,
 *	  verified by its membership, and works as the extension's owner.
 */
#include "order_system.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/*
 * The function that holds the prune rule, found by OID: the extension by
 * name in pg_extension, then among its members (pg_depend, deptype 'e')
 * the function order_system_internal.prune_events() without arguments.
 * InvalidOid when the extension is not installed here or is a version
 * without it (then nothing is pruned: the rule is never re-implemented
 * here, so the notifier cannot prune on a position the rule distrusts).
 */
static Oid
find_prune_function(Oid *owner)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	HeapTuple	tup;
	Oid			extoid = InvalidOid;
	Oid			internal = get_namespace_oid("order_system_internal", true);
	Oid			found = InvalidOid;

	*owner = InvalidOid;
	if (!OidIsValid(internal))
		return InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("order_system"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		extoid = ((Form_pg_extension) GETSTRUCT(tup))->oid;
		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(extoid))
		return InvalidOid;

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

		if (dep->deptype != DEPENDENCY_EXTENSION || dep->classid != ProcedureRelationId ||
			get_func_namespace(dep->objid) != internal || get_func_nargs(dep->objid) != 0 ||
			get_func_rettype(dep->objid) != INT8OID ||
			(name = get_func_name(dep->objid)) == NULL || strcmp(name, "prune_events") != 0)
			continue;
		found = dep->objid;
		break;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Prune the outbox if this database has order_system with its prune rule,
 * in the current transaction; false when it has not.  The rule is the
 * extension's own order_system_internal.prune_events() (60_events.sql),
 * which prune_outbox() calls too: called by OID, as the extension's owner,
 * security-restricted, with search_path pinned: nothing of the caller's
 * privileges is lent to it.
 */
bool
os_store_prune_outbox_as_owner(void)
{
	Oid			owner;
	Oid			fn = find_prune_function(&owner);
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!OidIsValid(fn))
		return false;
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) OidFunctionCall0(fn);
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return true;
}
