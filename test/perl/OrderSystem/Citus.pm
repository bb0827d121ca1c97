# A Citus cluster on loopback for the scale-out TAP tests (test/tap/04x):
# a coordinator and workers, each a PostgreSQL::Test::Cluster with citus
# and order_system preloaded, listening on 127.0.0.1 beside their sockets.
# Citus itself comes from test/citus/build.sh; a test file is skipped when
# it is not installed.
#
#   my ($coordinator, @workers) = citus_cluster(workers => 2);
#   # order_system created on the coordinator (and so on every node)
package OrderSystem::Citus;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(citus_installed citus_cluster);

# Whether citus is installed in the PostgreSQL the tests run.
sub citus_installed
{
	chomp(my $libdir = `pg_config --pkglibdir`);
	chomp(my $sharedir = `pg_config --sharedir`);
	return -f "$libdir/citus.so" && -f "$sharedir/extension/citus.control";
}

# postgresql.conf lines every node gets.
sub citus_node_conf
{
	return q{
shared_preload_libraries = 'citus,order_system'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 100
max_connections = 100
order_system.notify_database = 'postgres'
order_system.prune_interval = 0
citus.shard_count = 8
};
}

# A started coordinator and $opts{workers} (default 2) workers, joined;
# order_system created on the coordinator unless extension => 0.
sub citus_cluster
{
	my (%opts) = @_;
	my $nworkers = $opts{workers} // 2;
	plan skip_all => 'citus is not installed (test/citus/build.sh)' unless citus_installed();

	my @nodes;
	for my $name ('coordinator', map { "worker$_" } 1 .. $nworkers)
	{
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init;
		$node->append_conf('postgresql.conf', citus_node_conf() . ($opts{settings} // ''));
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION citus');
		push @nodes, $node;
	}
	my ($coordinator, @workers) = @nodes;
	$coordinator->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('127.0.0.1', " . $coordinator->port . ')');
	$coordinator->safe_psql('postgres', "SELECT citus_add_node('127.0.0.1', " . $_->port . ')')
	  for @workers;
	$coordinator->safe_psql('postgres', 'CREATE EXTENSION order_system')
	  if $opts{extension} // 1;
	return @nodes;
}

1;
