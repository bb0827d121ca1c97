/*
 * access.c
 *	  Member-scoped access: which member the calling role acts for.
 *
 * A login role granted order_system_member (by set_member_login) acts for
 * exactly one member, named in order_system.member_login: the API refuses
 * to place orders for anyone else (42501) and shows it nobody else's
 * orders, payments or points (row-level security and the functions' own
 * filters, "not found" for the rest).  Every other role (the app, the
 * gateway, operators) acts for any member.  The caller is the role the
 * session acts as (SET ROLE included), not the definer of the SECURITY
 * DEFINER function asking.
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

/*
 * The member the calling role acts for, 0 when it acts for any member.  A
 * member role linked to no member may do nothing: 42501.  The caller must be
 * connected to SPI.
 */
int64
os_caller_member(void)
{
	Oid			caller = GetOuterUserId();
	Oid			member_role = get_role_oid("order_system_member", true);
	int64		member_id;

	if (!OidIsValid(member_role) || !is_member_of_role_nosuper(caller, member_role))
		return 0;
	member_id = os_store_login_member(caller);
	if (member_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is a member role but acts for no member",
						GetUserNameFromId(caller, false)),
				 errhint("Link it with order_system.set_member_login.")));
	return member_id;
}

/* current_member_id(): the member the calling role acts for, NULL for any. */
OS_FUNCTION(os_current_member_id)
{
	int64		member_id;

	os_store_open();
	member_id = os_caller_member();
	os_store_close();
	if (member_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(member_id);
}

/*
 * require_writable(what): the same refusal for the PL/pgSQL functions that
 * write, as their first statement.
 */
OS_FUNCTION(os_require_writable_sql)
{
	os_require_writable(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
