-- Grows the order history fast, through the API (so check_invariants stays
-- clean): one transaction places and completes :batch points-paid orders.
-- Client c of :workers uses only members and products whose id - 1 is c
-- modulo :workers (members and products must be multiples of :workers), so
-- two clients never wait on, or deadlock over, each other's rows.
\set base random(0, 1000000)
SELECT count(order_system.complete_order((order_system.place_order(
		1 + (:client_id + :workers * (:base + i)) % :members,
		('[{"product_id": ' || 1 + (:client_id + :workers * (:base + i)) % :products || ', "quantity": 1}]')::jsonb,
		'points')).order_id))
  FROM generate_series(1, :batch) i;
