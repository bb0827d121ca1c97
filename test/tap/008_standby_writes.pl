# On a hot standby every transaction is read-only: place_order fails with
# 25006 (read_only_sql_transaction) before it writes or locks anything, as
# an INSERT or UPDATE statement would, with the plan-free writer and with
# order_system.direct_writes off; reads of the extension still work there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION order_system;
	SELECT order_system.create_member('Standby', 'standby@example.com', 1000);
	SELECT order_system.create_product('SB-1', 'Standby item', 100, 'KRW', 10);
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

for my $setting ('on', 'off')
{
	my ($rc, $out, $err) = $standby->psql('postgres', qq{
		\\set VERBOSITY sqlstate
		SET order_system.direct_writes = $setting;
		SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card');
	});
	isnt($rc, 0, "direct_writes $setting: place_order fails on the standby");
	like($err, qr/ERROR:  25006/, "direct_writes $setting: with 25006");
}
is($standby->safe_psql('postgres',
		'SELECT stock_available FROM order_system.get_product(1)'),
	'10', 'the standby still reads the extension\'s tables');
is($primary->safe_psql('postgres',
		q{SELECT order_id > 0 FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card')}),
	't', 'the primary takes the order');

$standby->stop;
$primary->stop;
done_testing();
