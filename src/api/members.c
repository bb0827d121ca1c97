/*
 * members.c
 *	  Members and their points: create, deactivate, adjust.  Every balance
 *	  change goes through os_points_apply (store), which writes the ledger
 *	  row too.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

/* create_member(name, email, initial_points) -> member id */
OS_WRITER(os_create_member)
{
	static const char *const names[] = {"name"};
	char	   *name;
	char	   *email;
	int64		initial = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
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

	os_store_open();
	id = os_store_insert_member(name, email);
	if (initial > 0)
		os_points_apply(id, 0, "adjust", initial, "initial points", NULL);
	os_json_begin(&payload);
	os_json_int(&payload, "member_id", id);
	os_json_int(&payload, "points_balance", initial);
	os_emit_event("member.created", "member", id, os_json_end(&payload));
	os_store_close();
	PG_RETURN_INT64(id);
}

/* Lock a member row; raise not-found; return whether it is active. */
static bool
lock_member_row(int64 member_id)
{
	bool		active;

	if (!os_store_lock_member(member_id, &active))
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
	return active;
}

/* deactivate_member(member_id) -> true if it was active, false if already not */
OS_WRITER(os_deactivate_member)
{
	static const char *const names[] = {"member_id"};
	int64		member_id;
	bool		was_active;
	os_json		payload;

	os_require_args(fcinfo, 1, names);
	member_id = PG_GETARG_INT64(0);
	os_store_open();
	was_active = lock_member_row(member_id);
	if (was_active)
	{
		os_store_deactivate_member(member_id);
		os_json_begin(&payload);
		os_json_int(&payload, "member_id", member_id);
		os_emit_event("member.deactivated", "member", member_id, os_json_end(&payload));
	}
	os_store_close();
	PG_RETURN_BOOL(was_active);
}

/* adjust_points(member_id, delta, reason) -> new balance */
OS_WRITER(os_adjust_points)
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
	os_store_open();
	lock_member_row(member_id);
	if (!os_points_apply(member_id, 0, "adjust", delta, reason, &balance))
		os_raise_insufficient_points(member_id, balance, delta,
									 psprintf("member " INT64_FORMAT " has too few points for an adjustment of " INT64_FORMAT,
											  member_id, delta));
	os_json_begin(&payload);
	os_json_int(&payload, "member_id", member_id);
	os_json_int(&payload, "delta", delta);
	os_json_int(&payload, "points_balance", balance);
	os_json_str(&payload, "reason", reason);
	os_emit_event("points.adjusted", "member", member_id, os_json_end(&payload));
	os_store_close();
	PG_RETURN_INT64(balance);
}
