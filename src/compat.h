/*
 * compat.h
 *	  The server APIs that differ between the PostgreSQL major versions the
 *	  extension builds against (15, 16, 17 and 18), in one place.
 *
 * The code elsewhere calls the names below; each is the server's own call
 * of the version being built against, with the same meaning on all of them.
 * A branch is kept for every version from 15 on; when 15 is dropped, its
 * branches go and the callers can use the server's names directly.  The 16
 * branches follow that release's API but are compiled only with 17 and 18.
 */
#ifndef OS_COMPAT_H
#define OS_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "catalog/pg_proc.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM < 150000
#error "order_system needs PostgreSQL 15 or later"
#endif

/*
 * This backend's number in ProcGlobal->allProcs, and the value meaning "no
 * process", as the uint32 the notifier keeps in shared memory.  17 replaced
 * PGPROC.pgprocno and INVALID_PGPROCNO (PG_INT32_MAX) by MyProcNumber and
 * INVALID_PROC_NUMBER (-1).
 */
#if PG_VERSION_NUM >= 170000
#define OS_MY_PROCNO		((uint32) MyProcNumber)
#define OS_INVALID_PROCNO	((uint32) INVALID_PROC_NUMBER)
#else
#define OS_MY_PROCNO		((uint32) MyProc->pgprocno)
#define OS_INVALID_PROCNO	((uint32) INVALID_PGPROCNO)
#endif

/*
 * Is role the owner of function proc (or a superuser)?  16 replaced the
 * per-class owner checks by object_ownercheck().
 */
#if PG_VERSION_NUM >= 160000
#define os_compat_proc_ownercheck(proc, role) \
	object_ownercheck(ProcedureRelationId, (proc), (role))
#else
#define os_compat_proc_ownercheck(proc, role) pg_proc_ownercheck((proc), (role))
#endif

/*
 * The relation's primary key index, InvalidOid when it has none or only a
 * deferrable one (18 asks; earlier versions never return a deferrable one).
 */
#if PG_VERSION_NUM >= 180000
#define os_compat_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define os_compat_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/* An index scan without instrumentation (18 added the argument). */
#if PG_VERSION_NUM >= 180000
#define os_compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define os_compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/*
 * An EvalPlanQual state without a plan, for the BEFORE UPDATE row triggers
 * of a plan-free update (16 added the list of result relations; the
 * logical replication apply worker passes NIL, and so do we).
 */
#if PG_VERSION_NUM >= 160000
#define os_compat_epq_init(epq, estate) \
	EvalPlanQualInit((epq), (estate), NULL, NIL, -1, NIL)
#else
#define os_compat_epq_init(epq, estate) \
	EvalPlanQualInit((epq), (estate), NULL, NIL, -1)
#endif

/*
 * A ResultRelInfo's compiled CHECK constraints, one ExprState per
 * constraint of the relation's tuple descriptor (renamed in 18).
 */
#if PG_VERSION_NUM >= 180000
#define OS_RI_CHECK_EXPRS(rri) ((rri)->ri_CheckConstraintExprs)
#else
#define OS_RI_CHECK_EXPRS(rri) ((rri)->ri_ConstraintExprs)
#endif

/*
 * Check the privileges perms (with these columns: NULL for none) on the
 * relation of rte, an RTE_RELATION, as the executor checks a statement's
 * range table: an error when one is missing.  15 keeps them in the RTE and
 * checks them with ExecCheckRTPerms; 16 on keep them in an
 * RTEPermissionInfo and check them with ExecCheckPermissions.  With
 * estate, rte is to be entered into estate's range table: from 16 on its
 * RTEPermissionInfo is then appended to estate->es_rteperminfos, where the
 * executor looks up the columns a row trigger or a constraint failure's
 * detail needs.
 */
extern void os_compat_check_perms(EState *estate, RangeTblEntry *rte, AclMode perms,
								  Bitmapset *selected, Bitmapset *inserted,
								  Bitmapset *updated);

/*
 * The CHECK constraint number i of rel, planned as the executor plans it
 * before evaluating it (ExecRelCheck), or NULL when the executor would not
 * evaluate it (18: NOT ENFORCED).
 */
extern Expr *os_compat_plan_check(Relation rel, int i);

#endif							/* OS_COMPAT_H */
