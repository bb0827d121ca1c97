# The read side on a hot standby.  While orders flow on the primary, a
# streaming standby serves get_order, get_member, get_product,
# points_history, consumer_status, check_invariants and a member login's own
# orders under row-level security; every function that writes refuses with
# 25006 before it looks at its arguments, next_batch naming the primary.
# The lag a reader sees is measured and printed: the time from an order's
# commit on the primary until get_order on the standby returns it.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $primary = order_system_node('primary', init => { allows_streaming => 1 },
	settings => { 'order_system.order_rate_limit' => 0 });
$primary->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 6) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 100000)
	  FROM generate_series(1, 4) i;
	SELECT order_system.register_consumer('relay', true);
	CREATE ROLE shopper LOGIN;
	SELECT order_system.set_member_login('shopper', 2);
});
place_orders($primary, 12, members => 6);

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# Orders flow on the primary in the background, one transaction each.
my $load_sql = join('', map {
	sprintf(qq{SELECT order_system.place_order(%d, '[{"product_id": %d, "quantity": 1}]', '%s');\n},
		1 + $_ % 6, 1 + $_ % 4, 'card')
} 1 .. 20000);
# from and to files: a scalar would be fed (or drained) only while the test pumps
my $load_file = $primary->basedir . '/load.sql';
append_to_file($load_file, $load_sql);
my $load = IPC::Run::start([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres') ],
	'<', $load_file, '>', "$load_file.out", '2>', "$load_file.err",
	IPC::Run::timeout(300));
END { local $?; eval { $load->kill_kill } if $load; }

sub on_standby
{
	my ($sql, @opts) = @_;
	return $standby->safe_psql('postgres', $sql, @opts);
}

# The standby's answer to a call: "SQLSTATE: message" and the DETAIL line.
sub refusal
{
	my ($sql) = @_;
	my ($stdout, $stderr) = ('', '');
	$standby->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$stdout, stderr => \$stderr);
	my ($state, $msg) = $stderr =~ /ERROR:\s+(\w{5}):\s+(.*)/;
	my ($detail) = $stderr =~ /DETAIL:\s+(.*)/;
	return (($state // '') . ': ' . ($msg // $stderr), $detail // '');
}

# Reads while the load runs.
my $some = on_standby('SELECT max(id) FROM order_system.orders');
ok($some >= 12, 'the standby sees the orders placed before the backup');
like(on_standby("SELECT order_system.get_order($some) ->> 'status'"), qr/^(pending_payment|paid)$/,
	'get_order');
is(on_standby('SELECT name FROM order_system.get_member(3)'), 'member 3', 'get_member');
is(on_standby('SELECT sku FROM order_system.get_product(2)'), 'SKU-2', 'get_product');
ok(on_standby('SELECT count(*) FROM order_system.points_history(1)') > 0, 'points_history');
is(on_standby(q{SELECT name FROM order_system.consumer_status()}), 'relay', 'consumer_status');
my ($mine, $upto) = split /\|/,
  on_standby(q{SELECT count(*), max(id) FROM order_system.orders}, extra_params => [ '-U', 'shopper' ]);
is($mine, on_standby("SELECT count(*) FROM order_system.orders WHERE member_id = 2 AND id <= $upto"),
	'a member login reads its own orders under row-level security');
my $own = on_standby(q{SELECT min(id) FROM order_system.orders WHERE member_id = 2});
is(on_standby("SELECT order_system.get_order($own) ->> 'member_id'", extra_params => [ '-U', 'shopper' ]),
	'2', 'and its own order through get_order');
my $theirs = on_standby(q{SELECT min(id) FROM order_system.orders WHERE member_id = 3});
is(on_standby("SELECT order_system.get_order($theirs) IS NULL", extra_params => [ '-U', 'shopper' ]),
	't', 'and nobody else\'s through get_order');
is(on_standby(q{SELECT count(*) FROM order_system.orders WHERE member_id <> 2},
		extra_params => [ '-U', 'shopper' ]), '0', 'nor through the table');

# Lag: the time from an order's commit on the primary until the standby's
# get_order returns it, sampled while the load runs.
my @seen;
my $orders_before = $primary->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders');
for (1 .. 15)
{
	my $id = place_order($primary, 1 + $_ % 6, 1 + $_ % 4, 'card');
	my $t0 = time;
	wait_until(sub { on_standby("SELECT order_system.get_order($id) IS NOT NULL") eq 't' }, 30)
	  or last;
	push @seen, 1000 * (time - $t0);
	usleep(50_000);
}
is(scalar @seen, 15, 'every order placed on the primary became readable on the standby');
my $during = $primary->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders') - $orders_before;
cmp_ok($during, '>', 15, "orders flowed meanwhile ($during placed)");
my @sorted = sort { $a <=> $b } @seen;
my $lag_replay = $primary->safe_psql('postgres', q{
	SELECT coalesce(max(extract(epoch FROM replay_lag)) * 1000, 0)::numeric(10, 1)
	  FROM pg_stat_replication});
diag(sprintf('read-after-write lag on the standby, ms (includes the polling, 1 psql each): '
	  . 'min %.0f median %.0f max %.0f; pg_stat_replication.replay_lag %s ms',
	$sorted[0], $sorted[$#sorted / 2], $sorted[-1], $lag_replay));

# Every write refuses with 25006, before reading its arguments: member 999999
# and order 999999 do not exist, and that is not what the standby says.
my $primary_port = $primary->port;
my %writes = (
	place_order => q{SELECT order_system.place_order(999999, '[{"product_id": 1, "quantity": 1}]', 'card')},
	confirm_payment => q{SELECT order_system.confirm_payment(999999)},
	decline_payment => q{SELECT order_system.decline_payment(999999)},
	cancel_order => q{SELECT order_system.cancel_order(999999)},
	create_member => q{SELECT order_system.create_member('x')},
	restock => q{SELECT order_system.restock(1, 5)},
	expire_orders => q{SELECT order_system.expire_orders()},
	ack_batch => q{SELECT order_system.ack_batch('relay', 1)},
	register_consumer => q{SELECT order_system.register_consumer('another')},
	replay_consumer => q{SELECT order_system.replay_consumer('relay')},
	prune_outbox => q{SELECT order_system.prune_outbox()},
	set_flash_sale => q{SELECT order_system.set_flash_sale(1, 2)});
for my $f (sort keys %writes)
{
	my ($err, $detail) = refusal($writes{$f});
	is($err, "25006: cannot run $f on a standby server", "$f refuses with 25006");
}
my ($err, $detail) = refusal(q{SELECT * FROM order_system.next_batch('relay')});
is($err, q{25006: cannot run next_batch, which records the consumer's position, on a standby server},
	'next_batch refuses: it records the position');
like($detail, qr/^This server replays the primary at host=\S+ port=$primary_port; writes go there\.$/,
	'naming the primary\'s host and port');
($err) = refusal(q{SELECT * FROM order_system.next_batch(NULL)});
like($err, qr/^25006:/, 'even with a NULL consumer (the arguments are not read)');

# The load has done its part: stop it (an order cut short rolls back).
is(slurp_file("$load_file.err"), '', 'the load on the primary ran without an error');
$load->kill_kill;
$primary->wait_for_catchup($standby);
is(on_standby('SELECT count(*) FROM order_system.orders'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders'),
	'caught up, the standby has every order');
is(on_standby('SELECT * FROM order_system.check_invariants()'), '',
	'check_invariants() runs on the standby and finds nothing');
invariants_ok($primary, 'nor on the primary');

# A read-only transaction on the primary refuses the same way and writes
# nothing (the plan-free writer would not be stopped by the executor).
my $before = $primary->safe_psql('postgres', q{SELECT count(*) FROM order_system.orders});
my ($rc, $stdout, $stderr) = (0, '', '');
$primary->psql('postgres', q{\set VERBOSITY verbose
	BEGIN READ ONLY;
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card');},
	stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/25006: cannot run place_order in a read-only transaction/,
	'a read-only transaction on the primary: 25006');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM order_system.orders}), $before, 'nothing written');

$standby->stop;
$primary->stop;
done_testing();
