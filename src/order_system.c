/*
 * order_system.c
 *	  Module load: settings (GUCs), the result-code to SQLSTATE mapping and
 *	  argument helpers shared by every SQL-callable wrapper.
 */
#include "order_system.h"

#include <limits.h>

#include "fmgr.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int			os_payment_timeout_s = 900;
int			os_bank_transfer_ttl_s = 3 * 24 * 3600;
int			os_points_earn_rate_bp = 100;
char	   *os_points_currency = NULL;
int			os_outbox_retention_s = 7 * 24 * 3600;
int			os_order_rate_per_min = 60;
int			os_order_burst = 30;
char	   *os_traceparent = NULL;
bool		os_direct_writes = true;

void		_PG_init(void);

static bool
check_currency(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || strlen(v) != 3 ||
		!(v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z' &&
		  v[2] >= 'A' && v[2] <= 'Z'))
	{
		GUC_check_errdetail("A currency is three upper-case letters (ISO 4217), like KRW.");
		return false;
	}
	return true;
}

/*
 * order_system.traceparent: a W3C Trace Context traceparent (version 00),
 * "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lower-case, ids
 * not all zero; empty means none.
 */
static bool
hex_field(const char *s, int len, bool nonzero)
{
	bool		any = false;

	for (int i = 0; i < len; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		any |= s[i] != '0';
	}
	return any || !nonzero;
}

static bool
check_traceparent(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0')
		return true;
	if (strlen(v) != OS_TRACEPARENT_LEN || v[2] != '-' || v[35] != '-' || v[52] != '-' ||
		!hex_field(v, 2, false) || !hex_field(v + 3, 32, false) ||
		!hex_field(v + 36, 16, false) || !hex_field(v + 53, 2, false))
	{
		GUC_check_errdetail("A traceparent is \"00-\" followed by a 32-digit trace id, \"-\", "
							"a 16-digit parent id, \"-\" and 2-digit flags, in lower-case hex.");
		return false;
	}
	if (strncmp(v, "00", 2) != 0)
	{
		GUC_check_errdetail("Only traceparent version 00 is supported.");
		return false;
	}
	if (!hex_field(v + 3, 32, true) || !hex_field(v + 36, 16, true))
	{
		GUC_check_errdetail("The trace id and the parent id must not be all zeros.");
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("order_system.payment_timeout",
							"How long a card payment may stay pending before the order expires.",
							NULL, &os_payment_timeout_s, 900, 1, OS_MAX_EXPIRY_S,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("order_system.bank_transfer_ttl",
							"How long a bank-transfer virtual account waits for the deposit.",
							NULL, &os_bank_transfer_ttl_s, 3 * 24 * 3600, 1, OS_MAX_EXPIRY_S,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("order_system.points_earn_rate",
							"Points earned on completion, in basis points of the amount paid outside points.",
							NULL, &os_points_earn_rate_bp, 100, 0, 10000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("order_system.points_currency",
							   "The currency whose minor unit one point is worth.",
							   NULL, &os_points_currency, "KRW",
							   PGC_SUSET, 0, check_currency, NULL, NULL);
	DefineCustomIntVariable("order_system.outbox_retention",
							"With no consumer registered, how long prune_outbox keeps events.",
							NULL, &os_outbox_retention_s, 7 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("order_system.order_rate_limit",
							"Orders a member may place per minute, sustained (0: no limit).",
							NULL, &os_order_rate_per_min, 60, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("order_system.order_burst",
							"Orders a member may place at once before the rate limit applies.",
							NULL, &os_order_burst, 30, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("order_system.traceparent",
							   "W3C traceparent the events written in this transaction carry.",
							   "Set it with SET LOCAL: \"00-<trace id>-<parent id>-<flags>\"; empty: none.",
							   &os_traceparent, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE, check_traceparent, NULL, NULL);

	/*
	 * Superuser-only: it exists so that an administrator can make every write
	 * go through the executor, where executor hooks (auditing, sharding
	 * extensions) see it; a session must not turn that back off.
	 */
	DefineCustomBoolVariable("order_system.direct_writes",
							 "Writes an order's rows, stock and events without a plan where the table allows it.",
							 "Off: every such write and read runs as an SQL statement through the executor.",
							 &os_direct_writes, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	os_notifier_init();
	os_metrics_init();
	MarkGUCPrefixReserved("order_system");
}

/*
 * The door every SQL-callable function goes through (OS_FUNCTION): the SQL
 * objects installed here must be the version this library was built for,
 * or the call fails with 55000 before it reads or writes anything (calls
 * from the extension's own scripts excepted: store/spi.c).  A function
 * that writes (OS_WRITER, writer: its name) is then refused where nothing
 * can be written.
 */
void
os_enter(FunctionCallInfo fcinfo, const char *writer)
{
	os_check_installed_version();
	if (writer != NULL)
		os_require_writable(writer);
}

/*
 * Refuse, with 25006, a call that writes where nothing can be written: on a
 * hot standby, which serves reads while every write goes to its primary,
 * or in a read-only transaction; and, with 55000, on a Citus worker once
 * the tables are distributed.  It runs before the call reads anything,
 * so the refusal never depends on the arguments.  On a standby the message
 * names the primary's host and port from primary_conninfo (nothing else of
 * it).
 */
void
os_require_writable(const char *what)
{
	char		server[256];

	if (RecoveryInProgress())
	{
		bool		named;

		named = PrimaryConnInfo != NULL &&
			os_conninfo_server(PrimaryConnInfo, server, sizeof server);

		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run %s on a standby server", what),
				 named ? errdetail("This server replays the primary at %s; writes go there.", server)
				 : errdetail("This server is a standby; writes go to its primary."),
				 errhint("Connect with target_session_attrs=read-write to reach the primary.")));
	}
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run %s in a read-only transaction", what)));
	os_store_require_coordinator(what);
}

int
os_sqlstate(os_result code)
{
	const char *s = os_result_lookup(code)->sqlstate;

	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

void
os_check(os_result code, const char *context)
{
	if (code == OS_OK || code == OS_NOOP)
		return;
	os_error(code, "%s: %s", context, os_result_lookup(code)->message);
}

/* Raise 22004 naming the first of the first nargs arguments that is NULL. */
void
os_require_args(FunctionCallInfo fcinfo, int nargs, const char *const *names)
{
	for (int i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			os_error(OS_ERR_NULL_VALUE, "%s must not be null", names[i]);
}

/* A text argument as a C string, rejecting more than maxlen characters. */
char *
os_text_arg(FunctionCallInfo fcinfo, int argno, const char *name, int maxlen)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return os_text_value(PG_GETARG_TEXT_PP(argno), name, maxlen);
}

/* A text value as a C string, rejecting more than maxlen characters. */
char *
os_text_value(text *t, const char *name, int maxlen)
{
	int			bytes = VARSIZE_ANY_EXHDR(t);

	if (bytes > maxlen &&
		(bytes > maxlen * MAX_MULTIBYTE_CHAR_LEN ||
		 pg_mbstrlen_with_len(VARDATA_ANY(t), bytes) > maxlen))
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long (at most %d characters)", name, maxlen)));
	return text_to_cstring(t);
}
