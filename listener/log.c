/*
 * log.c
 *	  One-line diagnostics on stderr, prefixed with the program name:
 *	  progress lines (reconnects, retries) that --quiet silences, and
 *	  errors that are always shown.
 */
#include "consumer.h"

#include <stdarg.h>
#include <string.h>

static const char *log_progname = "order_system";
static bool log_quiet = false;

/* Remember the prefix and whether progress lines are wanted. */
void
os_log_init(const char *progname, bool quiet)
{
	log_progname = progname;
	log_quiet = quiet;
}

/* Print "progname: message" on stderr. */
static void
log_line(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", log_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A progress line (reconnect, backoff), unless --quiet. */
void
os_log(const char *fmt,...)
{
	va_list		ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

/* An error line, always shown. */
void
os_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

/* The first line of a (libpq) message, without "ERROR:  ", for one-line logs. */
const char *
os_first_line(const char *msg, char *buf, size_t size)
{
	size_t		n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
		msg += 8;
	n = strcspn(msg, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return buf;
}
