/* order_system--0.6.0--0.7.0.sql: place_order and next_batch return named row types.
 *
 * The result of a function with OUT parameters or RETURNS TABLE is a row
 * type made again from its pg_proc entry on every call, twice: by the
 * executor's function scan and by the function itself.  A named composite
 * type comes from the type cache instead.  In place_order that was 23 k of
 * 502 k instructions per order, in a listener's wake-up 9 k of 231 k
 * (bench/callgrind, bench/README.md).  Arguments, defaults, result columns
 * and their order stay as they were; callers see no difference.
 *
 * A function's result type cannot change in place: both are dropped and
 * created again with their comments and the extension's grants.  EXECUTE
 * granted on them to other roles by hand must be granted again. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.7.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

---------------------------------------------------------------- place_order

CREATE TYPE order_system.placed_order AS (
	order_id bigint,
	status text,
	total_amount bigint,
	currency text,
	payment_id bigint,
	payment_status text,
	payment_reference text,
	expires_at timestamptz,
	replayed boolean
);
COMMENT ON TYPE order_system.placed_order IS 'What place_order returns: the order, its payment, and whether it was a replay.';

DROP FUNCTION order_system.place_order(bigint, jsonb, text, text, jsonb);
CREATE FUNCTION order_system.place_order(
	member_id bigint,
	lines jsonb,
	payment_method text,
	idempotency_key text DEFAULT NULL,
	payment_params jsonb DEFAULT NULL)
RETURNS order_system.placed_order
AS 'MODULE_PATHNAME', 'os_place_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.place_order(bigint, jsonb, text, text, jsonb)
	IS 'Place an order: reserve stock, run the payment method''s strategy, write the order, its payment and its events.';

REVOKE ALL ON FUNCTION order_system.place_order(bigint, jsonb, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.place_order(bigint, jsonb, text, text, jsonb)
TO order_system_app, order_system_member, order_system_admin;

---------------------------------------------------------------- next_batch

CREATE TYPE order_system.batch_event AS (
	batch_id bigint,
	id bigint,
	tx_id xid8,
	event_type text,
	aggregate_type text,
	aggregate_id bigint,
	payload json,
	created_at timestamptz
);
COMMENT ON TYPE order_system.batch_event IS 'One event of a consumer''s batch, as next_batch returns it.';

DROP FUNCTION order_system.next_batch(text, bigint);
CREATE FUNCTION order_system.next_batch(consumer text, acked_batch bigint DEFAULT NULL)
RETURNS SETOF order_system.batch_event
AS 'MODULE_PATHNAME', 'os_next_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.next_batch(text, bigint)
	IS 'Acknowledge acked_batch (if not NULL), then the consumer''s open batch again, or the next one.';

REVOKE ALL ON FUNCTION order_system.next_batch(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.next_batch(text, bigint)
TO order_system_gateway, order_system_admin;
