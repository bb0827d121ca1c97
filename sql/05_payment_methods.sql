-- Payment strategies: the built-in handlers called directly, methods
-- registered with handlers in SQL and PL/pgSQL (run as their owner), orders
-- placed with each, handlers that return invalid plans (OS013), registry
-- errors, and enabling/disabling methods.
\set VERBOSITY terse
SELECT regress.restart_ids(50000);

SELECT order_system.create_member('Payer', 'payer@example.com', 100000) AS m \gset
SELECT order_system.create_product('PM-A', 'Method A', 1000, 'KRW', 1000) AS a \gset
SELECT order_system.create_product('PM-USD', 'Method USD', 100, 'USD', 100) AS usd \gset

----------------------------------------------------------------- built-in handlers
-- Each returns the plan it would make: points now, external later, deadline, reference.
SELECT order_system.pay_points(7, 1, 10000, 'KRW', NULL);
SELECT order_system.pay_card(7, 1, 10000, 'KRW', NULL);
SELECT order_system.pay_bank_transfer(7, 1, 10000, 'KRW', NULL);
SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": 2500}');
SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": 10000}');
SELECT order_system.pay_points(7, 1, 0, 'KRW', NULL), order_system.pay_card(7, 1, 0, 'KRW', NULL);
-- Deadlines follow the settings.
SET order_system.payment_timeout = 60;
SET order_system.bank_transfer_ttl = '1h';
SELECT order_system.pay_card(7, 1, 10000, 'KRW', NULL)->'expires_in_seconds' AS card,
       order_system.pay_bank_transfer(7, 1, 10000, 'KRW', NULL)->'expires_in_seconds' AS bank_transfer,
       order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": 1}')->'expires_in_seconds' AS points_card;
RESET order_system.payment_timeout;
RESET order_system.bank_transfer_ttl;
-- The virtual account is VA + the order id in 15 digits + a Luhn digit.
SELECT n, ref, order_system.virtual_account_valid(ref) AS valid
  FROM (VALUES (1), (42), (999999999999999)) v(n),
       LATERAL (SELECT order_system.pay_bank_transfer(n, 1, 1, 'KRW', NULL)->>'reference') r(ref);
SELECT regress.try($$SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', NULL)$$) AS no_points;
SELECT regress.try($$SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": 10001}')$$) AS points_above_amount;
SELECT regress.try($$SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": -1}')$$) AS negative_points;
SELECT regress.try($$SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": 2.5}')$$) AS fractional_points;
SELECT regress.try($$SELECT order_system.pay_points_card(7, 1, 10000, 'KRW', '{"points": "2500"}')$$) AS string_points;
SELECT regress.try($$SELECT order_system.pay_card(7, 1, -1, 'KRW', NULL)$$) AS negative_amount;

----------------------------------------------------------------- registered handlers
-- SQL: half from points, half outside, with a reference the participant quotes.
CREATE FUNCTION regress.pay_half(order_id bigint, member_id bigint, amount bigint,
								 currency text, params jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object('points', amount / 2, 'external', amount - amount / 2,
						  'reference', 'HALF-' || order_id);
-- PL/pgSQL: all outside, valid for params.minutes (default 2), and run as
-- its owner (the reference names the role it ran as).
CREATE ROLE regress_order_handler NOLOGIN;
CREATE FUNCTION regress.pay_voucher(order_id bigint, member_id bigint, amount bigint,
									currency text, params jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF params ? 'refuse' THEN
		RAISE EXCEPTION 'voucher % refused', params->>'refuse' USING ERRCODE = 'P0001';
	END IF;
	RETURN jsonb_build_object('external', amount,
							  'expires_in_seconds', 60 * coalesce((params->>'minutes')::int, 2),
							  'reference', current_user || '-' || order_id);
END
$$;
ALTER FUNCTION regress.pay_voucher(bigint, bigint, bigint, text, jsonb) OWNER TO regress_order_handler;

SELECT order_system.register_payment_method('half_points',
	'regress.pay_half(bigint,bigint,bigint,text,jsonb)', 'half points, half outside');
SELECT order_system.register_payment_method('voucher',
	'regress.pay_voucher(bigint,bigint,bigint,text,jsonb)');
SELECT name, handler, enabled, builtin, description FROM order_system.payment_method
 WHERE NOT builtin ORDER BY name;

SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_id AS h1, status, total_amount, payment_status, payment_reference, expires_at = now() + interval '900 s' AS expires_900s
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 3}]', :a)::jsonb, 'half_points') \gset
SELECT :h1 AS order_id, :'status' AS status, :total_amount AS total, :'payment_status' AS payment_status,
       :'payment_reference' AS reference, :'expires_900s' AS expires_900s;
SELECT order_id AS v1, status, payment_reference, expires_at = now() + interval '5 minutes' AS expires_5min
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :a)::jsonb, 'voucher',
                                NULL, '{"minutes": 5}') \gset
SELECT :v1 AS order_id, :'status' AS status, :'payment_reference' AS reference, :'expires_5min' AS expires_5min;
SELECT o.id, o.payment_method, o.status, p.amount, p.points_amount, p.external_amount, p.reference
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
 WHERE o.id IN (:h1, :v1) ORDER BY o.id;
SELECT points_balance FROM order_system.get_member(:m);
SELECT event_type, aggregate, payload FROM regress.events(:ev);
-- A reference from a handler can be quoted to confirm_deposit, like a virtual account.
SELECT order_system.confirm_deposit('HALF-' || :h1, 1500);
SELECT order_system.confirm_payment(:v1, 'voucher-ok');
-- A handler's own error reaches the caller; nothing is written, and the
-- caller is back to its own role.
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'voucher', NULL, '{"refuse": "V-9"}')$$, :m, :a)) AS handler_error;
SELECT regress.counts() = :'before' AS nothing_written, current_user;
-- Points still pay only for points-currency orders.
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 2}]', 'half_points')$$, :m, :usd)) AS half_points_in_usd;
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- invalid plans
-- One handler that returns params.plan as its plan.
CREATE FUNCTION regress.pay_as_told(order_id bigint, member_id bigint, amount bigint,
									currency text, params jsonb)
RETURNS jsonb LANGUAGE sql RETURN params->'plan';
SELECT order_system.register_payment_method('as_told', 'regress.pay_as_told(bigint,bigint,bigint,text,jsonb)');
-- Good plans (the line costs 1000): the sum adds up.
SELECT status, payment_status, payment_reference FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'as_told', NULL,
	'{"plan": {"points": 400, "external": 600, "reference": "TOLD-1"}}');
SELECT status, payment_status, payment_reference FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'as_told', NULL, '{"plan": {"points": 1000}}');
SELECT status, payment_status, payment_reference FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'as_told', NULL, '{"plan": {"external": 1e3}}');
-- Every invalid plan is OS013 and writes nothing.
SELECT regress.counts() AS before \gset
SELECT plan, left(regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'as_told', NULL, %L)$$, :m, :a, jsonb_build_object('plan', plan))), 5) AS sqlstate
  FROM (VALUES
	('{"points": 0, "external": 999}'::jsonb),
	('{"points": 500, "external": 501}'),
	('{"points": 9223372036854775807, "external": 1}'),
	('{"points": -1, "external": 1001}'),
	('{"external": 1000, "tip": 5}'),
	('{"external": 1000, "points": null}'),
	('{}'),
	('null'),
	('[1000]'),
	('1000'),
	('"external"'),
	('{"external": 1000, "expires_in_seconds": -1}'),
	('{"external": 1000, "expires_in_seconds": 9223372036854775807}'),
	('{"external": 1000, "reference": ""}'),
	('{"external": 1000, "reference": "0123456789012345678901234567890123456789"}'),
	('{"external": 1000, "reference": 42}'),
	('{"external": 999.5}'),
	('{"external": "1000"}'),
	('{"external": true}')) t(plan);
-- A reference that another payment already has is a duplicate.
SELECT left(regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'as_told', NULL, '{"plan": {"external": 1000, "reference": "TOLD-1"}}')$$,
	:m, :a)), 5) AS duplicate_reference;
-- A handler returning SQL NULL.
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'as_told')$$, :m, :a)) AS sql_null_plan;
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- registry errors
CREATE FUNCTION regress.four_args(bigint, bigint, bigint, text) RETURNS jsonb LANGUAGE sql RETURN '{}'::jsonb;
CREATE FUNCTION regress.returns_json(bigint, bigint, bigint, text, jsonb) RETURNS json LANGUAGE sql RETURN '{}'::json;
CREATE FUNCTION regress.int_amount(bigint, bigint, integer, text, jsonb) RETURNS jsonb LANGUAGE sql RETURN '{}'::jsonb;
CREATE FUNCTION regress.set_returning(bigint, bigint, bigint, text, jsonb) RETURNS SETOF jsonb LANGUAGE sql
	AS 'SELECT ''{}''::jsonb';
CREATE PROCEDURE regress.a_procedure(bigint, bigint, bigint, text, jsonb) LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION regress.agg_step(jsonb, bigint, bigint, bigint, text, jsonb) RETURNS jsonb LANGUAGE sql RETURN $1;
CREATE AGGREGATE regress.an_aggregate(bigint, bigint, bigint, text, jsonb) (sfunc = regress.agg_step, stype = jsonb);
SELECT regress.counts() AS before \gset
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.four_args(bigint,bigint,bigint,text)')$$) AS four_args;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.returns_json(bigint,bigint,bigint,text,jsonb)')$$) AS returns_json;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.int_amount(bigint,bigint,integer,text,jsonb)')$$) AS int_amount;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.set_returning(bigint,bigint,bigint,text,jsonb)')$$) AS set_returning;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.a_procedure(bigint,bigint,bigint,text,jsonb)')$$) AS a_procedure;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.an_aggregate(bigint,bigint,bigint,text,jsonb)')$$) AS an_aggregate;
SELECT regress.try($$SELECT order_system.register_payment_method('x', 'regress.nothing(bigint,bigint,bigint,text,jsonb)')$$) AS no_such_function;
SELECT regress.try($$SELECT order_system.register_payment_method('half_points', 'regress.pay_half(bigint,bigint,bigint,text,jsonb)')$$) AS duplicate;
SELECT regress.try($$SELECT order_system.register_payment_method('card', 'regress.pay_half(bigint,bigint,bigint,text,jsonb)')$$) AS duplicate_builtin;
SELECT name, regress.try(format($$SELECT order_system.register_payment_method(%L, 'regress.pay_half(bigint,bigint,bigint,text,jsonb)')$$, name)) AS result
  FROM (VALUES ('Half'), ('1half'), ('_half'), ('half-points'), ('half points'), (''), ('hälf'), ('half😀'),
			   (repeat('h', 64))) t(name);
SELECT regress.counts() = :'before' AS nothing_written;
-- 63 characters is the longest name.
SELECT order_system.register_payment_method(repeat('h', 63), 'regress.pay_half(bigint,bigint,bigint,text,jsonb)');
SELECT length(name) FROM order_system.payment_method WHERE name LIKE 'hhh%';

-- The registry keeps a handler by name (pg_upgrade and dump/restore do not
-- keep function OIDs): the text regprocedure prints with search_path =
-- pg_catalog.  Its CHECK rule refuses a row edited by hand that names no
-- function, a function of another shape, or spells one another way.
SET search_path = regress, public;
SELECT order_system.register_payment_method('half_again', 'pay_half(int8,int8,int8,text,jsonb)');
RESET search_path;
SELECT handler FROM order_system.payment_method WHERE name = 'half_again';
SELECT regress.counts() AS before \gset
SELECT handler, regress.try(format('UPDATE order_system.payment_method SET handler = %L WHERE name = %L',
								   handler, 'voucher')) AS edited
  FROM (VALUES ('regress.four_args(bigint,bigint,bigint,text)'), ('order_system.get_order(bigint)'),
			   ('regress.nothing(bigint,bigint,bigint,text,jsonb)'),
			   ('regress.pay_half(int8,int8,int8,text,jsonb)'), ('REGRESS.pay_half(bigint,bigint,bigint,text,jsonb)'),
			   ('regress.pay_half(bigint, bigint, bigint, text, jsonb)'), ('pay_half(bigint,bigint,bigint,text,jsonb)'),
			   ('nosuchschema.f(bigint,bigint,bigint,text,jsonb)')) t(handler);
-- (Text that does not parse as a signature is refused too: with 22P02 or
-- 42704 on PostgreSQL 15, whose to_regprocedure raises them, and 23514 on
-- later versions.)
SELECT regress.counts() = :'before' AS nothing_written;
SELECT name, handler FROM order_system.payment_method WHERE name = 'voucher';

-- The signature is checked again at every call: a handler dropped and made
-- again with another result type cannot make place_order call it.
CREATE FUNCTION regress.pay_reshaped(order_id bigint, member_id bigint, amount bigint,
									 currency text, params jsonb)
RETURNS jsonb LANGUAGE sql RETURN jsonb_build_object('external', amount);
SELECT order_system.register_payment_method('reshaped', 'regress.pay_reshaped(bigint,bigint,bigint,text,jsonb)');
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'reshaped');
DROP FUNCTION regress.pay_reshaped(bigint, bigint, bigint, text, jsonb);
CREATE FUNCTION regress.pay_reshaped(order_id bigint, member_id bigint, amount bigint,
									 currency text, params jsonb)
RETURNS json LANGUAGE sql RETURN json_build_object('external', amount);
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'reshaped')$$, :m, :a)) AS reshaped;
SELECT regress.counts() = :'before' AS nothing_written;

-- A renamed handler (or schema) no longer answers to the registered name,
-- in this session too (the resolved names are forgotten on any change to
-- pg_proc or pg_namespace); the old name brings it back.
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'half_points');
ALTER FUNCTION regress.pay_half(bigint, bigint, bigint, text, jsonb) RENAME TO pay_half_renamed;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'half_points')$$, :m, :a)) AS renamed_function;
ALTER FUNCTION regress.pay_half_renamed(bigint, bigint, bigint, text, jsonb) RENAME TO pay_half;
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'half_points');
ALTER SCHEMA regress RENAME TO regress_renamed;
SELECT regress_renamed.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'half_points')$$, :m, :a)) AS renamed_schema;
ALTER SCHEMA regress_renamed RENAME TO regress;
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'half_points');

-- Nothing stops dropping a registered handler; its method then refuses
-- orders as an unknown method would, naming the missing handler.
CREATE FUNCTION regress.pay_gone(order_id bigint, member_id bigint, amount bigint,
								 currency text, params jsonb)
RETURNS jsonb LANGUAGE sql RETURN jsonb_build_object('external', amount);
SELECT order_system.register_payment_method('gone', 'regress.pay_gone(bigint,bigint,bigint,text,jsonb)');
DROP FUNCTION regress.pay_gone(bigint, bigint, bigint, text, jsonb);
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'gone')$$, :m, :a)) AS dropped_handler;
SELECT regress.counts() = :'before' AS nothing_written;

-- Only a handler's owner (or a superuser) may register it: an operator role
-- registers its own function, not someone else's.
CREATE ROLE regress_order_operator NOLOGIN IN ROLE order_system_admin;
GRANT USAGE, CREATE ON SCHEMA regress TO regress_order_operator;
SET ROLE regress_order_operator;
CREATE FUNCTION regress.pay_operator(order_id bigint, member_id bigint, amount bigint,
									 currency text, params jsonb)
RETURNS jsonb LANGUAGE sql RETURN jsonb_build_object('external', amount);
SELECT order_system.register_payment_method('operator_card', 'regress.pay_operator(bigint,bigint,bigint,text,jsonb)');
SELECT regress.try($$SELECT order_system.register_payment_method('stolen',
	'regress.pay_half(bigint,bigint,bigint,text,jsonb)')$$) AS not_the_owner;
RESET ROLE;
SELECT name, handler FROM order_system.payment_method WHERE name IN ('operator_card', 'stolen');

----------------------------------------------------------------- enabling and disabling
SELECT order_id AS k1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb,
	'half_points', 'pm-key') \gset
SELECT order_system.set_payment_method_enabled('half_points', false);
SELECT order_system.set_payment_method_enabled('half_points', false);
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'half_points')$$, :m, :a)) AS disabled;
-- Replaying an order placed before the method was disabled still works.
SELECT order_id = :k1 AS same_order, replayed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'half_points', 'pm-key');
SELECT regress.try($$SELECT order_system.set_payment_method_enabled('cash', true)$$) AS unknown_method;
SELECT regress.counts() = :'before' AS nothing_written;
SELECT order_system.set_payment_method_enabled('half_points', true);
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'half_points');
-- Built-in methods can be disabled too.
SELECT order_system.set_payment_method_enabled('card', false);
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :a)) AS card_disabled;
SELECT order_system.set_payment_method_enabled('card', true);
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
SELECT name, enabled FROM order_system.payment_method ORDER BY name;

SELECT * FROM order_system.check_invariants();

-- The roles are cluster-wide: hand their objects over and drop them.
REASSIGN OWNED BY regress_order_handler, regress_order_operator TO CURRENT_USER;
DROP OWNED BY regress_order_handler, regress_order_operator;
DROP ROLE regress_order_handler;
DROP ROLE regress_order_operator;
