-- schema.sql: the catalog shape of order_system.
--
-- Tables, keys, the domains and CHECK constraints that carry domain rules
-- (stock never negative and always adding up, points never negative), the
-- guards that keep referenced rows (there are no foreign keys on the write
-- path) and indexes; that pg_dump keeps every table and sequence holding user data
-- (pg_extension_config_dump); that the extension is pinned to its schema,
-- with its internals in order_system_internal; that everything has a comment;
-- and that the status CHECK constraints agree with the C state machine
-- (order_transitions()) and with the payment states check_invariants() uses.
BEGIN;
SELECT plan(69);

---------------------------------------------------------------- tables

SELECT tables_are('order_system',
	ARRAY['member', 'product', 'payment_method', 'orders', 'order_line', 'payment',
		  'points_ledger', 'outbox', 'consumer', 'outbox_pruned', 'stock_bucket', 'member_login',
		  'order_owner'],
	'order_system has exactly its thirteen tables');
SELECT sequences_are('order_system',
	ARRAY['member_id_seq', 'product_id_seq', 'orders_id_seq', 'payment_id_seq',
		  'points_ledger_id_seq', 'outbox_id_seq'],
	'order_system has exactly its six id sequences');

SELECT col_is_pk('order_system', 'member', 'id', 'member: id is the primary key');
SELECT col_is_pk('order_system', 'product', 'id', 'product: id is the primary key');
SELECT col_is_pk('order_system', 'payment_method', 'name', 'payment_method: name is the primary key');
SELECT col_is_pk('order_system', 'orders', 'id', 'orders: id is the primary key');
SELECT col_is_pk('order_system', 'order_line', ARRAY['order_id', 'product_id'],
	'order_line: (order_id, product_id) is the primary key');
SELECT col_is_pk('order_system', 'payment', 'id', 'payment: id is the primary key');
SELECT col_is_pk('order_system', 'points_ledger', 'id', 'points_ledger: id is the primary key');
SELECT col_is_pk('order_system', 'outbox', 'id', 'outbox: id is the primary key');

SELECT col_is_unique('order_system', 'product', 'sku', 'a SKU names one product');
SELECT col_is_unique('order_system', 'member', 'email', 'an e-mail names one member');
SELECT is(pg_catalog.pg_get_indexdef('order_system.orders_idempotency_key'::regclass),
	'CREATE UNIQUE INDEX orders_idempotency_key ON order_system.orders USING btree (member_id, idempotency_key) WHERE (idempotency_key IS NOT NULL)',
	'an idempotency key is unique per member (orders without one are not indexed)');
SELECT col_is_unique('order_system', 'payment', 'order_id', 'an order has at most one payment');
SELECT is(pg_catalog.pg_get_indexdef('order_system.payment_reference_key'::regclass),
	'CREATE UNIQUE INDEX payment_reference_key ON order_system.payment USING btree (reference) WHERE (reference IS NOT NULL)',
	'a payment reference (virtual account) names one payment');

SELECT columns_are('order_system', 'product',
	ARRAY['id', 'sku', 'name', 'price', 'currency', 'active', 'stock_available',
		  'stock_reserved', 'stock_sold', 'stock_received', 'created_at', 'flash_buckets',
		  'stock_bucketed'],
	'product has its stock columns');
SELECT col_type_is('order_system', 'orders', 'total_amount', 'order_system.amount',
	'money is an amount');
SELECT col_type_is('order_system', 'member', 'points_balance', 'order_system.amount',
	'points are an amount');
SELECT is(t.typbasetype::regtype::text, 'bigint',
	'an amount is an integer count (of minor units, points, stock), never a float')
  FROM pg_catalog.pg_type t WHERE t.oid = 'order_system.amount'::regtype;
SELECT col_type_is('order_system', 'outbox', 'tx_id', 'xid8',
	'each outbox event records its transaction id');

---------------------------------------------------------------- checks that carry rules

-- Single-column rules are domains (the type cache keeps their checks
-- compiled; table CHECKs are re-read from text by every statement).  Each
-- UPDATE below breaks exactly one rule, so the error names it.
SELECT order_system.create_product('SCHEMA-1', 'check target', 100, 'KRW', 10) AS product_id \gset
SELECT order_system.create_member('check target') AS member_id \gset

SELECT throws_ok(
	format('UPDATE order_system.product SET stock_available = -1, stock_sold = 11 WHERE id = %s', :product_id),
	'23514', 'value for domain order_system.amount violates check constraint "amount_check"',
	'available stock cannot go negative');
SELECT throws_ok(
	format('UPDATE order_system.product SET stock_reserved = -1, stock_available = 11 WHERE id = %s', :product_id),
	'23514', 'value for domain order_system.amount violates check constraint "amount_check"',
	'reserved stock cannot go negative');
SELECT throws_ok(
	format('UPDATE order_system.product SET stock_sold = -1, stock_available = 11 WHERE id = %s', :product_id),
	'23514', 'value for domain order_system.amount violates check constraint "amount_check"',
	'sold stock cannot go negative');
SELECT throws_ok(
	format('UPDATE order_system.product SET stock_available = stock_available - 1 WHERE id = %s', :product_id),
	'23514', 'new row for relation "product" violates check constraint "product_stock_adds_up"',
	'available + reserved + sold must equal received');
SELECT throws_ok(
	format('UPDATE order_system.member SET points_balance = -1 WHERE id = %s', :member_id),
	'23514', 'value for domain order_system.amount violates check constraint "amount_check"',
	'a points balance cannot go negative');
SELECT col_type_is('order_system', 'consumer', 'name', 'order_system.consumer_name',
	'a consumer name is a domain (a listener updates its row on every wake-up)');
SELECT throws_ok(
	$$INSERT INTO order_system.consumer (name, last_snapshot) VALUES ('Not-A-Name', pg_current_snapshot())$$,
	'23514', 'value for domain order_system.consumer_name violates check constraint "consumer_name_check"',
	'a consumer name must match its pattern');
-- The hot functions return named row types (taken from the type cache, not
-- built from pg_proc on every call), with the columns they always had.
SELECT function_returns('order_system', 'place_order',
	ARRAY['bigint', 'jsonb', 'text', 'text', 'jsonb'], 'order_system.placed_order',
	'place_order returns order_system.placed_order');
SELECT function_returns('order_system', 'next_batch', ARRAY['text', 'bigint'], 'setof order_system.batch_event',
	'next_batch returns setof order_system.batch_event');
SELECT is(
	(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	   FROM pg_attribute
	  WHERE attrelid = 'order_system.placed_order'::regclass AND attnum > 0),
	'order_id bigint, status text, total_amount bigint, currency text, payment_id bigint, '
	'payment_status text, payment_reference text, expires_at timestamp with time zone, replayed boolean',
	'place_order''s result columns are as before 0.7.0');
SELECT throws_ok(
	format('UPDATE order_system.product SET stock_available = 9223372036854775807, stock_sold = 1 WHERE id = %s', :product_id),
	'22003', 'bigint out of range', 'stock counters whose sum leaves bigint are refused');

-- The rules across columns are calls of C functions (their text, re-read
-- by every statement that writes the table, is a fifth of that of the sums),
-- internals of the extension.
SELECT set_eq($$
	SELECT c.conrelid::regclass::text, c.conname::text, pg_catalog.pg_get_constraintdef(c.oid)
	  FROM pg_catalog.pg_constraint c
	 WHERE c.contype = 'c' AND c.connamespace = 'order_system'::regnamespace AND c.conrelid <> 0
	   AND c.conname IN ('product_stock_adds_up', 'payment_parts_add_up', 'stock_bucket_adds_up',
						 'points_ledger_sign')
	$$, $$ VALUES
	('order_system.product', 'product_stock_adds_up',
	 'CHECK (order_system_internal.stock_adds_up(product.*))'),
	('order_system.payment', 'payment_parts_add_up',
	 'CHECK (order_system_internal.payment_adds_up(payment.*))'),
	('order_system.stock_bucket', 'stock_bucket_adds_up',
	 'CHECK (order_system_internal.bucket_adds_up(stock_bucket.*))'),
	('order_system.points_ledger', 'points_ledger_sign',
	 'CHECK (order_system_internal.ledger_delta_ok(kind, delta))')
	$$, 'the four rules across columns are C calls, with the row or the bare columns');
SELECT throws_ok(
	$$INSERT INTO order_system.payment (order_id, method, amount, points_amount, external_amount, status, member_id)
	  VALUES (0, 'card', 10, 3, 3, 'pending', 0)$$,
	'23514', 'new row for relation "payment" violates check constraint "payment_parts_add_up"',
	'payment: the points part and the external part add up to the amount');
SELECT throws_ok(
	format($$INSERT INTO order_system.stock_bucket (product_id, bucket, available, reserved, sold, allotted)
			 VALUES (%s, 0, 1, 1, 1, 5)$$, :product_id),
	'23514', 'new row for relation "stock_bucket" violates check constraint "stock_bucket_adds_up"',
	'stock_bucket: available + reserved + sold must equal allotted');
SELECT throws_ok(
	format($$INSERT INTO order_system.points_ledger (member_id, kind, delta, reason) VALUES (%s, %L, %s, 'test')$$,
		   :member_id, k, d),
	'23514', 'new row for relation "points_ledger" violates check constraint "points_ledger_sign"',
	format('points_ledger: %s %s is refused', k, d))
  FROM (VALUES ('spend', 5), ('spend', 0), ('adjust', 0), ('earn', -1), ('earn', 0), ('refund', -3)) v(k, d);

---------------------------------------------------------------- references

-- No foreign keys on the write path: the code writes every reference from a
-- row it holds, and referenced rows are never deleted (check_invariants()
-- reports orphans).  Flash-sale buckets keep theirs: nothing hot inserts them.
SELECT fk_ok('order_system', 'stock_bucket', 'product_id', 'order_system', 'product', 'id');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_constraint
			WHERE contype = 'f' AND connamespace = 'order_system'::regnamespace),
		  1, 'there are no other foreign keys');
SELECT set_eq($$
	SELECT t.tgrelid::regclass::text, t.tgtype::int FROM pg_catalog.pg_trigger t
	 WHERE t.tgfoid = 'order_system_internal.refuse_delete()'::regprocedure AND t.tgenabled = 'O'
	$$, $$
	SELECT r, 2 | 8 | 32	-- BEFORE, DELETE, TRUNCATE; FOR EACH STATEMENT
	  FROM unnest('{order_system.member,order_system.product,order_system.orders,order_system.payment_method}'::text[]) r
	$$, 'members, products, orders and payment methods refuse DELETE and TRUNCATE');

---------------------------------------------------------------- indexes

SELECT indexes_are('order_system', 'member', ARRAY['member_pkey', 'member_email_key']);
SELECT indexes_are('order_system', 'product', ARRAY['product_pkey', 'product_sku_key']);
SELECT indexes_are('order_system', 'payment_method', ARRAY['payment_method_pkey']);
SELECT indexes_are('order_system', 'orders', ARRAY['orders_pkey', 'orders_idempotency_key']);
SELECT indexes_are('order_system', 'order_line', ARRAY['order_line_pkey']);
SELECT indexes_are('order_system', 'payment',
	ARRAY['payment_pkey', 'payment_order_id_key', 'payment_reference_key',
		  'payment_pending_expiry_idx']);
SELECT indexes_are('order_system', 'points_ledger',
	ARRAY['points_ledger_pkey', 'points_ledger_member_idx', 'points_ledger_order_idx']);
SELECT indexes_are('order_system', 'outbox', ARRAY['outbox_pkey', 'outbox_tx_idx']);
-- expire_orders scans pending orders by deadline: the partial indexes serve it.
SELECT is(pg_catalog.pg_get_expr(indpred, indrelid), $$((status)::text = 'pending'::text)$$,
		  'payment_pending_expiry_idx covers only pending payments')
  FROM pg_catalog.pg_index WHERE indexrelid = 'order_system.payment_pending_expiry_idx'::regclass;
SELECT has_trigger('order_system', 'orders', 'orders_status_guard',
	'orders has the status guard trigger');
SELECT trigger_is('order_system', 'orders', 'orders_status_guard',
	'order_system_internal', 'orders_status_guard');

---------------------------------------------------------------- the extension

SELECT is(e.extrelocatable, false, 'the extension is not relocatable')
  FROM pg_catalog.pg_extension e WHERE e.extname = 'order_system';
SELECT is(e.extnamespace::regnamespace::text, 'order_system', 'the extension lives in schema order_system')
  FROM pg_catalog.pg_extension e WHERE e.extname = 'order_system';
SELECT is_empty($$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind IN ('r', 'S')
	   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
						WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
						  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
	$$, 'every table and sequence in the schema belongs to the extension');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace)
	   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
						WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
						  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
	$$, 'every function in the two schemas belongs to the extension');
SELECT ok(EXISTS (SELECT FROM pg_catalog.pg_depend d
				   WHERE d.classid = 'pg_namespace'::regclass
					 AND d.objid = 'order_system_internal'::regnamespace
					 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'),
	'schema order_system_internal belongs to the extension (DROP EXTENSION drops it)');
SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system_internal'::regnamespace
	UNION ALL
	SELECT t.oid::regtype::text FROM pg_catalog.pg_type t
	 WHERE t.typnamespace = 'order_system_internal'::regnamespace
	$$, 'order_system_internal holds functions only');

-- \dd and \d+ answer: every table, view, type and function of the API has
-- a comment, and so has every internal function.
SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
	   AND obj_description(c.oid, 'pg_class') IS NULL
	UNION ALL
	SELECT t.oid::regtype::text FROM pg_catalog.pg_type t
	 WHERE t.typnamespace = 'order_system'::regnamespace AND (t.typtype IN ('d', 'e', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'))
	   AND obj_description(t.oid, 'pg_type') IS NULL
	UNION ALL
	SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace IN ('order_system'::regnamespace, 'order_system_internal'::regnamespace)
	   AND obj_description(p.oid, 'pg_proc') IS NULL
	$$, 'every table, view, type and function has a comment');

-- pg_dump dumps extension tables only when registered: all of them hold user data.
SELECT set_eq($$
	SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind IN ('r', 'S')
	$$, $$
	SELECT cfg::regclass::text FROM pg_catalog.pg_extension e, unnest(e.extconfig) cfg
	 WHERE e.extname = 'order_system'
	$$, 'every table and sequence is registered with pg_extension_config_dump');
SELECT set_eq($$
	SELECT cfg::regclass::text, cond FROM pg_catalog.pg_extension e,
		   unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
	 WHERE e.extname = 'order_system' AND cond <> ''
	$$, $$ VALUES ('order_system.payment_method', 'WHERE NOT builtin') $$,
	'only payment_method is dumped with a filter: the built-in methods come with the extension');

---------------------------------------------------------------- states agree with the core

CREATE TEMP TABLE order_check_states AS
SELECT m[1] AS state
  FROM pg_catalog.pg_constraint c,
	   regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), $$'([a-z_]+)'::text$$, 'g') AS m
 WHERE c.contypid = 'order_system.order_status'::regtype;
CREATE TEMP TABLE payment_check_states AS
SELECT m[1] AS state
  FROM pg_catalog.pg_constraint c,
	   regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), $$'([a-z_]+)'::text$$, 'g') AS m
 WHERE c.contypid = 'order_system.payment_status'::regtype;
-- The (order status, payment status) pairs check_invariants() accepts as consistent.
CREATE TEMP TABLE consistent_pairs AS
SELECT m[1] AS order_status, m[2] AS payment_status
  FROM regexp_matches(substring(pg_catalog.pg_get_functiondef('order_system.check_invariants()'::regprocedure)
								FROM $$VALUES (\(.*?\)\))$$),
					  $$\('([a-z_]+)'(?:::text)?, *'([a-z_]+)'(?:::text)?\)$$, 'g') AS m;

SELECT is((SELECT count(*)::int FROM order_check_states), 6, 'the order_status domain lists six states');
SELECT set_eq('SELECT state FROM order_check_states',
	'SELECT from_status FROM order_system.order_transitions()',
	'the order_status domain allows exactly the states of the C state machine');
SELECT is_empty($$
	SELECT to_status FROM order_system.order_transitions() WHERE to_status IS NOT NULL
	EXCEPT SELECT state FROM order_check_states
	$$, 'every state the machine moves to is allowed by the order_status domain');
SELECT is((SELECT count(*)::int FROM consistent_pairs), 7,
	'check_invariants() has its seven consistent (order, payment) status pairs');
SELECT set_eq('SELECT payment_status FROM consistent_pairs', 'SELECT state FROM payment_check_states',
	'the payment_status domain allows exactly the payment states check_invariants() accepts');
SELECT set_eq('SELECT order_status FROM consistent_pairs', 'SELECT state FROM order_check_states',
	'every order state has a consistent payment state in check_invariants()');

SELECT * FROM finish();
ROLLBACK;
