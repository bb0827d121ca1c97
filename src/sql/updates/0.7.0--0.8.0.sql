-- 0.7.0 -> 0.8.0: the internals move to schema order_system_internal.
--
-- Functions that only the extension's own code calls (argument checks,
-- consumer locking, the functions CHECK constraints and table guards call)
-- leave the API's schema.  ALTER FUNCTION ... SET SCHEMA keeps each
-- function's OID, so the constraints, triggers and SQL-standard bodies that
-- use them follow without being made again; the PL/pgSQL bodies that name
-- them are replaced by the current definitions after this part, with every
-- other function and comment.  Nothing that stores data changes.

-- Plain CREATE: a schema of that name made beforehand is refused.
CREATE SCHEMA order_system_internal;

ALTER FUNCTION order_system.require_arg(anyelement, text) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.raise_unknown_consumer(text) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.lock_consumer(text) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.cut_snapshot() SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.events_between(pg_snapshot, pg_snapshot) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.stock_adds_up(order_system.product) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.payment_adds_up(order_system.payment) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.bucket_adds_up(order_system.stock_bucket) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.ledger_delta_ok(order_system.ledger_kind, bigint) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.check_member_login(regrole) SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.refuse_delete() SET SCHEMA order_system_internal;
ALTER FUNCTION order_system.orders_status_guard() SET SCHEMA order_system_internal;

-- Nobody but the owner calls them now (see 90_privileges.sql): the
-- operators' EXECUTE goes.  Grants made by hand to other roles stay.
REVOKE ALL ON FUNCTION
	order_system_internal.require_arg(anyelement, text),
	order_system_internal.raise_unknown_consumer(text),
	order_system_internal.lock_consumer(text),
	order_system_internal.cut_snapshot(),
	order_system_internal.events_between(pg_snapshot, pg_snapshot),
	order_system_internal.stock_adds_up(order_system.product),
	order_system_internal.payment_adds_up(order_system.payment),
	order_system_internal.bucket_adds_up(order_system.stock_bucket),
	order_system_internal.ledger_delta_ok(order_system.ledger_kind, bigint),
	order_system_internal.check_member_login(regrole),
	order_system_internal.refuse_delete(),
	order_system_internal.orders_status_guard()
FROM order_system_admin;

-- Backups without a superuser: the role a backup login is put in, its
-- reads, and a loud refusal for readers that row-level security would
-- silently give an empty table (70_row_security.sql, 90_privileges.sql).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_backup') THEN
		CREATE ROLE order_system_backup NOLOGIN;
	END IF;
END
$roles$;
GRANT USAGE ON SCHEMA order_system TO order_system_backup;
GRANT SELECT ON ALL TABLES IN SCHEMA order_system TO order_system_backup;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA order_system TO order_system_backup;

CREATE POLICY backup_reads_all ON order_system.member FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.orders FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.order_line FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.payment FOR SELECT TO order_system_backup USING (true);
CREATE POLICY backup_reads_all ON order_system.points_ledger FOR SELECT TO order_system_backup USING (true);

-- The policies below name it, so it is made here (its current definition
-- follows with the others).
CREATE FUNCTION order_system_internal.refuse_hidden_rows(tab text)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN false;
END
$$;
REVOKE ALL ON FUNCTION order_system_internal.refuse_hidden_rows(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system_internal.refuse_hidden_rows(text) TO PUBLIC;

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

-- The PL/pgSQL functions that write call it first; made here so that the
-- owner alone executes it, as in a fresh install.
CREATE FUNCTION order_system_internal.require_writable(what text)
RETURNS void
AS 'MODULE_PATHNAME', 'os_require_writable_sql'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION order_system_internal.require_writable(text) FROM PUBLIC;
