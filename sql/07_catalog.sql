-- The domain core as exported to SQL: order_transitions(), error_codes(),
-- virtual_account_valid(); the orders_status_guard trigger that holds
-- direct table writes to the state machine; check_invariants(), healthy
-- after every file before this one, and catching each kind of corruption
-- (made inside a transaction that is rolled back).
\set VERBOSITY terse
SELECT regress.restart_ids(70000);

----------------------------------------------------------------- the state machine
SELECT from_status, event, to_status, outcome FROM order_system.order_transitions();
SELECT outcome, count(*) FROM order_system.order_transitions() GROUP BY outcome ORDER BY outcome;
-- Every state appears, and only the four final ones have no move out.
SELECT from_status, bool_or(outcome = 'move') AS can_move
  FROM order_system.order_transitions() GROUP BY from_status ORDER BY from_status;

----------------------------------------------------------------- the error table
SELECT name, sqlstate, message FROM order_system.error_codes();
SELECT count(*) = count(DISTINCT name) AS names_unique FROM order_system.error_codes();

----------------------------------------------------------------- virtual accounts
SELECT ref, order_system.virtual_account_valid(ref) AS valid FROM (VALUES
	('VA0000000000000018'),		-- order 1
	('VA0000000000000422'),		-- order 42
	('VA9999999999999995'),		-- the largest order id that fits
	('VA0000000000000019'),		-- wrong check digit
	('VA0000000000000428'),		-- wrong check digit
	('VA0000000000004220'),		-- digits swapped
	('va0000000000000422'),
	('VB0000000000000422'),
	('VA000000000000042'),
	('VA00000000000004222'),
	('VA00000000000004X2'),
	('VA-000000000000422'),
	(' VA0000000000000422'),
	('VA０000000000000422'),
	('VA'),
	('')) t(ref);

----------------------------------------------------------------- the status guard
SELECT order_system.create_member('Catalog', 'catalog@example.com', 10000) AS m \gset
SELECT order_system.create_product('CAT-A', 'Catalog A', 1000, 'KRW', 100) AS a \gset
SELECT order_id AS pending FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SELECT order_id AS paid FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :a)::jsonb, 'points') \gset
SELECT order_id AS done FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 3}]', :a)::jsonb, 'card') \gset
SELECT order_system.confirm_payment(:done), order_system.complete_order(:done);
SELECT regress.counts() AS before \gset
-- A direct UPDATE may take only an edge of the state machine.
SELECT from_status, to_status, regress.try(format(
	'WITH u AS (UPDATE order_system.orders SET status = %L WHERE id = %s RETURNING status) SELECT status FROM u',
	to_status, id)) AS result
  FROM (VALUES (:pending, 'pending_payment', 'completed'), (:pending, 'pending_payment', 'refunded'),
			   (:paid, 'paid', 'pending_payment'), (:paid, 'paid', 'cancelled'), (:paid, 'paid', 'expired'),
			   (:done, 'completed', 'paid'), (:done, 'completed', 'refunded'),
			   (:pending, 'pending_payment', 'lost')) t(id, from_status, to_status);
SELECT regress.counts() = :'before' AS nothing_written;
SELECT id, status FROM order_system.orders WHERE id IN (:pending, :paid, :done) ORDER BY id;
-- Edges and same-status writes pass the guard (undone here: they skip the saga).
BEGIN;
UPDATE order_system.orders SET status = 'pending_payment' WHERE id = :pending;
UPDATE order_system.orders SET status = 'expired' WHERE id = :pending;
UPDATE order_system.orders SET status = 'refunded' WHERE id = :paid;
SELECT id, status FROM order_system.orders WHERE id IN (:pending, :paid) ORDER BY id;
ROLLBACK;

----------------------------------------------------------------- invariants
-- Healthy after every file before this one.
SELECT * FROM order_system.check_invariants();

-- Each corruption below is found; each is undone before the next.
BEGIN;
SAVEPOINT s;
-- Stock held back from sale with no order reserving it.
UPDATE order_system.product SET stock_available = stock_available - 1, stock_reserved = stock_reserved + 1 WHERE id = :a;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- A balance changed without its ledger row.
UPDATE order_system.member SET points_balance = points_balance + 5 WHERE id = :m;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- A spend row lost: the balance and the order's points both disagree.
DELETE FROM order_system.points_ledger WHERE order_id = :paid AND kind = 'spend';
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- Earned points recorded on the order but never credited.
DELETE FROM order_system.points_ledger WHERE order_id = :done AND kind = 'earn';
UPDATE order_system.member SET points_balance = points_balance - 30 WHERE id = :m;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- A line whose amount is not quantity x price, so the total disagrees too.
UPDATE order_system.order_line SET amount = amount + 1 WHERE order_id = :pending;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- A payment settled without its order (the guard does not watch payments).
UPDATE order_system.payment SET status = 'captured' WHERE order_id = :pending;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- An order without a payment.
DELETE FROM order_system.payment WHERE order_id = :pending;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- An order whose order.placed event is missing.
DELETE FROM order_system.outbox WHERE aggregate_type = 'order' AND aggregate_id = :pending AND event_type = 'order.placed';
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- A status moved by hand with the guard off (replica mode skips triggers):
-- the payment, the stock and the points no longer match the order.
SET LOCAL session_replication_role = replica;
UPDATE order_system.orders SET status = 'cancelled' WHERE id = :paid;
RESET session_replication_role;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- What the domains and CHECK constraints keep out, with them dropped.
ALTER TABLE order_system.product DROP CONSTRAINT product_stock_adds_up;
ALTER DOMAIN order_system.amount DROP CONSTRAINT amount_check;
UPDATE order_system.product SET stock_available = -1 WHERE id = :a;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
ALTER DOMAIN order_system.amount DROP CONSTRAINT amount_check;
INSERT INTO order_system.points_ledger (member_id, kind, delta) VALUES (:m, 'adjust', -100000);
UPDATE order_system.member SET points_balance = points_balance - 100000 WHERE id = :m;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
ALTER DOMAIN order_system.order_status DROP CONSTRAINT order_status_check;
SET LOCAL session_replication_role = replica;
UPDATE order_system.orders SET status = 'lost' WHERE id = :done;
RESET session_replication_role;
SELECT * FROM order_system.check_invariants() ORDER BY 1, 2;
ROLLBACK TO s;
-- References that point nowhere (no foreign keys: the code writes them
-- from rows it holds, and referenced rows are never deleted).
SET LOCAL session_replication_role = replica;
DELETE FROM order_system.member WHERE id = :m;
DELETE FROM order_system.product WHERE id = :a;
RESET session_replication_role;
SELECT invariant, subject, detail FROM order_system.check_invariants()
 WHERE invariant LIKE '%exists' ORDER BY 2, 3;
ROLLBACK;

-- Referenced rows are never deleted, not even by a superuser.
DELETE FROM order_system.member WHERE id = :m;
DELETE FROM order_system.product WHERE false;
TRUNCATE order_system.orders CASCADE;
DELETE FROM order_system.payment_method WHERE name = 'card';

-- All undone.
SELECT * FROM order_system.check_invariants();
SELECT id, status FROM order_system.orders WHERE id IN (:pending, :paid, :done) ORDER BY id;
