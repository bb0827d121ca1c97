# Four rounds of a mixed pgbench load, each ended by kill -9 of the
# postmaster at a random moment, then a restart.  The load places orders
# with every built-in payment method and moves random orders through the
# saga (confirm or deposit, decline, cancel, complete, refund, expire).
# After every restart: check_invariants() is empty, every order has its
# order.placed event and a status of order_transitions(), no step failed
# with an error other than a lost race (OS005, OS006, OS007), and a
# consumer registered from the start, read during the load, has every
# outbox event exactly once, across all the crashes.
use strict;
use warnings;
use IPC::Run;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $rounds = 4;
my $started_at = time;
my $tmp = PostgreSQL::Test::Utils::tempdir;
# A few members place the whole load: no per-member rate limit;
# payment_timeout = 2 lets expire_orders race with the other steps.
my $node = order_system_node('crash_rounds',
	settings => { 'order_system.order_rate_limit' => 0, 'order_system.payment_timeout' => 2 });
# The consumer 'rounds', registered from the start, reads during the load.
create_delivery_log($node);

# Products 1-3 never run out; product 4 does, so place_order meets OS005.
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('Member ' || i, NULL, 1000000) FROM generate_series(1, 8) i;
	SELECT order_system.create_product('CR-' || i, 'Crashed ' || i, 100 * i, 'KRW',
									   CASE WHEN i = 4 THEN 20 ELSE 1000000 END)
	  FROM generate_series(1, 4) i;

	-- Every error a step of the load met; lost races (OS005 out of stock,
	-- OS006 not enough points, OS007 the order moved meanwhile) are
	-- expected, anything else is a failure.
	CREATE TABLE cr_errors (step text, sqlstate text, message text,
		expected boolean GENERATED ALWAYS AS (sqlstate IN ('OS005', 'OS006', 'OS007')) STORED);

	CREATE FUNCTION cr_unexpected(step text, state text, message text) RETURNS text
	LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO cr_errors VALUES (step, state, message);
		RETURN state;
	END $$;

	CREATE FUNCTION cr_place(member bigint, product bigint, quantity bigint, method int)
	RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		name text := (ARRAY['card', 'points', 'points_card', 'bank_transfer'])[method];
	BEGIN
		RETURN (order_system.place_order(member,
			jsonb_build_array(jsonb_build_object('product_id', product, 'quantity', quantity)),
			name, NULL, CASE WHEN name = 'points_card' THEN '{"points": 50}'::jsonb END)).status;
	EXCEPTION WHEN OTHERS THEN
		RETURN cr_unexpected('place_order ' || name, SQLSTATE, SQLERRM);
	END $$;

	-- An order in the given status at or after a random id (NULL if none).
	CREATE FUNCTION cr_pick(wanted text) RETURNS bigint LANGUAGE sql AS $$
		SELECT o.id FROM order_system.orders o
		 WHERE o.status = wanted
		   AND o.id >= (SELECT floor(random() * max(id)) FROM order_system.orders)
		 ORDER BY o.id LIMIT 1;
	$$;

	-- Settle a random pending order: 1 capture (deposit for a bank
	-- transfer), 2 decline, 3 cancel.
	CREATE FUNCTION cr_settle(action int) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		picked bigint := cr_pick('pending_payment');
		target record;
		step text := (ARRAY['confirm_payment', 'decline_payment', 'cancel_order'])[action];
	BEGIN
		SELECT o.id, p.method, p.reference, p.external_amount INTO target
		  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
		 WHERE o.id = picked;
		IF NOT FOUND THEN
			RETURN 'none';
		END IF;
		IF action = 1 AND target.method = 'bank_transfer' THEN
			step := 'confirm_deposit';
			RETURN order_system.confirm_deposit(target.reference, target.external_amount);
		ELSIF action = 1 THEN
			RETURN order_system.confirm_payment(target.id, 'gw');
		ELSIF action = 2 THEN
			RETURN order_system.decline_payment(target.id, 'declined');
		ELSE
			RETURN order_system.cancel_order(target.id, 'cancelled');
		END IF;
	EXCEPTION WHEN OTHERS THEN
		RETURN cr_unexpected(step, SQLSTATE, SQLERRM);
	END $$;

	-- Finish a random paid order: 1 complete, 2 refund.
	CREATE FUNCTION cr_finish(action int) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		target bigint := cr_pick('paid');
	BEGIN
		IF target IS NULL THEN
			RETURN 'none';
		ELSIF action = 1 THEN
			RETURN order_system.complete_order(target);
		ELSE
			RETURN order_system.refund_order(target, 'returned');
		END IF;
	EXCEPTION WHEN OTHERS THEN
		RETURN cr_unexpected(CASE action WHEN 1 THEN 'complete_order' ELSE 'refund_order' END,
							 SQLSTATE, SQLERRM);
	END $$;

	CREATE FUNCTION cr_expire() RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		RETURN order_system.expire_orders(20);
	EXCEPTION WHEN OTHERS THEN
		RETURN cr_unexpected('expire_orders', SQLSTATE, SQLERRM);
	END $$;

	SELECT order_system.register_consumer('rounds', true);
});

# The load: weighted scripts, one wrapper call each, so a lost race never
# aborts a pgbench client.
my %scripts = (
	'place.sql@6' => "\\set m random(1, 8)\n\\set p random(1, 4)\n\\set q random(1, 3)\n"
	  . "\\set pay random(1, 4)\nSELECT cr_place(:m, :p, :q, :pay);\n",
	'settle.sql@4' => "\\set a random(1, 3)\nSELECT cr_settle(:a);\n",
	'finish.sql@2' => "\\set a random(1, 2)\nSELECT cr_finish(:a);\n",
	'expire.sql@1' => "SELECT cr_expire();\n");
my @load_args;
for my $spec (sort keys %scripts)
{
	my ($file, $weight) = split /@/, $spec;
	append_to_file("$tmp/$file", $scripts{$spec});
	push @load_args, '-f', "$tmp/$file\@$weight";
}

sub count_of
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM ($sql) q");
}

for my $round (1 .. $rounds)
{
	my $orders_before = $node->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '20', @load_args,
			'-h', $node->host, '-p', $node->port, 'postgres' ],
		'<', \undef, '>', "$tmp/pgbench$round.out", '2>', "$tmp/pgbench$round.err");
	# The consumer reads while the load runs, so a batch may be open when
	# the crash comes.
	my $reader = IPC::Run::start(
		[ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c', q{
			DO $$
			DECLARE
				n bigint;
			BEGIN
				FOR i IN 1 .. 2000 LOOP
					CALL drain('rounds', n);
					COMMIT;
					PERFORM pg_sleep(0.01);
				END LOOP;
			END $$;} ],
		'<', \undef, '>', "$tmp/reader$round.out", '2>', "$tmp/reader$round.err");

	my $delay = 0.5 + rand(2.0);
	usleep(int($delay * 1_000_000));
	my $postmaster = postmaster_pid($node);
	$node->kill9;
	$bench->finish;
	$reader->finish;
	note(sprintf 'round %d: killed after %.2f s', $round, $delay);
	isnt($bench->result(0), 0, "round $round: the crash cut the load short");

	ok(restart_after_crash($node, $postmaster), "round $round: the server restarts after kill -9");
	my $orders = $node->safe_psql('postgres', 'SELECT count(*) FROM order_system.orders') - $orders_before;
	cmp_ok($orders, '>', 0, "round $round: the load committed orders ($orders) before the crash");

	invariants_ok($node, "round $round: check_invariants() is empty");
	is(count_of(q{SELECT 1 FROM order_system.orders o WHERE NOT EXISTS
		(SELECT 1 FROM order_system.outbox e WHERE e.aggregate_type = 'order'
			AND e.aggregate_id = o.id AND e.event_type = 'order.placed')}),
		'0', "round $round: every order has its order.placed event");
	is(count_of(q{SELECT 1 FROM order_system.orders o WHERE o.status NOT IN
		(SELECT from_status FROM order_system.order_transitions())}),
		'0', "round $round: every order is in a state of order_transitions()");
	is($node->safe_psql('postgres', q{SELECT string_agg(format('%s: %s %s', step, sqlstate, message),
		E'\n') FROM cr_errors WHERE NOT expected}), '', "round $round: no step failed except by losing a race");

	my $after = $node->safe_psql('postgres', q{CALL drain('rounds')});
	note("round $round: $after events delivered after the restart");
	is(delivery_check($node, 'rounds'), '0/0/0', "round $round: every event so far delivered exactly once");
}

note('lost races: ', $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s: %s', step, sqlstate, n), ', ' ORDER BY step, sqlstate)
	  FROM (SELECT step, sqlstate, count(*) n FROM cr_errors GROUP BY 1, 2) e}));

# The load went through the whole saga, so the rounds checked more than
# placement.
my $states = $node->safe_psql('postgres', q{
	SELECT string_agg(status, ',' ORDER BY status)
	  FROM (SELECT DISTINCT status FROM order_system.orders) s});
is($states, 'cancelled,completed,expired,paid,pending_payment,refunded',
	'the load reached every order state');
cmp_ok(count_of('SELECT 1 FROM order_system.payment WHERE method = \'bank_transfer\' AND status = \'captured\''),
	'>', 0, 'deposits were confirmed');
cmp_ok(time - $started_at, '<', 90, 'the rounds took less than 90 s');

$node->stop;
done_testing();
