-- place_order over distinct products: 2 lines, 70% card, 20% points, 10% bank transfer.
\set m random(1, :members)
\set p1 random(1, :products)
\set p2 random(1, :products)
\set r random(1, 100)
SELECT order_id FROM order_system.place_order(:m,
	('[{"product_id": ' || :p1 || ', "quantity": 1}, {"product_id": ' || :p2 || ', "quantity": 1}]')::jsonb,
	CASE WHEN :r <= 70 THEN 'card' WHEN :r <= 90 THEN 'points' ELSE 'bank_transfer' END);
