/*
 * listen_main.c
 *	  order_system_listen: a generic outbox consumer.  Prints every event as
 *	  one JSON line on stdout, or pipes each batch into a command (--exec),
 *	  and acknowledges a batch only once it was written or the command
 *	  succeeded.  See README, "The listener program".
 */
#include "consumer.h"
#include "exec.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static const char *progname = "order_system_listen";

/* Print the batch as JSON lines; OS_GIVE_UP if stdout cannot be written. */
static os_outcome
print_batch(PGconn *conn, os_batch *b, void *arg)
{
	int			i;

	(void) conn;
	(void) arg;
	for (i = 0; i < b->nrows; i++)
	{
		size_t		len;
		const char *json = os_event_json(b, i, &len);

		if (json == NULL)
		{
			snprintf(b->why, sizeof b->why, "out of memory");
			return OS_RETRY;
		}
		fwrite(json, 1, len, stdout);
		putchar('\n');
	}
	if (fflush(stdout) == 0 && !ferror(stdout))
		return OS_DONE;
	snprintf(b->why, sizeof b->why, "cannot write to standard output: %s", strerror(errno));
	return OS_GIVE_UP;
}

/* --exec: hand the batch to the command. */
static os_outcome
exec_batch(PGconn *conn, os_batch *b, void *arg)
{
	(void) conn;
	return os_exec_batch((const char *) arg, b);
}

/* --help text. */
static void
help(void)
{
	printf("%s delivers order_system events from the outbox, at least once.\n\n"
		   "Usage:\n"
		   "  %s [-d CONNINFO] -c CONSUMER [--create [--from-start]] [--exec CMD]\n"
		   "      [--poll-interval MS] [--max-retries N] [--once] [--quiet]\n\n"
		   "Each event is printed as one JSON line (id, tx_id, event_type,\n"
		   "aggregate_type, aggregate_id, payload, created_at, trace_context:\n"
		   "the W3C traceparent the writing transaction set, or null); a batch\n"
		   "is acknowledged once it is written.\n\n", progname, progname);
	os_common_help(stdout);
	printf("\nDelivery:\n"
		   "  -e, --exec=CMD            run CMD with /bin/sh once per batch, the batch's\n"
		   "                            JSON lines on its stdin; acknowledge the batch if\n"
		   "                            CMD exits 0, else retry it with backoff\n");
}

/* Parse the options, then run the consumer loop with the chosen delivery. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		OS_COMMON_LONG_OPTIONS,
		{"exec", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0}
	};
	os_options	o;
	const char *command = NULL;
	int			c;

	os_options_init(&o, progname);
	while ((c = getopt_long(argc, argv, OS_COMMON_SHORT_OPTIONS "e:", longopts, NULL)) != -1)
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
		if (c != 'e')
			return os_usage_error(progname, "invalid option");
		command = optarg;
	}
	if (optind < argc)
		return os_usage_error(progname, "unexpected argument \"%s\"", argv[optind]);
	if (!os_options_check(&o))
		return OS_EXIT_USAGE;
	if (command != NULL)
		return os_consume(&o, exec_batch, (void *) command);
	return os_consume(&o, print_batch, NULL);
}
