/* order_system--0.5.0--0.6.0.sql: the consumer name rule as a domain.
 *
 * 0.6.0's library writes an order's rows and every outbox event without an
 * INSERT statement (src/rows.c); that needs no change to the SQL objects.
 * This script moves the last single-column CHECK constraint, the consumer
 * name's pattern, into a domain as 0.3.0 did the others: a table CHECK is
 * evaluated on every UPDATE of the row, and a listener's every wake-up
 * updates its consumer row (the regular expression was a sixth of the
 * wake-up's server work: bench/README.md).  A domain is checked only where
 * a name is stored.  register_consumer checks names first, with the same
 * message and SQLSTATE (22023) as before. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.6.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

-- consumer_status reads the column: dropped around the type change and
-- created again as it was (its result column stays text).
DROP FUNCTION order_system.consumer_status();

-- The domain's check takes the name the table's had (dropped first).
ALTER TABLE order_system.consumer DROP CONSTRAINT consumer_name_check;
CREATE DOMAIN order_system.consumer_name AS text
	CONSTRAINT consumer_name_check CHECK (VALUE ~ '^[a-z][a-z0-9_.-]{0,62}$');
COMMENT ON DOMAIN order_system.consumer_name IS 'A consumer''s name: a lower-case letter, then up to 62 of [a-z0-9_.-].';
ALTER TABLE order_system.consumer ALTER COLUMN name TYPE order_system.consumer_name;

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

REVOKE ALL ON FUNCTION order_system.consumer_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.consumer_status() TO order_system_gateway, order_system_admin;
