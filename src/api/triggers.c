/*
 * triggers.c
 *	  Trigger functions that connect an application's own tables to the
 *	  order system, configured by 'key=value' trigger arguments:
 *
 *	  emit_event()           AFTER INSERT/UPDATE/DELETE FOR EACH ROW: one
 *	                         domain event per changed row, written to the
 *	                         outbox in the same transaction;
 *	  place_order_trigger()  BEFORE INSERT FOR EACH ROW on a checkout table:
 *	                         places the order the row describes and writes
 *	                         its id and status into the row.
 *
 * Both are SECURITY DEFINER with a pinned search_path.  Turning the user's
 * row into JSON may run code the table's owner chose (a cast from their own
 * type to json), so that step runs as the table's owner, not as us.
 */
#include "order_system.h"

#include "access/htup_details.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* ------------------------------------------------------------ helpers */

/*
 * Split the trigger's 'key=value' arguments over the n known option names:
 * values[i] is the value of names[i], or NULL when it is not given.
 */
static void
parse_options(const Trigger *tg, const char *fn, const char *const *names, int n,
			  const char *hint, const char **values)
{
	for (int i = 0; i < n; i++)
		values[i] = NULL;
	for (int a = 0; a < tg->tgnargs; a++)
	{
		const char *arg = tg->tgargs[a];
		const char *eq = strchr(arg, '=');
		int			i;

		if (eq == NULL || eq == arg)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: trigger argument \"%s\" is not key=value", fn, arg),
					 errhint("%s", hint)));
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == (size_t) (eq - arg) &&
				strncmp(arg, names[i], eq - arg) == 0)
				break;
		if (i == n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: unknown option \"%.*s\"", fn, (int) (eq - arg), arg),
					 errhint("%s", hint)));
		if (values[i] != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"%s\" is given twice", fn, names[i])));
		if (eq[1] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"%s\" needs a value", fn, names[i])));
		values[i] = eq + 1;
	}
}

/* The extension's own tables take no user triggers (no event loops). */
static void
refuse_own_table(Relation rel, const char *fn)
{
	char	   *nsp = get_namespace_name(RelationGetNamespace(rel));

	if (nsp != NULL && strcmp(nsp, "order_system") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is for the application's tables, not order_system.%s",
						fn, RelationGetRelationName(rel))));
}

/* The column's number, or 0 when it does not exist (system columns neither). */
static int
column_number(TupleDesc desc, const char *name)
{
	int			attno = SPI_fnumber(desc, name);

	return attno > 0 ? attno : 0;
}

static int
column_required(Relation rel, const char *fn, const char *name, const char *option)
{
	int			attno = column_number(RelationGetDescr(rel), name);

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: table \"%s\" has no column \"%s\" (option %s)",
						fn, RelationGetRelationName(rel), name, option)));
	return attno;
}

static Oid
column_base_type(TupleDesc desc, int attno)
{
	return getBaseType(TupleDescAttr(desc, attno - 1)->atttypid);
}

static bool
is_integer_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

static int64
integer_value(Datum d, Oid type)
{
	return type == INT2OID ? DatumGetInt16(d) :
		type == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);
}

static void
bad_column_type(Relation rel, const char *fn, int attno, const char *want)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attno - 1);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: column \"%s\" of table \"%s\" is %s, not %s", fn,
					NameStr(att->attname), RelationGetRelationName(rel),
					format_type_be(att->atttypid), want)));
}

/* ------------------------------------------------------------ emit_event */

enum
{
	OP_INSERT, OP_UPDATE, OP_DELETE
};
static const char *const op_names[] = {"insert", "update", "delete"};

/*
 * Names the extension's own events use: user events must not pose as them.
 * Aggregates are reserved by name; event types by namespace, the part before
 * the first dot of every type the extension emits (member.created,
 * points.adjusted, product.*, order.*, payment.*), so that no user event
 * matches a consumer's filter such as event_type LIKE 'payment.%'.
 */
static const char *const reserved_aggregates[] = {"member", "product", "order", NULL};
static const char *const reserved_namespaces[] = {"member", "points", "product", "order",
"payment", NULL};

/* One trigger's parsed options, kept for the statement (fn_extra). */
typedef struct emit_config
{
	Oid			tgoid;
	Oid			relid;
	char	   *aggregate;
	char	   *event_types[3];
	int			key;			/* attno of the aggregate id */
	Oid			key_type;
	int			ncols;
	AttrNumber *cols;			/* the payload's columns, in table order */
	TupleDesc	row_desc;		/* blessed: just those columns */
	TupleDesc	outer_desc[3];	/* blessed: op, then new and/or old */
} emit_config;

static const char *const emit_options[] = {"aggregate", "type", "key", "cols", "ignore"};
#define EMIT_HINT "emit_event options are aggregate=, type=, key=, cols= and ignore=."

static void
check_name(const char *fn, const char *option, const char *value,
		   const char *const *reserved)
{
	size_t		len = strlen(value);

	if (len > NAMEDATALEN - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s \"%s\" is longer than %d bytes", fn, option, value,
						NAMEDATALEN - 1)));
	/* " order" would pass for "order" with a consumer that trims */
	if (len > 0 && (isspace((unsigned char) value[0]) || isspace((unsigned char) value[len - 1])))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s \"%s\" begins or ends with white space", fn, option, value)));
	/* compared without regard to case, as the type namespaces are */
	for (int i = 0; reserved[i] != NULL; i++)
		if (pg_strcasecmp(value, reserved[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: %s \"%s\" is reserved for order_system's own events",
							fn, option, value),
					 errhint("Name another with the %s= option.", option)));
}

/*
 * The type prefix must lie outside the reserved namespaces: neither one of
 * them nor below one ("payment" and "payment.requested" alike), compared
 * without regard to case.
 */
static void
check_type_prefix(const char *fn, const char *prefix)
{
	for (int i = 0; reserved_namespaces[i] != NULL; i++)
	{
		size_t		len = strlen(reserved_namespaces[i]);

		if (pg_strncasecmp(prefix, reserved_namespaces[i], len) == 0 &&
			(prefix[len] == '\0' || prefix[len] == '.'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: type \"%s\" is in the namespace \"%s\", reserved for order_system's own events",
							fn, prefix, reserved_namespaces[i]),
					 errhint("Name another with the type= option.")));
	}
}

/* Mark the columns of a comma-separated list (spaces around names ignored). */
static void
mark_columns(Relation rel, const char *fn, const char *option, const char *list,
			 bool *marked)
{
	char	   *copy = pstrdup(list);
	char	   *p = copy;

	for (;;)
	{
		char	   *end = strchr(p, ',');
		char	   *last;

		if (end != NULL)
			*end = '\0';
		while (*p == ' ')
			p++;
		last = p + strlen(p);
		while (last > p && last[-1] == ' ')
			*--last = '\0';
		if (*p == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option %s= has an empty column name", fn, option)));
		marked[column_required(rel, fn, p, option) - 1] = true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	pfree(copy);
}

static TupleDesc
outer_desc(bool with_new, bool with_old)
{
	TupleDesc	d = CreateTemplateTupleDesc(1 + with_new + with_old);
	int			i = 1;

	TupleDescInitEntry(d, i++, "op", TEXTOID, -1, 0);
	if (with_new)
		TupleDescInitEntry(d, i++, "new", RECORDOID, -1, 0);
	if (with_old)
		TupleDescInitEntry(d, i++, "old", RECORDOID, -1, 0);
	return BlessTupleDesc(d);
}

/* For a partition, the partitioned table at the top (what users name). */
static char *
aggregate_default(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (rel->rd_rel->relispartition)
		relid = llast_oid(get_partition_ancestors(relid));
	return get_rel_name(relid);
}

static emit_config *
emit_config_build(TriggerData *td)
{
	const char *fn = "emit_event";
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	const char *opt[lengthof(emit_options)];
	emit_config *cfg = palloc0(sizeof(emit_config));
	bool	   *in = palloc0(sizeof(bool) * desc->natts);
	const char *prefix;

	refuse_own_table(rel, fn);
	parse_options(td->tg_trigger, fn, emit_options, lengthof(emit_options), EMIT_HINT, opt);
	cfg->tgoid = td->tg_trigger->tgoid;
	cfg->relid = RelationGetRelid(rel);

	cfg->aggregate = opt[0] ? pstrdup(opt[0]) : aggregate_default(rel);
	check_name(fn, "aggregate", cfg->aggregate, reserved_aggregates);
	prefix = opt[1] ? opt[1] : cfg->aggregate;
	check_name(fn, "type", prefix, reserved_namespaces);
	check_type_prefix(fn, prefix);
	for (int op = OP_INSERT; op <= OP_DELETE; op++)
		cfg->event_types[op] = psprintf("%s.%s", prefix, op_names[op]);

	cfg->key = column_required(rel, fn, opt[2] ? opt[2] : "id", "key");
	cfg->key_type = column_base_type(desc, cfg->key);
	if (!is_integer_type(cfg->key_type))
		bad_column_type(rel, fn, cfg->key, "an integer type (the aggregate id)");

	if (opt[3] && opt[4])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: options cols= and ignore= exclude each other", fn),
				 errhint("List the payload's columns with cols=, or leave some out with ignore=.")));
	if (opt[3])
		mark_columns(rel, fn, "cols", opt[3], in);
	else
	{
		if (opt[4])
			mark_columns(rel, fn, "ignore", opt[4], in);
		for (int i = 0; i < desc->natts; i++)
			in[i] = !in[i] && !TupleDescAttr(desc, i)->attisdropped;
	}

	cfg->cols = palloc(sizeof(AttrNumber) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
		if (in[i])
			cfg->cols[cfg->ncols++] = i + 1;
	cfg->row_desc = CreateTemplateTupleDesc(cfg->ncols);
	for (int i = 0; i < cfg->ncols; i++)
		TupleDescCopyEntry(cfg->row_desc, i + 1, desc, cfg->cols[i]);
	cfg->row_desc = BlessTupleDesc(cfg->row_desc);
	cfg->outer_desc[OP_INSERT] = outer_desc(true, false);
	cfg->outer_desc[OP_UPDATE] = outer_desc(true, true);
	cfg->outer_desc[OP_DELETE] = outer_desc(false, true);
	pfree(in);
	return cfg;
}

/* The trigger's options, parsed at its first firing in a statement. */
static emit_config *
emit_config_get(FunctionCallInfo fcinfo, TriggerData *td)
{
	emit_config *cfg = fcinfo->flinfo->fn_extra;
	MemoryContext old;

	if (cfg != NULL && cfg->tgoid == td->tg_trigger->tgoid &&
		cfg->relid == RelationGetRelid(td->tg_relation))
		return cfg;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cfg = emit_config_build(td);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cfg;
	return cfg;
}

/* Did the update change the aggregate id or any payload column? */
static bool
row_changed(const emit_config *cfg, TupleDesc desc, HeapTuple old, HeapTuple new)
{
	for (int i = -1; i < cfg->ncols; i++)
	{
		int			attno = i < 0 ? cfg->key : cfg->cols[i];
		Form_pg_attribute att = TupleDescAttr(desc, attno - 1);
		bool		null1,
					null2;
		Datum		d1 = heap_getattr(old, attno, desc, &null1);
		Datum		d2 = heap_getattr(new, attno, desc, &null2);

		if (null1 != null2 ||
			(!null1 && !datum_image_eq(d1, d2, att->attbyval, att->attlen)))
			return true;
	}
	return false;
}

/* The payload's columns of tuple, as a composite datum. */
static Datum
payload_row(const emit_config *cfg, TupleDesc desc, HeapTuple tuple)
{
	Datum	   *all = palloc(sizeof(Datum) * desc->natts);
	bool	   *allnull = palloc(sizeof(bool) * desc->natts);
	Datum	   *v = palloc(sizeof(Datum) * (cfg->ncols + 1));
	bool	   *n = palloc(sizeof(bool) * (cfg->ncols + 1));

	heap_deform_tuple(tuple, desc, all, allnull);
	for (int i = 0; i < cfg->ncols; i++)
	{
		v[i] = all[cfg->cols[i] - 1];
		n[i] = allnull[cfg->cols[i] - 1];
	}
	return HeapTupleGetDatum(heap_form_tuple(cfg->row_desc, v, n));
}

/* {"op": ..., "new": {...}, "old": {...}}, built by the server's row_to_json. */
static text *
payload_json(const emit_config *cfg, Relation rel, int op, HeapTuple old, HeapTuple new)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum		v[3];
	bool		n[3] = {false, false, false};
	int			i = 0;
	Oid			save_user;
	int			save_sec;
	Datum		json;

	v[i++] = CStringGetTextDatum(op_names[op]);
	if (new != NULL)
		v[i++] = payload_row(cfg, desc, new);
	if (old != NULL)
		v[i++] = payload_row(cfg, desc, old);

	/* A cast to json of the owner's type is the owner's code: run it as them. */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	json = DirectFunctionCall1(row_to_json,
							   HeapTupleGetDatum(heap_form_tuple(cfg->outer_desc[op], v, n)));
	SetUserIdAndSecContext(save_user, save_sec);
	return DatumGetTextPP(json);
}

OS_FUNCTION(os_emit_event_trigger)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	emit_config *cfg;
	TupleDesc	desc;
	HeapTuple	old = NULL,
				new = NULL;
	int			op;
	bool		isnull;
	Datum		key;
	text	   *payload;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("emit_event must be an AFTER INSERT, UPDATE or DELETE trigger FOR EACH ROW")));
	/* on a Citus worker (a shard's trigger) the event would go to its outbox */
	os_store_require_coordinator("emit_event");
	cfg = emit_config_get(fcinfo, td);
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = OP_INSERT;
		new = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = OP_UPDATE;
		old = td->tg_trigtuple;
		new = td->tg_newtuple;
		if (!row_changed(cfg, desc, old, new))
			return PointerGetDatum(NULL);
	}
	else
	{
		op = OP_DELETE;
		old = td->tg_trigtuple;
	}

	key = heap_getattr(op == OP_DELETE ? old : new, cfg->key, desc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("emit_event: key column \"%s\" of table \"%s\" is null",
						NameStr(TupleDescAttr(desc, cfg->key - 1)->attname),
						RelationGetRelationName(td->tg_relation))));
	payload = payload_json(cfg, td->tg_relation, op, old, new);

	os_store_open();
	os_emit_event(cfg->event_types[op], cfg->aggregate,
				  integer_value(key, cfg->key_type), payload);
	os_store_close();
	return PointerGetDatum(NULL);
}

/* --------------------------------------------------- place_order_trigger */

enum
{
	PO_MEMBER, PO_LINES, PO_METHOD, PO_KEY, PO_PARAMS, PO_ORDER_ID, PO_STATUS, PO_N
};
static const char *const po_options[PO_N] = {
	"member_id", "lines", "payment_method", "idempotency_key", "payment_params",
	"order_id", "status"
};
static const char *const po_defaults[PO_N] = {
	"member_id", "lines", "payment_method", "idempotency_key", "payment_params",
	"order_id", "order_status"
};

/* Without these (when not named explicitly) the trigger has no use. */
static const bool po_required[PO_N] = {true, true, true, false, false, true, false};

#define PO_HINT "place_order_trigger options are member_id=, lines=, payment_method=, " \
	"idempotency_key=, payment_params=, order_id= and status= (column names)."

/* Where each value comes from or goes: attnos, 0 for an absent optional column. */
static void
po_columns(TriggerData *td, int *attno)
{
	const char *fn = "place_order_trigger";
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	const char *opt[PO_N];

	refuse_own_table(rel, fn);
	parse_options(td->tg_trigger, fn, po_options, PO_N, PO_HINT, opt);
	for (int i = 0; i < PO_N; i++)
	{
		const char *name = opt[i] ? opt[i] : po_defaults[i];
		Oid			type;

		attno[i] = column_number(desc, name);
		if (attno[i] == 0)
		{
			if (opt[i] != NULL || po_required[i])
				column_required(rel, fn, name, po_options[i]);
			continue;
		}
		type = column_base_type(desc, attno[i]);
		switch (i)
		{
			case PO_MEMBER:
				if (!is_integer_type(type))
					bad_column_type(rel, fn, attno[i], "an integer type");
				break;
			case PO_LINES:
			case PO_PARAMS:
				if (type != JSONBOID && type != JSONOID)
					bad_column_type(rel, fn, attno[i], "jsonb or json");
				break;
			case PO_METHOD:
			case PO_KEY:
				if (type != TEXTOID && type != VARCHAROID)
					bad_column_type(rel, fn, attno[i], "text or varchar");
				break;
			default:

				/*
				 * Nothing checks what a BEFORE trigger writes against a
				 * domain or a length limit, and generated columns are
				 * computed after it: plain bigint and text only.
				 */
				if (TupleDescAttr(desc, attno[i] - 1)->attgenerated)
					bad_column_type(rel, fn, attno[i], "a plain column (it is generated)");
				if (TupleDescAttr(desc, attno[i] - 1)->atttypid !=
					(i == PO_ORDER_ID ? INT8OID : TEXTOID))
					bad_column_type(rel, fn, attno[i], i == PO_ORDER_ID ? "bigint" : "text");
				break;
		}
	}
}

/* The column's value; NULL (and an error if required) when it is null. */
static Datum
po_value(TriggerData *td, int attno, const char *what, bool required, bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	Datum		d;

	*isnull = true;
	if (attno == 0)
		return (Datum) 0;
	d = heap_getattr(td->tg_trigtuple, attno, desc, isnull);
	if (*isnull && required)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order_trigger: column \"%s\" (%s) must not be null",
						NameStr(TupleDescAttr(desc, attno - 1)->attname), what)));
	return d;
}

static Jsonb *
po_jsonb(TriggerData *td, int attno, const char *what, bool required)
{
	bool		isnull;
	Datum		d = po_value(td, attno, what, required, &isnull);

	if (isnull)
		return NULL;
	if (column_base_type(RelationGetDescr(td->tg_relation), attno) == JSONOID)
		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(TextDatumGetCString(d)));
	return DatumGetJsonbP(d);
}

static text *
po_text(TriggerData *td, int attno, const char *what, bool required)
{
	bool		isnull;
	Datum		d = po_value(td, attno, what, required, &isnull);

	return isnull ? NULL : DatumGetTextPP(d);
}

OS_FUNCTION(os_place_order_trigger)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int			attno[PO_N];
	bool		isnull;
	Datum		member;
	Jsonb	   *lines,
			   *params;
	text	   *method,
			   *key;
	const char *status;
	bool		replayed;
	int			cols[2];
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			n = 0;
	MemoryContext caller = CurrentMemoryContext;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("place_order_trigger must be a BEFORE INSERT trigger FOR EACH ROW")));
	os_store_require_coordinator("place_order_trigger");
	po_columns(td, attno);
	member = po_value(td, attno[PO_MEMBER], "member_id", true, &isnull);
	lines = po_jsonb(td, attno[PO_LINES], "lines", true);
	method = po_text(td, attno[PO_METHOD], "payment_method", true);
	key = po_text(td, attno[PO_KEY], "idempotency_key", false);
	params = po_jsonb(td, attno[PO_PARAMS], "payment_params", false);

	os_store_open();
	values[0] = Int64GetDatum(os_place_order_values(
													integer_value(member, column_base_type(RelationGetDescr(td->tg_relation),
																						   attno[PO_MEMBER])),
													lines, method, key, params, &status, &replayed));
	cols[n++] = attno[PO_ORDER_ID];
	if (attno[PO_STATUS] != 0)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		values[n] = CStringGetTextDatum(status);
		cols[n++] = attno[PO_STATUS];
		MemoryContextSwitchTo(spi);
	}
	os_store_close();
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_trigtuple,
													 RelationGetDescr(td->tg_relation),
													 n, cols, values, nulls));
}
