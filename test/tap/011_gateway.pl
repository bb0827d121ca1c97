# order_system_gateway, the payment gateway simulator: it settles card and
# points_card payments (and no others), declines a seeded share of them,
# leaves the invariants intact, and a replayed (duplicate) delivery changes
# nothing.  It also runs live, woken by the notifier, and stops on SIGTERM.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $gateway = installed_program('order_system_gateway');

my $node = order_system_node('gateway');
my $db = $node->connstr('postgres');
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 4) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 1000)
	  FROM generate_series(1, 3) i;
});

# Run the gateway to completion: (exit code, stdout, stderr).
sub gateway_run
{
	return run_program([ $gateway, '-d', $db, @_ ]);
}

sub query { return $node->safe_psql('postgres', $_[0]); }

# Place an order of one unit, one transaction; its id.
sub place { return place_order($node, @_); }

# Everything the gateway could change, as text.
my $state_sql = q{
	SELECT string_agg(format('%s %s %s %s', o.id, o.status, p.status, p.gateway_ref), E'\n'
					  ORDER BY o.id)
	  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
	 UNION ALL
	SELECT string_agg(format('%s %s %s %s', id, stock_available, stock_reserved, stock_sold),
					  E'\n' ORDER BY id) FROM order_system.product
	 UNION ALL
	SELECT string_agg(format('%s %s', id, points_balance), E'\n' ORDER BY id)
	  FROM order_system.member
	 UNION ALL
	SELECT count(*)::text FROM order_system.outbox
	 UNION ALL
	SELECT count(*)::text FROM order_system.points_ledger};

my ($rc, $out, $err) = gateway_run('--help');
is($rc, 0, '--help exits 0');
like($out, qr/--decline-rate.*--seed/s, 'and describes the simulation options');
($rc, $out, $err) = gateway_run('--decline-rate', '1.5');
is($rc, 1, 'a decline rate above 1 is a usage error');
($rc, $out, $err) = gateway_run('-d', 'nonsense_option=1', '--once');
is($rc, 2, 'a bad conninfo exits 2');
($rc, $out, $err) = gateway_run('--once');
is($rc, 2, 'the default consumer "payment-gateway" is not registered yet: exit 2');
like($err, qr/consumer "payment-gateway" is not registered/, 'OS015, clearly');

# 20 card orders, some points_card ones, and payments it must leave alone.
my @card = map { place(1 + $_ % 4, 1 + $_ % 3, 'card') } 1 .. 20;
my @points_card = map { place(1 + $_ % 4, 1, 'points_card', '{"points": 300}') } 1 .. 2;
my @bank = map { place(1 + $_ % 4, 2, 'bank_transfer') } 1 .. 2;
my $points_only = place(1, 3, 'points');
my $cancelled = place(2, 3, 'card');
query("SELECT order_system.cancel_order($cancelled, 'changed my mind')");
my @settled = (@card, @points_card, $cancelled);

($rc, $out, $err) = gateway_run('--create', '--from-start', '--once', '--decline-rate', '0.5',
	'--seed', '42', '--latency-ms', '5');
is($rc, 0, 'the gateway settles everything and exits 0') or diag($err);
my %line = map { /^order (\d+) (.*)$/ ? ($1 => $2) : () } split /\n/, $out;
is_deeply([ sort { $a <=> $b } keys %line ], [ sort { $a <=> $b } @settled ],
	'one line per card or points_card payment, none for bank transfers or points');
is($line{$cancelled}, 'already cancelled', 'an order cancelled meanwhile is "already cancelled"');

my %status = split /[|\n]/, query(q{SELECT id, status FROM order_system.orders ORDER BY id});
is_deeply([ grep { $status{$_} ne 'paid' && $status{$_} ne 'cancelled' } @card, @points_card ],
	[], 'every card and points_card order is paid or cancelled');
my @paid = grep { $status{$_} eq 'paid' } @card;
my @declined = grep { $status{$_} eq 'cancelled' } @card;
cmp_ok(scalar @paid, '>', 0, 'some were confirmed');
cmp_ok(scalar @declined, '>', 0, 'some were declined (decline rate 0.5)');
is_deeply([ map { $line{$_} } @card ],
	[ map { $status{$_} eq 'paid' ? 'confirmed' : 'declined' } @card ],
	'the log line says what happened to each order');
is_deeply([ map { $status{$_} } @bank ], [ 'pending_payment', 'pending_payment' ],
	'bank transfers are left pending');
is(query(q{SELECT count(*) FROM order_system.payment p
			JOIN order_system.outbox e ON e.event_type = 'payment.requested'
			 AND (e.payload ->> 'order_id')::bigint = p.order_id
		   WHERE p.status = 'captured' AND p.gateway_ref IS DISTINCT FROM 'sim-' || e.id}),
	'0', "confirmed payments carry gateway_ref 'sim-<event id>'");
is(query(q{SELECT count(*) FROM order_system.orders
		   WHERE status = 'cancelled' AND status_reason <> 'declined by gateway simulator'
			 AND id <> } . $cancelled), '0', 'declines carry the simulator reason');
invariants_ok($node, 'check_invariants() is empty');

# Duplicate delivery: replay everything, with the same seed and another one.
my $state = query($state_sql);
query(q{SELECT order_system.replay_consumer('payment-gateway', 0)});
($rc, $out, $err) = gateway_run('--once', '--decline-rate', '0.5', '--seed', '42');
is($rc, 0, 'a replayed consumer runs again with exit 0');
is(scalar(grep { !/^order \d+ already (paid|cancelled)$/ } split /\n/, $out), 0,
	'every payment is reported as already settled');
is(query($state_sql), $state, 'the replay changed nothing');

query(q{SELECT order_system.replay_consumer('payment-gateway', 0)});
($rc, $out, $err) = gateway_run('--once', '--decline-rate', '0.5', '--seed', '7', '--quiet');
is($rc, 0, 'a replay whose draws differ (OS007 on settled orders) exits 0') or diag($err);
is($out, '', '--quiet: no lines');
is(query($state_sql), $state, 'and changes nothing either');
invariants_ok($node, 'invariants still hold');

# Live: woken by the notifier, it confirms orders as they come; SIGTERM stops it.
my $live_out = '';
my $h = IPC::Run::start([ $gateway, '-d', $db, '--decline-rate', '0', '--poll-interval', '60000' ],
	'<', \undef, '>', \$live_out, '2>', \my $live_err);
END { local $?; eval { $h->kill_kill } if $h; }
my @live = map { place(3, 1, 'card') } 1 .. 3;
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 3 FROM order_system.orders
	 WHERE id IN (@{[ join ', ', @live ]}) AND status = 'paid'}),
	'a running gateway confirms new orders');
$h->signal('TERM');
$h->finish;
is($h->result(0), 0, 'SIGTERM: exit 0');
like($live_out, qr/^order $live[-1] confirmed$/m, 'and logged them');

$node->stop;
done_testing();
