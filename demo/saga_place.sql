-- The live saga: six card orders (one with points) go out; the gateway
-- participant, a separate program, answers them from the outbox.
\set QUIET on
\pset footer off
SELECT id AS joon FROM order_system.member WHERE email = 'joon@example.com' \gset
SELECT id AS sora FROM order_system.member WHERE email = 'sora@example.com' \gset
SELECT id AS pad FROM order_system.product WHERE sku = 'PAD-01' \gset
SELECT id AS mouse FROM order_system.product WHERE sku = 'MS-01' \gset
\echo
\echo '== 7. The live saga: card orders, a gateway program and a listener on the outbox'
SELECT o.order_id, o.status, o.total_amount, o.payment_status
  FROM generate_series(1, 5) i,
	   order_system.place_order(CASE WHEN i % 2 = 0 THEN :sora ELSE :joon END,
		   format('[{"product_id": %s, "quantity": %s}]', :pad, i)::jsonb, 'card') o
UNION ALL
SELECT o.order_id, o.status, o.total_amount, o.payment_status
  FROM order_system.place_order(:sora, format('[{"product_id": %s, "quantity": 1}]', :mouse)::jsonb,
								'points_card', payment_params => '{"points": 1000}') o
ORDER BY 1;
SELECT stock_available, stock_reserved, stock_sold FROM order_system.get_product(:pad);
