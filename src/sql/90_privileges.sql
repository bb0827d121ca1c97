---------------------------------------------------------------- privileges

-- PUBLIC gets nothing.  order_system_internal is the owner's alone: PUBLIC
-- has no privilege on a new schema, and no role is granted USAGE on it.
-- Its functions need no EXECUTE grant either: the extension's SECURITY
-- DEFINER functions call them as the owner, and PostgreSQL checks EXECUTE
-- on a trigger's function when the trigger is created, not when it fires.
-- A role you let write the tables directly needs EXECUTE (not USAGE: a
-- constraint names its function by OID) on the four functions their CHECK
-- constraints call.
REVOKE ALL ON SCHEMA order_system FROM PUBLIC;
GRANT USAGE ON SCHEMA order_system
TO order_system_admin, order_system_app, order_system_gateway, order_system_member,
	order_system_monitor, order_system_backup;

REVOKE ALL ON ALL TABLES IN SCHEMA order_system FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA order_system FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA order_system, order_system_internal FROM PUBLIC;

-- The one exception: whoever reads a member-scoped table runs its
-- hidden_rows_refused policy (70_row_security.sql), and a reader it
-- refuses must get its 42501, not "permission denied for function".
GRANT EXECUTE ON FUNCTION order_system_internal.refuse_hidden_rows(text) TO PUBLIC;

-- The app role calls the API; it cannot write tables directly.
GRANT EXECUTE ON FUNCTION
	order_system.create_member(text, text, bigint),
	order_system.place_order(bigint, jsonb, text, text, jsonb),
	order_system.cancel_order(bigint, text),
	order_system.get_member(bigint),
	order_system.get_product(bigint),
	order_system.get_order(bigint),
	order_system.points_history(bigint),
	order_system.order_transitions(),
	order_system.error_codes(),
	order_system.virtual_account_valid(text)
TO order_system_app;

-- Payment participants (a gateway, a bank feed) settle payments; apps
-- cannot.  Participants (the gateway, a relay to Kafka or NATS) consume
-- events.
GRANT EXECUTE ON FUNCTION
	order_system.confirm_payment(bigint, text),
	order_system.decline_payment(bigint, text),
	order_system.confirm_deposit(text, bigint),
	order_system.get_order(bigint),
	order_system.error_codes(),
	order_system.register_consumer(text, boolean),
	order_system.next_batch(text, bigint),
	order_system.ack_batch(text, bigint),
	order_system.consumer_status(),
	order_system.notifier_status()
TO order_system_gateway;

-- Operators call every function of the API and read every table; they too
-- write only through the functions.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA order_system TO order_system_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA order_system TO order_system_admin;

-- What a member role may call: its own orders and account, the catalog;
-- and read, row by row (70_row_security.sql): its member, orders, their
-- lines and payments, its ledger.
GRANT EXECUTE ON FUNCTION
	order_system.place_order(bigint, jsonb, text, text, jsonb),
	order_system.cancel_order(bigint, text),
	order_system.get_member(bigint),
	order_system.get_product(bigint),
	order_system.get_order(bigint),
	order_system.points_history(bigint),
	order_system.current_member_id(),
	order_system.order_transitions(),
	order_system.error_codes(),
	order_system.virtual_account_valid(text)
TO order_system_member;
GRANT SELECT ON order_system.member, order_system.orders, order_system.order_line,
	order_system.payment, order_system.points_ledger TO order_system_member;

-- The monitoring role reads counts and ages (87_metrics.sql) and the
-- notifier's and consumers' status: no table, no member, no order, and
-- no function that changes anything (metrics_reset() is the operators').
-- pg_monitor, the role monitoring agents such as postgres_exporter are
-- usually given, gets it.
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

-- The role a backup login is put in (README, "Backup, restore and
-- failover"): it reads every table and sequence pg_dump dumps, every row
-- with --enable-row-security (backup_reads_all, 70_row_security.sql),
-- and calls nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA order_system TO order_system_backup;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA order_system TO order_system_backup;
