-- member_scope.sql: a member's own login role sees and changes only its own
-- member's orders, payments and points (the OWASP BOLA case).
--
-- Two members, Ann and Ben, each with a login role linked by
-- set_member_login.  As Ann: her own calls work; every function a member
-- role may execute that takes a member_id or an order_id (read from the
-- catalog, so a function added later is covered) gets Ben's id and must
-- answer "not found" (no row, NULL, OS010) or 42501, never Ben's data;
-- direct reads of the tables show only Ann's rows (row-level security,
-- forced); writes are refused.  A member role linked to nobody may do
-- nothing.  Operators still read everything.
BEGIN;
SELECT plan(24);

---------------------------------------------------------------- fixture

SELECT order_system.create_member('Scope Ann', 'scope.ann@example.com', 5000) AS ann \gset
SELECT order_system.create_member('Scope Ben', 'scope.ben@example.com', 5000) AS ben \gset
SELECT order_system.create_product('SCOPE-1', 'scoped', 100, 'KRW', 100) AS p \gset
SELECT order_id AS ann_order FROM order_system.place_order(:ann,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT order_id AS ben_order FROM order_system.place_order(:ben,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'points') \gset
SELECT order_id AS ben_card FROM order_system.place_order(:ben,
	format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card') \gset
CREATE ROLE scope_ann LOGIN;
CREATE ROLE scope_ben LOGIN;
CREATE ROLE scope_nobody LOGIN;
SELECT order_system.set_member_login('scope_ann', :ann);
SELECT order_system.set_member_login('scope_ben', :ben);
GRANT order_system_member TO scope_nobody;

SELECT ok(pg_has_role('scope_ann', 'order_system_member', 'MEMBER'),
	'set_member_login makes the role a member role');
SELECT throws_ok($$SELECT order_system.set_member_login('order_system_app', 1)$$, '22023', NULL,
	'the extension''s own roles cannot act for a member');
SELECT throws_ok(format($$SELECT order_system.set_member_login(%L, 1)$$, session_user), '22023', NULL,
	'nor can a superuser');
CREATE ROLE scope_bypass LOGIN BYPASSRLS;
CREATE ROLE scope_api LOGIN IN ROLE order_system_app;
SELECT throws_ok($$SELECT order_system.set_member_login('scope_bypass', 1)$$, '22023', NULL,
	'nor a role that bypasses row-level security');
SELECT throws_ok($$SELECT order_system.set_member_login('scope_api', 1)$$, '22023', NULL,
	'nor a member of the app role');

---------------------------------------------------------------- as Ann

SET ROLE scope_ann;
SELECT is(order_system.current_member_id(), :'ann'::bigint, 'Ann''s role acts for Ann');
SELECT lives_ok(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'card')$$,
				:ann, :p), 'Ann places her own order');
SELECT is(order_system.get_order(:ann_order) ->> 'member_id', :'ann', 'and reads her own order');
SELECT is((order_system.get_member(:ann)).name, 'Scope Ann', 'and her own account');
SELECT throws_ok(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1}]', 'card')$$,
				 :ben, :p), '42501', NULL, 'Ann cannot place an order for Ben');
SELECT is(order_system.get_order(:ben_order), NULL, 'Ben''s order is not found for Ann');
SELECT throws_ok(format('SELECT order_system.cancel_order(%s)', :ben_card), 'OS010', NULL,
	'Ann cannot cancel Ben''s order: not found');
SELECT is_empty(format('SELECT * FROM order_system.get_member(%s)', :ben), 'nor read Ben''s account');
SELECT is_empty(format('SELECT * FROM order_system.points_history(%s)', :ben), 'nor his points');

-- Every member-callable function taking a member or order id, given Ben's.
CREATE TEMP TABLE probes AS
SELECT p.oid::regprocedure AS fn, p.proretset AS returns_set,
	   format('%s(%s)', p.oid::oid::regproc, string_agg(
		   CASE a.n WHEN 'member_id' THEN :'ben' WHEN 'order_id' THEN :'ben_card'
					WHEN 'lines' THEN format('''[{"product_id": %s, "quantity": 1}]''', :p)
					WHEN 'payment_method' THEN '''card''' ELSE 'DEFAULT' END, ', ' ORDER BY a.i)) AS call
  FROM pg_catalog.pg_proc p, unnest(p.proargnames[1 : p.pronargs]) WITH ORDINALITY a(n, i)
 WHERE p.pronamespace = 'order_system'::regnamespace
   AND has_function_privilege('order_system_member', p.oid, 'EXECUTE')
   AND p.proargnames[1 : p.pronargs] && '{member_id,order_id}'
 GROUP BY p.oid;
-- DEFAULT is no SQL expression: leave trailing defaulted arguments out.
UPDATE probes SET call = regexp_replace(call, '(, DEFAULT)+\)$', ')');
CREATE FUNCTION pg_temp.probe(call text, returns_set boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	IF returns_set THEN
		EXECUTE format('SELECT count(*) FROM %s', call) INTO n;
	ELSE
		EXECUTE format('SELECT count(*) FROM (SELECT %s AS r) s WHERE r IS NOT NULL', call) INTO n;
	END IF;
	RETURN CASE WHEN n = 0 THEN 'nothing' ELSE n || ' rows' END;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT ok((SELECT count(*) FROM probes) >= 5, 'the probe covers the member-scoped API');
SELECT is_empty($$
	SELECT fn, call, pg_temp.probe(call, returns_set) AS got FROM probes
	 WHERE pg_temp.probe(call, returns_set) NOT IN ('nothing', '42501', 'OS010')
	$$, 'every such function answers Ben''s id with nothing, 42501 or OS010');
SELECT diag('with Ben''s ids: ' || string_agg(fn::oid::regproc || ' ' || pg_temp.probe(call, returns_set), ', '
										   ORDER BY fn::text))
  FROM probes;

-- Direct reads: only Ann's rows, whatever the filter asks for.
SELECT is_empty(format($$
	SELECT 'member ' || id FROM order_system.member WHERE id <> %1$s
	UNION ALL SELECT 'order ' || id FROM order_system.orders WHERE member_id <> %1$s
	UNION ALL SELECT 'line ' || l.order_id FROM order_system.order_line l WHERE l.order_id IN (%2$s, %3$s)
	UNION ALL SELECT 'payment ' || id FROM order_system.payment WHERE order_id IN (%2$s, %3$s)
	UNION ALL SELECT 'ledger ' || id FROM order_system.points_ledger WHERE member_id <> %1$s
	$$, :ann, :ben_order, :ben_card), 'reading the tables directly shows no row of Ben''s');
SELECT ok((SELECT count(*) FROM order_system.orders) = 2 AND (SELECT count(*) FROM order_system.payment) = 2,
	'and all of Ann''s');
SELECT throws_ok(format('UPDATE order_system.orders SET status_reason = %L WHERE id = %s', 'x', :ann_order),
	'42501', NULL, 'a member role writes no table directly');
SELECT throws_ok('SELECT * FROM order_system.product', '42501', NULL,
	'and reads only its own tables (the catalog through get_product)');
RESET ROLE;

---------------------------------------------------------------- the others

SET ROLE scope_nobody;
SELECT throws_ok('SELECT order_system.current_member_id()', '42501', NULL,
	'a member role linked to nobody may do nothing');
RESET ROLE;

SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.oid IN ('order_system.member'::regclass, 'order_system.orders'::regclass,
					 'order_system.order_line'::regclass, 'order_system.payment'::regclass,
					 'order_system.points_ledger'::regclass)
	   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
	$$, 'row-level security is on and forced on every table a member role reads');

SET ROLE order_system_admin;
SELECT ok((SELECT count(*) FROM order_system.orders) >= 4, 'operators read every order');
RESET ROLE;

SELECT ok(order_system.clear_member_login('scope_ann') AND NOT pg_has_role('scope_ann', 'order_system_member', 'MEMBER'),
	'clear_member_login ends the link and the grant');

SELECT * FROM finish();
ROLLBACK;
