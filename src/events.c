/*
 * events.c
 *	  Saga events: one row in order_system.outbox per state change, written
 *	  in the same transaction as the change.  The catalog of event types and
 *	  payloads is in README ("Event catalog").
 */
#include "order_system.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

static os_stmt insert_event = OS_STMT(
									  "INSERT INTO order_system.outbox (event_type, aggregate_type, aggregate_id, payload)"
									  " VALUES ($1, $2, $3, $4)",
									  4, TEXTOID, TEXTOID, INT8OID, JSONBOID);

/*
 * Payloads are built as jsonb values directly (no JSON text to parse: that
 * was 7 % of place_order).  jsonb orders an object's keys itself.
 */
static void
json_key(os_json *j, const char *key)
{
	JsonbValue	k;

	if (key == NULL)
		return;					/* an array element */
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&j->state, WJB_KEY, &k);
}

static void
json_scalar(os_json *j, const char *key, JsonbValue *v)
{
	json_key(j, key);
	pushJsonbValue(&j->state, key ? WJB_VALUE : WJB_ELEM, v);
}

void
os_json_begin(os_json *j)
{
	j->state = NULL;
	pushJsonbValue(&j->state, WJB_BEGIN_OBJECT, NULL);
}

void
os_json_int(os_json *j, const char *key, int64 value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	json_scalar(j, key, &v);
}

/* A string member, or null when value is NULL. */
void
os_json_str(os_json *j, const char *key, const char *value)
{
	JsonbValue	v;

	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	json_scalar(j, key, &v);
}

/* A nested array or object (key NULL for an element of an array). */
void
os_json_open(os_json *j, const char *key, bool array)
{
	json_key(j, key);
	pushJsonbValue(&j->state, array ? WJB_BEGIN_ARRAY : WJB_BEGIN_OBJECT, NULL);
}

void
os_json_close(os_json *j, bool array)
{
	pushJsonbValue(&j->state, array ? WJB_END_ARRAY : WJB_END_OBJECT, NULL);
}

Jsonb *
os_json_end(os_json *j)
{
	return JsonbValueToJsonb(pushJsonbValue(&j->state, WJB_END_OBJECT, NULL));
}

void
os_emit_event(const char *event_type, const char *aggregate_type,
			  int64 aggregate_id, Jsonb *payload)
{
	Datum		values[4];

	values[0] = CStringGetTextDatum(event_type);
	values[1] = CStringGetTextDatum(aggregate_type);
	values[2] = Int64GetDatum(aggregate_id);
	values[3] = JsonbPGetDatum(payload);
	os_exec(&insert_event, values, NULL, 0);
	os_note_event();
}
