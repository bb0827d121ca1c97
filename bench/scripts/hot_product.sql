-- Every order buys product 1 (a flash sale): one row lock for all clients.
\set m random(1, :members)
SELECT order_id FROM order_system.place_order(:m, '[{"product_id": 1, "quantity": 1}]', 'card');
