# Tables Citus manages take the executor path: the plan-free writer and
# reader would use the coordinator's empty shell relation, so rows written
# there would be lost to every query and rows written through Citus would be
# invisible to the reader.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use OrderSystem::Citus;

my ($coordinator) = citus_cluster(workers => 2);

my $place = q{SELECT order_id FROM order_system.place_order(%d,
  '[{"product_id": 1, "quantity": 1}]', '%s')};
$coordinator->safe_psql('postgres', q{
  SELECT order_system.create_member('m' || g, NULL, 1000) FROM generate_series(1, 2) g;
  SELECT order_system.create_product('SKU1', 'p', 100, 'KRW', 50);
});
# A session whose writer cache is built while the tables are plain (and
# used again after they are distributed: Citus's invalidation must reach it).
my $count = sub {
	$coordinator->safe_psql('postgres', 'SELECT count(*) FROM order_system.outbox');
};
my $session = $coordinator->background_psql('postgres');
my $events_before = $count->();
$session->query_safe(sprintf($place, 1, 'card'));
$session->query_safe(q{SELECT order_system.get_order(1)});
my $per_order = $count->() - $events_before;

# The outbox and the payment methods as reference tables, then a method
# registered through Citus (so only in the shards), then orders in the
# session from before and in a new one.
$coordinator->safe_psql('postgres', q{
  SELECT create_reference_table('order_system.outbox');
  SET citus.enable_unsafe_triggers = on;
  SELECT create_reference_table('order_system.payment_method');
  SELECT order_system.register_payment_method('card2',
    'order_system.pay_card(bigint,bigint,bigint,text,jsonb)', 'card, again');
});
$session->query_safe(sprintf($place, 1, 'card'));
$session->query_safe(sprintf($place, 2, 'card2'));
$session->quit;
$coordinator->safe_psql('postgres', sprintf($place, 2, 'card2'));

is($count->(), $events_before + 4 * $per_order, 'every order\'s events reach the reference table\'s shards');
is($coordinator->safe_psql('postgres',
		q{SELECT count(*) FROM order_system.orders WHERE payment_method = 'card2'}),
	2, 'a method registered through Citus is found by place_order');
done_testing();
