-- Hostile and extreme input for every function: NULL in each required
-- argument (22004), zero, negative and INT64 extreme numbers, totals that
-- overflow (22003), unknown ids, malformed lines, payment_params and keys
-- (22023), 1 MB and emoji strings (22001 when too long), and orders with
-- more than 1000 lines.  Each group shows that its failures wrote nothing.
\set VERBOSITY terse
SELECT regress.restart_ids(60000);

SELECT order_system.create_member('Bad Input', 'bad@example.com', 1000) AS m \gset
SELECT order_system.create_product('BI-A', 'Bad input A', 100, 'KRW', 1000) AS a \gset
SELECT order_system.create_product('BI-MAX', 'Priciest', 9223372036854775807, 'KRW', 10) AS pmax \gset
SELECT order_system.create_product('BI-HALF', 'Half of the range', 4611686018427387904, 'KRW', 10) AS phalf \gset
SELECT order_id AS o, payment_reference AS ref
  FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'bank_transfer') \gset

-- run(call): regress.try('SELECT ' || call) with each $name in the table
-- ids replaced by this file's id or reference; results are cut at 120.
CREATE TEMP TABLE ids (k text, v text);
INSERT INTO ids VALUES ('$member', :'m'), ('$product', :'a'), ('$order', :'o'), ('$ref', :'ref'),
	('$max_product', :'pmax'), ('$half_product', :'phalf');
CREATE FUNCTION pg_temp.run(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT k, v FROM ids ORDER BY length(k) DESC LOOP
		call := replace(call, r.k, r.v);
	END LOOP;
	RETURN left(regress.try('SELECT ' || call), 120);
END
$$;

----------------------------------------------------------------- NULL arguments
SELECT regress.counts() AS before \gset
SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.create_member(NULL)'),
	('order_system.create_member(NULL, ''n@example.com'', 5)'),
	('order_system.deactivate_member(NULL)'),
	('order_system.adjust_points(NULL, 1, ''r'')'),
	('order_system.adjust_points($member, NULL, ''r'')'),
	('order_system.adjust_points($member, 1, NULL)'),
	('order_system.create_product(NULL, ''n'', 1)'),
	('order_system.create_product(''N-1'', NULL, 1)'),
	('order_system.create_product(''N-1'', ''n'', NULL)'),
	('order_system.create_product(''N-1'', ''n'', 1, NULL)'),
	('order_system.set_price(NULL, 1)'),
	('order_system.set_price($product, NULL)'),
	('order_system.restock(NULL, 1)'),
	('order_system.restock($product, NULL)'),
	('order_system.deactivate_product(NULL)'),
	('order_system.place_order(NULL, ''[{"product_id": $product, "quantity": 1}]'', ''card'')'),
	('order_system.place_order($member, NULL, ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', NULL)'),
	('order_system.confirm_payment(NULL)'),
	('order_system.confirm_payment(NULL, ''gw'')'),
	('order_system.decline_payment(NULL)'),
	('order_system.cancel_order(NULL)'),
	('order_system.complete_order(NULL)'),
	('order_system.refund_order(NULL)'),
	('order_system.confirm_deposit(NULL, 100)'),
	('order_system.confirm_deposit(''$ref'', NULL)'),
	('order_system.expire_orders(NULL)'),
	('order_system.register_payment_method(NULL, ''order_system.pay_card(bigint,bigint,bigint,text,jsonb)'')'),
	('order_system.register_payment_method(''n'', NULL)'),
	('order_system.set_payment_method_enabled(NULL, true)'),
	('order_system.set_payment_method_enabled(''card'', NULL)'),
	('order_system.pay_points(NULL, 1, 100, ''KRW'', NULL)'),
	('order_system.pay_card(1, NULL, 100, ''KRW'', NULL)'),
	('order_system.pay_bank_transfer(1, 1, NULL, ''KRW'', NULL)'),
	('order_system.pay_points_card(1, 1, 100, NULL, ''{"points": 1}'')')) t(call);
SELECT regress.counts() = :'before' AS nothing_written;
-- Optional arguments may be NULL; readers answer NULL or no row.
SELECT call, result !~ '^[0-9A-Z]{5}: ' AS ok FROM (SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.create_member(''Nully'', NULL, NULL)'),
	('order_system.create_product(''BI-NULL'', ''Nully'', 1, ''KRW'', NULL)'),
	('order_id FROM order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', NULL, NULL)'),
	('order_system.register_payment_method(''nully'', ''order_system.pay_card(bigint,bigint,bigint,text,jsonb)'', NULL)')) t(call)) r;
SELECT (SELECT count(*) FROM order_system.get_member(NULL)) AS members,
       (SELECT count(*) FROM order_system.get_product(NULL)) AS products,
       (SELECT count(*) FROM order_system.points_history(NULL)) AS history,
       order_system.get_order(NULL) AS order_, order_system.virtual_account_valid(NULL) AS valid;

----------------------------------------------------------------- numbers: zero, negative, INT64 extremes, unknown ids
-- Balances stop at 10^15 points, so refunds can never overflow one.
SELECT order_system.create_member('Rich', NULL, 1000000000000000) AS rich \gset
INSERT INTO ids VALUES ('$rich', :'rich');
SELECT regress.counts() AS before \gset
SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.create_member(''I'', NULL, -1)'),
	('order_system.create_member(''I'', NULL, -9223372036854775808)'),
	('order_system.create_member(''I'', NULL, 1000000000000001)'),
	('order_system.create_member(''I'', NULL, 9223372036854775807)'),
	('order_system.adjust_points($member, 0, ''r'')'),
	('order_system.adjust_points($rich, 1, ''r'')'),
	('order_system.adjust_points($rich, 9223372036854775807, ''r'')'),
	('order_system.adjust_points($member, -1001, ''r'')'),
	('order_system.create_product(''I-1'', ''i'', -1)'),
	('order_system.create_product(''I-1'', ''i'', -9223372036854775808)'),
	('order_system.create_product(''I-1'', ''i'', 1, ''KRW'', -1)'),
	('order_system.create_product(''I-1'', ''i'', 1, ''KRW'', 1000000001)'),
	('order_system.create_product(''I-1'', ''i'', 1, ''KRW'', 9223372036854775807)'),
	('order_system.create_product(''I-1'', ''i'', 1, ''KRW'', -9223372036854775808)'),
	('order_system.set_price($product, -1)'),
	('order_system.set_price($product, -9223372036854775808)'),
	('order_system.restock($product, 0)'),
	('order_system.restock($product, -1)'),
	('order_system.restock($product, 1000000001)'),
	('order_system.restock($product, 9223372036854775807)'),
	('order_system.restock($product, -9223372036854775808)'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 0}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": -1}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1000000001}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 9223372036854775807}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": -9223372036854775808}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1000000000}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $max_product, "quantity": 2}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $half_product, "quantity": 2}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $half_product, "quantity": 1}, {"product_id": $max_product, "quantity": 1}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": $max_product, "quantity": 1}]'', ''points'')'),
	('order_system.confirm_deposit(''$ref'', 0)'),
	('order_system.confirm_deposit(''$ref'', -100)'),
	('order_system.confirm_deposit(''$ref'', 9223372036854775807)'),
	('order_system.confirm_deposit(''$ref'', -9223372036854775808)'),
	('order_system.expire_orders(0)'),
	('order_system.expire_orders(-1)'),
	('order_system.expire_orders(-2147483648)'),
	('order_system.pay_card(1, 1, -1, ''KRW'', NULL)'),
	('order_system.pay_points(1, 1, -9223372036854775808, ''KRW'', NULL)'),
	('order_system.pay_points_card(1, 1, 100, ''KRW'', ''{"points": 9223372036854775807}'')'),
	('order_system.pay_points_card(1, 1, 100, ''KRW'', ''{"points": -9223372036854775808}'')')) t(call);
SELECT regress.counts() = :'before' AS nothing_written;
-- Taking away more points than anyone has: OS006, and the message names the
-- adjustment exactly.
SELECT pg_temp.run('order_system.adjust_points($member, -9223372036854775808, ''r'')') ~ '^OS006: .* adjustment of -9223372036854775808$' AS int64_min_delta;
-- Unknown ids: zero, negative, the largest.
SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.deactivate_member(0)'),
	('order_system.adjust_points(-1, 1, ''r'')'),
	('order_system.set_price(0, 1)'),
	('order_system.restock(-1, 1)'),
	('order_system.deactivate_product(9223372036854775807)'),
	('order_system.place_order(0, ''[{"product_id": $product, "quantity": 1}]'', ''card'')'),
	('order_system.place_order(-9223372036854775808, ''[{"product_id": $product, "quantity": 1}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": 0, "quantity": 1}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": -1, "quantity": 1}]'', ''card'')'),
	('order_system.place_order($member, ''[{"product_id": 9223372036854775807, "quantity": 1}]'', ''card'')'),
	('order_system.confirm_payment(0)'),
	('order_system.decline_payment(-1)'),
	('order_system.cancel_order(9223372036854775807)'),
	('order_system.complete_order(-9223372036854775808)'),
	('order_system.refund_order(0)')) t(call);
SELECT regress.counts() = :'before' AS nothing_written;
SELECT (SELECT count(*) FROM order_system.get_member(-1)) AS members,
       (SELECT count(*) FROM order_system.get_product(9223372036854775807)) AS products,
       (SELECT count(*) FROM order_system.points_history(0)) AS history,
       order_system.get_order(-9223372036854775808) AS order_;
-- The extremes that are allowed: the largest price, stock, quantity, total and balance.
SELECT order_system.create_product('BI-BIG', 'Big', 9223372036854775807, 'KRW', 1000000000) AS big \gset
SELECT sku, price, stock_available FROM order_system.get_product(:big);
SELECT order_system.restock(:a, 1000000000);
SELECT order_id AS om, total_amount FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :pmax)::jsonb, 'card') \gset
SELECT :total_amount AS largest_total;
SELECT order_system.confirm_payment(:om), order_system.complete_order(:om);
-- 1% of 9223372036854775807 would be earned: the balance stops at 10^15.
SELECT delta FROM order_system.points_history(:m) WHERE order_id = :om;
SELECT points_balance FROM order_system.get_member(:m);
SELECT order_id AS oq FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1000000000}]', :a)::jsonb, 'card') \gset
SELECT quantity, amount FROM order_system.order_line WHERE order_id = :oq;
SELECT points_balance FROM order_system.get_member(:rich);

----------------------------------------------------------------- malformed lines, params and keys
SELECT regress.counts() AS before \gset
SELECT lines, pg_temp.run(format('order_system.place_order($member, %L, ''card'')', lines)) AS result FROM (VALUES
	('{}'),
	('{"product_id": $product, "quantity": 1}'),
	('"lines"'),
	('1'),
	('null'),
	('true'),
	('[]'),
	('[1]'),
	('["x"]'),
	('[null]'),
	('[[]]'),
	('[[{"product_id": $product, "quantity": 1}]]'),
	('[{}]'),
	('[{"product_id": $product}]'),
	('[{"quantity": 1}]'),
	('[{"product_id": $product, "quantity": 1, "price": 0}]'),
	('[{"product_id": $product, "qty": 1}]'),
	('[{"product_id": $product, "quantity": 1.5}]'),
	('[{"product_id": 1.5, "quantity": 1}]'),
	('[{"product_id": "$product", "quantity": 1}]'),
	('[{"product_id": $product, "quantity": "1"}]'),
	('[{"product_id": $product, "quantity": null}]'),
	('[{"product_id": $product, "quantity": true}]'),
	('[{"product_id": {"id": $product}, "quantity": 1}]'),
	('[{"product_id": [$product], "quantity": 1}]'),
	('[{"product_id": $product, "quantity": 1}, 5]'),
	('[{"product_id": $product, "quantity": 1}, {"product_id": $product}]'),
	('[{"product_id": $product, "quantity": 600000000}, {"product_id": $product, "quantity": 600000000}]')) t(lines);
-- Numbers far beyond bigint are malformed lines too, not an overflow of a total.
SELECT lines, left(pg_temp.run(format('order_system.place_order($member, %L, ''card'')', lines)), 5) AS sqlstate FROM (VALUES
	('[{"product_id": $product, "quantity": 1e30}]'),
	('[{"product_id": 1e30, "quantity": 1}]'),
	('[{"product_id": $product, "quantity": -1e30}]')) t(lines);
SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', NULL, ''[]'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', NULL, ''"x"'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', NULL, ''null'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', NULL, ''7'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''points_card'', NULL, ''{"points": "all"}'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''points_card'', NULL, ''{"points": 0.5}'')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', '''')'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', '''')')) t(call);
SELECT regress.counts() = :'before' AS nothing_written;

----------------------------------------------------------------- long and unusual strings
SELECT order_id AS o2 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
INSERT INTO ids VALUES ('$card_order', :'o2');
SELECT regress.counts() AS before \gset
SELECT call, pg_temp.run(call) AS result FROM (VALUES
	('order_system.create_member(repeat(''x'', 1048576))'),
	('order_system.create_member(repeat(''😀'', 201))'),
	('order_system.create_member(''n'', repeat(''x'', 1048576) || ''@example.com'')'),
	('order_system.create_member(''n'', repeat(''x'', 309) || ''@example.com'')'),
	('order_system.adjust_points($member, 1, repeat(''x'', 1048576))'),
	('order_system.adjust_points($member, 1, repeat(''😀'', 1001))'),
	('order_system.create_product(repeat(''x'', 1048576), ''n'', 1)'),
	('order_system.create_product(repeat(''x'', 65), ''n'', 1)'),
	('order_system.create_product(''S-1'', repeat(''x'', 1048576), 1)'),
	('order_system.create_product(''S-1'', repeat(''😀'', 201), 1)'),
	('order_system.create_product(''S-1'', ''n'', 1, ''₩₩₩'')'),
	('order_system.create_product(''S-1'', ''n'', 1, repeat(''K'', 1048576))'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', repeat(''x'', 1048576))'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', repeat(''k'', 1048576))'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''card'', repeat(''k'', 256))'),
	('order_system.place_order($member, ''[{"product_id": $product, "quantity": 1}]'', ''💳'')'),
	('order_system.decline_payment($card_order, repeat(''r'', 1048576))'),
	('order_system.cancel_order($card_order, repeat(''r'', 1001))'),
	('order_system.refund_order($card_order, repeat(''r'', 1048576))'),
	('order_system.confirm_deposit(repeat(''V'', 1048576), 100)'),
	('order_system.confirm_deposit(''VA😀'', 100)'),
	('order_system.register_payment_method(repeat(''x'', 1048576), ''order_system.pay_card(bigint,bigint,bigint,text,jsonb)'')'),
	('order_system.register_payment_method(''longdesc'', ''order_system.pay_card(bigint,bigint,bigint,text,jsonb)'', repeat(''d'', 1001))'),
	('order_system.set_payment_method_enabled(repeat(''x'', 1048576), true)'),
	('order_system.virtual_account_valid(repeat(''V'', 1048576))'),
	('order_system.virtual_account_valid(''VA000000000000001😀'')')) t(call);
-- A gateway reference longer than the 200 characters a payment keeps is
-- too long as well.
SELECT call, left(pg_temp.run(call), 5) AS sqlstate FROM (VALUES
	('order_system.confirm_payment($card_order, repeat(''g'', 1048576))'),
	('order_system.confirm_payment($card_order, repeat(''g'', 201))'),
	('order_system.confirm_payment($card_order, repeat(''🧾'', 201))')) t(call);
SELECT regress.counts() = :'before' AS nothing_written;
-- At the limits, emoji count as one character each.
SELECT order_system.create_member(repeat('😀', 200), repeat('😀', 308) || '@example.com') AS emoji \gset
SELECT length(name), length(email) FROM order_system.get_member(:emoji);
SELECT order_system.adjust_points(:emoji, 10, repeat('🎁', 1000));
SELECT order_system.create_product(repeat('📦', 64), repeat('📦', 200), 1, 'KRW', 5) AS box \gset
SELECT length(sku), length(name) FROM order_system.get_product(:box);
SELECT status, replayed FROM order_system.place_order(:emoji, format('[{"product_id": %s, "quantity": 1}]', :box)::jsonb,
	'card', repeat('🔑', 255)) \gset
SELECT :'status' AS status, :'replayed' AS replayed;
SELECT order_id AS eo, replayed FROM order_system.place_order(:emoji, format('[{"product_id": %s, "quantity": 1}]', :box)::jsonb,
	'card', repeat('🔑', 255)) \gset
SELECT :'replayed' AS replayed;
SELECT order_system.confirm_payment(:eo, repeat('🧾', 200));
SELECT order_system.refund_order(:eo, repeat('↩', 1000));
SELECT length(status_reason) AS reason, length(gateway_ref) AS gateway_ref
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id WHERE o.id = :eo;

----------------------------------------------------------------- many lines
-- At most 1000 lines, counted before repeated products merge.
SELECT count(order_system.create_product('BULK-' || i, 'Bulk ' || i, 1, 'KRW', 1)) AS bulk_products
  FROM generate_series(1, 1001) i;
SELECT regress.counts() AS before \gset
SELECT n, pg_temp.run(format('order_system.place_order($member, %L, ''card'')', lines)) AS result
  FROM (VALUES (1001), (100000)) v(n),
       LATERAL (SELECT jsonb_agg(jsonb_build_object('product_id', :a, 'quantity', 1)) FROM generate_series(1, n)) l(lines);
SELECT pg_temp.run(format('order_system.place_order($member, %L, ''card'')',
	(SELECT jsonb_agg(jsonb_build_object('product_id', id, 'quantity', 1))
	   FROM order_system.product WHERE sku LIKE 'BULK-%'))) AS distinct_1001;
SELECT regress.counts() = :'before' AS nothing_written;
-- 1000 lines of one product merge into one line; 1000 distinct products make 1000 lines.
SELECT order_system.restock(:a, 1000);
SELECT order_id AS same1000, total_amount FROM order_system.place_order(:m,
	(SELECT jsonb_agg(jsonb_build_object('product_id', :a, 'quantity', 1)) FROM generate_series(1, 1000)), 'card') \gset
SELECT order_id AS distinct1000, total_amount FROM order_system.place_order(:m,
	(SELECT jsonb_agg(jsonb_build_object('product_id', id, 'quantity', 1))
	   FROM order_system.product WHERE sku LIKE 'BULK-%' AND sku <> 'BULK-1001'), 'card') \gset
SELECT order_id, count(*) AS lines, sum(quantity) AS quantity, sum(amount) AS amount
  FROM order_system.order_line WHERE order_id IN (:same1000, :distinct1000) GROUP BY order_id ORDER BY order_id;
SELECT order_system.cancel_order(:distinct1000);
SELECT count(*) FILTER (WHERE stock_available = 1) AS bulk_available FROM order_system.product WHERE sku LIKE 'BULK-%';

SELECT * FROM order_system.check_invariants();
