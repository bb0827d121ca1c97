# Failover.  A streaming standby is promoted while orders are placed on the
# primary, which stops dead (immediate shutdown, as a crash).  The listener
# (order_system_listen) and the gateway (order_system_gateway) run with one
# multi-host conninfo, target_session_attrs=read-write: they lose the old
# primary, log each attempt, and reconnect to the new one.  After the
# failover every event on the new primary is delivered (written vs
# delivered: 0 lost) and every card order on it ends paid or declined.
# Transactions the standby had not received when the primary died are lost
# with their orders and events: the new primary never had them.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $listen = installed_program('order_system_listen');
my $gateway = installed_program('order_system_gateway');

my $old = order_system_node('old_primary', init => { allows_streaming => 1 },
	settings => { 'order_system.order_rate_limit' => 0 });
$old->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 8) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 100000)
	  FROM generate_series(1, 4) i;
	SELECT order_system.register_consumer('relay', true);
	SELECT order_system.register_consumer('relay-any', true);
	SELECT order_system.register_consumer('payment-gateway', true);
});
place_orders($old, 20);
$old->backup('base');
my $new = PostgreSQL::Test::Cluster->new('new_primary');
$new->init_from_backup($old, 'base', has_streaming => 1);
$new->start;
$old->wait_for_catchup($new);

# One conninfo naming both servers; libpq picks the one that takes writes.
my $host = $old->host;
my $conninfo = sprintf('host=%s,%s port=%d,%d dbname=postgres target_session_attrs=read-write',
	$host, $new->host, $old->port, $new->port);

# The same without target_session_attrs: libpq takes the first server that
# answers, which after the old primary is gone is the standby until it is
# promoted.  The listener must keep trying (its LISTEN is refused there with
# 25006), not give up.
my $conninfo_any = sprintf('host=%s,%s port=%d,%d dbname=postgres', $host, $new->host, $old->port, $new->port);

my $dir = $old->basedir;
my ($listen_out, $listen_err, $gw_out, $gw_err) = map { "$dir/$_" } qw(listen.out listen.err gw.out gw.err);
my $listener = IPC::Run::start([ $listen, '-d', $conninfo, '-c', 'relay', '--poll-interval', '200' ],
	'<', \undef, '>', $listen_out, '2>', $listen_err);
my ($any_out, $any_err) = ("$dir/any.out", "$dir/any.err");
my $listener_any = IPC::Run::start([ $listen, '-d', $conninfo_any, '-c', 'relay-any', '--poll-interval', '200' ],
	'<', \undef, '>', $any_out, '2>', $any_err);
my $gw = IPC::Run::start([ $gateway, '-d', $conninfo, '--decline-rate', '0.3', '--seed', '5',
		'--poll-interval', '200' ],
	'<', \undef, '>', $gw_out, '2>', $gw_err);
END { local $?; for ($listener, $listener_any, $gw) { eval { $_->kill_kill } if $_ } }

# Orders flow on the old primary, card and points, one transaction each.
sub load_file
{
	my ($name, $count, $offset) = @_;
	my $file = "$dir/$name.sql";
	append_to_file($file, join('', map {
		sprintf(qq{SELECT order_system.place_order(%d, '[{"product_id": %d, "quantity": 1}]', '%s');\n},
			1 + ($_ + $offset) % 8, 1 + $_ % 4, $_ % 3 ? 'card' : 'points')
	} 1 .. $count));
	return $file;
}
my $file = load_file('before', 2000, 0);
my $load = IPC::Run::start([ 'psql', '-X', '-q', '-d', $old->connstr('postgres') ],
	'<', $file, '>', "$file.out", '2>', "$file.err",
	IPC::Run::timeout(300));

ok(wait_until(sub { $old->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders') >= 200 }),
	'orders flow on the old primary');
ok(wait_until(sub { -s $gw_out && -s $listen_out }), 'the listener and the gateway deliver from it');

$old->stop('immediate');
$load->finish;
ok(wait_until(sub { slurp_file($any_err) =~ /reconnect failed \(.*LISTEN during recovery/ }, 60),
	'a listener that reached the standby is refused (25006) and keeps trying');
$new->promote;
ok($new->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'the standby is promoted');
my $replicated = $new->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders');
note("the new primary has $replicated orders from before the failover");

# Orders go on, on the new primary, through the same conninfo.
my ($rc, $out, $err) = run_program([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $conninfo,
	'-f', load_file('after', 200, 3) ]);
is($rc, 0, 'orders are placed on the new primary through the multi-host conninfo') or diag($err);

# Everything settles: no card order left pending, the consumers at the end.
ok($new->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM order_system.orders WHERE payment_method = 'card' AND status = 'pending_payment'}),
	'every card order on the new primary ends paid or declined');
ok($new->poll_query_until('postgres', q{
	SELECT bool_and(pending_events = 0 AND NOT batch_open) FROM order_system.consumer_status()}),
	'both consumers caught up');

ok(wait_until(sub { slurp_file($any_err) =~ /reconnected to host \S+ port ${\ $new->port}$/m }),
	'it reconnects once the standby is promoted');
$listener->signal('TERM');
$listener_any->signal('TERM');
$gw->signal('TERM');
$listener->finish;
$listener_any->finish;
$gw->finish;
is($listener->result(0), 0, 'the listener stops on SIGTERM with exit 0');
is($listener_any->result(0), 0, 'so does the other one');
is($gw->result(0), 0, 'so does the gateway');

my $new_port = $new->port;
for my $log ([ 'listener', $listen_err ], [ 'gateway', $gw_err ])
{
	my $text = slurp_file($log->[1]);
	like($text, qr/connection lost .*reconnecting in \d+ ms/, "$log->[0]: the lost connection is logged");
	like($text, qr/reconnected to host \S+ port $new_port$/m, "$log->[0]: it reconnected to the new primary");
	my $attempts = () = $text =~ /reconnect(?:ing in| failed)/g;
	note("$log->[0]: $attempts reconnect lines");
}

# Written (on the new primary) vs delivered.
my %delivered;
my $printed = slurp_file($listen_out);
$delivered{$1}++ while $printed =~ /^\{"id":\s*(\d+)/mg;
my @written = split /\n/, $new->safe_psql('postgres', 'SELECT id FROM order_system.outbox ORDER BY id');
my @lost = grep { !$delivered{$_} } @written;
my %on_new = map { $_ => 1 } @written;
my @gone = grep { !$on_new{$_} } keys %delivered;
note(sprintf('events on the new primary %d, delivered %d distinct (%d deliveries); lost %d; '
	  . 'delivered from the old primary and not on the new one (lost with their transactions) %d',
	scalar @written, scalar keys %delivered, eval { my $n = 0; $n += $_ for values %delivered; $n },
	scalar @lost, scalar @gone));
is(scalar @lost, 0, 'every event committed on the new primary was delivered: 0 lost');
my %any;
my $any_printed = slurp_file($any_out);
$any{$1}++ while $any_printed =~ /^\{"id":\s*(\d+)/mg;
is(scalar(grep { !$any{$_} } @written), 0, 'and by the listener without target_session_attrs too');

my %line = map { /^order (\d+) (\w+)/ ? ($1 => $2) : () } split /\n/, slurp_file($gw_out);
is($new->safe_psql('postgres', q{
	SELECT count(*) FROM order_system.orders WHERE payment_method = 'card'
	   AND status NOT IN ('paid', 'cancelled')}), '0', 'card orders are paid or cancelled');
my @cards = split /\n/, $new->safe_psql('postgres',
	q{SELECT id FROM order_system.orders WHERE payment_method = 'card' ORDER BY id});
is(scalar(grep { !defined $line{$_} } @cards), 0, 'the gateway logged a decision for each of them');
invariants_ok($new, 'the invariants hold on the new primary');

$new->stop;
done_testing();
