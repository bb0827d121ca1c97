-- After the gateway answered: ship what was paid, show what was compensated.
\set QUIET on
\pset footer off
SELECT id AS pad FROM order_system.product WHERE sku = 'PAD-01' \gset
\echo 'the gateway answered; the paid orders ship:'
SELECT o.id AS order_id, o.status AS after_gateway, p.status AS payment, p.gateway_ref,
	   CASE WHEN o.status = 'paid' THEN order_system.complete_order(o.id) ELSE o.status END AS now
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
 WHERE o.payment_method IN ('card', 'points_card') AND o.id > :base
 ORDER BY o.id;
\echo 'declined orders were compensated: their reserved pads are back in stock (and points they spent refunded):'
SELECT stock_available, stock_reserved, stock_sold FROM order_system.get_product(:pad);
SELECT m.name, l.kind, l.delta, l.order_id
  FROM order_system.points_ledger l JOIN order_system.member m ON m.id = l.member_id
 WHERE l.order_id > :base ORDER BY l.id;
\echo
\echo '== The consumers'
SELECT name, batch_id AS batches, pending_events FROM order_system.consumer_status();
SELECT preloaded, running, commits AS event_commits, notifies AS wake_ups
  FROM order_system.notifier_status();
\echo
\echo '== Invariant check (no rows: stock, points, payments and events all agree)'
SELECT * FROM order_system.check_invariants();
