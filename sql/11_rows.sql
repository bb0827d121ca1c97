-- Rows written without a plan (src/rows.c): an order's rows and every event
-- go into their tables as an INSERT would put them there.  The columns the
-- writer does not supply get the table's defaults, row triggers fire, and a
-- change to a table is picked up by the next write in the same session.
\set VERBOSITY terse
SELECT regress.restart_ids(110000);
SELECT order_system.create_member('Rows', 'rows@example.com', 0) AS m \gset
SELECT order_system.create_product('RW-1', 'Row item', 700, 'KRW', 100) AS p \gset

-- Defaults: timestamps, points_earned, the outbox's id and transaction.
BEGIN;
SELECT order_id AS o1 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card') \gset
SELECT created_at = now() AS created_now, updated_at = now() AS updated_now,
	   points_earned, status_reason IS NULL AS no_reason
  FROM order_system.orders WHERE id = :o1;
SELECT created_at = now() AS created_now, gateway_ref IS NULL AS no_gateway_ref, status
  FROM order_system.payment WHERE order_id = :o1;
SELECT event_type, tx_id = pg_current_xact_id() AS this_transaction,
	   created_at = now() AS created_now,
	   id = (SELECT max(id) FROM order_system.outbox WHERE aggregate_id = :o1) AS last_id
  FROM order_system.outbox WHERE aggregate_id = :o1 AND aggregate_type = 'order'
 ORDER BY id DESC LIMIT 1;
COMMIT;
SELECT count(DISTINCT id) = count(*) AS ids_distinct, min(id) > 0 AS ids_from_sequence
  FROM order_system.outbox;

-- A table gains a column with a default and a row trigger, in this session
-- after its first write: the next order's row gets both.
CREATE TABLE regress.seen_orders (order_id bigint, note text);
CREATE FUNCTION regress.remember_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress.seen_orders VALUES (NEW.id, NEW.note);
	RETURN NULL;
END
$$;
ALTER TABLE order_system.orders ADD COLUMN note text DEFAULT 'written by rows.c';
CREATE TRIGGER remember AFTER INSERT ON order_system.orders
	FOR EACH ROW EXECUTE FUNCTION regress.remember_order();
SELECT order_id AS o2 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT note FROM order_system.orders WHERE id = :o2;
SELECT order_id = :o2 AS trigger_saw_it, note FROM regress.seen_orders;

-- A BEFORE ROW trigger that refuses the row skips it, as it would an INSERT's.
CREATE FUNCTION regress.skip_line() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER skip BEFORE INSERT ON order_system.order_line
	FOR EACH ROW EXECUTE FUNCTION regress.skip_line();
SELECT order_id AS o3 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT count(*) AS lines_of_o3 FROM order_system.order_line WHERE order_id = :o3;
DROP TRIGGER skip ON order_system.order_line;
DROP TRIGGER remember ON order_system.orders;
ALTER TABLE order_system.orders DROP COLUMN note;

-- The stock update fires the product's row triggers, as an UPDATE would.
CREATE TABLE regress.stock_moves (product_id bigint, available_before bigint, available_after bigint);
CREATE FUNCTION regress.remember_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress.stock_moves VALUES (NEW.id, OLD.stock_available, NEW.stock_available);
	RETURN NULL;
END
$$;
CREATE TRIGGER remember AFTER UPDATE ON order_system.product
	FOR EACH ROW EXECUTE FUNCTION regress.remember_move();
SELECT status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 3}]', :p)::jsonb, 'card');
SELECT product_id = :p AS this_product, available_before - available_after AS taken
  FROM regress.stock_moves;
DROP TRIGGER remember ON order_system.product;
-- A BEFORE UPDATE trigger that skips the row: the line is not reserved, so
-- the order fails (nothing written), as it would after a skipped UPDATE.
CREATE TRIGGER skip BEFORE UPDATE ON order_system.product
	FOR EACH ROW EXECUTE FUNCTION regress.skip_line();
SELECT regress.counts() AS before_skip \gset
SELECT left(regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)), 5) AS skipped_stock_update;
SELECT regress.counts() = :'before_skip' AS nothing_written;
DROP TRIGGER skip ON order_system.product;

-- A domain check the writer's values must pass: a stricter rule on the
-- payment status, added now, refuses the next order (nothing written).
SELECT regress.counts() AS before \gset
ALTER DOMAIN order_system.payment_status ADD CONSTRAINT not_pending
	CHECK (VALUE <> 'pending') NOT VALID;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)) AS refused_by_domain;
ALTER DOMAIN order_system.payment_status DROP CONSTRAINT not_pending;
SELECT regress.counts() = :'before' AS nothing_written;

-- CHECK constraints are planned once per session and table: one added
-- now refuses the next order (the line's, inserted; the product's, on the
-- stock update), and once dropped, orders go through again.
ALTER TABLE order_system.order_line ADD CONSTRAINT at_most_two CHECK (quantity <= 2) NOT VALID;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 3}]', 'card')$$, :m, :p)) AS refused_by_line_check;
SELECT order_id IS NOT NULL AS two_allowed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card');
ALTER TABLE order_system.order_line DROP CONSTRAINT at_most_two;
SELECT regress.counts() AS before \gset
SELECT stock_reserved AS reserved FROM order_system.product WHERE id = :p \gset
ALTER TABLE order_system.product ADD CONSTRAINT keep_some
	CHECK (stock_reserved < :reserved + 5) NOT VALID;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 5}]', 'card')$$, :m, :p)) AS refused_by_product_check;
SELECT regress.counts() = :'before' AS nothing_written;
ALTER TABLE order_system.product DROP CONSTRAINT keep_some;
SELECT order_id IS NOT NULL AS three_allowed FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 3}]', :p)::jsonb, 'card');
SELECT regress.counts() AS before \gset

-- A column the writer supplies was renamed: a clear error, no write.
ALTER TABLE order_system.outbox RENAME COLUMN aggregate_id TO aggregate_key;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)) AS renamed_column;
ALTER TABLE order_system.outbox RENAME COLUMN aggregate_key TO aggregate_id;
SELECT regress.counts() = :'before' AS nothing_written;

-- A supplied column of another type: 42804, and again on the next call
-- (nothing is kept from a failed look-up).
ALTER TABLE order_system.orders ALTER COLUMN request_fingerprint TYPE numeric;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)) AS retyped_column;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)) AS retyped_column_again;
ALTER TABLE order_system.orders ALTER COLUMN request_fingerprint TYPE bigint;
SELECT regress.counts() = :'before' AS nothing_written;
SELECT order_id IS NOT NULL AS placed_again FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card');

-- The checker sees what the skipping trigger did, and nothing else.
SELECT * FROM order_system.check_invariants();
DROP TABLE regress.seen_orders, regress.stock_moves;
DROP FUNCTION regress.remember_move();
DROP FUNCTION regress.remember_order();
DROP FUNCTION regress.skip_line();
