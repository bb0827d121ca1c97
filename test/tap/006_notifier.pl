# The notifier worker and what a database's users can plant for it.
#
# The worker serves order_system.notify_database ('planted' here), whose
# owner dbo is no superuser.  Before CREATE EXTENSION (preload, restart,
# then create) and after DROP EXTENSION, dbo can create a schema
# order_system with a function prune_outbox() that makes dbo a superuser,
# and tables named like the extension's with a trigger that does the same:
# the worker must run none of it.  With the extension installed it prunes
# the extension's own outbox (acknowledged events, or with no consumer
# those past order_system.outbox_retention) and sends its wake-ups.
#
# Until the database exists the worker waits without a connection: one LOG
# line, no FATAL, and it starts once the database is created.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notifier');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'order_system'
order_system.notify_database = 'planted'
order_system.prune_interval = 1s
order_system.outbox_retention = 1s
});
$node->start;

my $waiting = qr/order_system notifier: database "planted" does not exist; waiting for it/;
sub log_count
{
	my ($re) = @_;
	my @hits = grep { $_ =~ $re } split /\n/, slurp_file($node->logfile);
	return scalar @hits;
}
sub notifier_in
{
	my ($db) = @_;
	return "SELECT count(*) = 1 FROM pg_stat_activity"
	  . " WHERE backend_type = 'order_system notifier' AND datname = '$db'";
}
sub dbo_is_superuser
{
	return $node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dbo'});
}

############################################################ a missing database
# Several looks at 1, 2 and 4 s intervals, and more than one restart
# interval of a worker that failed.
sleep 12;
is(log_count($waiting), 1, 'a missing database is logged once');
is(log_count(qr/FATAL/), 0, 'and the worker does not fail and restart over it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'order_system notifier' AND datname IS NOT NULL}), '0',
	'no worker is connected to a database meanwhile');

############################################################ planted before CREATE EXTENSION
my $plant = q{
	SET ROLE dbo;
	CREATE SCHEMA order_system;
	CREATE FUNCTION order_system.prune_outbox() RETURNS bigint LANGUAGE plpgsql AS $$
	BEGIN EXECUTE 'ALTER ROLE dbo SUPERUSER'; RETURN 0; END $$;
	CREATE FUNCTION order_system.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN EXECUTE 'ALTER ROLE dbo SUPERUSER'; RETURN NULL; END $$;
	CREATE TABLE order_system.outbox (id bigint, tx_id xid8 DEFAULT pg_current_xact_id(),
		created_at timestamptz DEFAULT '2000-01-01');
	CREATE TABLE order_system.consumer (name text, last_snapshot pg_snapshot);
	CREATE TABLE order_system.outbox_pruned (id integer PRIMARY KEY, pruned_at timestamptz,
		deleted_total bigint);
	INSERT INTO order_system.outbox (id) VALUES (1);
	CREATE TRIGGER escalate AFTER DELETE ON order_system.outbox
		FOR EACH STATEMENT EXECUTE FUNCTION order_system.escalate();
	CREATE TRIGGER escalate AFTER INSERT OR UPDATE ON order_system.outbox_pruned
		FOR EACH STATEMENT EXECUTE FUNCTION order_system.escalate();
};
$node->safe_psql('postgres', q{CREATE ROLE dbo LOGIN; CREATE DATABASE planted OWNER dbo});
$node->safe_psql('planted', $plant);
ok($node->poll_query_until('postgres', notifier_in('planted')),
	'the notifier connects once the database exists');
# The planted objects work when someone does run them.
$node->safe_psql('postgres', q{CREATE ROLE probe SUPERUSER});
$node->safe_psql('planted', q{SET ROLE probe; SELECT order_system.prune_outbox()});
is(dbo_is_superuser(), 't', 'the planted function does escalate when a superuser runs it');
$node->safe_psql('postgres', q{ALTER ROLE dbo NOSUPERUSER});
sleep 6;	# several prune intervals
is(dbo_is_superuser(), 'f', 'before CREATE EXTENSION the worker ran nothing dbo planted');
is($node->safe_psql('planted', 'SELECT count(*) FROM order_system.outbox'), '1',
	'nor deleted from a table named like the outbox');
is(log_count($waiting), 1, 'still one LOG line about the missing database');
is(log_count(qr/FATAL/), 0, 'and no FATAL');

############################################################ the extension's own outbox
$node->safe_psql('planted', q{DROP SCHEMA order_system CASCADE; CREATE EXTENSION order_system});
ok($node->poll_query_until('planted', 'SELECT running FROM order_system.notifier_status()'),
	'notifier_status sees the worker');
my $notifies = $node->safe_psql('planted', 'SELECT notifies FROM order_system.notifier_status()');
$node->safe_psql('planted', q{SELECT order_system.create_member('Old', NULL, 0)});
ok($node->poll_query_until('planted', q{SELECT notifies > } . $notifies . q{ FROM order_system.notifier_status()}),
	'an event-writing commit still gets a wake-up');
ok($node->poll_query_until('planted', q{SELECT count(*) = 0 FROM order_system.outbox}),
	'with no consumer, events past the retention are pruned');
is($node->safe_psql('planted', 'SELECT deleted_total FROM order_system.outbox_pruned'), '1',
	'and the pruning is recorded');
$node->safe_psql('planted', q{SELECT order_system.register_consumer('relay')});
$node->safe_psql('planted', q{SELECT order_system.create_member('New', NULL, 0)});
sleep 4;	# past the retention, several intervals
is($node->safe_psql('planted', 'SELECT count(*) FROM order_system.outbox'), '1',
	'an event the consumer has not acknowledged is kept');
$node->safe_psql('planted', q{SELECT order_system.ack_batch('relay',
	(SELECT max(batch_id) FROM order_system.next_batch('relay')))});
ok($node->poll_query_until('planted', q{SELECT count(*) = 0 FROM order_system.outbox}),
	'once acknowledged, it is pruned');
is($node->safe_psql('planted', 'SELECT deleted_total FROM order_system.outbox_pruned'), '2',
	'and counted');

############################################################ planted after DROP EXTENSION
# DROP EXTENSION leaves the (empty) schema CREATE EXTENSION made; dropping
# it too is the natural clean-up, and leaves the name to dbo.
$node->safe_psql('planted', q{DROP EXTENSION order_system CASCADE; DROP SCHEMA order_system});
$node->safe_psql('planted', $plant);
sleep 6;
is(dbo_is_superuser(), 'f', 'after DROP EXTENSION the worker ran nothing dbo planted');
is($node->safe_psql('planted', 'SELECT count(*) FROM order_system.outbox'), '1',
	'nor deleted from a table named like the outbox');
ok($node->poll_query_until('postgres', notifier_in('planted')), 'the worker still runs');
is(log_count(qr/FATAL/), 0, 'no FATAL in the whole run');

$node->stop;
done_testing();
