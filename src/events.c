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

static os_stmt insert_event = OS_STMT(
									  "INSERT INTO order_system.outbox (event_type, aggregate_type, aggregate_id, payload)"
									  " VALUES ($1, $2, $3, $4::pg_catalog.jsonb)",
									  4, TEXTOID, TEXTOID, INT8OID, TEXTOID);

static void
json_sep(StringInfo buf, const char *key)
{
	char		last = buf->len > 0 ? buf->data[buf->len - 1] : '{';

	if (last != '{' && last != '[')
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
}

void
os_json_key_int(StringInfo buf, const char *key, int64 value)
{
	json_sep(buf, key);
	appendStringInfo(buf, INT64_FORMAT, value);
}

/* A string member, or null when value is NULL. */
void
os_json_key_str(StringInfo buf, const char *key, const char *value)
{
	json_sep(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/* A member whose value is already JSON text (an array, a nested object). */
void
os_json_key_raw(StringInfo buf, const char *key, const char *json)
{
	json_sep(buf, key);
	appendStringInfoString(buf, json);
}

void
os_emit_event(const char *event_type, const char *aggregate_type,
			  int64 aggregate_id, const char *payload_json)
{
	Datum		values[4];

	values[0] = CStringGetTextDatum(event_type);
	values[1] = CStringGetTextDatum(aggregate_type);
	values[2] = Int64GetDatum(aggregate_id);
	values[3] = CStringGetTextDatum(payload_json);
	os_exec(&insert_event, values, NULL, 0);
	os_note_event();
}
