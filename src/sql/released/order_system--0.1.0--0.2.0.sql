/* order_system--0.1.0--0.2.0.sql: durable event delivery.
 *
 * Named consumers read the outbox in batches cut on transaction snapshots
 * (as PgQ does): a batch holds exactly the events whose transactions
 * committed after the consumer's last acknowledged snapshot and before the
 * batch's snapshot.  A transaction that took a lower outbox id but commits
 * later lands in a later batch instead of being skipped.  Delivery is
 * at-least-once: an unacknowledged batch is delivered again, whole. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION order_system UPDATE TO '0.2.0'" to load this file. \quit

SET LOCAL search_path TO pg_catalog, pg_temp;

CREATE INDEX outbox_tx_idx ON order_system.outbox (tx_id);

CREATE TABLE order_system.consumer (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{0,62}$'),
	last_snapshot pg_snapshot NOT NULL,		-- everything visible here is acknowledged
	batch_snapshot pg_snapshot,				-- the open batch's upper cut, if any
	batch_id bigint NOT NULL DEFAULT 0,
	registered_at timestamptz NOT NULL DEFAULT now(),
	acked_at timestamptz
);
COMMENT ON TABLE order_system.consumer IS 'Outbox consumers and their acknowledged positions (transaction snapshots).';
SELECT pg_catalog.pg_extension_config_dump('order_system.consumer', '');

-- The snapshot a consumer position is cut at: the current one, but with the
-- caller's own transaction counted as still running, so that events it
-- writes (before or after the cut) are delivered once it commits, never
-- taken as delivered while it is open.
CREATE FUNCTION order_system.cut_snapshot()
RETURNS pg_snapshot
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s pg_snapshot := pg_current_snapshot();
	own xid8 := pg_current_xact_id_if_assigned();
BEGIN
	IF own IS NULL OR NOT pg_visible_in_snapshot(own, s) THEN
		RETURN s;
	END IF;
	RETURN (least(pg_snapshot_xmin(s), own)::text || ':' || pg_snapshot_xmax(s)::text || ':' ||
			(SELECT string_agg(x::text, ',' ORDER BY x)
			   FROM (SELECT pg_snapshot_xip(s) AS x UNION SELECT own) u))::pg_snapshot;
END
$$;

CREATE FUNCTION order_system.require_arg(value anyelement, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be null', name USING ERRCODE = '22004';
	END IF;
END
$$;

-- register_consumer(name, from_start): a new consumer starts now (or with
-- every event still in the outbox); an existing one resumes.  True if new.
CREATE FUNCTION order_system.register_consumer(name text, from_start boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM order_system.require_arg(name, 'name');
	PERFORM order_system.require_arg(from_start, 'from_start');
	IF name !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'consumer name "%" must be 1 to 63 lower-case letters, digits, _ . -',
			left(name, 100) USING ERRCODE = '22023';
	END IF;
	INSERT INTO order_system.consumer (name, last_snapshot)
	VALUES (register_consumer.name,
			CASE WHEN from_start THEN '1:1:'::pg_snapshot ELSE order_system.cut_snapshot() END)
	ON CONFLICT ON CONSTRAINT consumer_pkey DO NOTHING;
	RETURN FOUND;
END
$$;

CREATE FUNCTION order_system.unregister_consumer(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM order_system.require_arg(name, 'name');
	DELETE FROM order_system.consumer c WHERE c.name = unregister_consumer.name;
	RETURN FOUND;
END
$$;

-- The events between two snapshots: committed after lo, visible in hi.
CREATE FUNCTION order_system.events_between(lo pg_snapshot, hi pg_snapshot)
RETURNS SETOF order_system.outbox
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT e.* FROM order_system.outbox e
	 WHERE e.tx_id >= pg_snapshot_xmin(lo) AND e.tx_id < pg_snapshot_xmax(hi)
	   AND NOT pg_visible_in_snapshot(e.tx_id, lo) AND pg_visible_in_snapshot(e.tx_id, hi)
	 ORDER BY e.id;
END;

CREATE FUNCTION order_system.raise_unknown_consumer(name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'consumer "%" is not registered', left(name, 100)
		USING ERRCODE = 'OS015', HINT = 'Call order_system.register_consumer first.';
END
$$;

-- Lock a consumer's row (raising OS015 if there is none) and return it.
CREATE FUNCTION order_system.lock_consumer(name text)
RETURNS order_system.consumer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c order_system.consumer;
BEGIN
	PERFORM order_system.require_arg(name, 'consumer');
	SELECT * INTO c FROM order_system.consumer k WHERE k.name = lock_consumer.name FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM order_system.raise_unknown_consumer(name);
	END IF;
	RETURN c;
END
$$;

-- next_batch(consumer): the open batch again if it was not acknowledged,
-- else a new batch cut at the current snapshot.  No rows: nothing new (the
-- position moves on by itself).  Rows: acknowledge with ack_batch(batch_id)
-- once they are processed; until then every call returns the same batch.
-- Events come in outbox id order, which is commit order per aggregate.
CREATE FUNCTION order_system.next_batch(consumer text)
RETURNS TABLE (batch_id bigint, id bigint, tx_id xid8, event_type text, aggregate_type text,
			   aggregate_id bigint, payload jsonb, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan	-- the same index range scan every time, planned once
AS $$
DECLARE
	c order_system.consumer := order_system.lock_consumer(consumer);
	lo pg_snapshot := c.last_snapshot;
	hi pg_snapshot;
BEGIN
	IF c.batch_snapshot IS NULL THEN
		hi := order_system.cut_snapshot();	-- after the lock: never older than an ack
		-- (events_between, written out so that plpgsql keeps its plan)
		IF NOT EXISTS (SELECT FROM order_system.outbox e
						WHERE e.tx_id >= pg_snapshot_xmin(lo) AND e.tx_id < pg_snapshot_xmax(hi)
						  AND NOT pg_visible_in_snapshot(e.tx_id, lo)
						  AND pg_visible_in_snapshot(e.tx_id, hi)) THEN
			UPDATE order_system.consumer k SET last_snapshot = hi, acked_at = now()
			 WHERE k.name = c.name;
			RETURN;
		END IF;
		c.batch_id := c.batch_id + 1;
		UPDATE order_system.consumer k SET batch_snapshot = hi, batch_id = c.batch_id
		 WHERE k.name = c.name;
	ELSE
		hi := c.batch_snapshot;
	END IF;
	RETURN QUERY
		SELECT c.batch_id, e.id, e.tx_id, e.event_type, e.aggregate_type, e.aggregate_id,
			   e.payload, e.created_at
		  FROM order_system.outbox e
		 WHERE e.tx_id >= pg_snapshot_xmin(lo) AND e.tx_id < pg_snapshot_xmax(hi)
		   AND NOT pg_visible_in_snapshot(e.tx_id, lo) AND pg_visible_in_snapshot(e.tx_id, hi)
		 ORDER BY e.id;
END
$$;

-- ack_batch(consumer, batch_id): the batch is processed; move past it.
-- True on the first acknowledgement, false for a repeat (harmless).
CREATE FUNCTION order_system.ack_batch(consumer text, batch_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c order_system.consumer;
BEGIN
	PERFORM order_system.require_arg(batch_id, 'batch_id');
	c := order_system.lock_consumer(consumer);
	IF c.batch_snapshot IS NOT NULL AND c.batch_id = ack_batch.batch_id THEN
		UPDATE order_system.consumer k
		   SET last_snapshot = c.batch_snapshot, batch_snapshot = NULL, acked_at = now()
		 WHERE k.name = c.name;
		RETURN true;
	END IF;
	IF ack_batch.batch_id BETWEEN 1 AND c.batch_id THEN
		RETURN false;
	END IF;
	RAISE EXCEPTION 'consumer "%" has no batch %', c.name, ack_batch.batch_id
		USING ERRCODE = 'OS016';
END
$$;

-- replay_consumer(consumer, after_event_id): deliver again every event
-- after that id that is still in the outbox (at least those: events of the
-- same transactions may come along).  after_event_id 0 replays everything.
-- Transactions still running stay undelivered.
CREATE FUNCTION order_system.replay_consumer(consumer text, after_event_id bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	x xid8;
	cur pg_snapshot;
BEGIN
	PERFORM order_system.require_arg(after_event_id, 'after_event_id');
	PERFORM order_system.lock_consumer(consumer);
	cur := order_system.cut_snapshot();
	SELECT min(e.tx_id) INTO x FROM order_system.outbox e WHERE e.id > after_event_id;
	IF x IS NOT NULL AND x < pg_snapshot_xmax(cur) THEN
		cur := (least(x, pg_snapshot_xmin(cur))::text || ':' || x::text || ':' ||
				coalesce((SELECT string_agg(t::text, ',' ORDER BY t)
							FROM pg_snapshot_xip(cur) t WHERE t < x), ''))::pg_snapshot;
	END IF;
	UPDATE order_system.consumer k SET last_snapshot = cur, batch_snapshot = NULL
	 WHERE k.name = replay_consumer.consumer;
END
$$;

-- Consumers and how many events each has yet to acknowledge.
CREATE FUNCTION order_system.consumer_status()
RETURNS TABLE (name text, batch_id bigint, batch_open boolean, pending_events bigint,
			   acked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.name, c.batch_id, c.batch_snapshot IS NOT NULL,
		   (SELECT count(*) FROM order_system.events_between(c.last_snapshot, pg_current_snapshot())),
		   c.acked_at
	  FROM order_system.consumer c ORDER BY c.name;
END;

-- When events were last pruned: orders older than that may have lost theirs.
CREATE TABLE order_system.outbox_pruned (
	id integer PRIMARY KEY CHECK (id = 1),
	pruned_at timestamptz NOT NULL,
	deleted_total bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox_pruned', '');

-- prune_outbox(): delete events every registered consumer has acknowledged;
-- with no consumer registered, events older than order_system.outbox_retention.
-- Returns how many were deleted.
CREATE FUNCTION order_system.prune_outbox()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	horizon xid8;
	n bigint;
BEGIN
	IF EXISTS (SELECT FROM order_system.consumer) THEN
		SELECT min(pg_snapshot_xmin(c.last_snapshot)) INTO horizon FROM order_system.consumer c;
		DELETE FROM order_system.outbox e WHERE e.tx_id < horizon;
	ELSE
		DELETE FROM order_system.outbox e
		 WHERE e.created_at < now() - coalesce(
				nullif(current_setting('order_system.outbox_retention', true), ''), '7d')::interval;
	END IF;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		INSERT INTO order_system.outbox_pruned AS p VALUES (1, now(), n)
		ON CONFLICT (id) DO UPDATE SET pruned_at = now(), deleted_total = p.deleted_total + n;
	END IF;
	RETURN n;
END
$$;

-- Flash-sale stock buckets (src/buckets.c)

ALTER TABLE order_system.product
	ADD COLUMN flash_buckets smallint NOT NULL DEFAULT 0 CHECK (flash_buckets BETWEEN 0 AND 64),
	ADD COLUMN stock_bucketed bigint NOT NULL DEFAULT 0 CHECK (stock_bucketed >= 0),
	DROP CONSTRAINT product_stock_adds_up,
	ADD CONSTRAINT product_stock_adds_up
		CHECK (stock_available + stock_reserved + stock_sold + stock_bucketed = stock_received);
COMMENT ON COLUMN order_system.product.stock_bucketed IS 'Stock handed to flash-sale buckets (order_system.stock_bucket), counted there.';

CREATE TABLE order_system.stock_bucket (
	product_id bigint NOT NULL REFERENCES order_system.product (id),
	bucket smallint NOT NULL CHECK (bucket BETWEEN 0 AND 63),
	available bigint NOT NULL DEFAULT 0 CHECK (available >= 0),
	reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
	sold bigint NOT NULL DEFAULT 0 CHECK (sold >= 0),
	allotted bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (product_id, bucket),
	CONSTRAINT stock_bucket_adds_up CHECK (available + reserved + sold = allotted)
);
COMMENT ON TABLE order_system.stock_bucket IS 'A flash-sale product''s stock, spread over rows that orders lock independently.';
SELECT pg_catalog.pg_extension_config_dump('order_system.stock_bucket', '');

-- The bucket a line's stock came from; NULL: the product row.
ALTER TABLE order_system.order_line ADD COLUMN bucket smallint;

-- set_flash_sale(product_id, buckets): spread the product's available stock
-- over that many bucket rows (1 to 64), or gather it back (0).  Stock
-- reserved or sold from buckets stays there until the saga settles it.
-- Returns the available stock now held in buckets.
CREATE FUNCTION order_system.set_flash_sale(product_id bigint, buckets integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	total bigint;
	gathered bigint;
BEGIN
	PERFORM order_system.require_arg(product_id, 'product_id');
	PERFORM order_system.require_arg(buckets, 'buckets');
	IF buckets NOT BETWEEN 0 AND 64 THEN
		RAISE EXCEPTION 'buckets must be between 0 and 64' USING ERRCODE = '22023';
	END IF;
	-- the product row, then its buckets: the order every other locker follows
	SELECT p.stock_available INTO total FROM order_system.product p
	 WHERE p.id = set_flash_sale.product_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'product % not found', set_flash_sale.product_id USING ERRCODE = 'OS003';
	END IF;
	PERFORM 1 FROM order_system.stock_bucket b WHERE b.product_id = set_flash_sale.product_id
	 ORDER BY b.bucket FOR NO KEY UPDATE;
	SELECT coalesce(sum(b.available), 0) INTO gathered FROM order_system.stock_bucket b
	 WHERE b.product_id = set_flash_sale.product_id;
	UPDATE order_system.stock_bucket b SET allotted = b.allotted - b.available, available = 0
	 WHERE b.product_id = set_flash_sale.product_id AND b.available > 0;
	total := total + gathered;
	IF buckets > 0 THEN
		INSERT INTO order_system.stock_bucket (product_id, bucket)
		SELECT set_flash_sale.product_id, g FROM generate_series(0, buckets - 1) g
		ON CONFLICT ON CONSTRAINT stock_bucket_pkey DO NOTHING;
		UPDATE order_system.stock_bucket b
		   SET available = total / buckets + CASE WHEN b.bucket < total % buckets THEN 1 ELSE 0 END,
			   allotted = b.allotted + total / buckets + CASE WHEN b.bucket < total % buckets THEN 1 ELSE 0 END
		 WHERE b.product_id = set_flash_sale.product_id AND b.bucket < buckets;
	END IF;
	UPDATE order_system.product p
	   SET flash_buckets = buckets,
		   stock_available = CASE WHEN buckets > 0 THEN 0 ELSE total END,
		   stock_bucketed = p.stock_bucketed - gathered + CASE WHEN buckets > 0 THEN total ELSE 0 END
	 WHERE p.id = set_flash_sale.product_id;
	RETURN CASE WHEN buckets > 0 THEN total ELSE 0 END;
END
$$;
REVOKE ALL ON FUNCTION order_system.set_flash_sale(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.set_flash_sale(bigint, integer) TO order_system_admin;
REVOKE ALL ON TABLE order_system.stock_bucket FROM PUBLIC;
GRANT SELECT ON TABLE order_system.stock_bucket TO order_system_admin;

-- A flash-sale product's stock counts its buckets too.
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

-- check_invariants(), as in 0.1.0 but for pruned events (an order placed
-- before the last prune_outbox() may have lost its order.placed event) and
-- for stock held in flash-sale buckets.
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
	  CROSS JOIN LATERAL (SELECT NULL::smallint AS bucket, p.stock_reserved AS reserved, p.stock_sold AS sold
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
						  AND e.event_type = 'order.placed')
	   -- events of orders older than the last prune may be gone on purpose
	   AND o.created_at > coalesce((SELECT p.pruned_at FROM order_system.outbox_pruned p),
								   '-infinity');
END;

-- notifier_status(): is the wake-up worker preloaded and running, and how
-- many event-writing commits and wake-ups it has seen since start.
CREATE FUNCTION order_system.notifier_status(
	OUT preloaded boolean, OUT running boolean, OUT commits bigint, OUT notifies bigint)
AS 'MODULE_PATHNAME', 'os_notifier_status'
LANGUAGE C VOLATILE;

REVOKE ALL ON TABLE order_system.consumer, order_system.outbox_pruned FROM PUBLIC;
REVOKE ALL ON FUNCTION
	order_system.cut_snapshot(), order_system.require_arg(anyelement, text),
	order_system.lock_consumer(text),
	order_system.register_consumer(text, boolean), order_system.unregister_consumer(text),
	order_system.events_between(pg_snapshot, pg_snapshot), order_system.raise_unknown_consumer(text),
	order_system.next_batch(text), order_system.ack_batch(text, bigint),
	order_system.replay_consumer(text, bigint), order_system.consumer_status(),
	order_system.prune_outbox(), order_system.notifier_status()
FROM PUBLIC;

-- Participants (the gateway, a relay to Kafka or NATS) consume events.
GRANT EXECUTE ON FUNCTION
	order_system.register_consumer(text, boolean), order_system.next_batch(text),
	order_system.ack_batch(text, bigint), order_system.consumer_status(),
	order_system.notifier_status()
TO order_system_gateway;
GRANT EXECUTE ON FUNCTION
	order_system.cut_snapshot(), order_system.require_arg(anyelement, text),
	order_system.lock_consumer(text),
	order_system.register_consumer(text, boolean), order_system.unregister_consumer(text),
	order_system.events_between(pg_snapshot, pg_snapshot), order_system.raise_unknown_consumer(text),
	order_system.next_batch(text), order_system.ack_batch(text, bigint),
	order_system.replay_consumer(text, bigint), order_system.consumer_status(),
	order_system.prune_outbox(), order_system.notifier_status()
TO order_system_admin;
GRANT SELECT ON order_system.consumer, order_system.outbox_pruned TO order_system_admin;

-- Triggers for existing schemas
--
-- Attach them to the application's own tables.  CREATE TRIGGER needs the
-- TRIGGER privilege on the table and EXECUTE on the function (granted to
-- admins here, to a table's owner on purpose); once attached they fire for
-- whoever writes the table, and run as the extension's owner.

-- emit_event(): AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW; options
-- aggregate=, type=, key=, cols=, ignore= as trigger arguments.
CREATE FUNCTION order_system.emit_event()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_emit_event_trigger'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- place_order_trigger(): BEFORE INSERT FOR EACH ROW on a checkout table;
-- options name its columns (member_id=, lines=, payment_method=,
-- idempotency_key=, payment_params=, order_id=, status=).
CREATE FUNCTION order_system.place_order_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'os_place_order_trigger'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION order_system.emit_event(), order_system.place_order_trigger() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_system.emit_event(), order_system.place_order_trigger()
TO order_system_admin;
