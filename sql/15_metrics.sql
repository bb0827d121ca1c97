-- Metrics on a server that does not preload order_system: no shared-memory
-- counters, so metrics_counters() counts rows (source 'tables') and
-- metrics_reset() says why it cannot.  What the read-only monitoring role
-- may and may not do.  The tests before this one left orders behind: the
-- counts are compared before and after this file's orders.
\set VERBOSITY terse
SELECT regress.restart_ids(150000);
SELECT order_system_internal.metrics_preloaded() AS preloaded;
SELECT DISTINCT source, since IS NULL AS no_since, rate_limited IS NULL AS no_refusal_count
  FROM order_system.metrics_counters();
SELECT regress.try('SELECT order_system.metrics_reset()');

SELECT order_system.create_member('Metrics', 'metrics@example.com', 500) AS m \gset
SELECT order_system.create_product('MX-1', 'Metered', 100, 'KRW', 50) AS p1 \gset
SELECT order_system.create_product('MX-2', 'Scarce', 100, 'KRW', 2) AS p2 \gset

CREATE TEMP TABLE counters0 AS SELECT * FROM order_system.metrics_counters();
CREATE TEMP TABLE states0 AS SELECT * FROM order_system.metrics_orders();
CREATE TEMP TABLE saga0 AS SELECT * FROM order_system.metrics_saga();

-- four card orders: one paid then refunded, one cancelled, one declined,
-- one left pending; one paid with points alone
SELECT order_id AS o1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p1)::jsonb, 'card') \gset
SELECT order_id AS o2 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p1)::jsonb, 'card') \gset
SELECT order_id AS o3 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p1)::jsonb, 'card') \gset
SELECT order_id AS o4 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p1)::jsonb, 'card') \gset
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p1)::jsonb, 'points');
SELECT order_system.confirm_payment(:o1, 'mx-1'), order_system.refund_order(:o1, 'returned'),
	   order_system.cancel_order(:o2, 'no'), order_system.decline_payment(:o3, 'declined');

SELECT c.method, c.placed - b.placed AS placed, c.paid - b.paid AS paid,
	   c.cancelled - b.cancelled AS cancelled, c.declined - b.declined AS declined,
	   c.expired - b.expired AS expired, c.refunded - b.refunded AS refunded,
	   c.compensations - b.compensations AS compensations, c.source
  FROM order_system.metrics_counters() c JOIN counters0 b USING (method)
 WHERE c.method IN ('card', 'points')
 ORDER BY c.method;
SELECT s.status, s.orders - b.orders AS added
  FROM order_system.metrics_orders() s JOIN states0 b USING (status) ORDER BY s.status;
SELECT (SELECT sum(orders) FROM order_system.metrics_orders()) = (SELECT count(*) FROM order_system.orders)
	   AS states_add_up;
SELECT s.pending_payment_orders - b.pending_payment_orders AS pending_added,
	   s.oldest_pending_payment_seconds >= 0 AS age_ok, s.overdue_orders >= 0 AS overdue_ok
  FROM order_system.metrics_saga() s, saga0 b;
SELECT events = (SELECT count(*) FROM order_system.outbox) AS outbox_counted,
	   oldest_event_seconds >= 0 AS age_ok, prunable_events <= events AS prunable_ok
  FROM order_system.metrics_outbox();

-- a consumer registered now has what comes next pending
SELECT order_system.register_consumer('metrics-watch');
SELECT order_system.cancel_order(:o4, 'later');
SELECT consumer, pending_events, oldest_pending_seconds >= 0 AS lag_ok,
	   seconds_since_ack >= 0 AS since_ok, batch_open
  FROM order_system.metrics_consumers() WHERE consumer = 'metrics-watch';

-- low stock: MX-2 (2 left) at threshold 2, not at 1
SET order_system.low_stock_threshold = 2;
SELECT sku, available FROM order_system.metrics_low_stock_products(1000000) WHERE sku LIKE 'MX-%';
SELECT threshold, low_stock_products >= 1 AS some_low, out_of_stock_products <= low_stock_products AS out_within_low
  FROM order_system.metrics_stock();
SET order_system.low_stock_threshold = 1;
SELECT sku, available FROM order_system.metrics_low_stock_products(1000000) WHERE sku LIKE 'MX-%';
SELECT count(*) FROM order_system.metrics_low_stock_products(0);
SELECT regress.try('SET order_system.low_stock_threshold = -1');
RESET order_system.low_stock_threshold;
SELECT threshold FROM order_system.metrics_stock();

-- the monitoring role reads the metrics and nothing else
GRANT USAGE ON SCHEMA regress TO order_system_monitor;
SET ROLE order_system_monitor;
SELECT count(*) > 0 AS reads_counters FROM order_system.metrics_counters();
SELECT count(*) AS states FROM order_system.metrics_orders();
SELECT preloaded FROM order_system.notifier_status();
SELECT regress.try(format('SELECT order_system.confirm_payment(%s, NULL)', :o4));
SELECT regress.try(format('SELECT order_system.cancel_order(%s, NULL)', :o4));
SELECT regress.try('SELECT count(*) FROM order_system.member');
SELECT regress.try('SELECT count(*) FROM order_system.orders');
SELECT regress.try(format('SELECT order_system.get_member(%s)', :m));
SELECT regress.try('SELECT order_system.metrics_reset()');
SELECT regress.try('SELECT order_system_internal.metrics_preloaded()');
SELECT regress.try('SET order_system.low_stock_threshold = 100');
RESET ROLE;
REVOKE USAGE ON SCHEMA regress FROM order_system_monitor;
SELECT pg_has_role('pg_monitor', 'order_system_monitor', 'USAGE') AS pg_monitor_has_it;
