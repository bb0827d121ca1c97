-- function_audit.sql: every function of order_system against an allow-list.
--
-- The API lives in schema order_system; the internals (functions only the
-- extension's own functions, constraints and triggers call) in
-- order_system_internal, which no role but the owner may use.
--
-- For each function: whether it runs as its definer (SECURITY DEFINER), the
-- settings it pins, and exactly which of the extension's roles may execute
-- it.  A function added, dropped or changed in any of these without this
-- list changing too fails here, so every grant is made on purpose.  Also:
-- PUBLIC and any role outside the five executes nothing, every SECURITY
-- DEFINER function pins search_path = pg_catalog, pg_temp, and none is
-- leakproof.
BEGIN;
SELECT plan(6);

-- (function, SECURITY DEFINER, settings, roles that may execute it: the
-- order_system_ prefix left off)
CREATE TEMP TABLE allowed (fn text PRIMARY KEY, secdef boolean, config text, roles text);
INSERT INTO allowed VALUES
	('order_system.ack_batch(text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.adjust_points(bigint,bigint,text)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.cancel_order(bigint,text)', true,  'search_path=pg_catalog, pg_temp', 'admin app member'),
	('order_system.check_invariants()', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.clear_member_login(regrole)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.complete_order(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.confirm_deposit(text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.distribute_on_citus(integer)', true,  'search_path=pg_catalog, pg_temp; client_min_messages=warning', 'admin'),
	('order_system.confirm_payment(bigint,text)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.consumer_status()', true,  'search_path=pg_catalog, pg_temp', 'admin gateway monitor'),
	('order_system.rebase_consumers()', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.create_member(text,text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin app'),
	('order_system.create_product(text,text,bigint,text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.current_member_id()', true,  'search_path=pg_catalog, pg_temp', 'admin member'),
	('order_system.deactivate_member(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.deactivate_product(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.decline_payment(bigint,text)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.emit_event()', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.error_codes()', false, '', 'admin app gateway member'),
	('order_system.expire_orders(integer)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.get_member(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin app member'),
	('order_system.get_order(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin app gateway member'),
	('order_system.get_product(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin app member'),
	('order_system.next_batch(text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.metrics_consumers()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_counters()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_low_stock_products(integer)', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_orders()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_outbox()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_reset()', false, '', 'admin'),
	('order_system.metrics_saga()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.metrics_stock()', true,  'search_path=pg_catalog, pg_temp', 'admin monitor'),
	('order_system.notifier_status()', false, '', 'admin gateway monitor'),
	('order_system.order_transitions()', false, '', 'admin app member'),
	('order_system.pay_bank_transfer(bigint,bigint,bigint,text,jsonb)', false, '', 'admin'),
	('order_system.pay_card(bigint,bigint,bigint,text,jsonb)', false, '', 'admin'),
	('order_system.pay_points(bigint,bigint,bigint,text,jsonb)', false, '', 'admin'),
	('order_system.pay_points_card(bigint,bigint,bigint,text,jsonb)', false, '', 'admin'),
	('order_system.place_order(bigint,jsonb,text,text,jsonb)', true,  'search_path=pg_catalog, pg_temp', 'admin app member'),
	('order_system.place_order_trigger()', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.points_history(bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin app member'),
	('order_system.prune_outbox()', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.refund_order(bigint,text)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.register_consumer(text,boolean)', true,  'search_path=pg_catalog, pg_temp', 'admin gateway'),
	('order_system.register_payment_method(text,regprocedure,text)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.replay_consumer(text,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.set_consumer_owner(text,regrole)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.restock(bigint,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.set_flash_sale(bigint,integer)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.set_member_login(regrole,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.set_payment_method_enabled(text,boolean)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.set_price(bigint,bigint)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.unregister_consumer(text)', true,  'search_path=pg_catalog, pg_temp', 'admin'),
	('order_system.virtual_account_valid(text)', false, '', 'admin app member'),
	-- the internals: no role but the owner executes them (nor uses their schema)
	('order_system_internal.bucket_adds_up(order_system.stock_bucket)', false, '', ''),
	('order_system_internal.caller_role()', false, '', ''),
	('order_system_internal.citus_reshape()', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.check_member_login(regrole)', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.cut_snapshot()', false, '', ''),
	('order_system_internal.system_identifier()', false, '', ''),
	('order_system_internal.position_trusted(bigint,pg_snapshot,pg_snapshot,pg_snapshot)', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.outbox_mark()', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.pending_events(pg_snapshot,bigint,boolean)', true,  'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.prune_events()', true,  'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.rebase_positions()', true,  'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.events_between(pg_snapshot,pg_snapshot)', true,  'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.ledger_delta_ok(order_system.ledger_kind,bigint)', false, '', ''),
	('order_system_internal.lock_consumer(text)', true,  'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.low_stock_threshold()', false, '', ''),
	('order_system_internal.managed_by_citus(regclass)', false, '', ''),
	('order_system_internal.metrics_preloaded()', false, '', ''),
	('order_system_internal.metrics_shared_counters()', false, '', ''),
	('order_system_internal.metrics_since()', false, '', ''),
	('order_system_internal.orders_status_guard()', false, '', ''),
	('order_system_internal.payment_adds_up(order_system.payment)', false, '', ''),
	('order_system_internal.payment_handler_valid(text)', false, '', ''),
	('order_system_internal.raise_unknown_consumer(text)', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.refuse_delete()', false, 'search_path=pg_catalog, pg_temp', ''),
	-- executed by PUBLIC: the policy every reader of a member-scoped table runs
	('order_system_internal.refuse_hidden_rows(text)', false, 'search_path=pg_catalog, pg_temp', 'admin app gateway member monitor'),
	('order_system_internal.require_arg(anyelement,text)', false, 'search_path=pg_catalog, pg_temp', ''),
	('order_system_internal.require_consumer_owner(text,regrole)', false, '', ''),
	('order_system_internal.require_writable(text)', false, '', ''),
	('order_system_internal.stock_adds_up(order_system.product)', false, '', '');

CREATE TEMP TABLE actual AS
SELECT p.oid::regprocedure::text AS fn, p.prosecdef AS secdef,
	   coalesce(array_to_string(p.proconfig, '; '), '') AS config,
	   array_to_string(ARRAY(SELECT replace(r, 'order_system_', '')
							   FROM unnest('{order_system_admin,order_system_app,order_system_gateway,order_system_member,order_system_monitor}'::text[]) r
							  WHERE has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY 1), ' ') AS roles
  FROM pg_catalog.pg_proc p WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace);

SELECT set_eq('SELECT * FROM actual', 'SELECT * FROM allowed',
	'every function has exactly the security, settings and grants of the allow-list');

SELECT is_empty($$
	SELECT p.oid::regprocedure, a.grantee::regrole
	  FROM pg_catalog.pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	 WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace)
	   AND a.grantee <> p.proowner
	   AND NOT (p.oid = 'order_system_internal.refuse_hidden_rows(text)'::regprocedure AND a.grantee = 0)
	   AND (a.grantee = 0 OR a.grantee::regrole::text NOT IN
			('order_system_admin', 'order_system_app', 'order_system_gateway', 'order_system_member',
			 'order_system_monitor'))
	$$, 'no function but the refuse_hidden_rows policy is granted to PUBLIC or to a role outside the extension''s five');

SELECT is_empty($$
	SELECT fn FROM actual WHERE secdef AND config NOT LIKE 'search_path=pg_catalog, pg_temp%'
	$$, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp first');

SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace) AND p.proleakproof
	$$, 'no function claims to be leakproof');

-- A member role reaches only its own account and orders, and the catalog.
SELECT set_eq($$SELECT fn FROM actual WHERE roles LIKE '%member%'
				  AND fn <> 'order_system_internal.refuse_hidden_rows(text)'$$, $$ VALUES
	('order_system.place_order(bigint,jsonb,text,text,jsonb)'), ('order_system.cancel_order(bigint,text)'),
	('order_system.get_member(bigint)'), ('order_system.get_order(bigint)'),
	('order_system.points_history(bigint)'), ('order_system.get_product(bigint)'),
	('order_system.current_member_id()'), ('order_system.order_transitions()'),
	('order_system.error_codes()'), ('order_system.virtual_account_valid(text)') $$,
	'order_system_member executes only the member-scoped API');

-- Nobody but the owner reaches the internals, whatever EXECUTE says.
SELECT is_empty($$
	SELECT r FROM unnest('{public,order_system_admin,order_system_app,order_system_gateway,order_system_member,order_system_monitor}'::text[]) r
	 WHERE has_schema_privilege(r, 'order_system_internal', 'USAGE, CREATE')
	$$, 'no role but the owner may use schema order_system_internal');

SELECT * FROM finish();
ROLLBACK;
