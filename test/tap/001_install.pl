# Installing, updating, dumping and restoring order_system on a fresh
# cluster: a foreign order_system schema (or a planted
# order_system_internal) is refused, \dx shows the version, every update
# path ends with exactly what a fresh install makes (the schema as
# pg_dump --binary-upgrade writes it, grants, initial privileges, comments,
# extension membership, pg_dump registrations), rows and consumers survive
# the updates, pg_dump keeps every user row and the sequences, and
# DROP/CREATE works again.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $version = '0.8.0';

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

# The internals' schema is the extension's own too: one made beforehand
# (by anybody) could hold planted functions.
$node->safe_psql('postgres', 'CREATE SCHEMA order_system_internal AUTHORIZATION mallory');
($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION order_system');
isnt($rc, 0, 'CREATE EXTENSION refuses an existing order_system_internal schema');
like($err, qr/schema "order_system_internal" already exists/, 'naming it');
$node->safe_psql('postgres', 'DROP SCHEMA order_system_internal');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'order_system'}),
	'0', 'and leaves no order_system schema behind');

$node->safe_psql('postgres', 'CREATE EXTENSION order_system');
is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	$version, "\\dx shows version $version");

# What an update path must end with: exactly what a fresh install makes.
# pg_dump skips extension members, except with --binary-upgrade, which
# writes them all with their ALTER EXTENSION ... ADD; left out are the
# lines that carry OIDs and transaction ids of this cluster, sequence
# positions (data), and binary_upgrade_create_empty_extension (its pg_dump
# registrations are OIDs: compared by name below).  Consecutive GRANT/REVOKE lines are
# sorted: they are the items of one object's ACL, whose order is the order
# the grants were made in and means nothing.
sub schema_dump
{
	my ($db) = @_;
	my $file = $node->basedir . "/schema_$db.sql";
	my ($stdout, $stderr) = run_command(
		[ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $node->connstr($db), '-f', $file ]);
	die "pg_dump of $db failed: $stderr" if $stderr ne '';
	my (@out, @acl);
	my $skip = 0;
	foreach my $line (split /^/, slurp_file($file))
	{
		if ($skip) { $skip--; next; }
		next if $line =~ /^\\(un)?restrict /;
		next if $line =~ /binary_upgrade_set_next_|binary_upgrade_create_empty_extension/;
		next if $line =~ /^SELECT pg_catalog\.setval\(/;
		# UPDATE pg_catalog.pg_class / SET relfrozenxid = ... / WHERE oid = ...
		if ($line =~ /^UPDATE pg_catalog\.pg_class$/) { $skip = 2; next; }
		if ($line =~ /^(GRANT|REVOKE) /) { push @acl, $line; next; }
		push @out, sort(@acl), $line;
		@acl = ();
	}
	return join('', @out, sort(@acl));
}

# The rest, from the catalogs, by name: privileges of every member and of
# the schemas, default privileges, initial privileges (pg_init_privs, what
# pg_dump compares grants with), comments, membership, pg_dump
# registrations, and the built-in payment methods.
my $catalog = q{
	SELECT string_agg(k || ' | ' || o || ' | ' || coalesce(v, 'NULL'), E'\n' ORDER BY k, o, v) FROM (
	SELECT 'acl' AS k, m.what AS o,
		   coalesce((SELECT string_agg(a, ' ' ORDER BY a) FROM unnest(m.acl::text[]) a), '(default)') AS v
	  FROM (SELECT pg_describe_object(d.classid, d.objid, 0) AS what,
				   CASE d.classid
						WHEN 'pg_class'::regclass THEN (SELECT relacl FROM pg_class WHERE oid = d.objid)
						WHEN 'pg_proc'::regclass THEN (SELECT proacl FROM pg_proc WHERE oid = d.objid)
						WHEN 'pg_type'::regclass THEN (SELECT typacl FROM pg_type WHERE oid = d.objid)
						WHEN 'pg_namespace'::regclass THEN (SELECT nspacl FROM pg_namespace WHERE oid = d.objid)
				   END AS acl
			  FROM pg_depend d
			 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'order_system')
			UNION ALL
			SELECT 'schema ' || nspname, nspacl FROM pg_namespace WHERE nspname = 'order_system') m
	UNION ALL
	SELECT 'default acl', coalesce(defaclnamespace::regnamespace::text, '-') || ' ' || defaclobjtype::text,
		   defaclacl::text
	  FROM pg_default_acl
	UNION ALL
	SELECT 'init privs', pg_describe_object(i.classoid, i.objoid, i.objsubid) || ' ' || i.privtype::text,
		   (SELECT string_agg(a, ' ' ORDER BY a) FROM unnest(i.initprivs::text[]) a)
	  FROM pg_init_privs i WHERE i.objoid >= 16384
	UNION ALL
	SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
	  FROM pg_description d WHERE d.objoid >= 16384
	UNION ALL
	SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid), NULL
	  FROM pg_depend d
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'order_system')
	UNION ALL
	SELECT 'config dump', c::regclass::text, w
	  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w)
	 WHERE e.extname = 'order_system'
	UNION ALL
	SELECT 'extension', extname, extversion || ' ' || extrelocatable || ' ' || extnamespace::regnamespace::text
	  FROM pg_extension WHERE extname = 'order_system'
	UNION ALL
	SELECT 'built-in method', name, handler::text || ' ' || enabled || ' ' || coalesce(description, '')
	  FROM order_system.payment_method WHERE builtin) x};

# Equal texts pass; otherwise the test fails with their diff.
sub same_text
{
	my ($got, $want, $what, $name) = @_;
	return pass($name) if $got eq $want;
	my $dir = $node->basedir;
	PostgreSQL::Test::Utils::append_to_file("$dir/$what.fresh", $want);
	PostgreSQL::Test::Utils::append_to_file("$dir/$what.updated", $got);
	my ($diff) = run_command([ 'diff', '-u', "$dir/$what.fresh", "$dir/$what.updated" ]);
	fail($name);
	diag($diff);
}

my $fresh_schema = schema_dump('postgres');
my $fresh_catalog = $node->safe_psql('postgres', $catalog);
like($fresh_schema, qr/ALTER EXTENSION order_system ADD FUNCTION order_system_internal\.require_arg/,
	'the schema dump shows extension membership, internals included');
like($fresh_catalog, qr/^init privs \| function order_system\.place_order\(.*order_system_app=X/m,
	'the catalog comparison sees initial privileges');
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('upgraded', q{CREATE EXTENSION order_system VERSION '0.1.0'});
is($node->safe_psql('upgraded',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.1.0', 'version 0.1.0 installs');
# The library serves the newest SQL objects only: until the update, calls
# fail with a clear error and a hint instead of a missing column.
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
isnt($rc, 0, "the $version library refuses to work on 0.1.0 objects");
like($err, qr/library is version \Q$version\E but the extension installed here is 0.1.0.*ALTER EXTENSION order_system UPDATE/s,
	'with a message naming both versions and the fix');
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.2.0'});
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version \Q$version\E but the extension installed here is 0.2.0/,
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
like($err, qr/library is version \Q$version\E but the extension installed here is 0.3.0/,
	'and to work on 0.3.0 objects');
# 0.4.0 puts new constraints on the same rows: they must pass them.
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.4.0'});
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version \Q$version\E but the extension installed here is 0.4.0/,
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
like($err, qr/library is version \Q$version\E but the extension installed here is 0.5.0/,
	'and to work on 0.5.0 objects');
# 0.6.0 retypes the consumer name into a domain: registered names pass it.
$node->safe_psql('upgraded', q{SELECT order_system.register_consumer('before-0.6.0_x', true)});
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE TO '0.6.0'});
is($node->safe_psql('upgraded', q{
	SELECT c.name || ' ' || pg_typeof(c.name) FROM order_system.consumer c}),
	'before-0.6.0_x order_system.consumer_name', 'consumer names keep their rows, in the new domain');
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version \Q$version\E but the extension installed here is 0.6.0/,
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
($rc, $out, $err) = $node->psql('upgraded', q{SELECT order_system.create_member('Too Early')});
like($err, qr/library is version \Q$version\E but the extension installed here is 0.7.0/,
	'and to work on 0.7.0 objects');

# 0.8.0 moves the internals to order_system_internal.  A consumer
# registered (and positioned) before keeps its row and position.
my $consumer = q{SELECT name || ' ' || batch_id || ' ' || last_snapshot::text FROM order_system.consumer};
my $consumer_before = $node->safe_psql('upgraded', $consumer);
$node->safe_psql('upgraded', q{ALTER EXTENSION order_system UPDATE});
is($node->safe_psql('upgraded',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	$version, "ALTER EXTENSION order_system UPDATE reaches $version");
is($node->safe_psql('upgraded', $consumer), $consumer_before,
	'a registered consumer keeps its row and position through the update');
same_text(schema_dump('upgraded'), $fresh_schema, 'schema_chain',
	"0.1.0 updated through 0.2.0 .. 0.7.0 to $version: pg_dump --binary-upgrade --schema-only as a fresh install");
same_text($node->safe_psql('upgraded', $catalog), $fresh_catalog, 'catalog_chain',
	'and the same grants, initial privileges, comments, members and dump registrations');
is($node->safe_psql('upgraded', q{SELECT count(*) FROM order_system.next_batch('before-0.6.0_x')}),
	'2', 'the consumer registered before 0.6.0 is delivered the events of before');
is($node->safe_psql('upgraded', q{SELECT order_system.unregister_consumer('before-0.6.0_x')}),
	't', 'and unregisters after the update');

# The path most installations take: 0.7.0, then ALTER EXTENSION UPDATE.
$node->safe_psql('postgres', 'CREATE DATABASE from070');
$node->safe_psql('from070', q{CREATE EXTENSION order_system VERSION '0.7.0'});
# (the 0.8.0 library refuses calls on 0.7.0 objects: the row is written
# as 0.7.0's register_consumer wrote it)
$node->safe_psql('from070',
	q{INSERT INTO order_system.consumer (name, last_snapshot) VALUES ('relay', pg_current_snapshot())});
$consumer_before = $node->safe_psql('from070', $consumer);
# A schema planted under the internals' name stops the update.
$node->safe_psql('from070', 'CREATE SCHEMA order_system_internal AUTHORIZATION mallory');
($rc, $out, $err) = $node->psql('from070', 'ALTER EXTENSION order_system UPDATE');
isnt($rc, 0, 'ALTER EXTENSION UPDATE refuses an existing order_system_internal schema');
like($err, qr/schema "order_system_internal" already exists/, 'naming it');
is($node->safe_psql('from070',
		q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.7.0', 'and changes nothing');
$node->safe_psql('from070', 'DROP SCHEMA order_system_internal');
$node->safe_psql('from070', 'ALTER EXTENSION order_system UPDATE');
same_text(schema_dump('from070'), $fresh_schema, 'schema_070',
	"0.7.0 updated to $version: pg_dump --binary-upgrade --schema-only as a fresh install");
same_text($node->safe_psql('from070', $catalog), $fresh_catalog, 'catalog_070',
	'and the same grants, initial privileges, comments, members and dump registrations');
is($node->safe_psql('from070', $consumer), $consumer_before,
	'its registered consumer keeps its row and position');
is($node->safe_psql('from070', q{
	SELECT order_system.create_member('After 0.7.0') \g /dev/null
	SELECT order_system.create_product('N-1', 'New', 100, 'KRW', 5) \g /dev/null
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card') \g /dev/null
	SELECT string_agg(event_type, ',' ORDER BY id) FROM order_system.next_batch('relay')}),
	'member.created,product.created,order.placed,payment.requested',
	'and is delivered what the API does after the update');

# Registered handlers travel from 0.7.0 by name (payment_method.handler
# becomes text): one in a schema off the search path, with a name that
# needs quoting, comes out as regprocedure prints it with search_path =
# pg_catalog and still takes orders; one dropped since it was registered
# stops the update until it is pointed at an existing function.
$node->safe_psql('postgres', 'CREATE DATABASE handlers');
$node->safe_psql('handlers', q{
	CREATE EXTENSION order_system VERSION '0.7.0';
	CREATE SCHEMA "Shop";
	CREATE FUNCTION "Shop"."pay later"(bigint, bigint, bigint, text, jsonb) RETURNS jsonb
		LANGUAGE sql RETURN jsonb_build_object('external', $3);
	CREATE FUNCTION public.pay_gone(bigint, bigint, bigint, text, jsonb) RETURNS jsonb
		LANGUAGE sql RETURN jsonb_build_object('external', $3);
	INSERT INTO order_system.payment_method (name, handler) VALUES
		('later', '"Shop"."pay later"(bigint,bigint,bigint,text,jsonb)'),
		('gone', 'public.pay_gone(bigint,bigint,bigint,text,jsonb)');
	DROP FUNCTION public.pay_gone(bigint, bigint, bigint, text, jsonb);
});
($rc, $out, $err) = $node->psql('handlers', 'ALTER EXTENSION order_system UPDATE');
isnt($rc, 0, 'ALTER EXTENSION UPDATE refuses a payment method whose handler was dropped');
like($err, qr/the handlers of payment methods gone no longer exist/, 'naming the method');
$node->safe_psql('handlers', q{
	UPDATE order_system.payment_method SET handler = '"Shop"."pay later"(bigint,bigint,bigint,text,jsonb)'
	 WHERE name = 'gone';
	ALTER EXTENSION order_system UPDATE;
});
is($node->safe_psql('handlers', q{
	SELECT string_agg(name || ' ' || handler, ', ' ORDER BY name) FROM order_system.payment_method}),
	'bank_transfer order_system.pay_bank_transfer(bigint,bigint,bigint,text,jsonb), '
	  . 'card order_system.pay_card(bigint,bigint,bigint,text,jsonb), '
	  . 'gone "Shop"."pay later"(bigint,bigint,bigint,text,jsonb), '
	  . 'later "Shop"."pay later"(bigint,bigint,bigint,text,jsonb), '
	  . 'points order_system.pay_points(bigint,bigint,bigint,text,jsonb), '
	  . 'points_card order_system.pay_points_card(bigint,bigint,bigint,text,jsonb)',
	'then every handler is kept by its qualified name');
is($node->safe_psql('handlers', q{
	SELECT order_system.create_member('Later') \g /dev/null
	SELECT order_system.create_product('L-1', 'Later', 100, 'KRW', 5) \g /dev/null
	SELECT status FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'later')}),
	'pending_payment', 'and a registered handler takes orders after the update');

# The update replaces functions with CREATE OR REPLACE, which PostgreSQL
# refuses for a function that is not the extension's own: one taken out of
# the extension (or made by someone else in its place) stops the update
# instead of being taken over.
$node->safe_psql('postgres', 'CREATE DATABASE stray');
$node->safe_psql('stray', q{CREATE EXTENSION order_system VERSION '0.7.0'});
$node->safe_psql('stray', q{ALTER EXTENSION order_system DROP FUNCTION order_system.prune_outbox()});
($rc, $out, $err) = $node->psql('stray', 'ALTER EXTENSION order_system UPDATE');
isnt($rc, 0, 'ALTER EXTENSION UPDATE refuses to replace a function that is not a member');
like($err, qr/function order_system\.prune_outbox\(\) is not a member of extension "order_system"/,
	'naming it');
is($node->safe_psql('stray', q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.7.0', 'and changes nothing');
# An order line whose order is gone stops the update (the line's member
# cannot be filled in) and leaves 0.7.0 as it was.
$node->safe_psql('postgres', 'CREATE DATABASE orphans');
$node->safe_psql('orphans', q{CREATE EXTENSION order_system VERSION '0.7.0'});
$node->safe_psql('orphans', q{INSERT INTO order_system.order_line (order_id, product_id, quantity, unit_price, amount)
	VALUES (999, 1, 1, 10, 10)});
($rc, $out, $err) = $node->psql('orphans', 'ALTER EXTENSION order_system UPDATE');
like($err, qr/ERROR:  order lines or payments refer to orders that do not exist/,
	'ALTER EXTENSION UPDATE refuses order lines of missing orders');
is($node->safe_psql('orphans', q{SELECT extversion FROM pg_extension WHERE extname = 'order_system'}),
	'0.7.0', 'and changes nothing');
invariants_ok($node, 'the 0.2.0 rows are intact after the update', 'upgraded');
is( $node->safe_psql(
		'upgraded', q{
  SELECT (SELECT count(*) FROM order_system.order_line l JOIN order_system.orders o ON o.id = l.order_id
           WHERE l.member_id = o.member_id)
      || ' ' || (SELECT count(*) FROM order_system.payment p JOIN order_system.orders o ON o.id = p.order_id
                 WHERE p.member_id = o.member_id)}),
	'1 1', 'its order line and payment carry the order\'s member after the update');
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
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'order_system_internal'}),
	'0', 'and drops order_system_internal with it');
$node->safe_psql('postgres', 'CREATE EXTENSION order_system');
is($node->safe_psql('postgres', q{SELECT order_system.create_member('Again')}), '1',
	'the extension installs again into its own empty schema after DROP');

$node->stop;
done_testing();
