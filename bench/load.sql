-- The bench data set: :members members with ample points, :products products
-- with ample stock (so no order of a workload fails), and :history completed
-- orders already in the tables.
SET client_min_messages = warning;
SELECT count(order_system.create_member('member ' || i, NULL, 1000000000))
  FROM generate_series(1, :members) i;
SELECT count(order_system.create_product('SKU-' || i, 'product ' || i, 1000 + i % 5000, 'KRW', 1000000000))
  FROM generate_series(1, :products) i;
SELECT count(order_system.complete_order((order_system.place_order(1 + i % :members,
			('[{"product_id": ' || 1 + i % :products || ', "quantity": 1}]')::jsonb, 'points')).order_id))
  FROM generate_series(1, :history) i;
VACUUM ANALYZE;
