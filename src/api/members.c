/*
 * members.c
 *	  Members and their points: create, deactivate, adjust.  Every balance
 *	  change goes through os_points_apply, which writes the ledger row too.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

static os_stmt insert_member = OS_STMT(
									   "INSERT INTO order_system.member (name, email) VALUES ($1, $2) RETURNING id",
									   2, TEXTOID, TEXTOID);

static os_stmt lock_member = OS_STMT(
									 "SELECT active FROM order_system.member WHERE id = $1 FOR NO KEY UPDATE",
									 1, INT8OID);

static os_stmt deactivate_member = OS_STMT(
										   "UPDATE order_system.member SET active = false WHERE id = $1",
										   1, INT8OID);

static os_stmt apply_points = OS_STMT(
									  "UPDATE order_system.member SET points_balance = points_balance + $2"
									  " WHERE id = $1 AND points_balance + $2 >= 0 RETURNING points_balance",
									  2, INT8OID, INT8OID);

/*
 * Earnings and adjustments stop at OS_MAX_POINTS, so that refunding points
 * an order spent (uncapped) can never overflow a balance.
 */
#define OS_MAX_POINTS INT64CONST(1000000000000000)

static os_stmt apply_points_capped = OS_STMT(
											 "UPDATE order_system.member SET points_balance = points_balance + $2"
											 " WHERE id = $1 AND points_balance + $2 BETWEEN 0 AND $3 RETURNING points_balance",
											 3, INT8OID, INT8OID, INT8OID);

static os_stmt member_exists = OS_STMT(
									   "SELECT 1 FROM order_system.member WHERE id = $1",
									   1, INT8OID);

static os_stmt insert_ledger = OS_STMT(
									   "INSERT INTO order_system.points_ledger (member_id, order_id, kind, delta, reason)"
									   " VALUES ($1, $2, $3, $4, $5)",
									   5, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID);

/*
 * Add delta (may be negative) to a member's balance and write the ledger
 * row.  Returns false, changing nothing, when the balance would go below 0.
 * Raises OS_ERR_MEMBER_NOT_FOUND for an unknown member, and 22003 when an
 * earning or adjustment would lift the balance over OS_MAX_POINTS.
 */
bool
os_points_apply(int64 member_id, int64 order_id, const char *kind,
				int64 delta, const char *reason, int64 *balance)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		capped = strcmp(kind, "refund") != 0;

	values[0] = Int64GetDatum(member_id);
	values[1] = Int64GetDatum(delta);
	values[2] = Int64GetDatum(OS_MAX_POINTS);
	if (os_exec(capped ? &apply_points_capped : &apply_points, values, NULL, 1) == 0)
	{
		if (os_exec(&member_exists, values, NULL, 1) == 0)
			os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
		if (delta > 0)
			os_error(OS_ERR_OVERFLOW, "a points balance cannot exceed " INT64_FORMAT,
					 OS_MAX_POINTS);
		return false;
	}
	if (balance)
		*balance = os_getint64(0, 1);
	values[1] = Int64GetDatum(order_id);
	nulls[1] = order_id > 0 ? ' ' : 'n';
	values[2] = CStringGetTextDatum(kind);
	values[3] = Int64GetDatum(delta);
	values[4] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[4] = reason ? ' ' : 'n';
	os_exec(&insert_ledger, values, nulls, 0);
	return true;
}

static os_stmt lock_balance = OS_STMT(
									  "SELECT points_balance FROM order_system.member WHERE id = $1 FOR NO KEY UPDATE",
									  1, INT8OID);

/* Lock a member and return how many points it may still earn. */
int64
os_points_headroom(int64 member_id)
{
	Datum		v = Int64GetDatum(member_id);

	if (os_exec(&lock_balance, &v, NULL, 1) == 0)
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
	return Max(OS_MAX_POINTS - os_getint64(0, 1), 0);
}

/* create_member(name, email, initial_points) -> member id */
OS_FUNCTION(os_create_member)
{
	static const char *const names[] = {"name"};
	char	   *name;
	char	   *email;
	int64		initial = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	int64		id;
	os_json		payload;

	os_require_args(fcinfo, 1, names);
	name = os_text_arg(fcinfo, 0, "name", 200);
	email = os_text_arg(fcinfo, 1, "email", 320);
	if (name[0] == '\0')
		os_error(OS_ERR_INVALID_PARAMETER, "name must not be empty");
	if (email != NULL && (strlen(email) < 3 || strchr(email, '@') == NULL))
		os_error(OS_ERR_INVALID_PARAMETER, "email \"%s\" is not an e-mail address", email);
	if (initial < 0)
		os_error(OS_ERR_INVALID_PARAMETER, "initial_points must not be negative");

	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	values[1] = email ? CStringGetTextDatum(email) : (Datum) 0;
	nulls[1] = email ? ' ' : 'n';
	os_exec(&insert_member, values, nulls, 0);
	id = os_getint64(0, 1);
	if (initial > 0)
		os_points_apply(id, 0, "adjust", initial, "initial points", NULL);
	os_json_begin(&payload);
	os_json_int(&payload, "member_id", id);
	os_json_int(&payload, "points_balance", initial);
	os_emit_event("member.created", "member", id, os_json_end(&payload));
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* Lock a member row; raise not-found; return whether it is active. */
static bool
lock_member_row(int64 member_id)
{
	Datum		v = Int64GetDatum(member_id);
	bool		isnull;

	if (os_exec(&lock_member, &v, NULL, 1) == 0)
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
	return DatumGetBool(os_getattr(0, 1, &isnull));
}

/* deactivate_member(member_id) -> true if it was active, false if already not */
OS_FUNCTION(os_deactivate_member)
{
	static const char *const names[] = {"member_id"};
	int64		member_id;
	bool		was_active;
	os_json		payload;

	os_require_args(fcinfo, 1, names);
	member_id = PG_GETARG_INT64(0);
	SPI_connect();
	was_active = lock_member_row(member_id);
	if (was_active)
	{
		Datum		v = Int64GetDatum(member_id);

		os_exec(&deactivate_member, &v, NULL, 0);
		os_json_begin(&payload);
		os_json_int(&payload, "member_id", member_id);
		os_emit_event("member.deactivated", "member", member_id, os_json_end(&payload));
	}
	SPI_finish();
	PG_RETURN_BOOL(was_active);
}

/* adjust_points(member_id, delta, reason) -> new balance */
OS_FUNCTION(os_adjust_points)
{
	static const char *const names[] = {"member_id", "delta", "reason"};
	int64		member_id;
	int64		delta;
	char	   *reason;
	int64		balance;
	os_json		payload;

	os_require_args(fcinfo, 3, names);
	member_id = PG_GETARG_INT64(0);
	delta = PG_GETARG_INT64(1);
	reason = os_text_arg(fcinfo, 2, "reason", 1000);
	if (delta == 0)
		os_error(OS_ERR_INVALID_PARAMETER, "delta must not be zero");
	if (reason[0] == '\0')
		os_error(OS_ERR_INVALID_PARAMETER, "reason must not be empty");
	SPI_connect();
	lock_member_row(member_id);
	if (!os_points_apply(member_id, 0, "adjust", delta, reason, &balance))
		os_error(OS_ERR_INSUFFICIENT_POINTS,
				 "member " INT64_FORMAT " has too few points for an adjustment of " INT64_FORMAT,
				 member_id, delta);
	os_json_begin(&payload);
	os_json_int(&payload, "member_id", member_id);
	os_json_int(&payload, "delta", delta);
	os_json_int(&payload, "points_balance", balance);
	os_json_str(&payload, "reason", reason);
	os_emit_event("points.adjusted", "member", member_id, os_json_end(&payload));
	SPI_finish();
	PG_RETURN_INT64(balance);
}
