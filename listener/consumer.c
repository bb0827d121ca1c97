/*
 * consumer.c
 *	  The consumer loop: connect, check the extension, register the consumer
 *	  on request, then repeat "drain batches, wait for a wake-up".
 *
 * Draining calls next_batch until it returns no rows, hands every batch to
 * the program's handler and acknowledges it only once the handler is done,
 * so delivery is at-least-once.  The wait is a LISTEN on
 * order_system_events with the poll interval as a timeout: NOTIFY is only
 * a wake-up, the outbox is read either way.  A dropped connection is
 * re-opened with jittered exponential backoff, and so is one to a server
 * that refuses writes (25006: a standby), so that a multi-host conninfo with
 * target_session_attrs=read-write finds the primary after a failover;
 * errors that retrying cannot fix (no extension, unknown consumer, no
 * privilege) end the program.
 */
#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000

/*
 * A batch from next_batch($1), in the columns of OS_COL_* (consumer.h).
 * Events come as their columns and the listener writes each JSON line
 * itself (event.c): row_to_json on the server made a third of the fetch's
 * work per event (bench/callgrind).  A program that reads only ids and the
 * payment method (the gateway) fetches the brief columns, no payload.  The
 * method is taken out of the payload only where the gateway looks for it:
 * reading a member of a json payload parses the text.  next_batch returns
 * its events in id order (README), so the fetch does not sort them again.
 */
#define BRIEF_COLUMNS \
"SELECT b.batch_id, b.id, b.event_type, b.aggregate_id," \
"       CASE WHEN b.event_type OPERATOR(pg_catalog.=) 'payment.requested'" \
"            THEN b.payload OPERATOR(pg_catalog.->>) 'method' END, %s"
#define FULL_COLUMNS \
"SELECT b.batch_id, b.id, b.event_type, b.aggregate_id, NULL::pg_catalog.text, %s," \
"       b.tx_id, b.aggregate_type, b.payload, pg_catalog.to_json(b.created_at)"
#define FETCH_SQL(columns) columns \
"  FROM order_system.next_batch($1) b"

/*
 * Acknowledge batch $2, delivered last, and fetch the next one, in one round
 * trip and one transaction.  From 0.5.0 next_batch takes the acknowledgement
 * itself (one lock and one update of the consumer's row); before, ack_batch
 * goes first (the LATERAL reference orders the two calls).
 */
#define ACK_FETCH_SQL(columns) columns \
"  FROM order_system.next_batch($1, $2) b"
#define ACK_THEN_FETCH_SQL(columns) columns \
"  FROM (SELECT order_system.ack_batch($1, $2) AS acked OFFSET 0) a," \
"       LATERAL order_system.next_batch(CASE WHEN a.acked IS NOT NULL THEN $1 END) b"

/*
 * Format strings: %s is the trace context column, b.trace_context from
 * 0.8.0 on (the last attribute of next_batch's rows), NULL before.
 */
static const char *const fetch_sql[2] = {FETCH_SQL(BRIEF_COLUMNS), FETCH_SQL(FULL_COLUMNS)};
static const char *const ack_fetch_sql[2][2] = {
	{ACK_THEN_FETCH_SQL(BRIEF_COLUMNS), ACK_THEN_FETCH_SQL(FULL_COLUMNS)},
{ACK_FETCH_SQL(BRIEF_COLUMNS), ACK_FETCH_SQL(FULL_COLUMNS)}};

static const char *const ack_sql = "SELECT order_system.ack_batch($1, $2)";

static const char *const register_sql = "SELECT order_system.register_consumer($1, $2)";

static const char *const extension_sql =
"SELECT e.extversion,"
"       pg_catalog.to_regprocedure('order_system.next_batch(text)') IS NOT NULL"
"       OR pg_catalog.to_regprocedure('order_system.next_batch(text,bigint)') IS NOT NULL,"
"       pg_catalog.to_regprocedure('order_system.next_batch(text,bigint)') IS NOT NULL,"
"       EXISTS (SELECT FROM pg_catalog.pg_attribute a"
"                WHERE a.attrelid = pg_catalog.to_regclass('order_system.batch_event')"
"                  AND a.attname = 'trace_context' AND NOT a.attisdropped)"
"  FROM pg_catalog.pg_extension e WHERE e.extname = 'order_system'";

/* What a query failure means for the loop. */
typedef enum fault
{
	FAULT_LOST,					/* connection gone: reconnect */
	FAULT_SETUP,				/* retrying cannot help: exit 2 */
	FAULT_TRANSIENT				/* try again after a backoff */
} fault;

/* Where the loop goes next. */
typedef enum step
{
	STEP_NEXT,					/* keep draining */
	STEP_DRAINED,				/* nothing new: wait */
	STEP_LOST,					/* reconnect */
	STEP_EXIT					/* leave with loop.exit_code */
} step;

typedef struct loop
{
	const os_options *o;
	os_handler	handler;
	void	   *arg;
	PGconn	   *conn;
	int			exit_code;
	bool		registered;		/* --create done (never again on reconnect) */
	char		fatal[256];		/* a FATAL the server sent before it hung up */
	char		unacked[32];	/* a delivered batch whose ack goes with the
								 * next fetch; "" if none */
	bool		acking_fetch;	/* next_batch takes the ack (0.5.0 on) */
	bool		traced;			/* events carry trace_context (0.8.0 on) */
} loop;

/* Run one statement with text parameters. */
static PGresult *
run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* Did the statement succeed? */
static bool
ok(const PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

/* Does the failed statement carry this SQLSTATE? */
static bool
has_state(const PGresult *res, const char *state)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, state) == 0;
}

/* Classify a failed statement. */
static fault
classify(PGconn *conn, const PGresult *res)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(conn) != CONNECTION_OK || s == NULL)
		return FAULT_LOST;
	if (strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0)
		return FAULT_LOST;
	/* a standby (or a read-only server): another host may be the primary */
	if (strcmp(s, "25006") == 0)
		return FAULT_LOST;
	if (strcmp(s, "OS015") == 0 || strncmp(s, "42", 2) == 0 ||
		strncmp(s, "28", 2) == 0 || strcmp(s, "3F000") == 0)
		return FAULT_SETUP;
	return FAULT_TRANSIENT;
}

/* The one-line reason of a failed statement (or of the connection). */
static const char *
reason(PGconn *conn, const PGresult *res, char *buf, size_t size)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;

	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(conn);
	return os_first_line(msg, buf, size);
}

/* For handlers: turn a failed statement into an outcome and a reason. */
os_outcome
os_query_failed(PGconn *conn, const PGresult *res, os_batch *batch)
{
	reason(conn, res, batch->why, sizeof batch->why);
	return classify(conn, res) == FAULT_LOST ? OS_LOST : OS_RETRY;
}

/* Exponential backoff: the next delay after d. */
static long
backoff_next(long d)
{
	return d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
}

/* d with jitter: a random delay between d/2 and d. */
static long
jitter(long d)
{
	return d / 2 + random() % (d / 2 + 1);
}

/* Report a setup failure and leave with exit code 2. */
static step
setup_failed(loop *l, const PGresult *res)
{
	char		buf[512];

	reason(l->conn, res, buf, sizeof buf);
	if (res != NULL && has_state(res, "OS015"))
		os_error("%s (register it with --create)", buf);
	else
		os_error("%s", buf);
	l->exit_code = OS_EXIT_SETUP;
	return STEP_EXIT;
}

/* A failed setup statement: reconnect if the connection went, else exit 2. */
static step
setup_statement_failed(loop *l, const PGresult *res)
{
	return classify(l->conn, res) == FAULT_LOST ? STEP_LOST : setup_failed(l, res);
}

/* Is an order_system with event consumers installed?  Exit 2 if not. */
static step
check_extension(loop *l)
{
	PGresult   *res = run(l->conn, extension_sql, 0, NULL);
	step		s = STEP_NEXT;

	if (!ok(res))
		s = setup_statement_failed(l, res);
	else if (PQntuples(res) == 0)
	{
		os_error("the order_system extension is not installed in database \"%s\" "
				 "(CREATE EXTENSION order_system)", PQdb(l->conn));
		l->exit_code = OS_EXIT_SETUP;
		s = STEP_EXIT;
	}
	else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
	{
		os_error("order_system %s has no event consumers: 0.2.0 or later is needed "
				 "(ALTER EXTENSION order_system UPDATE)", PQgetvalue(res, 0, 0));
		l->exit_code = OS_EXIT_SETUP;
		s = STEP_EXIT;
	}
	else
	{
		l->acking_fetch = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		l->traced = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	}
	PQclear(res);
	return s;
}

/*
 * --create: register the consumer (an existing one keeps its position).
 * Only on the first connection: one unregistered meanwhile must not come
 * back positioned "now", past events it never saw.
 */
static step
register_consumer(loop *l)
{
	const char *params[2] = {l->o->consumer, l->o->from_start ? "true" : "false"};
	PGresult   *res = run(l->conn, register_sql, 2, params);
	step		s = STEP_NEXT;

	if (!ok(res))
		s = setup_statement_failed(l, res);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		os_log("registered consumer \"%s\"%s", l->o->consumer,
			   l->o->from_start ? " from the start of the outbox" : "");
	PQclear(res);
	return s;
}

/* Subscribe to wake-ups before the first drain, so none falls in between. */
static step
listen_for_wakeups(loop *l)
{
	PGresult   *res;
	step		s = STEP_NEXT;

	if (l->o->once)
		return STEP_NEXT;
	res = run(l->conn, "LISTEN order_system_events", 0, NULL);
	if (!ok(res))
		s = setup_statement_failed(l, res);
	PQclear(res);
	return s;
}

/*
 * Our own commits (batch cuts, acknowledgements, the gateway's settlements)
 * need not wait for their WAL flush: a crash can only lose the newest of
 * them, WAL keeps their order, and a lost acknowledgement just delivers the
 * batch again.  This keeps the consumer off the order transactions' flushes.
 */
static step
relax_commits(loop *l)
{
	PGresult   *res = run(l->conn, "SET synchronous_commit = off", 0, NULL);
	step		s = ok(res) ? STEP_NEXT : setup_statement_failed(l, res);

	PQclear(res);
	return s;
}

/*
 * The two statements of every wake-up, parsed and planned once per
 * connection instead of on every call.
 */
static step
prepare_statements(loop *l)
{
	const char *const names[3] = {"os_fetch", "os_ack", "os_ack_fetch"};
	const char *trace = l->traced ? "b.trace_context" : "NULL::pg_catalog.text";
	const int	nparams[3] = {1, 2, 2};
	step		s = STEP_NEXT;
	char		fetch[1024];
	char		ack_fetch[1024];
	const char *const sqls[3] = {fetch, ack_sql, ack_fetch};

	snprintf(fetch, sizeof fetch, fetch_sql[!l->o->brief], trace);
	snprintf(ack_fetch, sizeof ack_fetch, ack_fetch_sql[l->acking_fetch][!l->o->brief], trace);
	for (int i = 0; i < 3 && s == STEP_NEXT; i++)
	{
		PGresult   *res = PQprepare(l->conn, names[i], sqls[i], nparams[i], NULL);

		if (!ok(res))
			s = setup_statement_failed(l, res);
		PQclear(res);
	}
	return s;
}

/* Run a statement prepared by prepare_statements. */
static PGresult *
run_prepared(PGconn *conn, const char *name, int nparams, const char *const *params)
{
	return PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
}

/* Everything a fresh connection needs before draining. */
static step
setup(loop *l)
{
	step		s = check_extension(l);

	if (s == STEP_NEXT)
		s = relax_commits(l);
	if (s == STEP_NEXT)
		s = prepare_statements(l);

	if (s == STEP_NEXT && l->o->create && !l->registered)
		s = register_consumer(l);
	l->registered = l->registered || s == STEP_NEXT;
	if (s == STEP_NEXT)
		s = listen_for_wakeups(l);
	return s;
}

/*
 * Server notices go to stderr like progress lines (silenced by --quiet); a
 * FATAL sent to an idle session is kept as the reason for the lost
 * connection, logged on the reconnect line.
 */
static void
on_notice(void *arg, const char *message)
{
	loop	   *l = arg;
	char		buf[512];

	if (strncmp(message, "FATAL:", 6) == 0)
		os_first_line(message, l->fatal, sizeof l->fatal);
	else
		os_log("%s", os_first_line(message, buf, sizeof buf));
}

/* Open a connection (dbname may be a name, a conninfo string or a URI). */
static PGconn *
connect_db(loop *l)
{
	const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *const values[] = {l->o->conninfo, l->o->progname, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);

	if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
		PQsetNoticeProcessor(conn, on_notice, l);
	return conn;
}

/* Sleep d (a backoff) unless stopping; false means "stop now, exit 0". */
static bool
backoff_sleep(loop *l, long d)
{
	if (os_sleep_ms(d))
		return true;
	l->exit_code = OS_EXIT_OK;
	return false;
}

/* Log an acknowledgement that found the batch no longer open. */
static void
ack_note(const PGresult *res, const char *batch_id)
{
	if (!ok(res))
		os_log("batch %s is unknown to the consumer (registered again meanwhile)", batch_id);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		os_log("batch %s was already acknowledged or replayed", batch_id);
}

/* Acknowledge a delivered batch; retries transient errors. */
static step
ack(loop *l, const char *batch_id)
{
	const char *params[2] = {l->o->consumer, batch_id};
	long		d = BACKOFF_FIRST_MS;
	char		buf[512];

	for (;;)
	{
		PGresult   *res = run_prepared(l->conn, "os_ack", 2, params);
		fault		f;

		if (ok(res) || has_state(res, "OS016"))
		{
			ack_note(res, batch_id);
			PQclear(res);
			return STEP_NEXT;
		}
		f = classify(l->conn, res);
		reason(l->conn, res, buf, sizeof buf);
		if (f != FAULT_TRANSIENT)
		{
			step		s = f == FAULT_LOST ? STEP_LOST : setup_failed(l, res);

			PQclear(res);
			return s;
		}
		PQclear(res);
		os_log("cannot acknowledge batch %s (%s); retrying in %ld ms", batch_id, buf, d);
		if (!backoff_sleep(l, d))
			return STEP_EXIT;
		d = backoff_next(d);
	}
}

/* Send the ack of the batch delivered last, if it has not gone yet. */
static step
flush_ack(loop *l)
{
	step		s;

	if (l->unacked[0] == '\0')
		return STEP_NEXT;
	s = ack(l, l->unacked);
	l->unacked[0] = '\0';
	return s;
}

/* Give up on a batch: exit 3, the batch stays unacknowledged. */
static step
give_up(loop *l, const char *batch_id, const char *why, long retries)
{
	if (retries > 0)
		os_error("batch %s not delivered after %ld retries (%s); giving up", batch_id,
				 retries, why);
	else
		os_error("batch %s not delivered (%s); giving up", batch_id, why);
	l->exit_code = OS_EXIT_GAVE_UP;
	return STEP_EXIT;
}

/*
 * Hand a batch to the handler until it is done (or we stop).  Its ack goes
 * out with the next fetch (or on its own when the loop stops).
 */
static step
deliver(loop *l, const PGresult *rows)
{
	const char *batch_id = PQgetvalue(rows, 0, OS_COL_BATCH_ID);
	os_batch	b = {rows, PQntuples(rows), ""};
	long		d = BACKOFF_FIRST_MS;
	long		retries;

	for (retries = 0;; retries++)
	{
		b.why[0] = '\0';
		switch (l->handler(l->conn, &b, l->arg))
		{
			case OS_DONE:
				snprintf(l->unacked, sizeof l->unacked, "%s", batch_id);
				return STEP_NEXT;
			case OS_LOST:
				return STEP_LOST;
			case OS_STOP:
				l->exit_code = OS_EXIT_OK;
				return STEP_EXIT;
			case OS_GIVE_UP:
				return give_up(l, batch_id, b.why, 0);
			case OS_RETRY:
				break;
		}
		if (l->o->max_retries >= 0 && retries >= l->o->max_retries)
			return give_up(l, batch_id, b.why, retries);
		os_log("batch %s not delivered (%s); retrying in %ld ms", batch_id, b.why, d);
		if (!backoff_sleep(l, d))
			return STEP_EXIT;
		d = backoff_next(d);
	}
}

/*
 * Fetch and deliver batches until next_batch has nothing new.  A batch holds
 * everything committed before its cut, so after one the loop waits: any
 * commit after the cut wakes it again (or the next poll finds it), and the
 * round trip of an empty fetch on every wake-up is saved.  --once drains to
 * the end.
 */
static step
drain(loop *l)
{
	const char *params[2] = {l->o->consumer, l->unacked};
	long		d = BACKOFF_FIRST_MS;
	char		buf[512];

	for (;;)
	{
		PGresult   *res;
		step		s;

		if (os_stopping())
		{
			if ((s = flush_ack(l)) != STEP_NEXT)
				return s;
			l->exit_code = OS_EXIT_OK;
			return STEP_EXIT;
		}
		if (l->unacked[0] == '\0')
			res = run_prepared(l->conn, "os_fetch", 1, params);
		else
		{
			res = run_prepared(l->conn, "os_ack_fetch", 2, params);
			if (ok(res))
				l->unacked[0] = '\0';
			else if (classify(l->conn, res) != FAULT_LOST)
			{
				/* the ack alone, with its own error handling; then fetch */
				PQclear(res);
				if ((s = flush_ack(l)) != STEP_NEXT)
					return s;
				continue;
			}
		}
		if (ok(res) && PQntuples(res) == 0)
			s = STEP_DRAINED;
		else if (ok(res))
		{
			s = deliver(l, res);
			if (s == STEP_NEXT && !l->o->once)
				s = STEP_DRAINED;
		}
		else if (classify(l->conn, res) == FAULT_TRANSIENT)
		{
			os_log("cannot fetch a batch (%s); retrying in %ld ms",
				   reason(l->conn, res, buf, sizeof buf), d);
			s = backoff_sleep(l, d) ? STEP_NEXT : STEP_EXIT;
			d = backoff_next(d);
		}
		else
			s = setup_statement_failed(l, res);
		PQclear(res);
		if (s != STEP_NEXT)
			return s;
	}
}

/* Free buffered notifications; true if there were any. */
static bool
take_notifies(PGconn *conn)
{
	PGnotify   *n;
	bool		any = false;

	while ((n = PQnotifies(conn)) != NULL)
	{
		PQfreemem(n);
		any = true;
	}
	return any;
}

/* Wait for a NOTIFY, the poll interval or a stop request. */
static step
wait_for_wakeup(loop *l)
{
	int			rc;

	if (take_notifies(l->conn))
		return STEP_NEXT;		/* a wake-up came while we were draining */
	rc = os_wait_socket(PQsocket(l->conn), l->o->poll_ms);
	if (rc < 0 || (rc > 0 && !PQconsumeInput(l->conn)))
		return STEP_LOST;
	take_notifies(l->conn);
	return STEP_NEXT;
}

/* Re-open the connection with backoff; false: stop (exit_code is set). */
static bool
reconnect(loop *l)
{
	char		why[512];
	long		d = BACKOFF_FIRST_MS;
	int			attempt;

	if (l->fatal[0] != '\0')
		snprintf(why, sizeof why, "%s", l->fatal);
	else
		reason(l->conn, NULL, why, sizeof why);
	l->fatal[0] = '\0';
	PQfinish(l->conn);
	l->conn = NULL;

	/*
	 * The ack of the last batch delivered is not sent on the new connection:
	 * what the handler wrote for it (the gateway's settlements, committed
	 * without waiting for their flush) may have been lost with the server, or
	 * never reached the standby that is now the primary, while the open batch
	 * survived.  The batch is delivered again instead (at least once).
	 */
	l->unacked[0] = '\0';
	for (attempt = 1;; attempt++)
	{
		long		ms = jitter(d);
		step		s;

		if (os_stopping())
		{
			l->exit_code = OS_EXIT_OK;
			return false;
		}
		os_log("%s (%s); reconnecting in %ld ms",
			   attempt == 1 ? "connection lost" : "reconnect failed", why, ms);
		if (!backoff_sleep(l, ms))
			return false;
		l->conn = connect_db(l);
		s = PQstatus(l->conn) == CONNECTION_OK ? setup(l) : STEP_LOST;
		if (s == STEP_NEXT)
		{
			os_log("reconnected to host %s port %s", PQhost(l->conn), PQport(l->conn));
			return true;
		}
		if (s == STEP_EXIT)
			return false;
		reason(l->conn, NULL, why, sizeof why);
		PQfinish(l->conn);
		l->conn = NULL;
		d = backoff_next(d);
	}
}

/* The first connection: any failure is a setup error (exit 2). */
static bool
first_connect(loop *l)
{
	char		buf[512];
	step		s;

	l->conn = connect_db(l);
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK)
	{
		os_error("cannot connect: %s",
				 l->conn ? os_first_line(PQerrorMessage(l->conn), buf, sizeof buf)
				 : "out of memory");
		l->exit_code = OS_EXIT_SETUP;
		return false;
	}
	s = setup(l);
	if (s == STEP_LOST)
		setup_failed(l, NULL);	/* dropped during setup: as good as refused */
	return s == STEP_NEXT;
}

/* Run the consumer loop with handler until stopped; returns the exit code. */
int
os_consume(const os_options *o, os_handler handler, void *arg)
{
	loop		l = {o, handler, arg, NULL, OS_EXIT_OK, false, "", "", false, false};

	os_log_init(o->progname, o->quiet);
	os_signals_init();
	srandom((unsigned) time(NULL) ^ ((unsigned) getpid() << 16));
	if (first_connect(&l))
	{
		for (;;)
		{
			step		s = drain(&l);

			if (s == STEP_DRAINED && (o->once || os_stopping()))
			{
				flush_ack(&l);
				break;
			}
			if (s == STEP_DRAINED)
				s = wait_for_wakeup(&l);
			if (s == STEP_EXIT || (s == STEP_LOST && !reconnect(&l)))
				break;
		}
	}
	PQfinish(l.conn);
	return l.exit_code;
}
