-- place_order: every built-in payment method, the columns it returns,
-- multi-line orders (repeated products merged), totals, stock and points
-- effects, the events it writes, idempotency keys, and its domain errors.
\set VERBOSITY terse
SELECT regress.restart_ids(30000);
\set cols 'order_id, status, total_amount, currency, payment_id, payment_status, payment_reference, expires_at IS NOT NULL AS expires, replayed'

SELECT order_system.create_member('Placer', 'placer@example.com', 100000) AS m \gset
SELECT order_system.create_member('Other', 'other@example.com') AS other \gset
SELECT order_system.create_product('PO-A', 'Apple box', 1000, 'KRW', 100) AS a \gset
SELECT order_system.create_product('PO-B', 'Banana box', 2500, 'KRW', 50) AS b \gset
SELECT order_system.create_product('PO-C', 'Cherry box', 7000, 'KRW', 3) AS c \gset
SELECT order_system.create_product('PO-USD', 'Import box', 300, 'USD', 10) AS usd \gset
SELECT max(id) AS ev FROM order_system.outbox \gset

-- card: pending until the gateway answers, for payment_timeout (900 s).
SELECT :cols, expires_at = now() + interval '900 seconds' AS expires_in_900s
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :a)::jsonb, 'card');
-- points: captured at once from the balance; no deadline.
SELECT :cols FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'points');
-- bank_transfer: a virtual account reference, valid for bank_transfer_ttl (3 days).
SELECT :cols, order_system.virtual_account_valid(payment_reference) AS reference_valid,
       expires_at = now() + interval '3 days' AS expires_in_3_days
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 3}]', :a)::jsonb, 'bank_transfer');
-- points_card: params.points from the balance at once, the rest by card.
SELECT :cols FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 4}]', :a)::jsonb,
                                           'points_card', NULL, '{"points": 1500}');
-- points_card covering the whole total is paid at once.
SELECT :cols FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb,
                                           'points_card', NULL, '{"points": 1000}');
-- points_card with no points is all card.
SELECT :cols FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb,
                                           'points_card', NULL, '{"points": 0}');
-- Another currency (card; points pay only KRW orders).
SELECT :cols FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :usd)::jsonb, 'card');

-- What each order stored: status, amounts and how the payment splits.
SELECT o.id, o.status, o.payment_method, o.total_amount, o.currency,
       p.method, p.status AS payment_status, p.amount, p.points_amount, p.external_amount,
       p.reference, p.expires_at IS NOT NULL AS expires
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
 WHERE o.member_id = :m ORDER BY o.id;
-- Points: 100000 - 2500 (points) - 1500 and 1000 (points_card) = 95000.
SELECT points_balance FROM order_system.get_member(:m);
SELECT kind, delta, order_id, reason FROM order_system.points_history(:m);
-- Stock: paid orders sold, pending ones reserved.
SELECT sku, stock_available, stock_reserved, stock_sold
  FROM order_system.product WHERE sku LIKE 'PO-%' ORDER BY sku;
-- Each order writes order.placed, then payment.requested (something is
-- pending outside) or order.paid (nothing is).
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT count(*) AS payment_requested_with_expires_at
  FROM order_system.outbox
 WHERE id > :ev AND event_type = 'payment.requested' AND json_typeof(payload->'expires_at') = 'string';

-- Lines: repeated products merge into one line, lines sort by product id,
-- the total is the sum of quantity * current price.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_id AS multi FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 3}]',
		   :b, :a, :b)::jsonb, 'card') \gset
SELECT order_system.get_order(:multi) - 'created_at' #- '{payment,expires_at}' AS multi_line_order;
SELECT payload->'lines' AS event_lines, payload->'total_amount' AS event_total
  FROM order_system.outbox WHERE id > :ev AND event_type = 'order.placed';
-- The payload is stored as the JSON text place_order wrote, members in
-- the event catalog's order (what next_batch and the listener send).
SELECT pg_typeof(payload) AS payload_type, payload AS stored_payload
  FROM order_system.outbox WHERE id > :ev AND event_type = 'order.placed';
-- The lines keep the price at order time.
SELECT order_system.set_price(:a, 1100);
SELECT order_system.get_order(:multi)->'lines' AS lines_after_repricing;
SELECT order_system.set_price(:a, 1000);

-- Idempotency: the same key with the same request replays the first order.
SELECT regress.counts() AS before_key \gset
SELECT order_id AS keyed, payment_id AS keyed_payment FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :a, :b)::jsonb,
	'card', 'order-key-1') \gset
SELECT regress.counts() AS after_key \gset
SELECT order_id = :keyed AS same_order, payment_id = :keyed_payment AS same_payment,
       status, total_amount, currency, payment_status, payment_reference,
       expires_at = (SELECT expires_at FROM order_system.payment WHERE order_id = :keyed) AS same_expiry, replayed
  FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :a, :b)::jsonb,
	'card', 'order-key-1');
-- The same request written differently (lines reordered or split) is the same request.
SELECT order_id = :keyed AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 2}]', :b, :a)::jsonb,
	'card', 'order-key-1');
SELECT order_id = :keyed AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 1}]',
		   :a, :b, :a)::jsonb, 'card', 'order-key-1');
-- No payment_params and {} are the same request.
SELECT order_id = :keyed AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :a, :b)::jsonb,
	'card', 'order-key-1', '{}');
SELECT regress.counts() = :'after_key' AS replays_wrote_nothing;
-- The same key with any other request is a conflict.
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 3}, {"product_id": %s, "quantity": 1}]', 'card', 'order-key-1')$$,
	:m, :a, :b)) AS other_quantity;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card', 'order-key-1')$$, :m, :a)) AS fewer_lines;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', 'bank_transfer', 'order-key-1')$$,
	:m, :a, :b)) AS other_method;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', 'card', 'order-key-1', '{"points": 1}')$$,
	:m, :a, :b)) AS other_params;
SELECT regress.counts() = :'after_key' AS conflicts_wrote_nothing;
-- Keys belong to a member: another member's same key is a new order.
SELECT order_id <> :keyed AS new_order, status, total_amount, replayed FROM order_system.place_order(:other,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :a, :b)::jsonb,
	'card', 'order-key-1');
-- A request that failed stored nothing under its key: the retry places the order.
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 4}]', 'card', 'order-key-2')$$, :m, :c)) AS out_of_stock;
SELECT order_system.restock(:c, 1);
SELECT status, total_amount, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 4}]', :c)::jsonb, 'card', 'order-key-2');
SELECT status, total_amount, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 4}]', :c)::jsonb, 'card', 'order-key-2');
-- points_card keys cover the params too.
SELECT status, total_amount, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'points_card', 'order-key-3', '{"points": 500}');
SELECT status, total_amount, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'points_card', 'order-key-3', '{"points": 500}');
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points_card', 'order-key-3', '{"points": 600}')$$, :m, :b)) AS other_points;

-- Domain errors; none of them writes anything.
SELECT order_system.create_member('Gone', 'gone@example.com', 100) AS gone \gset
SELECT order_system.deactivate_member(:gone);
SELECT order_system.create_product('PO-OLD', 'Old box', 100, 'KRW', 10) AS old \gset
SELECT order_system.deactivate_product(:old);
SELECT order_system.create_member('Poor', 'poor@example.com', 999) AS poor \gset
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(999999,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :a)) AS unknown_member;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :gone, :a)) AS inactive_member;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}, {"product_id": 999999, "quantity": 1}]', 'card')$$, :m, :a)) AS unknown_product;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 1}]', 'card')$$, :m, :a, :old)) AS inactive_product;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 5}]', 'card')$$, :m, :a, :c)) AS out_of_stock;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points')$$, :poor, :a)) AS insufficient_points;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points_card', NULL, '{"points": 1000}')$$, :poor, :a)) AS insufficient_points_split;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'cash')$$, :m, :a)) AS unknown_method;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'CARD')$$, :m, :a)) AS method_names_are_exact;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 1}]', 'card')$$, :m, :a, :usd)) AS mixed_currencies;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points')$$, :m, :usd)) AS points_for_usd;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points_card')$$, :m, :a)) AS points_card_without_points;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points_card', NULL, '{"points": 1001}')$$, :m, :a)) AS points_above_total;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'points_card', NULL, '{"points": -1}')$$, :m, :a)) AS negative_points;
SELECT regress.counts() = :'before' AS nothing_written;
-- The member's check comes first, then the method, then stock.
SELECT regress.try($$SELECT order_id FROM order_system.place_order(999999,
	'[{"product_id": 999999, "quantity": 1}]', 'cash')$$) AS member_first;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": 999999, "quantity": 1}]', 'cash')$$, :m)) AS then_method;

-- The last unit can be bought, and then no more.
SELECT order_system.restock(:c, 1);
SELECT status, total_amount FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :c)::jsonb, 'card');
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :c)) AS sold_out;
SELECT sku, stock_available, stock_reserved, stock_sold FROM order_system.get_product(:c);

SELECT * FROM order_system.check_invariants();
