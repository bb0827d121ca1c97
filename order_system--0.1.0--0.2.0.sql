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

-- register_consumer(name, from_start): a new consumer starts now (or with
-- every event still in the outbox); an existing one resumes.  True if new.
CREATE FUNCTION order_system.register_consumer(name text, from_start boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
	END IF;
	IF name !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'consumer name "%" must be 1 to 63 lower-case letters, digits, _ . -',
			left(name, 100) USING ERRCODE = '22023';
	END IF;
	INSERT INTO order_system.consumer (name, last_snapshot)
	VALUES (register_consumer.name,
			CASE WHEN coalesce(from_start, false) THEN '1:1:'::pg_snapshot
				 ELSE pg_current_snapshot() END)
	ON CONFLICT ON CONSTRAINT consumer_pkey DO NOTHING;
	RETURN FOUND;
END
$$;

CREATE FUNCTION order_system.unregister_consumer(name text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH d AS (DELETE FROM order_system.consumer c WHERE c.name = unregister_consumer.name RETURNING 1)
	SELECT count(*) > 0 FROM d;
END;

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

-- next_batch(consumer): the open batch again if it was not acknowledged,
-- else a new batch cut at the current snapshot.  No rows: nothing new (the
-- position moves on by itself).  Rows: acknowledge with ack_batch(batch_id)
-- once they are processed; until then every call returns the same batch.
-- Events come in outbox id order, which is commit order per aggregate.
CREATE FUNCTION order_system.next_batch(consumer text)
RETURNS TABLE (batch_id bigint, id bigint, tx_id xid8, event_type text, aggregate_type text,
			   aggregate_id bigint, payload jsonb, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c order_system.consumer;
	now_snap pg_snapshot := pg_current_snapshot();
BEGIN
	SELECT * INTO c FROM order_system.consumer k WHERE k.name = next_batch.consumer FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM order_system.raise_unknown_consumer(next_batch.consumer);
	END IF;
	IF c.batch_snapshot IS NULL THEN
		IF NOT EXISTS (SELECT FROM order_system.events_between(c.last_snapshot, now_snap)) THEN
			UPDATE order_system.consumer k SET last_snapshot = now_snap, acked_at = now()
			 WHERE k.name = c.name;
			RETURN;
		END IF;
		c.batch_id := c.batch_id + 1;
		c.batch_snapshot := now_snap;
		UPDATE order_system.consumer k SET batch_snapshot = now_snap, batch_id = c.batch_id
		 WHERE k.name = c.name;
	END IF;
	RETURN QUERY
		SELECT c.batch_id, e.id, e.tx_id, e.event_type, e.aggregate_type, e.aggregate_id,
			   e.payload, e.created_at
		  FROM order_system.events_between(c.last_snapshot, c.batch_snapshot) e;
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
	SELECT * INTO c FROM order_system.consumer k WHERE k.name = ack_batch.consumer FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM order_system.raise_unknown_consumer(ack_batch.consumer);
	END IF;
	IF c.batch_snapshot IS NOT NULL AND c.batch_id = ack_batch.batch_id THEN
		UPDATE order_system.consumer k
		   SET last_snapshot = c.batch_snapshot, batch_snapshot = NULL, acked_at = now()
		 WHERE k.name = c.name;
		RETURN true;
	END IF;
	IF ack_batch.batch_id IS NOT NULL AND ack_batch.batch_id BETWEEN 1 AND c.batch_id THEN
		RETURN false;
	END IF;
	RAISE EXCEPTION 'consumer "%" has no batch %', c.name, ack_batch.batch_id
		USING ERRCODE = 'OS016';
END
$$;

-- replay_consumer(consumer, after_event_id): deliver again every event
-- after that id that is still in the outbox (at least those: events of the
-- same transactions may come along).  after_event_id 0 replays everything.
CREATE FUNCTION order_system.replay_consumer(consumer text, after_event_id bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	x xid8;
BEGIN
	SELECT min(e.tx_id) INTO x FROM order_system.outbox e WHERE e.id > coalesce(after_event_id, 0);
	UPDATE order_system.consumer k
	   SET last_snapshot = CASE WHEN x IS NULL THEN pg_current_snapshot()
								ELSE (x::text || ':' || x::text || ':')::pg_snapshot END,
		   batch_snapshot = NULL
	 WHERE k.name = replay_consumer.consumer;
	IF NOT FOUND THEN
		PERFORM order_system.raise_unknown_consumer(replay_consumer.consumer);
	END IF;
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
	RETURN n;
END
$$;

-- notifier_status(): is the wake-up worker preloaded and running, and how
-- many event-writing commits and wake-ups it has seen since start.
CREATE FUNCTION order_system.notifier_status(
	OUT preloaded boolean, OUT running boolean, OUT commits bigint, OUT notifies bigint)
AS 'MODULE_PATHNAME', 'os_notifier_status'
LANGUAGE C VOLATILE;

REVOKE ALL ON TABLE order_system.consumer FROM PUBLIC;
REVOKE ALL ON FUNCTION
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
	order_system.register_consumer(text, boolean), order_system.unregister_consumer(text),
	order_system.events_between(pg_snapshot, pg_snapshot), order_system.raise_unknown_consumer(text),
	order_system.next_batch(text), order_system.ack_batch(text, bigint),
	order_system.replay_consumer(text, bigint), order_system.consumer_status(),
	order_system.prune_outbox(), order_system.notifier_status()
TO order_system_admin;
GRANT SELECT ON order_system.consumer TO order_system_admin;
