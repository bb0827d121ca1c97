# Event delivery with order_system preloaded, through the SQL consumer API:
# the notifier worker wakes a LISTENing session after an order commits; a
# backlog of 100 orders drains exactly once; a crash (kill -9) under a
# pgbench load of place_order loses no event and delivers none twice; an
# unacknowledged batch survives a restart and comes back whole.
#
# The consumer records what it receives and acknowledges in one
# transaction, so "exactly once" is what the outbox must show even across
# the crash.  order_system.prune_interval = 0 keeps every event in the
# outbox, so deliveries can be compared with it.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# A few members place the whole load: no per-member rate limit.
my $node = order_system_node('delivery',
	settings => { 'order_system.order_rate_limit' => 0, max_prepared_transactions => 2 });
create_delivery_log($node);
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('Buyer ' || i, NULL, 1000000000) FROM generate_series(1, 8) i;
	SELECT order_system.create_product('D-' || i, 'Delivered ' || i, 100, 'KRW', 1000000)
	  FROM generate_series(1, 4) i;
});

############################################################ (a) wake-ups
ok(wait_for_notifier($node), 'the notifier worker runs when order_system is preloaded');

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN order_system_events');
place_orders($node, 1);

my $heard = '';
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $deadline)
{
	$heard .= $listener->query_safe('SELECT 1');
	last if $heard =~ /Asynchronous notification "order_system_events"/;
	usleep(100_000);
}
like($heard, qr/Asynchronous notification "order_system_events" with payload "\d+" received/,
	'a LISTENing session is woken after an order commits');
$listener->quit;
is($node->safe_psql('postgres', 'SELECT commits >= 1 AND notifies >= 1 FROM order_system.notifier_status()'),
	't', 'notifier_status counts the event-writing commit and the wake-up');

# The order transaction itself queues no NOTIFY (PREPARE would refuse it).
my ($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card');
	PREPARE TRANSACTION 'order_without_notify';
	COMMIT PREPARED 'order_without_notify';});
is($rc . $err, '0', 'an order transaction can be prepared: it sends no NOTIFY itself');

############################################################ (b) a backlog
$node->safe_psql('postgres', q{SELECT order_system.register_consumer('backlog')});
my $base = max_event_id($node);
place_orders($node, 100);
is($node->safe_psql('postgres', qq{SELECT count(*) FROM order_system.outbox
	WHERE id > $base AND event_type = 'order.placed'}), '100', '100 orders wait in the outbox');
is($node->safe_psql('postgres', q{CALL drain('backlog')}),
	$node->safe_psql('postgres', "SELECT count(*) FROM order_system.outbox WHERE id > $base"),
	'the consumer receives the whole backlog');
is(delivery_check($node, 'backlog', $base), '0/0/0', 'every backlog event exactly once, nothing else');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.next_batch('backlog')}), '0',
	'then nothing is left');

############################################################ (c) a crash under load
$node->safe_psql('postgres', q{SELECT order_system.register_consumer('crash')});
$base = max_event_id($node);
my $orders_before = $node->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders');

my $script = $node->basedir . '/place_order.sql';
append_to_file($script, q{
\set member random(1, 8)
\set product random(1, 4)
\set method random(1, 3)
\set quantity random(1, 3)
SELECT order_system.place_order(:member,
	jsonb_build_array(jsonb_build_object('product_id', :product, 'quantity', :quantity)),
	(ARRAY['card', 'points', 'bank_transfer'])[:method]);
});
# Output goes to files: a full pipe would stall the clients.
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '15', '-f', $script, $node->connstr('postgres') ],
	'>', $node->basedir . '/pgbench.out', '2>', $node->basedir . '/pgbench.err',
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

# The consumer reads while the load runs: some batches are acknowledged
# before the crash, one may be open when it comes.
my $reader = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', q{
		DO $$
		DECLARE
			n bigint;
		BEGIN
			FOR i IN 1 .. 500 LOOP
				CALL drain('crash', n);
				COMMIT;
				PERFORM pg_sleep(0.02);
			END LOOP;
		END $$;} ],
	'>', $node->basedir . '/reader.out', '2>', $node->basedir . '/reader.err',
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

ok($node->poll_query_until('postgres', qq{
	SELECT (SELECT count(*) FROM order_system.orders) > $orders_before + 200
	   AND EXISTS (SELECT 1 FROM delivered WHERE consumer = 'crash')}),
	'orders commit and the consumer reads under load');
my $postmaster = postmaster_pid($node);
$node->kill9;
$bench->finish;
$reader->finish;
isnt($bench->result, 0, 'pgbench lost its connections to the crash');

ok(restart_after_crash($node, $postmaster), 'the server restarts after kill -9');
ok(wait_for_notifier($node), 'the notifier worker runs again');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.orders o
	WHERE NOT EXISTS (SELECT 1 FROM order_system.outbox e WHERE e.aggregate_type = 'order'
						 AND e.aggregate_id = o.id AND e.event_type = 'order.placed')}),
	'0', 'every committed order has its order.placed event');
invariants_ok($node, 'check_invariants() is empty after crash recovery');
$node->safe_psql('postgres', q{CALL drain('crash')});
is(delivery_check($node, 'crash', $base), '0/0/0',
	'after the restart the consumer has every event of the load exactly once');
my $load_orders = $node->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders') - $orders_before;
cmp_ok($load_orders, '>', 200, "the load committed $load_orders orders before the crash");
is($node->safe_psql('postgres', qq{SELECT count(*) FROM order_system.outbox
	WHERE id > $base AND event_type = 'order.placed'}), $load_orders, 'one order.placed event each');

############################################################ (d) an open batch and a restart
$base = max_event_id($node);
place_orders($node, 3, method => 'points');
my $open = q{SELECT string_agg(batch_id || ':' || (id - BASE), ',' ORDER BY id)
	FROM order_system.next_batch('crash')};
$open =~ s/BASE/$base/;
my $before = $node->safe_psql('postgres', $open);
is($before =~ tr/,//, 5, 'a batch with the 6 events of 3 points orders is open');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $open), $before,
	'after a restart the unacknowledged batch comes back whole, with the same id');
my ($batch_id) = $before =~ /^(\d+):/;
is($node->safe_psql('postgres', qq{SELECT order_system.ack_batch('crash', $batch_id)}), 't',
	'and can be acknowledged');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.next_batch('crash')}), '0',
	'then nothing is left');

$node->stop;
done_testing();
