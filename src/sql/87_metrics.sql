---------------------------------------------------------------- metrics

-- What a monitoring system reads (monitoring/prometheus/queries.yaml), for
-- the read-only role order_system_monitor (90_privileges.sql): each
-- function runs as the owner and returns counts and ages, never a member,
-- an order or a payment.  Counters of orders and saga moves live in shared
-- memory (src/api/metrics.c); the rest is read from the tables on each call.

CREATE OR REPLACE FUNCTION order_system_internal.metrics_preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_metrics_preloaded'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system_internal.metrics_preloaded()
	IS 'Whether the shared-memory counters are on (order_system is in shared_preload_libraries).';

CREATE OR REPLACE FUNCTION order_system_internal.metrics_shared_counters(
	OUT method text, OUT placed bigint, OUT paid bigint, OUT completed bigint,
	OUT cancelled bigint, OUT declined bigint, OUT expired bigint, OUT refunded bigint,
	OUT compensations bigint, OUT rate_limited bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'os_metrics_shared_counters'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system_internal.metrics_shared_counters()
	IS 'The shared-memory counters, one row per payment method counted; none when they are off.';

CREATE OR REPLACE FUNCTION order_system_internal.metrics_since()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'os_metrics_since'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system_internal.metrics_since()
	IS 'When the shared-memory counters started (server start or metrics_reset()); NULL when they are off.';

CREATE OR REPLACE FUNCTION order_system_internal.low_stock_threshold()
RETURNS integer
AS 'MODULE_PATHNAME', 'os_metrics_low_stock_threshold'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system_internal.low_stock_threshold()
	IS 'The setting order_system.low_stock_threshold.';

-- metrics_counters(): per payment method, the orders placed and the saga
-- moves by outcome since the counters started (server start or
-- metrics_reset()).  Every registered method has a row, zeros included.
-- Without the counters (not preloaded), the same columns are counted from
-- the orders and payments there are now (source = 'tables'): they go down
-- when orders are deleted, and rate_limited and since are NULL.
CREATE OR REPLACE FUNCTION order_system.metrics_counters(
	OUT method text, OUT placed bigint, OUT paid bigint, OUT completed bigint,
	OUT cancelled bigint, OUT declined bigint, OUT expired bigint, OUT refunded bigint,
	OUT compensations bigint, OUT rate_limited bigint, OUT since timestamptz, OUT source text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF order_system_internal.metrics_preloaded() THEN
		RETURN QUERY
		SELECT coalesce(c.method, m.name), coalesce(c.placed, 0), coalesce(c.paid, 0),
			   coalesce(c.completed, 0), coalesce(c.cancelled, 0), coalesce(c.declined, 0),
			   coalesce(c.expired, 0), coalesce(c.refunded, 0), coalesce(c.compensations, 0),
			   coalesce(c.rate_limited, 0),
			   order_system_internal.metrics_since(),
			   'shared_memory'::text
		  FROM order_system_internal.metrics_shared_counters() c
		  FULL JOIN order_system.payment_method m ON m.name = c.method
		 ORDER BY 1;
	ELSE
		RETURN QUERY
		SELECT m.name, coalesce(t.placed, 0), coalesce(t.paid, 0), coalesce(t.completed, 0),
			   coalesce(t.cancelled, 0), coalesce(t.declined, 0), coalesce(t.expired, 0),
			   coalesce(t.refunded, 0),
			   coalesce(t.cancelled + t.declined + t.expired + t.refunded, 0),
			   NULL::bigint, NULL::timestamptz, 'tables'::text
		  FROM (SELECT pm.name FROM order_system.payment_method pm
				UNION
				SELECT DISTINCT o.payment_method FROM order_system.orders o) m
		  LEFT JOIN (SELECT o.payment_method AS name, count(*) AS placed,
							count(*) FILTER (WHERE p.status IN ('captured', 'refunded')) AS paid,
							count(*) FILTER (WHERE o.status = 'completed') AS completed,
							count(*) FILTER (WHERE o.status = 'cancelled' AND p.status = 'voided') AS cancelled,
							count(*) FILTER (WHERE p.status = 'declined') AS declined,
							count(*) FILTER (WHERE o.status = 'expired') AS expired,
							count(*) FILTER (WHERE o.status = 'refunded') AS refunded
					   FROM order_system.orders o
					   JOIN order_system.payment p ON p.member_id = o.member_id AND p.order_id = o.id
					  GROUP BY o.payment_method) t ON t.name = m.name
		 ORDER BY 1;
	END IF;
END
$$;
COMMENT ON FUNCTION order_system.metrics_counters()
	IS 'Per payment method: orders placed, paid, completed, cancelled, declined, expired, refunded, compensations run and rate-limit refusals, since the counters started.';

CREATE OR REPLACE FUNCTION order_system.metrics_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'os_metrics_reset'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system.metrics_reset()
	IS 'Set every shared-memory counter of metrics_counters() back to zero (55000 when order_system is not preloaded).';

-- metrics_orders(): how many orders are in each state now (every state, zeros
-- included).  It reads the whole orders table.
CREATE OR REPLACE FUNCTION order_system.metrics_orders(OUT status text, OUT orders bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.status, coalesce(n.orders, 0)
	  FROM (SELECT DISTINCT t.from_status AS status FROM order_system.order_transitions() t) s
	  LEFT JOIN (SELECT o.status::text AS status, count(*) AS orders
				   FROM order_system.orders o GROUP BY o.status) n ON n.status = s.status
	 ORDER BY s.status;
END;
COMMENT ON FUNCTION order_system.metrics_orders()
	IS 'How many orders are in each state now, every state listed.';

-- metrics_saga(): orders waiting for their payment (pending_payment; read
-- from their pending payments' index), the age of the oldest, and how many
-- are past their deadline and wait for expire_orders().
CREATE OR REPLACE FUNCTION order_system.metrics_saga(
	OUT pending_payment_orders bigint, OUT oldest_pending_payment_seconds double precision,
	OUT overdue_orders bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT count(*),
		   coalesce(extract(epoch FROM now() - min(p.created_at))::double precision, 0),
		   count(*) FILTER (WHERE p.expires_at <= now())
	  FROM order_system.payment p
	 WHERE p.status = 'pending';
END;
COMMENT ON FUNCTION order_system.metrics_saga()
	IS 'Orders awaiting payment, the age in seconds of the oldest, and how many are past their deadline.';

-- metrics_consumers(): per consumer, the committed events it has yet to
-- acknowledge, the age of the oldest of them (0 when none), the seconds
-- since it last acknowledged a batch (since it registered, if never), and
-- whether a batch is open.
CREATE OR REPLACE FUNCTION order_system.metrics_consumers(
	OUT consumer text, OUT pending_events bigint, OUT oldest_pending_seconds double precision,
	OUT seconds_since_ack double precision, OUT batch_open boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.name::text, count(e.id),
		   coalesce(extract(epoch FROM now() - min(e.created_at))::double precision, 0),
		   extract(epoch FROM now() - coalesce(c.acked_at, c.registered_at))::double precision,
		   c.batch_snapshot IS NOT NULL
	  FROM order_system.consumer c
	  LEFT JOIN LATERAL order_system_internal.pending_events(c.last_snapshot, c.last_mark,
			order_system_internal.position_trusted(c.system_identifier, c.last_snapshot, c.batch_snapshot,
												   pg_current_snapshot())) e ON true
	 GROUP BY c.name, c.acked_at, c.registered_at, c.batch_snapshot IS NOT NULL
	 ORDER BY c.name;
END;
COMMENT ON FUNCTION order_system.metrics_consumers()
	IS 'Per consumer: events not yet acknowledged, the oldest one''s age, seconds since its last acknowledgement, whether a batch is open.';

-- metrics_outbox(): the events in the outbox, the oldest one's age, how many
-- prune_outbox() would delete now, the events it has deleted in all and the
-- seconds since it last deleted any (NULL: never).
CREATE OR REPLACE FUNCTION order_system.metrics_outbox(
	OUT events bigint, OUT oldest_event_seconds double precision, OUT prunable_events bigint,
	OUT pruned_total bigint, OUT seconds_since_prune double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT count(e.id),
		   coalesce(extract(epoch FROM now() - min(e.created_at))::double precision, 0),
		   count(e.id) FILTER (WHERE CASE WHEN h.any_consumer THEN e.tx_id < h.horizon
									   ELSE e.created_at < now() - coalesce(
										   nullif(current_setting('order_system.outbox_retention', true), ''),
										   '7d')::interval END),
		   coalesce((SELECT p.deleted_total FROM order_system.outbox_pruned p), 0),
		   (SELECT extract(epoch FROM now() - p.pruned_at)::double precision
			  FROM order_system.outbox_pruned p)
	  FROM (SELECT EXISTS (SELECT FROM order_system.consumer) AS any_consumer,
				   -- none while a position is untrusted (prune_events)
				   (SELECT CASE WHEN bool_and(order_system_internal.position_trusted(
										c.system_identifier, c.last_snapshot, c.batch_snapshot,
										pg_current_snapshot()))
								THEN min(pg_snapshot_xmin(c.last_snapshot)) END
					  FROM order_system.consumer c) AS horizon) h
	  LEFT JOIN order_system.outbox e ON true
	 GROUP BY h.any_consumer, h.horizon;
END;
COMMENT ON FUNCTION order_system.metrics_outbox()
	IS 'Outbox events, the oldest one''s age, how many prune_outbox() would delete now, deleted in all, seconds since the last prune.';

-- metrics_stock(): active products whose available stock (flash-sale
-- buckets included) is at or below order_system.low_stock_threshold, how
-- many of them have none, and the threshold.
CREATE OR REPLACE FUNCTION order_system.metrics_stock(
	OUT low_stock_products bigint, OUT out_of_stock_products bigint, OUT threshold integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT count(*) FILTER (WHERE a.available <= t.threshold),
		   count(*) FILTER (WHERE a.available = 0),
		   t.threshold
	  FROM (SELECT order_system_internal.low_stock_threshold() AS threshold) t
	  LEFT JOIN (SELECT p.stock_available + coalesce(
						(SELECT sum(b.available) FROM order_system.stock_bucket b
						  WHERE b.product_id = p.id AND p.flash_buckets > 0), 0) AS available
				   FROM order_system.product p WHERE p.active) a ON true
	 GROUP BY t.threshold;
END;
COMMENT ON FUNCTION order_system.metrics_stock()
	IS 'Active products at or below order_system.low_stock_threshold, those with no stock, and the threshold.';

-- metrics_low_stock_products(max_products): which products those are, the
-- emptiest first.
CREATE OR REPLACE FUNCTION order_system.metrics_low_stock_products(max_products integer DEFAULT 20)
RETURNS TABLE (product_id bigint, sku text, available bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT a.id, a.sku, a.available
	  FROM (SELECT p.id, p.sku::text AS sku, p.stock_available + coalesce(
						(SELECT sum(b.available) FROM order_system.stock_bucket b
						  WHERE b.product_id = p.id AND p.flash_buckets > 0), 0)::bigint AS available
			  FROM order_system.product p WHERE p.active) a
	 WHERE a.available <= order_system_internal.low_stock_threshold()
	 ORDER BY a.available, a.id
	 LIMIT greatest(coalesce(max_products, 20), 0);
END;
COMMENT ON FUNCTION order_system.metrics_low_stock_products(integer)
	IS 'Up to max_products active products at or below order_system.low_stock_threshold, the emptiest first.';
