-- Helpers shared by the regression files (schema "regress", not part of the
-- extension): run a statement and show its error with the SQLSTATE, count
-- what the extension stores, restart id sequences per file, list events.
\set VERBOSITY terse

CREATE SCHEMA regress;

-- The first column of the statement's first row as text ('ok' when there is
-- none or it is empty), or 'SQLSTATE: message' when it fails.
CREATE FUNCTION regress.try(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE sql INTO r;
	RETURN coalesce(nullif(r, ''), 'ok');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Rows in every table, plus stock and points totals: equal before and after
-- a failed call shows that it wrote nothing.
CREATE FUNCTION regress.counts() RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'member', (SELECT count(*) FROM order_system.member),
	'product', (SELECT count(*) FROM order_system.product),
	'payment_method', (SELECT count(*) FROM order_system.payment_method),
	'orders', (SELECT count(*) FROM order_system.orders),
	'order_line', (SELECT count(*) FROM order_system.order_line),
	'payment', (SELECT count(*) FROM order_system.payment),
	'points_ledger', (SELECT count(*) FROM order_system.points_ledger),
	'outbox', (SELECT count(*) FROM order_system.outbox),
	'stock', (SELECT jsonb_build_array(coalesce(sum(stock_available), 0),
									   coalesce(sum(stock_reserved), 0), coalesce(sum(stock_sold), 0))
				FROM order_system.product),
	'points', (SELECT coalesce(sum(points_balance), 0) FROM order_system.member))
$$;

-- Make the ids a file creates start after base, whatever ran before it.
CREATE FUNCTION regress.restart_ids(base bigint) RETURNS text
LANGUAGE sql AS $$
SELECT format('%s sequences restart at %s', count(setval(c.oid::regclass, base)), base + 1)
  FROM pg_class c
 WHERE c.relkind = 'S' AND c.relnamespace = 'order_system'::regnamespace
$$;

-- The outbox after event id "after", without timestamps.
CREATE FUNCTION regress.events(after bigint)
RETURNS TABLE (id bigint, event_type text, aggregate text, payload jsonb)
LANGUAGE sql AS $$
SELECT e.id, e.event_type, e.aggregate_type || ' ' || e.aggregate_id, e.payload::jsonb - 'expires_at'
  FROM order_system.outbox e
 WHERE e.id > after
 ORDER BY e.id
$$;

-- The extension is installed and empty but for the built-in payment methods.
SELECT extversion FROM pg_extension WHERE extname = 'order_system';
SELECT regress.counts();
SELECT name, handler, enabled, builtin FROM order_system.payment_method ORDER BY name;
SELECT regress.try('SELECT 1/0'), regress.try('SELECT 42'), regress.try('SELECT NULL');
