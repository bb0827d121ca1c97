# Backups without a superuser.  A login in order_system_backup (no
# BYPASSRLS) dumps every row with pg_dump -Fc --enable-row-security; the
# same login with BYPASSRLS dumps without the option; pg_restore into a fresh
# database (as a superuser) gives identical rows in every table and the
# sequences' positions.  A role that row-level security would give empty
# tables (pg_read_all_data) no longer dumps nothing and exits 0: it fails,
# naming the table.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = order_system_node('backup');
$node->safe_psql('postgres', q{
	SELECT order_system.create_member('member ' || i, NULL, 10000) FROM generate_series(1, 6) i;
	SELECT order_system.create_product('SKU-' || i, 'product ' || i, 1000, 'KRW', 50) FROM generate_series(1, 3) i;
	SELECT order_system.set_flash_sale(3, 4);
	SELECT order_system.register_consumer('relay', true);
	CREATE ROLE shopper LOGIN;
	SELECT order_system.set_member_login('shopper', 2);
});
place_orders($node, 24, members => 6, products => 3);
place_orders($node, 6, members => 6, products => 2, method => 'points');
place_orders($node, 4, members => 6, products => 2, method => 'bank_transfer');
$node->safe_psql('postgres', q{
	SELECT order_system.confirm_payment(id) FROM order_system.orders WHERE id % 3 = 0 AND status = 'pending_payment'
	   AND payment_method = 'card';
	SELECT order_system.decline_payment(id) FROM order_system.orders WHERE id % 3 = 1 AND status = 'pending_payment'
	   AND payment_method = 'card';
	SELECT order_system.adjust_points(5, 250, 'goodwill');
	SELECT count(*) FROM order_system.next_batch('relay');
});
invariants_ok($node, 'the source is healthy');

# The recipe: a login in order_system_backup, made by a superuser.
$node->safe_psql('postgres', q{
	CREATE ROLE backup_login LOGIN IN ROLE order_system_backup;
	CREATE ROLE backup_bypass LOGIN BYPASSRLS IN ROLE order_system_backup;
	CREATE ROLE reader LOGIN IN ROLE pg_read_all_data;
});
is($node->safe_psql('postgres', q{SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'backup_login'}),
	'f', 'backup_login is neither superuser nor BYPASSRLS');

sub dump_as
{
	my ($user, $file, @opts) = @_;
	return run_program([ 'pg_dump', '-Fc', @opts, '-f', $file,
		'-d', $node->connstr('postgres') . " user=$user" ]);
}

# Every table of the extension and every sequence, rows in a stable order.
my %kind = split /[|\n]/, $node->safe_psql('postgres', q{
	SELECT c.relname, c.relkind FROM pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind IN ('r', 'S')});
my @tables = sort keys %kind;
cmp_ok(scalar @tables, '>=', 15, 'the extension has its tables and sequences (' . scalar(@tables) . ')');

sub contents
{
	my ($db) = @_;
	my %c;
	for my $t (@tables)
	{
		$c{$t} = $node->safe_psql($db, $kind{$t} eq 'S'
			? qq{SELECT last_value || ' ' || is_called FROM order_system.$t}
			: qq{SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-')
				   FROM order_system.$t t});
	}
	return \%c;
}
my $source = contents('postgres');
is((split / /, $source->{orders})[0], '34', 'the source has its 34 orders');

my $basedir = $node->basedir;
my ($rc, $out, $err) = dump_as('backup_login', "$basedir/plain.dump");
isnt($rc, 0, 'without --enable-row-security the backup login is refused (pg_dump turns row security off)');
like($err, qr/query would be affected by row-level security policy/, 'loudly, by pg_dump');

($rc, $out, $err) = dump_as('backup_login', "$basedir/backup.dump", '--enable-row-security');
is($rc, 0, 'the backup login dumps with pg_dump -Fc --enable-row-security') or diag($err);
is($err, '', 'without a warning');

($rc, $out, $err) = dump_as('backup_bypass', "$basedir/bypass.dump");
is($rc, 0, 'a backup login with BYPASSRLS dumps without the option') or diag($err);

for my $case ([ 'restored', 'backup.dump' ], [ 'restored_bypass', 'bypass.dump' ])
{
	my ($db, $file) = @$case;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	($rc, $out, $err) = run_program([ 'pg_restore', '--exit-on-error', '-d', $node->connstr($db),
		"$basedir/$file" ]);
	is($rc, 0, "$file restores into a fresh database") or diag($err);
	my $restored = contents($db);
	is_deeply($restored, $source, "$file: every table and sequence is identical, row for row");
	invariants_ok($node, "$file: invariants hold in the restored database", $db);
}
is($node->safe_psql('restored', q{
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card')}),
	'35', 'the restored database goes on from the next order id');

# The silent case of before: a pg_read_all_data login, with and without
# --enable-row-security.
($rc, $out, $err) = dump_as('reader', "$basedir/reader-plain.dump");
isnt($rc, 0, 'pg_read_all_data without --enable-row-security: refused');
like($err, qr/row-level security/, 'loudly');
($rc, $out, $err) = dump_as('reader', "$basedir/reader.dump", '--enable-row-security');
isnt($rc, 0, 'pg_read_all_data with --enable-row-security: refused, not an empty dump with exit 0');
like($err, qr/row-level security would hide every row of order_system\.\w+ from role reader/,
	'naming the table and the role');
like($err, qr/order_system_backup/, 'and the hint names the backup role');
my ($src, $stdout, $stderr) = (0, '', '');
$src = $node->psql('postgres', 'SELECT count(*) FROM order_system.orders',
	extra_params => [ '-U', 'reader' ], stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/42501|row-level security would hide/, 'a plain SELECT by that role fails the same way');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.product},
	extra_params => [ '-U', 'reader' ]), '3', 'tables without row-level security it still reads');

# The roles the policies serve are unchanged.
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.orders},
	extra_params => [ '-U', 'shopper' ]),
	$node->safe_psql('postgres', q{SELECT count(*) FROM order_system.orders WHERE member_id = 2}),
	'a member login reads its own orders');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.points_ledger},
	extra_params => [ '-U', 'backup_login' ]),
	$node->safe_psql('postgres', q{SELECT count(*) FROM order_system.points_ledger}),
	'the backup login reads every ledger row');
$node->safe_psql('postgres', 'CREATE ROLE operator LOGIN IN ROLE order_system_admin');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_system.member},
	extra_params => [ '-U', 'operator' ]), '6', 'an operator reads every member');
($rc, $out, $err) = run_program([ 'psql', '-X', '-d', $node->connstr('postgres') . ' user=backup_login',
	'-c', q{SELECT order_system.get_order(1)} ]);
like($err, qr/permission denied for function get_order/, 'the backup role calls nothing');

$node->stop;
done_testing();
