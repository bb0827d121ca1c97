-- A statement the store runs through SPI finishes, so the statement-level
-- triggers a user puts on the extension's tables fire for every change:
-- a points change (adjust_points, a points payment) and a flash-sale
-- bucket's reservation, as they do for the rows' own triggers.
\set VERBOSITY terse
SELECT regress.restart_ids(190000);
SELECT order_system.create_member('Stmt', 'stmt@example.com', 5000) AS m \gset
SELECT order_system.create_product('ST-1', 'Bucketed', 1000, 'KRW', 10) AS p \gset
SELECT order_system.set_flash_sale(:p, 2);
CREATE TABLE regress.fired (tbl text, level text);
CREATE FUNCTION regress.note_statement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress.fired VALUES (TG_TABLE_NAME, TG_LEVEL);
	RETURN NULL;
END
$$;
CREATE TRIGGER stmt_member AFTER UPDATE ON order_system.member
	FOR EACH STATEMENT EXECUTE FUNCTION regress.note_statement();
CREATE TRIGGER row_member AFTER UPDATE OF points_balance ON order_system.member
	FOR EACH ROW EXECUTE FUNCTION regress.note_statement();
CREATE TRIGGER stmt_bucket AFTER UPDATE ON order_system.stock_bucket
	FOR EACH STATEMENT EXECUTE FUNCTION regress.note_statement();
CREATE TRIGGER row_bucket AFTER UPDATE ON order_system.stock_bucket
	FOR EACH ROW EXECUTE FUNCTION regress.note_statement();

-- adjust_points: one row changed, one statement.
SELECT order_system.adjust_points(:m, 100, 'goodwill');
SELECT tbl, level, count(*) FROM regress.fired GROUP BY 1, 2 ORDER BY 1, 2;
TRUNCATE regress.fired;

-- A points payment of a flash-sale line: every statement fires its
-- statement trigger (member: the order token, with the writer's SQL
-- statement since the table has one, and the points spend; the bucket: its
-- reservation and, paid at once, its sale).
SELECT status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'points');
SELECT tbl, level, count(*) FROM regress.fired
 WHERE tbl = 'stock_bucket' OR level = 'STATEMENT' OR tbl = 'member'
 GROUP BY 1, 2 ORDER BY 1, 2;

DROP TRIGGER stmt_member ON order_system.member;
DROP TRIGGER row_member ON order_system.member;
DROP TRIGGER stmt_bucket ON order_system.stock_bucket;
DROP TRIGGER row_bucket ON order_system.stock_bucket;
DROP TABLE regress.fired;
DROP FUNCTION regress.note_statement();
SELECT * FROM order_system.check_invariants();
