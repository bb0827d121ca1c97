# The writer's two paths give the same database: one mixed workload runs in
# a database with order_system.direct_writes on (rows written without a
# plan) and in one with it off (every write and read as an SQL statement),
# then every table of the extension, the outbox payloads, each call's
# outcome and a user trigger log on orders, order_line and product are
# compared.
#
# The workload covers members and points, products incl. a flash sale
# (stock buckets), place_order with every payment method, with and without
# idempotency keys (a replay and a conflicting reuse), refusals (out of
# stock, too few points, unknown method), confirm, decline, deposit,
# cancel, expiry, completion and refund.  Normalised, because they depend
# on the clock or on chance, not on the path: timestamps, transaction ids,
# the member's rate-limit tokens, and which flash-sale bucket a line took
# (its bucket number; the product's buckets are compared as sums).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('direct_writes');
$node->init;
$node->append_conf('postgresql.conf', q{
# the rate limit depends on the clock: off, so both runs refuse nothing for it
order_system.order_rate_limit = 0
});
$node->start;

my %setting = (direct_on => 'on', direct_off => 'off');

# The functions the workload calls through, a user trigger log, and the table
# dump compared at the end.
my $setup = q{
CREATE EXTENSION order_system;
CREATE TABLE t_outcome (n bigserial PRIMARY KEY, label text, result text);
-- run sql, record its first column or its SQLSTATE and message
CREATE FUNCTION t_call(label text, sql text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE sql INTO r;
	INSERT INTO t_outcome (label, result) VALUES (label, coalesce(r, 'null'));
EXCEPTION WHEN OTHERS THEN
	INSERT INTO t_outcome (label, result) VALUES (label, SQLSTATE || ' ' || SQLERRM);
END
$$;
-- place_order through t_call, its result without the deadline's timestamp
CREATE FUNCTION t_place(label text, member bigint, lines text, method text,
						idem text DEFAULT NULL, params text DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
SELECT t_call(label, format($q$SELECT (o.order_id, o.status, o.total_amount, o.currency, o.payment_id,
		o.payment_status, o.payment_reference, o.expires_at IS NOT NULL, o.replayed)::text
	FROM order_system.place_order(%s, %L, %L, %L, %L) o$q$, member, lines, method, idem, params))
$$;
CREATE TABLE t_log (n bigserial PRIMARY KEY, tbl text, op text, old_row jsonb, new_row jsonb);
CREATE FUNCTION t_log() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
DECLARE
	strip text[] := ARRAY['created_at', 'updated_at', 'expires_at', 'rate_at', 'rate_tokens'];
	o jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) - strip END;
	n jsonb := to_jsonb(NEW) - strip;
BEGIN
	IF TG_TABLE_NAME = 'order_line' THEN
		n := jsonb_set(n, '{bucket}', to_jsonb(NEW.bucket IS NOT NULL));
	END IF;
	INSERT INTO public.t_log (tbl, op, old_row, new_row) VALUES (TG_TABLE_NAME, TG_OP, o, n);
	RETURN NULL;
END
$$;
CREATE TRIGGER t_log AFTER INSERT OR UPDATE ON order_system.orders
	FOR EACH ROW EXECUTE FUNCTION t_log();
CREATE TRIGGER t_log AFTER INSERT OR UPDATE ON order_system.order_line
	FOR EACH ROW EXECUTE FUNCTION t_log();
CREATE TRIGGER t_log AFTER INSERT OR UPDATE ON order_system.product
	FOR EACH ROW EXECUTE FUNCTION t_log();
-- every row of a table, one line each, sorted, with the columns that depend
-- on the clock or on chance left out or normalised
CREATE FUNCTION t_dump(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	cols text;
	r text;
BEGIN
	IF rel = 'order_system.stock_bucket'::regclass THEN
		SELECT string_agg(format('%s: %s', product_id, s), E'\n' ORDER BY product_id) INTO r
		  FROM (SELECT product_id, json_build_array(count(*), sum(available), sum(reserved),
						sum(sold), sum(allotted)) s
				  FROM order_system.stock_bucket GROUP BY product_id) b;
		RETURN r;
	END IF;
	SELECT string_agg(CASE
			WHEN a.attrelid = 'order_system.order_line'::regclass AND a.attname = 'bucket'
				THEN 'bucket IS NOT NULL'
			WHEN a.attrelid = 'order_system.outbox'::regclass AND a.attname = 'payload'
				THEN 'payload::jsonb - ''expires_at'''
			ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_attribute a
	 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'xid8'::regtype)
	   AND NOT (a.attrelid = 'order_system.member'::regclass AND a.attname = 'rate_tokens');
	EXECUTE format('SELECT string_agg(r, E''\n'' ORDER BY r) FROM (SELECT ROW(%s)::text r FROM %s) t',
				   cols, rel) INTO r;
	RETURN coalesce(r, '(empty)');
END
$$;
};

# The workload: each statement its own transaction, as psql sends them.
my $workload = q{
SELECT t_call('member ' || i, format('SELECT order_system.create_member(%L, %L, %s)',
	'Member ' || i, 'm' || i || '@example.com', i * 10000)) FROM generate_series(1, 4) i;
SELECT t_call('product ' || i, format('SELECT order_system.create_product(%L, %L, %s, %L, %s)',
	'SKU-' || i, 'Item ' || i, i * 1000, CASE WHEN i = 5 THEN 'USD' ELSE 'KRW' END, 20))
  FROM generate_series(1, 5) i;
SELECT t_call('flash product', $$SELECT order_system.create_product('FLASH', 'Flash', 700, 'KRW', 30)$$);
SELECT t_call('flash sale', 'SELECT order_system.set_flash_sale(6, 3)');
SELECT t_call('adjust points', $$SELECT order_system.adjust_points(1, 5000, 'welcome')$$);
SELECT t_call('restock', 'SELECT order_system.restock(2, 10)');
SELECT t_call('price', 'SELECT order_system.set_price(3, 3500)');

-- every method, with and without idempotency keys
SELECT t_place('card ' || m, m,
	'[{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 2}]', 'card')
  FROM generate_series(1, 4) m;
SELECT t_place('points', 1,
	'[{"product_id": 1, "quantity": 2}]', 'points');
SELECT t_place('points_card', 2,
	'[{"product_id": 3, "quantity": 1}]', 'points_card', NULL, '{"points": 1200}');
SELECT t_place('points_card all points', 3,
	'[{"product_id": 1, "quantity": 1}]', 'points_card', NULL, '{"points": 1000}');
SELECT t_place('bank_transfer', 4,
	'[{"product_id": 4, "quantity": 1}]', 'bank_transfer');
SELECT t_place('bank_transfer 2', 1,
	'[{"product_id": 4, "quantity": 2}]', 'bank_transfer');
SELECT t_place('usd card', 2,
	'[{"product_id": 5, "quantity": 3}]', 'card');
SELECT t_place('key first', 3,
	'[{"product_id": 2, "quantity": 1}]', 'card', 'key-1');
SELECT t_place('key replay', 3,
	'[{"product_id": 2, "quantity": 1}]', 'card', 'key-1');
SELECT t_place('key conflict', 3,
	'[{"product_id": 2, "quantity": 5}]', 'card', 'key-1');
SELECT t_place('key points', 1,
	'[{"product_id": 3, "quantity": 1}]', 'points', 'key-2');
SELECT t_place('flash ' || m, m,
	'[{"product_id": 6, "quantity": 1}, {"product_id": 1, "quantity": 1}]', 'card')
  FROM generate_series(1, 4) m;
SELECT t_place('flash points', 1,
	'[{"product_id": 6, "quantity": 2}]', 'points');
-- refusals
SELECT t_place('out of stock', 4,
	'[{"product_id": 1, "quantity": 100}]', 'card');
SELECT t_place('too few points', 4,
	'[{"product_id": 3, "quantity": 15}]', 'points');
SELECT t_place('unknown method', 4,
	'[{"product_id": 1, "quantity": 1}]', 'cash');
SELECT t_place('no member', 99,
	'[{"product_id": 1, "quantity": 1}]', 'card');
SELECT t_call('deactivate member', 'SELECT order_system.deactivate_member(4)');
SELECT t_place('inactive member', 4,
	'[{"product_id": 1, "quantity": 1}]', 'card');

-- the saga: orders 1-4 are card orders of members 1-4
SELECT t_call('confirm 1', $$SELECT order_system.confirm_payment(1, 'gw-1')$$);
SELECT t_call('decline 2', $$SELECT order_system.decline_payment(2, 'insufficient funds')$$);
SELECT t_call('cancel 3', $$SELECT order_system.cancel_order(3, 'changed mind')$$);
SELECT t_call('complete 1', 'SELECT order_system.complete_order(1)');
SELECT t_call('confirm 4', $$SELECT order_system.confirm_payment(4, 'gw-4')$$);
SELECT t_call('refund 4', $$SELECT order_system.refund_order(4, 'damaged')$$);
SELECT t_call('refund points', format('SELECT order_system.refund_order(%s, %L)',
	(SELECT id FROM order_system.orders WHERE payment_method = 'points' ORDER BY id LIMIT 1), 'returned'));
SELECT t_call('deposit', format('SELECT order_system.confirm_deposit(%L, %s)', reference, amount))
  FROM order_system.payment WHERE method = 'bank_transfer' ORDER BY id LIMIT 1;
SELECT t_call('deposit wrong amount', format('SELECT order_system.confirm_deposit(%L, %s)', reference, amount - 1))
  FROM order_system.payment WHERE method = 'bank_transfer' AND status = 'pending' ORDER BY id LIMIT 1;
SELECT t_call('complete deposit', format('SELECT order_system.complete_order(%s)', order_id))
  FROM order_system.payment WHERE method = 'bank_transfer' AND status = 'captured' ORDER BY id LIMIT 1;
SELECT t_call('confirm flash', format($$SELECT order_system.confirm_payment(%s, 'gw-f')$$, id))
  FROM order_system.orders WHERE id IN (SELECT order_id FROM order_system.order_line WHERE bucket IS NOT NULL)
 ORDER BY id LIMIT 1;
SELECT t_call('cancel flash', format($$SELECT order_system.cancel_order(%s, 'flash cancel')$$, id))
  FROM order_system.orders WHERE id IN (SELECT order_id FROM order_system.order_line WHERE bucket IS NOT NULL)
   AND status = 'pending_payment' ORDER BY id LIMIT 1;
SELECT t_call('refund flash', format($$SELECT order_system.refund_order(%s, 'flash refund')$$, id))
  FROM order_system.orders WHERE id IN (SELECT order_id FROM order_system.order_line WHERE bucket IS NOT NULL)
   AND status = 'paid' ORDER BY id LIMIT 1;
SELECT t_call('confirm twice', $$SELECT order_system.confirm_payment(1, 'gw-1')$$);
-- the rest of the pending card orders time out
UPDATE order_system.payment SET expires_at = now() - interval '1 second'
 WHERE status = 'pending' AND method IN ('card', 'points_card');
SELECT t_call('expire', 'SELECT order_system.expire_orders(100)');
SELECT t_call('end flash sale', 'SELECT order_system.set_flash_sale(6, 0)');
SELECT t_call('points after', 'SELECT string_agg(points_balance::text, '','' ORDER BY id) FROM order_system.member');
SELECT t_call('invariants', 'SELECT count(*) FROM order_system.check_invariants()');
};

for my $db (sort keys %setting)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql('postgres',
		"ALTER DATABASE $db SET order_system.direct_writes = $setting{$db}");
	$node->safe_psql($db, $setup);
	$node->safe_psql($db, $workload);
	is($node->safe_psql($db, q{
			LOAD 'order_system';
			SELECT setting || ' ' || context FROM pg_settings WHERE name = 'order_system.direct_writes'
		}),
		"$setting{$db} superuser", "$db: the workload ran with direct_writes $setting{$db}");

	# Which path wrote: a supplied column of another type is refused by the
	# plan-free writer (42804) and converted by the INSERT statement.
	is($node->safe_psql($db, q{
		BEGIN;
		ALTER TABLE order_system.orders ALTER COLUMN request_fingerprint TYPE numeric;
		DO $$ BEGIN PERFORM t_place('retyped', 1, '[{"product_id": 1, "quantity": 1}]', 'card'); END $$;
		SELECT CASE WHEN result LIKE '(%' THEN 'placed' ELSE left(result, 5) END
		  FROM t_outcome WHERE label = 'retyped';
		ROLLBACK;
	}), $setting{$db} eq 'on' ? '42804' : 'placed',
		"$db: the rows were written " . ($setting{$db} eq 'on' ? 'without a plan' : 'by SQL statements'));
}

# The workload did what it is meant to: orders in every state, every
# method, bucket lines, refusals and a replay.
my $summary = q{
SELECT (SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM order_system.orders),
	   (SELECT string_agg(DISTINCT payment_method, ',' ORDER BY payment_method) FROM order_system.orders),
	   (SELECT count(*) FROM order_system.order_line WHERE bucket IS NOT NULL) > 0,
	   (SELECT count(*) FROM t_outcome WHERE result ~ '^[0-9A-Z]{5} ') >= 6,
	   (SELECT count(*) FROM t_outcome WHERE label = 'key replay' AND result LIKE '%,t)'),
	   (SELECT count(*) FROM t_log) > 50
};
is($node->safe_psql('direct_on', $summary),
	'cancelled,completed,expired,paid,pending_payment,refunded|bank_transfer,card,points,points_card|t|t|1|t',
	'the workload reaches every order state, method, a bucket line, refusals and a replay');

# Every table of the extension, the outcomes and the trigger log.
my @tables = split /\n/, $node->safe_psql('direct_on', q{
	SELECT c.oid::regclass FROM pg_class c
	 WHERE c.relnamespace = 'order_system'::regnamespace AND c.relkind = 'r' ORDER BY 1::text
});
cmp_ok(scalar(@tables), '>=', 10, 'the extension\'s tables are listed');
for my $t (@tables, 't_outcome', 't_log')
{
	my $q = "SELECT t_dump('$t')";
	is($node->safe_psql('direct_off', $q), $node->safe_psql('direct_on', $q),
		"$t: the same rows with direct_writes off as on");
}

$node->stop;
done_testing();
