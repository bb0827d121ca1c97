-- check_invariants() notices rows that are gone: deleted behind the API's
-- back (as a superuser, with session_replication_role = replica so that
-- the never-deleted guards do not fire), or missing from a restore.  Each
-- deletion names its own invariant; everything is rolled back.
\set VERBOSITY terse
SELECT regress.restart_ids(170000);

SELECT order_system.create_member('Missing', 'missing@example.com', 5000) AS m \gset
SELECT order_system.create_product('MISS-1', 'Missing one', 1000, 'KRW', 10) AS a \gset
SELECT order_system.create_product('MISS-2', 'Missing two', 500, 'KRW', 10) AS b \gset
SELECT order_id AS card FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 2}]', :a, :b)::jsonb,
	'card') \gset
SELECT order_system.confirm_payment(:card);
SELECT order_id AS pts FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'points') \gset

-- Healthy to begin with (what earlier files left behind is theirs).
SELECT * FROM order_system.check_invariants() WHERE subject ~ '\m17\d{4}\M';

BEGIN;
SET LOCAL session_replication_role = replica;
SAVEPOINT s;
-- A member gone: its orders and ledger rows point nowhere.
DELETE FROM order_system.member WHERE id = :m;
SELECT invariant, subject, detail FROM order_system.check_invariants()
 WHERE invariant IN ('order_member_exists', 'ledger_member_exists') ORDER BY 1, 2;
ROLLBACK TO s;
-- An order gone: its lines and its payment point nowhere.
DELETE FROM order_system.orders WHERE id = :card;
SELECT invariant, subject, detail FROM order_system.check_invariants()
 WHERE invariant IN ('order_line_order_exists', 'payment_order_exists') ORDER BY 1, 2;
ROLLBACK TO s;
-- A product gone: the lines that sold it point nowhere.
DELETE FROM order_system.product WHERE id = :b;
SELECT invariant, subject, detail FROM order_system.check_invariants()
 WHERE invariant = 'order_line_product_exists' ORDER BY 1, 2;
ROLLBACK TO s;
-- Only the ledger rows of a member gone: the member's balance no longer
-- matches, but nothing points nowhere.
DELETE FROM order_system.points_ledger WHERE member_id = :m;
SELECT invariant, subject FROM order_system.check_invariants()
 WHERE invariant LIKE '%exists' OR invariant LIKE 'points%' ORDER BY 1, 2;
ROLLBACK TO s;
-- Every member-scoped table emptied, as a dump that row-level security
-- filtered would restore it: the products' stock and the outbox remain.
DELETE FROM order_system.points_ledger;
DELETE FROM order_system.payment;
DELETE FROM order_system.order_line;
DELETE FROM order_system.orders;
DELETE FROM order_system.member;
SELECT invariant, count(*) FROM order_system.check_invariants()
 WHERE subject LIKE 'product 17%' GROUP BY 1 ORDER BY 1;
ROLLBACK;

-- All undone.
SELECT * FROM order_system.check_invariants() WHERE subject ~ '\m17\d{4}\M';
