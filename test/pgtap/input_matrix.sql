-- input_matrix.sql: every function of order_system, read from the catalog,
-- called with hostile arguments; only documented SQLSTATEs may come back.
--
-- Each function gets a valid base call (argument values looked up by
-- function and argument name, else argument name, else type; place_order
-- once per payment method), then one call per single-argument perturbation
-- (NULL, zero, -1, INT32/INT64 extremes, '', 1 MB and emoji strings, a
-- virtual-account look-alike, SQL and printf junk, odd jsonb: 'null', '[]',
-- 1e400, depth 200 and 100000, wrong shapes, 1 MB arrays, odd regprocedures
-- and snapshots), an all-NULL call and a call with the defaults left out.
-- A function added later is covered without edits, unless an argument has
-- a type with no values below (test 1).
--
-- Every call runs as order_system_admin and again as the superuser running
-- this file, in a subtransaction that is always undone, so all calls see
-- the same fixture.  The internals (schema order_system_internal) are
-- called as the superuser; every extension role gets 42501 for them.  Asserted: the SQLSTATE is in the README's error table
-- (or the function's own row in expect); never class XX or 58; NULL in a
-- required argument of a write function is 22004; a failed call left every
-- table as it was; a successful one left check_invariants() empty; the
-- backend survived.  The app and gateway roles make the base and all-NULL
-- calls: 42501 exactly where not granted.
BEGIN;
SELECT plan(14);
SET LOCAL statement_timeout = '120s';

---------------------------------------------------------------- fixture

SELECT order_system.create_member('Matrix Ann', 'matrix.ann@example.com', 100000) AS m \gset
SELECT order_system.create_product('MX-A', 'Matrix widget', 100, 'KRW', 1000) AS p \gset
SELECT order_id AS o_card FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT order_id AS o_bank, payment_reference AS va FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'bank_transfer') \gset
SELECT order_id AS o_paid FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'points') \gset
-- A consumer with an open batch (next_batch cannot open one inside this
-- transaction: it never sees its own events), owned by the gateway role so
-- that the calls as that role reach the consumer itself.
SELECT order_system.register_consumer('matrix', true);
UPDATE order_system.consumer SET batch_id = 1, batch_snapshot = pg_current_snapshot(),
	   owner = 'order_system_gateway'
 WHERE name = 'matrix';
-- A login role set_member_login can link (roles are cluster-wide: this one
-- goes with the transaction).
CREATE ROLE matrix_login;
-- A handler the calling role owns, so register_payment_method can succeed.
CREATE FUNCTION public.matrix_handler(order_id bigint, member_id bigint, amount bigint,
									  currency text, params jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object('points', 0, 'external', amount);
ALTER FUNCTION public.matrix_handler(bigint, bigint, bigint, text, jsonb) OWNER TO order_system_admin;

CREATE TEMP TABLE fx (k text PRIMARY KEY, v text NOT NULL);
INSERT INTO fx VALUES ('{m}', :'m'), ('{p}', :'p'), ('{o_card}', :'o_card'), ('{o_paid}', :'o_paid'),
	('{va}', :'va'), ('{handler}', 'public.matrix_handler(bigint,bigint,bigint,text,jsonb)');

---------------------------------------------------------------- argument values

-- Base values: the most specific row wins (function + argument, argument, type).
CREATE TEMP TABLE base (fn text, arg text, type regtype, expr text NOT NULL);
INSERT INTO base (fn, arg, expr) VALUES
	('create_member', 'name', $$'Matrix New'$$),
	('create_product', 'name', $$'Matrix new product'$$),
	('register_payment_method', 'name', $$'matrix_pm'$$),
	('set_payment_method_enabled', 'name', $$'card'$$),
	('register_consumer', 'name', $$'matrix_new'$$),
	('unregister_consumer', 'name', $$'matrix'$$),
	('lock_consumer', 'name', $$'matrix'$$),
	('raise_unknown_consumer', 'name', $$'nobody'$$),
	('require_arg', 'name', $$'value'$$),
	('complete_order', 'order_id', '{o_paid}'),
	('refund_order', 'order_id', '{o_paid}'),
	('pay_points_card', 'params', $$'{"points": 10}'$$),
	(NULL, 'member_id', '{m}'),
	(NULL, 'product_id', '{p}'),
	(NULL, 'order_id', '{o_card}'),
	(NULL, 'amount', '100'),
	(NULL, 'delta', '1'),
	(NULL, 'price', '200'),
	(NULL, 'quantity', '1'),
	(NULL, 'initial_points', '0'),
	(NULL, 'initial_stock', '10'),
	(NULL, 'sku', $$'MX-NEW'$$),
	(NULL, 'currency', $$'KRW'$$),
	(NULL, 'email', $$'matrix.new@example.com'$$),
	(NULL, 'lines', $$'[{"product_id": {p}, "quantity": 1}]'$$),
	(NULL, 'payment_method', $$'card'$$),
	(NULL, 'idempotency_key', $$'mx-key'$$),
	(NULL, 'payment_params', $$'{}'$$),
	(NULL, 'params', $$'{}'$$),
	(NULL, 'gateway_ref', $$'gw-matrix'$$),
	(NULL, 'reason', $$'matrix'$$),
	(NULL, 'description', $$'matrix'$$),
	(NULL, 'reference', $$'{va}'$$),
	(NULL, 'max_orders', '10'),
	(NULL, 'handler', $$'{handler}'$$),
	(NULL, 'enabled', 'true'),
	(NULL, 'from_start', 'false'),
	(NULL, 'consumer', $$'matrix'$$),
	(NULL, 'batch_id', '1'),
	(NULL, 'after_event_id', '0'),
	(NULL, 'lo', $$'1:1:'$$),
	(NULL, 'hi', 'pg_current_snapshot()'),
	(NULL, 'login', $$'matrix_login'$$);
INSERT INTO base (type, expr) VALUES
	('bigint', '1'), ('integer', '1'), ('text', $$'matrix'$$), ('jsonb', $$'{}'$$),
	('boolean', 'true'), ('regprocedure', $$'{handler}'$$), ('pg_snapshot', 'pg_current_snapshot()'),
	('anyelement', '1::integer'), ('regrole', $$'matrix_login'$$),
	('regclass', $$'order_system.orders'$$),
	('order_system.ledger_kind', $$'earn'$$),
	('order_system.product', '(SELECT x FROM order_system.product x WHERE x.id = {p})'),
	('order_system.payment', '(SELECT x FROM order_system.payment x WHERE x.order_id = {o_card})'),
	('order_system.stock_bucket', $$jsonb_populate_record(NULL::order_system.stock_bucket,
		'{"product_id": {p}, "bucket": 0, "available": 1, "reserved": 1, "sold": 1, "allotted": 3}')$$);

-- Perturbations per type.  anyelement values carry their own type.
CREATE TEMP TABLE vals (type regtype, expr text NOT NULL);
INSERT INTO vals VALUES
	('bigint', 'NULL'), ('bigint', '0'), ('bigint', '-1'), ('bigint', '-2147483648'),
	('bigint', '2147483647'), ('bigint', '-9223372036854775808'), ('bigint', '9223372036854775807'),
	('integer', 'NULL'), ('integer', '0'), ('integer', '-1'), ('integer', '-2147483648'),
	('integer', '2147483647'),
	('text', 'NULL'), ('text', $$''$$), ('text', $$repeat('x', 1048576)$$), ('text', $$'🛒💳🎉'$$),
	('text', $$'VA0000000000000018'$$), ('text', $j$$q$x'); DROP TABLE order_system.orders; --$q$$j$),
	('text', $$'%s%n%x%p\'$$),
	('jsonb', 'NULL'), ('jsonb', $$'null'$$), ('jsonb', $$'[]'$$), ('jsonb', $$'{}'$$),
	('jsonb', $$'"card"'$$), ('jsonb', $$'1e400'$$), ('jsonb', $$'-0.0'$$),
	('jsonb', $$'[{"product_id": {p}, "quantity": 1e400}]'$$),
	('jsonb', $$'[{"product_id": 1e400, "quantity": 1}]'$$),
	('jsonb', $$'[{"product_id": {p}, "quantity": 1.5}]'$$),
	('jsonb', $$'[{"product_id": {p}, "quantity": -1}]'$$),
	('jsonb', $$'[{"product_id": "x"}]'$$),
	('jsonb', $$'[{"product_id": {p}, "quantity": 1, "product_id": null}]'$$),
	('jsonb', $$'{"points": 1e400}'$$), ('jsonb', $$'{"points": -1}'$$),
	('jsonb', $$'{"points": "10"}'$$), ('jsonb', $$'{"points": 10, "x": {}}'$$),
	('jsonb', $$repeat('[', 200) || repeat(']', 200)$$),
	('jsonb', $$repeat('{"a": ', 200) || '1' || repeat('}', 200)$$),
	('jsonb', $$repeat('[', 100000) || repeat(']', 100000)$$),
	('jsonb', $$(SELECT jsonb_agg(jsonb_build_object('product_id', {p}, 'quantity', 1))
				   FROM generate_series(1, 32000))$$),
	('jsonb', $$(SELECT jsonb_agg(i) FROM generate_series(1, 150000) i)$$),
	('boolean', 'NULL'), ('boolean', 'true'), ('boolean', 'false'),
	('regprocedure', 'NULL'), ('regprocedure', $$'pg_catalog.now()'$$),
	('regprocedure', $$'pg_catalog.abs(bigint)'$$),
	('regprocedure', $$'order_system.pay_card(bigint,bigint,bigint,text,jsonb)'$$),
	('regprocedure', $$'order_system.place_order(bigint,jsonb,text,text,jsonb)'$$),
	('regprocedure', '0::oid'), ('regprocedure', '4294967295::oid'),
	('pg_snapshot', 'NULL'), ('pg_snapshot', $$'1:1:'$$), ('pg_snapshot', 'pg_current_snapshot()'),
	('pg_snapshot', $$'100:200:150'$$), ('pg_snapshot', $$'1:9223372036854775807:'$$),
	('pg_snapshot', $$'9223372036854775807:9223372036854775807:'$$), ('pg_snapshot', $$'5:3:'$$),
	('regclass', 'NULL'), ('regclass', '0::oid'), ('regclass', $$'pg_catalog.pg_class'$$),
	('regclass', '4294967295::oid'),
	('regrole', 'NULL'), ('regrole', $$'matrix_login'$$), ('regrole', $$'order_system_admin'$$),
	('regrole', 'session_user::regrole'), ('regrole', $$'pg_read_all_data'$$), ('regrole', $$'-'$$),
	('anyelement', 'NULL::integer'), ('anyelement', '1::integer'), ('anyelement', $$'x'::text$$),
	('anyelement', $$'{}'::jsonb$$),
	('order_system.ledger_kind', 'NULL'), ('order_system.ledger_kind', $$'spend'$$),
	('order_system.ledger_kind', $$'adjust'$$), ('order_system.ledger_kind', $$'matrix'$$),
	-- rows as the CHECK rules get them, and some no table would hold
	('order_system.product', 'NULL'), ('order_system.product', $$jsonb_populate_record(NULL::order_system.product, '{}')$$),
	('order_system.product', $$jsonb_populate_record((SELECT x FROM order_system.product x WHERE x.id = {p}),
		'{"stock_available": 9223372036854775807, "stock_sold": 1}')$$),
	('order_system.product', $$jsonb_populate_record((SELECT x FROM order_system.product x WHERE x.id = {p}),
		'{"stock_received": 0}')$$),
	('order_system.product', $$jsonb_populate_record((SELECT x FROM order_system.product x WHERE x.id = {p}),
		'{"stock_available": -1}')$$),
	('order_system.payment', 'NULL'), ('order_system.payment', $$jsonb_populate_record(NULL::order_system.payment, '{}')$$),
	('order_system.payment', $$jsonb_populate_record((SELECT x FROM order_system.payment x
		WHERE x.order_id = {o_card}), '{"amount": 9223372036854775807, "points_amount": 9223372036854775807}')$$),
	('order_system.stock_bucket', 'NULL'), ('order_system.stock_bucket', $$jsonb_populate_record(
		NULL::order_system.stock_bucket, '{"available": 9223372036854775807, "reserved": 1, "sold": 0}')$$);

---------------------------------------------------------------- expectations

-- The README's error table: error_codes() and the standard codes it lists
-- besides (42501 is allowed per role below; 40001 needs a concurrent writer).
CREATE TEMP TABLE documented (sqlstate text PRIMARY KEY);
INSERT INTO documented SELECT sqlstate FROM order_system.error_codes() UNION VALUES ('22001'), ('23505');

-- Functions with their own contract: base = the base call's SQLSTATE
-- (00000 success); always = every call's; extra = allowed besides the table.
CREATE TEMP TABLE expect (fn text PRIMARY KEY, base text, always text, extra text[], why text);
INSERT INTO expect VALUES
	('raise_unknown_consumer', 'OS015', 'OS015', '{}', 'raises OS015 by design'),
	('orders_status_guard', '39P01', '39P01', '{}', 'trigger function called directly'),
	('emit_event', '39P01', '39P01', '{}', 'trigger function called directly'),
	('place_order_trigger', '39P01', '39P01', '{}', 'trigger function called directly'),
	('refuse_delete', '0A000', '0A000', '{}', 'PL/pgSQL trigger function called directly'),
	('register_payment_method', '00000', NULL, '{42501}', 'only the handler''s owner may register it'),
	('payment_handler_valid', '00000', NULL, '{22P02,42704}', 'a handler text that does not parse is refused as regprocedure input refuses it'),
	('metrics_reset', '55000', '55000', '{}', 'the counters are off: the server does not preload order_system'),
	('distribute_on_citus', '55000', '55000', '{}', 'Citus is not installed in the test database'),
	('citus_reshape', '55000', '55000', '{}', 'Citus is not installed in the test database');

---------------------------------------------------------------- the calls

CREATE TEMP TABLE fn AS
SELECT p.oid::regprocedure AS fn, p.proname::text AS name, p.pronargs::int AS nargs,
	   p.pronargdefaults::int AS ndefaults, p.proisstrict AS strict,
	   p.provolatile = 'v' AND NOT p.proisstrict AS writes,
	   coalesce(p.proargnames[1 : p.pronargs], '{}') AS argnames,
	   coalesce(string_to_array(p.proargtypes::text, ' ')::regtype[], '{}') AS argtypes,
	   p.pronamespace = 'order_system_internal'::regnamespace AS internal
  FROM pg_proc p
 WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace);

-- Substitute the fixture's ids into an expression.
CREATE FUNCTION pg_temp.fill(expr text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
	FOR r IN SELECT k, v FROM fx LOOP expr := replace(expr, r.k, r.v); END LOOP;
	RETURN expr;
END $$;

CREATE FUNCTION pg_temp.arg(expr text, t regtype) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN t = 'anyelement'::regtype THEN pg_temp.fill(expr)
				ELSE format('(%s)::%s', pg_temp.fill(expr), t) END $$;

CREATE FUNCTION pg_temp.base_expr(f text, a text, t regtype) RETURNS text LANGUAGE sql AS $$
	SELECT expr FROM base WHERE (fn = f AND arg = a) OR (fn IS NULL AND arg = a)
		OR (fn IS NULL AND arg IS NULL AND type = t)
	 ORDER BY fn IS NULL, arg IS NULL LIMIT 1 $$;

-- Every table's row count and content hash: equal before and after a failed call.
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; h text; acc text := '';
BEGIN
	FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
			  WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r' ORDER BY 1 LOOP
		EXECUTE format('SELECT count(*) || ''/'' || coalesce(sum(hashtext(x::text)), 0) FROM %s x', r.t)
		   INTO h;
		acc := acc || r.t || '=' || h || ' ';
	END LOOP;
	RETURN acc;
END $$;

-- More base calls for functions with several paths: variant name and the
-- arguments it overrides.
CREATE TEMP TABLE variant (fn text, name text, args jsonb);
INSERT INTO variant VALUES
	('place_order', 'points', $${"payment_method": "'points'"}$$),
	('place_order', 'bank_transfer', $${"payment_method": "'bank_transfer'"}$$),
	('place_order', 'points_card',
	 $${"payment_method": "'points_card'", "payment_params": "'{\"points\": 10}'"}$$);

-- vtype, vexpr: the perturbed value, if any.
CREATE TEMP TABLE calls (fn regprocedure, label text, call text, role text, vtype regtype, vexpr text);
WITH fv AS (
	SELECT f.*, '' AS variant, '{}'::jsonb AS over FROM fn f
	UNION ALL
	SELECT f.*, v.name || ': ', v.args FROM fn f JOIN variant v ON v.fn = f.name
), a AS (
	SELECT fv.fn, fv.name, fv.variant, fv.nargs, fv.ndefaults, x.n, x.t, x.i,
		   coalesce(fv.over ->> x.n, pg_temp.base_expr(fv.name, x.n, x.t)) AS base
	  FROM fv, unnest(fv.argnames, fv.argtypes) WITH ORDINALITY x(n, t, i)
)
INSERT INTO calls
-- the base call
SELECT fv.fn, fv.variant || 'base', format('%s(%s)', fv.fn::oid::regproc,
		coalesce((SELECT string_agg(pg_temp.arg(a.base, a.t), ', ' ORDER BY a.i)
					FROM a WHERE a.fn = fv.fn AND a.variant = fv.variant), '')),
	   'order_system_admin', NULL::regtype, NULL
  FROM fv
UNION ALL
-- all NULL
SELECT f.fn, 'all null', format('%s(%s)', f.fn::oid::regproc,
		(SELECT string_agg(pg_temp.arg(CASE WHEN a.t = 'anyelement'::regtype THEN 'NULL::integer'
											ELSE 'NULL' END, a.t), ', ' ORDER BY a.i)
		   FROM a WHERE a.fn = f.fn AND a.variant = '')), 'order_system_admin', NULL::regtype, NULL
  FROM fn f WHERE f.nargs > 0
UNION ALL
-- defaults left out
SELECT f.fn, 'defaults', format('%s(%s)', f.fn::oid::regproc,
		coalesce((SELECT string_agg(pg_temp.arg(a.base, a.t), ', ' ORDER BY a.i)
					FROM a WHERE a.fn = f.fn AND a.variant = '' AND a.i <= f.nargs - f.ndefaults), '')),
	   'order_system_admin', NULL::regtype, NULL
  FROM fn f WHERE f.ndefaults > 0
UNION ALL
-- one argument perturbed
SELECT p.fn, format('%s%s := %s', p.variant, p.n, v.expr), format('%s(%s)', p.fn::oid::regproc,
		(SELECT string_agg(pg_temp.arg(CASE WHEN a.i = p.i THEN v.expr ELSE a.base END, a.t), ', '
						   ORDER BY a.i)
		   FROM a WHERE a.fn = p.fn AND a.variant = p.variant)), 'order_system_admin', v.type, v.expr
  FROM a p JOIN vals v ON v.type = p.t;
-- The other roles: base and all-NULL calls.
INSERT INTO calls SELECT c.fn, c.label, c.call, r, NULL, NULL
  FROM calls c, unnest('{order_system_app,order_system_gateway}'::text[]) r
 WHERE c.label IN ('base', 'all null') AND c.role = 'order_system_admin';
-- All of it again as the superuser running this file (ownership checks differ).
INSERT INTO calls SELECT c.fn, c.label, c.call, session_user, c.vtype, c.vexpr
  FROM calls c WHERE c.role = 'order_system_admin';
-- The internals: the superuser makes every call, the admin role the base
-- and all-NULL calls only (refused).
DELETE FROM calls c USING fn f
 WHERE f.fn = c.fn AND f.internal AND c.role = 'order_system_admin' AND c.label NOT IN ('base', 'all null');

-- Run one call as a role in a subtransaction that is always undone; report
-- the SQLSTATE (00000: it worked), whether the tables changed though it
-- failed, and what check_invariants() said after it worked.
CREATE FUNCTION pg_temp.try(call text, r text,
	OUT code text, OUT message text, OUT changed boolean, OUT broken text)
LANGUAGE plpgsql AS $$
DECLARE
	before text := pg_temp.fingerprint();
BEGIN
	BEGIN
		PERFORM set_config('role', r, true);
		-- a result nobody reads may be planned away: print it
		EXECUTE 'SELECT count(r::text) FROM (SELECT ' || call || ' AS r) s';
		PERFORM set_config('role', 'none', true);
		code := '00000';
		SELECT string_agg(i.invariant || ' ' || i.subject, '; ') INTO broken
		  FROM order_system.check_invariants() i;
		RAISE EXCEPTION 'undo' USING ERRCODE = 'TSUND';
	EXCEPTION WHEN SQLSTATE 'TSUND' THEN
		NULL;
	WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
		message := left(message, 200);
		changed := pg_temp.fingerprint() IS DISTINCT FROM before;
	END;
END $$;

-- Values their own type input rejects (an invalid snapshot, jsonb nested
-- past max_stack_depth, a negative amount in a row): calls with them never
-- reach the function.
CREATE TEMP TABLE input_errors AS
SELECT v.type, v.expr, t.code, t.message
  FROM vals v, LATERAL pg_temp.try(pg_temp.arg(v.expr, v.type), 'order_system_admin') t
 WHERE t.code <> '00000';

SELECT pg_backend_pid() AS pid, pg_postmaster_start_time() AS started \gset

CREATE TEMP TABLE results AS
SELECT c.fn, c.label, c.call, c.role, t.code AS sqlstate, t.message, t.changed, t.broken,
	   (SELECT e.code FROM input_errors e WHERE e.type = c.vtype AND e.expr = c.vexpr) AS input
  FROM calls c, LATERAL pg_temp.try(c.call, c.role) t;

SELECT diag(format('%s calls over %s functions in %s ms; SQLSTATEs: %s',
		(SELECT count(*) FROM results), (SELECT count(DISTINCT fn) FROM results),
		round(extract(epoch FROM clock_timestamp() - now()) * 1000),
		(SELECT string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate)
		   FROM (SELECT sqlstate, count(*) n FROM results GROUP BY 1) s)));

---------------------------------------------------------------- assertions

SELECT is_empty($$
	SELECT f.fn, a.n, a.t FROM fn f, unnest(f.argnames, f.argtypes) a(n, t)
	 WHERE pg_temp.base_expr(f.name, a.n, a.t) IS NULL
		OR NOT EXISTS (SELECT FROM vals v WHERE v.type = a.t)
	$$, 'every argument type has a base value and perturbations');

SELECT set_eq('SELECT DISTINCT fn FROM results',
	$$SELECT oid::regprocedure FROM pg_proc
	   WHERE pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace)$$,
	'every function of the extension was called');

SELECT is_empty($$
	SELECT r.fn, r.sqlstate, r.message FROM results r JOIN fn f ON f.fn = r.fn
	 WHERE r.label ~ 'base$' AND (r.role = session_user OR (r.role = 'order_system_admin' AND NOT f.internal))
	   AND r.sqlstate IS DISTINCT FROM coalesce((SELECT e.base FROM expect e
												   WHERE e.fn = (SELECT name FROM fn WHERE fn.fn = r.fn)), '00000')
	$$, 'every base call works (or raises what its function is for)');

SELECT is_empty($$
	SELECT call, role, sqlstate, message FROM results WHERE left(sqlstate, 2) IN ('XX', '58')
	$$, 'no call raises an internal error (class XX or 58)');

SELECT is_empty($$
	SELECT r.call, r.input, r.sqlstate, r.message FROM results r
	 WHERE r.input IS NOT NULL AND (r.input NOT IN ('22P02', '54001', '23514') OR r.sqlstate <> r.input)
	$$, 'values rejected by their type input: 22P02, 54001 or a domain''s 23514, before any function runs');

SELECT is_empty($$
	SELECT r.call, r.sqlstate, r.message FROM results r
	  JOIN fn f ON f.fn = r.fn
	  LEFT JOIN expect e ON e.fn = f.name
	 WHERE r.sqlstate <> '00000'
	   AND r.sqlstate NOT IN (SELECT sqlstate FROM documented)
	   AND NOT (r.sqlstate = '42501'
				AND (r.role IN ('order_system_app', 'order_system_gateway')
					 OR (f.internal AND r.role <> session_user)))
	   AND r.sqlstate <> ALL (coalesce(e.extra, '{}') || coalesce(e.always, '-'))
	   AND r.input IS NULL
	$$, 'every SQLSTATE is documented for its function');

SELECT is_empty($$
	SELECT r.call, r.sqlstate, r.message FROM results r JOIN fn f ON f.fn = r.fn JOIN expect e ON e.fn = f.name
	 WHERE (r.role = session_user OR (r.role = 'order_system_admin' AND NOT f.internal)) AND e.always IS NOT NULL AND r.sqlstate <> e.always
	   AND r.input IS NULL
	$$, 'functions with a fixed SQLSTATE always raise it');

SELECT is_empty($$
	SELECT r.call, r.sqlstate, r.message FROM results r
	  JOIN fn f ON f.fn = r.fn
	  JOIN unnest(f.argnames, f.argtypes) WITH ORDINALITY a(n, t, i) ON r.label ~ ('^' || a.n || ' := NULL')
	 WHERE (r.role = session_user OR (r.role = 'order_system_admin' AND NOT f.internal)) AND f.writes AND a.i <= f.nargs - f.ndefaults
	   AND f.name NOT IN (SELECT fn FROM expect WHERE always IS NOT NULL)
	   AND r.sqlstate <> '22004'
	$$, 'NULL in a required argument of a write function raises 22004');

SELECT is_empty($$
	SELECT call, sqlstate, message FROM results WHERE sqlstate <> '00000' AND changed
	$$, 'a failed call leaves every table as it was');

SELECT is_empty($$
	SELECT call, broken FROM results WHERE sqlstate = '00000' AND broken IS NOT NULL
	$$, 'after every call that worked, check_invariants() is empty');

SELECT is_empty($$
	SELECT r.role, r.call, r.sqlstate, r.message FROM results r JOIN fn f ON f.fn = r.fn
	 WHERE r.role IN ('order_system_app', 'order_system_gateway') AND NOT f.internal
	   AND (r.sqlstate = '42501') <> NOT has_function_privilege(r.role, r.fn, 'EXECUTE')
	   -- a STRICT function of constant NULLs is folded to NULL at plan time,
	   -- before the executor would check EXECUTE: PostgreSQL's doing, harmless
	   AND NOT (f.strict AND r.label = 'all null' AND r.sqlstate = '00000')
	$$, 'the app and gateway roles get 42501 exactly for what they are not granted');

SELECT is_empty($$
	SELECT r.role, r.call, r.sqlstate, r.message FROM results r JOIN fn f ON f.fn = r.fn
	 WHERE f.internal AND r.role <> session_user AND r.sqlstate <> '42501'
	   -- but the one every reader of a member-scoped table runs, as a policy
	   AND f.fn <> 'order_system_internal.refuse_hidden_rows(text)'::regprocedure
	$$, 'the extension''s roles get 42501 for every internal function but refuse_hidden_rows');

SELECT is(ARRAY[pg_backend_pid()::text, pg_postmaster_start_time()::text], ARRAY[:'pid', :'started'],
	'the backend survived every call');

SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'the fixture is still healthy');

SELECT * FROM finish();
ROLLBACK;
