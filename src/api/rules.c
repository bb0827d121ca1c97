/*
 * rules.c
 *	  The functions the tables' CHECK constraints call for the rules that
 *	  span columns: stock_adds_up(product), payment_adds_up(payment),
 *	  bucket_adds_up(stock_bucket) and ledger_delta_ok(kind, delta).
 *
 * PostgreSQL reads a CHECK expression back from its stored node text in
 * every statement that writes the table.  A call with the whole row as its
 * one argument is a fifth of the text of the sum it replaces; the columns
 * are found by name once per statement (bench/README.md).  The rules
 * themselves are the core's (src/core/os_rules.c).
 */
#include "order_system.h"

#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/typcache.h"

#define OS_MAX_PARTS 4

/* A rule: the parts add up to the total, columns by name. */
typedef struct sum_rule
{
	const char *parts[OS_MAX_PARTS];
	int			nparts;
	const char *total;
} sum_rule;

static const sum_rule stock_rule = {
	{"stock_available", "stock_reserved", "stock_sold", "stock_bucketed"}, 4, "stock_received"
};
static const sum_rule payment_rule = {{"points_amount", "external_amount"}, 2, "amount"};
static const sum_rule bucket_rule = {{"available", "reserved", "sold"}, 3, "allotted"};

/* Attribute numbers of a rule's columns in one row type, found once per call site. */
typedef struct rule_columns
{
	Oid			rowtype;
	int32		typmod;
	AttrNumber	attnum[OS_MAX_PARTS + 1];	/* the parts, then the total */
} rule_columns;

static AttrNumber
column_number(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("row type %s has no column \"%s\"", format_type_be(desc->tdtypeid), name)));
	return InvalidAttrNumber;	/* not reached */
}

/* Whether the row's parts add up to its total (NULL anywhere: true, as in SQL). */
static bool
row_adds_up(FunctionCallInfo fcinfo, const sum_rule *rule)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			rowtype = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	rule_columns *cols = (rule_columns *) fcinfo->flinfo->fn_extra;
	TupleDesc	desc = lookup_rowtype_tupdesc(rowtype, typmod);
	HeapTupleData tuple;
	os_money	parts[OS_MAX_PARTS] = {0};
	os_money	total = 0;
	bool		isnull;
	bool		equal = false;

	if (cols == NULL || cols->rowtype != rowtype || cols->typmod != typmod)
	{
		cols = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(rule_columns));
		cols->rowtype = rowtype;
		cols->typmod = typmod;
		for (int i = 0; i < rule->nparts; i++)
			cols->attnum[i] = column_number(desc, rule->parts[i]);
		cols->attnum[rule->nparts] = column_number(desc, rule->total);
		fcinfo->flinfo->fn_extra = cols;
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	for (int i = 0; i <= rule->nparts; i++)
	{
		Datum		d = heap_getattr(&tuple, cols->attnum[i], desc, &isnull);

		if (isnull)
		{
			ReleaseTupleDesc(desc);
			return true;
		}
		if (i < rule->nparts)
			parts[i] = DatumGetInt64(d);
		else
			total = DatumGetInt64(d);
	}
	ReleaseTupleDesc(desc);
	if (os_parts_add_up(parts, rule->nparts, total, &equal) != OS_OK)
		os_error(OS_ERR_OVERFLOW, "bigint out of range");
	return equal;
}

/* stock_adds_up(product): available + reserved + sold + bucketed = received */
OS_FUNCTION(os_stock_adds_up)
{
	PG_RETURN_BOOL(row_adds_up(fcinfo, &stock_rule));
}

/* payment_adds_up(payment): points part + external part = amount */
OS_FUNCTION(os_payment_adds_up)
{
	PG_RETURN_BOOL(row_adds_up(fcinfo, &payment_rule));
}

/* bucket_adds_up(stock_bucket): available + reserved + sold = allotted */
OS_FUNCTION(os_bucket_adds_up)
{
	PG_RETURN_BOOL(row_adds_up(fcinfo, &bucket_rule));
}

/* ledger_delta_ok(kind, delta) */
OS_FUNCTION(os_ledger_delta_ok_sql)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(os_ledger_delta_ok(VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind),
									  PG_GETARG_INT64(1)));
}
