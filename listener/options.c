/*
 * options.c
 *	  The command-line options both programs share (connection, consumer,
 *	  polling, --once, --quiet), their help text, and number parsing.
 */
#include "consumer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Defaults: libpq's connection defaults, 1 s polling, retry forever. */
void
os_options_init(os_options *o, const char *progname)
{
	memset(o, 0, sizeof *o);
	o->progname = progname;
	o->poll_ms = 1000;
	o->max_retries = -1;
}

/* A whole decimal number in [min, max] into *out; false if s is not one. */
bool
os_parse_long(const char *s, long min, long max, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Print a usage error and a hint; returns the usage exit code. */
int
os_usage_error(const char *progname, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", progname);
	return OS_EXIT_USAGE;
}

/* A number-valued option into *out; false (after the message) if invalid. */
static bool
number_option(const os_options *o, const char *name, const char *arg,
			  long min, long *out)
{
	if (os_parse_long(arg, min, INT_MAX, out))
		return true;
	os_usage_error(o->progname, "invalid %s value \"%s\" (a whole number from %ld)",
				   name, arg, min);
	return false;
}

/* Handle one shared option: 1 if it was one, 0 if not ours, -1 if invalid. */
int
os_common_option(os_options *o, int opt, const char *arg)
{
	long		v;

	switch (opt)
	{
		case 'd':
			o->conninfo = arg;
			return 1;
		case 'c':
			o->consumer = arg;
			return 1;
		case 'q':
			o->quiet = true;
			return 1;
		case OS_OPT_CREATE:
			o->create = true;
			return 1;
		case OS_OPT_FROM_START:
			o->from_start = true;
			return 1;
		case OS_OPT_ONCE:
			o->once = true;
			return 1;
		case OS_OPT_POLL:
			if (!number_option(o, "--poll-interval", arg, 1, &v))
				return -1;
			o->poll_ms = (int) v;
			return 1;
		case OS_OPT_MAX_RETRIES:
			if (!number_option(o, "--max-retries", arg, 0, &v))
				return -1;
			o->max_retries = v;
			return 1;
	}
	return 0;
}

/* Combinations getopt cannot check; false (after the message) if wrong. */
bool
os_options_check(const os_options *o)
{
	if (o->consumer == NULL || *o->consumer == '\0')
	{
		os_usage_error(o->progname, "a consumer name is required (-c NAME)");
		return false;
	}
	if (o->from_start && !o->create)
	{
		os_usage_error(o->progname, "--from-start only applies with --create");
		return false;
	}
	return true;
}

/* Help for the shared options and the exit codes. */
void
os_common_help(FILE *f)
{
	fputs("Connection and consumer:\n"
		  "  -d, --dbname=CONNINFO     database name, conninfo string or URI (default:\n"
		  "                            libpq defaults and PG* environment variables)\n"
		  "  -c, --consumer=NAME       consumer whose position is kept in the database\n"
		  "      --create              register the consumer if it is new (positioned now)\n"
		  "      --from-start          with --create: start before every retained event\n"
		  "Running:\n"
		  "      --poll-interval=MS    look for events at least every MS ms even without\n"
		  "                            a NOTIFY wake-up (default 1000)\n"
		  "      --max-retries=N       give up (exit 3) after N retries of one failing\n"
		  "                            batch (default: retry forever, backoff 100 ms..30 s)\n"
		  "      --once                deliver everything available now, then exit\n"
		  "  -q, --quiet               no progress lines on stderr (errors still shown)\n"
		  "  -h, --help                show this help, then exit\n"
		  "\n"
		  "Exit status:\n"
		  "  0  stopped by SIGTERM/SIGINT, or --once delivered everything; a batch that\n"
		  "     was not delivered when the signal came stays unacknowledged and comes again\n"
		  "  1  usage error\n"
		  "  2  connection or setup error: the first connection failed, the order_system\n"
		  "     extension (0.2.0 or later) is missing, the consumer is unknown (without\n"
		  "     --create) or the role may not use it\n"
		  "  3  gave up on a batch (left unacknowledged): --max-retries exhausted, or\n"
		  "     standard output could not be written\n", f);
}
