/* order_system--0.1.0.sql: members, points, products, stock, orders,
 * payment strategies, saga steps and the outbox. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION order_system" to load this file. \quit

-- Resolve nothing through the caller's search_path while installing.
SET LOCAL search_path TO pg_catalog, pg_temp;

-- A schema someone else created (or filled) beforehand could hold planted
-- objects: refuse it instead of installing into it.
DO $guard$
DECLARE
	owner_ok boolean;
	objects bigint;
BEGIN
	SELECT n.nspowner OPERATOR(pg_catalog.=) r.oid INTO owner_ok
	  FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'order_system'
	   AND r.rolname OPERATOR(pg_catalog.=) CURRENT_USER;
	SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class
			 WHERE relnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc
			 WHERE pronamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type
			 WHERE typnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator
			 WHERE oprnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
	  INTO objects;
	IF owner_ok IS NOT TRUE OR objects OPERATOR(pg_catalog.<>) 0 THEN
		RAISE EXCEPTION 'schema "order_system" already exists and is not an empty schema owned by %', CURRENT_USER
			USING ERRCODE = '42501',
				  HINT = 'Drop or rename the existing schema, then run CREATE EXTENSION again.';
	END IF;
END
$guard$;

-- Roles are cluster-wide: create them once, grant to them on purpose below.
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_admin') THEN
		CREATE ROLE order_system_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_app') THEN
		CREATE ROLE order_system_app NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_gateway') THEN
		CREATE ROLE order_system_gateway NOLOGIN;
	END IF;
END
$roles$;

REVOKE ALL ON SCHEMA order_system FROM PUBLIC;
GRANT USAGE ON SCHEMA order_system TO order_system_admin, order_system_app, order_system_gateway;

---------------------------------------------------------------- members

CREATE SEQUENCE order_system.member_id_seq;
CREATE TABLE order_system.member (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.member_id_seq'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	email text UNIQUE CHECK (length(email) BETWEEN 3 AND 320),
	active boolean NOT NULL DEFAULT true,
	points_balance bigint NOT NULL DEFAULT 0 CHECK (points_balance >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE order_system.member_id_seq OWNED BY order_system.member.id;
COMMENT ON TABLE order_system.member IS 'Members; points_balance always equals the sum of their points_ledger rows.';

---------------------------------------------------------------- products

CREATE SEQUENCE order_system.product_id_seq;
CREATE TABLE order_system.product (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.product_id_seq'),
	sku text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	price bigint NOT NULL CHECK (price >= 0),
	currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	active boolean NOT NULL DEFAULT true,
	stock_available bigint NOT NULL DEFAULT 0 CHECK (stock_available >= 0),
	stock_reserved bigint NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
	stock_sold bigint NOT NULL DEFAULT 0 CHECK (stock_sold >= 0),
	stock_received bigint NOT NULL DEFAULT 0 CHECK (stock_received >= 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT product_stock_adds_up
		CHECK (stock_available + stock_reserved + stock_sold = stock_received)
);
ALTER SEQUENCE order_system.product_id_seq OWNED BY order_system.product.id;
COMMENT ON TABLE order_system.product IS 'Products; stock held by unpaid orders is reserved, sold once paid; available + reserved + sold = received.';

---------------------------------------------------------------- payment methods

CREATE TABLE order_system.payment_method (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	handler regprocedure NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	builtin boolean NOT NULL DEFAULT false,
	description text CHECK (length(description) <= 1000)
);
COMMENT ON TABLE order_system.payment_method IS 'Payment strategy registry: method name -> handler function.';

---------------------------------------------------------------- orders

CREATE SEQUENCE order_system.orders_id_seq;
CREATE TABLE order_system.orders (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.orders_id_seq'),
	member_id bigint NOT NULL REFERENCES order_system.member (id),
	status text NOT NULL DEFAULT 'pending_payment' CONSTRAINT orders_status_check
		CHECK (status IN ('pending_payment', 'paid', 'completed', 'cancelled', 'expired', 'refunded')),
	status_reason text CHECK (length(status_reason) <= 1000),
	currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	total_amount bigint NOT NULL CHECK (total_amount >= 0),
	payment_method text NOT NULL REFERENCES order_system.payment_method (name),
	idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
	request_fingerprint bigint,
	points_earned bigint NOT NULL DEFAULT 0 CHECK (points_earned >= 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT orders_idempotency_key UNIQUE (member_id, idempotency_key)
);
ALTER SEQUENCE order_system.orders_id_seq OWNED BY order_system.orders.id;
CREATE INDEX orders_pending_idx ON order_system.orders (created_at)
	WHERE status = 'pending_payment';
COMMENT ON TABLE order_system.orders IS 'Orders; status moves only along order_system.order_transitions().';

CREATE TABLE order_system.order_line (
	order_id bigint NOT NULL REFERENCES order_system.orders (id),
	product_id bigint NOT NULL REFERENCES order_system.product (id),
	quantity bigint NOT NULL CHECK (quantity > 0),
	unit_price bigint NOT NULL CHECK (unit_price >= 0),
	amount bigint NOT NULL CHECK (amount >= 0),
	PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_line_product_idx ON order_system.order_line (product_id);

---------------------------------------------------------------- payments

CREATE SEQUENCE order_system.payment_id_seq;
CREATE TABLE order_system.payment (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.payment_id_seq'),
	order_id bigint NOT NULL UNIQUE REFERENCES order_system.orders (id),
	method text NOT NULL REFERENCES order_system.payment_method (name),
	amount bigint NOT NULL CHECK (amount >= 0),
	points_amount bigint NOT NULL CHECK (points_amount >= 0),
	external_amount bigint NOT NULL CHECK (external_amount >= 0),
	status text NOT NULL CONSTRAINT payment_status_check
		CHECK (status IN ('pending', 'captured', 'declined', 'voided', 'expired', 'refunded')),
	reference text UNIQUE CHECK (length(reference) BETWEEN 1 AND 200),
	gateway_ref text CHECK (length(gateway_ref) <= 200),
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT payment_parts_add_up CHECK (points_amount + external_amount = amount)
);
ALTER SEQUENCE order_system.payment_id_seq OWNED BY order_system.payment.id;
CREATE INDEX payment_pending_expiry_idx ON order_system.payment (expires_at)
	WHERE status = 'pending';

---------------------------------------------------------------- points ledger

CREATE SEQUENCE order_system.points_ledger_id_seq;
CREATE TABLE order_system.points_ledger (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.points_ledger_id_seq'),
	member_id bigint NOT NULL REFERENCES order_system.member (id),
	order_id bigint REFERENCES order_system.orders (id),
	kind text NOT NULL CHECK (kind IN ('earn', 'spend', 'refund', 'adjust')),
	delta bigint NOT NULL CHECK (delta <> 0),
	reason text CHECK (length(reason) <= 1000),
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT points_ledger_sign CHECK (
		(kind = 'spend' AND delta < 0) OR (kind IN ('earn', 'refund') AND delta > 0) OR kind = 'adjust')
);
ALTER SEQUENCE order_system.points_ledger_id_seq OWNED BY order_system.points_ledger.id;
CREATE INDEX points_ledger_member_idx ON order_system.points_ledger (member_id);
CREATE INDEX points_ledger_order_idx ON order_system.points_ledger (order_id)
	WHERE order_id IS NOT NULL;

---------------------------------------------------------------- outbox

CREATE SEQUENCE order_system.outbox_id_seq;
CREATE TABLE order_system.outbox (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.outbox_id_seq'),
	event_type text NOT NULL,
	aggregate_type text NOT NULL,
	aggregate_id bigint NOT NULL,
	payload jsonb NOT NULL,
	tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE order_system.outbox_id_seq OWNED BY order_system.outbox.id;
CREATE INDEX outbox_aggregate_idx ON order_system.outbox (aggregate_type, aggregate_id);
COMMENT ON TABLE order_system.outbox IS 'Saga events, written in the transaction that made the change; the source of truth for delivery.';

-- pg_dump keeps user data (built-in payment methods come back with the extension).
SELECT pg_catalog.pg_extension_config_dump('order_system.member', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.member_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.product', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.payment_method', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('order_system.orders', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.orders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.order_line', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.payment', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.payment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.points_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.points_ledger_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox_id_seq', '');

---------------------------------------------------------------- C functions

-- Members and points
CREATE FUNCTION order_system.create_member(name text, email text DEFAULT NULL,
										   initial_points bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_create_member'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.deactivate_member(member_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_deactivate_member'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.adjust_points(member_id bigint, delta bigint, reason text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_adjust_points'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Products and stock
CREATE FUNCTION order_system.create_product(sku text, name text, price bigint,
											currency text DEFAULT 'KRW',
											initial_stock bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_create_product'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.set_price(product_id bigint, price bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_set_price'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.restock(product_id bigint, quantity bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_restock'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.deactivate_product(product_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_deactivate_product'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Orders
CREATE FUNCTION order_system.place_order(
	member_id bigint,
	lines jsonb,
	payment_method text,
	idempotency_key text DEFAULT NULL,
	payment_params jsonb DEFAULT NULL,
	OUT order_id bigint,
	OUT status text,
	OUT total_amount bigint,
	OUT currency text,
	OUT payment_id bigint,
	OUT payment_status text,
	OUT payment_reference text,
	OUT expires_at timestamptz,
	OUT replayed boolean)
AS 'MODULE_PATHNAME', 'os_place_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Saga steps and compensations
CREATE FUNCTION order_system.confirm_payment(order_id bigint, gateway_ref text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_confirm_payment'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.decline_payment(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_decline_payment'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.confirm_deposit(reference text, amount bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'os_confirm_deposit'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.cancel_order(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_cancel_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.expire_orders(max_orders integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'os_expire_orders'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.complete_order(order_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'os_complete_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.refund_order(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_refund_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Payment strategies: built-in handlers and the registry.  Only the owner of
-- a handler may register it, and it is always called as its owner.
CREATE FUNCTION order_system.pay_points(order_id bigint, member_id bigint, amount bigint,
										currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_points'
LANGUAGE C STABLE;

CREATE FUNCTION order_system.pay_card(order_id bigint, member_id bigint, amount bigint,
									  currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_card'
LANGUAGE C STABLE;

CREATE FUNCTION order_system.pay_bank_transfer(order_id bigint, member_id bigint, amount bigint,
											   currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_bank_transfer'
LANGUAGE C STABLE;

CREATE FUNCTION order_system.pay_points_card(order_id bigint, member_id bigint, amount bigint,
											 currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_points_card'
LANGUAGE C STABLE;

CREATE FUNCTION order_system.register_payment_method(name text, handler regprocedure,
													 description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'os_register_payment_method'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION order_system.set_payment_method_enabled(name text, enabled boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_set_payment_method_enabled'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The domain core, exported for tests and operators
CREATE FUNCTION order_system.order_transitions(
	OUT from_status text, OUT event text, OUT to_status text, OUT outcome text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'os_order_transitions'
LANGUAGE C IMMUTABLE STRICT;

CREATE FUNCTION order_system.error_codes(
	OUT name text, OUT sqlstate text, OUT message text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'os_error_codes'
LANGUAGE C IMMUTABLE STRICT;

CREATE FUNCTION order_system.virtual_account_valid(reference text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_virtual_account_valid_sql'
LANGUAGE C IMMUTABLE STRICT;

-- Table guard: the status column moves only along the C state machine.
CREATE FUNCTION order_system.orders_status_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_orders_status_guard'
LANGUAGE C;

CREATE TRIGGER orders_status_guard
	BEFORE UPDATE OF status ON order_system.orders
	FOR EACH ROW EXECUTE FUNCTION order_system.orders_status_guard();

INSERT INTO order_system.payment_method (name, handler, builtin, description) VALUES
	('points', 'order_system.pay_points(bigint,bigint,bigint,text,jsonb)', true,
	 'paid from the member''s points balance at once'),
	('card', 'order_system.pay_card(bigint,bigint,bigint,text,jsonb)', true,
	 'pending until the card gateway confirms or declines'),
	('bank_transfer', 'order_system.pay_bank_transfer(bigint,bigint,bigint,text,jsonb)', true,
	 'virtual account, pending until the deposit is confirmed or it expires'),
	('points_card', 'order_system.pay_points_card(bigint,bigint,bigint,text,jsonb)', true,
	 'params.points from the balance at once, the rest by card');

---------------------------------------------------------------- SQL read functions

CREATE FUNCTION order_system.get_member(member_id bigint)
RETURNS TABLE (id bigint, name text, email text, active boolean,
			   points_balance bigint, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT m.id, m.name, m.email, m.active, m.points_balance, m.created_at
	  FROM order_system.member m WHERE m.id = get_member.member_id;
END;

CREATE FUNCTION order_system.get_product(product_id bigint)
RETURNS TABLE (id bigint, sku text, name text, price bigint, currency text, active boolean,
			   stock_available bigint, stock_reserved bigint, stock_sold bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT p.id, p.sku, p.name, p.price, p.currency, p.active,
		   p.stock_available, p.stock_reserved, p.stock_sold
	  FROM order_system.product p WHERE p.id = get_product.product_id;
END;

CREATE FUNCTION order_system.get_order(order_id bigint)
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
	  FROM order_system.orders o WHERE o.id = get_order.order_id;
END;

CREATE FUNCTION order_system.points_history(member_id bigint)
RETURNS TABLE (id bigint, kind text, delta bigint, order_id bigint, reason text,
			   created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT l.id, l.kind, l.delta, l.order_id, l.reason, l.created_at
	  FROM order_system.points_ledger l
	 WHERE l.member_id = points_history.member_id
	 ORDER BY l.id;
END;

-- Every violation of the domain's invariants, one row each; empty is healthy.
CREATE FUNCTION order_system.check_invariants()
RETURNS TABLE (invariant text, subject text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'stock_negative', 'product ' || p.id,
		   format('available %s reserved %s sold %s', p.stock_available, p.stock_reserved, p.stock_sold)
	  FROM order_system.product p
	 WHERE p.stock_available < 0 OR p.stock_reserved < 0 OR p.stock_sold < 0
	UNION ALL
	SELECT 'stock_adds_up', 'product ' || p.id,
		   format('available %s + reserved %s + sold %s <> received %s',
				  p.stock_available, p.stock_reserved, p.stock_sold, p.stock_received)
	  FROM order_system.product p
	 WHERE p.stock_available + p.stock_reserved + p.stock_sold <> p.stock_received
	UNION ALL
	SELECT 'stock_matches_orders', 'product ' || p.id,
		   format('reserved %s (orders say %s), sold %s (orders say %s)',
				  p.stock_reserved, coalesce(s.reserved, 0), p.stock_sold, coalesce(s.sold, 0))
	  FROM order_system.product p
	  LEFT JOIN (SELECT l.product_id,
						sum(l.quantity) FILTER (WHERE o.status = 'pending_payment') AS reserved,
						sum(l.quantity) FILTER (WHERE o.status IN ('paid', 'completed')) AS sold
				   FROM order_system.order_line l
				   JOIN order_system.orders o ON o.id = l.order_id
				  GROUP BY l.product_id) s ON s.product_id = p.id
	 WHERE p.stock_reserved <> coalesce(s.reserved, 0) OR p.stock_sold <> coalesce(s.sold, 0)
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
		OR (o.status, p.status) NOT IN (VALUES ('pending_payment', 'pending'), ('paid', 'captured'),
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
						  AND e.event_type = 'order.placed');
END;

---------------------------------------------------------------- privileges

REVOKE ALL ON ALL TABLES IN SCHEMA order_system FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA order_system FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA order_system FROM PUBLIC;

-- The app role calls the API; it cannot write tables directly.
GRANT EXECUTE ON FUNCTION
	order_system.create_member(text, text, bigint),
	order_system.place_order(bigint, jsonb, text, text, jsonb),
	order_system.cancel_order(bigint, text),
	order_system.get_member(bigint),
	order_system.get_product(bigint),
	order_system.get_order(bigint),
	order_system.points_history(bigint),
	order_system.order_transitions(),
	order_system.error_codes(),
	order_system.virtual_account_valid(text)
TO order_system_app;

-- Payment participants (a gateway, a bank feed) settle payments; apps cannot.
GRANT EXECUTE ON FUNCTION
	order_system.confirm_payment(bigint, text),
	order_system.decline_payment(bigint, text),
	order_system.confirm_deposit(text, bigint),
	order_system.get_order(bigint),
	order_system.error_codes()
TO order_system_gateway;

-- Operators get everything.

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA order_system TO order_system_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA order_system TO order_system_admin;
