/*
 * members.c (store)
 *	  Members, their points and their logins: the statements and rows
 *	  behind the member operations of store.h.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

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

static os_stmt member_balance = OS_STMT(
										"SELECT points_balance FROM order_system.member WHERE id = $1",
										1, INT8OID);

static os_stmt insert_ledger = OS_STMT(
									   "INSERT INTO order_system.points_ledger (member_id, order_id, kind, delta, reason)"
									   " VALUES ($1, $2, $3, $4, $5)",
									   5, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID);

static os_stmt lock_balance = OS_STMT(
									  "SELECT points_balance FROM order_system.member WHERE id = $1 FOR NO KEY UPDATE",
									  1, INT8OID);

static os_stmt login_member = OS_STMT(
									  "SELECT member_id FROM order_system.member_login WHERE login = $1",
									  1, NAMEOID);

int64
os_store_insert_member(const char *name, const char *email)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = CStringGetTextDatum(name);
	values[1] = email ? CStringGetTextDatum(email) : (Datum) 0;
	nulls[1] = email ? ' ' : 'n';
	os_exec(&insert_member, values, nulls, 0);
	return os_getint64(0, 1);
}

bool
os_store_lock_member(int64 member_id, bool *active)
{
	Datum		v = Int64GetDatum(member_id);
	bool		isnull;

	if (os_exec(&lock_member, &v, NULL, 1) == 0)
		return false;
	*active = DatumGetBool(os_getattr(0, 1, &isnull));
	return true;
}

void
os_store_deactivate_member(int64 member_id)
{
	Datum		v = Int64GetDatum(member_id);

	os_exec(&deactivate_member, &v, NULL, 0);
}

bool
os_store_member_active(int64 member_id, bool *active)
{
	Datum		m[OS_MEMBER_NCOLS];
	bool		mnull[OS_MEMBER_NCOLS];

	if (!os_rows_read(OS_MEMBER, Int64GetDatum(member_id), m, mnull))
		return false;
	*active = DatumGetBool(m[OS_MEMBER_ACTIVE]);
	return true;
}

/*
 * The member's token bucket, taken as
 *   UPDATE member SET rate_tokens = <tokens left>,
 *     rate_at = GREATEST(rate_at, now()) WHERE id = member
 * would: a locked update, so concurrent orders of one member take their
 * tokens in turn; rate_at never moves back (an older transaction may come
 * later).
 */
typedef struct token_arg
{
	double		burst;
	double		per_s;
	double		left;
} token_arg;

static bool
take_token(Datum *cols, bool *nulls, void *arg)
{
	token_arg  *a = arg;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		never_used = nulls[OS_MEMBER_RATE_TOKENS] || nulls[OS_MEMBER_RATE_AT];
	double		elapsed = 0;

	if (!never_used)
		elapsed = (double) (now - DatumGetTimestampTz(cols[OS_MEMBER_RATE_AT])) / USECS_PER_SEC;
	a->left = os_rate_take(never_used ? 0 : DatumGetFloat8(cols[OS_MEMBER_RATE_TOKENS]),
						   never_used, elapsed, a->burst, a->per_s);
	cols[OS_MEMBER_RATE_TOKENS] = Float8GetDatum(a->left);
	cols[OS_MEMBER_RATE_AT] = TimestampTzGetDatum(nulls[OS_MEMBER_RATE_AT] ? now :
												  Max(DatumGetTimestampTz(cols[OS_MEMBER_RATE_AT]), now));
	nulls[OS_MEMBER_RATE_TOKENS] = nulls[OS_MEMBER_RATE_AT] = false;
	return true;
}

bool
os_store_take_order_token(int64 member_id, double burst, double per_s, double *left)
{
	os_rows		w;
	token_arg	a = {burst, per_s, 0};
	bool		found;

	os_rows_begin(&w);
	found = os_rows_update(&w, OS_MEMBER, member_id, take_token, &a);
	os_rows_end(&w);
	*left = a.left;
	return found;
}

int64
os_store_login_member(Oid login)
{
	Datum		v;

	v = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(login, false)));
	if (os_exec(&login_member, &v, NULL, 1) == 0)
		return 0;
	return os_getint64(0, 1);
}

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
	if (os_exec(capped ? &apply_points_capped : &apply_points, values, NULL, 0) == 0)
	{
		if (os_exec(&member_balance, values, NULL, 1) == 0)
			os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
		if (delta > 0)
			os_error(OS_ERR_OVERFLOW, "a points balance cannot exceed " INT64_FORMAT,
					 OS_MAX_POINTS);
		if (balance)
			*balance = os_getint64(0, 1);
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

/* Lock a member and return how many points it may still earn. */
int64
os_points_headroom(int64 member_id)
{
	Datum		v = Int64GetDatum(member_id);

	if (os_exec(&lock_balance, &v, NULL, 1) == 0)
		os_error(OS_ERR_MEMBER_NOT_FOUND, "member " INT64_FORMAT " not found", member_id);
	return Max(OS_MAX_POINTS - os_getint64(0, 1), 0);
}
