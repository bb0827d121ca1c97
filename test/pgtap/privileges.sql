-- privileges.sql: who may do what in order_system.
--
-- PUBLIC gets nothing; order_system_app and order_system_gateway touch no
-- table directly; order_system_admin reads every table and writes none
-- (which functions each role may call, and how each runs, is audited in
-- function_audit.sql).  Then, as the app role, an order goes through the API while a
-- direct table write is refused with 42501; the gateway role only settles
-- payments; last, nobody can make place_order call a handler of the wrong
-- shape, or register a function they do not own.
BEGIN;
SELECT plan(27);

---------------------------------------------------------------- PUBLIC

SELECT ok(NOT has_schema_privilege('public', 'order_system', 'USAGE, CREATE'),
	'PUBLIC has no privilege on schema order_system');
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r'
	   AND has_table_privilege('public', c.oid,
							   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	$$, 'PUBLIC has no privilege on any table');
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'S'
	   -- CASE: the planner may test rows of other kinds first
	   AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('public', c.oid, 'USAGE, SELECT, UPDATE') END
	$$, 'PUBLIC has no privilege on any sequence');

---------------------------------------------------------------- the app role

SELECT ok(has_schema_privilege('order_system_app', 'order_system', 'USAGE'),
	'order_system_app may use the schema');
SELECT ok(NOT has_schema_privilege('order_system_app', 'order_system', 'CREATE'),
	'order_system_app may not create objects in the schema');

---------------------------------------------------------------- the gateway role

SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind IN ('r', 'S')
	   AND has_table_privilege('order_system_gateway', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
	$$, 'order_system_gateway has no privilege on any table');
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r'
	   AND has_table_privilege('order_system_app', c.oid,
							   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	$$, 'order_system_app has no privilege on any table');
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'S'
	   -- CASE: the planner may test rows of other kinds first
	   AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('order_system_app', c.oid, 'USAGE, SELECT, UPDATE') END
	$$, 'order_system_app has no privilege on any sequence');

---------------------------------------------------------------- the admin role

SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r'
	   AND NOT has_table_privilege('order_system_admin', c.oid, 'SELECT')
	$$, 'order_system_admin may read every table');
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r'
	   AND has_table_privilege('order_system_admin', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
	$$, 'order_system_admin writes no table directly, only through the functions');

---------------------------------------------------------------- acting as the app role

SELECT order_system.create_product('PRIV-1', 'privilege probe', 1200, 'KRW', 5) AS product_id \gset

SET ROLE order_system_app;
SELECT is(current_user::text, 'order_system_app', 'now acting as order_system_app');
SELECT order_system.create_member('App Buyer', 'app.buyer@example.com') AS member_id \gset
SELECT results_eq(
	format($$SELECT status, total_amount, payment_status, replayed
			  FROM order_system.place_order(%s, '[{"product_id": %s, "quantity": 2}]', 'card')$$,
		   :member_id, :product_id),
	$$VALUES ('pending_payment'::text, 2400::bigint, 'pending'::text, false)$$,
	'the app role places a card order through the API');
SELECT is((order_system.get_product(:product_id)).stock_reserved, 2::bigint,
	'the app role reads the reservation through get_product');
SELECT throws_ok(
	format($$INSERT INTO order_system.orders (member_id, currency, total_amount, payment_method)
			 VALUES (%s, 'KRW', 0, 'card')$$, :member_id),
	'42501', NULL, 'the app role cannot insert an order directly');
SELECT throws_ok(
	format('UPDATE order_system.product SET stock_available = stock_available + 100,'
		   ' stock_received = stock_received + 100 WHERE id = %s', :product_id),
	'42501', NULL, 'the app role cannot change stock directly');
SELECT throws_ok('SELECT * FROM order_system.member', '42501', NULL,
	'the app role cannot read the member table directly');
SELECT throws_ok('DELETE FROM order_system.outbox', '42501', NULL,
	'the app role cannot delete outbox events');
SELECT throws_ok(format('SELECT order_system.restock(%s, 100)', :product_id), '42501', NULL,
	'the app role cannot call an operator function (restock)');
SELECT throws_ok(format('SELECT order_system.adjust_points(%s, 1000000, %L)', :member_id, 'gift'),
	'42501', NULL, 'the app role cannot grant itself points');
RESET ROLE;

SELECT results_eq(
	format($$SELECT o.status::text, l.quantity::bigint FROM order_system.orders o
			  JOIN order_system.order_line l ON l.order_id = o.id WHERE o.member_id = %s$$, :member_id),
	$$VALUES ('pending_payment'::text, 2::bigint)$$,
	'the app role''s order is stored, and only that one');

---------------------------------------------------------------- the registry

-- Only the owner of a handler may register it (checked against the calling
-- role, not the definer), the admin role cannot write the registry around
-- that check, and a row of the wrong shape written by a superuser makes
-- place_order fail cleanly instead of calling the function.
CREATE FUNCTION pg_temp.pay_nothing(bigint, bigint, bigint, text, jsonb) RETURNS jsonb
	LANGUAGE sql RETURN jsonb_build_object('external', $3);
SET ROLE order_system_admin;
SELECT throws_ok($$INSERT INTO order_system.payment_method (name, handler)
				   VALUES ('wrong_shape', 'pg_catalog.int8abs(bigint)')$$, '42501', NULL,
	'order_system_admin cannot write the registry directly');
SELECT throws_ok($$SELECT order_system.register_payment_method('nothing',
				   'pg_temp.pay_nothing(bigint,bigint,bigint,text,jsonb)')$$, '42501', NULL,
	'order_system_admin cannot register a function it does not own');
SELECT throws_ok($$SELECT order_system.register_payment_method('wrong_shape', 'pg_catalog.int8abs(bigint)')$$,
	'42501', NULL, 'nor a function of the wrong shape owned by someone else');
RESET ROLE;
SELECT throws_ok($$SELECT order_system.register_payment_method('wrong_shape', 'pg_catalog.int8abs(bigint)')$$,
	'22023', NULL, 'a superuser cannot register a function of the wrong shape');
SELECT throws_ok($$UPDATE order_system.payment_method SET handler = 'int8abs(bigint)' WHERE name = 'card'$$,
	'23514', NULL, 'the registry refuses a row naming a function of the wrong shape, even from a superuser');
-- A registered handler made again with another result type.
SELECT lives_ok($$SELECT order_system.register_payment_method('reshaped',
				  'pg_temp.pay_nothing(bigint,bigint,bigint,text,jsonb)')$$, 'a superuser registers its own handler');
DROP FUNCTION pg_temp.pay_nothing(bigint, bigint, bigint, text, jsonb);
CREATE FUNCTION pg_temp.pay_nothing(bigint, bigint, bigint, text, jsonb) RETURNS json
	LANGUAGE sql RETURN json_build_object('external', $3);
SELECT throws_ok(format($$SELECT * FROM order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'reshaped')$$,
				 :member_id, :product_id),
	'22023', NULL, 'a handler of the wrong shape makes place_order fail, not crash');

SELECT * FROM finish();
ROLLBACK;
