/*
 * rows.c
 *	  Rows written without a plan: an order's rows (orders, order_line,
 *	  payment, outbox) go straight into their tables and indexes, the way
 *	  logical replication's apply worker writes rows (execReplication.c).
 *
 * An INSERT statement, even a kept plan, starts an executor per call: a
 * ModifyTable node per table and the nodes under it, set up and torn down
 * for a handful of rows.  In place_order that was more than the rows' own
 * work (bench/README.md).  What the INSERT did is done here as well:
 *   - the INSERT privilege on the table (ExecCheckRTPerms), and a refusal
 *     where row security would apply to the writer;
 *   - every column not supplied gets the table's own default expression
 *     (build_column_default), or NULL;
 *   - supplied values of a domain type pass the domain's checks
 *     (domain_check), as the INSERT's coercion would;
 *   - NOT NULL and CHECK constraints, unique indexes and row triggers, by
 *     ExecSimpleRelationInsert.
 * Statement-level INSERT triggers do not fire (the extension's tables have
 * none).
 *
 * Per table the backend keeps the supplied columns' numbers, their domains
 * and the compiled defaults, built on first use; a relcache invalidation of
 * the table (or of all) drops them, and they are built again.
 */
#include "order_system.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#define MAX_ATTS 24

typedef struct column_spec
{
	const char *name;
	Oid			type;			/* the value's type: the column's base type */
} column_spec;

typedef struct table_cache
{
	const char *relname;
	const column_spec *columns;
	/* built on first use, dropped on invalidation */
	MemoryContext cxt;
	Bitmapset  *inserted;		/* the supplied columns, for the privilege
								 * check */
	void	   *domain_extra[MAX_ATTS];
	ExprState  *def_expr[MAX_ATTS];
	int			ncolumns;
	Oid			relid;
	int			ndefaults;
	Oid			domain[MAX_ATTS];	/* columns[i]'s domain, or InvalidOid */
	AttrNumber	attnum[MAX_ATTS];	/* of columns[i] */
	AttrNumber	def_attnum[MAX_ATTS];	/* the column of def_expr[i] */
	bool		valid;
} table_cache;

/* The columns each caller supplies, in the order of its values. */
static const column_spec orders_columns[] = {
	{"id", INT8OID}, {"member_id", INT8OID}, {"status", TEXTOID}, {"currency", TEXTOID},
	{"total_amount", INT8OID}, {"payment_method", TEXTOID}, {"idempotency_key", TEXTOID},
	{"request_fingerprint", INT8OID}
};
static const column_spec order_line_columns[] = {
	{"order_id", INT8OID}, {"product_id", INT8OID}, {"quantity", INT8OID},
	{"unit_price", INT8OID}, {"amount", INT8OID}, {"bucket", INT2OID}
};
static const column_spec payment_columns[] = {
	{"id", INT8OID}, {"order_id", INT8OID}, {"method", TEXTOID}, {"amount", INT8OID},
	{"points_amount", INT8OID}, {"external_amount", INT8OID}, {"status", TEXTOID},
	{"reference", TEXTOID}, {"expires_at", TIMESTAMPTZOID}
};
static const column_spec outbox_columns[] = {
	{"event_type", TEXTOID}, {"aggregate_type", TEXTOID}, {"aggregate_id", INT8OID},
	{"payload", JSONOID}
};

#define TABLE(name, cols) {.relname = (name), .columns = (cols), .ncolumns = lengthof(cols)}
static table_cache tables[OS_NTABLES] = {
	[OS_ORDERS] = TABLE("orders", orders_columns),
	[OS_ORDER_LINE] = TABLE("order_line", order_line_columns),
	[OS_PAYMENT] = TABLE("payment", payment_columns),
	[OS_OUTBOX] = TABLE("outbox", outbox_columns),
};

StaticAssertDecl(lengthof(orders_columns) == OS_ORDERS_NCOLS, "orders columns");
StaticAssertDecl(lengthof(order_line_columns) == OS_ORDER_LINE_NCOLS, "order_line columns");
StaticAssertDecl(lengthof(payment_columns) == OS_PAYMENT_NCOLS, "payment columns");
StaticAssertDecl(lengthof(outbox_columns) == OS_OUTBOX_NCOLS, "outbox columns");

static bool callback_registered = false;

static void
invalidate(Datum arg, Oid relid)
{
	for (int t = 0; t < OS_NTABLES; t++)
		if (relid == InvalidOid || relid == tables[t].relid)
			tables[t].valid = false;
}

/* The table's relation, by name: the schema is the extension's own. */
static Oid
table_relid(const table_cache *c)
{
	Oid			nsp = get_namespace_oid("order_system", false);
	Oid			relid = get_relname_relid(c->relname, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"order_system.%s\" does not exist", c->relname)));
	return relid;
}

/* Look up the columns and compile the defaults of rel, open and locked. */
static void
build(table_cache *c, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	bool		supplied[MAX_ATTS + 1] = {false};

	if (c->cxt == NULL)
		c->cxt = AllocSetContextCreate(CacheMemoryContext, "order_system row writer",
									   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(c->cxt);
	c->valid = true;			/* an invalidation from here on rebuilds */
	c->inserted = NULL;
	c->ndefaults = 0;
	if (desc->natts > MAX_ATTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_internal("order_system.%s has more than %d columns", c->relname, MAX_ATTS)));
	old = MemoryContextSwitchTo(c->cxt);
	for (int i = 0; i < c->ncolumns; i++)
	{
		AttrNumber	n = attnameAttNum(rel, c->columns[i].name, false);
		Oid			type;

		if (n <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"order_system.%s\" does not exist",
							c->columns[i].name, c->relname)));
		type = TupleDescAttr(desc, n - 1)->atttypid;
		if (getBaseType(type) != c->columns[i].type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"order_system.%s\" is of type %s, not %s",
							c->columns[i].name, c->relname, format_type_be(type),
							format_type_be(c->columns[i].type))));
		c->attnum[i] = n;
		c->domain[i] = get_typtype(type) == TYPTYPE_DOMAIN ? type : InvalidOid;
		c->domain_extra[i] = NULL;
		supplied[n] = true;
		c->inserted = bms_add_member(c->inserted, n - FirstLowInvalidHeapAttributeNumber);
	}
	for (int n = 1; n <= desc->natts; n++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, n - 1);
		Node	   *def;

		if (supplied[n] || att->attisdropped || att->attgenerated)
			continue;
		def = build_column_default(rel, n);
		if (def == NULL)
			continue;
		c->def_attnum[c->ndefaults] = n;
		c->def_expr[c->ndefaults] = ExecInitExpr(expression_planner((Expr *) def), NULL);
		c->ndefaults++;
	}
	MemoryContextSwitchTo(old);
}

void
os_rows_begin(os_rows *w)
{
	memset(w, 0, sizeof(*w));
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate, (Datum) 0);
		callback_registered = true;
	}
	w->estate = CreateExecutorState();
	w->estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
}

/* Open table t for inserting, once per batch; checks as an INSERT would. */
static ResultRelInfo *
open_table(os_rows *w, os_table_id t)
{
	table_cache *c = &tables[t];
	Relation	rel;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	MemoryContext old;

	if (w->rri[t] != NULL)
		return w->rri[t];
	rel = table_open(c->valid ? c->relid : table_relid(c), RowExclusiveLock);
	if (!c->valid || RelationGetRelid(rel) != c->relid)
	{
		c->relid = RelationGetRelid(rel);
		build(c, rel);
	}
	if (check_enable_rls(c->relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("order_system cannot write to \"order_system.%s\" under row-level security",
						c->relname),
				 errhint("The extension's functions run as its owner, who must bypass row security.")));

	old = MemoryContextSwitchTo(w->estate->es_query_cxt);
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = c->relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = bms_copy(c->inserted);
	ExecCheckRTPerms(list_make1(rte), true);
	w->rtable = lappend(w->rtable, rte);
	w->estate->es_range_table = w->rtable;

	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, list_length(w->rtable), NULL, 0);
	/* where the after-trigger code looks for the table's ResultRelInfo */
	w->estate->es_opened_result_relations =
		lappend(w->estate->es_opened_result_relations, rri);
	ExecOpenIndices(rri, false);
	w->slot[t] = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(rel), &TTSOpsVirtual);
	MemoryContextSwitchTo(old);
	w->rri[t] = rri;
	return rri;
}

void
os_rows_insert(os_rows *w, os_table_id t, const Datum *values, const bool *nulls)
{
	table_cache *c = &tables[t];
	ResultRelInfo *rri = open_table(w, t);
	TupleTableSlot *slot = w->slot[t];
	ExprContext *econtext = GetPerTupleExprContext(w->estate);
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	for (int i = 0; i < c->ncolumns; i++)
	{
		AttrNumber	n = c->attnum[i];

		if (OidIsValid(c->domain[i]))
			domain_check(values[i], nulls[i], c->domain[i], &c->domain_extra[i], c->cxt);
		slot->tts_values[n - 1] = values[i];
		slot->tts_isnull[n - 1] = nulls[i];
	}
	for (int i = 0; i < c->ndefaults; i++)
	{
		AttrNumber	n = c->def_attnum[i];

		slot->tts_values[n - 1] = ExecEvalExprSwitchContext(c->def_expr[i], econtext,
															&slot->tts_isnull[n - 1]);
	}
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(rri, w->estate, slot);
	ResetPerTupleExprContext(w->estate);
}

void
os_rows_end(os_rows *w)
{
	AfterTriggerEndQuery(w->estate);
	/* the indexes, and tables the triggers opened */
	ExecCloseResultRelations(w->estate);
	for (int t = 0; t < OS_NTABLES; t++)
		if (w->rri[t] != NULL)
			table_close(w->rri[t]->ri_RelationDesc, NoLock);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	w->estate = NULL;
}
