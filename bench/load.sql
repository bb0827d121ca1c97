-- The bench data set: :members members with ample points, :products products
-- with ample stock, so that no order of the workload fails.
SET client_min_messages = warning;
SELECT count(order_system.create_member('member ' || i, NULL, 1000000000))
  FROM generate_series(1, :members) i;
SELECT count(order_system.create_product('SKU-' || i, 'product ' || i, 1000 + i % 5000, 'KRW', 1000000000))
  FROM generate_series(1, :products) i;
