---------------------------------------------------------------- member-scoped reads

-- A member role reads, row by row: its member, orders, their lines and
-- payments, its ledger.  Forced, so that not even a table owner reads
-- around it (a superuser still does, and the API functions run as one and
-- filter themselves).  Operators read everything.
ALTER TABLE order_system.member ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.orders ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.order_line ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.payment ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.points_ledger ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- (SELECT current_member_id()) is computed once per statement, not per row.
CREATE POLICY member_own ON order_system.member FOR SELECT TO order_system_member
	USING (id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY orders_own ON order_system.orders FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY order_line_own ON order_system.order_line FOR SELECT TO order_system_member
	USING (EXISTS (SELECT FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) order_id));
CREATE POLICY payment_own ON order_system.payment FOR SELECT TO order_system_member
	USING (EXISTS (SELECT FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) order_id));
CREATE POLICY points_ledger_own ON order_system.points_ledger FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY admin_reads_all ON order_system.member FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.orders FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.order_line FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.payment FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.points_ledger FOR SELECT TO order_system_admin USING (true);
