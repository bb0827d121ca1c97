---------------------------------------------------------------- guards on the extension's tables

-- The status column moves only along the C state machine.  (The trigger
-- fires on UPDATE OF status, which pins the column's type: retyping it
-- means dropping the trigger first.)
CREATE OR REPLACE FUNCTION order_system_internal.orders_status_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_orders_status_guard'
LANGUAGE C;
COMMENT ON FUNCTION order_system_internal.orders_status_guard()
	IS 'Trigger on orders: a status change must be a move of order_transitions(), else OS007.';

CREATE TRIGGER orders_status_guard
	BEFORE UPDATE OF status ON order_system.orders
	FOR EACH ROW EXECUTE FUNCTION order_system_internal.orders_status_guard();

-- Members, products, orders and payment methods are deactivated, disabled
-- or moved to a final state, never deleted: other rows refer to them.
CREATE OR REPLACE FUNCTION order_system_internal.refuse_delete()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'rows of %.% are never deleted', TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = '23503',
			  HINT = 'Other rows refer to them: deactivate members and products, disable payment methods.';
END
$$;
COMMENT ON FUNCTION order_system_internal.refuse_delete()
	IS 'Trigger on tables whose rows others refer to: DELETE and TRUNCATE raise 23503.';

CREATE TRIGGER member_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.member
	FOR EACH STATEMENT EXECUTE FUNCTION order_system_internal.refuse_delete();
CREATE TRIGGER product_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.product
	FOR EACH STATEMENT EXECUTE FUNCTION order_system_internal.refuse_delete();
CREATE TRIGGER orders_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.orders
	FOR EACH STATEMENT EXECUTE FUNCTION order_system_internal.refuse_delete();
CREATE TRIGGER payment_method_never_deleted BEFORE DELETE OR TRUNCATE ON order_system.payment_method
	FOR EACH STATEMENT EXECUTE FUNCTION order_system_internal.refuse_delete();

---------------------------------------------------------------- triggers for existing schemas

-- Attach them to the application's own tables.  CREATE TRIGGER needs the
-- TRIGGER privilege on the table and EXECUTE on the function (granted to
-- admins, to a table's owner on purpose); once attached they fire for
-- whoever writes the table, and run as the extension's owner.

-- emit_event(): AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW; options
-- aggregate=, type=, key=, cols=, ignore= as trigger arguments.
CREATE OR REPLACE FUNCTION order_system.emit_event()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_emit_event_trigger'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.emit_event()
	IS 'Trigger for an application''s table: each changed row becomes an outbox event.';

-- place_order_trigger(): BEFORE INSERT FOR EACH ROW on a checkout table;
-- options name its columns (member_id=, lines=, payment_method=,
-- idempotency_key=, payment_params=, order_id=, status=).
CREATE OR REPLACE FUNCTION order_system.place_order_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_place_order_trigger'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.place_order_trigger()
	IS 'Trigger for a checkout table: each inserted row places an order and gets its id and status.';
