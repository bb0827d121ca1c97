-- invariants.sql: check_invariants() stays empty through every saga path and
-- names each kind of corruption it exists to catch.
--
-- Part 1 walks the order paths one scenario at a time (card paid and
-- completed, points, bank transfer deposit, declined points+card split and
-- its compensation, cancel, expire, refund) and asks the checker after each.
-- Part 2 corrupts that healthy state one way at a time, undone after each
-- (a ledger or stock edit, the status guard bypassed by
-- session_replication_role or DISABLE TRIGGER, a CHECK constraint dropped),
-- and asserts exactly which invariant rows the checker reports.
BEGIN;
SELECT plan(58);

SELECT order_system.create_member('Inv Ann', 'inv.ann@example.com', 10000) AS m \gset
SELECT order_system.create_product('INV-A', 'Widget', 1000, 'KRW', 10) AS pa \gset
SELECT order_system.create_product('INV-B', 'Gadget', 2500, 'KRW', 5) AS pb \gset
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'healthy after setup');

---------------------------------------------------------------- card: paid, then completed

SELECT order_id AS o_card FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :pa, :pb)::jsonb,
	'card') \gset
SELECT results_eq(format('SELECT status::text, total_amount::bigint FROM order_system.orders WHERE id = %s', :o_card),
	$$VALUES ('pending_payment'::text, 4500::bigint)$$, 'card: the order waits for its payment');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'card: healthy while pending');
SELECT is(order_system.confirm_payment(:o_card, 'gw-1'), 'paid', 'card: the gateway confirms');
SELECT is(order_system.complete_order(:o_card), 'completed', 'card: the order is fulfilled');
SELECT is((order_system.get_member(:m)).points_balance, 10045::bigint,
	'card: completion earns 1% of 4500 in points');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'card: healthy when completed');

---------------------------------------------------------------- points: captured at once

SELECT order_id AS o_points FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :pa)::jsonb, 'points') \gset
SELECT results_eq(format($$SELECT o.status::text, p.status::text FROM order_system.orders o
						   JOIN order_system.payment p ON p.order_id = o.id WHERE o.id = %s$$, :o_points),
	$$VALUES ('paid'::text, 'captured'::text)$$, 'points: paid and captured at once');
SELECT is((order_system.get_member(:m)).points_balance, 9045::bigint, 'points: 1000 points spent');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'points: healthy when paid');

---------------------------------------------------------------- bank transfer: the deposit arrives

SELECT order_id AS o_bank, payment_reference AS va FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :pb)::jsonb, 'bank_transfer') \gset
SELECT ok(order_system.virtual_account_valid(:'va'), 'bank transfer: a valid virtual account is issued');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'bank transfer: healthy while pending');
SELECT is(order_system.confirm_deposit(:'va', 2500), 'paid', 'bank transfer: the deposit pays the order');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'bank transfer: healthy when paid');

---------------------------------------------------------------- points + card, card declined

SELECT order_id AS o_split FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 3}]', :pa)::jsonb, 'points_card', NULL,
	'{"points": 500}') \gset
SELECT results_eq(format('SELECT points_amount::bigint, external_amount::bigint, status::text FROM order_system.payment'
						 ' WHERE order_id = %s', :o_split),
	$$VALUES (500::bigint, 2500::bigint, 'pending'::text)$$, 'split: 500 from points, 2500 by card');
SELECT is((order_system.get_member(:m)).points_balance, 8545::bigint, 'split: the points part is spent');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'split: healthy while pending');
SELECT is(order_system.decline_payment(:o_split, 'card declined'), 'cancelled',
	'split: the declined card cancels the order');
SELECT is((order_system.get_member(:m)).points_balance, 9045::bigint,
	'split: the compensation gives the 500 points back');
SELECT is((SELECT status FROM order_system.payment WHERE order_id = :o_split), 'declined',
	'split: the payment is declined');
SELECT results_eq(format($$SELECT order_system.decline_payment(%s, 'again'), order_system.cancel_order(%s)$$,
						 :o_split, :o_split),
	$$VALUES ('cancelled'::text, 'cancelled'::text)$$, 'split: a repeated decline or cancel is a no-op');
SELECT is((order_system.get_member(:m)).points_balance, 9045::bigint,
	'split: the repeats refund nothing twice');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'split: healthy after compensation');

---------------------------------------------------------------- cancel

SELECT order_id AS o_cancel FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :pa)::jsonb, 'card') \gset
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'cancel: healthy while pending');
SELECT is(order_system.cancel_order(:o_cancel, 'changed mind'), 'cancelled', 'cancel: the member cancels');
SELECT is((SELECT status FROM order_system.payment WHERE order_id = :o_cancel), 'voided',
	'cancel: the pending payment is voided');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'cancel: healthy when cancelled');

---------------------------------------------------------------- expire (points + card)

SELECT order_id AS o_expire FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :pb)::jsonb, 'points_card', NULL,
	'{"points": 300}') \gset
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'expire: healthy while pending');
-- now() is frozen inside this transaction: move the deadline into the past.
UPDATE order_system.payment SET expires_at = now() - interval '1 second' WHERE order_id = :o_expire;
SELECT is(order_system.expire_orders(), 1, 'expire: one order is past its deadline');
SELECT results_eq(format($$SELECT o.status::text, p.status::text FROM order_system.orders o
						   JOIN order_system.payment p ON p.order_id = o.id WHERE o.id = %s$$, :o_expire),
	$$VALUES ('expired'::text, 'expired'::text)$$, 'expire: order and payment are expired');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'expire: healthy when expired');

---------------------------------------------------------------- refund (the points order)

SELECT is(order_system.refund_order(:o_points, 'returned'), 'refunded', 'refund: the paid order is refunded');
SELECT is((order_system.get_member(:m)).points_balance, 10045::bigint,
	'refund: every spent point is back; only the earned 45 remain');
SELECT results_eq(format($$SELECT stock_available::bigint, stock_reserved::bigint, stock_sold::bigint,
								  stock_received::bigint FROM order_system.product WHERE id IN (%s, %s) ORDER BY id$$, :pa, :pb),
	$$VALUES (8::bigint, 0::bigint, 2::bigint, 10::bigint), (3::bigint, 0::bigint, 2::bigint, 5::bigint)$$,
	'refund: only the card and bank orders still hold sold stock');
SELECT is(order_system.refund_order(:o_points, 'returned twice'), 'refunded', 'refund: a repeat is a no-op');
SELECT is((order_system.get_member(:m)).points_balance, 10045::bigint, 'refund: nothing is refunded twice');
SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'refund: healthy when refunded');

---------------------------------------------------------------- part 2: corruption is caught

-- Run one corruption (one or more statements), collect what the checker
-- reports, and undo the corruption by failing a subtransaction; plpgsql
-- variables survive the rollback, so the report comes back.
CREATE FUNCTION pg_temp.invariants_after(corruption text)
RETURNS TABLE (invariant text, subject text) LANGUAGE plpgsql AS $f$
DECLARE
	found text[] := '{}';
BEGIN
	BEGIN
		EXECUTE corruption;
		SELECT coalesce(array_agg(c.invariant || '|' || c.subject), '{}') INTO found
		  FROM order_system.check_invariants() c;
		RAISE EXCEPTION 'undo the corruption' USING ERRCODE = 'TSUND';
	EXCEPTION WHEN SQLSTATE 'TSUND' THEN
		NULL;
	END;
	RETURN QUERY SELECT split_part(f, '|', 1), split_part(f, '|', 2) FROM unnest(found) f;
END
$f$;

SELECT throws_ok(format($$UPDATE order_system.orders SET status = 'pending_payment' WHERE id = %s$$, :o_card),
	'OS007', NULL, 'the status guard refuses an illegal move made directly on the table');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'UPDATE order_system.product SET stock_available = stock_available - 1,'
		' stock_reserved = stock_reserved + 1 WHERE id = %s', :pa)),
	format('VALUES (%L, %L)', 'stock_matches_orders', 'product ' || :pa),
	'stock reserved with no order behind it: stock_matches_orders');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$UPDATE order_system.points_ledger SET delta = delta + 1 WHERE member_id = %s AND kind = 'adjust'$$, :m)),
	format('VALUES (%L, %L)', 'points_ledger_matches_balance', 'member ' || :m),
	'an edited ledger row: points_ledger_matches_balance');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'UPDATE order_system.member SET points_balance = points_balance + 100 WHERE id = %s', :m)),
	format('VALUES (%L, %L)', 'points_ledger_matches_balance', 'member ' || :m),
	'points granted without a ledger row: points_ledger_matches_balance');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$UPDATE order_system.payment SET status = 'voided' WHERE order_id = %s$$, :o_card)),
	format('VALUES (%L, %L)', 'order_payment_consistent', 'order ' || :o_card),
	'a completed order with a voided payment: order_payment_consistent');

-- The declined split's compensation lost: refund row gone, balance lowered to match.
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$DELETE FROM order_system.points_ledger WHERE order_id = %s AND kind = 'refund';
		  UPDATE order_system.member SET points_balance = points_balance - 500 WHERE id = %s$$,
		:o_split, :m)),
	format('VALUES (%L, %L)', 'order_points_settled', 'order ' || :o_split),
	'a cancelled order that kept the points it spent: order_points_settled');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'UPDATE order_system.order_line SET amount = amount + 1 WHERE order_id = %s AND product_id = %s',
		:o_card, :pa)),
	format('VALUES (%L, %L), (%L, %L)', 'order_total_matches_lines', 'order ' || :o_card,
		   'order_line_amount', 'order ' || :o_card),
	'a line amount that no longer adds up: order_total_matches_lines, order_line_amount');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'UPDATE order_system.order_line SET unit_price = unit_price + 7 WHERE order_id = %s AND product_id = %s',
		:o_card, :pa)),
	format('VALUES (%L, %L)', 'order_line_amount', 'order ' || :o_card),
	'a unit price that no longer explains the line amount: order_line_amount');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'UPDATE order_system.orders SET points_earned = points_earned + 5 WHERE id = %s', :o_card)),
	format('VALUES (%L, %L)', 'order_points_earned', 'order ' || :o_card),
	'points earned that the ledger does not show: order_points_earned');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$DELETE FROM order_system.outbox
		   WHERE aggregate_type = 'order' AND aggregate_id = %s AND event_type = 'order.placed'$$, :o_bank)),
	format('VALUES (%L, %L)', 'order_has_placed_event', 'order ' || :o_bank),
	'an order whose order.placed event is missing: order_has_placed_event');

-- Past the guard: a completed order sent back to pending keeps its sold stock and captured payment.
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$SET LOCAL session_replication_role = replica;
		  UPDATE order_system.orders SET status = 'pending_payment' WHERE id = %s$$, :o_card)),
	format('VALUES (%L, %L), (%L, %L), (%L, %L)',
		   'stock_matches_orders', 'product ' || :pa, 'stock_matches_orders', 'product ' || :pb,
		   'order_payment_consistent', 'order ' || :o_card),
	'guard bypassed (replica role), completed -> pending: stock and payment disagree');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$ALTER TABLE order_system.orders DISABLE TRIGGER orders_status_guard;
		  UPDATE order_system.orders SET status = 'paid' WHERE id = %s$$, :o_split)),
	format('VALUES (%L, %L), (%L, %L), (%L, %L)',
		   'stock_matches_orders', 'product ' || :pa, 'order_payment_consistent', 'order ' || :o_split,
		   'order_points_settled', 'order ' || :o_split),
	'guard disabled, cancelled -> paid: no sold stock, declined payment, points already refunded');

-- The remaining invariants sit behind domains and CHECK constraints: drop
-- one to break it.
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'ALTER DOMAIN order_system.amount DROP CONSTRAINT amount_check;
		 UPDATE order_system.product
			SET stock_available = -1, stock_received = stock_received - stock_available - 1
		  WHERE id = %s', :pa)),
	format('VALUES (%L, %L)', 'stock_negative', 'product ' || :pa), 'negative stock: stock_negative');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		'ALTER TABLE order_system.product DROP CONSTRAINT product_stock_adds_up;
		 UPDATE order_system.product SET stock_available = stock_available + 1 WHERE id = %s', :pb)),
	format('VALUES (%L, %L)', 'stock_adds_up', 'product ' || :pb), 'stock out of thin air: stock_adds_up');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$ALTER DOMAIN order_system.amount DROP CONSTRAINT amount_check;
		  INSERT INTO order_system.points_ledger (member_id, kind, delta, reason)
		  SELECT id, 'adjust', -(points_balance + 1), 'overdraw' FROM order_system.member WHERE id = %s;
		  UPDATE order_system.member SET points_balance = -1 WHERE id = %s$$, :m, :m)),
	format('VALUES (%L, %L)', 'points_negative', 'member ' || :m), 'an overdrawn balance: points_negative');

SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$ALTER DOMAIN order_system.order_status DROP CONSTRAINT order_status_check;
		  SET LOCAL session_replication_role = replica;
		  UPDATE order_system.orders SET status = 'shipped' WHERE id = %s$$, :o_bank)),
	format('VALUES (%L, %L), (%L, %L), (%L, %L)',
		   'order_state_legal', 'order ' || :o_bank, 'stock_matches_orders', 'product ' || :pb,
		   'order_payment_consistent', 'order ' || :o_bank),
	'a status the state machine does not know: order_state_legal');

-- References are not foreign keys: a row gone behind the guards is found.
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)', format(
		$$SET LOCAL session_replication_role = replica;
		  DELETE FROM order_system.payment_method WHERE name = 'bank_transfer';
		  DELETE FROM order_system.orders WHERE id = %s$$, :o_bank)),
	format('VALUES (%L, %L), (%L, %L), (%L, %L), (%L, %L) UNION ALL %s',
		   'payment_order_exists', 'payment ' || (SELECT id FROM order_system.payment WHERE order_id = :o_bank),
		   'reference_exists', 'payment ' || (SELECT id FROM order_system.payment WHERE order_id = :o_bank),
		   'order_line_order_exists', 'order line ' || :o_bank || '/' || :pb,
		   'stock_matches_orders', 'product ' || :pb,
		   format($$SELECT 'event_order_exists', 'event ' || e.id FROM order_system.outbox e
					 WHERE e.aggregate_type = 'order' AND e.aggregate_id = %s$$, :o_bank)),
	'an order and a payment method deleted behind the guards: payment_order_exists, order_line_order_exists, reference_exists, event_order_exists');

-- A consumer position from another cluster (a restored dump) is reported
-- until it is re-based.
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)',
		$$SELECT order_system.register_consumer('inv-foreign');
		  UPDATE order_system.consumer SET system_identifier = 1 WHERE name = 'inv-foreign'$$),
	format('VALUES (%L, %L)', 'consumer_position_valid', 'consumer inv-foreign'),
	'a position stamped by another cluster: consumer_position_valid');
SELECT set_eq(format('SELECT * FROM pg_temp.invariants_after(%L)',
		$$SELECT order_system.register_consumer('inv-ahead');
		  UPDATE order_system.consumer
			 SET last_snapshot = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000 || ':'
								  || pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000 || ':')::pg_snapshot
		   WHERE name = 'inv-ahead'$$),
	format('VALUES (%L, %L)', 'consumer_position_valid', 'consumer inv-ahead'),
	'a position ahead of the cluster''s xids: consumer_position_valid');

SELECT is_empty('SELECT * FROM order_system.check_invariants()', 'healthy again after every corruption is undone');
SELECT throws_ok(format($$UPDATE order_system.orders SET status = 'paid' WHERE id = %s$$, :o_split),
	'OS007', NULL, 'the status guard is back in force');

SELECT * FROM finish();
ROLLBACK;
