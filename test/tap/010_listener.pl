# order_system_listen against a live server with the notifier preloaded:
# command-line errors and exit codes, catch-up after downtime, --exec with
# retries, wake-up by NOTIFY, and at-least-once delivery across a kill -9
# of the listener and of the server.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $listen = installed_program('order_system_listen');

my $tmp = PostgreSQL::Test::Utils::tempdir;
# A few members place the whole load: no per-member rate limit.
my $node = order_system_node('listener', settings => { 'order_system.order_rate_limit' => 0 });
my $db = $node->connstr('postgres');
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 100000) FROM generate_series(1, 10) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 1000000)
	  FROM generate_series(1, 5) i;
});

# Run the listener to completion: (exit code, stdout, stderr).
sub listen_run
{
	return run_program([ $listen, @_ ]);
}

# Background processes, stopped at exit even if a test bails out.
my @background;
END { local $?; eval { $_->kill_kill } for @background; }

# Start the listener in the background, stdout and stderr into files.
sub listen_start
{
	my ($out, $err, @args) = @_;
	my $h = IPC::Run::start([ $listen, '-d', $db, @args ], '<', \undef, '>', $out, '2>', $err);
	push @background, $h;
	return $h;
}

# Stop a background listener with SIGTERM; its exit code.
sub listen_stop
{
	my ($h) = @_;
	$h->signal('TERM');
	$h->finish;
	return $h->result(0);
}

# A file's text ('' while it does not exist).
sub text_of
{
	my ($file) = @_;
	open my $fh, '<', $file or return '';
	local $/;
	return scalar <$fh>;
}

# The events of JSON lines; a line cut short by kill -9 is skipped.
sub events_of
{
	my @events;
	for my $line (split /\n/, $_[0])
	{
		my $e = eval { decode_json($line) };
		push @events, $e if $e;
	}
	return @events;
}

# Place n card orders, one transaction each, on members 1-10 and products 1-5.
sub place_card_orders
{
	my ($n) = @_;
	place_orders($node, $n, members => 10, products => 5);
}

sub outbox_ids_after
{
	my ($after) = @_;
	return [ split /\n/, $node->safe_psql('postgres',
		"SELECT id FROM order_system.outbox WHERE id > $after ORDER BY id") ];
}

# Wait until the consumer has acknowledged every committed event.
sub wait_caught_up
{
	my ($consumer) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT pending_events = 0 AND NOT batch_open
		  FROM order_system.consumer_status() WHERE name = '$consumer'});
}

# A pgbench load of card orders from 4 clients, in the background.
sub start_load
{
	my ($transactions, $out) = @_;
	my $script = "$tmp/order.sql";
	open my $fh, '>', $script or die "$script: $!";
	print $fh "\\set m random(1, 10)\n\\set p random(1, 5)\n",
		"SELECT order_system.place_order(:m, jsonb_build_array(jsonb_build_object(",
		"'product_id', :p, 'quantity', 1)), 'card');\n";
	close $fh;
	my $h = IPC::Run::start([ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', $transactions,
			'-R', '400', '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'<', \undef, '>', $out, '2>', $out);
	push @background, $h;
	return $h;
}

# The ids of events that are missing from the delivered ones.
sub missing
{
	my ($expected, @events) = @_;
	my %seen = map { $_->{id} => 1 } @events;
	return [ grep { !$seen{$_} } @$expected ];
}

# ------------------------------------------------------------ command line

my ($rc, $out, $err) = listen_run('--help');
is($rc, 0, '--help exits 0');
like($out, qr/Exit status:.*\n\s+3\s/s, '--help documents the exit codes');

($rc, $out, $err) = listen_run('-d', $db);
is($rc, 1, 'no consumer name: usage error, exit 1');

($rc, $out, $err) = listen_run('-d', $db, '-c', 'x', '--poll-interval', '0');
is($rc, 1, 'a bad --poll-interval: exit 1');

($rc, $out, $err) = listen_run('-d', 'nonsense_option=1', '-c', 'x');
is($rc, 2, 'a bad conninfo exits 2');
like($err, qr/cannot connect: .*nonsense_option/, 'with the reason');

($rc, $out, $err) = listen_run('-d', "host=$tmp/no-such-dir port=1", '-c', 'x', '--once');
is($rc, 2, 'an unreachable server at start-up exits 2');

($rc, $out, $err) = listen_run('-d', $db, '-c', 'nobody', '--once');
is($rc, 2, 'an unknown consumer exits 2');
like($err, qr/consumer "nobody" is not registered \(register it with --create\)/,
	'with a clear message (OS015)');

$node->safe_psql('postgres', 'CREATE DATABASE plain');
($rc, $out, $err) = listen_run('-d', $node->connstr('plain'), '-c', 'x', '--create', '--once');
is($rc, 2, 'a database without the extension exits 2');
like($err, qr/extension is not installed in database "plain"/, 'and says so');

$node->safe_psql('plain', q{CREATE EXTENSION order_system VERSION '0.1.0'});
($rc, $out, $err) = listen_run('-d', $node->connstr('plain'), '-c', 'x', '--create', '--once');
is($rc, 2, 'version 0.1.0 (no next_batch) exits 2');
like($err, qr/order_system 0\.1\.0 has no event consumers/, 'and names the version');

($rc, $out, $err) = listen_run('-d', $db, '-c', 'Bad Name', '--create', '--once');
is($rc, 2, 'an invalid consumer name is refused by register_consumer: exit 2');

# ------------------------------------------- catch-up after being offline

($rc, $out, $err) = listen_run('-d', $db, '-c', 'catchup', '--create', '--once');
is($rc, 0, '--create --once registers a consumer and exits 0');
is($out, '', 'a consumer registered now skips the events already written');
like($err, qr/registered consumer "catchup"/, 'registration is logged on stderr');

my $before = max_event_id($node);
place_card_orders(100);
($rc, $out, $err) = listen_run('-d', $db, '-c', 'catchup', '--once', '--quiet');
is($rc, 0, '--once after 100 orders exits 0');
is($err, '', '--quiet: nothing on stderr');
my @events = events_of($out);
my @ids = map { $_->{id} } @events;
is_deeply(\@ids, outbox_ids_after($before),
	'every event committed while offline, each once, in id order');
my @placed = grep { $_->{event_type} eq 'order.placed' } @events;
is(scalar @placed, 100, 'exactly 100 order.placed events');
is_deeply([ map { $_->{payload}{order_id} } @placed ], [ 1 .. 100 ], 'one per order');
is(scalar(grep { $_->{event_type} eq 'payment.requested' } @events), 100,
	'and their payment.requested events');
my ($first) = @events;
is_deeply([ sort keys %$first ],
	[ qw(aggregate_id aggregate_type created_at event_type id payload trace_context tx_id) ],
	'each line is one event object with the outbox columns');
like($first->{tx_id}, qr/^\d+$/, 'tx_id is a string of digits');
($rc, $out, $err) = listen_run('-d', $db, '-c', 'catchup', '--once');
is($out, '', 'acknowledged: a second --once delivers nothing');

($rc, $out) = listen_run('-d', $db, '-c', 'everything', '--create', '--from-start', '--once');
is_deeply([ map { $_->{id} } events_of($out) ], outbox_ids_after(0),
	'--from-start delivers every retained event');

# The listener writes the lines itself: byte for byte what row_to_json gives,
# escapes included.
$before = max_event_id($node);
$node->safe_psql('postgres', q{
	INSERT INTO order_system.outbox (event_type, aggregate_type, aggregate_id, payload)
	VALUES (E'odd "quoted" \\\\ \t\n\r\b\f \x01 \u00fcn\u00ef', E'agg\x1f/</', 7,
			'{"k": "v\\"", "n": [1.50, null], "s": "\\u00e9\\n"}')});
place_card_orders(1);
($rc, $out) = listen_run('-d', $db, '-c', 'everything', '--once');
is($out, $node->safe_psql('postgres', qq{
	SELECT string_agg(pg_catalog.row_to_json(e)::text, E'\\n' ORDER BY e.id)
	  FROM (SELECT id, tx_id, event_type, aggregate_type, aggregate_id, payload, created_at,
					trace_context
			  FROM order_system.outbox WHERE id > $before) e}) . "\n",
	'each line is the event as row_to_json writes it, odd characters escaped alike');

# ---------------------------------------------------------------- --exec

listen_run('-d', $db, '-c', 'piped', '--create', '--once');
$before = max_event_id($node);
place_card_orders(3);
my ($marker, $sink) = ("$tmp/marker", "$tmp/sink");
($rc, $out, $err) = listen_run('-d', $db, '-c', 'piped', '--once', '--exec',
	"if [ -e '$marker' ]; then cat > '$sink'; else touch '$marker'; exit 1; fi");
is($rc, 0, '--exec: a command that fails once, then succeeds: exit 0');
like($err, qr/batch \d+ not delivered \(command exited with status 1\); retrying in 100 ms/,
	'the retry is logged with its backoff');
is_deeply([ map { $_->{id} } events_of(text_of($sink)) ], outbox_ids_after($before),
	'the command got the batch as JSON lines on stdin');

$before = max_event_id($node);
place_card_orders(1);
($rc, $out, $err) = listen_run('-d', $db, '-c', 'piped', '--once', '--exec', 'exit 5',
	'--max-retries', '2');
is($rc, 3, 'a command that keeps failing: exit 3 after --max-retries');
like($err, qr/not delivered after 2 retries \(command exited with status 5\); giving up/,
	'and says why');
($rc, $out) = listen_run('-d', $db, '-c', 'piped', '--once');
is_deeply([ map { $_->{id} } events_of($out) ], outbox_ids_after($before),
	'the batch was not acknowledged: it comes again');

# ----------------------------------------------------- wake-up by NOTIFY

listen_run('-d', $db, '-c', 'live', '--create', '--once');
my ($live_out, $live_err) = ("$tmp/live.out", "$tmp/live.err");
my $live = IPC::Run::start([ $listen, '-d', "$db application_name=live", '-c', 'live',
		'--poll-interval', '60000' ], '<', \undef, '>', $live_out, '2>', $live_err);
push @background, $live;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE application_name = 'live' AND state = 'idle' AND query LIKE '%next_batch%'}),
	'the listener drained and waits');
my $notifies = $node->safe_psql('postgres', 'SELECT notifies FROM order_system.notifier_status()');
my $t0 = time;
my $order = place_order($node, 1, 1, 'card');
ok(wait_until(sub { text_of($live_out) =~ /"order_id": $order\b/ }, 30),
	'an order committed while the listener waits is delivered');
cmp_ok(time - $t0, '<', 10, 'well within the 60 s poll interval: woken by the notifier');
cmp_ok($node->safe_psql('postgres', 'SELECT notifies FROM order_system.notifier_status()'),
	'>', $notifies, 'the notifier sent a wake-up');
is(listen_stop($live), 0, 'SIGTERM while waiting: exit 0');

# ------------------------------------------------- kill -9 of the listener

listen_run('-d', $db, '-c', 'crashy', '--create', '--once');
$before = max_event_id($node);
my $load_out = "$tmp/load1.out";
my $load = start_load(150, $load_out);
my @out = ("$tmp/crashy1.out", "$tmp/crashy2.out");
my $h = listen_start($out[0], "$tmp/crashy1.err", '-c', 'crashy', '--poll-interval', '100');
ok(wait_until(sub { (() = text_of($out[0]) =~ /\n/g) >= 40 }), 'the listener is streaming');
$h->signal('KILL');
$h->finish;
$load->finish;
is($load->result(0), 0, 'the load ran') or diag(text_of($load_out));
$h = listen_start($out[1], "$tmp/crashy2.err", '-c', 'crashy', '--poll-interval', '100');
ok(wait_caught_up('crashy'), 'restarted, it catches up');
is(listen_stop($h), 0, 'and stops with exit 0 on SIGTERM');
my @first = events_of(text_of($out[0]));
my @delivered = (@first, events_of(text_of($out[1])));
my $expected = outbox_ids_after($before);
cmp_ok(scalar @first, '<', scalar @$expected, 'the kill came before the end of the stream');
is_deeply(missing($expected, @delivered), [], 'every event delivered at least once, no gap');
my %in_outbox = map { $_ => 1 } @$expected;
is(scalar(grep { !$in_outbox{ $_->{id} } } @delivered), 0, 'nothing delivered that is not in the outbox');
note(sprintf '%d events, %d deliveries', scalar @$expected, scalar @delivered);

# --------------------------------------------------- kill -9 of the server

# The listener is paused (SIGSTOP) while orders keep committing, so the crash
# leaves committed events it has not delivered; it must reconnect and
# deliver them after the restart.
listen_run('-d', $db, '-c', 'survivor', '--create', '--once');
$before = max_event_id($node);
my $orders_before = $node->safe_psql('postgres', 'SELECT max(id) FROM order_system.orders');
my ($surv_out, $surv_err) = ("$tmp/survivor.out", "$tmp/survivor.err");
$h = listen_start($surv_out, $surv_err, '-c', 'survivor', '--poll-interval', '200');
$load = start_load(2000, "$tmp/load2.out");
ok(wait_until(sub { (() = text_of($surv_out) =~ /\n/g) >= 40 }), 'orders are flowing');
$h->signal('STOP');
my $orders_paused = $node->safe_psql('postgres', 'SELECT max(id) FROM order_system.orders');
ok($node->poll_query_until('postgres',
		"SELECT max(id) >= $orders_paused + 100 FROM order_system.orders"),
	'orders keep committing while the listener is paused');
my $postmaster = postmaster_pid($node);
$node->kill9;
$load->finish;
$h->signal('CONT');
my $lines_at_crash = () = text_of($surv_out) =~ /\n/g;
ok(wait_until(sub { !kill 0, $postmaster }), 'the postmaster is gone');
ok(restart_after_crash($node, $postmaster), 'the server restarts after kill -9');
my $after_crash = place_order($node, 1, 1, 'card');
ok(wait_caught_up('survivor'), 'the running listener reconnects and catches up');
is(listen_stop($h), 0, 'SIGTERM: exit 0');
like(text_of($surv_err), qr/connection lost .*reconnecting in \d+ ms/, 'the lost connection is logged');
like(text_of($surv_err), qr/: reconnected to host \S+ port \d+$/m, 'and so is the reconnection, naming the server');
@delivered = events_of(text_of($surv_out));
cmp_ok(scalar @delivered, '>', $lines_at_crash, 'events were delivered after the crash');
is_deeply(missing(outbox_ids_after($before), @delivered), [],
	'every event that survived the crash was delivered');
my %placed = map { $_->{payload}{order_id} => 1 } grep { $_->{event_type} eq 'order.placed' } @delivered;
my @committed = split /\n/, $node->safe_psql('postgres',
	"SELECT id FROM order_system.orders WHERE id > $orders_before ORDER BY id");
cmp_ok(scalar @committed, '>', 100, 'orders committed before the crash');
is_deeply([ grep { !$placed{$_} } @committed ], [],
	'every committed order was announced, including one placed after the restart');
ok($placed{$after_crash}, 'the order placed after the restart was delivered');
note(sprintf '%d orders, %d events delivered, %d before the crash',
	scalar @committed, scalar @delivered, $lines_at_crash);

$node->stop;
done_testing();
