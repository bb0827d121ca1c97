/* order_system--0.3.0--0.4.0.sql: the rules across columns as C calls.
 *
 * PostgreSQL reads a table's CHECK constraints back from their stored node
 * text in every statement that writes the table (bench/README.md).  The
 * four rules that span columns stay constraints, with the same names and
 * the same SQLSTATE (23514) when broken, but each is now one call of a C
 * function, with the whole row (the sums) or the two columns (the ledger's
 * sign) as arguments, whose text is a fifth to a half of the sum or CASE it
 * replaces: place_order reads product_stock_adds_up once per line and
 * payment_parts_add_up once per order. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.4.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

-- The sums take the whole row (src/rules.c): a call with one argument is a
-- fifth of the text of the sum.
CREATE FUNCTION order_system.stock_adds_up(product order_system.product)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_stock_adds_up';
COMMENT ON FUNCTION order_system.stock_adds_up(order_system.product)
	IS 'CHECK rule product_stock_adds_up: available + reserved + sold + bucketed = received.';
CREATE FUNCTION order_system.payment_adds_up(payment order_system.payment)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_payment_adds_up';
COMMENT ON FUNCTION order_system.payment_adds_up(order_system.payment)
	IS 'CHECK rule payment_parts_add_up: points part + external part = amount.';
CREATE FUNCTION order_system.bucket_adds_up(bucket order_system.stock_bucket)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_bucket_adds_up';
COMMENT ON FUNCTION order_system.bucket_adds_up(order_system.stock_bucket)
	IS 'CHECK rule stock_bucket_adds_up: available + reserved + sold = allotted.';

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
	order_system.stock_adds_up(order_system.product),
	order_system.payment_adds_up(order_system.payment),
	order_system.bucket_adds_up(order_system.stock_bucket),
	order_system.ledger_delta_ok(order_system.ledger_kind, bigint)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	order_system.stock_adds_up(order_system.product),
	order_system.payment_adds_up(order_system.payment),
	order_system.bucket_adds_up(order_system.stock_bucket),
	order_system.ledger_delta_ok(order_system.ledger_kind, bigint)
	TO order_system_admin;

ALTER TABLE order_system.product
	DROP CONSTRAINT product_stock_adds_up,
	ADD CONSTRAINT product_stock_adds_up CHECK (order_system.stock_adds_up(product));

ALTER TABLE order_system.payment
	DROP CONSTRAINT payment_parts_add_up,
	ADD CONSTRAINT payment_parts_add_up CHECK (order_system.payment_adds_up(payment));

ALTER TABLE order_system.stock_bucket
	DROP CONSTRAINT stock_bucket_adds_up,
	ADD CONSTRAINT stock_bucket_adds_up CHECK (order_system.bucket_adds_up(stock_bucket));

ALTER TABLE order_system.points_ledger
	DROP CONSTRAINT points_ledger_sign,
	ADD CONSTRAINT points_ledger_sign CHECK (order_system.ledger_delta_ok(kind, delta));
