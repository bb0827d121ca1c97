# Consumers that must be rewound, defined case by case.
#
# (a) An older dump restored over the same database in the same cluster
#     (pg_restore --clean --single-transaction after the consumers had
#     delivered further): the database goes back to the dump, and the
#     consumer positions with it.  They were cut in this cluster and are
#     not ahead of it, so they are trusted as they are (no re-base): every
#     event the dump holds that a consumer had not acknowledged at the dump
#     is delivered again (to the downstream a duplicate of what it got
#     between the dump and the restore: at-least-once), events written
#     after the dump are gone with their orders, and new orders are
#     delivered.
# (b) replay_consumer() as the first call after a restore into another
#     cluster: it re-bases every position first, then rewinds the one
#     consumer to the event id asked for.
# (c) A position ahead of the cluster's xids in the same cluster (a dump
#     restored into a point-in-time recovery older than it, made here by
#     writing the future snapshot): reported by check_invariants(), never
#     pruned on, re-based by the next next_batch.
# (d) Foreign positions over an outbox that is not fully restored (its
#     sequence behind the positions' marks): OS018 until it is.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %settings = ('order_system.order_rate_limit' => 0, 'order_system.prune_interval' => '1s');

############################################################ (a) same cluster, older dump
my $node = order_system_node('shop', settings => \%settings);
prepare_moving_shop($node);
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/older.custom", '-d', $node->connstr('postgres') ],
	'(a) pg_dump -Fc');
my $stamp = $node->safe_psql('postgres', q{SELECT string_agg(system_identifier::text, ',')
	FROM order_system.consumer});
my $dumped = $node->safe_psql('postgres', q{SELECT string_agg(last_snapshot::text, ',' ORDER BY name)
	FROM order_system.consumer});

# The consumers deliver further; the notifier prunes what both have.
my $listener = listener_start($node, 'before_restore', 'alpha', 'beta');
place_orders($node, 20);
ok(caught_up($node), '(a) the consumers deliver past the dump');
sleep(2);
listener_stop($listener);
$node->safe_psql('postgres', qq{COPY (SELECT consumer, id FROM delivered) TO '$tmp/before.csv'});
my $ahead = $node->safe_psql('postgres', q{SELECT string_agg(pg_snapshot_xmax(last_snapshot)::text, ','
	ORDER BY name) FROM order_system.consumer});

$node->command_ok([ 'pg_restore', '--clean', '--if-exists', '--single-transaction',
	'-d', $node->connstr('postgres'), "$tmp/older.custom" ], '(a) the older dump is restored over the database');
is($node->safe_psql('postgres', q{SELECT string_agg(last_snapshot::text, ',' ORDER BY name)
	FROM order_system.consumer}), $dumped, '(a) the consumers are back at the dump\'s positions');
cmp_ok($node->safe_psql('postgres', q{SELECT max(pg_snapshot_xmax(last_snapshot)) FROM order_system.consumer}),
	'<', (split /,/, $ahead)[0], '(a) which is behind where they were: rewound with the database');
invariants_ok($node, '(a) the positions are trusted: same cluster, not ahead of it');
is($node->safe_psql('postgres', 'SELECT * FROM order_system.rebase_consumers()'), 'f|0|0',
	'(a) nothing to re-base');
# after the restore, ids after the dump's are handed out again to new events
my $dump_max = $node->safe_psql('postgres', 'SELECT last_value FROM order_system.outbox_id_seq');
$node->safe_psql('postgres', qq{
	CREATE TABLE delivered_before (consumer text, id bigint);
	COPY delivered_before FROM '$tmp/before.csv';
	CREATE TABLE delivered_at_restore AS SELECT * FROM delivered;});

$listener = listener_start($node, 'after_restore', 'alpha', 'beta');
ok(caught_up($node), '(a) the listener delivers what the dump held unacknowledged');
place_orders($node, 20);
ok(caught_up($node), '(a) and the orders after the restore');
listener_stop($listener);
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT consumer, id FROM delivered EXCEPT SELECT consumer, id FROM delivered_at_restore) a
	  JOIN delivered_before b USING (consumer, id)
	 WHERE a.id <= $dump_max AND a.id NOT IN (SELECT id FROM allowed_twice)}),
	'0', '(a) the downstream gets again only what was unacknowledged at the dump');
cmp_ok($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT consumer, id FROM delivered EXCEPT SELECT consumer, id FROM delivered_at_restore) a
	  JOIN delivered_before b USING (consumer, id) WHERE a.id <= $dump_max}),
	'>', 0, '(a) and does get those again (they were delivered between the dump and the restore)');
is($node->safe_psql('postgres', q{SELECT string_agg(system_identifier::text, ',') FROM order_system.consumer}),
	$stamp, '(a) the positions keep their stamp: no re-base');
moved_delivery_ok($node, '(a)');

############################################################ (b) replay_consumer after a move
my $older = "$tmp/older.custom";
my $elsewhere = order_system_node('elsewhere', extension => 0, settings => \%settings);
$elsewhere->command_ok([ 'pg_restore', '--single-transaction', '-d', $elsewhere->connstr('postgres'), $older ],
	'(b) the dump restored into another cluster');
my $from = $elsewhere->safe_psql('postgres', q{SELECT min(id) + 10 FROM order_system.outbox
	WHERE event_type = 'order.placed'});
$elsewhere->safe_psql('postgres', qq{SELECT order_system.replay_consumer('alpha', $from)});
invariants_ok($elsewhere, '(b) replay_consumer re-based every position first');
$elsewhere->safe_psql('postgres', 'CREATE TABLE delivered_at_restore AS SELECT * FROM delivered');
$elsewhere->safe_psql('postgres', q{CALL drain('alpha'); CALL drain('beta')});
is($elsewhere->safe_psql('postgres', qq{
	SELECT count(*) FROM order_system.outbox e
	 WHERE e.id > $from AND NOT EXISTS (SELECT 1 FROM delivered d
		WHERE d.consumer = 'alpha' AND d.id = e.id
		  AND NOT EXISTS (SELECT 1 FROM delivered_at_restore x
						   WHERE x.consumer = 'alpha' AND x.id = d.id AND x.batch_id = d.batch_id))}),
	'0', '(b) alpha gets every retained event after the id again');
# What a replay asks for comes twice by request, with the events of the
# same transactions: the events the re-base found acknowledged by every
# consumer all count as one (tx_id 2).
$elsewhere->safe_psql('postgres', qq{INSERT INTO allowed_twice SELECT id FROM order_system.outbox
	WHERE id > $from OR tx_id = '2'});
moved_delivery_ok($elsewhere, '(b)');

############################################################ (c) a position ahead of the cluster
$elsewhere->safe_psql('postgres', q{
	UPDATE order_system.consumer SET last_snapshot = (
		(pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100000)::text || ':'
		|| (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100000)::text || ':')::pg_snapshot
	 WHERE name = 'beta'});
like($elsewhere->safe_psql('postgres', q{SELECT invariant || ': ' || detail FROM order_system.check_invariants()}),
	qr/^consumer_position_valid: position \d+:\d+: \(open batch none\) is ahead of the current snapshot/,
	'(c) check_invariants() reports the position ahead of the cluster');
place_orders($elsewhere, 10);
is($elsewhere->safe_psql('postgres', 'SELECT order_system.prune_outbox()'), '0',
	'(c) the prune deletes nothing on it');
$elsewhere->safe_psql('postgres', q{CALL drain('alpha'); CALL drain('beta')});
is(orders_undelivered($elsewhere, 'beta'), '0', '(c) next_batch re-based it and delivered the new orders');
invariants_ok($elsewhere, '(c) invariants clean after');
is(positions_backwards($elsewhere), '', '(c) no position moved backwards within one stamp');

############################################################ (d) an outbox not fully restored
# Positions from another cluster whose marks are past the outbox sequence:
# the dump's events are not all in yet (a restore still running, or its
# sequence left out).  No re-base, no batch, no prune; OS018 names the fix.
$elsewhere->safe_psql('postgres', q{
	UPDATE order_system.consumer SET system_identifier = 1, last_mark = last_mark + 1000000});
my ($rc, $out, $err) = $elsewhere->psql('postgres', q{SELECT count(*) FROM order_system.next_batch('alpha')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  OS018: consumer positions come from another cluster and the outbox is not fully restored/,
	'(d) next_batch refuses with OS018');
like($err, qr/HINT:  Finish the restore .*order_system\.rebase_consumers\(\)/, '(d) the hint names the fix');
($rc, $out, $err) = $elsewhere->psql('postgres', 'SELECT * FROM order_system.rebase_consumers()');
like($err, qr/outbox_id_seq is at \d+; the positions were cut at event id \d+/, '(d) so does rebase_consumers()');
place_orders($elsewhere, 5);
is($elsewhere->safe_psql('postgres', 'SELECT order_system.prune_outbox()'), '0', '(d) the prune deletes nothing');
$elsewhere->safe_psql('postgres', q{
	SELECT setval('order_system.outbox_id_seq', (SELECT max(last_mark) FROM order_system.consumer))});
like($elsewhere->safe_psql('postgres', 'SELECT * FROM order_system.rebase_consumers()'), qr/^t\|[1-9]\d*\|\d+$/,
	'(d) with the sequence restored, rebase_consumers() re-bases');
$elsewhere->safe_psql('postgres', q{CALL drain('alpha'); CALL drain('beta')});
is(orders_undelivered($elsewhere, 'alpha') . '/' . orders_undelivered($elsewhere, 'beta'), '0/0',
	'(d) and every order is delivered');
invariants_ok($elsewhere, '(d) invariants clean after');

done_testing();
