/*
 * payments.c
 *	  Payment strategies.  The registry table order_system.payment_method
 *	  maps a method name to a handler function.  Built-in handlers are C
 *	  planners of the core and are called directly; a handler registered in
 *	  SQL, PL/pgSQL or C is called through fmgr as its owner and returns its
 *	  plan as jsonb:
 *
 *	    {"points": 0, "external": 15000, "expires_in_seconds": 900,
 *	     "reference": "optional text"}
 */
#include "order_system.h"

#include <errno.h>

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

extern PGDLLEXPORT Datum os_pay_points(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum os_pay_card(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum os_pay_bank_transfer(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum os_pay_points_card(PG_FUNCTION_ARGS);

/* Which C entry point runs which core strategy. */
static const struct
{
	PGFunction	fn;
	const char *handler;
}			builtin_handlers[] = {
	{os_pay_points, "pay_points"},
	{os_pay_card, "pay_card"},
	{os_pay_bank_transfer, "pay_bank_transfer"},
	{os_pay_points_card, "pay_points_card"},
};

/* ------------------------------------------------------------ jsonb */

static JsonbValue *
jsonb_key(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), buf);
}

/*
 * An integer member: false if absent or null.  Anything else that is not an
 * integer in the bigint range raises code bad (22023 for arguments, OS013
 * for a handler's plan).
 */
bool
os_jsonb_get_int64(JsonbContainer *obj, const char *key, int64 *out, os_result bad)
{
	JsonbValue	buf;
	JsonbValue *v = jsonb_key(obj, key, &buf);
	char	   *s;
	char	   *digits;
	char	   *end;
	long long	n;

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		os_error(bad, "\"%s\" must be an integer", key);
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	digits = s + (s[0] == '-');
	if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
		os_error(bad, "\"%s\" must be an integer, not %s", key, s);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		os_error(bad, "\"%s\" is out of range: %s", key, s);
	*out = (int64) n;
	return true;
}

/* A string member, NULL if absent or null; code bad if not a string. */
char *
os_jsonb_get_str(JsonbContainer *obj, const char *key, os_result bad)
{
	JsonbValue	buf;
	JsonbValue *v = jsonb_key(obj, key, &buf);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		os_error(bad, "\"%s\" must be a string", key);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

Datum
os_plan_to_jsonb(const os_payment_plan *plan)
{
	os_json		j;

	os_json_begin(&j);
	os_json_int(&j, "points", plan->points_amount);
	os_json_int(&j, "external", plan->external_amount);
	os_json_int(&j, "expires_in_seconds", plan->expires_in_s);
	os_json_str(&j, "reference", plan->reference[0] ? plan->reference : NULL);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(os_json_end(&j))));
}

/* A handler's jsonb answer as a plan; OS_ERR_BAD_PAYMENT_PLAN if malformed. */
static void
plan_from_jsonb(Jsonb *jb, os_payment_plan *plan)
{
	int			known = 0;
	int64		v;
	char	   *ref;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		os_error(OS_ERR_BAD_PAYMENT_PLAN, "payment handler must return a jsonb object");
	if (os_jsonb_get_int64(&jb->root, "points", &v, OS_ERR_BAD_PAYMENT_PLAN))
		plan->points_amount = v, known++;
	if (os_jsonb_get_int64(&jb->root, "external", &v, OS_ERR_BAD_PAYMENT_PLAN))
		plan->external_amount = v, known++;
	if (os_jsonb_get_int64(&jb->root, "expires_in_seconds", &v, OS_ERR_BAD_PAYMENT_PLAN))
		plan->expires_in_s = v, known++;
	ref = os_jsonb_get_str(&jb->root, "reference", OS_ERR_BAD_PAYMENT_PLAN);
	if (ref != NULL)
	{
		if (strlen(ref) == 0 || strlen(ref) >= sizeof(plan->reference))
			os_error(OS_ERR_BAD_PAYMENT_PLAN,
					 "payment handler reference must be 1 to %d bytes",
					 (int) sizeof(plan->reference) - 1);
		if (os_virtual_account_valid(ref))
			os_error(OS_ERR_BAD_PAYMENT_PLAN,
					 "payment handler reference \"%s\" has the form of a bank-transfer virtual account", ref);
		strlcpy(plan->reference, ref, sizeof(plan->reference));
		known++;
	}
	if (known == 0 || (uint32) known < JsonContainerSize(&jb->root))
		os_error(OS_ERR_BAD_PAYMENT_PLAN,
				 "payment handler returned unknown keys, null values or no keys (allowed: points, external, expires_in_seconds, reference)");
}

/* -------------------------------------------------------- strategies */

static void
run_builtin(const char *handler, const os_payment_request *req,
			os_payment_plan *plan)
{
	const os_payment_strategy *s = os_strategy_by_handler(handler);
	os_result	r = s->plan(req, plan);

	if (r == OS_ERR_INVALID_PARAMETER)
		os_error(r, "payment method %s: payment_params.points must be between 0 and the order total",
				 s->name);
	if (r == OS_ERR_OVERFLOW)
		os_error(r, "payment method %s: order id " INT64_FORMAT " does not fit a virtual account",
				 s->name, req->order_id);
	os_check(r, s->name);
}

/*
 * Look a handler up and check its signature; returns its owner.  Checked at
 * every call as well as at registration, so that a registry row written by
 * hand can never make us call a function with the wrong arguments.
 */
static bool
handler_shape_ok(Oid handler, bool *exists, Oid *owner)
{
	HeapTuple	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	Form_pg_proc p;
	bool		ok;

	*exists = HeapTupleIsValid(tp);
	if (!*exists)
		return false;
	p = (Form_pg_proc) GETSTRUCT(tp);
	ok = p->prokind == PROKIND_FUNCTION && !p->proretset &&
		p->prorettype == JSONBOID && p->pronargs == 5 &&
		p->proargtypes.values[0] == INT8OID && p->proargtypes.values[1] == INT8OID &&
		p->proargtypes.values[2] == INT8OID && p->proargtypes.values[3] == TEXTOID &&
		p->proargtypes.values[4] == JSONBOID;
	*owner = p->proowner;
	ReleaseSysCache(tp);
	return ok;
}

static Oid
handler_owner(Oid handler)
{
	bool		exists;
	Oid			owner;
	bool		ok = handler_shape_ok(handler, &exists, &owner);

	if (!exists)
		os_error(OS_ERR_UNKNOWN_PAYMENT_METHOD, "payment handler %u does not exist", handler);
	if (!ok)
		os_error(OS_ERR_INVALID_PARAMETER,
				 "payment handler %s must be a function (bigint, bigint, bigint, text, jsonb) returning jsonb",
				 format_procedure(handler));
	return owner;
}

/* Call a registered (non built-in) handler with its owner's privileges. */
static void
run_registered(Oid handler, FmgrInfo *flinfo, const os_payment_request *req,
			   const char *currency, Jsonb *params, os_payment_plan *plan)
{
	LOCAL_FCINFO(call, 5);
	Oid			owner = handler_owner(handler);
	Oid			save_user;
	int			save_sec;
	Datum		result;

	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	InitFunctionCallInfoData(*call, flinfo, 5, InvalidOid, NULL, NULL);
	call->args[0].value = Int64GetDatum(req->order_id);
	call->args[1].value = Int64GetDatum(req->member_id);
	call->args[2].value = Int64GetDatum(req->amount);
	call->args[3].value = CStringGetTextDatum(currency);
	call->args[4].value = JsonbPGetDatum(params);
	for (int i = 0; i < 5; i++)
		call->args[i].isnull = false;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	result = FunctionCallInvoke(call);
	SetUserIdAndSecContext(save_user, save_sec);

	plan_from_jsonb(call->isnull ? NULL : DatumGetJsonbP(result), plan);
}

/* Run the strategy behind handler; the plan comes back checked. */
void
os_payment_run_strategy(Oid handler, const os_payment_request *req,
						const char *currency, Jsonb *params,
						os_payment_plan *plan)
{
	FmgrInfo	flinfo;
	os_result	r;
	bool		builtin = false;

	memset(plan, 0, sizeof(*plan));
	(void) handler_owner(handler);	/* exists, right shape: before fmgr looks */
	fmgr_info(handler, &flinfo);
	for (int i = 0; i < (int) lengthof(builtin_handlers) && !builtin; i++)
		if (flinfo.fn_addr == builtin_handlers[i].fn)
		{
			run_builtin(builtin_handlers[i].handler, req, plan);
			builtin = true;
		}
	if (!builtin)
		run_registered(handler, &flinfo, req, currency, params, plan);
	r = os_payment_plan_check(plan, req->amount);
	if (r != OS_OK)
		ereport(ERROR,
				(errcode(os_sqlstate(r)),
				 errmsg("invalid payment plan: points " INT64_FORMAT ", external " INT64_FORMAT
						", expires_in_seconds " INT64_FORMAT " for an order total of " INT64_FORMAT,
						plan->points_amount, plan->external_amount, plan->expires_in_s,
						req->amount),
				 errdetail("Parts must be non-negative and add up to the total; expiry must be 0 to %d seconds.",
						   OS_MAX_EXPIRY_S)));
}

/* The SQL face of a built-in handler, for inspection and composition. */
static Datum
builtin_handler_sql(FunctionCallInfo fcinfo, const char *handler)
{
	static const char *const names[] = {"order_id", "member_id", "amount", "currency"};
	os_payment_request req;
	os_payment_plan plan;
	Jsonb	   *params = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	int64		points = -1;

	os_require_args(fcinfo, 4, names);
	os_jsonb_get_int64(params ? &params->root : NULL, "points", &points,
					   OS_ERR_INVALID_PARAMETER);
	req.order_id = PG_GETARG_INT64(0);
	req.member_id = PG_GETARG_INT64(1);
	req.amount = PG_GETARG_INT64(2);
	req.points_requested = points;
	req.card_timeout_s = os_payment_timeout_s;
	req.bank_transfer_ttl_s = os_bank_transfer_ttl_s;
	if (req.amount < 0)
		os_error(OS_ERR_INVALID_PARAMETER, "amount must not be negative");
	memset(&plan, 0, sizeof(plan));
	run_builtin(handler, &req, &plan);
	PG_RETURN_DATUM(os_plan_to_jsonb(&plan));
}

OS_FUNCTION(os_pay_points)
{
	return builtin_handler_sql(fcinfo, "pay_points");
}

OS_FUNCTION(os_pay_card)
{
	return builtin_handler_sql(fcinfo, "pay_card");
}

OS_FUNCTION(os_pay_bank_transfer)
{
	return builtin_handler_sql(fcinfo, "pay_bank_transfer");
}

OS_FUNCTION(os_pay_points_card)
{
	return builtin_handler_sql(fcinfo, "pay_points_card");
}

/* ---------------------------------------------------------- registry */

/*
 * Only a handler's owner (or a superuser) may register it: this function is
 * SECURITY DEFINER, so the check is against the role that called it.
 */
static void
check_handler(Oid handler)
{
	if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(handler)))
		os_error(OS_ERR_INVALID_PARAMETER, "payment handler %u does not exist", handler);
	if (!os_compat_proc_ownercheck(handler, GetOuterUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of %s may register it as a payment handler",
						format_procedure(handler))));
	(void) handler_owner(handler);
}

/* register_payment_method(name, handler, description) */
OS_WRITER(os_register_payment_method)
{
	static const char *const names[] = {"name", "handler"};
	char	   *name;
	char	   *description;

	os_require_args(fcinfo, 2, names);
	name = os_text_arg(fcinfo, 0, "name", 63);
	description = os_text_arg(fcinfo, 2, "description", 1000);
	if (name[0] < 'a' || name[0] > 'z' ||
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
		os_error(OS_ERR_INVALID_PARAMETER,
				 "payment method name \"%s\" must be lower-case letters, digits and _", name);
	check_handler(PG_GETARG_OID(1));
	os_store_open();
	/* stored by name, as payment_handler_valid requires */
	os_store_insert_payment_method(name, PG_GETARG_OID(1), description);
	os_store_close();
	PG_RETURN_VOID();
}

/*
 * payment_handler_valid(handler text): the registry's CHECK rule.  The text
 * must name an existing function of the handler's shape, spelled exactly as
 * regprocedure prints it with search_path = pg_catalog, so that every
 * session resolves it to the same function and the per-backend cache of the
 * order path (src/store/payments.c) has one key per function.
 */
OS_FUNCTION(os_payment_handler_valid)
{
	char	   *handler = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			oid = os_store_payment_handler_oid(handler);
	bool		exists;
	Oid			owner;

	PG_RETURN_BOOL(OidIsValid(oid) && handler_shape_ok(oid, &exists, &owner) &&
				   strcmp(os_store_payment_handler_text(oid), handler) == 0);
}

/* set_payment_method_enabled(name, enabled) -> enabled */
OS_WRITER(os_set_payment_method_enabled)
{
	static const char *const names[] = {"name", "enabled"};
	char	   *name;

	os_require_args(fcinfo, 2, names);
	name = os_text_arg(fcinfo, 0, "name", 63);
	os_store_open();
	if (!os_store_set_payment_method_enabled(name, PG_GETARG_BOOL(1)))
		os_error(OS_ERR_UNKNOWN_PAYMENT_METHOD, "payment method \"%s\" does not exist", name);
	os_store_close();
	PG_RETURN_BOOL(PG_GETARG_BOOL(1));
}
