/*
 * compat.c
 *	  The functions of compat.h: server APIs whose difference between major
 *	  versions is more than a name or an argument.
 */
#include "order_system.h"

#include "executor/executor.h"
#include "nodes/pg_list.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"

void
os_compat_check_perms(EState *estate, RangeTblEntry *rte, AclMode perms,
					  Bitmapset *selected, Bitmapset *inserted, Bitmapset *updated)
{
	List	   *rtable;
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;
	RTEPermissionInfo *perminfo;

	Assert(rte->rtekind == RTE_RELATION);

	/*
	 * The check sees a range table of this one entry, its permission info the
	 * first of its list (as ExecCheckPermissions asserts); entered into
	 * estate, the entry then points at its place in estate's list.
	 */
	perminfo = addRTEPermissionInfo(&perminfos, rte);
	perminfo->requiredPerms = perms;
	perminfo->selectedCols = selected;
	perminfo->insertedCols = inserted;
	perminfo->updatedCols = updated;
	rtable = list_make1(rte);
	ExecCheckPermissions(rtable, perminfos, true);
	if (estate != NULL)
	{
		estate->es_rteperminfos = lappend(estate->es_rteperminfos, perminfo);
		rte->perminfoindex = list_length(estate->es_rteperminfos);
	}
	else
	{
		rte->perminfoindex = 0;
		pfree(perminfo);
	}
	list_free(perminfos);
#else
	rtable = list_make1(rte);
	Assert(rte->rtekind == RTE_RELATION);
	rte->requiredPerms = perms;
	rte->selectedCols = selected;
	rte->insertedCols = inserted;
	rte->updatedCols = updated;
	ExecCheckRTPerms(rtable, true);
#endif
	list_free(rtable);
}

Expr *
os_compat_plan_check(Relation rel, int i)
{
	ConstrCheck *check = &rel->rd_att->constr->check[i];
	Node	   *expr;

#if PG_VERSION_NUM >= 180000
	/* ExecRelCheck skips it and expands virtual generated columns */
	if (!check->ccenforced)
		return NULL;
	expr = expand_generated_columns_in_expr(stringToNode(check->ccbin), rel, 1);
#else
	expr = stringToNode(check->ccbin);
#endif
	return expression_planner((Expr *) expr);
}
