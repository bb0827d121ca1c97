# The node set-up and the small checks the TAP tests of order_system
# (test/tap/) share.  A node is a PostgreSQL::Test::Cluster, so the tests
# run where those run: under prove with TESTDIR and PG_REGRESS set
# (make prove_installcheck), as a user that can run initdb.
#
#   my $node = order_system_node('name');       # preloaded, extension created
#   my $node = order_system_node('name', preload => 0, extension => 0);
#   my $node = order_system_node('name',
#       settings => { 'order_system.order_rate_limit' => 0 });
#   my $node = order_system_node('name', init => { allows_streaming => 1 });
package OrderSystem::TestCluster;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(
  order_system_node installed_program run_program wait_until
  wait_for_notifier place_order place_orders max_event_id invariants_ok
  postmaster_pid restart_after_crash create_delivery_log delivery_check
  orders_undelivered positions_backwards listener_start listener_stop caught_up
  notifier_up prepare_moving_shop moved_delivery_ok);

# A started node.  preload (default 1): order_system in
# shared_preload_libraries, its notifier serving the database postgres and
# never pruning the outbox, so what was delivered can be compared with every
# event written.  settings: more postgresql.conf lines, values spelled as
# there.  init: options of PostgreSQL::Test::Cluster::init (allows_streaming,
# has_archiving).  extension (default 1): CREATE EXTENSION order_system in postgres.
sub order_system_node
{
	my ($name, %opts) = @_;
	my $preload = $opts{preload} // 1;
	my $extension = $opts{extension} // 1;
	my $settings = $opts{settings} // {};

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	my $conf = '';
	$conf .= q{
shared_preload_libraries = 'order_system'
order_system.notify_database = 'postgres'
order_system.prune_interval = 0
} if $preload;
	$conf .= "$_ = $settings->{$_}\n" for sort keys %$settings;
	$node->append_conf('postgresql.conf', $conf) if $conf ne '';
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION order_system') if $extension;
	return $node;
}

# The path of an installed program of the extension (order_system_listen,
# order_system_gateway); the test file is skipped when it is missing.
sub installed_program
{
	my ($program) = @_;
	chomp(my $bindir = `pg_config --bindir`);
	my $path = "$bindir/$program";
	plan skip_all => "$path is not installed (make install)" unless -x $path;
	return $path;
}

# Run a command to completion, stdin empty: (exit code, stdout, stderr).
sub run_program
{
	my ($command) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run($command, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# Wait until $cond->() holds, at most $secs seconds (default the test
# timeout); whether it held.
sub wait_until
{
	my ($cond, $secs) = @_;
	my $deadline = time + ($secs // $PostgreSQL::Test::Utils::timeout_default);
	while (time < $deadline)
	{
		return 1 if $cond->();
		usleep(50_000);
	}
	return $cond->();
}

# Wait until the notifier worker of a preloaded node runs; whether it does.
sub wait_for_notifier
{
	my ($node) = @_;
	return $node->poll_query_until('postgres',
		'SELECT preloaded AND running FROM order_system.notifier_status()');
}

# Place one order of one unit in its own transaction; its id.  $params: the
# payment parameters as JSON text, or none.
sub place_order
{
	my ($node, $member, $product, $method, $params) = @_;
	$params = defined $params ? "'$params'" : 'NULL';
	return $node->safe_psql('postgres', qq{SELECT order_id FROM order_system.place_order($member,
		'[{"product_id": $product, "quantity": 1}]', '$method', NULL, $params)});
}

# Place $count orders of one unit, one transaction each, the i-th by member
# 1 + i % members on product 1 + i % products.
sub place_orders
{
	my ($node, $count, %opts) = @_;
	my $members = $opts{members} // 8;
	my $products = $opts{products} // 4;
	my $method = $opts{method} // 'card';
	$node->safe_psql('postgres', join('', map {
		sprintf(q{SELECT order_system.place_order(%d, '[{"product_id": %d, "quantity": 1}]', '%s');}
			  . "\n", 1 + $_ % $members, 1 + $_ % $products, $method)
	} 1 .. $count));
	return;
}

sub max_event_id
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT coalesce(max(id), 0) FROM order_system.outbox');
}

# The test that check_invariants() returns no rows in $db (default
# postgres); a failure shows the rows.
sub invariants_ok
{
	my ($node, $test_name, $db) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return is($node->safe_psql($db // 'postgres', 'SELECT * FROM order_system.check_invariants()'),
		'', $test_name);
}

# The pid of the running postmaster, read before a kill9 so that
# restart_after_crash can wait for it to go.
sub postmaster_pid
{
	my ($node) = @_;
	my ($pid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	return $pid;
}

# Start the node again after kill -9 of the postmaster $pid; whether it
# started.  The lock file names the dead postmaster until it is reaped, and
# its backends may hold shared memory a little longer: wait for it to go,
# then retry the start for a bounded time (a failing stop clears a pid that
# a failed start read from a stale lock file).
sub restart_after_crash
{
	my ($node, $pid) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	usleep(50_000) while kill(0, $pid) && time < $deadline;
	while (time < $deadline)
	{
		return 1 if $node->start(fail_ok => 1);
		$node->stop('fast', fail_ok => 1);
		usleep(200_000);
	}
	return 0;
}

# A consumer that records what it receives in the transaction that
# acknowledges it: table delivered (consumer, batch_id, id, event_type,
# aggregate_id) and procedure drain(consumer, INOUT received): next_batch,
# record, ack_batch, commit, until nothing is left; received is the number
# of events.  Each drain then records every
# consumer's position in positions_log (the cluster it was recorded in,
# the row's stamp if it has one, the acknowledged snapshot).
sub create_delivery_log
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
	CREATE TABLE delivered (consumer text, batch_id bigint, id bigint, event_type text, aggregate_id bigint);
	CREATE TABLE positions_log (seq bigserial, consumer text, cluster bigint, stamp text,
		position pg_snapshot);
	CREATE PROCEDURE drain(consumer text, INOUT received bigint DEFAULT 0)
	LANGUAGE plpgsql AS $$
	DECLARE
		k bigint;
	BEGIN
		received := 0;
		LOOP
			INSERT INTO delivered SELECT consumer, b.batch_id, b.id, b.event_type, b.aggregate_id
			  FROM order_system.next_batch(consumer) b;
			GET DIAGNOSTICS k = ROW_COUNT;
			EXIT WHEN k = 0;
			PERFORM order_system.ack_batch(consumer,
				(SELECT max(d.batch_id) FROM delivered d WHERE d.consumer = drain.consumer));
			COMMIT;
			received := received + k;
		END LOOP;
		INSERT INTO positions_log (consumer, cluster, stamp, position)
		SELECT c.name, (pg_control_system()).system_identifier, to_jsonb(c)->>'system_identifier',
			   c.last_snapshot
		  FROM order_system.consumer c;
	END $$;
});
	return;
}

# How many orders have no order.placed event delivered to $consumer.
sub orders_undelivered
{
	my ($node, $consumer, $db) = @_;
	return $node->safe_psql($db // 'postgres', qq{
		SELECT count(*) FROM order_system.orders o
		 WHERE NOT EXISTS (SELECT 1 FROM delivered d
							WHERE d.consumer = '$consumer' AND d.event_type = 'order.placed'
							  AND d.aggregate_id = o.id)});
}

# The steps in positions_log where a consumer's acknowledged snapshot moved
# backwards (its xmax fell) between two records of the same stamp, as
# "consumer: xmax -> xmax" lines; '' when there is none.
sub positions_backwards
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres', q{
		SELECT string_agg(format('%s: %s -> %s', consumer, prev, cur), E'\n' ORDER BY seq)
		  FROM (SELECT seq, consumer, pg_snapshot_xmax(position) AS cur,
					   lag(pg_snapshot_xmax(position)) OVER (PARTITION BY consumer, stamp ORDER BY seq) AS prev
				  FROM positions_log) s
		 WHERE cur < prev});
}

# What $consumer recorded in delivered compared with the outbox events after
# id $base (default 0): "never_delivered/delivered_twice/not_in_outbox".
sub delivery_check
{
	my ($node, $consumer, $base) = @_;
	$base //= 0;
	return $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM order_system.outbox e
				 WHERE e.id > $base AND NOT EXISTS
					(SELECT 1 FROM delivered d WHERE d.consumer = '$consumer' AND d.id = e.id))
			   || '/' ||
			   (SELECT count(*) FROM (SELECT d.id FROM delivered d WHERE d.consumer = '$consumer'
									   GROUP BY d.id HAVING count(*) > 1) twice)
			   || '/' ||
			   (SELECT count(*) FROM delivered d WHERE d.consumer = '$consumer'
				   AND NOT EXISTS (SELECT 1 FROM order_system.outbox e WHERE e.id = d.id))});
}

# Background listeners, stopped at exit even if a test bails out.
my @background;
END { local $?; eval { $_->kill_kill } for @background; }

# A listener: drains @consumers every 0.2 s, one psql per drain, errors
# (the extension or a table not restored yet) ignored until the next round.
sub listener_start
{
	my ($node, $name, @consumers) = @_;
	my $cs = $node->connstr('postgres');
	my $calls = join(' ', map { "-c \"CALL drain('$_')\"" } @consumers);
	my $h = IPC::Run::start([ 'bash', '-c', "while :; do psql -X -q -d \"$cs\" $calls; sleep 0.2; done" ],
		'<', \undef, '>', $node->basedir . "/$name.out", '2>', $node->basedir . "/$name.err");
	push @background, $h;
	return $h;
}

sub listener_stop
{
	my ($h) = @_;
	$h->kill_kill;
	@background = grep { $_ != $h } @background;
	return;
}

# Whether both consumers have every order's event, waiting for the listener.
sub caught_up
{
	my ($node) = @_;
	return wait_until(sub {
		orders_undelivered($node, 'alpha') eq '0' && orders_undelivered($node, 'beta') eq '0'
	});
}

# Whether the notifier worker runs (before the extension is restored).
sub notifier_up
{
	my ($node) = @_;
	return $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'order_system notifier'});
}

# The checks a case of moving a database ends with (table allowed_twice:
# the ids of events some consumer had not acknowledged when it moved).
sub moved_delivery_ok
{
	my ($node, $case) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	$node->safe_psql('postgres', q{CALL drain('alpha'); CALL drain('beta')});
	is(orders_undelivered($node, 'alpha') . '/' . orders_undelivered($node, 'beta'), '0/0',
		"$case: every order's event reached both consumers (0 lost)");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM order_system.outbox e, (VALUES ('alpha'), ('beta')) c(name)
		 WHERE NOT EXISTS (SELECT 1 FROM delivered d WHERE d.consumer = c.name AND d.id = e.id)
		   AND NOT EXISTS (SELECT 1 FROM before_consumers b WHERE b.id = e.id)}),
		'0', "$case: every retained event was delivered to both")
	  or diag($node->safe_psql('postgres', q{
		SELECT c.name, e.id, e.tx_id, e.event_type, e.aggregate_id
		  FROM order_system.outbox e, (VALUES ('alpha'), ('beta')) c(name)
		 WHERE NOT EXISTS (SELECT 1 FROM delivered d WHERE d.consumer = c.name AND d.id = e.id)
		 ORDER BY 1, 2}) . "\n" . $node->safe_psql('postgres', 'SELECT * FROM order_system.consumer'));
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT consumer, id FROM delivered GROUP BY 1, 2 HAVING count(*) > 1) d
		 WHERE NOT EXISTS (SELECT 1 FROM allowed_twice a WHERE a.id = d.id)}),
		'0', "$case: delivered twice only what some consumer had not acknowledged at the dump");
	is(positions_backwards($node), '', "$case: no position moved backwards");
	is($node->safe_psql('postgres', q{SELECT sum(pending_events) FROM order_system.consumer_status()}),
		'0', "$case: consumer_status shows nothing pending");
	invariants_ok($node, "$case: check_invariants() is clean");
	return;
}

# A shop about to be moved (dumped, upgraded): consumers alpha and beta
# (table before_consumers: the events written before they registered),
# 80 orders, of which alpha has acknowledged 65 (the last 15 are in its
# open batch) and beta 40, delivered by a listener; table allowed_twice
# holds the events some consumer has not acknowledged.  xids: burn that
# many transaction ids first.
sub prepare_moving_shop
{
	my ($node, %opts) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	create_delivery_log($node);
	$node->safe_psql('postgres', q{
		SELECT order_system.create_member('Buyer ' || i, NULL, 1000000000) FROM generate_series(1, 8) i;
		SELECT order_system.create_product('R-' || i, 'Restored ' || i, 100, 'KRW', 1000000)
		  FROM generate_series(1, 4) i;
		CREATE TABLE before_consumers AS SELECT id FROM order_system.outbox;
		SELECT order_system.register_consumer('alpha');
		SELECT order_system.register_consumer('beta');
	});
	# The source's xids run well ahead of a fresh cluster's.
	$node->safe_psql('postgres', "SELECT pg_current_xact_id();\n" x $opts{xids}) if $opts{xids};

	my $listener = listener_start($node, 'before_move', 'alpha', 'beta');
	place_orders($node, 40);
	ok(caught_up($node), 'before the move: the listener delivers the first orders to both consumers');
	listener_stop($listener);
	# beta lags behind alpha; alpha leaves a batch open
	$listener = listener_start($node, 'before_move_alpha', 'alpha');
	place_orders($node, 25);
	ok(wait_until(sub { orders_undelivered($node, 'alpha') eq '0' }), 'before the move: alpha keeps up');
	listener_stop($listener);
	place_orders($node, 15);
	$node->safe_psql('postgres', q{SELECT count(*) FROM order_system.next_batch('alpha')});
	is($node->safe_psql('postgres', q{SELECT string_agg(name || ' ' || batch_open, ',' ORDER BY name)
		FROM order_system.consumer_status() WHERE pending_events > 0}), 'alpha true,beta false',
		'before the move: both consumers have events pending, alpha in an open batch');

	# What some consumer has not acknowledged may come twice; the table moves with the data.
	$node->safe_psql('postgres', q{
		CREATE TABLE allowed_twice AS
		SELECT e.id FROM order_system.outbox e
		 WHERE NOT EXISTS (SELECT 1 FROM delivered d WHERE d.consumer = 'alpha' AND d.id = e.id)
			OR NOT EXISTS (SELECT 1 FROM delivered d WHERE d.consumer = 'beta' AND d.id = e.id)});
	return;
}

1;
