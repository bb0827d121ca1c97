-- What the plan-free writer (src/store/rows.c) takes from each server
-- version's own executor API (src/compat.h), shown the same on every
-- supported major version: the columns an update changes reach the row
-- triggers (from 16 on through the writer's RTEPermissionInfo), and a CHECK
-- constraint counts only where the server enforces it (18: NOT ENFORCED).
\set VERBOSITY terse
SELECT regress.restart_ids(140000);
SELECT order_system.create_member('Versions', 'versions@example.com', 0) AS m \gset
SELECT order_system.create_product('VR-1', 'Version item', 500, 'KRW', 50) AS p \gset

-- A trigger on the columns the stock update changes fires; one on a column
-- it does not change stays quiet, as for "UPDATE product SET stock_... ".
CREATE TABLE regress.fired (name text, product_id bigint);
CREATE FUNCTION regress.note_fired() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress.fired VALUES (TG_NAME, NEW.id);
	RETURN NULL;
END
$$;
CREATE TRIGGER on_reserved AFTER UPDATE OF stock_reserved ON order_system.product
	FOR EACH ROW EXECUTE FUNCTION regress.note_fired();
CREATE TRIGGER on_price AFTER UPDATE OF price ON order_system.product
	FOR EACH ROW EXECUTE FUNCTION regress.note_fired();
SELECT status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card');
SELECT name, product_id = :p AS this_product FROM regress.fired ORDER BY name;
DROP TRIGGER on_reserved ON order_system.product;
DROP TRIGGER on_price ON order_system.product;
-- A member's order tokens are updated the same way.
CREATE TRIGGER on_tokens AFTER UPDATE OF rate_tokens ON order_system.member
	FOR EACH ROW EXECUTE FUNCTION regress.note_fired();
CREATE TRIGGER on_name AFTER UPDATE OF name ON order_system.member
	FOR EACH ROW EXECUTE FUNCTION regress.note_fired();
TRUNCATE regress.fired;
SELECT status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card');
SELECT name FROM regress.fired ORDER BY name;
DROP TRIGGER on_tokens ON order_system.member;
DROP TRIGGER on_name ON order_system.member;

-- A CHECK constraint the next order would fail: refused, nothing written.
-- Where the server has NOT ENFORCED (18 on), the same constraint declared
-- so is skipped, as an INSERT skips it; before 18 there is no such
-- constraint and the order goes through as well.
SELECT regress.counts() AS before \gset
ALTER TABLE order_system.order_line ADD CONSTRAINT one_each CHECK (quantity = 1) NOT VALID;
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 2}]', 'card')$$, :m, :p)) AS refused_by_check;
SELECT regress.counts() = :'before' AS nothing_written;
ALTER TABLE order_system.order_line DROP CONSTRAINT one_each;
DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 180000 THEN
		EXECUTE 'ALTER TABLE order_system.order_line ADD CONSTRAINT one_each'
			' CHECK (quantity = 1) NOT ENFORCED';
	END IF;
END
$$;
SELECT order_id IS NOT NULL AS not_enforced_skipped FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card');
DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 180000 THEN
		EXECUTE 'ALTER TABLE order_system.order_line DROP CONSTRAINT one_each';
	END IF;
END
$$;

-- Three orders went through: 2 + 1 + 2 units reserved, no more.
SELECT stock_available, stock_reserved FROM order_system.product WHERE id = :p;
SELECT count(*) AS invariant_breaks FROM order_system.check_invariants()
 WHERE subject IN ('product ' || :p, 'member ' || :m);
DROP TABLE regress.fired;
DROP FUNCTION regress.note_fired();
