-- A skewed catalogue: products drawn from a zipfian distribution (s = 1.1).
\set m random(1, :members)
\set p1 random_zipfian(1, :products, 1.1)
\set p2 random_zipfian(1, :products, 1.1)
SELECT order_id FROM order_system.place_order(:m,
	('[{"product_id": ' || :p1 || ', "quantity": 1}, {"product_id": ' || :p2 || ', "quantity": 1}]')::jsonb,
	'card');
