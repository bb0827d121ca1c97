-- 0.7.0 -> 0.8.0: the internals move to schema order_system_internal.
--
-- Functions that only the extension's own code calls (argument checks,
-- consumer locking, the functions CHECK constraints and table guards call)
-- leave the API's schema.  ALTER FUNCTION ... SET SCHEMA keeps each
-- function's OID, so the constraints, triggers and SQL-standard bodies that
-- use them follow without being made again; the PL/pgSQL bodies that name
-- them are replaced by the current definitions after this part, with every
-- other function and comment.  The one change to stored data: order_line
-- and payment get their order's member_id (the last part).

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

-- Consumer positions are stamped with the cluster they were cut in and
-- with the outbox id mark (60_events.sql).  Positions already ahead of this
-- cluster's snapshot were restored from elsewhere: stamp 0 makes the next
-- consumer call re-base them.
ALTER TABLE order_system.consumer
	ADD COLUMN system_identifier bigint,
	ADD COLUMN last_mark bigint,
	ADD COLUMN batch_mark bigint;
UPDATE order_system.consumer c
   SET system_identifier = CASE
		WHEN pg_catalog.pg_snapshot_xmax(c.last_snapshot) OPERATOR(pg_catalog.<=)
			 pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())
		 AND (c.batch_snapshot IS NULL
			  OR pg_catalog.pg_snapshot_xmax(c.batch_snapshot) OPERATOR(pg_catalog.<=)
				 pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()))
		THEN (pg_catalog.pg_control_system()).system_identifier ELSE 0 END,
	   last_mark = coalesce(pg_catalog.pg_sequence_last_value('order_system.outbox_id_seq'::pg_catalog.regclass), 0),
	   batch_mark = CASE WHEN c.batch_snapshot IS NOT NULL
		THEN coalesce(pg_catalog.pg_sequence_last_value('order_system.outbox_id_seq'::pg_catalog.regclass), 0) END;
ALTER TABLE order_system.consumer
	ALTER COLUMN system_identifier SET NOT NULL,
	ALTER COLUMN last_mark SET NOT NULL;
COMMENT ON TABLE order_system.consumer IS 'Outbox consumers and their acknowledged positions (transaction snapshots, stamped with the cluster they were cut in).';

-- A consumer belongs to the role that registered it (60_events.sql).
-- Consumers registered before 0.8.0 keep owner NULL: any role allowed to
-- call the consumer functions may still use them, as before, until an
-- operator hands them over (set_consumer_owner) or they are registered
-- again.  consumer_status() shows the owner: its result changes.
ALTER TABLE order_system.consumer ADD COLUMN owner regrole;
COMMENT ON COLUMN order_system.consumer.owner IS 'The role that registered the consumer: only its members, order_system_admin and superusers may use it; NULL (registered before 0.8.0): any role allowed to call the consumer functions.';
DROP FUNCTION order_system.consumer_status();

-- Events carry the trace context of the transaction that wrote them
-- (order_system.traceparent), and next_batch returns it.  batch_event is
-- only next_batch's result type: an attribute added at its end changes
-- nothing a caller reading the earlier columns sees.
ALTER TABLE order_system.outbox ADD COLUMN trace_context text;
COMMENT ON COLUMN order_system.outbox.trace_context IS 'The W3C traceparent (order_system.traceparent) of the transaction that wrote the event; NULL: none.';
ALTER TYPE order_system.batch_event ADD ATTRIBUTE trace_context text;

-- The read-only monitoring role (00_schema.sql); its grants follow the
-- metrics functions (0.7.0--0.8.0.after.sql).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_monitor') THEN
		CREATE ROLE order_system_monitor NOLOGIN;
	END IF;
END
$roles$;
GRANT USAGE ON SCHEMA order_system TO order_system_monitor;

-- payment_method.handler keeps the handler by name instead of by OID
-- (pg_upgrade refuses regprocedure columns): the text regprocedure prints
-- with search_path = pg_catalog, which resolves the same way in any
-- session.  Its CHECK rule comes with its function
-- (0.7.0--0.8.0.after.sql).  A handler dropped since it was registered
-- has no name left to keep.
DO $handler$
DECLARE
	saved text := pg_catalog.current_setting('search_path');
	gone text;
BEGIN
	SELECT pg_catalog.string_agg(m.name, ', ' ORDER BY m.name) INTO gone
	  FROM order_system.payment_method m
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) m.handler::pg_catalog.oid);
	IF gone IS NOT NULL THEN
		RAISE EXCEPTION 'the handlers of payment methods % no longer exist', gone
			USING ERRCODE = 'OS008',
			HINT = 'Point each at an existing handler (UPDATE order_system.payment_method SET handler = ...) and update again.';
	END IF;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true);
	ALTER TABLE order_system.payment_method ALTER COLUMN handler TYPE text USING handler::text;
	PERFORM pg_catalog.set_config('search_path', saved, true);
END
$handler$;
COMMENT ON COLUMN order_system.payment_method.handler IS 'The handler function''s signature as regprocedure prints it with search_path = pg_catalog: kept by name, so it survives pg_upgrade and dump/restore.';

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

-- order_line and payment carry their order's member: the key the tables are
-- distributed by on Citus (doc/scale-out.md), and what a member's role is
-- filtered on.  Every row is rewritten once.
ALTER TABLE order_system.order_line ADD COLUMN member_id bigint;
ALTER TABLE order_system.payment ADD COLUMN member_id bigint;
UPDATE order_system.order_line l SET member_id = o.member_id
  FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) l.order_id;
UPDATE order_system.payment p SET member_id = o.member_id
  FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) p.order_id;
DO $orphans$
BEGIN
	IF EXISTS (SELECT FROM order_system.order_line WHERE member_id IS NULL)
	   OR EXISTS (SELECT FROM order_system.payment WHERE member_id IS NULL) THEN
		RAISE EXCEPTION 'order lines or payments refer to orders that do not exist'
			USING ERRCODE = '23503',
				  HINT = 'SELECT * FROM order_system.check_invariants() lists them; repair them, then update again.';
	END IF;
END
$orphans$;
ALTER TABLE order_system.order_line ALTER COLUMN member_id SET NOT NULL;
ALTER TABLE order_system.payment ALTER COLUMN member_id SET NOT NULL;
DROP POLICY order_line_own ON order_system.order_line;
DROP POLICY payment_own ON order_system.payment;
CREATE POLICY order_line_own ON order_system.order_line FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY payment_own ON order_system.payment FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));

-- The member of each order by order id, filled on Citus only (40_orders.sql).
CREATE TABLE order_system.order_owner (
	order_id bigint PRIMARY KEY,
	member_id bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('order_system.order_owner', '');
REVOKE ALL ON order_system.order_owner FROM PUBLIC;
GRANT SELECT ON order_system.order_owner TO order_system_admin, order_system_backup;
