# Event delivery across pg_upgrade from PostgreSQL 15 to 15, in copy and
# in link mode, with events pending: the new cluster keeps the xid counter
# but has another system identifier, so the consumer positions are
# re-based by the first consumer call; every event pending before the
# upgrade and every one written after it is delivered, nothing is pruned
# early, positions never move backwards in one cluster, invariants clean.
use strict;
use warnings;
use Cwd;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %settings = ('order_system.order_rate_limit' => 0, 'order_system.prune_interval' => '1s');
chomp(my $bindir = `pg_config --bindir`);

# Copy mode is pg_upgrade's default in 15 (no --copy option before 16).
for my $mode ('copy', 'link')
{
	my $case = "pg_upgrade ($mode mode)";
	my $old = order_system_node("old_$mode", settings => \%settings);
	prepare_moving_shop($old);
	my $old_id = $old->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()');
	# pg_upgrade refuses a regprocedure column (function OIDs are not kept):
	# payment_method.handler travels as its text and is turned back after.
	$old->safe_psql('postgres',
		'ALTER TABLE order_system.payment_method ALTER COLUMN handler TYPE text');
	$old->stop;

	# The new cluster: empty while pg_upgrade runs (its notifier would keep
	# a connection to the database pg_upgrade makes again), then preloaded.
	my $new = PostgreSQL::Test::Cluster->new("new_$mode");
	$new->init;
	my $cwd = getcwd();
	chdir($new->basedir) or die "chdir: $!";
	command_ok(
		[
			'pg_upgrade', '--no-sync', '-d', $old->data_dir, '-D', $new->data_dir,
			'-b', $bindir, '-B', $bindir, '-s', $new->host, '-p', $old->port, '-P', $new->port, $mode eq 'link' ? ('--link') : ()
		],
		"$case runs");
	chdir($cwd) or die "chdir: $!";
	$new->append_conf('postgresql.conf', q{
shared_preload_libraries = 'order_system'
order_system.notify_database = 'postgres'
order_system.prune_interval = 1s
order_system.order_rate_limit = 0
});
	$new->start;
	$new->safe_psql('postgres', 'ALTER TABLE order_system.payment_method'
		  . ' ALTER COLUMN handler TYPE regprocedure USING handler::regprocedure');
	isnt($new->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'), $old_id,
		"$case: the new cluster has another system identifier");
	is($new->safe_psql('postgres',
		'SELECT count(*) FROM order_system.check_invariants() WHERE invariant = \'consumer_position_valid\''),
		'2', "$case: check_invariants() reports both positions until they are re-based");

	my $listener = listener_start($new, 'after_upgrade', 'alpha', 'beta');
	ok(caught_up($new), "$case: the listener delivers what was pending before the upgrade");
	place_orders($new, 30);
	ok(caught_up($new), "$case: and the orders placed after it");
	sleep(2);
	listener_stop($listener);
	is($new->safe_psql('postgres', 'SELECT count(DISTINCT system_identifier) FROM order_system.consumer'),
		'1', "$case: the positions are stamped with the new cluster");
	moved_delivery_ok($new, $case);
	$new->stop;
}

done_testing();
