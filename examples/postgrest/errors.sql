-- order_system behind PostgREST: wrappers in an exposed schema "api" that
-- re-raise order_system's errors with PostgREST's "PTnnn" SQLSTATEs, which
-- PostgREST answers with HTTP status nnn (without them it answers 400 for
-- the unknown class OS).  The response body keeps what the application
-- needs: PostgREST sends {"code", "message", "details", "hint"}, and here
--   code    = PTnnn
--   message = "<order_system SQLSTATE>: <message>"   (e.g. "OS005: product 8 ...")
--   details = order_system's DETAIL, the JSON object of OS005, OS006, OS007,
--             OS009 and OS017 as it is (a string of JSON: parse it)
--   hint    = order_system's HINT
-- A W3C traceparent request header is passed on to the order's events.
--
-- Load it as the owner of the schema PostgREST exposes (db-schemas = 'api'),
-- then grant EXECUTE on the api functions to PostgREST's roles.  This file
-- is tested by examples/postgrest/test.sh (run by test/run); PostgREST itself
-- is not run there.

CREATE SCHEMA api;

-- The HTTP status of an order_system SQLSTATE; NULL: leave the error as it is.
CREATE FUNCTION api.http_status(sqlstate text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN sqlstate IN ('OS001', 'OS003', 'OS010', 'OS014') THEN 404	-- not found
		WHEN sqlstate = 'OS002' THEN 403							-- member inactive
		WHEN sqlstate IN ('OS004', 'OS005', 'OS007', 'OS012') THEN 409	-- conflicts with the state
		WHEN sqlstate = 'OS006' THEN 402							-- insufficient points
		WHEN sqlstate IN ('OS008', 'OS009', 'OS011') THEN 422		-- unprocessable request
		WHEN sqlstate = 'OS017' THEN 429							-- rate limited
		WHEN sqlstate LIKE '22%' THEN 400							-- bad argument
	END
$$;

-- Raise the caught error again: as PTnnn when it has a status, else as it was.
CREATE FUNCTION api.reraise(sqlstate text, message text, detail text, hint text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	status integer := api.http_status(sqlstate);
BEGIN
	IF status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message,
			DETAIL = coalesce(detail, ''), HINT = coalesce(hint, '');
	END IF;
	RAISE EXCEPTION USING ERRCODE = 'PT' || status, MESSAGE = sqlstate || ': ' || message,
		DETAIL = coalesce(detail, ''), HINT = coalesce(hint, '');
END
$$;

-- The request's traceparent header (PostgREST puts the headers in the
-- setting request.headers) for the events of this transaction.  One that is
-- not a well-formed version-00 traceparent is ignored, as W3C asks.
CREATE FUNCTION api.trace_request() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	tp text := nullif(current_setting('request.headers', true), '')::json ->> 'traceparent';
BEGIN
	IF tp ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
	   AND tp !~ '^00-0{32}-' AND tp !~ '^00-[0-9a-f]{32}-0{16}-' THEN
		PERFORM set_config('order_system.traceparent', tp, true);
	END IF;
END
$$;

-- POST /rpc/place_order
CREATE FUNCTION api.place_order(member_id bigint, lines jsonb, payment_method text,
								idempotency_key text DEFAULT NULL, payment_params jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hnt text;
	r jsonb;
BEGIN
	PERFORM api.trace_request();
	SELECT to_jsonb(p) INTO r
	  FROM order_system.place_order(place_order.member_id, place_order.lines, place_order.payment_method,
									place_order.idempotency_key, place_order.payment_params) p;
	RETURN r;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	PERFORM api.reraise(st, msg, det, hnt);
	RETURN NULL;
END
$$;

-- POST /rpc/order_step {"order_id": .., "step": "cancel" | "refund" | "complete", "reason": ..}
CREATE FUNCTION api.order_step(order_id bigint, step text, reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hnt text;
BEGIN
	PERFORM api.trace_request();
	CASE step
		WHEN 'cancel' THEN RETURN order_system.cancel_order(order_step.order_id, order_step.reason);
		WHEN 'refund' THEN RETURN order_system.refund_order(order_step.order_id, order_step.reason);
		WHEN 'complete' THEN RETURN order_system.complete_order(order_step.order_id);
		ELSE RAISE EXCEPTION 'step must be cancel, refund or complete' USING ERRCODE = '22023';
	END CASE;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	PERFORM api.reraise(st, msg, det, hnt);
	RETURN NULL;
END
$$;
