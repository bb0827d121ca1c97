/*
 * event.c
 *	  One fetched event as a JSON line, written here rather than by the
 *	  server.
 *
 * The object is the one row_to_json gives for an event row, byte for byte:
 * {"id":..,"tx_id":"..","event_type":"..","aggregate_type":"..",
 * "aggregate_id":..,"payload":{..},"created_at":"..","trace_context":".."}
 * (trace_context null when the event has none).  The numbers and the
 * payload come from the server as JSON text already; the two text columns
 * are escaped as PostgreSQL's escape_json does.
 */
#include "consumer.h"

#include <stdlib.h>
#include <string.h>

/* The line being built; reused from one event to the next. */
static char *line;
static size_t line_len;
static size_t line_cap;

/* Room for n more bytes; false when out of memory. */
static bool
reserve(size_t n)
{
	size_t		cap = line_cap ? line_cap : 1024;
	char	   *grown;

	if (line_len + n < line_cap)
		return true;
	while (cap <= line_len + n)
		cap *= 2;
	grown = realloc(line, cap);
	if (grown == NULL)
		return false;
	line = grown;
	line_cap = cap;
	return true;
}

static bool
append(const char *s, size_t n)
{
	if (!reserve(n))
		return false;
	memcpy(line + line_len, s, n);
	line_len += n;
	return true;
}

static bool
append_str(const char *s)
{
	return append(s, strlen(s));
}

/* s as a JSON string: quotes, \" \\ \b \f \n \r \t, \u00XX below 0x20. */
static bool
append_quoted(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!append("\"", 1))
		return false;
	for (; *s != '\0'; s++)
	{
		unsigned char c = (unsigned char) *s;
		char		esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		const char *short_esc = NULL;

		switch (c)
		{
			case '"':
				short_esc = "\\\"";
				break;
			case '\\':
				short_esc = "\\\\";
				break;
			case '\b':
				short_esc = "\\b";
				break;
			case '\f':
				short_esc = "\\f";
				break;
			case '\n':
				short_esc = "\\n";
				break;
			case '\r':
				short_esc = "\\r";
				break;
			case '\t':
				short_esc = "\\t";
				break;
			default:
				break;
		}
		if (short_esc != NULL ? !append(short_esc, 2)
			: c < 0x20 ? !append(esc, sizeof esc) : !append(s, 1))
			return false;
	}
	return append("\"", 1);
}

/*
 * Row `row` of a full batch as one JSON object, without a newline; its
 * length in *len.  Valid until the next call.  NULL when out of memory.
 */
const char *
os_event_json(const os_batch *b, int row, size_t *len)
{
	const PGresult *r = b->rows;
	bool		ok;

	line_len = 0;
	ok = append_str("{\"id\":") && append_str(PQgetvalue(r, row, OS_COL_ID)) &&
		append_str(",\"tx_id\":\"") && append_str(PQgetvalue(r, row, OS_COL_TX_ID)) &&
		append_str("\",\"event_type\":") && append_quoted(PQgetvalue(r, row, OS_COL_EVENT_TYPE)) &&
		append_str(",\"aggregate_type\":") && append_quoted(PQgetvalue(r, row, OS_COL_AGGREGATE_TYPE)) &&
		append_str(",\"aggregate_id\":") && append_str(PQgetvalue(r, row, OS_COL_AGGREGATE_ID)) &&
		append_str(",\"payload\":") && append_str(PQgetvalue(r, row, OS_COL_PAYLOAD)) &&
		append_str(",\"created_at\":") && append_str(PQgetvalue(r, row, OS_COL_CREATED_AT)) &&
		append_str(",\"trace_context\":") &&
		(PQgetisnull(r, row, OS_COL_TRACE_CONTEXT) ? append_str("null") :
		 append_quoted(PQgetvalue(r, row, OS_COL_TRACE_CONTEXT))) &&
		append("}", 2);			/* with the terminating NUL */
	if (!ok)
		return NULL;
	*len = line_len - 1;
	return line;
}
