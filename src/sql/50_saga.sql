---------------------------------------------------------------- the state machine

-- The C state machine (src/core/os_state.c), every (state, event) pair.
CREATE OR REPLACE FUNCTION order_system.order_transitions(
	OUT from_status text, OUT event text, OUT to_status text, OUT outcome text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'os_order_transitions'
LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION order_system.order_transitions()
	IS 'The order state machine: every (state, event) pair with move, noop or illegal.';

---------------------------------------------------------------- saga steps and compensations

CREATE OR REPLACE FUNCTION order_system.confirm_payment(order_id bigint, gateway_ref text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_confirm_payment'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.confirm_payment(bigint, text)
	IS 'Saga step: the gateway captured the payment; reserved stock is sold and the order paid.  Returns its status.';

CREATE OR REPLACE FUNCTION order_system.decline_payment(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_decline_payment'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.decline_payment(bigint, text)
	IS 'Saga step: the gateway declined the payment; the order is cancelled and compensated.  Returns its status.';

CREATE OR REPLACE FUNCTION order_system.confirm_deposit(reference text, amount bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'os_confirm_deposit'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.confirm_deposit(text, bigint)
	IS 'Saga step: a bank transfer of the amount due arrived on a virtual account; the order is paid.  Returns its status.';

CREATE OR REPLACE FUNCTION order_system.cancel_order(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_cancel_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.cancel_order(bigint, text)
	IS 'Cancel an unpaid order: release its stock, return its points, void its payment.  Returns its status.';

CREATE OR REPLACE FUNCTION order_system.expire_orders(max_orders integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'os_expire_orders'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.expire_orders(integer)
	IS 'Expire up to max_orders unpaid orders past their payment deadline, with compensation; returns how many.';

CREATE OR REPLACE FUNCTION order_system.complete_order(order_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'os_complete_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.complete_order(bigint)
	IS 'Mark a paid order fulfilled: the member earns points on the part paid outside points.  Returns its status.';

CREATE OR REPLACE FUNCTION order_system.refund_order(order_id bigint, reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'os_refund_order'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.refund_order(bigint, text)
	IS 'Refund a paid, not yet completed order: sold stock and points go back, the payment is refunded.  Returns its status.';
