/*
 * consumer.h
 *	  The outbox consumer loop shared by order_system_listen and
 *	  order_system_gateway: options, batch handlers and exit codes.
 *
 * The loop connects, catches up through next_batch/ack_batch, then waits
 * for a NOTIFY on order_system_events (or the poll interval) and drains
 * again; a program plugs in what to do with each batch.
 */
#ifndef OS_CONSUMER_H
#define OS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

/* Exit codes, documented in --help and README. */
#define OS_EXIT_OK 0			/* clean stop, or --once drained everything */
#define OS_EXIT_USAGE 1			/* bad command line */
#define OS_EXIT_SETUP 2			/* cannot connect, no extension, unknown
								 * consumer */
#define OS_EXIT_GAVE_UP 3		/* a batch could not be delivered and we
								 * stopped */

/* Columns of a fetched batch. */
enum
{
	OS_COL_BATCH_ID,			/* the batch to acknowledge */
	OS_COL_ID,					/* outbox event id */
	OS_COL_EVENT_TYPE,
	OS_COL_AGGREGATE_ID,
	OS_COL_METHOD,				/* payload ->> 'method' of payment.requested
								 * (brief columns only), else NULL */
	OS_COL_TRACE_CONTEXT,		/* the W3C traceparent, NULL if none */
	/* not in brief batches (os_options.brief) */
	OS_COL_TX_ID,
	OS_COL_AGGREGATE_TYPE,
	OS_COL_PAYLOAD,
	OS_COL_CREATED_AT			/* as a JSON string */
};

/* Long-only option codes shared by both programs. */
enum
{
	OS_OPT_CREATE = 256,
	OS_OPT_FROM_START,
	OS_OPT_POLL,
	OS_OPT_MAX_RETRIES,
	OS_OPT_ONCE,
	OS_OPT_FIRST_EXTRA			/* programs number their own options from here */
};

#define OS_COMMON_SHORT_OPTIONS "d:c:qh"
#define OS_COMMON_LONG_OPTIONS \
	{"dbname", required_argument, NULL, 'd'}, \
	{"consumer", required_argument, NULL, 'c'}, \
	{"create", no_argument, NULL, OS_OPT_CREATE}, \
	{"from-start", no_argument, NULL, OS_OPT_FROM_START}, \
	{"poll-interval", required_argument, NULL, OS_OPT_POLL}, \
	{"max-retries", required_argument, NULL, OS_OPT_MAX_RETRIES}, \
	{"once", no_argument, NULL, OS_OPT_ONCE}, \
	{"quiet", no_argument, NULL, 'q'}, \
	{"help", no_argument, NULL, 'h'}

typedef struct os_options
{
	const char *progname;
	const char *conninfo;		/* NULL: libpq defaults and PG* variables */
	const char *consumer;
	bool		create;
	bool		from_start;
	bool		once;
	bool		quiet;
	bool		brief;			/* set by the program: fetch no payloads */
	int			poll_ms;
	long		max_retries;	/* -1: retry a failing batch forever */
} os_options;

/* What a handler did with a batch. */
typedef enum os_outcome
{
	OS_DONE,					/* processed: acknowledge it */
	OS_RETRY,					/* failed for now: retry it after a backoff */
	OS_LOST,					/* connection dropped: reconnect, fetch it
								 * again */
	OS_STOP,					/* stop requested before anything was done */
	OS_GIVE_UP					/* can never succeed here: exit 3 */
} os_outcome;

typedef struct os_batch
{
	const PGresult *rows;		/* columns OS_COL_* */
	int			nrows;
	char		why[256];		/* a failing handler says why (logged) */
} os_batch;

typedef os_outcome (*os_handler) (PGconn *conn, os_batch *batch, void *arg);

/* consumer.c */
extern int	os_consume(const os_options *opts, os_handler handler, void *arg);
extern os_outcome os_query_failed(PGconn *conn, const PGresult *res, os_batch *batch);

/* event.c */
extern const char *os_event_json(const os_batch *batch, int row, size_t *len);

/* options.c */
extern void os_options_init(os_options *o, const char *progname);
extern int	os_common_option(os_options *o, int opt, const char *arg);
extern bool os_options_check(const os_options *o);
extern bool os_parse_long(const char *s, long min, long max, long *out);
extern int	os_usage_error(const char *progname, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void os_common_help(FILE *f);

/* log.c */
extern void os_log_init(const char *progname, bool quiet);
extern void os_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void os_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern const char *os_first_line(const char *msg, char *buf, size_t size);

/* signals.c */
extern void os_signals_init(void);
extern bool os_stopping(void);
extern bool os_sleep_ms(long ms);
extern int	os_wait_socket(int sock, long ms);

#endif							/* OS_CONSUMER_H */
