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
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY payment_own ON order_system.payment FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY points_ledger_own ON order_system.points_ledger FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY admin_reads_all ON order_system.member FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.orders FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.order_line FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.payment FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.points_ledger FOR SELECT TO order_system_admin USING (true);

-- Backups.  pg_dump turns row_security off and fails when a policy would
-- filter a table, unless told --enable-row-security: then a role that no
-- policy lets read a table would dump none of its rows and exit 0.  A
-- member of order_system_backup reads every row with
-- --enable-row-security, without BYPASSRLS (which would reach every
-- table of the cluster); any other role that may SELECT these tables (a
-- pg_read_all_data member, a role granted SELECT by hand) gets 42501
-- instead of an empty result.
CREATE POLICY backup_reads_all ON order_system.member FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.orders FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.order_line FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.payment FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.points_ledger FOR SELECT TO order_system_backup USING (true);

CREATE OR REPLACE FUNCTION order_system_internal.refuse_hidden_rows(tab text)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_has_role(current_user, 'order_system_member', 'MEMBER')
		OR pg_has_role(current_user, 'order_system_admin', 'MEMBER')
		OR pg_has_role(current_user, 'order_system_backup', 'MEMBER') THEN
		RETURN false;			-- their own policies decide
	END IF;
	RAISE EXCEPTION 'row-level security would hide every row of % from role %', tab, current_user
		USING ERRCODE = '42501',
			  HINT = 'Read (or pg_dump --enable-row-security) as a member of order_system_backup, or as a role with BYPASSRLS.';
END
$$;
COMMENT ON FUNCTION order_system_internal.refuse_hidden_rows(text)
	IS 'Policy of the member-scoped tables: a reader no other policy serves gets 42501, not an empty table.';

-- Evaluated once per statement, and only when the table has a row to hide.
CREATE POLICY hidden_rows_refused ON order_system.member FOR SELECT TO PUBLIC
	USING ((SELECT order_system_internal.refuse_hidden_rows('order_system.member')));
CREATE POLICY hidden_rows_refused ON order_system.orders FOR SELECT TO PUBLIC
	USING ((SELECT order_system_internal.refuse_hidden_rows('order_system.orders')));
CREATE POLICY hidden_rows_refused ON order_system.order_line FOR SELECT TO PUBLIC
	USING ((SELECT order_system_internal.refuse_hidden_rows('order_system.order_line')));
CREATE POLICY hidden_rows_refused ON order_system.payment FOR SELECT TO PUBLIC
	USING ((SELECT order_system_internal.refuse_hidden_rows('order_system.payment')));
CREATE POLICY hidden_rows_refused ON order_system.points_ledger FOR SELECT TO PUBLIC
	USING ((SELECT order_system_internal.refuse_hidden_rows('order_system.points_ledger')));
