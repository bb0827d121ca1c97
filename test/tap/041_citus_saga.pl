# order_system distributed on a Citus cluster (a coordinator and two
# workers on loopback) by distribute_on_citus(): orders of members on both
# workers are placed, paid by the gateway participant, declined, cancelled,
# expired and refunded; every event reaches the listener; a worker is killed
# (kill -9) in the middle of the load and started again.  Afterwards the
# invariants hold across the cluster: no oversold stock, ledgers equal
# balances, every order's events delivered, no transaction left prepared.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use OrderSystem::Citus;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $listen = installed_program('order_system_listen');
my $gateway = installed_program('order_system_gateway');

my ($coordinator, @workers) = citus_cluster(workers => 2,
	settings => "order_system.order_rate_limit = 0\n");
my $db = $coordinator->connstr('postgres');
sub query { return $coordinator->safe_psql('postgres', $_[0]); }

# As after an attempt that failed once the workers' part had committed: the
# workers are reshaped already, and distribute_on_citus goes on.
is(query(q{SELECT string_agg(success::text, ' ')
			 FROM run_command_on_workers('SELECT order_system_internal.citus_reshape()')}),
	'true true', 'the workers\' tables reshaped on their own');
my ($layout, $settings) = split /\n---\n/, query(q{
	SELECT string_agg(table_name || ' ' || placement, E'\n' ORDER BY table_name::text COLLATE "C")
	  FROM order_system.distribute_on_citus(16);
	SELECT '---';
	SELECT current_setting('citus.shard_count') || ' ' || current_setting('citus.enable_unsafe_triggers')
		   || ' ' || current_setting('citus.enable_ddl_propagation');
});
is($settings, '8 off on', 'and the Citus settings it changed are as they were after it');
is($layout,
	join("\n",
		'order_system.consumer local on each node',
		'order_system.member distributed by id',
		'order_system.member_login reference',
		'order_system.order_line distributed by member_id',
		'order_system.order_owner distributed by order_id',
		'order_system.orders distributed by member_id',
		'order_system.outbox local on each node',
		'order_system.outbox_pruned local on each node',
		'order_system.payment distributed by member_id',
		'order_system.payment_method reference',
		'order_system.points_ledger distributed by member_id',
		'order_system.product reference',
		'order_system.stock_bucket reference'),
	'distribute_on_citus lays the tables out as doc/scale-out.md says');
is(query('SELECT count(*) FROM order_system.distribute_on_citus()'), '13',
	'a second call only reports');

# Eight members, spread over both workers; a hot product of 50 units in
# four flash-sale buckets and three plentiful ones.
query(q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 8) i;
	SELECT order_system.create_product('HOT', 'hot product', 1000, 'KRW', 50);
	SELECT order_system.set_flash_sale(1, 4);
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 100000)
	  FROM generate_series(2, 4) i;
});
# The number of nodes that hold rows of a distributed table, by the
# distribution column's values.
sub nodes_holding
{
	my ($table, $column) = @_;
	return query(qq{
		SELECT count(DISTINCT n.nodeport)
		  FROM pg_dist_placement pl JOIN pg_dist_node n USING (groupid)
		 WHERE pl.shardid IN (SELECT get_shard_id_for_distribution_column('order_system.$table', t.$column)
								FROM order_system.$table t)});
}
is(nodes_holding('member', 'id'), '2', 'the members live on both workers');

# The participants, live: the gateway settles card payments (a seeded fifth
# declined), the listener writes every event it is given.
my $tmp = PostgreSQL::Test::Utils::tempdir;
my @background;
END { local $?; eval { $_->kill_kill } for @background; }
sub start_program
{
	my ($name, @command) = @_;
	my $h = IPC::Run::start(\@command, '<', \undef, '>', "$tmp/$name.out", '2>', "$tmp/$name.err");
	push @background, $h;
	return $h;
}
my $gw = start_program('gateway', $gateway, '-d', $db, '--create', '--from-start',
	'--decline-rate', '0.2', '--seed', '11', '--poll-interval', '200');
my $ls = start_program('listener', $listen, '-d', $db, '-c', 'audit', '--create', '--from-start',
	'--poll-interval', '200');

# The load: 400 orders in one psql session, each its own transaction, 10 ms
# apart; a failure (while a worker is down) does not stop the ones after it.
# Every fifth is for the hot product, which sells out on the way.
sub load_script
{
	my ($from, $to) = @_;
	return join('', map {
	my $member = 1 + $_ % 8;
	my $product = $_ % 5 == 0 ? 1 : 2 + $_ % 3;
	my $method = ('card', 'card', 'points', 'bank_transfer', 'points_card')[ $_ % 5 ];
	my $params = $method eq 'points_card' ? q{'{"points": 300}'} : 'NULL';
	sprintf(qq{SELECT order_system.place_order(%d, '[{"product_id": %d, "quantity": 2}]', '%s', 'k%d', %s);\n}
		  . "SELECT pg_sleep(0.01);\n", $member, $product, $method, $_, $params)
	} $from .. $to);
}
open my $fh, '>', "$tmp/load.sql" or die;
print $fh load_script(1, 400);
close $fh;
my $loader = start_program('load', 'psql', '-X', '-q', '-d', $db, '-f', "$tmp/load.sql");

ok(wait_until(sub { query('SELECT count(*) FROM order_system.orders') >= 100 }),
	'orders are being placed');
my $victim = $workers[0];
my $pid = postmaster_pid($victim);
$victim->kill9;
my ($rc, $out, $err) = $coordinator->psql('postgres',
	q{SELECT order_system.place_order(1, '[{"product_id": 2, "quantity": 1}]', 'card')});
isnt($rc, 0, 'with a worker down, an order is refused (its stock is a reference table on every node)');
like($err, qr/ERROR:.*(connection|could not|terminat)/i, 'with a connection error, not a crash')
  or diag($err);
is(query('SELECT 1'), '1', 'the coordinator stays up');
sleep 1;
ok(restart_after_crash($victim, $pid), 'the worker starts again');
ok(wait_until(sub {
	my ($r) = $coordinator->psql('postgres',
		q{SELECT order_system.place_order(1, '[{"product_id": 2, "quantity": 1}]', 'card')});
	$r == 0 }), 'and orders are taken again');
$loader->finish;

# Prepared transactions the crash left in doubt are settled by Citus's
# recovery; the coordinator's log of them decides each.
ok(wait_until(sub {
	query('SELECT recover_prepared_transactions()');
	!grep { $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') ne '0' }
	  ($coordinator, @workers) }), 'no transaction is left prepared on any node');

# Then 200 more, all taken but those the hot product has no stock for.
my $before = query('SELECT count(*) FROM order_system.orders');
open $fh, '>', "$tmp/load2.sql" or die;
print $fh load_script(401, 600);
close $fh;
($rc, $out, $err) = run_program([ 'psql', '-X', '-q', '-d', $db, '-f', "$tmp/load2.sql" ]);
my @errors = grep { /ERROR/ } split /\n/, $err;
is(scalar(grep { !/product 1\b/ } @errors), 0,
	'after the restart every order is taken but those the hot product has no stock for')
  or diag(join("\n", @errors[0 .. ($#errors < 5 ? $#errors : 5)]));
cmp_ok(query('SELECT count(*) FROM order_system.orders') - $before, '>=', 160, 'at least 160 of 200');
cmp_ok(scalar(grep { /product 1\b/ } @errors), '>', 0, 'the hot product ran out');
is(nodes_holding('orders', 'member_id'), '2', 'orders were placed on both workers');

# Settle what the gateway leaves: cancel most bank transfers, expire the
# rest, refund some paid orders, complete others.  (An API call in the
# select list of a query over a distributed table is pushed down to the
# workers, where Citus refuses its nested queries: the ids are read first,
# as an application would.)
sub each_order
{
	my ($call, $where) = @_;
	my @ids = split /\n/, query("SELECT id FROM order_system.orders WHERE $where ORDER BY id");
	query(join('', map { "SELECT order_system.$call($_);\n" } @ids)) if @ids;
	return scalar @ids;
}
each_order('cancel_order',
	q{status = 'pending_payment' AND payment_method = 'bank_transfer' AND id % 4 <> 0});
query(q{
	UPDATE order_system.payment SET expires_at = now() - interval '1 second'
	 WHERE status = 'pending' AND method = 'bank_transfer';
	SELECT order_system.expire_orders();
});
each_order('refund_order', q{status = 'paid' AND id % 3 = 0});
each_order('complete_order', q{status = 'paid' AND id % 3 = 1});
is(query(q{SELECT string_agg(DISTINCT status, ' ' ORDER BY status) FROM order_system.orders}),
	'cancelled completed expired paid refunded', 'orders went through every ending');

# Invariants across the cluster.
invariants_ok($coordinator, 'check_invariants() finds nothing across the cluster');
is(query(q{SELECT bool_and(available >= 0 AND reserved + sold <= allotted)
			   AND sum(reserved + sold) <= 50 FROM order_system.stock_bucket WHERE product_id = 1}),
	't', 'the hot product\'s buckets were not oversold');
is(query(q{SELECT coalesce(sum(l.quantity), 0) <= 50 FROM order_system.order_line l
			 JOIN order_system.orders o ON o.member_id = l.member_id AND o.id = l.order_id
			WHERE l.product_id = 1 AND o.status IN ('pending_payment', 'paid', 'completed')}),
	't', 'its lines hold no more than its 50 units');
is(query(q{SELECT count(*) FROM order_system.member m
			WHERE m.points_balance <> (SELECT coalesce(sum(delta), 0) FROM order_system.points_ledger l
										WHERE l.member_id = m.id)}),
	'0', 'every ledger sums to its member\'s balance');
is(query(q{SELECT (SELECT count(*) FROM order_system.order_owner)
			   = (SELECT count(*) FROM order_system.orders)}),
	't', 'every order has its member in order_owner');

# A member's own role reads its rows on the cluster (the policies reach the
# shards) and nobody else's.
query(q{CREATE ROLE member_one LOGIN; SELECT order_system.set_member_login('member_one', 1)});
my $as_member = sub {
	return query("SET ROLE member_one; $_[0]");
};
is($as_member->('SELECT count(*) FROM order_system.orders'),
	query('SELECT count(*) FROM order_system.orders WHERE member_id = 1'),
	'a member role sees exactly its own orders');
is($as_member->('SELECT count(*) FROM order_system.order_line WHERE member_id <> 1'), '0',
	'and no other member\'s lines');
my $other = query('SELECT min(id) FROM order_system.orders WHERE member_id = 2');
is($as_member->("SELECT order_system.get_order($other) IS NULL"), 't',
	'and get_order of another member\'s order answers nothing');

# Writes run on the coordinator: a worker refuses them (its sequences are
# its own), and serves reads.
($rc, $out, $err) = $workers[1]->psql('postgres',
	q{SELECT order_system.place_order(1, '[{"product_id": 2, "quantity": 1}]', 'card')});
like($err, qr/ERROR:  cannot run place_order on a Citus worker/, 'a worker refuses place_order');
($rc, $out, $err) = $workers[1]->psql('postgres', q{SELECT order_system.create_member('on a worker')});
like($err, qr/ERROR:  cannot run create_member on a Citus worker/, 'and create_member');
is($workers[1]->safe_psql('postgres', q{SELECT order_system.get_order(1)->>'order_id'}), '1',
	'and answers get_order');
is(join(',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM order_system.outbox') } @workers),
	'0,0', 'the events are the coordinator\'s: the workers\' outboxes are empty');

# Every event, delivered: the listener's lines against the outbox.
my $events = query('SELECT count(*) FROM order_system.outbox');
ok(wait_until(sub {
	my %seen = map { (decode_json($_)->{id} => 1) } grep { /^\{/ } split /\n/, slurp_file("$tmp/listener.out");
	scalar(keys %seen) == $events }), "the listener received all $events events")
  or diag(slurp_file("$tmp/listener.err"));
my %placed = map { my $e = decode_json($_); $e->{event_type} eq 'order.placed' ? ($e->{aggregate_id} => 1) : () }
  grep { /^\{/ } split /\n/, slurp_file("$tmp/listener.out");
is(scalar(grep { !$placed{$_} } split /\n/, query('SELECT id FROM order_system.orders')),
	0, 'every order\'s order.placed event was delivered');
is(query(q{SELECT count(*) FROM order_system.consumer_status() WHERE pending_events > 0}), '0',
	'the gateway and the listener are caught up');

$gw->signal('TERM');
$ls->signal('TERM');
$gw->finish;
$ls->finish;
is($gw->result(0), 0, 'the gateway stops cleanly');
is($ls->result(0), 0, 'the listener stops cleanly');
done_testing();
