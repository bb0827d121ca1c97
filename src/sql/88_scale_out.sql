---------------------------------------------------------------- scale-out on Citus

-- The layout of doc/scale-out.md: a member's rows (member, points_ledger,
-- orders, order_line, payment) distributed by member, co-located; each
-- order's member (order_owner) distributed by order id; the catalog
-- (product, stock_bucket, payment_method, member_login) as reference
-- tables on every node; the outbox, consumers and counters local to each
-- node.  Nothing here runs unless distribute_on_citus() is called.

CREATE OR REPLACE FUNCTION order_system_internal.managed_by_citus(tab regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_managed_by_citus'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION order_system_internal.managed_by_citus(regclass)
	IS 'Whether Citus manages the table (it is in pg_dist_partition); false without Citus.';

-- What Citus cannot distribute, changed on one node's copy of the tables
-- (every node has one: CREATE EXTENSION was propagated):
--   - a unique key must contain the distribution column: the member's rows
--     get keys that start with member_id, plus an index on the order id for
--     lookups by order; member e-mails and payment references lose their
--     unique index (not enforceable across shards);
--   - a CHECK that passes the whole row to a function is rewritten wrongly
--     on the shards: the three are spelled over their columns;
--   - a policy with a subquery is refused: current_member_id() is called
--     per row instead;
--   - the one foreign key (stock_bucket -> product) would force every later
--     statement of a transaction that touched a distributed table onto one
--     connection per node;
--   - current_member_id() may read member_login from within a shard's query.
--
-- A node reshaped once is left alone (orders_id_idx marks it): the workers'
-- part commits on its own, so a distribute_on_citus that failed after it can
-- run again.  DDL propagation is off while it runs, then as it was.
CREATE OR REPLACE FUNCTION order_system_internal.citus_reshape()
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	propagation text;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'Citus is not installed in this database' USING ERRCODE = '55000';
	END IF;
	IF order_system_internal.managed_by_citus('order_system.orders')
	   OR to_regclass('order_system.orders_id_idx') IS NOT NULL THEN
		RETURN;
	END IF;
	propagation := current_setting('citus.enable_ddl_propagation');
	PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
	ALTER TABLE order_system.product DROP CONSTRAINT product_stock_adds_up,
		ADD CONSTRAINT product_stock_adds_up CHECK (stock_available + stock_reserved + stock_sold
													 + stock_bucketed = stock_received);
	ALTER TABLE order_system.stock_bucket DROP CONSTRAINT stock_bucket_adds_up,
		ADD CONSTRAINT stock_bucket_adds_up CHECK (available + reserved + sold = allotted),
		DROP CONSTRAINT IF EXISTS stock_bucket_product_id_fkey;
	ALTER TABLE order_system.payment DROP CONSTRAINT payment_parts_add_up,
		ADD CONSTRAINT payment_parts_add_up CHECK (points_amount + external_amount = amount);

	DROP POLICY member_own ON order_system.member;
	DROP POLICY orders_own ON order_system.orders;
	DROP POLICY order_line_own ON order_system.order_line;
	DROP POLICY payment_own ON order_system.payment;
	DROP POLICY points_ledger_own ON order_system.points_ledger;
	DROP POLICY hidden_rows_refused ON order_system.member;
	DROP POLICY hidden_rows_refused ON order_system.orders;
	DROP POLICY hidden_rows_refused ON order_system.order_line;
	DROP POLICY hidden_rows_refused ON order_system.payment;
	DROP POLICY hidden_rows_refused ON order_system.points_ledger;

	ALTER TABLE order_system.member DROP CONSTRAINT member_email_key;
	ALTER TABLE order_system.points_ledger DROP CONSTRAINT points_ledger_pkey,
		ADD CONSTRAINT points_ledger_pkey PRIMARY KEY (member_id, id);
	ALTER TABLE order_system.orders DROP CONSTRAINT orders_pkey,
		ADD CONSTRAINT orders_pkey PRIMARY KEY (member_id, id);
	ALTER TABLE order_system.order_line DROP CONSTRAINT order_line_pkey,
		ADD CONSTRAINT order_line_pkey PRIMARY KEY (member_id, order_id, product_id);
	ALTER TABLE order_system.payment DROP CONSTRAINT payment_pkey,
		ADD CONSTRAINT payment_pkey PRIMARY KEY (member_id, id),
		DROP CONSTRAINT payment_order_id_key,
		ADD CONSTRAINT payment_order_id_key UNIQUE (member_id, order_id);
	CREATE INDEX payment_order_idx ON order_system.payment (order_id);
	DROP INDEX order_system.payment_reference_key;
	CREATE INDEX payment_reference_idx ON order_system.payment (reference)
		WHERE reference IS NOT NULL;
	-- A member role's policies call current_member_id() on the shards, where
	-- its read of member_login would be a query nested in a shard's query,
	-- which Citus refuses.  member_login is a reference table with a copy
	-- on every node, so the nested read stays on the node: allowed here.
	ALTER FUNCTION order_system.current_member_id()
		SET citus.allow_nested_distributed_execution = on;
	-- the marker last: a failure before it leaves nothing behind
	CREATE INDEX orders_id_idx ON order_system.orders (id);
	PERFORM set_config('citus.enable_ddl_propagation', propagation, true);
END
$$;
COMMENT ON FUNCTION order_system_internal.citus_reshape()
	IS 'Change this node''s copy of the tables into what Citus can distribute (distribute_on_citus runs it on every node).';

-- distribute_on_citus(shard_count): on a Citus coordinator with its workers
-- added, turn the installed order_system into the layout above.  Returns
-- each table and what it became.  Run it once, before the application's
-- traffic; a second call only reports.
CREATE OR REPLACE FUNCTION order_system.distribute_on_citus(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
-- (Citus's notices on the data it copied are about its own clean-up, which
-- the never-deleted guards refuse: the shells keep their rows on disk)
SET search_path = pg_catalog, pg_temp SET client_min_messages = warning
AS $$
DECLARE
	coordinator boolean;
	failed text;
	t text;
	unsafe_triggers text;
	shards text;
BEGIN
	PERFORM order_system_internal.require_writable('distribute_on_citus');
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'Citus is not installed in this database'
			USING ERRCODE = '55000',
				  HINT = 'CREATE EXTENSION citus on every node and add the workers first (doc/scale-out.md).';
	END IF;
	IF shard_count IS NOT NULL AND shard_count NOT BETWEEN 1 AND 64000 THEN
		RAISE EXCEPTION 'shard_count must be between 1 and 64000' USING ERRCODE = '22023';
	END IF;
	IF NOT order_system_internal.managed_by_citus('order_system.orders') THEN
		EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO STRICT coordinator;
		IF coordinator IS NOT TRUE THEN
			RAISE EXCEPTION 'distribute_on_citus runs on the Citus coordinator'
				USING ERRCODE = '55000';
		END IF;
		PERFORM order_system_internal.citus_reshape();
		EXECUTE $q$SELECT pg_catalog.string_agg(nodename || ':' || nodeport || ': ' || result, '; ')
					 FROM pg_catalog.run_command_on_workers(
						'SELECT order_system_internal.citus_reshape()') WHERE NOT success$q$
		   INTO failed;
		IF failed IS NOT NULL THEN
			RAISE EXCEPTION 'preparing the workers'' tables failed: %', failed
				USING ERRCODE = '55000',
					  HINT = 'Every worker needs this order_system version installed (ALTER EXTENSION order_system UPDATE).';
		END IF;
		-- the row triggers (orders_status_guard) fire on the shards, where
		-- order_system is installed too; both settings are set back below
		unsafe_triggers := current_setting('citus.enable_unsafe_triggers');
		shards := current_setting('citus.shard_count');
		PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
		IF shard_count IS NOT NULL THEN
			PERFORM set_config('citus.shard_count', shard_count::text, true);
		END IF;
		FOREACH t IN ARRAY ARRAY['product', 'stock_bucket', 'payment_method', 'member_login'] LOOP
			EXECUTE 'SELECT pg_catalog.create_reference_table($1)' USING 'order_system.' || t;
		END LOOP;
		EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2)' USING 'order_system.member', 'id';
		FOREACH t IN ARRAY ARRAY['points_ledger', 'orders', 'order_line', 'payment'] LOOP
			EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => $3)'
			  USING 'order_system.' || t, 'member_id', 'order_system.member';
		END LOOP;
		INSERT INTO order_system.order_owner (order_id, member_id)
		SELECT o.id, o.member_id FROM order_system.orders o
		ON CONFLICT (order_id) DO NOTHING;
		EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => $3)'
		  USING 'order_system.order_owner', 'order_id', 'order_system.member';
		CREATE POLICY member_own ON order_system.member FOR SELECT TO order_system_member
			USING (id = order_system.current_member_id());
		CREATE POLICY orders_own ON order_system.orders FOR SELECT TO order_system_member
			USING (member_id = order_system.current_member_id());
		CREATE POLICY order_line_own ON order_system.order_line FOR SELECT TO order_system_member
			USING (member_id = order_system.current_member_id());
		CREATE POLICY payment_own ON order_system.payment FOR SELECT TO order_system_member
			USING (member_id = order_system.current_member_id());
		CREATE POLICY points_ledger_own ON order_system.points_ledger FOR SELECT TO order_system_member
			USING (member_id = order_system.current_member_id());
		CREATE POLICY hidden_rows_refused ON order_system.member FOR SELECT TO PUBLIC
			USING (order_system_internal.refuse_hidden_rows('order_system.member'));
		CREATE POLICY hidden_rows_refused ON order_system.orders FOR SELECT TO PUBLIC
			USING (order_system_internal.refuse_hidden_rows('order_system.orders'));
		CREATE POLICY hidden_rows_refused ON order_system.order_line FOR SELECT TO PUBLIC
			USING (order_system_internal.refuse_hidden_rows('order_system.order_line'));
		CREATE POLICY hidden_rows_refused ON order_system.payment FOR SELECT TO PUBLIC
			USING (order_system_internal.refuse_hidden_rows('order_system.payment'));
		CREATE POLICY hidden_rows_refused ON order_system.points_ledger FOR SELECT TO PUBLIC
			USING (order_system_internal.refuse_hidden_rows('order_system.points_ledger'));
		PERFORM set_config('citus.enable_unsafe_triggers', unsafe_triggers, true);
		PERFORM set_config('citus.shard_count', shards, true);
	END IF;
	RETURN QUERY EXECUTE $q$
		SELECT c.oid::pg_catalog.regclass,
			   CASE WHEN p.partmethod = 'n' THEN 'reference'
					WHEN p.partmethod = 'h' THEN 'distributed by ' || a.attname
					WHEN p.logicalrelid IS NOT NULL THEN 'citus local'
					ELSE 'local on each node' END
		  FROM pg_catalog.pg_class c
		  LEFT JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid = c.oid
		  LEFT JOIN pg_catalog.pg_attribute a
				 ON p.partmethod = 'h' AND a.attrelid = c.oid
				AND a.attname = pg_catalog.column_to_column_name(c.oid, p.partkey)
		 WHERE c.relnamespace = 'order_system'::pg_catalog.regnamespace AND c.relkind = 'r'
		 ORDER BY 2, c.relname$q$;
END
$$;
COMMENT ON FUNCTION order_system.distribute_on_citus(integer)
	IS 'On a Citus coordinator: distribute order_system''s tables as doc/scale-out.md lays out; returns each table''s placement.';
