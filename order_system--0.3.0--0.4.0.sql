/* order_system--0.3.0--0.4.0.sql: the rules across columns as C calls.
 *
 * PostgreSQL reads a table's CHECK constraints back from their stored node
 * text in every statement that writes the table (bench/README.md).  The
 * four rules that span columns stay constraints, with the same names and
 * the same SQLSTATE (23514) when broken, but each is now one call of a C
 * function with the columns as arguments, whose text is half as long as the
 * sum or CASE it replaces: place_order reads product_stock_adds_up once per
 * line and payment_parts_add_up once per order. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.4.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

-- adds_up(part, ..., total): the parts add up to the total (src/rules.c).
-- Typed as the columns are (order_system.amount), so the constraint holds
-- the bare columns, no casts.
CREATE FUNCTION order_system.adds_up(part1 order_system.amount, part2 order_system.amount,
									 total order_system.amount)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_adds_up';
CREATE FUNCTION order_system.adds_up(part1 order_system.amount, part2 order_system.amount,
									 part3 order_system.amount, total bigint)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_adds_up';
CREATE FUNCTION order_system.adds_up(part1 order_system.amount, part2 order_system.amount,
									 part3 order_system.amount, part4 order_system.amount,
									 total order_system.amount)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_adds_up';
COMMENT ON FUNCTION order_system.adds_up(order_system.amount, order_system.amount, order_system.amount)
	IS 'CHECK rule: the first arguments add up to the last (payment_parts_add_up).';
COMMENT ON FUNCTION order_system.adds_up(order_system.amount, order_system.amount, order_system.amount, bigint)
	IS 'CHECK rule: the first arguments add up to the last (stock_bucket_adds_up).';
COMMENT ON FUNCTION order_system.adds_up(order_system.amount, order_system.amount, order_system.amount,
										 order_system.amount, order_system.amount)
	IS 'CHECK rule: the first arguments add up to the last (product_stock_adds_up).';

-- ledger_delta_ok(kind, delta): spend < 0, adjust <> 0, earn and refund > 0.
CREATE FUNCTION order_system.ledger_delta_ok(kind order_system.ledger_kind, delta bigint)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_ledger_delta_ok_sql';
COMMENT ON FUNCTION order_system.ledger_delta_ok(order_system.ledger_kind, bigint)
	IS 'CHECK rule: the sign of a points ledger entry suits its kind (points_ledger_sign).';

-- The executor checks EXECUTE on every function a constraint calls, so a
-- role writing these tables itself needs it: order_system_admin, as for
-- refuse_delete().  The extension's functions write as their owner.
REVOKE ALL ON FUNCTION
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount),
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount, bigint),
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount,
						 order_system.amount, order_system.amount),
	order_system.ledger_delta_ok(order_system.ledger_kind, bigint)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount),
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount, bigint),
	order_system.adds_up(order_system.amount, order_system.amount, order_system.amount,
						 order_system.amount, order_system.amount),
	order_system.ledger_delta_ok(order_system.ledger_kind, bigint)
	TO order_system_admin;

ALTER TABLE order_system.product
	DROP CONSTRAINT product_stock_adds_up,
	ADD CONSTRAINT product_stock_adds_up CHECK (order_system.adds_up(stock_available, stock_reserved,
																	  stock_sold, stock_bucketed, stock_received));

ALTER TABLE order_system.payment
	DROP CONSTRAINT payment_parts_add_up,
	ADD CONSTRAINT payment_parts_add_up CHECK (order_system.adds_up(points_amount, external_amount, amount));

ALTER TABLE order_system.stock_bucket
	DROP CONSTRAINT stock_bucket_adds_up,
	ADD CONSTRAINT stock_bucket_adds_up CHECK (order_system.adds_up(available, reserved, sold, allotted));

ALTER TABLE order_system.points_ledger
	DROP CONSTRAINT points_ledger_sign,
	ADD CONSTRAINT points_ledger_sign CHECK (order_system.ledger_delta_ok(kind, delta));
