-- The saga after placement: confirm_payment, decline_payment,
-- confirm_deposit, cancel_order, expire_orders, complete_order,
-- refund_order.  Each move's effects on stock, points and payment, the
-- events it writes; every repeat is a no-op that writes nothing; every move
-- the state machine forbids is OS007 and writes nothing.
\set VERBOSITY terse
SELECT regress.restart_ids(40000);
\set state 'SELECT o.id, o.status, o.status_reason, o.points_earned, p.status AS payment, p.gateway_ref FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id WHERE o.id IN '
\set stock 'SELECT sku, stock_available, stock_reserved, stock_sold FROM order_system.product WHERE sku LIKE ''S-%'' ORDER BY sku'
\set events 'SELECT event_type, payload::jsonb - ''expires_at'' AS payload FROM order_system.outbox WHERE aggregate_type = ''order'' AND aggregate_id = '

SELECT order_system.create_member('Saga', 'saga@example.com', 50000) AS m \gset
SELECT order_system.create_product('S-A', 'Saga A', 1000, 'KRW', 100) AS a \gset
SELECT order_system.create_product('S-B', 'Saga B', 3000, 'KRW', 10) AS b \gset
SELECT order_system.create_product('S-USD', 'Saga USD', 500, 'USD', 10) AS usd \gset

----------------------------------------------------------------- card: confirm, complete
SELECT order_id AS o1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :a)::jsonb, 'card') \gset
:stock;
SELECT order_system.confirm_payment(:o1, 'gw-1');
:state (:o1);
:stock;
-- A repeated confirmation changes nothing (not even the gateway reference).
SELECT regress.counts() AS before \gset
SELECT order_system.confirm_payment(:o1, 'gw-2');
SELECT order_system.confirm_payment(:o1);
SELECT regress.counts() = :'before' AS repeat_wrote_nothing;
:state (:o1);
-- A paid order cannot be declined, cancelled (refund it) or expired.
SELECT regress.try(format('SELECT order_system.decline_payment(%s)', :o1)) AS decline_paid;
SELECT regress.try(format('SELECT order_system.cancel_order(%s)', :o1)) AS cancel_paid;
SELECT regress.counts() = :'before' AS nothing_written;
-- complete: earns points_earn_rate (100 bp = 1%) of the 2000 paid by card.
SHOW order_system.points_earn_rate;
SELECT order_system.complete_order(:o1);
SELECT regress.counts() AS before \gset
SELECT order_system.complete_order(:o1);
SELECT regress.counts() = :'before' AS repeat_wrote_nothing;
:state (:o1);
SELECT kind, delta, order_id FROM order_system.points_history(:m) WHERE order_id = :o1;
-- Nothing leaves completed but a repeated complete.
SELECT regress.try(format('SELECT order_system.confirm_payment(%s)', :o1)) AS confirm,
       regress.try(format('SELECT order_system.decline_payment(%s)', :o1)) AS decline;
SELECT regress.try(format('SELECT order_system.cancel_order(%s)', :o1)) AS cancel,
       regress.try(format('SELECT order_system.refund_order(%s)', :o1)) AS refund;
SELECT regress.counts() = :'before' AS nothing_written;
:events :o1 ORDER BY id;

-- The earn rate is a setting: 250 bp of 3000 is 75 points.
SET order_system.points_earn_rate = 250;
SELECT order_id AS o2 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'card') \gset
SELECT order_system.confirm_payment(:o2), order_system.complete_order(:o2);
:state (:o2);
SELECT kind, delta FROM order_system.points_history(:m) WHERE order_id = :o2;
RESET order_system.points_earn_rate;

----------------------------------------------------------------- pending: illegal moves, unknown orders
SELECT order_id AS o3 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SELECT regress.counts() AS before \gset
SELECT regress.try(format('SELECT order_system.complete_order(%s)', :o3)) AS complete_unpaid;
SELECT regress.try(format('SELECT order_system.refund_order(%s)', :o3)) AS refund_unpaid;
SELECT regress.try('SELECT order_system.confirm_payment(999999)') AS confirm_unknown;
SELECT regress.try('SELECT order_system.decline_payment(999999)') AS decline_unknown;
SELECT regress.try('SELECT order_system.cancel_order(999999)') AS cancel_unknown;
SELECT regress.try('SELECT order_system.complete_order(999999)') AS complete_unknown;
SELECT regress.try('SELECT order_system.refund_order(999999)') AS refund_unknown;
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- card: decline
SELECT order_system.decline_payment(:o3, 'card declined by issuer');
:state (:o3);
:stock;
SELECT regress.counts() AS before \gset
SELECT order_system.decline_payment(:o3, 'again');
-- cancel after a decline is a repeat too: both lead to cancelled.
SELECT order_system.cancel_order(:o3, 'too late');
SELECT regress.counts() = :'before' AS repeats_wrote_nothing;
:state (:o3);
SELECT regress.try(format('SELECT order_system.confirm_payment(%s)', :o3)) AS confirm,
       regress.try(format('SELECT order_system.complete_order(%s)', :o3)) AS complete,
       regress.try(format('SELECT order_system.refund_order(%s)', :o3)) AS refund;
SELECT regress.counts() = :'before' AS nothing_written;
-- A decline writes no payment.voided: the gateway already knows.
:events :o3 ORDER BY id;

----------------------------------------------------------------- points_card: cancel refunds the points
SELECT order_id AS o4 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 3}]', :a)::jsonb,
	'points_card', NULL, '{"points": 1200}') \gset
SELECT points_balance FROM order_system.get_member(:m);
SELECT order_system.cancel_order(:o4, 'changed my mind');
SELECT points_balance FROM order_system.get_member(:m);
SELECT kind, delta, order_id, reason FROM order_system.points_history(:m) WHERE order_id = :o4;
:state (:o4);
SELECT regress.counts() AS before \gset
SELECT order_system.cancel_order(:o4), order_system.decline_payment(:o4);
SELECT regress.counts() = :'before' AS repeats_wrote_nothing;
:events :o4 ORDER BY id;

----------------------------------------------------------------- bank transfer: deposit, refund
SELECT order_id AS o5, payment_reference AS ref FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :a, :b)::jsonb, 'bank_transfer') \gset
SELECT :'ref' AS reference, order_system.virtual_account_valid(:'ref') AS valid;
SELECT regress.counts() AS before \gset
SELECT regress.try(format('SELECT order_system.confirm_deposit(%L, 4999)', :'ref')) AS too_little;
SELECT regress.try(format('SELECT order_system.confirm_deposit(%L, 5001)', :'ref')) AS too_much;
SELECT regress.try($$SELECT order_system.confirm_deposit('VA0000000000000000', 5000)$$) AS unknown_reference;
SELECT regress.counts() = :'before' AS nothing_written;
:state (:o5);
SELECT order_system.confirm_deposit(:'ref', 5000);
:state (:o5);
:stock;
SELECT regress.counts() AS before \gset
SELECT order_system.confirm_deposit(:'ref', 5000);
SELECT order_system.confirm_payment(:o5);
SELECT regress.counts() = :'before' AS repeats_wrote_nothing;
-- refund: sold stock back to available, payment refunded.
SELECT order_system.refund_order(:o5, 'damaged in transit');
:state (:o5);
:stock;
SELECT regress.counts() AS before \gset
SELECT order_system.refund_order(:o5, 'again');
SELECT regress.counts() = :'before' AS repeat_wrote_nothing;
SELECT regress.try(format('SELECT order_system.confirm_deposit(%L, 5000)', :'ref')) AS deposit_after_refund,
       regress.try(format('SELECT order_system.complete_order(%s)', :o5)) AS complete;
SELECT regress.try(format('SELECT order_system.cancel_order(%s)', :o5)) AS cancel,
       regress.try(format('SELECT order_system.decline_payment(%s)', :o5)) AS decline;
SELECT regress.counts() = :'before' AS nothing_written;
:events :o5 ORDER BY id;

----------------------------------------------------------------- refund of points and card parts
SELECT order_id AS o6 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb,
	'points_card', NULL, '{"points": 1000}') \gset
SELECT order_system.confirm_payment(:o6, 'gw-6');
SELECT points_balance FROM order_system.get_member(:m);
SELECT order_system.refund_order(:o6, 'returned');
SELECT points_balance FROM order_system.get_member(:m);
:state (:o6);
:events :o6 ORDER BY id;
-- A points-only order is paid at placement: confirm is a repeat; its refund
-- gives the points back and asks no gateway for money (no payment.refunded).
SELECT order_id AS o7, status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'points') \gset
SELECT :'status' AS placed, order_system.confirm_payment(:o7) AS confirm;
SELECT order_system.refund_order(:o7);
:events :o7 ORDER BY id;
-- Completing a points-only order earns nothing; nor does an order outside
-- the points currency.
SELECT order_id AS o8 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'points') \gset
SELECT order_id AS o9 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :usd)::jsonb, 'card') \gset
SELECT order_system.complete_order(:o8), order_system.confirm_payment(:o9), order_system.complete_order(:o9);
:state (:o8, :o9) ORDER BY o.id;
SELECT count(*) AS earn_rows FROM order_system.points_ledger WHERE order_id IN (:o8, :o9) AND kind = 'earn';

----------------------------------------------------------------- expiry
-- The deadline is payment_timeout from placement for cards.
SET order_system.payment_timeout = 1;
SELECT order_id AS e1, expires_at = now() + interval '1 second' AS expires_in_1s
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SELECT :'expires_in_1s' AS expires_in_1s;
RESET order_system.payment_timeout;
SELECT order_id AS e2 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb,
	'points_card', NULL, '{"points": 700}') \gset
SELECT order_id AS e3, payment_reference AS e3_ref FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'bank_transfer') \gset
SELECT order_id AS e4 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
-- Nothing is due yet but e1 (1 s): move the deadlines of e1, e2, e3 into the past.
UPDATE order_system.payment SET expires_at = now() - interval '1 minute' WHERE order_id IN (:e1, :e2, :e3);
SELECT regress.try('SELECT order_system.expire_orders(0)') AS zero_max;
SELECT points_balance FROM order_system.get_member(:m);
SELECT order_system.expire_orders(2);
SELECT order_system.expire_orders();
SELECT regress.counts() AS before \gset
SELECT order_system.expire_orders();
SELECT regress.counts() = :'before' AS nothing_left_to_expire;
SELECT points_balance FROM order_system.get_member(:m);
:state (:e1, :e2, :e3, :e4) ORDER BY o.id;
SELECT kind, delta, order_id, reason FROM order_system.points_history(:m) WHERE order_id = :e2;
:events :e2 ORDER BY id;
SELECT event_type, payload->>'payment_status' AS payment_status, payload->>'reason' AS reason
  FROM order_system.outbox WHERE aggregate_id IN (:e1, :e3) AND event_type IN ('order.expired', 'payment.voided')
 ORDER BY id;
-- Expired is final: a late payment or deposit is refused (return the money).
SELECT regress.try(format('SELECT order_system.confirm_payment(%s)', :e1)) AS late_confirm;
SELECT regress.try(format('SELECT order_system.confirm_deposit(%L, 1000)', :'e3_ref')) AS late_deposit;
SELECT regress.try(format('SELECT order_system.cancel_order(%s)', :e1)) AS cancel,
       regress.try(format('SELECT order_system.decline_payment(%s)', :e1)) AS decline;
SELECT regress.try(format('SELECT order_system.complete_order(%s)', :e1)) AS complete,
       regress.try(format('SELECT order_system.refund_order(%s)', :e1)) AS refund;
SELECT regress.counts() = :'before' AS nothing_written;
SELECT order_system.cancel_order(:e4, 'clean up');

----------------------------------------------------------------- settling after placement
-- An idempotent replay shows the order's current status.
SELECT order_id AS k1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'saga-key') \gset
SELECT order_system.confirm_payment(:k1);
SELECT order_id = :k1 AS same_order, status, payment_status, replayed
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card', 'saga-key');
-- A deactivated member's pending order still settles.
SELECT order_id AS d1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SELECT order_system.deactivate_member(:m);
SELECT order_system.confirm_payment(:d1), order_system.complete_order(:d1);

:stock;
SELECT status, count(*) FROM order_system.orders WHERE member_id = :m GROUP BY status ORDER BY status;
SELECT * FROM order_system.check_invariants();
