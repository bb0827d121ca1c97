-- Walk orders through every payment path and show what each step did.
\pset footer off
\set QUIET on
\set VERBOSITY default
\set ON_ERROR_STOP on
SELECT id AS minji FROM order_system.member WHERE email = 'minji@example.com' \gset
SELECT id AS joon FROM order_system.member WHERE email = 'joon@example.com' \gset
SELECT id AS sora FROM order_system.member WHERE email = 'sora@example.com' \gset
SELECT id AS keyboard FROM order_system.product WHERE sku = 'KB-01' \gset
SELECT id AS mouse FROM order_system.product WHERE sku = 'MS-01' \gset
SELECT id AS pad FROM order_system.product WHERE sku = 'PAD-01' \gset
SELECT id AS monitor FROM order_system.product WHERE sku = 'MON-27' \gset

\echo
\echo '== 1. Card: Joon buys a keyboard and two mice; the gateway confirms; the order ships'
SELECT order_id, status, total_amount, payment_status, replayed
  FROM order_system.place_order(:joon,
		format('[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 2}]', :keyboard, :mouse)::jsonb,
		'card', idempotency_key => 'joon-cart-1') \gset card_
\echo placed order :card_order_id: :card_status, total :card_total_amount KRW, payment :card_payment_status
\echo 'a retry with the same idempotency key returns the same order:'
SELECT order_id, status, replayed FROM order_system.place_order(:joon,
		format('[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 2}]', :keyboard, :mouse)::jsonb,
		'card', idempotency_key => 'joon-cart-1');
SELECT order_system.confirm_payment(:card_order_id, 'gw-7731') AS "gateway confirms";
SELECT order_system.confirm_payment(:card_order_id, 'gw-7731') AS "confirmation delivered twice (no-op)";
SELECT order_system.complete_order(:card_order_id) AS "order completed";
SELECT points_balance AS "Joon's points (1% of 139000 earned)" FROM order_system.get_member(:joon);

\echo
\echo '== 2. Points: Minji pays a desk pad with points, captured at once'
SELECT order_id, status, total_amount, payment_status
  FROM order_system.place_order(:minji, format('[{"product_id": %s, "quantity": 1}]', :pad)::jsonb, 'points');
SELECT points_balance AS "Minji's points after 3000 spent" FROM order_system.get_member(:minji);

\echo
\echo '== 3. Bank transfer: Sora gets a virtual account, then the deposit arrives'
SELECT order_id, status, payment_reference, expires_at IS NOT NULL AS has_deadline
  FROM order_system.place_order(:sora, format('[{"product_id": %s, "quantity": 1}]', :mouse)::jsonb,
								'bank_transfer') \gset bank_
\echo order :bank_order_id waits for a deposit to :bank_payment_reference
\echo 'a deposit of the wrong amount is refused:'
\set ON_ERROR_STOP off
SELECT order_system.confirm_deposit(:'bank_payment_reference', 10);
\set ON_ERROR_STOP on
SELECT order_system.confirm_deposit(:'bank_payment_reference', 25000) AS "deposit of 25000 confirmed";

\echo
\echo '== 4. Points + card, declined: Minji buys the last monitor, 2000 from points, the rest by card'
SELECT order_id, status, total_amount, payment_status
  FROM order_system.place_order(:minji, format('[{"product_id": %s, "quantity": 1}]', :monitor)::jsonb,
								'points_card', payment_params => '{"points": 2000}') \gset split_
SELECT stock_available, stock_reserved FROM order_system.get_product(:monitor);
SELECT points_balance AS "Minji's points while pending" FROM order_system.get_member(:minji);
\echo 'Joon tries to buy the same monitor while it is reserved:'
\set ON_ERROR_STOP off
SELECT * FROM order_system.place_order(:joon, format('[{"product_id": %s, "quantity": 1}]', :monitor)::jsonb, 'card');
\set ON_ERROR_STOP on
SELECT order_system.decline_payment(:split_order_id, 'card declined by issuer') AS "gateway declines";
\echo 'compensation: the monitor is back in stock and the 2000 points are refunded'
SELECT stock_available, stock_reserved FROM order_system.get_product(:monitor);
SELECT points_balance AS "Minji's points after the refund" FROM order_system.get_member(:minji);
SELECT order_system.decline_payment(:split_order_id, 'card declined by issuer') AS "decline delivered twice (no-op)";


\echo
\echo '== 5. Minji logs in with her own role: she sees her orders, nobody else''s'
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_minji') THEN CREATE ROLE demo_minji LOGIN; END IF;
END $$;
SELECT order_system.set_member_login('demo_minji', :minji);
SET ROLE demo_minji;
SELECT id, status, total_amount FROM order_system.orders ORDER BY id;
SELECT order_system.get_order(:bank_order_id) AS "Sora's order, asked for by Minji";
\echo 'an order for Sora, placed from Minji''s role, is refused:'
\set ON_ERROR_STOP off
SELECT * FROM order_system.place_order(:sora, format('[{"product_id": %s, "quantity": 1}]', :mouse)::jsonb, 'card');
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '== 6. The rate limit: Hana may place order_system.order_burst orders at once (here 2), then OS017'
SELECT order_system.create_member('Choi Hana', 'hana@example.com') AS hana \gset
SET order_system.order_burst = 2;
SET order_system.order_rate_limit = 1;
SELECT o.order_id, o.status
  FROM generate_series(1, 2) i,
	   order_system.place_order(:hana, format('[{"product_id": %s, "quantity": %s}]', :mouse, i)::jsonb, 'card') o;
\echo 'the third order at once is refused:'
\set ON_ERROR_STOP off
SELECT order_id, status FROM order_system.place_order(:hana, format('[{"product_id": %s, "quantity": 1}]', :mouse)::jsonb, 'card');
\set ON_ERROR_STOP on
RESET order_system.order_burst;
RESET order_system.order_rate_limit;
SELECT id AS order_id, order_system.cancel_order(id, 'too many at once') AS "Hana cancels"
  FROM order_system.orders WHERE member_id = :hana ORDER BY 1;
