-- 0.7.0 -> 0.8.0, after the current function definitions: the privileges
-- of the functions new in 0.8.0, as 90_privileges.sql gives them.

-- the metrics (87_metrics.sql): nobody but the owner, the operators and
-- the monitoring role
REVOKE ALL ON FUNCTION
	order_system_internal.metrics_preloaded(),
	order_system_internal.metrics_shared_counters(),
	order_system_internal.metrics_since(),
	order_system_internal.low_stock_threshold(),
	order_system.metrics_counters(),
	order_system.metrics_reset(),
	order_system.metrics_orders(),
	order_system.metrics_saga(),
	order_system.metrics_consumers(),
	order_system.metrics_outbox(),
	order_system.metrics_stock(),
	order_system.metrics_low_stock_products(integer)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	order_system.metrics_counters(),
	order_system.metrics_reset(),
	order_system.metrics_orders(),
	order_system.metrics_saga(),
	order_system.metrics_consumers(),
	order_system.metrics_outbox(),
	order_system.metrics_stock(),
	order_system.metrics_low_stock_products(integer)
TO order_system_admin;
GRANT EXECUTE ON FUNCTION
	order_system.metrics_counters(),
	order_system.metrics_orders(),
	order_system.metrics_saga(),
	order_system.metrics_consumers(),
	order_system.metrics_outbox(),
	order_system.metrics_stock(),
	order_system.metrics_low_stock_products(integer),
	order_system.consumer_status(),
	order_system.notifier_status()
TO order_system_monitor;
GRANT order_system_monitor TO pg_monitor;

-- consumer positions across clusters (60_events.sql): the internals are
-- the owner's; operators re-base
REVOKE ALL ON FUNCTION
	order_system_internal.system_identifier(),
	order_system_internal.position_trusted(bigint, pg_snapshot, pg_snapshot, pg_snapshot),
	order_system_internal.pending_events(pg_snapshot, bigint, boolean),
	order_system_internal.outbox_mark(),
	order_system_internal.prune_events(),
	order_system_internal.rebase_positions(),
	order_system.rebase_consumers()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.rebase_consumers() TO order_system_admin;

-- consumer owners (60_events.sql): consumer_status() was dropped for its
-- new result and gets its grants back; the owner check is the owner's,
-- handing a consumer over the operators'
REVOKE ALL ON FUNCTION
	order_system_internal.caller_role(),
	order_system_internal.require_consumer_owner(text, regrole),
	order_system.consumer_status(),
	order_system.set_consumer_owner(text, regrole)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.consumer_status()
TO order_system_gateway, order_system_admin, order_system_monitor;
GRANT EXECUTE ON FUNCTION order_system.set_consumer_owner(text, regrole) TO order_system_admin;

-- payment_method.handler's CHECK rule (30_payments.sql), now that its
-- function exists (the owner's alone); every row was written from a
-- regprocedure, so it holds.
REVOKE ALL ON FUNCTION order_system_internal.payment_handler_valid(text) FROM PUBLIC;
ALTER TABLE order_system.payment_method
	ADD CONSTRAINT payment_method_handler_valid CHECK (order_system_internal.payment_handler_valid(handler));

-- scale-out on Citus (88_scale_out.sql): the operators'
REVOKE ALL ON FUNCTION
	order_system_internal.managed_by_citus(regclass),
	order_system_internal.citus_reshape(),
	order_system.distribute_on_citus(integer)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.distribute_on_citus(integer) TO order_system_admin;
