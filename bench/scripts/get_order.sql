-- get_order of a random order placed beforehand: one read, routed to the
-- order's member on Citus.
\set o random(1, :orders)
SELECT order_system.get_order(:o);
