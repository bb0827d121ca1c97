/* order_system--0.4.0--0.5.0.sql: event payloads as stored JSON text, and
 * a batch acknowledged by the call that cuts the next one.
 *
 * The outbox's payload column becomes json: place_order and the other
 * writers build the text once and store it as it is, and a listener's fetch
 * sends the stored bytes (printing jsonb was half of the server's work per
 * delivered event: bench/README.md).  Stored payloads keep their text; new
 * ones list their members in the order the README's event catalog gives.
 *
 * next_batch(consumer, acked_batch) acknowledges acked_batch and cuts the
 * next batch with one lock and one update of the consumer's row; called
 * with one argument it is the next_batch of before. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.5.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

---------------------------------------------------------------- payload json

-- events_between (and consumer_status, which calls it) read the column:
-- dropped around the type change and created again as they were.
DROP FUNCTION order_system.consumer_status();
DROP FUNCTION order_system.events_between(pg_snapshot, pg_snapshot);

ALTER TABLE order_system.outbox
	ALTER COLUMN payload TYPE json USING payload::text::json;

CREATE FUNCTION order_system.events_between(lo pg_snapshot, hi pg_snapshot)
RETURNS SETOF order_system.outbox
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT e.* FROM order_system.outbox e
	 WHERE e.tx_id >= pg_snapshot_xmin(lo) AND e.tx_id < pg_snapshot_xmax(hi)
	   AND NOT pg_visible_in_snapshot(e.tx_id, lo) AND pg_visible_in_snapshot(e.tx_id, hi)
	 ORDER BY e.id;
END;

CREATE FUNCTION order_system.consumer_status()
RETURNS TABLE (name text, batch_id bigint, batch_open boolean, pending_events bigint,
			   acked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.name, c.batch_id, c.batch_snapshot IS NOT NULL,
		   (SELECT count(*) FROM order_system.events_between(c.last_snapshot, pg_current_snapshot())),
		   c.acked_at
	  FROM order_system.consumer c ORDER BY c.name;
END;

---------------------------------------------------------------- next_batch

DROP FUNCTION order_system.next_batch(text);

CREATE FUNCTION order_system.next_batch(consumer text, acked_batch bigint DEFAULT NULL)
RETURNS TABLE (batch_id bigint, id bigint, tx_id xid8, event_type text, aggregate_type text,
			   aggregate_id bigint, payload json, created_at timestamptz)
AS 'MODULE_PATHNAME', 'os_next_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.next_batch(text, bigint)
	IS 'Acknowledge acked_batch (if not NULL), then the consumer''s open batch again, or the next one.';

---------------------------------------------------------------- privileges, as before

REVOKE ALL ON FUNCTION
	order_system.events_between(pg_snapshot, pg_snapshot), order_system.consumer_status(),
	order_system.next_batch(text, bigint)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.consumer_status(), order_system.next_batch(text, bigint)
TO order_system_gateway;
GRANT EXECUTE ON FUNCTION
	order_system.events_between(pg_snapshot, pg_snapshot), order_system.consumer_status(),
	order_system.next_batch(text, bigint)
TO order_system_admin;
