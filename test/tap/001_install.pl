# Installing, dumping and restoring order_system on a fresh cluster:
# a foreign order_system schema is refused, \dx shows the version, pg_dump
# keeps every user row and the sequences, and DROP/CREATE works again.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = order_system_node('install', preload => 0, extension => 0);

# A schema created beforehand by another role could hold planted objects.
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE SCHEMA order_system AUTHORIZATION mallory;
});
my ($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION order_system');
isnt($rc, 0, 'CREATE EXTENSION refuses a schema owned by another role');
like($err, qr/schema "order_system" already exists and is not an empty schema owned by/,
	'with a clear message');

# Same owner but not empty: refused as well.
$node->safe_psql('postgres', q{
	DROP SCHEMA order_system;
	CREATE SCHEMA order_system;
	CREATE FUNCTION order_system.place_order(bigint) RETURNS int LANGUAGE sql RETURN 1;
});
($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION order_system');
isnt($rc, 0, 'CREATE EXTENSION refuses a schema that already holds objects');
$node->safe_psql('postgres', 'DROP SCHEMA order_system CASCADE');

$node->safe_psql('postgres', 'CREATE EXTENSION order_system');
is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.7.0', '\dx shows version 0.7.0');

# Every upgrade path ends with the same objects as a fresh install.
my $members = q{
	SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
					  ORDER BY pg_describe_object(classid, objid, objsubid))
	  FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'order_system')};
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('upgraded', q{CREATE EXTENSION order_system VERSION '0.1.0'});
is($node->safe_psql('upgraded',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.1.0', 'version 0.1.0 installs');
# The library serves the newest SQL objects only: until the update, calls
# fail with a clear error and a hint instead of a missing column.
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
isnt($rc, 0, 'the 0.7.0 library refuses to work on 0.1.0 objects');
like($err, qr/library is version 0.7.0 but the extension installed here is 0.1.0.*ALTER EXTENSION order_system UPDATE/s,
	'with a message naming both versions and the fix');
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.2.0'});
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version 0.7.0 but the extension installed here is 0.2.0/,
	'and to work on 0.2.0 objects');

# Rows written under 0.2.0 (by hand: this library will not write them)
# survive the retyping of their columns into domains.
$node->safe_psql('upgraded', q{
	INSERT INTO order_system.member (name, points_balance) VALUES ('Old Member', 500);
	INSERT INTO order_system.points_ledger (member_id, kind, delta) VALUES (1, 'adjust', 500);
	INSERT INTO order_system.product (sku, name, price, currency, stock_available, stock_reserved,
									  stock_received)
	VALUES ('OLD-1', 'Old product', 700, 'KRW', 9, 1, 10);
	INSERT INTO order_system.orders (member_id, status, currency, total_amount, payment_method,
									 idempotency_key)
	VALUES (1, 'pending_payment', 'KRW', 700, 'card', 'old-key');
	INSERT INTO order_system.order_line (order_id, product_id, quantity, unit_price, amount)
	VALUES (1, 1, 1, 700, 700);
	INSERT INTO order_system.payment (order_id, method, amount, points_amount, external_amount, status)
	VALUES (1, 'card', 700, 0, 700, 'pending');
	INSERT INTO order_system.outbox (event_type, aggregate_type, aggregate_id, payload)
	VALUES ('order.placed', 'order', 1, '{}');
});
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.3.0'});
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version 0.7.0 but the extension installed here is 0.3.0/,
	'and to work on 0.3.0 objects');
# 0.4.0 puts new constraints on the same rows: they must pass them.
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.4.0'});
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version 0.7.0 but the extension installed here is 0.4.0/,
	'and to work on 0.4.0 objects');
# 0.5.0 stores payloads as json: the events of before keep their text.
$node->safe_psql('upgraded', q{
	INSERT INTO order_system.outbox (event_type, aggregate_type, aggregate_id, payload)
	VALUES ('order.paid', 'order', 1, '{"order_id": 1, "lines": [{"q": 1}], "s": "\u00e9\"x"}')});
my $payloads = q{SELECT string_agg(id || ' ' || pg_typeof(payload) || ' ' || payload::text, E'\n' ORDER BY id)
	FROM order_system.outbox};
my $jsonb_payloads = $node->safe_psql('upgraded', $payloads);
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.5.0'});
my $json_payloads = $node->safe_psql('upgraded', $payloads);
like($jsonb_payloads, qr/^1 jsonb \{\}\n2 jsonb /, 'payloads before 0.5.0 are jsonb');
$jsonb_payloads =~ s/ jsonb / json /g;
is($json_payloads, $jsonb_payloads, 'and keep their text as json after the update');
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version 0.7.0 but the extension installed here is 0.5.0/,
	'and to work on 0.5.0 objects');
# 0.6.0 retypes the consumer name into a domain: registered names pass it.
$node->safe_psql('upgraded', q{SELECT order_system.register_consumer('before-0.6.0_x', true)});
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.6.0'});
is($node->safe_psql('upgraded', q{
	SELECT c.name || ' ' || pg_typeof(c.name) FROM order_system.consumer c}),
	'before-0.6.0_x order_system.consumer_name', 'consumer names keep their rows, in the new domain');
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version 0.7.0 but the extension installed here is 0.6.0/,
	'and to work on 0.6.0 objects');
# 0.7.0 gives place_order and next_batch named result types: the functions
# are made again, with the extension's grants.
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.7.0'});
is($node->safe_psql('upgraded', q{
	SELECT string_agg(p.oid::regprocedure || ' ' || pg_get_function_result(p.oid) || ' '
					  || array_to_string(ARRAY(SELECT r FROM unnest(ARRAY['order_system_app',
							'order_system_member', 'order_system_gateway', 'order_system_admin']) r
						WHERE has_function_privilege(r, p.oid, 'EXECUTE')), ','), E'\n' ORDER BY p.proname)
	  FROM pg_proc p WHERE p.oid IN ('order_system.place_order(bigint,jsonb,text,text,jsonb)'::regprocedure,
								   'order_system.next_batch(text,bigint)'::regprocedure)}),
	"order_system.next_batch(text,bigint) SETOF order_system.batch_event order_system_gateway,order_system_admin\n"
	. "order_system.place_order(bigint,jsonb,text,text,jsonb) order_system.placed_order "
	. "order_system_app,order_system_member,order_system_admin",
	'place_order and next_batch return their row types, callable by the same roles');
is($node->safe_psql('upgraded', q{SELECT order_system.unregister_consumer('before-0.6.0_x')}),
	't', 'and their consumers unregister after the update to 0.7.0');
is($node->safe_psql('upgraded', $members), $node->safe_psql('postgres', $members),
	'0.1.0 updated through 0.2.0 .. 0.6.0 to 0.7.0 has exactly the objects of a fresh 0.7.0');
invariants_ok($node, 'the 0.2.0 rows are intact after the update', 'upgraded');
is($node->safe_psql('upgraded', q{SELECT order_system.confirm_payment(1, 'gw-old')}), 'paid',
	'an order of 0.2.0 moves on after the update');
($rc, $out, $err) = $node->psql('upgraded', q{
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card', 'old-key')});
like($err, qr/idempotency key "old-key" was used for a different order request/,
	'a different request under that key is refused');
is($node->safe_psql('upgraded', q{
	SELECT order_system.create_member('After Upgrade', NULL, 10) \g /dev/null
	SELECT order_system.create_product('U-1', 'Upgraded', 100, 'KRW', 5) \g /dev/null
	SELECT order_system.place_order(2, '[{"product_id": 2, "quantity": 1}]', 'card') \g /dev/null
	SELECT order_system.register_consumer('after_upgrade', true) \g /dev/null
	SELECT count(*) FROM order_system.next_batch('after_upgrade')}),
	'7', 'after the update the API works and its events are delivered');
invariants_ok($node, 'and the invariants hold', 'upgraded');

# Some data through the API, one order in each state family.
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('Dump Test', 'dump@example.com', 1000);
	SELECT order_system.create_product('D-1', 'Dumped', 100, 'KRW', 10);
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 2}]', 'card', 'k-1');
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'points');
	SELECT order_system.confirm_payment(1);
	CREATE FUNCTION public.pay_half(bigint, bigint, bigint, text, jsonb) RETURNS jsonb
		LANGUAGE sql RETURN jsonb_build_object('points', 0, 'external', $3);
	SELECT order_system.register_payment_method('custom', 'public.pay_half(bigint,bigint,bigint,text,jsonb)');
});
my $counts = q{
	SELECT (SELECT count(*) FROM order_system.member) || ',' ||
		   (SELECT count(*) FROM order_system.product) || ',' ||
		   (SELECT count(*) FROM order_system.orders) || ',' ||
		   (SELECT count(*) FROM order_system.order_line) || ',' ||
		   (SELECT count(*) FROM order_system.payment) || ',' ||
		   (SELECT count(*) FROM order_system.points_ledger) || ',' ||
		   (SELECT count(*) FROM order_system.outbox) || ',' ||
		   (SELECT count(*) FROM order_system.payment_method)
};
my $before = $node->safe_psql('postgres', $counts);

my $dump = $node->basedir . '/dump.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump runs');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
		$node->connstr('restored'), '-f', $dump ], 'the dump restores');
is($node->safe_psql('restored', $counts), $before, 'every user row survives pg_dump');
invariants_ok($node, 'invariants hold after restore', 'restored');
is($node->safe_psql('restored', q{
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'custom')}),
	'3', 'sequences survive: the next order gets the next id, with a registered method');
is($node->safe_psql('restored', q{
	SELECT replayed FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 2}]', 'card', 'k-1')}),
	't', 'idempotency keys survive pg_dump');

$node->safe_psql('postgres', 'DROP EXTENSION order_system');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_class WHERE relnamespace = 'order_system'::regnamespace}),
	'0', 'DROP EXTENSION leaves at most the empty schema behind');
$node->safe_psql('postgres', 'CREATE EXTENSION order_system');
is($node->safe_psql('postgres', q{SELECT order_system.create_member('Again')}), '1',
	'the extension installs again into its own empty schema after DROP');

$node->stop;
done_testing();
