-- Triggers for existing schemas: emit_event() turning a shop's own table
-- changes into outbox events (each option, the ignore-only update, a WHEN
-- condition, option errors), place_order_trigger() placing orders from a
-- checkout table, who may attach them, and a hostile search_path that must
-- not reach into either.
\set VERBOSITY terse
SELECT regress.restart_ids(80000);

----------------------------------------------------------------- a shop schema
-- The shop belongs to a low-privilege role; a clerk may only write its tables.
CREATE ROLE regress_shop_owner NOLOGIN;
CREATE ROLE regress_shop_clerk NOLOGIN;
GRANT USAGE ON SCHEMA regress TO regress_shop_owner, regress_shop_clerk;
CREATE SCHEMA shop AUTHORIZATION regress_shop_owner;
SET ROLE regress_shop_owner;
CREATE TABLE shop.customer (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	email text,
	tier text NOT NULL DEFAULT 'basic',
	prefs jsonb,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shop.customer_note (
	note_no integer PRIMARY KEY,
	customer_id integer,
	body text
);
CREATE TABLE shop.checkout (
	id integer PRIMARY KEY,
	buyer bigint,
	lines jsonb,
	payment_method text NOT NULL DEFAULT 'card',
	idempotency_key text,
	order_id bigint,
	order_status text
);
GRANT USAGE ON SCHEMA shop TO regress_shop_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shop TO regress_shop_clerk;

----------------------------------------------------------------- who may attach them
-- CREATE TRIGGER needs USAGE on order_system and EXECUTE on the function.
SELECT regress.try($$CREATE TRIGGER customer_events AFTER INSERT OR UPDATE OR DELETE ON shop.customer
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event('ignore=updated_at')$$) AS without_usage;
RESET ROLE;
GRANT USAGE ON SCHEMA order_system TO regress_shop_owner;
SET ROLE regress_shop_owner;
SELECT regress.try($$CREATE TRIGGER customer_events AFTER INSERT OR UPDATE OR DELETE ON shop.customer
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event('ignore=updated_at')$$) AS without_execute;
RESET ROLE;
GRANT EXECUTE ON FUNCTION order_system.emit_event(), order_system.place_order_trigger()
	TO regress_shop_owner;
SET ROLE regress_shop_owner;
-- Every change of a customer, except a change of updated_at alone.
CREATE TRIGGER customer_events AFTER INSERT OR UPDATE OR DELETE ON shop.customer
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event('ignore=updated_at');
-- Tier changes only (WHEN), as their own aggregate and type, id and tier only.
CREATE TRIGGER customer_tier AFTER UPDATE OF tier ON shop.customer
	FOR EACH ROW WHEN (OLD.tier IS DISTINCT FROM NEW.tier)
	EXECUTE FUNCTION order_system.emit_event('aggregate=customer_tier', 'type=loyalty.tier',
											 'cols=id, tier');
-- Notes are events of their customer: the key is customer_id (an integer).
CREATE TRIGGER note_events AFTER INSERT OR DELETE ON shop.customer_note
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event('key=customer_id', 'type=note');
-- Checkouts place orders; the member id is in column buyer.
CREATE TRIGGER checkout_place BEFORE INSERT ON shop.checkout
	FOR EACH ROW EXECUTE FUNCTION order_system.place_order_trigger('member_id=buyer');
RESET ROLE;

----------------------------------------------------------------- emit_event
-- The clerk has no privilege in order_system, yet the triggers write events.
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
SET ROLE regress_shop_clerk;
SELECT regress.try('SELECT count(*) FROM order_system.outbox') AS clerk_reads_outbox;
INSERT INTO shop.customer (id, name, email, prefs)
VALUES (1, 'Kim Minji', 'minji@example.com', '{"newsletter": true}'),
	   (2, 'Lee Jun', NULL, NULL);
-- Only updated_at changes: no event.  Nothing changes: no event.
UPDATE shop.customer SET updated_at = updated_at + interval '1 hour';
UPDATE shop.customer SET name = name WHERE id = 1;
-- A tier change: customer.update, and loyalty.tier.update from customer_tier.
UPDATE shop.customer SET tier = 'gold', updated_at = now() WHERE id = 1;
-- A name change: customer_tier's WHEN is false, so customer.update alone.
UPDATE shop.customer SET name = 'Lee Jun-ho' WHERE id = 2;
-- The same tier again: UPDATE OF tier fires, the WHEN condition does not.
UPDATE shop.customer SET tier = 'gold' WHERE id = 1;
DELETE FROM shop.customer WHERE id = 2;
INSERT INTO shop.customer_note VALUES (10, 1, 'prefers morning delivery');
DELETE FROM shop.customer_note WHERE note_no = 10;
-- A rolled-back change leaves no event: the event is in the same transaction.
BEGIN;
INSERT INTO shop.customer (id, name) VALUES (3, 'Park Soo');
ROLLBACK;
RESET ROLE;
SELECT event_type, aggregate, payload FROM regress.events(:ev);

-- A NULL key raises 22004 and nothing is written.
SELECT regress.counts() AS before \gset
SELECT regress.try($$INSERT INTO shop.customer_note VALUES (11, NULL, 'orphan') RETURNING 'inserted'$$) AS null_key;
SELECT regress.counts() = :'before' AS nothing_written,
	   (SELECT count(*) FROM shop.customer_note) AS notes;

-- A partitioned table's events are named after it, not after the partition.
CREATE TABLE shop.visit (id bigint, day date) PARTITION BY RANGE (day);
CREATE TABLE shop.visit_2024 PARTITION OF shop.visit FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TRIGGER visit_events AFTER INSERT ON shop.visit
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event();
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
INSERT INTO shop.visit VALUES (7, '2024-05-01');
SELECT event_type, aggregate, payload FROM regress.events(:ev);

-- A cast from the owner's own type to json is the owner's code: turning the
-- row into JSON runs as the table's owner, not as the extension's owner.
SET ROLE regress_shop_owner;
CREATE TYPE shop.mood AS ENUM ('happy', 'grumpy');
CREATE FUNCTION shop.mood_json(m shop.mood) RETURNS json LANGUAGE sql
	AS $$ SELECT json_build_object('mood', m::text, 'seen_as', current_user) $$;
CREATE CAST (shop.mood AS json) WITH FUNCTION shop.mood_json(shop.mood);
CREATE TABLE shop.feedback (id bigint, mood shop.mood);
GRANT INSERT ON shop.feedback TO regress_shop_clerk;
CREATE TRIGGER feedback_events AFTER INSERT ON shop.feedback
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event();
SET ROLE regress_shop_clerk;
INSERT INTO shop.feedback VALUES (1, 'happy');
RESET ROLE;
SELECT event_type, aggregate, payload FROM regress.events(:ev) WHERE event_type LIKE 'feedback.%';

-- Option and protocol errors, raised when the trigger first fires (the last
-- probe is fine: an aggregate is reserved only by its exact name).
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
CREATE TABLE shop.scratch (id bigint, label text, price numeric);
CREATE FUNCTION pg_temp.probe(timing text, level text, args text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE format('CREATE TRIGGER probe %s ON shop.scratch FOR EACH %s EXECUTE FUNCTION order_system.emit_event(%s)',
				   timing, level, args);
	r := regress.try($i$INSERT INTO shop.scratch VALUES (1, 'x', 1.5) RETURNING 'inserted'$i$);
	DROP TRIGGER probe ON shop.scratch;
	RETURN r;
END
$$;
SELECT timing, level, args, pg_temp.probe(timing, level, args) AS result FROM (VALUES
	('AFTER INSERT', 'ROW', $$'when=price>1'$$),
	('AFTER INSERT', 'ROW', $$'cols'$$),
	('AFTER INSERT', 'ROW', $$'=id'$$),
	('AFTER INSERT', 'ROW', $$'cols='$$),
	('AFTER INSERT', 'ROW', $$'type=a', 'type=b'$$),
	('AFTER INSERT', 'ROW', $$'cols=id,nosuch'$$),
	('AFTER INSERT', 'ROW', $$'cols=id,,label'$$),
	('AFTER INSERT', 'ROW', $$'ignore=xmin'$$),
	('AFTER INSERT', 'ROW', $$'key=nosuch'$$),
	('AFTER INSERT', 'ROW', $$'key=price'$$),
	('AFTER INSERT', 'ROW', $$'cols=id', 'ignore=label'$$),
	('AFTER INSERT', 'ROW', $$'aggregate=order'$$),
	('AFTER INSERT', 'ROW', $$'type=payment'$$),
	('AFTER INSERT', 'ROW', $$'aggregate=product', 'type=catalog'$$),
	('AFTER INSERT', 'ROW', format('%L', 'type=' || repeat('t', 64))),
	('BEFORE INSERT', 'ROW', ''),
	('AFTER INSERT', 'STATEMENT', ''),
	('AFTER INSERT', 'ROW', $$'cols=label,id', 'aggregate=product_scratch'$$)) t(timing, level, args);
SELECT event_type, aggregate, payload FROM regress.events(:ev);
-- The extension's own tables take none (a rolled-back try as superuser).
BEGIN;
CREATE TRIGGER probe AFTER INSERT ON order_system.member
	FOR EACH ROW EXECUTE FUNCTION order_system.emit_event();
SELECT regress.try($$SELECT order_system.create_member('Loop')$$) AS own_table;
ROLLBACK;
-- Called as a function, not as a trigger.
SELECT regress.try('SELECT order_system.emit_event()') AS not_a_trigger;

----------------------------------------------------------------- place_order_trigger
SELECT order_system.create_member('Checkout Buyer', 'checkout@example.com', 50000) AS m \gset
SELECT order_system.create_product('TRG-TEA', 'Green tea', 3000, 'KRW', 10) AS tea \gset
SELECT order_system.create_product('TRG-CUP', 'Tea cup', 8000, 'KRW', 1) AS cup \gset
SELECT order_system.create_product('TRG-POT', 'Teapot', 60000, 'KRW', 5) AS pot \gset
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
SET ROLE regress_shop_clerk;
-- A card order: pending, its id and status written into the new row.
INSERT INTO shop.checkout (id, buyer, lines)
VALUES (1, :m, format('[{"product_id": %s, "quantity": 2}]', :tea)::jsonb)
RETURNING id, buyer, payment_method, order_id, order_status;
-- Points: paid at once.  Any order_id the row brings is replaced.
INSERT INTO shop.checkout (id, buyer, lines, payment_method, order_id)
VALUES (2, :m, format('[{"product_id": %s, "quantity": 1}]', :tea)::jsonb, 'points', 999)
RETURNING id, order_id, order_status;
RESET ROLE;
SELECT o.id, o.member_id = :m AS buyer, o.status, o.total_amount, o.payment_method, p.status AS payment
  FROM order_system.orders o JOIN order_system.payment p ON p.order_id = o.id
 WHERE o.id IN (SELECT order_id FROM shop.checkout) ORDER BY o.id;
SELECT event_type, aggregate, payload FROM regress.events(:ev);

-- Out of stock: OS005, no checkout row, no order, stock untouched.
SELECT regress.counts() AS before \gset
SET ROLE regress_shop_clerk;
SELECT regress.try(format($$INSERT INTO shop.checkout (id, buyer, lines)
	VALUES (3, %s, '[{"product_id": %s, "quantity": 1}, {"product_id": %s, "quantity": 2}]') RETURNING order_id$$,
	:m, :tea, :cup)) AS out_of_stock;
RESET ROLE;
SELECT regress.counts() = :'before' AS nothing_written,
	   (SELECT count(*) FROM shop.checkout WHERE id = 3) AS checkout_rows;

-- An idempotent retry: the same key and request give the same order again.
SET ROLE regress_shop_clerk;
INSERT INTO shop.checkout (id, buyer, lines, idempotency_key)
VALUES (4, :m, format('[{"product_id": %s, "quantity": 1}]', :cup)::jsonb, 'chk-4')
RETURNING id, order_id, order_status;
RESET ROLE;
SELECT regress.counts() AS before \gset
SET ROLE regress_shop_clerk;
INSERT INTO shop.checkout (id, buyer, lines, idempotency_key)
VALUES (5, :m, format('[{"product_id": %s, "quantity": 1}]', :cup)::jsonb, 'chk-4')
RETURNING id, order_id, order_status;
-- The same key for another request: OS009.
SELECT regress.try(format($$INSERT INTO shop.checkout (id, buyer, lines, idempotency_key)
	VALUES (6, %s, '[{"product_id": %s, "quantity": 3}]', 'chk-4') RETURNING order_id$$, :m, :tea)) AS key_reused;
RESET ROLE;
SELECT regress.counts() = :'before' AS retry_wrote_no_order;

-- Domain and argument errors keep their SQLSTATE; none leaves a row.
SELECT regress.counts() AS before \gset
SET ROLE regress_shop_clerk;
SELECT what, regress.try(format($$INSERT INTO shop.checkout (id, buyer, lines, payment_method, idempotency_key)
	VALUES (7, %L, %L, %L, %L) RETURNING order_id$$, buyer, lines, method, key)) AS result
  FROM (VALUES
	('unknown member', 424242, format('[{"product_id": %s, "quantity": 1}]', :tea), 'card', NULL),
	('no buyer', NULL, format('[{"product_id": %s, "quantity": 1}]', :tea), 'card', NULL),
	('no lines', :m, NULL, 'card', NULL),
	('empty lines', :m, '[]', 'card', NULL),
	('unknown product', :m, '[{"product_id": 424242, "quantity": 1}]', 'card', NULL),
	('unknown method', :m, format('[{"product_id": %s, "quantity": 1}]', :tea), 'cash', NULL),
	('empty key', :m, format('[{"product_id": %s, "quantity": 1}]', :tea), 'card', ''),
	('long key', :m, format('[{"product_id": %s, "quantity": 1}]', :tea), 'card', repeat('k', 256)),
	('too many', :m, format('[{"product_id": %s, "quantity": 9}]', :tea), 'card', NULL),
	('not enough points', :m, format('[{"product_id": %s, "quantity": 1}]', :pot), 'points', NULL)
	) t(what, buyer, lines, method, key);
RESET ROLE;
SELECT regress.counts() = :'before' AS nothing_written, count(*) AS checkout_rows FROM shop.checkout;

-- Column options: json columns and payment_params; explicit names must exist.
CREATE TABLE shop.quick_buy (
	member integer, items json, method varchar(20), params json, placed bigint, state text
);
CREATE TRIGGER quick_buy_place BEFORE INSERT ON shop.quick_buy
	FOR EACH ROW EXECUTE FUNCTION order_system.place_order_trigger(
		'member_id=member', 'lines=items', 'payment_method=method', 'payment_params=params',
		'order_id=placed', 'status=state');
INSERT INTO shop.quick_buy (member, items, method, params)
VALUES (:m, format('[{"product_id": %s, "quantity": 2}]', :tea)::json, 'points_card', '{"points": 1000}')
RETURNING placed, state;
SELECT amount, points_amount, external_amount FROM order_system.payment
 WHERE order_id = (SELECT placed FROM shop.quick_buy);

CREATE FUNCTION pg_temp.probe_place(timing text, level text, args text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE format('CREATE TRIGGER probe %s ON shop.quick_buy FOR EACH %s EXECUTE FUNCTION order_system.place_order_trigger(%s)',
				   timing, level, args);
	r := regress.try(CASE WHEN timing LIKE '%UPDATE' THEN 'UPDATE shop.quick_buy SET member = member RETURNING placed'
						  ELSE 'INSERT INTO shop.quick_buy (member) VALUES (1) RETURNING placed' END);
	DROP TRIGGER probe ON shop.quick_buy;
	RETURN r;
END
$$;
DROP TRIGGER quick_buy_place ON shop.quick_buy;
SELECT timing, level, args, pg_temp.probe_place(timing, level, args) AS result FROM (VALUES
	('BEFORE INSERT', 'ROW', ''),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=items', 'payment_method=method', 'order_id=placed', 'idempotency_key=key'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=items', 'payment_method=method', 'order_id=placed', 'method=x'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=method', 'lines=items', 'payment_method=method', 'order_id=placed'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=method', 'payment_method=method', 'order_id=placed'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=items', 'payment_method=params', 'order_id=placed'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=items', 'payment_method=method', 'order_id=member'$$),
	('BEFORE INSERT', 'ROW', $$'member_id=member', 'lines=items', 'payment_method=method', 'order_id=placed', 'status=method'$$),
	('AFTER INSERT', 'ROW', ''),
	('BEFORE UPDATE', 'ROW', ''),
	('BEFORE INSERT', 'STATEMENT', '')) t(timing, level, args);
SELECT regress.try('SELECT order_system.place_order_trigger()') AS not_a_trigger;

----------------------------------------------------------------- a hostile search_path
-- The clerk plants functions and operators that would record any call, in
-- a schema it puts first on its search_path (before pg_catalog, too).
RESET ROLE;
CREATE SCHEMA evil AUTHORIZATION regress_shop_clerk;
SET ROLE regress_shop_clerk;
CREATE TABLE evil.hits (what text);
CREATE FUNCTION evil.hit(what text) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO evil.hits VALUES (what) RETURNING true $$;
CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE sql
	AS $$ SELECT evil.hit(format('%s = %s as %s', $1, $2, current_user)) $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
CREATE FUNCTION evil.eq(text, text) RETURNS boolean LANGUAGE sql
	AS $$ SELECT evil.hit(format('%s = %s as %s', $1, $2, current_user)) $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq);
CREATE FUNCTION evil.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE sql
	AS $$ SELECT CASE WHEN evil.hit('jsonb_build_object as ' || current_user) THEN '{}'::jsonb END $$;
CREATE FUNCTION evil.row_to_json(record) RETURNS json LANGUAGE plpgsql
	AS $$ BEGIN PERFORM evil.hit('row_to_json as ' || current_user); RETURN '{}'; END $$;
CREATE FUNCTION evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE sql
	AS $$ SELECT CASE WHEN evil.hit('to_jsonb as ' || current_user) THEN '{}'::jsonb END $$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE sql
	AS $$ SELECT CASE WHEN evil.hit('nextval as ' || current_user) THEN 1::bigint END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql
	AS $$ SELECT CASE WHEN evil.hit('now as ' || current_user) THEN '2000-01-01'::timestamptz END $$;
-- The trap works for anything that resolves names through this path.
SET search_path = evil, pg_catalog, public;
SELECT 1::bigint = 1::bigint AS bigint_eq, 'a'::text = 'a' AS text_eq,
	   jsonb_build_object('k', 'v') AS built, now() = '2000-01-01' AS planted_now;
RESET search_path;
SELECT what FROM evil.hits ORDER BY what;
TRUNCATE evil.hits;
RESET ROLE;

-- Both triggers fire under the brief's path and under one that puts evil
-- before pg_catalog; the planted objects never run.
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
SET ROLE regress_shop_clerk;
SET search_path = evil, public;
INSERT INTO shop.customer (id, name) VALUES (20, 'Choi Evil-path');
UPDATE shop.customer SET tier = 'silver' WHERE id = 20;
INSERT INTO shop.checkout (id, buyer, lines, idempotency_key)
VALUES (20, :m, format('[{"product_id": %s, "quantity": 1}]', :tea)::jsonb, 'chk-20')
RETURNING order_id, order_status;
SET search_path = evil, pg_catalog, public;
DELETE FROM shop.customer WHERE id = 20;
INSERT INTO shop.checkout (id, buyer, lines, idempotency_key)
VALUES (21, :m, format('[{"product_id": %s, "quantity": 1}]', :tea)::jsonb, 'chk-20')
RETURNING order_id, order_status;
INSERT INTO shop.checkout (id, buyer, lines, payment_method)
VALUES (22, :m, format('[{"product_id": %s, "quantity": 1}]', :tea)::jsonb, 'bank_transfer')
RETURNING order_id, order_status;
INSERT INTO shop.customer_note VALUES (20, 1, 'evil path');
RESET search_path;
SELECT count(*) AS planted_calls FROM evil.hits;
RESET ROLE;
SELECT event_type, aggregate, payload FROM regress.events(:ev);

----------------------------------------------------------------- privileges are checked on attaching
-- Revoking EXECUTE later does not detach a trigger: drop it to stop it.
REVOKE EXECUTE ON FUNCTION order_system.emit_event() FROM regress_shop_owner;
SELECT coalesce(max(id), 0) AS ev FROM order_system.outbox \gset
SET ROLE regress_shop_clerk;
INSERT INTO shop.customer (id, name) VALUES (30, 'Still Emitting');
RESET ROLE;
SELECT event_type, aggregate FROM regress.events(:ev);

-- Everything placed here is consistent.
SELECT * FROM order_system.check_invariants();

DROP SCHEMA shop CASCADE;
DROP SCHEMA evil CASCADE;
DROP OWNED BY regress_shop_owner, regress_shop_clerk;
DROP ROLE regress_shop_owner;
DROP ROLE regress_shop_clerk;
