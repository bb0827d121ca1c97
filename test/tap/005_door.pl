# Every SQL-callable function goes through one door: over SQL objects of
# another version than the library's, each call fails with 55000 before it
# reads or writes anything, whichever path it takes inside (the plan-free
# writer of a card order without a key, a saga step, next_batch).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OrderSystem::TestCluster;
use IPC::Run;

my $node = order_system_node('door', preload => 0, extension => 0);

$node->safe_psql('postgres', q{CREATE EXTENSION order_system VERSION '0.6.0'});
my $library = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'order_system'});
isnt($library, '0.6.0', "the library ($library) is newer than the installed 0.6.0 objects");

my %calls = (
	'place_order, card, no idempotency key' =>
	  q{SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card')},
	'place_order with a key' =>
	  q{SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card', 'k1')},
	'confirm_payment (a saga step)' => q{SELECT order_system.confirm_payment(1, 'ref')},
	'cancel_order (a saga step)' => q{SELECT order_system.cancel_order(1)},
	'next_batch' => q{SELECT * FROM order_system.next_batch('billing')},
	'error_codes (reads no table)' => q{SELECT count(*) FROM order_system.error_codes()},
	'a CHECK helper, through an INSERT' =>
	  q{INSERT INTO order_system.product (sku, name, price, currency) VALUES ('S1', 'one', 100, 'KRW')});
for my $what (sort keys %calls)
{
	my ($rc, $out, $err) = $node->psql('postgres', $calls{$what}, extra_params => ['-v', 'VERBOSITY=verbose']);
	isnt($rc, 0, "$what fails over 0.6.0 objects");
	like($err, qr/ERROR:  55000: the order_system library is version \Q$library\E but the extension installed here is 0\.6\.0/,
		"$what: 55000, naming both versions");
	like($err, qr/ALTER EXTENSION order_system UPDATE/, "$what: the hint names the fix");
}
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM order_system.orders) + (SELECT count(*) FROM order_system.outbox)
	     + (SELECT count(*) FROM order_system.product) + (SELECT count(*) FROM order_system.member)}),
	'0', 'nothing was written');
is($node->safe_psql('postgres', q{SELECT is_called FROM order_system.orders_id_seq}),
	'f', 'no order id was taken');

# Another extension's script gets no pass: an event trigger calling the API
# while CREATE EXTENSION citext runs its script is refused like any call.
$node->safe_psql('postgres', q{
	CREATE TABLE public.door_probe (sqlstate text);
	CREATE FUNCTION public.door_probe() RETURNS event_trigger LANGUAGE plpgsql AS $$
	BEGIN
		BEGIN
			PERFORM order_system.error_codes();
			INSERT INTO public.door_probe VALUES ('00000');
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO public.door_probe VALUES (SQLSTATE);
		END;
	END $$;
	CREATE EVENT TRIGGER door_probe ON ddl_command_end EXECUTE FUNCTION public.door_probe();
	CREATE EXTENSION citext;
	DROP EVENT TRIGGER door_probe;
	DROP EXTENSION citext;
});
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT sqlstate, ',') FROM public.door_probe}),
	'55000', "a call from another extension's script fails with 55000");

# After the update the same calls work (or fail for their own reasons).
$node->safe_psql('postgres', q{ALTER EXTENSION order_system UPDATE});
my ($rc, $out, $err) = $node->psql('postgres', $calls{'place_order, card, no idempotency key'},
	extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/ERROR:  OS\w{3}: member 1 not found/, 'after the update place_order runs: no such member');
my $member = $node->safe_psql('postgres', q{SELECT order_system.create_member('Ann', 'ann@example.com', 0)});
my $product = $node->safe_psql('postgres', q{SELECT order_system.create_product('S1', 'one', 100, 'KRW', 5)});
is($node->safe_psql('postgres',
		qq{SELECT status FROM order_system.place_order($member, '[{"product_id": $product, "quantity": 1}]', 'card')}),
	'pending_payment', 'and places a card order');

# A session that has passed the door once is not waved through after the
# objects change under it: replacing the extension by older objects, in the
# same session, is noticed on the next call.
($rc, $out, $err) = $node->psql('postgres', q{
	SELECT count(*) FROM order_system.error_codes();
	DROP EXTENSION order_system;
	CREATE EXTENSION order_system VERSION '0.6.0';
	SELECT count(*) FROM order_system.error_codes();
}, extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/ERROR:  55000: the order_system library is version \Q$library\E but the extension installed here is 0\.6\.0/,
	'a session that passed the door sees a replaced extension');

# A call that passed the door and then waited for a lock while another
# session replaced the extension fails once it has the lock, and writes
# nothing into the replacing objects.
$node->safe_psql('postgres', 'CREATE DATABASE swap');
$node->safe_psql('swap', 'CREATE EXTENSION order_system');
my ($swap_out, $swap_err) = ('', '');
my $swap = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('swap'), '-c',
		q{BEGIN; DROP EXTENSION order_system; CREATE EXTENSION order_system VERSION '0.6.0';
		  SELECT pg_sleep(3); COMMIT;} ],
	'>', \$swap_out, '2>', \$swap_err);
$node->poll_query_until('swap', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL
	   AND a.query LIKE '%pg_sleep(3)%' AND a.wait_event = 'PgSleep'}) or die "the swap did not start: $swap_err";
($rc, $out, $err) = $node->psql('swap', q{SELECT order_system.create_member('after the swap')},
	extra_params => ['-v', 'VERBOSITY=verbose']);
$swap->finish;
like($err, qr/ERROR:  55000: the order_system library is version \Q$library\E but the extension installed here is 0\.6\.0/,
	'a call that waited for the replacing session fails with 55000');
is($node->safe_psql('swap', q{SELECT count(*) FROM order_system.member}), '0',
	'and leaves nothing in the replacing objects');

$node->stop;
done_testing();
