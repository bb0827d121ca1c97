/* order_system--0.2.0--0.3.0.sql: a cheaper write path.
 *
 * Measured with callgrind on place_order (bench/README.md): PostgreSQL
 * re-reads every CHECK constraint of a table from its stored text and
 * re-plans it in every INSERT or UPDATE, which cost 39 % of place_order's
 * instructions, and foreign-key checks another 15 %.  So:
 *   - single-column rules become domains, whose checks the type cache keeps
 *     compiled; only the rules that span columns stay table constraints;
 *   - foreign keys go: every reference is written by the extension's own
 *     code from a row it read or locked in the same transaction, and no
 *     referenced row is ever deleted (a trigger refuses DELETE and
 *     TRUNCATE); check_invariants() reports any orphan instead;
 *   - indexes nothing reads go, and unique keys that are mostly NULL
 *     (idempotency keys, payment references) become partial. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.3.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

---------------------------------------------------------------- domains

CREATE DOMAIN order_system.amount AS bigint CHECK (VALUE >= 0);
COMMENT ON DOMAIN order_system.amount IS 'A non-negative count: money in minor units, points, stock.';
CREATE DOMAIN order_system.quantity AS bigint CHECK (VALUE > 0);
CREATE DOMAIN order_system.currency_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE DOMAIN order_system.order_status AS text
	CHECK (VALUE IN ('pending_payment', 'paid', 'completed', 'cancelled', 'expired', 'refunded'));
CREATE DOMAIN order_system.payment_status AS text
	CHECK (VALUE IN ('pending', 'captured', 'declined', 'voided', 'expired', 'refunded'));
CREATE DOMAIN order_system.ledger_kind AS text CHECK (VALUE IN ('earn', 'spend', 'refund', 'adjust'));
CREATE DOMAIN order_system.name_text AS text CHECK (length(VALUE) BETWEEN 1 AND 200);
CREATE DOMAIN order_system.sku_text AS text CHECK (length(VALUE) BETWEEN 1 AND 64);
CREATE DOMAIN order_system.email_text AS text CHECK (length(VALUE) BETWEEN 3 AND 320);
CREATE DOMAIN order_system.note_text AS text CHECK (length(VALUE) <= 1000);
CREATE DOMAIN order_system.reference_text AS text CHECK (length(VALUE) BETWEEN 1 AND 200);
CREATE DOMAIN order_system.gateway_ref_text AS text CHECK (length(VALUE) <= 200);
CREATE DOMAIN order_system.key_text AS text CHECK (length(VALUE) BETWEEN 1 AND 255);
CREATE DOMAIN order_system.bucket_count AS smallint CHECK (VALUE BETWEEN 0 AND 64);
CREATE DOMAIN order_system.bucket_no AS smallint CHECK (VALUE BETWEEN 0 AND 63);

-- SQL-standard function bodies depend on the columns they read, and a
-- column they read cannot change its type: park them on a placeholder body
-- (same signature, privileges kept), retype, then give them their real
-- bodies again at the end of this script.
CREATE OR REPLACE FUNCTION order_system.get_member(member_id bigint)
RETURNS TABLE (id bigint, name text, email text, active boolean,
			   points_balance bigint, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'SELECT NULL::bigint, NULL::text, NULL::text, NULL::boolean, NULL::bigint, NULL::timestamptz WHERE false';

CREATE OR REPLACE FUNCTION order_system.get_product(product_id bigint)
RETURNS TABLE (id bigint, sku text, name text, price bigint, currency text, active boolean,
			   stock_available bigint, stock_reserved bigint, stock_sold bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'SELECT NULL::bigint, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::boolean,
		   NULL::bigint, NULL::bigint, NULL::bigint WHERE false';

CREATE OR REPLACE FUNCTION order_system.get_order(order_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'SELECT NULL::jsonb';

CREATE OR REPLACE FUNCTION order_system.points_history(member_id bigint)
RETURNS TABLE (id bigint, kind text, delta bigint, order_id bigint, reason text,
			   created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'SELECT NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::timestamptz WHERE false';

CREATE OR REPLACE FUNCTION order_system.check_invariants()
RETURNS TABLE (invariant text, subject text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'SELECT NULL::text, NULL::text, NULL::text WHERE false';

-- The status guard fires on UPDATE OF status, which also pins the column.
DROP TRIGGER orders_status_guard ON order_system.orders;

ALTER TABLE order_system.member
	DROP CONSTRAINT member_name_check,
	DROP CONSTRAINT member_email_check,
	DROP CONSTRAINT member_points_balance_check,
	ALTER name TYPE order_system.name_text,
	ALTER email TYPE order_system.email_text,
	ALTER points_balance TYPE order_system.amount;

ALTER TABLE order_system.product
	DROP CONSTRAINT product_sku_check,
	DROP CONSTRAINT product_name_check,
	DROP CONSTRAINT product_price_check,
	DROP CONSTRAINT product_currency_check,
	DROP CONSTRAINT product_stock_available_check,
	DROP CONSTRAINT product_stock_reserved_check,
	DROP CONSTRAINT product_stock_sold_check,
	DROP CONSTRAINT product_stock_received_check,
	DROP CONSTRAINT product_stock_bucketed_check,
	DROP CONSTRAINT product_flash_buckets_check,
	ALTER sku TYPE order_system.sku_text,
	ALTER name TYPE order_system.name_text,
	ALTER price TYPE order_system.amount,
	ALTER currency TYPE order_system.currency_code,
	ALTER stock_available TYPE order_system.amount,
	ALTER stock_reserved TYPE order_system.amount,
	ALTER stock_sold TYPE order_system.amount,
	ALTER stock_received TYPE order_system.amount,
	ALTER stock_bucketed TYPE order_system.amount,
	ALTER flash_buckets TYPE order_system.bucket_count;

ALTER TABLE order_system.payment_method
	DROP CONSTRAINT payment_method_description_check,
	ALTER description TYPE order_system.note_text;

ALTER TABLE order_system.orders
	DROP CONSTRAINT orders_status_check,
	DROP CONSTRAINT orders_status_reason_check,
	DROP CONSTRAINT orders_currency_check,
	DROP CONSTRAINT orders_total_amount_check,
	DROP CONSTRAINT orders_idempotency_key_check,
	DROP CONSTRAINT orders_points_earned_check,
	ALTER status TYPE order_system.order_status,
	ALTER status_reason TYPE order_system.note_text,
	ALTER currency TYPE order_system.currency_code,
	ALTER total_amount TYPE order_system.amount,
	ALTER idempotency_key TYPE order_system.key_text,
	ALTER points_earned TYPE order_system.amount;

ALTER TABLE order_system.order_line
	DROP CONSTRAINT order_line_quantity_check,
	DROP CONSTRAINT order_line_unit_price_check,
	DROP CONSTRAINT order_line_amount_check,
	ALTER quantity TYPE order_system.quantity,
	ALTER unit_price TYPE order_system.amount,
	ALTER amount TYPE order_system.amount;

ALTER TABLE order_system.payment
	DROP CONSTRAINT payment_amount_check,
	DROP CONSTRAINT payment_points_amount_check,
	DROP CONSTRAINT payment_external_amount_check,
	DROP CONSTRAINT payment_status_check,
	DROP CONSTRAINT payment_reference_check,
	DROP CONSTRAINT payment_gateway_ref_check,
	ALTER amount TYPE order_system.amount,
	ALTER points_amount TYPE order_system.amount,
	ALTER external_amount TYPE order_system.amount,
	ALTER status TYPE order_system.payment_status,
	ALTER reference TYPE order_system.reference_text,
	ALTER gateway_ref TYPE order_system.gateway_ref_text;

-- The sign rule and delta <> 0 become one constraint.
ALTER TABLE order_system.points_ledger
	DROP CONSTRAINT points_ledger_kind_check,
	DROP CONSTRAINT points_ledger_reason_check,
	DROP CONSTRAINT points_ledger_delta_check,
	DROP CONSTRAINT points_ledger_sign,
	ALTER kind TYPE order_system.ledger_kind,
	ALTER reason TYPE order_system.note_text,
	ADD CONSTRAINT points_ledger_sign CHECK (CASE kind WHEN 'spend' THEN delta < 0
													   WHEN 'adjust' THEN delta <> 0
													   ELSE delta > 0 END);

ALTER TABLE order_system.stock_bucket
	DROP CONSTRAINT stock_bucket_bucket_check,
	DROP CONSTRAINT stock_bucket_available_check,
	DROP CONSTRAINT stock_bucket_reserved_check,
	DROP CONSTRAINT stock_bucket_sold_check,
	ALTER bucket TYPE order_system.bucket_no,
	ALTER available TYPE order_system.amount,
	ALTER reserved TYPE order_system.amount,
	ALTER sold TYPE order_system.amount;

CREATE TRIGGER orders_status_guard
	BEFORE UPDATE OF status ON order_system.orders
	FOR EACH ROW EXECUTE FUNCTION order_system.orders_status_guard();

---------------------------------------------------------------- references

ALTER TABLE order_system.orders
	DROP CONSTRAINT orders_member_id_fkey,
	DROP CONSTRAINT orders_payment_method_fkey;
ALTER TABLE order_system.order_line
	DROP CONSTRAINT order_line_order_id_fkey,
	DROP CONSTRAINT order_line_product_id_fkey;
ALTER TABLE order_system.payment
	DROP CONSTRAINT payment_order_id_fkey,
	DROP CONSTRAINT payment_method_fkey;
ALTER TABLE order_system.points_ledger
	DROP CONSTRAINT points_ledger_member_id_fkey,
	DROP CONSTRAINT points_ledger_order_id_fkey;

-- Members, products, orders and payment methods are deactivated, disabled
-- or moved to a final state, never deleted: other rows refer to them.
CREATE FUNCTION order_system.refuse_delete()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'rows of %.% are never deleted', TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = '23503',
			  HINT = 'Other rows refer to them: deactivate members and products, disable payment methods.';
END
$$;
REVOKE ALL ON FUNCTION order_system.refuse_delete() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.refuse_delete() TO order_system_admin;

CREATE TRIGGER member_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.member
	FOR EACH STATEMENT EXECUTE FUNCTION order_system.refuse_delete();
CREATE TRIGGER product_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.product
	FOR EACH STATEMENT EXECUTE FUNCTION order_system.refuse_delete();
CREATE TRIGGER orders_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.orders
	FOR EACH STATEMENT EXECUTE FUNCTION order_system.refuse_delete();
CREATE TRIGGER payment_method_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.payment_method
	FOR EACH STATEMENT EXECUTE FUNCTION order_system.refuse_delete();

---------------------------------------------------------------- indexes

-- Unread: expiry scans payment_pending_expiry_idx; consumers read the
-- outbox by tx_id; check_invariants() joins whole tables anyway.
DROP INDEX order_system.orders_pending_idx;
DROP INDEX order_system.order_line_product_idx;
DROP INDEX order_system.outbox_aggregate_idx;

-- Most orders have no idempotency key and most payments no reference.
ALTER TABLE order_system.orders DROP CONSTRAINT orders_idempotency_key;
CREATE UNIQUE INDEX orders_idempotency_key ON order_system.orders (member_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
ALTER TABLE order_system.payment DROP CONSTRAINT payment_reference_key;
CREATE UNIQUE INDEX payment_reference_key ON order_system.payment (reference)
	WHERE reference IS NOT NULL;

---------------------------------------------------------------- rate limit

-- Each member's token bucket for order_system.order_rate_limit (orders a
-- minute) and order_system.order_burst: what it held after the last order,
-- and when that was.  NULL: never limited yet, the bucket is full.
ALTER TABLE order_system.member
	ADD COLUMN rate_tokens float8,
	ADD COLUMN rate_at timestamptz;

---------------------------------------------------------------- consumers in C

-- A listener calls next_batch and ack_batch on every wake-up (200 a second
-- under load): in PL/pgSQL, with their helpers, they cost about 1.4 ms of
-- server CPU per wake-up; in C with kept plans a fraction of that
-- (src/consumers.c).  Same contract, same errors.
CREATE OR REPLACE FUNCTION order_system.cut_snapshot()
RETURNS pg_snapshot
AS 'MODULE_PATHNAME', 'os_cut_snapshot'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION order_system.next_batch(consumer text)
RETURNS TABLE (batch_id bigint, id bigint, tx_id xid8, event_type text, aggregate_type text,
			   aggregate_id bigint, payload jsonb, created_at timestamptz)
AS 'MODULE_PATHNAME', 'os_next_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION order_system.ack_batch(consumer text, batch_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_ack_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------- member-scoped access

-- A member's own login role: granted order_system_member and linked to the
-- member by set_member_login.  It may place and cancel orders for that
-- member only and reads only that member's rows (src/access.c).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_member') THEN
		CREATE ROLE order_system_member NOLOGIN;
	END IF;
END
$roles$;
GRANT USAGE ON SCHEMA order_system TO order_system_member;

CREATE TABLE order_system.member_login (
	login name PRIMARY KEY,
	member_id bigint NOT NULL UNIQUE
);
COMMENT ON TABLE order_system.member_login IS 'Login roles that act for one member each (set_member_login).';
SELECT pg_catalog.pg_extension_config_dump('order_system.member_login', '');
REVOKE ALL ON TABLE order_system.member_login FROM PUBLIC;
GRANT SELECT ON TABLE order_system.member_login TO order_system_admin;

-- current_member_id(): the member the calling role acts for; NULL when it
-- acts for any member (app, gateway, operators); 42501 for a member role
-- linked to nobody.
CREATE FUNCTION order_system.current_member_id()
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_current_member_id'
LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- set_member_login(login, member_id): the role acts for that member from
-- now on (and is granted order_system_member).  clear_member_login(login)
-- ends it (and revokes the grant).
CREATE FUNCTION order_system.check_member_login(login regrole)
RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	PERFORM order_system.require_arg(check_member_login.login, 'login');
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE oid = check_member_login.login;
	-- Row-level security is what keeps a member role to its rows: not for
	-- roles that bypass it, nor for the extension's roles or their members
	-- (linking the app role would quietly narrow it to one member).
	IF NOT FOUND OR r.rolsuper OR r.rolbypassrls OR r.rolname LIKE 'pg\_%'
	   OR r.rolname LIKE 'order\_system\_%'
	   OR pg_has_role(r.oid, 'order_system_admin', 'MEMBER') OR pg_has_role(r.oid, 'order_system_app', 'MEMBER')
	   OR pg_has_role(r.oid, 'order_system_gateway', 'MEMBER') THEN
		RAISE EXCEPTION 'role % cannot act for a member', check_member_login.login
			USING ERRCODE = '22023',
				  HINT = 'Use a login role of its own for each member: not a superuser, a role that bypasses row-level security, a predefined role or one of the extension''s roles.';
	END IF;
	RETURN r.rolname;
END
$$;

CREATE FUNCTION order_system.set_member_login(login regrole, member_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role_name name := order_system.check_member_login(set_member_login.login);
BEGIN
	PERFORM order_system.require_arg(set_member_login.member_id, 'member_id');
	IF NOT EXISTS (SELECT FROM order_system.member m WHERE m.id = set_member_login.member_id) THEN
		RAISE EXCEPTION 'member % not found', set_member_login.member_id USING ERRCODE = 'OS001';
	END IF;
	INSERT INTO order_system.member_login AS l VALUES (role_name, set_member_login.member_id)
	ON CONFLICT ON CONSTRAINT member_login_pkey DO UPDATE SET member_id = excluded.member_id;
	EXECUTE format('GRANT order_system_member TO %I', role_name);
END
$$;

CREATE FUNCTION order_system.clear_member_login(login regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role_name name := order_system.check_member_login(clear_member_login.login);
BEGIN
	DELETE FROM order_system.member_login l WHERE l.login = role_name;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	EXECUTE format('REVOKE order_system_member FROM %I', role_name);
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION order_system.current_member_id(), order_system.check_member_login(regrole),
	order_system.set_member_login(regrole, bigint), order_system.clear_member_login(regrole)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.current_member_id(), order_system.check_member_login(regrole),
	order_system.set_member_login(regrole, bigint), order_system.clear_member_login(regrole)
TO order_system_admin;

-- What a member role may call: its own orders and account, the catalog.
GRANT EXECUTE ON FUNCTION
	order_system.place_order(bigint, jsonb, text, text, jsonb),
	order_system.cancel_order(bigint, text),
	order_system.get_member(bigint),
	order_system.get_product(bigint),
	order_system.get_order(bigint),
	order_system.points_history(bigint),
	order_system.current_member_id(),
	order_system.order_transitions(),
	order_system.error_codes(),
	order_system.virtual_account_valid(text)
TO order_system_member;

-- And read, row by row: its member, orders, their lines and payments, its
-- ledger.  Forced, so that not even a table owner reads around it (a
-- superuser still does, and the API functions run as one and filter
-- themselves).  Operators read everything.
GRANT SELECT ON order_system.member, order_system.orders, order_system.order_line,
	order_system.payment, order_system.points_ledger TO order_system_member;
ALTER TABLE order_system.member ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.orders ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.order_line ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.payment ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE order_system.points_ledger ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
-- (SELECT current_member_id()) is computed once per statement, not per row.
CREATE POLICY member_own ON order_system.member FOR SELECT TO order_system_member
	USING (id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY orders_own ON order_system.orders FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY order_line_own ON order_system.order_line FOR SELECT TO order_system_member
	USING (EXISTS (SELECT FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) order_id));
CREATE POLICY payment_own ON order_system.payment FOR SELECT TO order_system_member
	USING (EXISTS (SELECT FROM order_system.orders o WHERE o.id OPERATOR(pg_catalog.=) order_id));
CREATE POLICY points_ledger_own ON order_system.points_ledger FOR SELECT TO order_system_member
	USING (member_id OPERATOR(pg_catalog.=) (SELECT order_system.current_member_id()));
CREATE POLICY admin_reads_all ON order_system.member FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.orders FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.order_line FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.payment FOR SELECT TO order_system_admin USING (true);
CREATE POLICY admin_reads_all ON order_system.points_ledger FOR SELECT TO order_system_admin USING (true);

---------------------------------------------------------------- read functions again

CREATE OR REPLACE FUNCTION order_system.get_member(member_id bigint)
RETURNS TABLE (id bigint, name text, email text, active boolean,
			   points_balance bigint, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT m.id, m.name, m.email, m.active, m.points_balance, m.created_at
	  FROM order_system.member m
	 WHERE m.id = get_member.member_id
	   AND m.id = coalesce((SELECT order_system.current_member_id()), m.id);
END;

CREATE OR REPLACE FUNCTION order_system.get_product(product_id bigint)
RETURNS TABLE (id bigint, sku text, name text, price bigint, currency text, active boolean,
			   stock_available bigint, stock_reserved bigint, stock_sold bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT p.id, p.sku, p.name, p.price, p.currency, p.active,
		   p.stock_available + coalesce(b.available, 0), p.stock_reserved + coalesce(b.reserved, 0),
		   p.stock_sold + coalesce(b.sold, 0)
	  FROM order_system.product p
	  LEFT JOIN (SELECT s.product_id, sum(s.available) AS available, sum(s.reserved) AS reserved,
						sum(s.sold) AS sold
				   FROM order_system.stock_bucket s GROUP BY s.product_id) b ON b.product_id = p.id
	 WHERE p.id = get_product.product_id;
END;

CREATE OR REPLACE FUNCTION order_system.get_order(order_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object(
			'order_id', o.id, 'member_id', o.member_id, 'status', o.status,
			'status_reason', o.status_reason, 'currency', o.currency,
			'total_amount', o.total_amount, 'payment_method', o.payment_method,
			'points_earned', o.points_earned, 'created_at', o.created_at,
			'lines', (SELECT jsonb_agg(jsonb_build_object(
								'product_id', l.product_id, 'quantity', l.quantity,
								'unit_price', l.unit_price, 'amount', l.amount)
							  ORDER BY l.product_id)
						FROM order_system.order_line l WHERE l.order_id = o.id),
			'payment', (SELECT jsonb_build_object(
								'payment_id', p.id, 'status', p.status, 'amount', p.amount,
								'points_amount', p.points_amount,
								'external_amount', p.external_amount,
								'reference', p.reference, 'expires_at', p.expires_at)
						  FROM order_system.payment p WHERE p.order_id = o.id))
	  FROM order_system.orders o
	 WHERE o.id = get_order.order_id
	   -- a member role sees its own orders only ((SELECT ...): once, not per row)
	   AND o.member_id = coalesce((SELECT order_system.current_member_id()), o.member_id);
END;

CREATE OR REPLACE FUNCTION order_system.points_history(member_id bigint)
RETURNS TABLE (id bigint, kind text, delta bigint, order_id bigint, reason text,
			   created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT l.id, l.kind, l.delta, l.order_id, l.reason, l.created_at
	  FROM order_system.points_ledger l
	 WHERE l.member_id = points_history.member_id
	   AND l.member_id = coalesce((SELECT order_system.current_member_id()), l.member_id)
	 ORDER BY l.id;
END;

-- check_invariants(), as in 0.2.0 plus references that point nowhere (what
-- foreign keys used to refuse).
CREATE OR REPLACE FUNCTION order_system.check_invariants()
RETURNS TABLE (invariant text, subject text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'stock_negative', 'product ' || p.id,
		   format('available %s reserved %s sold %s', p.stock_available, p.stock_reserved, p.stock_sold)
	  FROM order_system.product p
	 WHERE p.stock_available < 0 OR p.stock_reserved < 0 OR p.stock_sold < 0
	UNION ALL
	SELECT 'stock_adds_up', 'product ' || p.id,
		   format('available %s + reserved %s + sold %s + bucketed %s <> received %s',
				  p.stock_available, p.stock_reserved, p.stock_sold, p.stock_bucketed, p.stock_received)
	  FROM order_system.product p
	 WHERE p.stock_available + p.stock_reserved + p.stock_sold + p.stock_bucketed <> p.stock_received
	UNION ALL
	SELECT 'stock_buckets_add_up', 'product ' || p.id,
		   format('bucketed %s, buckets hold %s', p.stock_bucketed, coalesce(b.allotted, 0))
	  FROM order_system.product p
	  LEFT JOIN (SELECT s.product_id, sum(s.allotted) AS allotted FROM order_system.stock_bucket s
				  GROUP BY s.product_id) b ON b.product_id = p.id
	 WHERE p.stock_bucketed <> coalesce(b.allotted, 0)
	UNION ALL
	SELECT 'stock_bucket_valid', 'product ' || s.product_id || ' bucket ' || s.bucket,
		   format('available %s reserved %s sold %s allotted %s', s.available, s.reserved, s.sold, s.allotted)
	  FROM order_system.stock_bucket s
	 WHERE s.available < 0 OR s.reserved < 0 OR s.sold < 0
		OR s.available + s.reserved + s.sold <> s.allotted
	UNION ALL
	SELECT 'stock_matches_orders', 'product ' || p.id || coalesce(' bucket ' || k.bucket, ''),
		   format('reserved %s (orders say %s), sold %s (orders say %s)',
				  k.reserved, coalesce(s.reserved, 0), k.sold, coalesce(s.sold, 0))
	  FROM order_system.product p
	  CROSS JOIN LATERAL (SELECT NULL::smallint AS bucket, p.stock_reserved::bigint AS reserved,
								 p.stock_sold::bigint AS sold
						  UNION ALL
						  SELECT b.bucket, b.reserved, b.sold FROM order_system.stock_bucket b
						   WHERE b.product_id = p.id) k
	  LEFT JOIN (SELECT l.product_id, l.bucket,
						sum(l.quantity) FILTER (WHERE o.status = 'pending_payment') AS reserved,
						sum(l.quantity) FILTER (WHERE o.status IN ('paid', 'completed')) AS sold
				   FROM order_system.order_line l
				   JOIN order_system.orders o ON o.id = l.order_id
				  GROUP BY l.product_id, l.bucket) s
		ON s.product_id = p.id AND s.bucket IS NOT DISTINCT FROM k.bucket
	 WHERE k.reserved <> coalesce(s.reserved, 0) OR k.sold <> coalesce(s.sold, 0)
	UNION ALL
	SELECT 'points_negative', 'member ' || m.id, format('balance %s', m.points_balance)
	  FROM order_system.member m WHERE m.points_balance < 0
	UNION ALL
	SELECT 'points_ledger_matches_balance', 'member ' || m.id,
		   format('balance %s, ledger sum %s', m.points_balance, coalesce(l.total, 0))
	  FROM order_system.member m
	  LEFT JOIN (SELECT member_id, sum(delta) AS total FROM order_system.points_ledger
				  GROUP BY member_id) l ON l.member_id = m.id
	 WHERE m.points_balance <> coalesce(l.total, 0)
	UNION ALL
	SELECT 'order_state_legal', 'order ' || o.id, format('status %L', o.status)
	  FROM order_system.orders o
	 WHERE o.status NOT IN (SELECT t.from_status FROM order_system.order_transitions() t)
	UNION ALL
	SELECT 'order_total_matches_lines', 'order ' || o.id,
		   format('total %s, lines %s', o.total_amount, coalesce(l.total, 0))
	  FROM order_system.orders o
	  LEFT JOIN (SELECT order_id, sum(amount) AS total, count(*) AS n
				   FROM order_system.order_line GROUP BY order_id) l ON l.order_id = o.id
	 WHERE o.total_amount <> coalesce(l.total, 0) OR coalesce(l.n, 0) = 0
	UNION ALL
	SELECT 'order_line_amount', 'order ' || l.order_id,
		   format('product %s: %s x %s <> %s', l.product_id, l.quantity, l.unit_price, l.amount)
	  FROM order_system.order_line l
	 WHERE l.amount <> l.quantity * l.unit_price
	UNION ALL
	SELECT 'order_points_earned', 'order ' || o.id,
		   format('points_earned %s, ledger earn rows %s', o.points_earned, coalesce(l.earned, 0))
	  FROM order_system.orders o
	  LEFT JOIN (SELECT order_id, sum(delta) AS earned FROM order_system.points_ledger
				  WHERE kind = 'earn' AND order_id IS NOT NULL GROUP BY order_id) l ON l.order_id = o.id
	 WHERE o.points_earned <> coalesce(l.earned, 0)
	UNION ALL
	SELECT 'order_payment_consistent', 'order ' || o.id,
		   format('order %s total %s, payments: %s', o.status, o.total_amount,
				  coalesce(p.statuses, 'none'))
	  FROM order_system.orders o
	  LEFT JOIN (SELECT order_id, count(*) AS n, min(status) AS status, min(amount) AS amount,
						string_agg(status || ' ' || amount, ', ') AS statuses
				   FROM order_system.payment GROUP BY order_id) p ON p.order_id = o.id
	 WHERE coalesce(p.n, 0) <> 1 OR p.amount <> o.total_amount
		OR (o.status::text, p.status) NOT IN (VALUES ('pending_payment', 'pending'), ('paid', 'captured'),
												   ('completed', 'captured'), ('refunded', 'refunded'),
												   ('expired', 'expired'), ('cancelled', 'declined'),
												   ('cancelled', 'voided'))
	UNION ALL
	SELECT 'order_points_settled', 'order ' || o.id,
		   format('status %s, points paid %s, ledger net %s', o.status, p.points_amount, coalesce(l.net, 0))
	  FROM order_system.orders o
	  JOIN order_system.payment p ON p.order_id = o.id
	  LEFT JOIN (SELECT order_id, -sum(delta) FILTER (WHERE kind IN ('spend', 'refund')) AS net
				   FROM order_system.points_ledger WHERE order_id IS NOT NULL
				  GROUP BY order_id) l ON l.order_id = o.id
	 WHERE coalesce(l.net, 0) <> CASE WHEN o.status IN ('pending_payment', 'paid', 'completed')
									  THEN p.points_amount ELSE 0 END
	UNION ALL
	SELECT 'order_has_placed_event', 'order ' || o.id, 'no order.placed event in the outbox'
	  FROM order_system.orders o
	 WHERE NOT EXISTS (SELECT 1 FROM order_system.outbox e
						WHERE e.aggregate_type = 'order' AND e.aggregate_id = o.id
						  AND e.event_type = 'order.placed')
	   -- events of orders older than the last prune may be gone on purpose
	   AND o.created_at > coalesce((SELECT p.pruned_at FROM order_system.outbox_pruned p),
								   '-infinity')
	UNION ALL
	SELECT 'reference_exists', r.subject, r.detail
	  FROM (SELECT 'order ' || o.id AS subject, 'member ' || o.member_id || ' does not exist' AS detail
			  FROM order_system.orders o
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.member m WHERE m.id = o.member_id)
			UNION ALL
			SELECT 'order ' || o.id, format('payment method %L does not exist', o.payment_method)
			  FROM order_system.orders o
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.payment_method pm WHERE pm.name = o.payment_method)
			UNION ALL
			SELECT 'order line ' || l.order_id || '/' || l.product_id, 'order does not exist'
			  FROM order_system.order_line l
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.orders o WHERE o.id = l.order_id)
			UNION ALL
			SELECT 'order line ' || l.order_id || '/' || l.product_id, 'product does not exist'
			  FROM order_system.order_line l
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.product p WHERE p.id = l.product_id)
			UNION ALL
			SELECT 'payment ' || p.id, 'order ' || p.order_id || ' does not exist'
			  FROM order_system.payment p
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.orders o WHERE o.id = p.order_id)
			UNION ALL
			SELECT 'payment ' || p.id, format('payment method %L does not exist', p.method)
			  FROM order_system.payment p
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.payment_method pm WHERE pm.name = p.method)
			UNION ALL
			SELECT 'ledger row ' || l.id, 'member ' || l.member_id || ' does not exist'
			  FROM order_system.points_ledger l
			 WHERE NOT EXISTS (SELECT 1 FROM order_system.member m WHERE m.id = l.member_id)
			UNION ALL
			SELECT 'ledger row ' || l.id, 'order ' || l.order_id || ' does not exist'
			  FROM order_system.points_ledger l
			 WHERE l.order_id IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM order_system.orders o WHERE o.id = l.order_id)) r;
END;
