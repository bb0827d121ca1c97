---------------------------------------------------------------- introspection and operations

CREATE OR REPLACE FUNCTION order_system.error_codes(
	OUT name text, OUT sqlstate text, OUT message text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'os_error_codes'
LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION order_system.error_codes()
	IS 'The domain''s errors from the C core: name, SQLSTATE and message.';

-- Every violation of the domain's invariants, one row each; empty is
-- healthy.  Without foreign keys on the write path it also reports
-- references that point nowhere; events of orders older than the last
-- prune_outbox() may be gone on purpose; stock held in flash-sale buckets
-- counts.
CREATE OR REPLACE FUNCTION order_system.check_invariants()
RETURNS TABLE (invariant text, subject text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pruned_at timestamptz := coalesce((SELECT p.pruned_at FROM order_system.outbox_pruned p), '-infinity');
BEGIN
	RETURN QUERY
		SELECT 'stock_negative', 'product ' || p.id,
			   format('available %s reserved %s sold %s', p.stock_available, p.stock_reserved, p.stock_sold)
		  FROM order_system.product p
		 WHERE p.stock_available < 0 OR p.stock_reserved < 0 OR p.stock_sold < 0;
	RETURN QUERY
		SELECT 'stock_adds_up', 'product ' || p.id,
			   format('available %s + reserved %s + sold %s + bucketed %s <> received %s',
					  p.stock_available, p.stock_reserved, p.stock_sold, p.stock_bucketed, p.stock_received)
		  FROM order_system.product p
		 WHERE p.stock_available + p.stock_reserved + p.stock_sold + p.stock_bucketed <> p.stock_received;
	RETURN QUERY
		SELECT 'stock_buckets_add_up', 'product ' || p.id,
			   format('bucketed %s, buckets hold %s', p.stock_bucketed, coalesce(b.allotted, 0))
		  FROM order_system.product p
		  LEFT JOIN (SELECT s.product_id, sum(s.allotted) AS allotted FROM order_system.stock_bucket s
					  GROUP BY s.product_id) b ON b.product_id = p.id
		 WHERE p.stock_bucketed <> coalesce(b.allotted, 0);
	RETURN QUERY
		SELECT 'stock_bucket_valid', 'product ' || s.product_id || ' bucket ' || s.bucket,
			   format('available %s reserved %s sold %s allotted %s', s.available, s.reserved, s.sold, s.allotted)
		  FROM order_system.stock_bucket s
		 WHERE s.available < 0 OR s.reserved < 0 OR s.sold < 0
			OR s.available + s.reserved + s.sold <> s.allotted;
	RETURN QUERY
		SELECT 'stock_matches_orders', 'product ' || p.id || coalesce(' bucket ' || k.bucket, ''),
			   format('reserved %s (orders say %s), sold %s (orders say %s)',
					  k.reserved, coalesce(s.reserved, 0), k.sold, coalesce(s.sold, 0))
		  FROM order_system.product p
		  CROSS JOIN LATERAL (SELECT NULL::smallint AS bucket, p.stock_reserved::bigint AS reserved,
									 p.stock_sold::bigint AS sold
							  UNION ALL
							  SELECT b.bucket, b.reserved, b.sold FROM order_system.stock_bucket b
							   WHERE b.product_id = p.id) k
		  LEFT JOIN (SELECT l.product_id, l.bucket,
							sum(l.quantity) FILTER (WHERE o.status = 'pending_payment') AS reserved,
							sum(l.quantity) FILTER (WHERE o.status IN ('paid', 'completed')) AS sold
					   FROM order_system.order_line l
					   JOIN order_system.orders o ON o.member_id = l.member_id AND o.id = l.order_id
					  GROUP BY l.product_id, l.bucket) s
			ON s.product_id = p.id AND s.bucket IS NOT DISTINCT FROM k.bucket
		 WHERE k.reserved <> coalesce(s.reserved, 0) OR k.sold <> coalesce(s.sold, 0);
	RETURN QUERY
		SELECT 'points_negative', 'member ' || m.id, format('balance %s', m.points_balance)
		  FROM order_system.member m WHERE m.points_balance < 0;
	RETURN QUERY
		SELECT 'points_ledger_matches_balance', 'member ' || m.id,
			   format('balance %s, ledger sum %s', m.points_balance, coalesce(l.total, 0))
		  FROM order_system.member m
		  LEFT JOIN (SELECT member_id, sum(delta) AS total FROM order_system.points_ledger
					  GROUP BY member_id) l ON l.member_id = m.id
		 WHERE m.points_balance <> coalesce(l.total, 0);
	RETURN QUERY
		SELECT 'order_state_legal', 'order ' || o.id, format('status %L', o.status)
		  FROM order_system.orders o
		 WHERE o.status NOT IN (SELECT t.from_status FROM order_system.order_transitions() t);
	RETURN QUERY
		SELECT 'order_total_matches_lines', 'order ' || o.id,
			   format('total %s, lines %s', o.total_amount, coalesce(l.total, 0))
		  FROM order_system.orders o
		  LEFT JOIN (SELECT member_id, order_id, sum(amount) AS total, count(*) AS n
					   FROM order_system.order_line GROUP BY member_id, order_id) l
			ON l.member_id = o.member_id AND l.order_id = o.id
		 WHERE o.total_amount <> coalesce(l.total, 0) OR coalesce(l.n, 0) = 0;
	RETURN QUERY
		SELECT 'order_line_amount', 'order ' || l.order_id,
			   format('product %s: %s x %s <> %s', l.product_id, l.quantity, l.unit_price, l.amount)
		  FROM order_system.order_line l
		 WHERE l.amount <> l.quantity * l.unit_price;
	RETURN QUERY
		SELECT 'order_points_earned', 'order ' || o.id,
			   format('points_earned %s, ledger earn rows %s', o.points_earned, coalesce(l.earned, 0))
		  FROM order_system.orders o
		  LEFT JOIN (SELECT member_id, order_id, sum(delta) AS earned FROM order_system.points_ledger
					  WHERE kind = 'earn' AND order_id IS NOT NULL GROUP BY member_id, order_id) l
			ON l.member_id = o.member_id AND l.order_id = o.id
		 WHERE o.points_earned <> coalesce(l.earned, 0);
	RETURN QUERY
		SELECT 'order_payment_consistent', 'order ' || o.id,
			   format('order %s total %s, payments: %s', o.status, o.total_amount,
					  coalesce(p.statuses, 'none'))
		  FROM order_system.orders o
		  LEFT JOIN (SELECT member_id, order_id, count(*) AS n, min(status) AS status, min(amount) AS amount,
							string_agg(status || ' ' || amount, ', ') AS statuses
					   FROM order_system.payment GROUP BY member_id, order_id) p
			ON p.member_id = o.member_id AND p.order_id = o.id
		 WHERE coalesce(p.n, 0) <> 1 OR p.amount <> o.total_amount
			OR (o.status::text, p.status) NOT IN (VALUES ('pending_payment', 'pending'), ('paid', 'captured'),
													   ('completed', 'captured'), ('refunded', 'refunded'),
													   ('expired', 'expired'), ('cancelled', 'declined'),
													   ('cancelled', 'voided'));
	RETURN QUERY
		SELECT 'order_points_settled', 'order ' || o.id,
			   format('status %s, points paid %s, ledger net %s', o.status, p.points_amount, coalesce(l.net, 0))
		  FROM order_system.orders o
		  JOIN order_system.payment p ON p.member_id = o.member_id AND p.order_id = o.id
		  LEFT JOIN (SELECT member_id, order_id, -sum(delta) FILTER (WHERE kind IN ('spend', 'refund')) AS net
					   FROM order_system.points_ledger WHERE order_id IS NOT NULL
					  GROUP BY member_id, order_id) l ON l.member_id = o.member_id AND l.order_id = o.id
		 WHERE coalesce(l.net, 0) <> CASE WHEN o.status IN ('pending_payment', 'paid', 'completed')
										  THEN p.points_amount ELSE 0 END;
	RETURN QUERY
		SELECT 'order_has_placed_event', 'order ' || o.id, 'no order.placed event in the outbox'
		  FROM order_system.orders o
		  LEFT JOIN (SELECT e.aggregate_id FROM order_system.outbox e
					  WHERE e.aggregate_type = 'order' AND e.event_type = 'order.placed') e
			ON e.aggregate_id = o.id
		 WHERE e.aggregate_id IS NULL
		   -- events of orders older than the last prune may be gone on purpose
		   AND o.created_at > pruned_at;
		-- rows whose parent is gone: deleted behind the API's back, or left out
		-- of a dump or a restore
	RETURN QUERY
		SELECT 'order_member_exists', 'order ' || o.id, 'member ' || o.member_id || ' does not exist'
		  FROM order_system.orders o
		 WHERE NOT EXISTS (SELECT 1 FROM order_system.member m WHERE m.id = o.member_id);
	RETURN QUERY
		SELECT 'order_line_order_exists', 'order line ' || l.order_id || '/' || l.product_id,
			   'order ' || l.order_id || ' does not exist'
		  FROM order_system.order_line l
		 WHERE NOT EXISTS (SELECT 1 FROM order_system.orders o WHERE o.member_id = l.member_id AND o.id = l.order_id);
	RETURN QUERY
		SELECT 'order_line_product_exists', 'order line ' || l.order_id || '/' || l.product_id,
			   'product ' || l.product_id || ' does not exist'
		  FROM order_system.order_line l
		 WHERE NOT EXISTS (SELECT 1 FROM order_system.product p WHERE p.id = l.product_id);
	RETURN QUERY
		SELECT 'payment_order_exists', 'payment ' || p.id, 'order ' || p.order_id || ' does not exist'
		  FROM order_system.payment p
		 WHERE NOT EXISTS (SELECT 1 FROM order_system.orders o WHERE o.member_id = p.member_id AND o.id = p.order_id);
	RETURN QUERY
		SELECT 'ledger_member_exists', 'ledger row ' || l.id, 'member ' || l.member_id || ' does not exist'
		  FROM order_system.points_ledger l
		 WHERE NOT EXISTS (SELECT 1 FROM order_system.member m WHERE m.id = l.member_id);
	RETURN QUERY
		SELECT 'consumer_position_valid', 'consumer ' || c.name,
			   CASE WHEN c.system_identifier <> order_system_internal.system_identifier()
					THEN format('position cut in cluster %s, this is cluster %s: run order_system.rebase_consumers()',
								c.system_identifier, order_system_internal.system_identifier())
					ELSE format('position %s (open batch %s) is ahead of the current snapshot %s: run order_system.rebase_consumers()',
								c.last_snapshot, coalesce(c.batch_snapshot::text, 'none'), pg_current_snapshot())
			   END
		  FROM order_system.consumer c
		 WHERE NOT order_system_internal.position_trusted(c.system_identifier, c.last_snapshot, c.batch_snapshot,
														  pg_current_snapshot());
	RETURN QUERY
		SELECT 'event_order_exists', 'event ' || e.id,
			   format('%s of order %s, which does not exist', e.event_type, e.aggregate_id)
		  FROM order_system.outbox e
		  LEFT JOIN order_system.orders o ON o.id = e.aggregate_id
		 WHERE e.aggregate_type = 'order' AND o.id IS NULL;
	RETURN QUERY
		SELECT 'reference_exists', r.subject, r.detail
		  FROM (SELECT 'order ' || o.id AS subject, format('payment method %L does not exist', o.payment_method) AS detail
				  FROM order_system.orders o
				 WHERE NOT EXISTS (SELECT 1 FROM order_system.payment_method pm WHERE pm.name = o.payment_method)
				UNION ALL
				SELECT 'payment ' || p.id, format('payment method %L does not exist', p.method)
				  FROM order_system.payment p
				 WHERE NOT EXISTS (SELECT 1 FROM order_system.payment_method pm WHERE pm.name = p.method)
				UNION ALL
				SELECT 'ledger row ' || l.id, 'order ' || l.order_id || ' does not exist'
				  FROM order_system.points_ledger l
				 WHERE l.order_id IS NOT NULL
				   AND NOT EXISTS (SELECT 1 FROM order_system.orders o
								   WHERE o.member_id = l.member_id AND o.id = l.order_id)) r;
END
$$;
COMMENT ON FUNCTION order_system.check_invariants()
	IS 'Every violation of the domain''s invariants, one row each; no rows means healthy.';
