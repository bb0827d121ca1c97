/*
 * events.c
 *	  Saga events: one row in order_system.outbox per state change, written
 *	  in the same transaction as the change.  The catalog of event types and
 *	  payloads is in README ("Event catalog").
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"

/*
 * Payloads are JSON text built here, in the order the members are added and
 * spaced as jsonb prints ({"a": 1, "b": [2, 3]}), and stored in the
 * outbox's json column as they are: nothing parses them on the way in, and
 * a listener's fetch sends the stored bytes (jsonb's text output was half
 * of the server's work per delivered event: bench/README.md).  The buffer
 * starts with room for the varlena header, so the text needs no copy.
 */
static void
json_member(os_json *j, const char *key)
{
	if (!j->first[j->depth])
		appendBinaryStringInfo(&j->buf, ", ", 2);
	j->first[j->depth] = false;
	if (key == NULL)
		return;					/* an array element */
	escape_json(&j->buf, key);
	appendBinaryStringInfo(&j->buf, ": ", 2);
}

static void
json_push(os_json *j, char open)
{
	if (j->depth + 1 >= OS_JSON_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_internal("event payload nested deeper than %d", OS_JSON_MAX_DEPTH - 1)));
	appendStringInfoChar(&j->buf, open);
	j->first[++j->depth] = true;
}

void
os_json_begin(os_json *j)
{
	initStringInfo(&j->buf);
	appendBinaryStringInfo(&j->buf, "\0\0\0\0", VARHDRSZ);
	j->depth = -1;
	json_push(j, '{');
}

void
os_json_int(os_json *j, const char *key, int64 value)
{
	char		digits[MAXINT8LEN + 1];

	json_member(j, key);
	appendBinaryStringInfo(&j->buf, digits, pg_lltoa(value, digits));
}

/* A string member, or null when value is NULL. */
void
os_json_str(os_json *j, const char *key, const char *value)
{
	json_member(j, key);
	if (value == NULL)
		appendBinaryStringInfo(&j->buf, "null", 4);
	else
		escape_json(&j->buf, value);
}

/* A member whose value is JSON text already: a number, true, false. */
void
os_json_raw(os_json *j, const char *key, const char *json)
{
	json_member(j, key);
	appendStringInfoString(&j->buf, json);
}

/* A nested array or object (key NULL for an element of an array). */
void
os_json_open(os_json *j, const char *key, bool array)
{
	json_member(j, key);
	json_push(j, array ? '[' : '{');
}

void
os_json_close(os_json *j, bool array)
{
	Assert(j->depth > 0);
	appendStringInfoChar(&j->buf, array ? ']' : '}');
	j->depth--;
}

/* The finished object as a json datum (a text varlena). */
text *
os_json_end(os_json *j)
{
	Assert(j->depth == 0);
	appendStringInfoChar(&j->buf, '}');
	SET_VARSIZE(j->buf.data, j->buf.len);
	return (text *) j->buf.data;
}

/*
 * The trace context events written now carry: order_system.traceparent
 * (checked when it was set), or NULL.  A column of the event, beside its
 * payload, so that business data and tracing never mix.
 */
Datum
os_trace_context(bool *isnull)
{
	*isnull = os_traceparent == NULL || os_traceparent[0] == '\0';
	return *isnull ? (Datum) 0 : CStringGetTextDatum(os_traceparent);
}

/* One event into the outbox (without a plan: rows.c). */
void
os_emit_event(const char *event_type, const char *aggregate_type,
			  int64 aggregate_id, text *payload)
{
	os_rows		w;
	Datum		values[OS_OUTBOX_NCOLS];
	bool		nulls[OS_OUTBOX_NCOLS] = {false};

	values[OS_OUTBOX_EVENT_TYPE] = CStringGetTextDatum(event_type);
	values[OS_OUTBOX_AGGREGATE_TYPE] = CStringGetTextDatum(aggregate_type);
	values[OS_OUTBOX_AGGREGATE_ID] = Int64GetDatum(aggregate_id);
	values[OS_OUTBOX_PAYLOAD] = PointerGetDatum(payload);
	values[OS_OUTBOX_TRACE_CONTEXT] = os_trace_context(&nulls[OS_OUTBOX_TRACE_CONTEXT]);
	os_rows_begin(&w);
	os_rows_insert(&w, OS_OUTBOX, values, nulls);
	os_rows_end(&w);
	os_note_event();
}
