# Trace context through the saga: an order placed with a W3C traceparent
# (SET LOCAL order_system.traceparent) writes events that carry it; the
# gateway settles the payment as a child span (same trace id and flags, its
# own parent id), so the reply's events carry the same trace id; the
# listener prints the trace context of every event, as the outbox holds it.
use strict;
use warnings;
use JSON::PP;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $listen = installed_program('order_system_listen');
my $gateway = installed_program('order_system_gateway');

my $node = order_system_node('trace');
my $db = $node->connstr('postgres');
sub query { return $node->safe_psql('postgres', $_[0]); }
query(q{
	SELECT order_system.register_consumer('trace-listen');
	SELECT order_system.register_consumer('payment-gateway');
});
query(q{
	SELECT order_system.create_member('traced', NULL, 0);
	SELECT order_system.create_product('T-1', 'traced product', 1000, 'KRW', 100);
});

my $trace_id = '4bf92f3577b34da6a3ce929d0e0e4736';
my $traceparent = "00-$trace_id-00f067aa0ba902b7-01";
my $sampled_off = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

# Place one card order in a transaction with the traceparent (or none).
sub place_traced
{
	my ($tp) = @_;
	my $set = defined $tp ? "SET LOCAL order_system.traceparent = '$tp';" : '';
	my $out = query(qq{BEGIN; $set
		SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card');
		COMMIT;});
	return (split /\n/, $out)[-1];
}

my $confirmed = place_traced($traceparent);
my $untraced = place_traced(undef);
my ($rc, $out, $err) = run_program([ $gateway, '-d', $db, '--once', '--decline-rate', '0',
	'--seed', '7' ]);
is($rc, 0, 'the gateway confirms the payments') or diag($err);
my $declined = place_traced($sampled_off);
($rc, $out, $err) = run_program([ $gateway, '-d', $db, '--once', '--decline-rate', '1',
	'--seed', '7' ]);
is($rc, 0, 'the gateway declines the next one') or diag($err);
is(query("SELECT string_agg(status, ' ' ORDER BY id) FROM order_system.orders"),
	'paid paid cancelled', 'two orders paid, one declined');

# Every event of an order, as the outbox holds it: [type, trace_context].
sub outbox_events
{
	my ($order) = @_;
	return [ map { [ split /\|/, $_, -1 ] } split /\n/, query(qq{
		SELECT event_type, coalesce(trace_context, '') FROM order_system.outbox
		 WHERE aggregate_type = 'order' AND aggregate_id = $order ORDER BY id}) ];
}

# The events the placing transaction wrote carry its traceparent exactly;
# the gateway's reply carries the same trace id and flags under a parent id
# of its own.
for my $case ([ $confirmed, $traceparent, 'order.paid' ],
	[ $declined, $sampled_off, 'order.cancelled' ])
{
	my ($order, $tp, $reply) = @$case;
	my $events = outbox_events($order);
	my %by_type = map { $_->[0] => $_->[1] } @$events;
	is($by_type{'order.placed'}, $tp, "order $order: order.placed carries the traceparent");
	is($by_type{'payment.requested'}, $tp, "order $order: so does payment.requested");
	ok(exists $by_type{$reply}, "order $order: the gateway's reply wrote $reply");
	my @replies = grep { $_->[0] ne 'order.placed' && $_->[0] ne 'payment.requested' } @$events;
	my ($prefix, $flags) = ($tp =~ /^(00-[0-9a-f]{32}-)[0-9a-f]{16}(-[0-9a-f]{2})$/);
	is(scalar(grep { $_->[1] !~ /^\Q$prefix\E[0-9a-f]{16}\Q$flags\E$/ } @replies), 0,
		"order $order: every reply event (@{[ map { $_->[0] } @replies ]}) has the same trace id and flags");
	isnt($replies[0][1], $tp, "order $order: under the gateway's own parent id");
	is(scalar(keys %{ { map { $_->[1] => 1 } @replies } }), 1,
		"order $order: one span for the whole reply");
}
is(scalar(grep { $_->[1] ne '' } @{ outbox_events($untraced) }), 0,
	'an order placed without a traceparent: no event carries one, the reply neither');

# The listener prints each event's trace context, as the outbox holds it.
($rc, $out, $err) = run_program([ $listen, '-d', $db, '-c', 'trace-listen', '--once' ]);
is($rc, 0, 'the listener delivers everything') or diag($err);
my @lines = map { decode_json($_) } split /\n/, $out;
my %outbox = split /[|\n]/, query(q{SELECT id, coalesce(trace_context, 'null') FROM order_system.outbox});
is(scalar(@lines), scalar(keys %outbox), 'one line per event');
is(scalar(grep { ($_->{trace_context} // 'null') ne $outbox{ $_->{id} } } @lines), 0,
	'each line\'s trace_context is the outbox\'s');
my @traced = grep { defined $_->{trace_context} && $_->{trace_context} =~ /^00-$trace_id-/ } @lines;
is_deeply([ map { $_->{event_type} } @traced ],
	[ split /\n/, query(qq{SELECT event_type FROM order_system.outbox
		WHERE trace_context LIKE '00-$trace_id-%' ORDER BY id}) ],
	'the listener shows the trace\'s events as the outbox has them');
is_deeply([ grep { /^(order\.placed|payment\.requested|order\.paid)$/ } map { $_->{event_type} } @traced ],
	[ qw(order.placed payment.requested order.paid) ],
	'order.placed, payment.requested and the reply\'s order.paid among them');
is(scalar(grep { exists $_->{payload}{trace_context} } @lines), 0,
	'the payloads stay the business data');

# A bad traceparent is refused before anything is written.
my ($ok, $stdout, $stderr) = $node->psql('postgres', q{BEGIN;
	SET LOCAL order_system.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1';
	SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card');
	COMMIT;});
like($stderr, qr/invalid value for parameter "order_system.traceparent".*lower-case hex/s,
	'a malformed traceparent is refused with a clear error');
is(query('SELECT count(*) FROM order_system.orders'), 3, 'and nothing was placed');

done_testing();
