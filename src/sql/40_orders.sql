---------------------------------------------------------------- orders

CREATE SEQUENCE order_system.orders_id_seq;
CREATE TABLE order_system.orders (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.orders_id_seq'),
	member_id bigint NOT NULL,
	status order_system.order_status NOT NULL DEFAULT 'pending_payment',
	status_reason order_system.note_text,
	currency order_system.currency_code NOT NULL,
	total_amount order_system.amount NOT NULL,
	payment_method text NOT NULL,
	idempotency_key order_system.key_text,
	request_fingerprint bigint,
	points_earned order_system.amount NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE order_system.orders_id_seq OWNED BY order_system.orders.id;
-- Most orders have no idempotency key: only those that do are indexed.
CREATE UNIQUE INDEX orders_idempotency_key ON order_system.orders (member_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
COMMENT ON TABLE order_system.orders IS 'Orders; status moves only along order_system.order_transitions().';
SELECT pg_catalog.pg_extension_config_dump('order_system.orders', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.orders_id_seq', '');

-- bucket: the flash-sale bucket the line's stock came from; NULL: the
-- product row.  member_id: the order's member, so that a line sits beside
-- its order when the tables are distributed by member (doc/scale-out.md)
-- and a member's role reads its lines without a join.
CREATE TABLE order_system.order_line (
	order_id bigint NOT NULL,
	product_id bigint NOT NULL,
	quantity order_system.quantity NOT NULL,
	unit_price order_system.amount NOT NULL,
	amount order_system.amount NOT NULL,
	bucket smallint,
	member_id bigint NOT NULL,
	PRIMARY KEY (order_id, product_id)
);
COMMENT ON TABLE order_system.order_line IS 'An order''s lines: product, quantity, the unit price it was sold at, and the stock bucket it came from.';
SELECT pg_catalog.pg_extension_config_dump('order_system.order_line', '');

-- Which member an order belongs to, by order id.  Filled on Citus only
-- (doc/scale-out.md), where orders are distributed by member and this table
-- by order id: a step that has only the order's id finds its member in one
-- shard instead of asking every shard.  Empty on a single node.
CREATE TABLE order_system.order_owner (
	order_id bigint PRIMARY KEY,
	member_id bigint NOT NULL
);
COMMENT ON TABLE order_system.order_owner IS 'On Citus: the member of each order, by order id (filled by place_order); empty on a single node.';
SELECT pg_catalog.pg_extension_config_dump('order_system.order_owner', '');

---------------------------------------------------------------- functions

-- A named row type comes from the type cache; the result type of a
-- function with OUT parameters is built from pg_proc on every call.
CREATE TYPE order_system.placed_order AS (
	order_id bigint,
	status text,
	total_amount bigint,
	currency text,
	payment_id bigint,
	payment_status text,
	payment_reference text,
	expires_at timestamptz,
	replayed boolean
);
COMMENT ON TYPE order_system.placed_order IS 'What place_order returns: the order, its payment, and whether it was a replay.';

CREATE OR REPLACE FUNCTION order_system.place_order(
	member_id bigint,
	lines jsonb,
	payment_method text,
	idempotency_key text DEFAULT NULL,
	payment_params jsonb DEFAULT NULL)
RETURNS order_system.placed_order
AS 'MODULE_PATHNAME', 'os_place_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.place_order(bigint, jsonb, text, text, jsonb)
	IS 'Place an order: reserve stock, run the payment method''s strategy, write the order, its payment and its events.';

-- PL/pgSQL, not a SQL-standard body: Citus plans a SQL function's
-- parameters as unknowns and cannot route it (doc/scale-out.md).  The
-- order's member is read first (order_owner on Citus), and every row after
-- it is read by member too, so that on Citus each read goes to one shard.
CREATE OR REPLACE FUNCTION order_system.get_order(order_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner bigint;
	result jsonb;
BEGIN
	SELECT w.member_id INTO owner FROM order_system.order_owner w WHERE w.order_id = get_order.order_id;
	IF NOT FOUND THEN
		SELECT o.member_id INTO owner FROM order_system.orders o WHERE o.id = get_order.order_id;
	END IF;
	-- a member role sees its own orders only
	IF owner IS NULL OR owner <> coalesce(order_system.current_member_id(), owner) THEN
		RETURN NULL;
	END IF;
	SELECT jsonb_build_object(
			'order_id', o.id, 'member_id', o.member_id, 'status', o.status,
			'status_reason', o.status_reason, 'currency', o.currency,
			'total_amount', o.total_amount, 'payment_method', o.payment_method,
			'points_earned', o.points_earned, 'created_at', o.created_at,
			'lines', (SELECT jsonb_agg(jsonb_build_object(
								'product_id', l.product_id, 'quantity', l.quantity,
								'unit_price', l.unit_price, 'amount', l.amount)
							  ORDER BY l.product_id)
						FROM order_system.order_line l
					   WHERE l.member_id = owner AND l.order_id = get_order.order_id),
			'payment', (SELECT jsonb_build_object(
								'payment_id', p.id, 'status', p.status, 'amount', p.amount,
								'points_amount', p.points_amount,
								'external_amount', p.external_amount,
								'reference', p.reference, 'expires_at', p.expires_at)
						  FROM order_system.payment p
						 WHERE p.member_id = owner AND p.order_id = get_order.order_id))
	  INTO result
	  FROM order_system.orders o
	 WHERE o.member_id = owner AND o.id = get_order.order_id;
	RETURN result;
END
$$;
COMMENT ON FUNCTION order_system.get_order(bigint)
	IS 'An order with its lines and payment as jsonb; NULL if unknown (or another member''s, for a member role).';
