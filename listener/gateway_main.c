/*
 * gateway_main.c
 *	  order_system_gateway: a payment gateway simulator on the consumer loop.
 *
 * It settles every payment.requested event for a card or points_card order:
 * after --latency-ms it declines with probability --decline-rate (the draw
 * is a hash of --seed and the event id, so a redelivered event gets the same
 * answer) or confirms with gateway_ref 'sim-<event id>'.  The saga steps are
 * idempotent and an order that moved on (OS007) is settled as it is, so
 * duplicate delivery changes nothing.  The batch is acknowledged once every
 * payment in it is settled; any other error retries the batch.
 *
 * Tracing: when the payment.requested event carries a W3C traceparent, the
 * confirm or decline runs as a child span of it: the same trace id and
 * flags, a parent id of the gateway's own (a hash of --seed and the event
 * id), set with set_config(..., true) in the step's own transaction, so the
 * events of the reply carry it.
 */
#include "consumer.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum
{
	OPT_LATENCY = OS_OPT_FIRST_EXTRA,
	OPT_DECLINE_RATE,
	OPT_SEED
};

static const char *progname = "order_system_gateway";

static const char *const confirm_sql = "SELECT order_system.confirm_payment($1, $2)";
static const char *const decline_sql = "SELECT order_system.decline_payment($1, $2)";

/* The same, in a transaction whose events carry traceparent $3. */
#define TRACED(call) "SELECT " call " FROM (SELECT pg_catalog.set_config(" \
	"'order_system.traceparent', $3, true) OFFSET 0) t"
static const char *const traced_sql[2] = {
	TRACED("order_system.confirm_payment($1, $2)"),
	TRACED("order_system.decline_payment($1, $2)")
};
static const char *const status_sql =
"SELECT order_system.get_order($1) OPERATOR(pg_catalog.->>) 'status'";

typedef struct gateway
{
	long		latency_ms;		/* wait before settling a batch's payments */
	double		decline_rate;	/* probability of a decline */
	uint64_t	seed;
	bool		quiet;
	char		batch[64];		/* "batch id/first event id" of a failed batch
								 * ... */
	int			next_row;		/* ... and its first unsettled row */
} gateway;

/* The SplitMix64 finaliser: a well-mixed 64-bit hash. */
static uint64_t
mix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

/* Decline this event?  A function of (seed, event id) only. */
static bool
draw_decline(const gateway *g, const char *event_id)
{
	uint64_t	h = mix64(g->seed ^ mix64(strtoull(event_id, NULL, 10)));

	return (double) (h >> 11) / 9007199254740992.0 < g->decline_rate;
}

/* Is row i a payment this gateway handles? */
static bool
is_card_payment(const PGresult *rows, int i)
{
	const char *method = PQgetvalue(rows, i, OS_COL_METHOD);

	return strcmp(PQgetvalue(rows, i, OS_COL_EVENT_TYPE), "payment.requested") == 0 &&
		(strcmp(method, "card") == 0 || strcmp(method, "points_card") == 0);
}

/* Print one settled payment (stdout, unless --quiet). */
static void
report(const gateway *g, const char *order_id, const char *what, const char *status)
{
	if (g->quiet)
		return;
	printf("order %s %s%s\n", order_id, what, status);
	fflush(stdout);
}

/* The order's status into buf; OS_DONE, or why the query failed. */
static os_outcome
order_status(PGconn *conn, const char *order_id, os_batch *b, char *buf, size_t size)
{
	const char *params[1] = {order_id};
	PGresult   *res = PQexecParams(conn, status_sql, 1, NULL, params, NULL, NULL, 0);
	os_outcome	out = OS_DONE;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
	else
		out = os_query_failed(conn, res, b);
	PQclear(res);
	return out;
}

/*
 * The gateway's span in the trace of the event's traceparent (NULL: none):
 * "00-<same trace id>-<its own parent id>-<same flags>" into buf.
 */
static const char *
child_traceparent(const gateway *g, const char *parent, const char *event_id,
				  char *buf, size_t size)
{
	uint64_t	span;

	if (parent == NULL || strlen(parent) != 55)
		return NULL;
	span = mix64(g->seed ^ mix64(strtoull(event_id, NULL, 10) ^ UINT64_C(0x7472616365)));
	if (span == 0)
		span = 1;				/* an all-zero id is invalid */
	snprintf(buf, size, "%.36s%016llx%s", parent, (unsigned long long) span, parent + 52);
	return buf;
}

/*
 * Confirm or decline (params[2]: the traceparent, or NULL); OS007 (the order
 * moved on) counts as settled.
 */
static os_outcome
call_step(PGconn *conn, bool decline, const char *const params[3], os_batch *b,
		  char *status, size_t size)
{
	PGresult   *res;
	const char *state;
	os_outcome	out = OS_DONE;

	if (params[2] != NULL)
		res = PQexecParams(conn, traced_sql[decline], 3, NULL, params, NULL, NULL, 0);
	else
		res = PQexecParams(conn, decline ? decline_sql : confirm_sql, 2, NULL,
						   params, NULL, NULL, 0);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		snprintf(status, size, "%s", PQgetvalue(res, 0, 0));
	else if (state != NULL && strcmp(state, "OS007") == 0)
		out = order_status(conn, params[0], b, status, size);
	else
		out = os_query_failed(conn, res, b);
	PQclear(res);
	return out;
}

/*
 * Confirm or decline the payment of row i.  The status beforehand only
 * chooses the log line: the step runs either way, since it is idempotent.
 */
static os_outcome
settle(PGconn *conn, const gateway *g, os_batch *b, int i)
{
	const char *event_id = PQgetvalue(b->rows, i, OS_COL_ID);
	const char *order_id = PQgetvalue(b->rows, i, OS_COL_AGGREGATE_ID);
	bool		decline = draw_decline(g, event_id);
	char		text[64];
	char		trace[64];
	const char *params[3] = {order_id, text, NULL};
	char		before[64];
	char		after[64];
	os_outcome	out;

	if (decline)
		snprintf(text, sizeof text, "declined by gateway simulator");
	else
		snprintf(text, sizeof text, "sim-%s", event_id);
	if (!PQgetisnull(b->rows, i, OS_COL_TRACE_CONTEXT))
		params[2] = child_traceparent(g, PQgetvalue(b->rows, i, OS_COL_TRACE_CONTEXT),
									  event_id, trace, sizeof trace);
	out = order_status(conn, order_id, b, before, sizeof before);
	if (out == OS_DONE)
		out = call_step(conn, decline, params, b, after, sizeof after);
	if (out != OS_DONE)
		return out;
	if (strcmp(before, "pending_payment") == 0 &&
		strcmp(after, decline ? "cancelled" : "paid") == 0)
		report(g, order_id, decline ? "declined" : "confirmed", "");
	else
		report(g, order_id, "already ", after);
	return OS_DONE;
}

/* Does the batch hold a payment to settle from row start on? */
static bool
has_payments(const os_batch *b, int start)
{
	int			i;

	for (i = start; i < b->nrows; i++)
		if (is_card_payment(b->rows, i))
			return true;
	return false;
}

/* Settle every card payment of the batch, resuming where a retry left off. */
static os_outcome
gateway_batch(PGconn *conn, os_batch *b, void *arg)
{
	gateway    *g = arg;
	char		batch[64];
	int			i;

	snprintf(batch, sizeof batch, "%s/%s", PQgetvalue(b->rows, 0, OS_COL_BATCH_ID),
			 PQgetvalue(b->rows, 0, OS_COL_ID));
	if (strcmp(g->batch, batch) != 0)
	{
		memcpy(g->batch, batch, sizeof batch);
		g->next_row = 0;
	}
	if (g->latency_ms > 0 && has_payments(b, g->next_row) && !os_sleep_ms(g->latency_ms))
		return OS_STOP;
	for (i = g->next_row; i < b->nrows; i++)
	{
		os_outcome	out = is_card_payment(b->rows, i) ? settle(conn, g, b, i) : OS_DONE;

		/*
		 * A retry on the same connection resumes after the rows settled.
		 * After a lost connection the batch starts over: settlements are
		 * committed without waiting for their flush, so the server (or the
		 * standby promoted in its place) may not have the last ones.
		 */
		if (out == OS_LOST)
			g->batch[0] = '\0';
		if (out != OS_DONE)
			return out;
		g->next_row = i + 1;
	}
	g->batch[0] = '\0';			/* settled: a redelivery starts over */
	return OS_DONE;
}

/* --help text. */
static void
help(void)
{
	printf("%s settles card payments of order_system, like a payment gateway.\n\n"
		   "Usage:\n"
		   "  %s [-d CONNINFO] [-c CONSUMER] [--create [--from-start]]\n"
		   "      [--latency-ms N] [--decline-rate R] [--seed S]\n"
		   "      [--poll-interval MS] [--max-retries N] [--once] [--quiet]\n\n"
		   "Every payment.requested event of a card or points_card order is confirmed\n"
		   "(gateway_ref 'sim-<event id>') or declined; one line per settled payment\n"
		   "is printed (\"order 12 confirmed\").  The consumer defaults to\n"
		   "\"payment-gateway\".  A payment whose event carries a W3C traceparent is\n"
		   "settled as a child span of it (same trace id and flags, a parent id of\n"
		   "its own), so the reply's events carry the same trace id.\n\n", progname, progname);
	os_common_help(stdout);
	printf("\nSimulation:\n"
		   "      --latency-ms=N        wait N ms before settling a batch (default 0)\n"
		   "      --decline-rate=R      decline with probability R, 0..1 (default 0.1)\n"
		   "      --seed=S              make the draws repeatable (a function of S and\n"
		   "                            the event id); default: random\n");
}

/* --decline-rate: a number in [0, 1]. */
static bool
parse_rate(const char *s, double *out)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || isnan(v) || v < 0 || v > 1)
		return false;
	*out = v;
	return true;
}

/* --seed: an unsigned 64-bit number. */
static bool
parse_seed(const char *s, uint64_t *out)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		return false;
	*out = v;
	return true;
}

/* One gateway option; false (after the message) if invalid. */
static bool
gateway_option(gateway *g, int c, const char *arg)
{
	switch (c)
	{
		case OPT_LATENCY:
			if (os_parse_long(arg, 0, 86400000, &g->latency_ms))
				return true;
			os_usage_error(progname, "invalid --latency-ms \"%s\" (0 to 86400000)", arg);
			return false;
		case OPT_DECLINE_RATE:
			if (parse_rate(arg, &g->decline_rate))
				return true;
			os_usage_error(progname, "invalid --decline-rate \"%s\" (0 to 1)", arg);
			return false;
		case OPT_SEED:
			if (parse_seed(arg, &g->seed))
				return true;
			os_usage_error(progname, "invalid --seed \"%s\" (an unsigned number)", arg);
			return false;
	}
	os_usage_error(progname, "invalid option");
	return false;
}

/* Parse the options, then run the consumer loop settling payments. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		OS_COMMON_LONG_OPTIONS,
		{"latency-ms", required_argument, NULL, OPT_LATENCY},
		{"decline-rate", required_argument, NULL, OPT_DECLINE_RATE},
		{"seed", required_argument, NULL, OPT_SEED},
		{NULL, 0, NULL, 0}
	};
	gateway		g = {0, 0.1, 0, false, "", 0};
	os_options	o;
	int			c;

	os_options_init(&o, progname);
	o.brief = true;				/* it reads ids and the payment method only */
	o.consumer = "payment-gateway";
	g.seed = mix64((uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32));
	while ((c = getopt_long(argc, argv, OS_COMMON_SHORT_OPTIONS, longopts, NULL)) != -1)
	{
		int			r = os_common_option(&o, c, optarg);

		if (r < 0)
			return OS_EXIT_USAGE;
		if (r > 0)
			continue;
		if (c == 'h')
		{
			help();
			return OS_EXIT_OK;
		}
		if (!gateway_option(&g, c, optarg))
			return OS_EXIT_USAGE;
	}
	if (optind < argc)
		return os_usage_error(progname, "unexpected argument \"%s\"", argv[optind]);
	if (!os_options_check(&o))
		return OS_EXIT_USAGE;
	g.quiet = o.quiet;
	return os_consume(&o, gateway_batch, &g);
}
