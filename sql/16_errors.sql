-- Errors an application can act on: OS005, OS006, OS007, OS009 and OS017
-- carry a DETAIL that is one JSON object (README's error table) and, where
-- there is a next step, a HINT.  Each is caught here, its DETAIL parsed as
-- jsonb and checked member by member; nothing is matched as text.
-- Also: the trace context setting order_system.traceparent and the events
-- that carry it.
\set VERBOSITY terse
SELECT regress.restart_ids(160000);

-- The error a statement raises: SQLSTATE, DETAIL parsed as JSON (a JSON
-- string when it is not JSON), HINT.
CREATE FUNCTION regress.error_of(sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	d text;
	h text;
	dj jsonb;
BEGIN
	BEGIN
		EXECUTE sql;
		RETURN jsonb_build_object('sqlstate', '00000');
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	END;
	BEGIN
		dj := nullif(d, '')::jsonb;
	EXCEPTION WHEN invalid_text_representation THEN
		dj := to_jsonb(d);
	END;
	RETURN jsonb_build_object('sqlstate', st, 'detail', dj, 'hint', nullif(h, ''));
END
$$;

SELECT order_system.create_member('Err', 'err@example.com', 300) AS m \gset
SELECT order_system.create_product('E-A', 'Err A', 1000, 'KRW', 1) AS a \gset
SELECT order_system.create_product('E-F', 'Err Flash', 1000, 'KRW', 2) AS f \gset
SELECT order_system.set_flash_sale(:f, 2) IS NOT NULL AS flash_sale;

----------------------------------------------------------------- OS005 out of stock
SELECT regress.counts() AS before \gset
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 2}]', 'card')$$,
							   :m, :a)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('product_id', :a, 'requested', 2, 'available', 1) AS detail,
       :'e'::jsonb ->> 'hint' AS hint;
-- A flash-sale product: no bucket holds the quantity.
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 2}]', 'card')$$,
							   :m, :f)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('product_id', :f, 'requested', 2, 'flash_sale', true) AS detail;
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- OS006 insufficient points
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'points')$$,
							   :m, :a)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('member_id', :m, 'balance', 300, 'required', 1000) AS detail;
SELECT regress.error_of(format($$SELECT order_system.adjust_points(%s, -301, 'fine')$$, :m)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('member_id', :m, 'balance', 300, 'required', 301) AS detail;
-- The largest refusal still gives the exact number (no int64 overflow).
SELECT regress.error_of(format($$SELECT order_system.adjust_points(%s, -9223372036854775808, 'r')$$, :m))
	-> 'detail' ->> 'required' AS required;
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- OS007 illegal transition
SELECT order_id AS o1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb,
	'card', 'err-key') \gset
SELECT order_system.confirm_payment(:o1, 'gw-err');
SELECT regress.counts() AS before \gset
-- Cancelling a paid order: refund it instead.
SELECT regress.error_of(format('SELECT order_system.cancel_order(%s)', :o1)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('order_id', :o1, 'status', 'paid', 'event', 'cancel',
													'allowed_events', jsonb_build_array('complete', 'refund')) AS detail,
       :'e'::jsonb ->> 'hint' AS hint;
-- allowed_events are exactly the moves order_transitions() lists.
SELECT array(SELECT jsonb_array_elements_text(:'e'::jsonb -> 'detail' -> 'allowed_events')) =
       array(SELECT event FROM order_system.order_transitions()
			  WHERE from_status = 'paid' AND outcome = 'move' ORDER BY event) AS allowed_match_catalog;
SELECT order_system.complete_order(:o1);
-- Completing an unpaid order: pay or cancel it first.
SELECT order_id AS unpaid FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :f)::jsonb,
	'card') \gset
SELECT regress.error_of(format('SELECT order_system.complete_order(%s)', :unpaid)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('order_id', :unpaid, 'status', 'pending_payment', 'event', 'complete',
													'allowed_events', jsonb_build_array('capture', 'decline', 'cancel', 'expire')) AS detail,
       :'e'::jsonb ->> 'hint' AS hint;
SELECT order_system.cancel_order(:unpaid);
-- A final order: no move is left, and no hint.
SELECT regress.error_of(format('SELECT order_system.refund_order(%s)', :o1)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate, :'e'::jsonb -> 'detail' ->> 'status' AS status,
       :'e'::jsonb -> 'detail' -> 'allowed_events' AS allowed_events, :'e'::jsonb ->> 'hint' AS hint;
SELECT regress.counts() AS before \gset

----------------------------------------------------------------- OS009 idempotency conflict
SELECT order_system.restock(:a, 10) > 0 AS restocked;
SELECT regress.counts() AS before \gset
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 2}]', 'card', 'err-key')$$,
							   :m, :a)) AS e \gset
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       :'e'::jsonb -> 'detail' = jsonb_build_object('idempotency_key', 'err-key', 'order_id', :o1) AS detail,
       :'e'::jsonb ->> 'hint' AS hint;
SELECT regress.counts() = :'before' AS nothing_written;
-- No payment_params and {} are the same request: both replay the first order.
SELECT order_id = :o1 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key', '{}');
SELECT order_id AS o2 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-2', '{}') \gset
SELECT order_id = :o2 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-2');
SELECT order_id = :o2 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-2', NULL);

-- Before 0.8.0 a request with {} was fingerprinted with the text "{}": a key
-- first used so (simulated here by storing that fingerprint, FNV-1a 64 of
-- the request as src/core/os_money.c hashes it) still replays its order.
CREATE FUNCTION regress.fnv(h numeric, b bytea) RETURNS numeric
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 0 .. length(b) - 1 LOOP
		h := h - mod(h, 256) + ((mod(h, 256))::int # get_byte(b, i));
		h := mod(h * 1099511628211, 18446744073709551616);
	END LOOP;
	RETURN h;
END
$$;
CREATE FUNCTION regress.int8_bytes(v bigint) RETURNS bytea
LANGUAGE sql AS $$
	SELECT string_agg(set_byte('\x00'::bytea, 0, ((v >> (8 * i)) & 255)::int), '' ORDER BY i)
	  FROM generate_series(0, 7) i
$$;
SELECT order_id AS o3 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-old') \gset
SELECT regress.fnv(regress.fnv(regress.fnv(regress.fnv(regress.fnv(14695981039346656037,
	regress.int8_bytes(:m)), convert_to('card', 'UTF8') || '\x00'::bytea), regress.int8_bytes(:a)),
	regress.int8_bytes(1)), convert_to('{}', 'UTF8') || '\x00'::bytea) AS old_fp \gset
SELECT regress.fnv(regress.fnv(regress.fnv(regress.fnv(regress.fnv(14695981039346656037,
	regress.int8_bytes(:m)), convert_to('card', 'UTF8') || '\x00'::bytea), regress.int8_bytes(:a)),
	regress.int8_bytes(1)), '\x00'::bytea) AS new_fp \gset
-- the simulation hashes as the core does: it gives the stored fingerprint
SELECT request_fingerprint = (CASE WHEN :new_fp >= 9223372036854775808
								   THEN :new_fp - 18446744073709551616 ELSE :new_fp END)::bigint AS hash_matches
  FROM order_system.orders WHERE id = :o3;
UPDATE order_system.orders
   SET request_fingerprint = (CASE WHEN :old_fp >= 9223372036854775808
								   THEN :old_fp - 18446744073709551616 ELSE :old_fp END)::bigint
 WHERE id = :o3;
SELECT order_id = :o3 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-old', '{}');
SELECT order_id = :o3 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'err-key-old');
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'card', 'err-key-old', '{"points": 1}')$$,
							   :m, :a)) ->> 'sqlstate' AS other_params;

----------------------------------------------------------------- OS017 rate limited
BEGIN;
SET LOCAL order_system.order_burst = 1;
SET LOCAL order_system.order_rate_limit = 1;
SELECT order_system.create_member('Rate', 'rate@example.com') AS r \gset
SELECT status FROM order_system.place_order(:r, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
SELECT regress.error_of(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'card')$$,
							   :r, :a)) AS e \gset
-- one a minute: a token comes back within 60 s (the transaction's clock
-- stands still, so the wait is a whole token's)
SELECT :'e'::jsonb ->> 'sqlstate' AS sqlstate,
       (:'e'::jsonb -> 'detail') - 'retry_after_s' = jsonb_build_object('member_id', :r, 'burst', 1, 'per_minute', 1) AS detail,
       (:'e'::jsonb -> 'detail' ->> 'retry_after_s')::numeric BETWEEN 0.001 AND 60 AS retry_after_s,
       jsonb_typeof(:'e'::jsonb -> 'detail' -> 'retry_after_s') AS retry_after_type,
       :'e'::jsonb ->> 'hint' AS hint;
ROLLBACK;

-- Every domain SQLSTATE that has a DETAIL object is one error_codes() documents.
SELECT name, sqlstate FROM order_system.error_codes()
 WHERE sqlstate IN ('OS005', 'OS006', 'OS007', 'OS009', 'OS017') ORDER BY sqlstate;

----------------------------------------------------------------- trace context
-- A W3C traceparent, version 00; empty means none.
SHOW order_system.traceparent;
SELECT regress.error_of($$SET order_system.traceparent = '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'$$)
	->> 'sqlstate' AS upper_case;
SELECT regress.error_of($$SET order_system.traceparent = '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'$$)
	->> 'detail' AS version_01;
SELECT regress.error_of($$SET order_system.traceparent = '00-00000000000000000000000000000000-00f067aa0ba902b7-01'$$)
	->> 'sqlstate' AS zero_trace_id;
SELECT regress.error_of($$SET order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'$$)
	->> 'sqlstate' AS zero_parent_id;
SELECT regress.error_of($$SET order_system.traceparent = 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'$$)
	->> 'sqlstate' AS version_ff;
SELECT regress.error_of($$SET order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x'$$)
	->> 'sqlstate' AS too_long;
SELECT regress.error_of($$SET order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01'$$)
	->> 'sqlstate' AS bad_separator;
\set VERBOSITY default
SET order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01';
\set VERBOSITY terse
SHOW order_system.traceparent;

-- Every event a transaction writes carries its traceparent, beside the
-- payload; events of other transactions carry none.
SELECT max(id) AS last_event FROM order_system.outbox \gset
BEGIN;
SET LOCAL order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
SELECT order_id AS t1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SELECT order_system.confirm_payment(:t1, 'gw-trace');
SELECT order_system.adjust_points(:m, 5, 'traced') > 0 AS adjusted;
COMMIT;
SELECT order_system.cancel_order(order_id) FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
SELECT event_type, trace_context, payload::jsonb ? 'trace_context' AS in_payload
  FROM order_system.outbox WHERE id > :last_event ORDER BY id;
SHOW order_system.traceparent;

-- The same through the executor (order_system.direct_writes off: every row
-- is written by an INSERT statement).
SELECT max(id) AS last_direct FROM order_system.outbox \gset
BEGIN;
SET LOCAL order_system.direct_writes = off;
SET LOCAL order_system.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
SELECT order_system.cancel_order(order_id) FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
COMMIT;
SELECT event_type, trace_context FROM order_system.outbox WHERE id > :last_direct ORDER BY id;

-- next_batch returns it as its last column.
SELECT order_system.register_consumer('err-trace', true);
SELECT event_type, trace_context FROM order_system.next_batch('err-trace') WHERE id > :last_event ORDER BY id;
SELECT order_system.unregister_consumer('err-trace');
