# Point-in-time recovery.  A base backup (pg_basebackup) and the archived
# WAL, recovered to a timestamp in the middle of a load
# (recovery_target_time), give a cluster with exactly the orders committed
# by then, clean invariants, and a listener that delivers every event of
# those orders.
#
# Which orders are "before" is made exact with an advisory lock: every load
# transaction holds it shared until its commit, and the target time is read
# under it held exclusively, so every order committed before it is there
# and every later one commits after it.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $listen = installed_program('order_system_listen');

my $primary = order_system_node('pitr', init => { allows_streaming => 1, has_archiving => 1 },
	settings => { 'order_system.order_rate_limit' => 0 });
$primary->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 8) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 100000)
	  FROM generate_series(1, 4) i;
	SELECT order_system.register_consumer('relay', true);
});
place_orders($primary, 10);
$primary->backup('base');    # pg_basebackup

# Two sessions place orders, one transaction each: card orders left pending,
# card orders confirmed in the same transaction, points orders.
sub load_sql
{
	my ($session, $count) = @_;
	return join('', map {
		my ($member, $product) = (1 + ($_ + $session) % 8, 1 + $_ % 4);
		my $place = sprintf(q{order_system.place_order(%d, '[{"product_id": %d, "quantity": 1}]', '%s')},
			$member, $product, $_ % 4 == 0 ? 'points' : 'card');
		"BEGIN;\nSELECT pg_advisory_xact_lock_shared(42);\n"
		  . ($_ % 4 == 1 ? "SELECT order_system.confirm_payment(order_id) FROM $place;\n" : "SELECT $place;\n")
		  . "COMMIT;\n"
	} 1 .. $count);
}
my @load;
for my $session (1, 2)
{
	# from and to files: a scalar would be fed (or drained) only while the test pumps
	my $file = $primary->basedir . "/load$session.sql";
	append_to_file($file, load_sql($session, 300));
	push @load, IPC::Run::start([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres') ],
		'<', $file, '>', "$file.out", '2>', "$file.err",
	IPC::Run::timeout(300));
}
END { local $?; for (@load) { eval { $_->kill_kill } } }

ok(wait_until(sub { $primary->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders') >= 150 }),
	'the load is running');
my @mid = split /\n/, $primary->safe_psql('postgres', q{
	SELECT pg_advisory_lock(42);
	SELECT pg_catalog.clock_timestamp();
	SELECT string_agg(id::text, ',' ORDER BY id) FROM order_system.orders;
	SELECT string_agg(id::text, ',' ORDER BY id) FROM order_system.outbox;
	SELECT pg_advisory_unlock(42);
});
my ($target, $orders_at, $events_at) = @mid[-4, -3, -2];
like($target, qr{^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d}, "a target time in the middle of the load ($target)");
my @orders_at = split /,/, $orders_at;
my @events_at = split /,/, $events_at;

$_->finish for @load;
is(join(',', map { $_->result(0) } @load), '0,0', 'the load finished');
my $orders_all = $primary->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders');
cmp_ok($orders_all, '>', scalar @orders_at, "orders committed after the target time too ($orders_all in all)");
note(sprintf('%d orders and %d events before the target time, %d orders in all',
	scalar @orders_at, scalar @events_at, $orders_all));

# Archive the WAL past the target time.
my $walfile = $primary->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
ok($primary->poll_query_until('postgres',
		"SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver"), 'the WAL is archived');
$primary->stop;

my $recovered = PostgreSQL::Test::Cluster->new('recovered');
$recovered->init_from_backup($primary, 'base', has_restoring => 1);
$recovered->append_conf('postgresql.conf', qq{
recovery_target_time = '$target'
recovery_target_action = 'promote'
});
$recovered->start;
ok($recovered->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'recovery stops at the target time and promotes');

is($recovered->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM order_system.orders}),
	$orders_at, 'the recovered cluster has exactly the orders committed before the target time');
is($recovered->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM order_system.outbox}),
	$events_at, 'and exactly their events');
invariants_ok($recovered, 'its invariants are clean');

# Its listener delivers every event written before the target, once.
my ($rc, $out, $err) = run_program([ $listen, '-d', $recovered->connstr('postgres'), '-c', 'relay', '--once' ]);
is($rc, 0, 'the listener drains the recovered cluster') or diag($err);
my %delivered;
$delivered{$1}++ while $out =~ /^\{"id":\s*(\d+)/mg;
my @lost = grep { !$delivered{$_} } @events_at;
my @extra = grep { my $id = $_; !grep { $_ == $id } @events_at } keys %delivered;
note(sprintf('written %d, delivered %d distinct, lost %d', scalar @events_at, scalar keys %delivered,
	scalar @lost));
is(scalar @lost, 0, 'written vs delivered: 0 lost');
is(scalar @extra, 0, 'nothing delivered that was not written');
is($recovered->safe_psql('postgres', q{SELECT pending_events FROM order_system.consumer_status()}), '0',
	'the consumer is at the end');

# The recovered cluster takes orders again, after the highest id it has.
my $next = place_order($recovered, 1, 1, 'card');
cmp_ok($next, '>', $orders_at[-1], 'a new order on the recovered cluster gets a new id');
invariants_ok($recovered, 'and the invariants still hold');

$recovered->stop;
done_testing();
