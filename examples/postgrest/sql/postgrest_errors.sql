-- The PostgREST wrapper of examples/postgrest/errors.sql: every order_system
-- error an application acts on comes out as PTnnn (the HTTP status PostgREST
-- answers with), with the original SQLSTATE in the message and the DETAIL
-- and HINT as they were; the traceparent header reaches the events.
\set VERBOSITY terse
\i errors.sql

-- What a PostgREST client would get: code, message, details (parsed), hint.
CREATE FUNCTION pg_temp.response(sql text) RETURNS TABLE (code text, message text, details jsonb, hint text)
LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE sql;
	code := 'ok';
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	details := CASE WHEN d LIKE '{%' THEN d::jsonb END;
	hint := nullif(hint, '');
	RETURN NEXT;
END
$$;

SELECT order_system.create_member('Rest', 'rest@example.com', 100) AS m \gset
SELECT order_system.create_product('R-1', 'Rest 1', 1000, 'KRW', 2) AS p \gset

-- 200: the order as jsonb.
SELECT api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card', 'rest-1')
	- 'order_id' - 'payment_id' - 'expires_at' AS placed;
SELECT api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card', 'rest-1', '{}')
	->> 'replayed' AS replayed;

-- 409 out of stock, 402 insufficient points, 404 no member, 422 key reused
-- for another request, 422 unknown method, 400 bad argument.
SELECT code, message, details = jsonb_build_object('product_id', :p, 'requested', 5, 'available', 1) AS details_kept
  FROM pg_temp.response(format($$SELECT api.place_order(%s, '[{"product_id": %s, "quantity": 5}]', 'card')$$, :m, :p));
SELECT code, message, details = jsonb_build_object('member_id', :m, 'balance', 100, 'required', 1000) AS details_kept
  FROM pg_temp.response(format($$SELECT api.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'points')$$, :m, :p));
SELECT code, message FROM pg_temp.response(format($$SELECT api.place_order(999999, '[{"product_id": %s, "quantity": 1}]', 'card')$$, :p));
SELECT code, details ->> 'idempotency_key' AS key, hint
  FROM pg_temp.response(format($$SELECT api.place_order(%s, '[{"product_id": %s, "quantity": 2}]', 'card', 'rest-1')$$, :m, :p));
SELECT code, message FROM pg_temp.response(format($$SELECT api.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'cash')$$, :m, :p));
SELECT code, message FROM pg_temp.response(format($$SELECT api.place_order(%s, '[]', 'card')$$, :m));

-- 409 illegal transition, with the allowed events and the hint.
SELECT (api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') ->> 'order_id')::bigint AS o \gset
SELECT order_system.confirm_payment(:o, 'gw-rest');
SELECT code, message, details -> 'allowed_events' AS allowed_events, hint
  FROM pg_temp.response(format($$SELECT api.order_step(%s, 'cancel')$$, :o));
SELECT api.order_step(:o, 'refund', 'wrong size');
SELECT code, message FROM pg_temp.response(format($$SELECT api.order_step(%s, 'ship')$$, :o));

-- 429 rate limited: retry_after_s in the details.
BEGIN;
SET LOCAL order_system.order_burst = 1;
SET LOCAL order_system.order_rate_limit = 1;
SELECT order_system.restock(:p, 5) > 0 AS restocked;
SELECT api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') ->> 'status' AS status;
SELECT code, jsonb_typeof(details -> 'retry_after_s') AS retry_after_s, hint
  FROM pg_temp.response(format($$SELECT api.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p));
ROLLBACK;

-- An error with no HTTP status of its own is raised as it was.
SELECT code, message FROM pg_temp.response($$SELECT api.reraise('OS015', 'consumer "x" is not registered', NULL, NULL)$$);

-- The traceparent request header reaches the events; a malformed one is ignored.
SELECT order_system.restock(:p, 5) > 0 AS restocked;
BEGIN;
SELECT set_config('request.headers', '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}', true) IS NOT NULL AS headers;
SELECT (api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') ->> 'order_id')::bigint AS t1 \gset
COMMIT;
BEGIN;
SELECT set_config('request.headers', '{"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}', true) IS NOT NULL AS headers;
SELECT (api.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') ->> 'order_id')::bigint AS t2 \gset
COMMIT;
SELECT aggregate_id = :t1 AS first_order, event_type, trace_context FROM order_system.outbox
 WHERE aggregate_type = 'order' AND aggregate_id IN (:t1, :t2) ORDER BY id;
