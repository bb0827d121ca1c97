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
 *   - the INSERT privilege on the table (os_compat_check_perms), and a refusal
 *     where row security would apply to the writer;
 *   - every column not supplied gets the table's own default expression
 *     (build_column_default), or NULL;
 *   - supplied values of a domain type pass the domain's checks
 *     (domain_check), as the INSERT's coercion would;
 *   - NOT NULL and CHECK constraints, unique (also deferred) and exclusion
 *     constraints, partial and expression indexes, stored generated columns
 *     and row triggers, by ExecSimpleRelationInsert;
 *   - a read-only transaction (or a hot standby) and parallel mode are
 *     refused (25006) before anything is read or written, as ExecutorStart
 *     refuses them.
 * What the executor does per statement is not done here: statement-level
 * triggers, transition tables, rules; and a table that is not a plain table
 * (a view, a partitioned or foreign table) takes no plan-free row.  For such
 * a table, decided once when its cache is built, every write and read runs
 * the equivalent SQL statement instead (kept plans through SPI), and the
 * executor does everything; so does a table Citus manages.
 * order_system.direct_writes = off makes every table take that way.
 *
 * A product's stock and a member's order tokens are updated the same way
 * (os_rows_update): the row of the key is found by its primary key under a
 * new snapshot, tested, locked (following its update chain under READ
 * COMMITTED and tested again when it moved on, as an UPDATE's EvalPlanQual
 * would; a serialization failure under REPEATABLE READ and SERIALIZABLE)
 * and written by ExecSimpleRelationUpdate: privileges for SELECT and
 * UPDATE, domains of the changed columns, CHECK constraints, row triggers.
 * A row that fails the test before the lock is not locked, as an UPDATE
 * whose WHERE clause it fails would not lock it; a newer version whose key
 * is another is skipped, as the UPDATE's re-check of "id = key" would skip
 * it.  Through SQL: SELECT by key to test, SELECT ... FOR NO KEY UPDATE to
 * lock (and re-test a newer version), UPDATE of the changed columns by key.
 *
 * A member's and a payment method's row are read the same way
 * (os_rows_read): by primary key under a new snapshot, with the SELECT
 * privilege checked, as a query of one index scan would read them.
 *
 * Per table the backend keeps the supplied columns' numbers, their domains,
 * the compiled defaults and the planned CHECK constraints (which the
 * executor would otherwise plan again for every batch), built on first
 * use; a relcache invalidation of the table (or of all) drops them, and
 * so does any change to a function (pg_proc), since planning may have
 * inlined or folded one into a default or a CHECK; they are built again.
 */
#include "order_system.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#define MAX_ATTS 24

typedef struct column_spec
{
	const char *name;
	Oid			type;			/* the value's type: the column's base type */
	bool		updated;		/* os_rows_update may change it */
} column_spec;

typedef struct table_cache
{
	const char *relname;
	const column_spec *columns;
	const char *key;			/* the primary key's column */
	/* the equivalent SQL statements, prepared on first use and kept */
	os_stmt    *sql_write;		/* INSERT, or UPDATE of the changed columns */
	os_stmt    *sql_read;		/* SELECT by key */
	os_stmt    *sql_lock;		/* the same, FOR NO KEY UPDATE */
	/* built on first use, dropped on invalidation */
	MemoryContext cxt;
	Bitmapset  *inserted;		/* the supplied columns, for the privilege
								 * check */
	Bitmapset  *updated;		/* the columns os_rows_update may change */
	void	   *domain_extra[MAX_ATTS];
	ExprState  *def_expr[MAX_ATTS];
	Expr	  **check;			/* the table's CHECK constraints, planned */
	AclMode		perms;			/* ACL_INSERT, ACL_SELECT | ACL_UPDATE, or
								 * ACL_SELECT (read only) */
	Oid			keytype;		/* of the primary key's one column */
	Oid			pkey;			/* the primary key's index */
	int			ncolumns;
	Oid			relid;
	int			ndefaults;
	int			ncheck;
	Oid			domain[MAX_ATTS];	/* columns[i]'s domain, or InvalidOid */
	AttrNumber	attnum[MAX_ATTS];	/* of columns[i] */
	AttrNumber	def_attnum[MAX_ATTS];	/* the column of def_expr[i] */
	AttrNumber	keyattnum;		/* of key */
	bool		direct;			/* plan-free writes and reads may be used */
	bool		valid;
} table_cache;

/*
 * The columns each caller supplies (inserts) or tests and changes (updates),
 * in the order of its values.
 */
#define COL(name, type) {(name), (type), false}
#define CHANGED(name, type) {(name), (type), true}
static const column_spec orders_columns[] = {
	COL("id", INT8OID), COL("member_id", INT8OID), COL("status", TEXTOID), COL("currency", TEXTOID),
	COL("total_amount", INT8OID), COL("payment_method", TEXTOID), COL("idempotency_key", TEXTOID),
	COL("request_fingerprint", INT8OID)
};
static const column_spec order_line_columns[] = {
	COL("order_id", INT8OID), COL("product_id", INT8OID), COL("quantity", INT8OID),
	COL("unit_price", INT8OID), COL("amount", INT8OID), COL("bucket", INT2OID),
	COL("member_id", INT8OID)
};
static const column_spec payment_columns[] = {
	COL("id", INT8OID), COL("order_id", INT8OID), COL("method", TEXTOID), COL("amount", INT8OID),
	COL("points_amount", INT8OID), COL("external_amount", INT8OID), COL("status", TEXTOID),
	COL("reference", TEXTOID), COL("expires_at", TIMESTAMPTZOID), COL("member_id", INT8OID)
};
static const column_spec outbox_columns[] = {
	COL("event_type", TEXTOID), COL("aggregate_type", TEXTOID), COL("aggregate_id", INT8OID),
	COL("payload", JSONOID), COL("trace_context", TEXTOID)
};
static const column_spec product_columns[] = {
	COL("active", BOOLOID), CHANGED("stock_available", INT8OID), CHANGED("stock_reserved", INT8OID),
	COL("flash_buckets", INT2OID), COL("price", INT8OID), COL("currency", TEXTOID)
};
static const column_spec member_columns[] = {
	CHANGED("rate_tokens", FLOAT8OID), CHANGED("rate_at", TIMESTAMPTZOID), COL("active", BOOLOID)
};
static const column_spec payment_method_columns[] = {
	COL("handler", TEXTOID), COL("enabled", BOOLOID)
};

#define TABLE(name, cols, acl) TABLE_KEY(name, cols, acl, "id", INT8OID)
#define TABLE_KEY(name, cols, acl, keycol, type) \
	{.relname = (name), .columns = (cols), .ncolumns = lengthof(cols), .perms = (acl), \
	 .key = (keycol), .keytype = (type)}
/*
 * A table's list says what may be done to it here (perms): a call that
 * asks for anything else is a programming error, refused before any work.
 */
static void
require_use(const table_cache *c, AclMode mode, const char *what)
{
	if ((c->perms & mode) == 0)
		elog(ERROR, "order_system: %s of order_system.%s is not a plan-free operation",
			 what, c->relname);
}

static table_cache tables[OS_NTABLES] = {
	[OS_ORDERS] = TABLE("orders", orders_columns, ACL_INSERT),
	[OS_ORDER_LINE] = TABLE("order_line", order_line_columns, ACL_INSERT),
	[OS_PAYMENT] = TABLE("payment", payment_columns, ACL_INSERT),
	[OS_OUTBOX] = TABLE("outbox", outbox_columns, ACL_INSERT),
	[OS_PRODUCT] = TABLE("product", product_columns, ACL_SELECT | ACL_UPDATE),
	[OS_MEMBER] = TABLE("member", member_columns, ACL_SELECT | ACL_UPDATE),
	[OS_PAYMENT_METHOD] = TABLE_KEY("payment_method", payment_method_columns, ACL_SELECT,
									"name", TEXTOID),
};

StaticAssertDecl(lengthof(orders_columns) == OS_ORDERS_NCOLS, "orders columns");
StaticAssertDecl(lengthof(order_line_columns) == OS_ORDER_LINE_NCOLS, "order_line columns");
StaticAssertDecl(lengthof(payment_columns) == OS_PAYMENT_NCOLS, "payment columns");
StaticAssertDecl(lengthof(outbox_columns) == OS_OUTBOX_NCOLS, "outbox columns");
StaticAssertDecl(lengthof(product_columns) == OS_PRODUCT_NCOLS, "product columns");
StaticAssertDecl(lengthof(member_columns) == OS_MEMBER_NCOLS, "member columns");
StaticAssertDecl(lengthof(payment_method_columns) == OS_PAYMENT_METHOD_NCOLS,
				 "payment_method columns");

static bool callback_registered = false;

/*
 * Whether Citus manages each table (os_rows_citus), kept apart from the
 * writer's cache: asking must not build that (with direct_writes off it is
 * never built) nor lock the table.  0: not known, 1: no, 2: yes.
 */
static Oid	citus_relid[OS_NTABLES];
static int8 citus_known[OS_NTABLES];

static void
invalidate(Datum arg, Oid relid)
{
	for (int t = 0; t < OS_NTABLES; t++)
	{
		if (relid == InvalidOid || relid == tables[t].relid)
			tables[t].valid = false;
		if (relid == InvalidOid || relid == citus_relid[t])
			citus_known[t] = 0;
	}
}

/*
 * A function changed (CREATE OR REPLACE, ALTER, DROP): the compiled
 * defaults and planned CHECK constraints may have inlined or folded it, as
 * a kept plan may (plancache.c), but the table's relcache entry stays as it
 * was.  Rebuild every table's cache; functions change rarely.
 */
static void
invalidate_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	invalidate(arg, InvalidOid);
}

/*
 * A row of one of Citus's catalogs in pg_catalog: the row whose column
 * (of type type) equals key, or with key invalid the first row; false when
 * there is no such catalog (Citus is not installed) or row.  *value gets
 * the column's value; *readable is false when the column is not what this
 * code expects (another Citus version), and the row is not read.
 */
static bool
citus_catalog_row(const char *catalog, const char *column, Oid type, Oid key,
				  Datum *value, bool *readable)
{
	Oid			relid = get_relname_relid(catalog, PG_CATALOG_NAMESPACE);
	Relation	rel;
	AttrNumber	att;
	ScanKeyData skey;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	*readable = true;
	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	att = attnameAttNum(rel, column, false);
	if (att <= 0 || TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid != type)
		*readable = false;
	else
	{
		if (OidIsValid(key))
			ScanKeyInit(&skey, att, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(key));
		scan = systable_beginscan(rel, InvalidOid, false, NULL, OidIsValid(key) ? 1 : 0, &skey);
		tuple = systable_getnext(scan);
		if (HeapTupleIsValid(tuple))
		{
			bool		isnull;

			*value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
			found = !isnull;
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether Citus manages relid (a distributed, reference or Citus local
 * table: a row of its catalog pg_dist_partition).  Its planner routes every
 * statement on such a table to the table's shards; the relation itself is
 * an empty shell, and a row written into it without a plan would be lost to
 * every query (doc/scale-out.md).  A catalog this code cannot read counts
 * as managing it.
 */
bool
os_store_managed_by_citus(Oid relid)
{
	Datum		value;
	bool		readable;
	bool		found = citus_catalog_row("pg_dist_partition", "logicalrelid", REGCLASSOID,
										  relid, &value, &readable);

	return found || !readable;
}

/*
 * Whether this node is a Citus worker: its group (pg_dist_local_group, one
 * row) is not the coordinator's, 0.
 */
static bool
citus_worker_node(void)
{
	Datum		group;
	bool		readable;

	return citus_catalog_row("pg_dist_local_group", "groupid", INT4OID, InvalidOid,
							 &group, &readable) && DatumGetInt32(group) != 0;
}

/*
 * Whether the writer may write (or read) rel without a plan: a plain table
 * with nothing the executor does per statement for the writer's command --
 * no rule, no statement-level trigger, no trigger with transition tables --
 * and, for updates and reads, a one-column primary key on the key column;
 * and not a table Citus manages.  Otherwise the equivalent SQL statement
 * runs, and the executor (with any planner hook) does all.
 */
static bool
plan_free_possible(table_cache *c, Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;
	CmdType		cmd = CMD_SELECT;

	if (c->perms & ACL_INSERT)
		cmd = CMD_INSERT;
	else if (c->perms & ACL_UPDATE)
		cmd = CMD_UPDATE;
	if (rel->rd_rel->relkind != RELKIND_RELATION || os_rows_citus((os_table_id) (c - tables)))
		return false;
	if (rel->rd_rules != NULL)
		for (int i = 0; i < rel->rd_rules->numLocks; i++)
			if (rel->rd_rules->rules[i]->event == cmd)
				return false;
	if (trig != NULL && cmd == CMD_INSERT &&
		(trig->trig_insert_before_statement || trig->trig_insert_after_statement ||
		 trig->trig_insert_new_table))
		return false;
	if (trig != NULL && cmd == CMD_UPDATE &&
		(trig->trig_update_before_statement || trig->trig_update_after_statement ||
		 trig->trig_update_old_table || trig->trig_update_new_table))
		return false;
	if (cmd != CMD_INSERT)
	{
		Bitmapset  *pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
		AttrNumber	key = attnameAttNum(rel, c->key, false);

		if (bms_num_members(pk) != 1 || key <= 0 ||
			!bms_is_member(key - FirstLowInvalidHeapAttributeNumber, pk) ||
			getBaseType(TupleDescAttr(RelationGetDescr(rel), key - 1)->atttypid) != c->keytype)
			return false;
		c->keyattnum = key;
	}
	return true;
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

	/*
	 * A batch of this transaction may still be using the old one (a trigger
	 * fired by its rows wrote rows of its own after an invalidation): it goes
	 * when the transaction ends.
	 */
	if (c->cxt != NULL)
		MemoryContextSetParent(c->cxt, TopTransactionContext);
	c->cxt = AllocSetContextCreate(CacheMemoryContext, "order_system row writer",
								   ALLOCSET_SMALL_SIZES);
	c->valid = true;			/* an invalidation from here on rebuilds */
	c->inserted = NULL;
	c->updated = NULL;
	c->ndefaults = 0;
	c->ncheck = 0;
	c->check = NULL;
	c->pkey = os_compat_primary_key_index(rel);
	/* a table of many columns gets the SQL statement: no room kept here */
	c->direct = desc->natts <= MAX_ATTS && plan_free_possible(c, rel);
	if (!c->direct)
		return;
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
		if (c->columns[i].updated)
			c->updated = bms_add_member(c->updated, n - FirstLowInvalidHeapAttributeNumber);
	}
	for (int n = 1; n <= desc->natts && (c->perms & ACL_INSERT); n++)
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

	/*
	 * The CHECK constraints planned, as ExecRelCheck would plan them for
	 * every batch.  Each batch still compiles its own ExprStates
	 * (open_table): a whole-row Var keeps state in the executor's memory of
	 * the batch.
	 */
	if (c->perms != ACL_SELECT && desc->constr != NULL && desc->constr->num_check > 0)
	{
		c->check = palloc(sizeof(Expr *) * desc->constr->num_check);
		for (int i = 0; i < desc->constr->num_check; i++)
			c->check[i] = os_compat_plan_check(rel, i);
		c->ncheck = desc->constr->num_check;
	}
	MemoryContextSwitchTo(old);
}

static void
register_callbacks(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, invalidate_functions, (Datum) 0);
		callback_registered = true;
	}
}

/*
 * Open table c with lock, its cache built (again) when it is not valid; a
 * refusal where row security would apply to the caller.
 */
static Relation
open_ready(table_cache *c, LOCKMODE lock)
{
	Relation	rel;

	register_callbacks();
	rel = table_open(c->valid ? c->relid : table_relid(c), lock);
	if (!c->valid || RelationGetRelid(rel) != c->relid)
	{
		c->relid = RelationGetRelid(rel);
		PG_TRY();
		{
			build(c, rel);
		}
		PG_CATCH();
		{
			c->valid = false;	/* never use a half-built cache */
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	if (c->direct && check_enable_rls(c->relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("order_system cannot %s \"order_system.%s\" under row-level security",
						c->perms == ACL_SELECT ? "read" : "write to", c->relname),
				 errhint("The extension's functions run as its owner, who must bypass row security.")));
	return rel;
}

/* ------------------------------------------------ the SQL statements */

static os_stmt *
new_stmt(const char *sql, int nargs)
{
	os_stmt    *stmt = MemoryContextAllocZero(TopMemoryContext, sizeof(os_stmt));

	stmt->sql = MemoryContextStrdup(TopMemoryContext, sql);
	stmt->nargs = nargs;
	return stmt;
}

/*
 * The statements equivalent to what the writer does to table c, once per
 * backend (the plan cache follows changes to the table):
 *   INSERT INTO t (columns) VALUES ($1, ...)
 *   SELECT columns FROM t WHERE key = $1 [FOR NO KEY UPDATE]
 *   UPDATE t SET changed = $n, ... WHERE key = $1
 * Values are passed as the columns' base types: the statement coerces them
 * to a domain, checking it, as the writer does.
 */
static void
prepare_sql(table_cache *c)
{
	StringInfoData cols;
	StringInfoData sql;
	const char *rel;
	const char *key;
	os_stmt    *read = NULL;
	os_stmt    *lock = NULL;
	os_stmt    *write = NULL;

	if (c->sql_read != NULL || c->sql_write != NULL)
		return;
	rel = quote_qualified_identifier("order_system", c->relname);
	key = quote_identifier(c->key);
	initStringInfo(&cols);
	initStringInfo(&sql);
	for (int i = 0; i < c->ncolumns; i++)
		appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "", quote_identifier(c->columns[i].name));

	if (c->perms & ACL_INSERT)
	{
		appendStringInfo(&sql, "INSERT INTO %s (%s) VALUES (", rel, cols.data);
		for (int i = 0; i < c->ncolumns; i++)
			appendStringInfo(&sql, "%s$%d", i > 0 ? ", " : "", i + 1);
		appendStringInfoChar(&sql, ')');
		write = new_stmt(sql.data, c->ncolumns);
		for (int i = 0; i < c->ncolumns; i++)
			write->argtypes[i] = c->columns[i].type;
		c->sql_write = write;
		return;
	}

	read = new_stmt(psprintf("SELECT %s FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
							 cols.data, rel, key), 1);
	read->argtypes[0] = c->keytype;
	if (c->perms & ACL_UPDATE)
	{
		bool		first = true;

		lock = new_stmt(psprintf("%s FOR NO KEY UPDATE", read->sql), 1);
		lock->argtypes[0] = c->keytype;

		appendStringInfo(&sql, "UPDATE %s SET ", rel);
		for (int i = 0; i < c->ncolumns; i++)
		{
			if (!c->columns[i].updated)
				continue;
			appendStringInfo(&sql, "%s%s = $%d", first ? "" : ", ",
							 quote_identifier(c->columns[i].name), i + 2);
			first = false;
		}
		appendStringInfo(&sql, " WHERE %s OPERATOR(pg_catalog.=) $1", key);
		write = new_stmt(sql.data, c->ncolumns + 1);
		write->argtypes[0] = c->keytype;
		for (int i = 0; i < c->ncolumns; i++)
			write->argtypes[i + 1] = c->columns[i].type;
	}
	c->sql_lock = lock;
	c->sql_write = write;
	c->sql_read = read;			/* last: set means all are */
}

/*
 * The columns of c from row 0 of SPI_tuptable; copied into the current
 * memory context when copy.
 */
static void
sql_columns(const table_cache *c, Datum *cols, bool *nulls, bool copy)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;

	for (int i = 0; i < c->ncolumns; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		cols[i] = os_getattr(0, i + 1, &nulls[i]);
		if (copy && !nulls[i])
			cols[i] = datumCopy(cols[i], att->attbyval, att->attlen);
	}
}

/* Whether row 0 of SPI_tuptable has the columns cols and nulls. */
static bool
sql_same_columns(const table_cache *c, const Datum *cols, const bool *nulls)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;

	for (int i = 0; i < c->ncolumns; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d = os_getattr(0, i + 1, &isnull);

		if (isnull != nulls[i] ||
			(!isnull && !datumIsEqual(d, cols[i], att->attbyval, att->attlen)))
			return false;
	}
	return true;
}

/*
 * The caller's SPI results, put back after the writer's statements: the
 * callers may still be reading rows of a statement of their own.
 */
typedef struct spi_saved
{
	SPITupleTable *tuptable;
	uint64		processed;
} spi_saved;

static void
spi_save(spi_saved *saved)
{
	saved->tuptable = SPI_tuptable;
	saved->processed = SPI_processed;
	SPI_tuptable = NULL;
}

static void
spi_restore(const spi_saved *saved)
{
	SPI_tuptable = saved->tuptable;
	SPI_processed = saved->processed;
}

void
os_rows_begin(os_rows *w)
{
	memset(w, 0, sizeof(*w));
	/* see what the statements before wrote, as the next statement would */
	CommandCounterIncrement();
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

	if (w->rri[t] != NULL || w->sql[t])
		return w->rri[t];
	Assert(c->perms & (ACL_INSERT | ACL_UPDATE));
	if (!os_direct_writes)
	{
		prepare_sql(c);
		w->sql[t] = true;
		return NULL;
	}
	rel = open_ready(c, RowExclusiveLock);
	if (!c->direct)
	{
		/* the lock stays, as the statement's own would */
		table_close(rel, NoLock);
		prepare_sql(c);
		w->sql[t] = true;
		return NULL;
	}

	/*
	 * As ExecutorStart would refuse the statement, before anything is read or
	 * written: a read-only transaction (also every transaction of a hot
	 * standby), or parallel mode.
	 */
	if (XactReadOnly)
		PreventCommandIfReadOnly((c->perms & ACL_INSERT) ? "INSERT" : "UPDATE");
	PreventCommandIfParallelMode((c->perms & ACL_INSERT) ? "INSERT" : "UPDATE");

	old = MemoryContextSwitchTo(w->estate->es_query_cxt);
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = c->relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	if (c->perms & ACL_INSERT)
		os_compat_check_perms(w->estate, rte, c->perms, NULL, bms_copy(c->inserted), NULL);
	else
		os_compat_check_perms(w->estate, rte, c->perms, bms_copy(c->inserted), NULL,
							  bms_copy(c->updated));
	w->rtable = lappend(w->rtable, rte);
	w->estate->es_range_table = w->rtable;

	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, list_length(w->rtable), NULL, 0);

	/*
	 * The lock held since the cache was built keeps the constraints as they
	 * were; should they differ anyway, the executor compiles its own.
	 */
	if (c->ncheck > 0 && rel->rd_att->constr != NULL &&
		c->ncheck == rel->rd_att->constr->num_check)
	{
		OS_RI_CHECK_EXPRS(rri) = palloc(sizeof(ExprState *) * c->ncheck);
		for (int i = 0; i < c->ncheck; i++)
			OS_RI_CHECK_EXPRS(rri)[i] = ExecInitExpr(c->check[i], NULL);
	}
	/* where the after-trigger code looks for the table's ResultRelInfo */
	w->estate->es_opened_result_relations =
		lappend(w->estate->es_opened_result_relations, rri);
	ExecOpenIndices(rri, false);
	w->slot[t] = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(rel), &TTSOpsVirtual);
	if (!(c->perms & ACL_INSERT))
	{
		if (!OidIsValid(c->pkey))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("relation \"order_system.%s\" has no primary key", c->relname)));
		w->found[t] = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(rel),
											 table_slot_callbacks(rel));
		if (!w->epq_ready)
		{
			os_compat_epq_init(&w->epq, w->estate);
			w->epq_ready = true;
		}
	}
	MemoryContextSwitchTo(old);
	w->rri[t] = rri;
	return rri;
}

void
os_rows_insert(os_rows *w, os_table_id t, const Datum *values, const bool *nulls)
{
	table_cache *c = &tables[t];
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	ExprContext *econtext = GetPerTupleExprContext(w->estate);
	int			natts;

	require_use(c, ACL_INSERT, "an insert");
	rri = open_table(w, t);
	if (rri == NULL)
	{
		char		pnulls[MAX_ATTS];
		spi_saved	saved;

		for (int i = 0; i < c->ncolumns; i++)
			pnulls[i] = nulls[i] ? 'n' : ' ';
		spi_save(&saved);
		os_exec(c->sql_write, (Datum *) values, pnulls, 0);
		spi_restore(&saved);
		return;
	}
	slot = w->slot[t];
	natts = slot->tts_tupleDescriptor->natts;
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
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationInsert(rri, w->estate, slot);
	ResetPerTupleExprContext(w->estate);
}

void
os_rows_end(os_rows *w)
{
	AfterTriggerEndQuery(w->estate);
	if (w->epq_ready)
		EvalPlanQualEnd(&w->epq);
	/* the indexes, and tables the triggers opened */
	ExecCloseResultRelations(w->estate);
	for (int t = 0; t < OS_NTABLES; t++)
		if (w->rri[t] != NULL)
			table_close(w->rri[t]->ri_RelationDesc, NoLock);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	w->estate = NULL;
	os_recheck_installed_version();
}

/* The row of key (an int8 primary key) that snap sees, into slot. */
static bool
fetch_by_key(os_rows *w, os_table_id t, Snapshot snap, int64 key, TupleTableSlot *slot)
{
	ResultRelInfo *rri = w->rri[t];
	Relation	index = NULL;
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found;

	for (int i = 0; i < rri->ri_NumIndices; i++)
		if (RelationGetRelid(rri->ri_IndexRelationDescs[i]) == tables[t].pkey)
			index = rri->ri_IndexRelationDescs[i];
	if (index == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("primary key index of order_system.%s not open", tables[t].relname)));
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	scan = os_compat_index_beginscan(rri->ri_RelationDesc, index, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}

/* The columns of os_rows_update's callback, from slot. */
static void
columns_of(const table_cache *c, TupleTableSlot *slot, Datum *cols, bool *nulls)
{
	slot_getallattrs(slot);
	for (int i = 0; i < c->ncolumns; i++)
	{
		cols[i] = slot->tts_values[c->attnum[i] - 1];
		nulls[i] = slot->tts_isnull[c->attnum[i] - 1];
	}
}

/*
 * os_rows_update through SQL: the row read and tested, locked (only when
 * the test passed) by SELECT ... FOR NO KEY UPDATE, which follows the row's
 * update chain and re-checks its key under READ COMMITTED and fails with
 * 40001 under REPEATABLE READ and SERIALIZABLE, tested again when the
 * locked version's columns differ from those tested, then UPDATE of the
 * changed columns by key.
 */
static bool
update_by_sql(table_cache *c, int64 key, os_row_change change, void *arg)
{
	Datum		params[MAX_ATTS + 1];
	char		pnulls[MAX_ATTS + 1];
	bool		nulls[MAX_ATTS];
	Datum		tested[MAX_ATTS];
	bool		tested_nulls[MAX_ATTS];
	spi_saved	saved;
	bool		written = false;

	spi_save(&saved);
	params[0] = Int64GetDatum(key);
	pnulls[0] = ' ';
	if (os_exec(c->sql_read, params, NULL, 1) == 1)
	{
		sql_columns(c, tested, tested_nulls, true);
		memcpy(params + 1, tested, sizeof(Datum) * c->ncolumns);
		memcpy(nulls, tested_nulls, sizeof(bool) * c->ncolumns);
		SPI_freetuptable(SPI_tuptable);
		SPI_tuptable = NULL;
		if (change(params + 1, nulls, arg))
		{
			bool		ready = os_exec(c->sql_lock, params, NULL, 1) == 1;

			/* a newer version than the one tested: test it instead */
			if (ready && !sql_same_columns(c, tested, tested_nulls))
			{
				sql_columns(c, params + 1, nulls, false);
				ready = change(params + 1, nulls, arg);
			}
			if (ready)
			{
				SPITupleTable *locked = SPI_tuptable;

				for (int i = 0; i < c->ncolumns; i++)
					pnulls[i + 1] = nulls[i] ? 'n' : ' ';
				/* zero rows when a BEFORE trigger skipped it */
				written = os_exec(c->sql_write, params, pnulls, 0) > 0;
				SPI_tuptable = locked;
			}
		}
	}
	SPI_freetuptable(SPI_tuptable);
	spi_restore(&saved);
	return written;
}

bool
os_rows_update(os_rows *w, os_table_id t, int64 key, os_row_change change, void *arg)
{
	table_cache *c = &tables[t];
	ResultRelInfo *rri;
	TupleTableSlot *found;
	TupleTableSlot *slot;
	Datum		cols[MAX_ATTS];
	bool		nulls[MAX_ATTS];
	Snapshot	snap;
	TM_FailureData tmfd;
	TM_Result	res;
	int			flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
	int			natts;

	require_use(c, ACL_UPDATE, "an update");
	rri = open_table(w, t);
	Assert(c->perms & ACL_UPDATE);
	if (rri == NULL)
		return update_by_sql(c, key, change, arg);
	found = w->found[t];
	slot = w->slot[t];
	natts = slot->tts_tupleDescriptor->natts;
	/* as a statement of its own: see what came before, under a new snapshot */
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	ExecClearTuple(found);
	if (!fetch_by_key(w, t, snap, key, found))
	{
		UnregisterSnapshot(snap);
		return false;
	}
	columns_of(c, found, cols, nulls);
	if (!change(cols, nulls, arg))
	{
		UnregisterSnapshot(snap);
		return false;
	}

	if (!IsolationUsesXactSnapshot())
		flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
	res = table_tuple_lock(rri->ri_RelationDesc, &found->tts_tid, snap, found,
						   GetCurrentCommandId(true), LockTupleNoKeyExclusive,
						   LockWaitBlock, flags, &tmfd);
	switch (res)
	{
		case TM_Ok:
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			UnregisterSnapshot(snap);
			return false;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("unexpected table_tuple_lock status: %u", res)));
			break;
		default:
			/* TM_SelfModified: nothing here writes a row twice in one command */
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("unexpected table_tuple_lock status: %u", res)));
			break;
	}
	if (tmfd.traversed)
	{
		bool		isnull;
		Datum		newkey = slot_getattr(found, c->keyattnum, &isnull);

		/*
		 * A newer version, committed meanwhile: the row of the key no more
		 * when its key was changed (skipped, as an UPDATE's re-check of its
		 * WHERE clause would skip it), else test it instead.
		 */
		if (isnull || DatumGetInt64(newkey) != key)
		{
			UnregisterSnapshot(snap);
			return false;
		}
		columns_of(c, found, cols, nulls);
		if (!change(cols, nulls, arg))
		{
			UnregisterSnapshot(snap);
			return false;
		}
	}

	/* the locked row with the callback's changes (tts_tid: not written yet) */
	ExecClearTuple(slot);
	ItemPointerSetInvalid(&slot->tts_tid);
	slot_getallattrs(found);
	memcpy(slot->tts_values, found->tts_values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, found->tts_isnull, sizeof(bool) * natts);
	for (int i = 0; i < c->ncolumns; i++)
	{
		AttrNumber	n = c->attnum[i];

		if (!c->columns[i].updated)
			continue;
		if (OidIsValid(c->domain[i]) &&
			(nulls[i] != slot->tts_isnull[n - 1] || cols[i] != slot->tts_values[n - 1]))
			domain_check(cols[i], nulls[i], c->domain[i], &c->domain_extra[i], c->cxt);
		slot->tts_values[n - 1] = cols[i];
		slot->tts_isnull[n - 1] = nulls[i];
	}
	ExecStoreVirtualTuple(slot);
	w->estate->es_snapshot = snap;
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationUpdate(rri, w->estate, &w->epq, found, slot);
	w->estate->es_snapshot = InvalidSnapshot;
	ResetPerTupleExprContext(w->estate);
	UnregisterSnapshot(snap);
	/* the new version's place, unless a BEFORE trigger skipped the row */
	return ItemPointerIsValid(&slot->tts_tid);
}

/* os_rows_read through SQL: SELECT the columns by key. */
static bool
read_by_sql(table_cache *c, Datum key, Datum *cols, bool *nulls)
{
	spi_saved	saved;
	bool		found;

	spi_save(&saved);
	found = os_exec(c->sql_read, &key, NULL, 1) == 1;
	if (found)
		sql_columns(c, cols, nulls, true);
	SPI_freetuptable(SPI_tuptable);
	spi_restore(&saved);
	return found;
}

bool
os_rows_read(os_table_id t, Datum key, Datum *cols, bool *nulls)
{
	table_cache *c = &tables[t];
	Relation	rel;
	Relation	index;
	RangeTblEntry *rte;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData skey;
	Snapshot	snap;
	bool		found;

	require_use(c, ACL_SELECT, "a read");
	if (!os_direct_writes)
	{
		prepare_sql(c);
		return read_by_sql(c, key, cols, nulls);
	}
	rel = open_ready(c, AccessShareLock);
	if (!c->direct)
	{
		table_close(rel, NoLock);
		prepare_sql(c);
		return read_by_sql(c, key, cols, nulls);
	}
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = c->relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = AccessShareLock;
	os_compat_check_perms(NULL, rte, ACL_SELECT, c->inserted, NULL, NULL);
	pfree(rte);
	if (!OidIsValid(c->pkey))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"order_system.%s\" has no primary key", c->relname)));
	index = index_open(c->pkey, AccessShareLock);

	/* as a statement of its own: see what came before, under a new snapshot */
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	slot = table_slot_create(rel, NULL);
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0],
						   c->keytype == TEXTOID ? F_TEXTEQ : F_INT8EQ, key);
	scan = os_compat_index_beginscan(rel, index, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		TupleDesc	desc = RelationGetDescr(rel);

		slot_getallattrs(slot);
		for (int i = 0; i < c->ncolumns; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, c->attnum[i] - 1);

			nulls[i] = slot->tts_isnull[c->attnum[i] - 1];
			cols[i] = nulls[i] ? (Datum) 0 :
				datumCopy(slot->tts_values[c->attnum[i] - 1], att->attbyval, att->attlen);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	os_recheck_installed_version();
	return found;
}

/* nextval of the extension's sequence seq, as nextval('order_system.seq'). */
int64
os_rows_nextval(const char *seq)
{
	Oid			relid = get_relname_relid(seq, get_namespace_oid("order_system", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"order_system.%s\" does not exist", seq)));
	return nextval_internal(relid, true);
}

/*
 * Whether Citus manages table t (os_store_managed_by_citus, remembered until
 * an invalidation of the table): the store then uses the statements Citus
 * can route (doc/scale-out.md), and the writer takes no plan-free path.
 * The table is looked up by name, not opened.
 */
bool
os_rows_citus(os_table_id t)
{
	if (citus_known[t] == 0)
	{
		register_callbacks();
		citus_relid[t] = table_relid(&tables[t]);
		citus_known[t] = os_store_managed_by_citus(citus_relid[t]) ? 2 : 1;
	}
	return citus_known[t] == 2;
}

/*
 * On a Citus worker, refuse a call that writes: the extension's sequences
 * are each node's own, so ids taken there would collide with the
 * coordinator's (doc/scale-out.md).  Without Citus this is one catalog
 * cache lookup that finds nothing.
 */
void
os_store_require_coordinator(const char *what)
{
	if (!OidIsValid(get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE)) ||
		!citus_worker_node() || !os_rows_citus(OS_ORDERS))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot run %s on a Citus worker", what),
			 errdetail("order_system's tables are distributed; its writes run on the coordinator."),
			 errhint("Connect to the Citus coordinator.")));
}
