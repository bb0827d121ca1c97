# Monitoring: the Grafana dashboard (monitoring/grafana/order_system.json)
# parses and queries only metrics that monitoring/prometheus/queries.yaml
# defines; Debian's prometheus-postgres-exporter, connected as a login role
# that has only order_system_monitor (which cannot settle payments or read
# members), serves every one of them, and the counters move by exactly
# what orders placed, paid, cancelled, declined, refunded and refused by
# the rate limit add, while a rolled-back order adds nothing.
#
# The monitoring files are found under $OS_ROOT (default: the current
# directory, the source tree under make prove_installcheck; test/run copies
# them beside the tests).  Without the exporter binary (test/run installs
# the package when root) the exporter part is skipped.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;

my $root = $ENV{OS_ROOT} // '.';
my $queries_file = "$root/monitoring/prometheus/queries.yaml";
my $dashboard_file = "$root/monitoring/grafana/order_system.json";

# ------------------------------------------------- the files themselves

# The metrics queries.yaml defines: <key>_<column> for each column that is
# not a label (the exporter's naming); and each one's labels.
sub defined_metrics
{
	my ($file) = @_;
	my (%metrics, %labels, $key, $column);
	foreach my $line (split /\n/, slurp_file($file))
	{
		if ($line =~ /^([a-z_]+):\s*$/) { $key = $1; $labels{$key} = []; next; }
		if ($line =~ /^    - ([a-z_]+):\s*$/) { $column = $1; next; }
		if ($line =~ /^        usage: "([A-Z]+)"/)
		{
			die "usage outside a metric in $file" unless defined $key && defined $column;
			if ($1 eq 'LABEL') { push @{ $labels{$key} }, $column; }
			else { $metrics{"${key}_$column"} = { key => $key, usage => $1 }; }
		}
	}
	$_->{labels} = $labels{ $_->{key} } for values %metrics;
	return \%metrics;
}

ok(-f $queries_file, "queries file $queries_file exists") or BAIL_OUT('no queries file');
my $defined = defined_metrics($queries_file);
ok(exists $defined->{$_}, "queries.yaml defines $_") foreach qw(
  order_system_orders_total order_system_orders_placed_total
  order_system_orders_paid_total order_system_orders_cancelled_total
  order_system_orders_declined_total order_system_orders_expired_total
  order_system_orders_refunded_total order_system_compensations_total
  order_system_orders_rate_limited_total order_system_consumer_lag_seconds
  order_system_consumer_pending_events order_system_consumer_seconds_since_ack
  order_system_saga_oldest_pending_payment_seconds order_system_outbox_events
  order_system_outbox_pruned_total order_system_notifier_notifies_total
  order_system_stock_low_products);
is($defined->{order_system_orders_placed_total}{usage}, 'COUNTER', 'counters are COUNTERs');
is_deeply($defined->{order_system_orders_placed_total}{labels}, ['method'], 'labelled by method');

my $dashboard = eval { decode_json(slurp_file($dashboard_file)) };
ok($dashboard, 'the dashboard JSON parses') or diag($@);
my (@exprs, %used);
my $walk;
$walk = sub {
	my ($v) = @_;
	if (ref $v eq 'HASH')
	{
		foreach my $k (keys %$v)
		{
			if (($k eq 'expr' || $k eq 'definition') && !ref $v->{$k}) { push @exprs, $v->{$k}; }
			else { $walk->($v->{$k}); }
		}
	}
	elsif (ref $v eq 'ARRAY') { $walk->($_) foreach @$v; }
};
$walk->($dashboard);
ok(@exprs >= 10, 'the dashboard has queries (' . scalar(@exprs) . ')');
foreach my $e (@exprs) { $used{$1} = 1 while $e =~ /\b(order_system_[a-z_]+)/g; }
ok(exists $defined->{$_}, "the dashboard's metric $_ is defined by queries.yaml")
  foreach sort keys %used;
ok($used{$_}, "the dashboard shows $_") foreach qw(order_system_orders_placed_total
  order_system_saga_oldest_pending_payment_seconds order_system_outbox_events
  order_system_orders_declined_total order_system_stock_low_products);

# ----------------------------------------------------- the exporter

my ($exporter) = grep { -x $_ } map { "$_/prometheus-postgres-exporter" }
  (split(/:/, $ENV{PATH}), '/usr/bin');
if (!$exporter)
{
	note('prometheus-postgres-exporter is not installed (apt-get install prometheus-postgres-exporter; test/run does it as root): the exporter checks are skipped');
	done_testing();
	exit 0;
}

my $node = order_system_node('metrics',
	settings => { 'order_system.order_burst' => 2, 'order_system.order_rate_limit' => 1 });
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('m' || i, 'm' || i || '@example.org', 1000) FROM generate_series(1, 5) i;
	SELECT order_system.create_product('sku' || i, 'p' || i, 100, 'KRW', CASE i WHEN 9 THEN 3 ELSE 100 END)
	  FROM generate_series(1, 9) i;
	SELECT order_system.register_consumer('watcher');
	CREATE ROLE os_exporter LOGIN;
	GRANT order_system_monitor TO os_exporter;
	CREATE ROLE os_agent LOGIN;
	GRANT pg_monitor TO os_agent;
});

# What the monitoring role cannot do.
sub as_exporter
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql,
		connstr => $node->connstr('postgres') . ' user=os_exporter');
	return ($rc, $err);
}
foreach my $denied (
	[ 'SELECT order_system.confirm_payment(1, NULL)', 'confirm a payment' ],
	[ 'SELECT order_system.decline_payment(1, NULL)', 'decline a payment' ],
	[ 'SELECT count(*) FROM order_system.member', 'read members' ],
	[ 'SELECT order_system.get_member(1)', 'read a member through the API' ],
	[ 'SELECT count(*) FROM order_system.orders', 'read orders' ],
	[ q{SELECT order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card')}, 'place an order' ],
	[ 'SELECT order_system.metrics_reset()', 'reset the counters' ],
	[ 'SELECT order_system_internal.metrics_preloaded()', 'call the internals' ])
{
	my ($rc, $err) = as_exporter($denied->[0]);
	ok($rc != 0 && $err =~ /permission denied/, "order_system_monitor cannot $denied->[1]")
	  or diag("rc $rc: $err");
}
my ($rc, $err) = as_exporter('SELECT * FROM order_system.metrics_counters(); SELECT * FROM order_system.metrics_orders()');
is($rc, 0, 'order_system_monitor reads the metrics') or diag($err);
is($node->safe_psql('postgres',
		q{SELECT pg_has_role('os_agent', 'order_system_monitor', 'USAGE')}),
	't', 'a member of pg_monitor has order_system_monitor');

# One free port of 9187-9189 on 127.0.0.1.
my ($port) = grep {
	!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_, Proto => 'tcp')
} 9187 .. 9189;
BAIL_OUT('ports 9187-9189 are all taken') unless $port;

my $dsn = sprintf('host=%s port=%d user=os_exporter dbname=postgres sslmode=disable',
	$node->host, $node->port);
my $log = $node->basedir . '/exporter.log';
my $h;
# the exporter goes when the test ends, however it ends
END { local $?; $h->kill_kill if $h; }
$h = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port", "--extend.query-path=$queries_file" ],
	'<', \undef, '>', $log, '2>', $log,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });
my $http = HTTP::Tiny->new(timeout => 10);

# /metrics as { 'name{label="v",...}' => value }, the server label left out.
sub scrape
{
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	return undef unless $res->{success};
	my %m;
	foreach my $line (split /\n/, $res->{content})
	{
		next unless $line =~ /^(order_system_[a-z_]+|pg_up)(?:\{(.*)\})? (\S+)$/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		$labels = join(',', sort grep { !/^server=/ } split /,(?=[a-z_]+=")/, $labels);
		$m{ $labels eq '' ? $name : "$name\{$labels}" } = $value;
	}
	return \%m;
}

my $before;
ok(wait_until(sub { $before = scrape(); $before && exists $before->{'order_system_orders_total{status="paid"}'} }, 60),
	'the exporter serves order_system metrics') or diag(slurp_file($log));
is($before->{pg_up}, 1, 'the exporter is connected');
foreach my $name (sort keys %$defined)
{
	ok(scalar(grep { /^\Q$name\E(\{|$)/ } keys %$before), "the exporter serves $name");
}
is($before->{'order_system_counters_shared_memory'}, 1, 'the counters are the shared-memory ones');
is($before->{'order_system_stock_low_products'}, 1, 'one product is at or below the low-stock threshold');
is($before->{'order_system_low_stock_available{product_id="9",sku="sku9"}'}, 3,
	'and it is listed with its stock');

# Orders: 1-3 card (then paid, cancelled, declined; 1 refunded), member 4
# places two and is refused the third, member 5 pays with points only, one
# order is rolled back, one placed in a released subtransaction (another in
# one rolled back), and one expires unpaid.
my @card = map { place_order($node, $_, $_, 'card') } 1 .. 3;
place_order($node, 4, 4, 'card') for 1 .. 2;
my ($rc4, $out4, $err4) = $node->psql('postgres',
	q{SELECT order_system.place_order(4, '[{"product_id": 4, "quantity": 1}]', 'card')});
like($err4, qr/too many orders|placed too many/, 'the third order of member 4 is refused by the rate limit');
place_order($node, 5, 5, 'points');
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT order_system.place_order(5, '[{"product_id": 6, "quantity": 1}]', 'card');
	ROLLBACK;
});
# in subtransactions: one rolled back (not counted), one released (counted
# when its transaction commits); and one order that expires unpaid
my $sub = $node->safe_psql('postgres', q{
	BEGIN;
	SAVEPOINT a;
	SELECT order_system.place_order(3, '[{"product_id": 7, "quantity": 1}]', 'card');
	ROLLBACK TO a;
	SAVEPOINT b;
	SELECT order_id FROM order_system.place_order(3, '[{"product_id": 7, "quantity": 1}]', 'card');
	RELEASE b;
	COMMIT;
});
my $expiring = $node->safe_psql('postgres', q{
	SET order_system.payment_timeout = 1;
	SELECT order_id FROM order_system.place_order(2, '[{"product_id": 8, "quantity": 1}]', 'card');
});
sleep 2;
is($node->safe_psql('postgres', 'SELECT order_system.expire_orders()'), 1, 'one order expired');
$node->safe_psql('postgres', qq{
	SELECT order_system.confirm_payment($card[0], 'gw-1');
	SELECT order_system.cancel_order($card[1], 'changed my mind');
	SET order_system.direct_writes = off;  -- counted through SQL reads too
	SELECT order_system.decline_payment($card[2], 'card declined');
	RESET order_system.direct_writes;
	SELECT order_system.refund_order($card[0], 'returned');
});

my $after = scrape();
ok($after, 'scraped again');
sub delta
{
	my ($key) = @_;
	return ($after->{$key} // 'missing') - ($before->{$key} // 0);
}
my %want = (
	'order_system_orders_placed_total{method="card"}' => 7,
	'order_system_orders_placed_total{method="points"}' => 1,
	'order_system_orders_paid_total{method="card"}' => 1,
	'order_system_orders_paid_total{method="points"}' => 1,
	'order_system_orders_cancelled_total{method="card"}' => 1,
	'order_system_orders_declined_total{method="card"}' => 1,
	'order_system_orders_refunded_total{method="card"}' => 1,
	'order_system_orders_expired_total{method="card"}' => 1,
	'order_system_compensations_total{method="card"}' => 4,
	'order_system_compensations_total{method="points"}' => 0,
	'order_system_orders_rate_limited_total{method="card"}' => 1,
	'order_system_orders_total{status="pending_payment"}' => 3,
	'order_system_orders_total{status="expired"}' => 1,
	'order_system_orders_total{status="paid"}' => 1,
	'order_system_orders_total{status="cancelled"}' => 2,
	'order_system_orders_total{status="refunded"}' => 1,
	'order_system_saga_pending_payment_orders' => 3);
is(delta($_), $want{$_}, "$_ moved by $want{$_}") foreach sort keys %want;

my $events = $node->safe_psql('postgres', 'SELECT count(*) FROM order_system.outbox');
is($after->{order_system_outbox_events}, $events, 'order_system_outbox_events counts the outbox');
ok(delta('order_system_outbox_events') > 0, 'and grew');
is($after->{'order_system_consumer_pending_events{consumer="watcher"}'},
	delta('order_system_outbox_events'),
	'the consumer has every event written since the first scrape pending');
ok($after->{'order_system_consumer_lag_seconds{consumer="watcher"}'} > 0,
	'its lag is the age of the oldest of them');
ok($after->{'order_system_saga_oldest_pending_payment_seconds'} > 0, 'saga lag is above 0');
ok(delta('order_system_notifier_commits_total') >= 12,
	'the notifier counted the event-writing commits');

# The counters restart from zero on metrics_reset().
$node->safe_psql('postgres', 'SELECT order_system.metrics_reset()');
my $reset = scrape();
is($reset->{'order_system_orders_placed_total{method="card"}'}, 0, 'metrics_reset() zeroes the counters');
is($reset->{'order_system_orders_total{status="pending_payment"}'}, 3, 'and leaves the states as they are');

# Concurrent orders: each backend's counts reach the shared counters
# exactly once (4 clients, 200 orders, the rate limit off for them).
{
	local $ENV{PGOPTIONS} = '-c order_system.order_rate_limit=0';
	my $script = $node->basedir . '/order.sql';
	open my $fh, '>', $script or die "cannot write $script: $!";
	print $fh q{\set m random(1, 5)
\set p random(1, 8)
SELECT order_system.place_order(:m, ('[{"product_id": ' || :p || ', "quantity": 1}]')::jsonb, 'card');
};
	close $fh;
	my ($out, $err) = run_command([ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', '50', '-f', $script,
		'-d', $node->connstr('postgres') ]);
	like($out, qr/number of transactions actually processed: 200\b/, 'pgbench placed 200 orders')
	  or diag($err);
}
my $concurrent = scrape();
is($concurrent->{'order_system_orders_placed_total{method="card"}'}, 200,
	'200 orders placed by 4 concurrent clients count 200');
is($concurrent->{'order_system_orders_total{status="pending_payment"}'}, 203, 'and are all awaiting payment');

$h->kill_kill;
$node->stop;
done_testing();
