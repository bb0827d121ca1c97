# Planted objects never run: functions and operators an attacker created in
# public before CREATE EXTENSION, and a caller whose search_path puts a
# schema of look-alike functions and operators first.  Every planted object
# records its call in a trap table that must stay empty.
use strict;
use warnings;
use OrderSystem::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = order_system_node('hostile', preload => 0, extension => 0);

# mallory plants in public and in her own schema evil.
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	GRANT CREATE ON SCHEMA public TO mallory;
	GRANT CREATE ON DATABASE postgres TO mallory;
	CREATE TABLE public.trap (what text);
	GRANT INSERT, SELECT ON public.trap TO PUBLIC;
	CREATE ROLE shopper LOGIN;
});
my $plant = q{
	CREATE FUNCTION %1$s.trapped(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s bigint operator');
		RETURN a OPERATOR(pg_catalog.=) b; END $f$;
	CREATE FUNCTION %1$s.trapped(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s text operator');
		RETURN a OPERATOR(pg_catalog.=) b; END $f$;
	CREATE FUNCTION %1$s.trapped_ge(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s >= operator');
		RETURN a OPERATOR(pg_catalog.>=) b; END $f$;
	CREATE OPERATOR %1$s.= (FUNCTION = %1$s.trapped, LEFTARG = bigint, RIGHTARG = bigint);
	CREATE OPERATOR %1$s.= (FUNCTION = %1$s.trapped, LEFTARG = text, RIGHTARG = text);
	CREATE OPERATOR %1$s.>= (FUNCTION = %1$s.trapped_ge, LEFTARG = bigint, RIGHTARG = bigint);
	CREATE FUNCTION %1$s.length(text) RETURNS integer LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s length'); RETURN 1; END $f$;
	CREATE FUNCTION %1$s.now() RETURNS timestamptz LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s now'); RETURN '2000-01-01'; END $f$;
	CREATE FUNCTION %1$s.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s nextval'); RETURN 1; END $f$;
	CREATE FUNCTION %1$s.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s jsonb_build_object'); RETURN '{}'; END $f$;
	CREATE FUNCTION %1$s.pg_current_snapshot() RETURNS pg_snapshot LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO public.trap VALUES ('%1$s pg_current_snapshot'); RETURN '1:1:'; END $f$;
};
(my $public = $plant) =~ s/%1\$s/public/g;
(my $evil = $plant) =~ s/%1\$s/evil/g;
$node->safe_psql('postgres', "SET ROLE mallory; $public");
$node->safe_psql('postgres', "SET ROLE mallory; CREATE SCHEMA evil; GRANT USAGE ON SCHEMA evil TO PUBLIC; $evil");

# The control query: the traps work when someone does resolve to them.
$node->safe_psql('postgres', q{SET search_path = evil, public; SELECT 1::bigint OPERATOR(evil.=) 1::bigint});
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.trap'), '1', 'a trap fires when called');
$node->safe_psql('postgres', 'TRUNCATE public.trap');

# Install with public (mallory's objects) on the search_path.
$node->safe_psql('postgres', q{SET search_path = public, pg_catalog; CREATE EXTENSION order_system});
is($node->safe_psql('postgres', q{SELECT coalesce(string_agg(what, ', '), '') FROM public.trap}), '',
	'CREATE EXTENSION ran none of the planted objects');

# A shopper calls everything with evil first on the search_path.
$node->safe_psql('postgres', q{
	GRANT order_system_app TO shopper;
	GRANT order_system_gateway TO shopper;
	SELECT order_system.create_product('H-1', 'hostile', 100, 'KRW', 10);
	SELECT order_system.create_member('Shopper', 'shop@example.com', 1000);
	SET ROLE shopper;  -- the consumer is the shopper's, who reads it below
	SELECT order_system.register_consumer('hostile');
});
my $calls = q{
	SET search_path = evil, public, pg_catalog;
	SELECT order_system.create_member('Evil', 'evil@example.com', 5);
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card', 'k');
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'card', 'k');
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 2}]', 'points_card',
		NULL, '{"points": 50}');
	SELECT order_system.confirm_payment(1, 'gw');
	SELECT order_system.decline_payment(2, 'no');
	SELECT order_system.cancel_order(2);
	SELECT order_system.get_order(1);
	SELECT * FROM order_system.get_product(1);
	SELECT * FROM order_system.points_history(1);
	SELECT count(*) FROM order_system.next_batch('hostile');
	SELECT order_system.ack_batch('hostile', 1);
	SELECT * FROM order_system.consumer_status();
};
$node->safe_psql('postgres', "SET ROLE shopper; $calls");
$node->safe_psql('postgres', q{
	SET search_path = evil, public, pg_catalog;
	SELECT order_system.complete_order(1);
	SELECT order_system.expire_orders();
	SELECT * FROM order_system.check_invariants();
	SELECT order_system.prune_outbox();
	SELECT order_system.set_flash_sale(1, 4);
	SELECT order_id FROM order_system.place_order(1, '[{"product_id": 1, "quantity": 1}]', 'points');
	SELECT order_system.refund_order(3);
});
is($node->safe_psql('postgres', q{SELECT coalesce(string_agg(what, ', '), '') FROM public.trap}), '',
	'no planted function or operator ran during any call');
invariants_ok($node, 'and the shop is consistent');

$node->stop;
done_testing();
