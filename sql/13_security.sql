-- Security: a bank transfer is paid only by its deposit (never by
-- confirm_payment quoting its public reference); a member role sees another
-- member's order exactly as a missing one; user events from emit_event stay
-- out of the namespaces of the extension's own events.
SELECT regress.restart_ids(130000);

-- The SQLSTATE, message and hint of a failing statement.
CREATE FUNCTION pg_temp.hint(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text;
	m text;
	h text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
	RETURN s || ': ' || m || ' (hint: ' || h || ')';
END
$$;

----------------------------------------------------------------- bank transfer
SELECT order_system.create_member('Sec Buyer', 'sec.buyer@example.com', 0) AS m \gset
SELECT order_system.create_product('SEC-SAFE', 'Safe', 25000, 'KRW', 10) AS p \gset
SELECT order_id AS bt, payment_reference AS ref FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'bank_transfer') \gset
-- The reference is no secret: get_order shows it, and it follows from the id.
SELECT :'ref' AS reference, order_system.get_order(:bt) -> 'payment' ->> 'reference' = :'ref' AS shown,
	   order_system.virtual_account_valid(:'ref') AS valid;
SELECT regress.counts() AS before \gset
-- confirm_payment refuses a bank transfer, with or without its reference.
SELECT pg_temp.hint(format('SELECT order_system.confirm_payment(%s, %L)', :bt, :'ref')) AS confirm_with_reference;
SELECT pg_temp.hint(format('SELECT order_system.confirm_payment(%s)', :bt)) AS confirm_without_reference;
SELECT pg_temp.hint(format('SELECT order_system.confirm_payment(%s, %L)', :bt, 'gw-1')) AS confirm_other_reference;
SELECT regress.counts() = :'before'::jsonb AS nothing_written, o.status, p.status AS payment
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id WHERE o.id = :bt;
-- Only the deposit of the amount due pays it.
SELECT regress.try(format('SELECT order_system.confirm_deposit(%L, 1)', :'ref')) AS deposit_too_little;
SELECT order_system.confirm_deposit(:'ref', 25000) AS deposit;
-- A repeat of the capture is the state machine's no-op, even by confirm_payment.
SELECT regress.try(format('SELECT order_system.confirm_payment(%s, %L)', :bt, :'ref')) AS confirm_after_deposit;
-- A card order is still confirmed by confirm_payment.
SELECT order_id AS card FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT order_system.confirm_payment(:card, 'gw-card') AS card_confirm;
SELECT * FROM order_system.check_invariants()
 WHERE subject IN ('order ' || :bt, 'order ' || :card, 'product ' || :p, 'member ' || :m);

----------------------------------------------------------------- member scope
-- To a member role, another member's order and a missing order are the same:
-- OS010 with the same message, the id the caller passed.
SELECT order_system.create_member('Sec Ann', 'sec.ann@example.com', 0) AS ann \gset
SELECT order_system.create_member('Sec Ben', 'sec.ben@example.com', 0) AS ben \gset
SELECT order_id AS ann_order FROM order_system.place_order(:ann,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card') \gset
SELECT coalesce(max(id), 0) + 1000 AS missing FROM order_system.orders \gset
CREATE ROLE regress_sec_ben NOLOGIN;
SELECT order_system.set_member_login('regress_sec_ben', :ben);
GRANT USAGE ON SCHEMA regress TO regress_sec_ben;
SET ROLE regress_sec_ben;
SELECT f.fn,
	   regexp_replace(regress.try(format('SELECT order_system.%s(%s)', f.fn, :ann_order)), 'order \d+', 'order N') AS foreign_order,
	   regexp_replace(regress.try(format('SELECT order_system.%s(%s)', f.fn, :missing)), 'order \d+', 'order N') AS missing_order,
	   regress.try(format('SELECT order_system.%s(%s)', f.fn, :ann_order))
		   = replace(regress.try(format('SELECT order_system.%s(%s)', f.fn, :missing)), :'missing', :'ann_order') AS same
  FROM (VALUES ('cancel_order'), ('get_order')) f(fn);
RESET ROLE;
SELECT status FROM order_system.orders WHERE id = :ann_order;
SELECT order_system.clear_member_login('regress_sec_ben');
REVOKE USAGE ON SCHEMA regress FROM regress_sec_ben;
DROP ROLE regress_sec_ben;

----------------------------------------------------------------- emit_event namespaces
-- Types in the namespaces of the extension's events (member, points, product,
-- order, payment) are refused when the trigger fires, in any case; names
-- that merely start alike are not.
CREATE SCHEMA sec;
CREATE TABLE sec.thing (id bigint, label text);
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
CREATE FUNCTION pg_temp.fire(args text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE format('CREATE TRIGGER probe AFTER INSERT ON sec.thing FOR EACH ROW EXECUTE FUNCTION order_system.emit_event(%s)',
				   args);
	r := regress.try($i$INSERT INTO sec.thing VALUES (1, 'x') RETURNING 'inserted'$i$);
	DROP TRIGGER probe ON sec.thing;
	RETURN r;
END
$$;
SELECT args, pg_temp.fire(args) AS result FROM (VALUES
	($$'type=payment.requested'$$),
	($$'type=payment'$$),
	($$'type=order.paid'$$),
	($$'type=points.adjusted'$$),
	($$'type=member.created.x'$$),
	($$'type=product.'$$),
	($$'type=PAYMENT.Requested'$$),
	($$'aggregate=payment'$$),
	($$'aggregate=ORDER', 'type=shop'$$),
	($$'aggregate=Member', 'type=shop'$$),
	($$'aggregate=order ', 'type=shop'$$),
	($$'aggregate=thing', 'type= payment'$$),
	($$'aggregate=thing', 'type=payments.requested'$$),
	($$'aggregate=thing', 'type=orders'$$),
	($$'aggregate=thing', 'type=shop.payment'$$)) t(args);
SELECT event_type, aggregate FROM regress.events(:ev);
DROP SCHEMA sec CASCADE;
