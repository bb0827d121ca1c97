---------------------------------------------------------------- payment methods

CREATE TABLE order_system.payment_method (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	handler text NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	builtin boolean NOT NULL DEFAULT false,
	description order_system.note_text
);
COMMENT ON TABLE order_system.payment_method IS 'Payment strategy registry: method name -> handler function.';
COMMENT ON COLUMN order_system.payment_method.handler IS 'The handler function''s signature as regprocedure prints it with search_path = pg_catalog: kept by name, so it survives pg_upgrade and dump/restore.';
-- pg_dump keeps the methods users registered; the built-in ones come back
-- with the extension.
SELECT pg_catalog.pg_extension_config_dump('order_system.payment_method', 'WHERE NOT builtin');

---------------------------------------------------------------- payments

CREATE SEQUENCE order_system.payment_id_seq;
CREATE TABLE order_system.payment (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.payment_id_seq'),
	order_id bigint NOT NULL UNIQUE,
	method text NOT NULL,
	amount order_system.amount NOT NULL,
	points_amount order_system.amount NOT NULL,
	external_amount order_system.amount NOT NULL,
	status order_system.payment_status NOT NULL,
	reference order_system.reference_text,
	gateway_ref order_system.gateway_ref_text,
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- the order's member (as order_line.member_id)
	member_id bigint NOT NULL
);
ALTER SEQUENCE order_system.payment_id_seq OWNED BY order_system.payment.id;
-- Most payments have no reference: only those that do are indexed.
CREATE UNIQUE INDEX payment_reference_key ON order_system.payment (reference)
	WHERE reference IS NOT NULL;
CREATE INDEX payment_pending_expiry_idx ON order_system.payment (expires_at)
	WHERE status = 'pending';
COMMENT ON TABLE order_system.payment IS 'One payment per order: the amount split into points and external parts, and its state.';
SELECT pg_catalog.pg_extension_config_dump('order_system.payment', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.payment_id_seq', '');

CREATE OR REPLACE FUNCTION order_system_internal.payment_adds_up(payment order_system.payment)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_payment_adds_up';
COMMENT ON FUNCTION order_system_internal.payment_adds_up(order_system.payment)
	IS 'CHECK rule payment_parts_add_up: points part + external part = amount.';

ALTER TABLE order_system.payment
	ADD CONSTRAINT payment_parts_add_up CHECK (order_system_internal.payment_adds_up(payment));

---------------------------------------------------------------- strategies

-- The built-in handlers (src/core/os_payment.c).  Only the owner of a
-- handler may register it, and it is always called as its owner.
CREATE OR REPLACE FUNCTION order_system.pay_points(order_id bigint, member_id bigint, amount bigint,
												  currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_points'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system.pay_points(bigint, bigint, bigint, text, jsonb)
	IS 'Built-in handler of method points: the whole amount from the member''s points, at once.';

CREATE OR REPLACE FUNCTION order_system.pay_card(order_id bigint, member_id bigint, amount bigint,
												currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_card'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system.pay_card(bigint, bigint, bigint, text, jsonb)
	IS 'Built-in handler of method card: the whole amount pending until the gateway confirms it.';

CREATE OR REPLACE FUNCTION order_system.pay_bank_transfer(order_id bigint, member_id bigint, amount bigint,
														 currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_bank_transfer'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system.pay_bank_transfer(bigint, bigint, bigint, text, jsonb)
	IS 'Built-in handler of method bank_transfer: a virtual account, pending until the deposit.';

CREATE OR REPLACE FUNCTION order_system.pay_points_card(order_id bigint, member_id bigint, amount bigint,
													   currency text, params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'os_pay_points_card'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system.pay_points_card(bigint, bigint, bigint, text, jsonb)
	IS 'Built-in handler of method points_card: params.points from points at once, the rest by card.';

CREATE OR REPLACE FUNCTION order_system.register_payment_method(name text, handler regprocedure,
															   description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'os_register_payment_method'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.register_payment_method(text, regprocedure, text)
	IS 'Register a payment method: its name and the handler function (owned by the caller) that plans its payments.';

CREATE OR REPLACE FUNCTION order_system.set_payment_method_enabled(name text, enabled boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_set_payment_method_enabled'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.set_payment_method_enabled(text, boolean)
	IS 'Enable or disable a payment method for new orders; returns the setting.';

CREATE OR REPLACE FUNCTION order_system.virtual_account_valid(reference text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_virtual_account_valid_sql'
LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION order_system.virtual_account_valid(text)
	IS 'Whether a bank-transfer reference has the virtual account form and a valid Luhn digit.';

CREATE OR REPLACE FUNCTION order_system_internal.payment_handler_valid(handler text)
RETURNS boolean LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_payment_handler_valid';
COMMENT ON FUNCTION order_system_internal.payment_handler_valid(text)
	IS 'CHECK rule payment_method_handler_valid: the text names an existing function (bigint, bigint, bigint, text, jsonb) returning jsonb, spelled as regprocedure prints it with search_path = pg_catalog.';

ALTER TABLE order_system.payment_method
	ADD CONSTRAINT payment_method_handler_valid CHECK (order_system_internal.payment_handler_valid(handler));

INSERT INTO order_system.payment_method (name, handler, builtin, description) VALUES
	('points', 'order_system.pay_points(bigint,bigint,bigint,text,jsonb)', true,
	 'paid from the member''s points balance at once'),
	('card', 'order_system.pay_card(bigint,bigint,bigint,text,jsonb)', true,
	 'pending until the card gateway confirms or declines'),
	('bank_transfer', 'order_system.pay_bank_transfer(bigint,bigint,bigint,text,jsonb)', true,
	 'virtual account, pending until the deposit is confirmed or it expires'),
	('points_card', 'order_system.pay_points_card(bigint,bigint,bigint,text,jsonb)', true,
	 'params.points from the balance at once, the rest by card');
