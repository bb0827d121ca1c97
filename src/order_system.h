/*
 * order_system.h
 *	  Shared declarations of the extension's fmgr wrappers (the adapters
 *	  around the pure-C core in core/os_core.h).
 */
#ifndef ORDER_SYSTEM_H
#define ORDER_SYSTEM_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/execnodes.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/jsonb.h"

#include "compat.h"
#include "core/os_core.h"

/* ------------------------------------------------------------- settings */

extern int	os_payment_timeout_s;
extern int	os_bank_transfer_ttl_s;
extern int	os_points_earn_rate_bp;
extern char *os_points_currency;
extern int	os_outbox_retention_s;
extern int	os_order_rate_per_min;
extern int	os_order_burst;
extern bool os_direct_writes;
extern char *os_traceparent;

/* A traceparent's length: "00-" 32 "-" 16 "-" 2 */
#define OS_TRACEPARENT_LEN 55

/* --------------------------------------------------------------- errors */

extern int	os_sqlstate(os_result code);

/* ereport(ERROR) with the SQLSTATE the core assigns to code. */
#define os_error(code, ...) \
	ereport(ERROR, (errcode(os_sqlstate(code)), errmsg(__VA_ARGS__)))

/* Raise code with its default message unless it is OS_OK or OS_NOOP. */
extern void os_check(os_result code, const char *context);

/*
 * Domain errors with a JSON DETAIL (api/errors.c); README's error table
 * documents each object.  Each raises ERROR: it does not return.
 */
extern void os_raise_out_of_stock(int64 product_id, int64 available,
								  int64 requested, bool flash_sale);
extern void os_raise_insufficient_points(int64 member_id, int64 balance,
										 int64 delta, const char *message);
extern void os_raise_illegal_transition(int64 order_id, os_state status,
										os_event ev);
extern void os_raise_idempotency_conflict(const char *key, int64 order_id);
extern void os_raise_rate_limited(int64 member_id, double retry_after_s,
								  int burst, int per_minute);

/* Argument helpers: a clear 22004 for a NULL the function cannot take. */
extern void os_require_args(FunctionCallInfo fcinfo, int nargs,
							const char *const *names);
extern char *os_text_arg(FunctionCallInfo fcinfo, int argno,
						 const char *name, int maxlen);
extern char *os_text_value(text *t, const char *name, int maxlen);

/* ----------------------------------------------------------------- door */

/*
 * Every SQL-callable function of the library is defined with OS_FUNCTION,
 * which passes the call through os_enter() before the body runs:
 *
 *	OS_FUNCTION(os_place_order)
 *	{
 *		...
 *	}
 */
extern void os_enter(FunctionCallInfo fcinfo, const char *writer);
extern void os_check_installed_version(void);
extern void os_recheck_installed_version(void);

/*
 * A function that writes is defined with OS_WRITER instead: past the door
 * it refuses with 25006, before it reads its arguments, to run on a hot
 * standby or in a read-only transaction (os_require_writable).  The name
 * in the message is the C name without its "os_".
 */
extern void os_require_writable(const char *what);

#define OS_ENTRY_POINT(name, writer) \
	static Datum name##_body(FunctionCallInfo fcinfo); \
	PG_FUNCTION_INFO_V1(name); \
	Datum \
	name(PG_FUNCTION_ARGS) \
	{ \
		os_enter(fcinfo, (writer)); \
		return name##_body(fcinfo); \
	} \
	static Datum \
	name##_body(FunctionCallInfo fcinfo)

#define OS_FUNCTION(name) OS_ENTRY_POINT(name, NULL)
#define OS_WRITER(name) OS_ENTRY_POINT(name, &(#name)[3])

/* ------------------------------------------------------------------ SPI */

/* A statement prepared once per backend and kept (SPI_keepplan). */
typedef struct os_stmt
{
	const char *sql;
	int			nargs;
	Oid			argtypes[24];
	SPIPlanPtr	plan;
	int			cursor_options; /* CURSOR_OPT_GENERIC_PLAN: never replan */
} os_stmt;

/* OS_STMT(sql, nargs, argtype, ...): a statement, prepared on first use. */
#define OS_STMT(sql, nargs, ...) {(sql), (nargs), {__VA_ARGS__}, NULL, 0}
/* The same with its generic plan from the start (range scans on values). */
#define OS_STMT_GENERIC(sql, nargs, ...) \
	{(sql), (nargs), {__VA_ARGS__}, NULL, CURSOR_OPT_GENERIC_PLAN}

extern int	os_exec(os_stmt *stmt, Datum *values, const char *nulls, long count);
extern void os_exec_to(os_stmt *stmt, const Datum *values, DestReceiver *dest);
extern Datum os_getattr(int row, int col, bool *isnull);
extern int64 os_getint64(int row, int col);
extern char *os_getstr(int row, int col);

/* ---------------------------------------------------------------- access */

extern int64 os_caller_member(void);

/* --------------------------------------------------------------- events */

#define OS_EVENTS_CHANNEL "order_system_events"

extern void os_notifier_init(void);
extern void os_note_event(void);

/* An event payload (a JSON object, as text) under construction. */
#define OS_JSON_MAX_DEPTH 8
typedef struct os_json
{
	StringInfoData buf;
	int			depth;			/* of the innermost open object or array */
	bool		first[OS_JSON_MAX_DEPTH];	/* nothing in it yet */
} os_json;

extern void os_json_begin(os_json *j);
extern void os_json_int(os_json *j, const char *key, int64 value);
extern void os_json_str(os_json *j, const char *key, const char *value);
extern void os_json_raw(os_json *j, const char *key, const char *json);
extern void os_json_open(os_json *j, const char *key, bool array);
extern void os_json_close(os_json *j, bool array);
extern text *os_json_end(os_json *j);
extern void os_emit_event(const char *event_type, const char *aggregate_type,
						  int64 aggregate_id, text *payload);
extern Datum os_trace_context(bool *isnull);

/* ----------------------------------------------------------------- rows */

/*
 * Rows written and read without a plan (store/rows.c).  Each table's values
 * come in the order of its column list there, named here; every column not
 * supplied gets its default.  Where the table needs the executor (rules,
 * statement-level or transition-table triggers, not a plain table) or
 * order_system.direct_writes is off, the same functions run the equivalent
 * SQL statements instead.
 */
typedef enum os_table_id
{
	OS_ORDERS,
	OS_ORDER_LINE,
	OS_PAYMENT,
	OS_OUTBOX,
	OS_PRODUCT,					/* updated */
	OS_MEMBER,					/* updated */
	OS_PAYMENT_METHOD,			/* read by its text key */
	OS_NTABLES
} os_table_id;

enum
{
	OS_ORDERS_ID, OS_ORDERS_MEMBER_ID, OS_ORDERS_STATUS, OS_ORDERS_CURRENCY,
	OS_ORDERS_TOTAL_AMOUNT, OS_ORDERS_PAYMENT_METHOD, OS_ORDERS_IDEMPOTENCY_KEY,
	OS_ORDERS_REQUEST_FINGERPRINT, OS_ORDERS_NCOLS
};
enum
{
	OS_ORDER_LINE_ORDER_ID, OS_ORDER_LINE_PRODUCT_ID, OS_ORDER_LINE_QUANTITY,
	OS_ORDER_LINE_UNIT_PRICE, OS_ORDER_LINE_AMOUNT, OS_ORDER_LINE_BUCKET,
	OS_ORDER_LINE_MEMBER_ID, OS_ORDER_LINE_NCOLS
};
enum
{
	OS_PAYMENT_ID, OS_PAYMENT_ORDER_ID, OS_PAYMENT_METHOD_NAME, OS_PAYMENT_AMOUNT,
	OS_PAYMENT_POINTS_AMOUNT, OS_PAYMENT_EXTERNAL_AMOUNT, OS_PAYMENT_STATUS,
	OS_PAYMENT_REFERENCE, OS_PAYMENT_EXPIRES_AT, OS_PAYMENT_MEMBER_ID, OS_PAYMENT_NCOLS
};
enum
{
	OS_OUTBOX_EVENT_TYPE, OS_OUTBOX_AGGREGATE_TYPE, OS_OUTBOX_AGGREGATE_ID,
	OS_OUTBOX_PAYLOAD, OS_OUTBOX_TRACE_CONTEXT, OS_OUTBOX_NCOLS
};

/* stock_available and stock_reserved may be changed by an update */
enum
{
	OS_PRODUCT_ACTIVE, OS_PRODUCT_STOCK_AVAILABLE, OS_PRODUCT_STOCK_RESERVED,
	OS_PRODUCT_FLASH_BUCKETS, OS_PRODUCT_PRICE, OS_PRODUCT_CURRENCY, OS_PRODUCT_NCOLS
};

/* rate_tokens and rate_at may be changed by an update */
enum
{
	OS_MEMBER_RATE_TOKENS, OS_MEMBER_RATE_AT, OS_MEMBER_ACTIVE, OS_MEMBER_NCOLS
};
enum
{
	OS_PAYMENT_METHOD_HANDLER, OS_PAYMENT_METHOD_ENABLED, OS_PAYMENT_METHOD_NCOLS
};

/* One batch of writes: an executor state and each table opened once. */
typedef struct os_rows
{
	struct EState *estate;
	List	   *rtable;
	struct ResultRelInfo *rri[OS_NTABLES];
	struct TupleTableSlot *slot[OS_NTABLES];	/* the row to write */
	struct TupleTableSlot *found[OS_NTABLES];	/* the row to update */
	EPQState	epq;			/* for BEFORE UPDATE row triggers */
	bool		epq_ready;
	bool		sql[OS_NTABLES];	/* written by SQL statements instead */
} os_rows;

/*
 * os_rows_update's test and change of a row: cols and nulls hold the
 * columns of the table's list (rows.c), in its order; return false to leave
 * the row as it is, or change the columns the list marks as changeable and
 * return true.  Called again on the row's newer version when the lock finds
 * one; values it keeps must be copied (they point into the table's page).
 */
typedef bool (*os_row_change) (Datum *cols, bool *nulls, void *arg);

/*
 * os_rows_update: UPDATE table t (product or member) SET <change> WHERE
 * id = key AND <change's test>; false when no row was written (no such
 * row, the test failed, its id changed meanwhile, or a BEFORE trigger
 * skipped it).
 */

extern void os_rows_begin(os_rows *w);
extern void os_rows_insert(os_rows *w, os_table_id t, const Datum *values,
						   const bool *nulls);
extern bool os_rows_update(os_rows *w, os_table_id t, int64 key,
						   os_row_change change, void *arg);
extern void os_rows_end(os_rows *w);

/*
 * os_rows_read: SELECT <the table's columns> FROM t WHERE <primary key> =
 * key, as a statement of its own would see it; the values are copied into
 * the current memory context.  False when there is no such row.
 */
extern bool os_rows_read(os_table_id t, Datum key, Datum *cols, bool *nulls);
extern int64 os_rows_nextval(const char *seq);
extern bool os_rows_citus(os_table_id t);

/* --------------------------------------------------------------- orders */

extern int64 os_place_order_values(int64 member_id, Jsonb *lines, text *method,
								   text *idem_key, Jsonb *params,
								   const char **status, bool *replayed);

/* ------------------------------------------------------------- payments */

extern void os_payment_run_strategy(Oid handler, const os_payment_request *req,
									const char *currency, Jsonb *params,
									os_payment_plan *plan);
extern bool os_jsonb_get_int64(JsonbContainer *obj, const char *key, int64 *out,
							   os_result bad);
extern char *os_jsonb_get_str(JsonbContainer *obj, const char *key, os_result bad);
extern Datum os_plan_to_jsonb(const os_payment_plan *plan);

/* -------------------------------------------------------------- metrics */

extern int	os_low_stock_threshold;

extern void os_metrics_init(void);
extern void os_metrics_order_placed(const char *method, bool paid);
extern void os_metrics_saga_move(int64 order_id, int64 member_id, os_event ev);
extern void os_metrics_rate_limited(const char *method);

/* ----------------------------------------------------------------- saga */

extern const char *os_saga_apply(int64 order_id, os_event ev,
								 const char *reason, const char *gateway_ref);

#include "store/store.h"

#endif							/* ORDER_SYSTEM_H */
