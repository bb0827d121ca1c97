# Event delivery across pg_dump/pg_restore into a fresh cluster, whose xid
# counter is far behind the one the dump came from (consumer positions are
# snapshots of the old cluster's xids).
#
# (a) Custom format, pg_dumpall --globals-only first, a listener running
#     before, during and after the restore and the notifier pruning every
#     second: the listener's first call re-bases the positions.
# (b) Plain format restored in one transaction with no listener: the
#     foreign positions are reported by check_invariants(), the prune
#     deletes nothing, orders placed before the re-base keep their events,
#     and the operator's rebase_consumers() (or replay_consumer) re-bases.
#
# In both: orders are placed before the dump (one consumer lagging, one
# with an open batch) and after the restore; every order's event reaches
# both consumers (written vs delivered: 0 lost), retained events are all
# delivered, an event is delivered twice only if some consumer had not
# acknowledged it at the dump, positions never move backwards in one
# cluster, and check_invariants() is clean.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %settings = ('order_system.order_rate_limit' => 0, 'order_system.prune_interval' => '1s');

############################################################ the source
my $source = order_system_node('source', settings => \%settings);
prepare_moving_shop($source, xids => 1500);
my $pending = $source->safe_psql('postgres', 'SELECT count(*) FROM allowed_twice');
note("events pending for some consumer at the dump: $pending");
my $source_xmax = $source->safe_psql('postgres',
	q{SELECT max(pg_snapshot_xmax(last_snapshot)) FROM order_system.consumer});

my $globals = "$tmp/globals.sql";
$source->command_ok([ 'pg_dumpall', '--globals-only', '-f', $globals, '-d', $source->connstr('postgres') ],
	'pg_dumpall --globals-only');
$source->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/shop.custom", '-d', $source->connstr('postgres') ],
	'pg_dump -Fc');
$source->command_ok([ 'pg_dump', '-Fp', '-f', "$tmp/shop.sql", '-d', $source->connstr('postgres') ],
	'pg_dump -Fp');
# orders after the dump stay in the source only
place_orders($source, 5);
$source->stop;

############################################################ (a) custom format, listener running
my $target = order_system_node('target', extension => 0, settings => \%settings);
ok(notifier_up($target), '(a) the target\'s notifier runs (and prunes every second)');
cmp_ok($target->safe_psql('postgres', 'SELECT pg_snapshot_xmax(pg_current_snapshot())'), '<', $source_xmax,
	'(a) the target\'s xid counter is behind the dumped positions');
$target->psql('postgres', undef, extra_params => [ '-X', '-q', '-f', $globals ]);
my $listener = listener_start($target, 'target', 'alpha', 'beta');
$target->command_ok([ 'pg_restore', '-d', $target->connstr('postgres'), "$tmp/shop.custom" ], '(a) pg_restore');
ok(caught_up($target), '(a) the listener delivers what was pending at the dump');
place_orders($target, 30);
ok(caught_up($target), '(a) and the orders placed after the restore');
# a prune or more with every consumer caught up
sleep(2);
listener_stop($listener);
cmp_ok($target->safe_psql('postgres', 'SELECT coalesce(sum(deleted_total), 0) FROM order_system.outbox_pruned'),
	'>', 0, '(a) the notifier pruned acknowledged events');
moved_delivery_ok($target, '(a)');
$target->stop;

############################################################ (b) plain format, the operator re-bases
my $plain = order_system_node('plain', extension => 0, settings => \%settings);
ok(notifier_up($plain), '(b) the notifier runs');
$plain->psql('postgres', undef, extra_params => [ '-X', '-q', '-f', $globals ]);
$plain->command_ok([ 'psql', '-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', "$tmp/shop.sql",
	'-d', $plain->connstr('postgres') ], '(b) the plain dump restores in one transaction');
is($plain->safe_psql('postgres', q{SELECT string_agg(invariant || ' ' || subject, ',' ORDER BY subject)
	FROM order_system.check_invariants()}),
	'consumer_position_valid consumer alpha,consumer_position_valid consumer beta',
	'(b) check_invariants() reports both positions as foreign');
is($plain->safe_psql('postgres', q{SELECT sum(pending_events) > 0 FROM order_system.consumer_status()}),
	't', '(b) consumer_status() counts the events a re-base will deliver');
# Orders before any consumer call, with the notifier pruning meanwhile.
place_orders($plain, 20);
my $new_events = $plain->safe_psql('postgres', 'SELECT count(*) FROM order_system.outbox');
sleep(3);
is($plain->safe_psql('postgres', 'SELECT order_system.prune_outbox()'), '0',
	'(b) prune_outbox() deletes nothing on foreign positions');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM order_system.outbox'), $new_events,
	'(b) nor did the notifier\'s prune');
like($plain->safe_psql('postgres', 'SELECT * FROM order_system.rebase_consumers()'), qr/^t\|[1-9]\d*\|\d+$/,
	'(b) rebase_consumers() re-bases, events to deliver again');
is($plain->safe_psql('postgres', 'SELECT * FROM order_system.rebase_consumers()'), 'f|0|0',
	'(b) a second call has nothing to do');
$listener = listener_start($plain, 'plain', 'alpha', 'beta');
ok(caught_up($plain), '(b) the listener delivers what was pending and the orders before the re-base');
place_orders($plain, 20);
ok(caught_up($plain), '(b) and the orders after it');
listener_stop($listener);
moved_delivery_ok($plain, '(b)');
$plain->stop;

done_testing();
