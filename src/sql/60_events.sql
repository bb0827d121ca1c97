---------------------------------------------------------------- outbox

-- Named consumers read the outbox in batches cut on transaction snapshots
-- (as PgQ does): a batch holds exactly the events whose transactions
-- committed after the consumer's last acknowledged snapshot and before the
-- batch's snapshot.  A transaction that took a lower outbox id but commits
-- later lands in a later batch instead of being skipped.  Delivery is
-- at-least-once: an unacknowledged batch is delivered again, whole.
--
-- trace_context is the W3C traceparent the writing transaction set
-- (order_system.traceparent), kept beside the payload, not inside it.
--
-- payload is json: the writers build the text once and store it as it is,
-- and a consumer's fetch sends the stored bytes.
CREATE SEQUENCE order_system.outbox_id_seq;
CREATE TABLE order_system.outbox (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.outbox_id_seq'),
	event_type text NOT NULL,
	aggregate_type text NOT NULL,
	aggregate_id bigint NOT NULL,
	payload json NOT NULL,
	tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
	created_at timestamptz NOT NULL DEFAULT now(),
	trace_context text
);
ALTER SEQUENCE order_system.outbox_id_seq OWNED BY order_system.outbox.id;
CREATE INDEX outbox_tx_idx ON order_system.outbox (tx_id);
COMMENT ON TABLE order_system.outbox IS 'Saga events, written in the transaction that made the change; the source of truth for delivery.';
COMMENT ON COLUMN order_system.outbox.trace_context IS 'The W3C traceparent (order_system.traceparent) of the transaction that wrote the event; NULL: none.';
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox_id_seq', '');

-- When events were last pruned: orders older than that may have lost theirs.
CREATE TABLE order_system.outbox_pruned (
	id integer PRIMARY KEY CHECK (id = 1),
	pruned_at timestamptz NOT NULL,
	deleted_total bigint NOT NULL
);
COMMENT ON TABLE order_system.outbox_pruned IS 'One row: when prune_outbox() last deleted events, and how many it has deleted in all.';
SELECT pg_catalog.pg_extension_config_dump('order_system.outbox_pruned', '');

---------------------------------------------------------------- consumers

CREATE TABLE order_system.consumer (
	name order_system.consumer_name PRIMARY KEY,
	last_snapshot pg_snapshot NOT NULL,		-- everything visible here is acknowledged
	batch_snapshot pg_snapshot,				-- the open batch's upper cut, if any
	batch_id bigint NOT NULL DEFAULT 0,
	registered_at timestamptz NOT NULL DEFAULT now(),
	acked_at timestamptz,
	-- the cluster (pg_control_system().system_identifier) the snapshots
	-- were cut in: they mean nothing in any other (doc/events.md)
	system_identifier bigint NOT NULL,
	-- outbox_id_seq's last value when last_snapshot (batch_snapshot) was
	-- cut: every event visible in it has an id no greater
	last_mark bigint NOT NULL,
	batch_mark bigint,
	-- the role that registered it: only its members (and operators) read,
	-- acknowledge, replay or forget it
	owner regrole
);
COMMENT ON TABLE order_system.consumer IS 'Outbox consumers and their acknowledged positions (transaction snapshots, stamped with the cluster they were cut in).';
COMMENT ON COLUMN order_system.consumer.owner IS 'The role that registered the consumer: only its members, order_system_admin and superusers may use it; NULL (registered before 0.8.0): any role allowed to call the consumer functions.';
SELECT pg_catalog.pg_extension_config_dump('order_system.consumer', '');

CREATE TYPE order_system.batch_event AS (
	batch_id bigint,
	id bigint,
	tx_id xid8,
	event_type text,
	aggregate_type text,
	aggregate_id bigint,
	payload json,
	created_at timestamptz,
	trace_context text
);
COMMENT ON TYPE order_system.batch_event IS 'One event of a consumer''s batch, as next_batch returns it.';

---------------------------------------------------------------- internals

-- The role the session acts as (SET ROLE included), outside every SECURITY
-- DEFINER function: the role a consumer is registered to.
CREATE OR REPLACE FUNCTION order_system_internal.caller_role()
RETURNS regrole
AS 'MODULE_PATHNAME', 'os_caller_role'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system_internal.caller_role()
	IS 'The role the session acts as (SET ROLE included), whatever SECURITY DEFINER function asks.';

-- Refuse (42501) a caller that may not use consumer name, owned by owner:
-- the rule next_batch and ack_batch apply in C (src/api/consumers.c).
CREATE OR REPLACE FUNCTION order_system_internal.require_consumer_owner(name text, owner regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'os_require_consumer_owner'
LANGUAGE C STABLE;
COMMENT ON FUNCTION order_system_internal.require_consumer_owner(text, regrole)
	IS 'Raise 42501 unless the calling role is a member of the consumer''s owner (NULL: anyone), of order_system_admin, or a superuser.';

-- The snapshot a consumer position is cut at: the current one, but with the
-- caller's own transaction counted as still running, so that events it
-- writes (before or after the cut) are delivered once it commits, never
-- taken as delivered while it is open (src/api/consumers.c).
CREATE OR REPLACE FUNCTION order_system_internal.cut_snapshot()
RETURNS pg_snapshot
AS 'MODULE_PATHNAME', 'os_cut_snapshot'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system_internal.cut_snapshot()
	IS 'The snapshot consumer positions are cut at: the current one, the caller''s own transaction counted as running.';

-- The cluster's system identifier: consumer positions are stamped with it.
CREATE OR REPLACE FUNCTION order_system_internal.system_identifier()
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_system_identifier'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION order_system_internal.system_identifier()
	IS 'This cluster''s system identifier, as pg_control_system() gives it; consumer positions are stamped with it.';

-- The one trust rule for consumer positions (src/core os_position_trusted
-- is the same rule for next_batch and ack_batch): a position is read only
-- in the cluster that cut it, and only while none of its snapshots is
-- ahead of cur.  Nothing is pruned, and no batch is cut, from a position
-- that fails it: it is re-based first (rebase_positions).
CREATE OR REPLACE FUNCTION order_system_internal.position_trusted(
	stamp bigint, last_snapshot pg_snapshot, batch_snapshot pg_snapshot, cur pg_snapshot)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN stamp <> 0
   AND stamp = order_system_internal.system_identifier()
   AND pg_snapshot_xmax(last_snapshot) <= pg_snapshot_xmax(cur)
   AND (batch_snapshot IS NULL OR pg_snapshot_xmax(batch_snapshot) <= pg_snapshot_xmax(cur));
COMMENT ON FUNCTION order_system_internal.position_trusted(bigint, pg_snapshot, pg_snapshot, pg_snapshot)
	IS 'Whether a consumer''s position (its stamp, acknowledged and open batch snapshots) was cut in this cluster and is not ahead of snapshot cur.';

-- The outbox id sequence's last value (0 before the first event): every
-- event visible in a snapshot cut before it is read has an id no greater.
CREATE OR REPLACE FUNCTION order_system_internal.outbox_mark()
RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
RETURN coalesce(pg_sequence_last_value('order_system.outbox_id_seq'::regclass), 0);
COMMENT ON FUNCTION order_system_internal.outbox_mark()
	IS 'The last outbox id handed out (0 before any): the mark stored with a position cut before it.';

CREATE OR REPLACE FUNCTION order_system_internal.raise_unknown_consumer(name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'consumer "%" is not registered', left(name, 100)
		USING ERRCODE = 'OS015', HINT = 'Call order_system.register_consumer first.';
END
$$;
COMMENT ON FUNCTION order_system_internal.raise_unknown_consumer(text)
	IS 'Raise OS015: the consumer is not registered.';

-- Lock a consumer's row (raising OS015 if there is none) and return it.
CREATE OR REPLACE FUNCTION order_system_internal.lock_consumer(name text)
RETURNS order_system.consumer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c order_system.consumer;
BEGIN
	PERFORM order_system_internal.require_arg(name, 'consumer');
	SELECT * INTO c FROM order_system.consumer k WHERE k.name = lock_consumer.name FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM order_system_internal.raise_unknown_consumer(name);
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION order_system_internal.lock_consumer(text)
	IS 'Lock and return a consumer''s row; OS015 if there is none.';

-- The events between two snapshots: committed after lo, visible in hi.
CREATE OR REPLACE FUNCTION order_system_internal.events_between(lo pg_snapshot, hi pg_snapshot)
RETURNS SETOF order_system.outbox
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT e.* FROM order_system.outbox e
	 WHERE e.tx_id >= pg_snapshot_xmin(lo) AND e.tx_id < pg_snapshot_xmax(hi)
	   AND NOT pg_visible_in_snapshot(e.tx_id, lo) AND pg_visible_in_snapshot(e.tx_id, hi)
	 ORDER BY e.id;
END;
COMMENT ON FUNCTION order_system_internal.events_between(pg_snapshot, pg_snapshot)
	IS 'The outbox events committed after snapshot lo and visible in snapshot hi, in id order.';

-- The events a consumer has yet to acknowledge: committed after its
-- position (last_snapshot) and visible now; for a position position_trusted
-- refuses (trusted false), every event the re-base will deliver to it again
-- (rebase_positions: all but those within last_mark and visible in it).
CREATE OR REPLACE FUNCTION order_system_internal.pending_events(
	last_snapshot pg_snapshot, last_mark bigint, trusted boolean)
RETURNS SETOF order_system.outbox
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT e.* FROM order_system_internal.events_between(last_snapshot, pg_current_snapshot()) e
	 WHERE trusted
	UNION ALL
	SELECT e.* FROM order_system.outbox e
	 WHERE NOT trusted
	   AND NOT (e.id <= last_mark AND pg_visible_in_snapshot(e.tx_id, last_snapshot));
END;
COMMENT ON FUNCTION order_system_internal.pending_events(pg_snapshot, bigint, boolean)
	IS 'The events a consumer has yet to acknowledge (for a position from another cluster, those its re-base will deliver).';

---------------------------------------------------------------- functions

-- register_consumer(name, from_start): a new consumer starts now (or with
-- every event still in the outbox); an existing one resumes.  True if new.
CREATE OR REPLACE FUNCTION order_system.register_consumer(name text, from_start boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM order_system_internal.require_writable('register_consumer');
	PERFORM order_system_internal.require_arg(name, 'name');
	PERFORM order_system_internal.require_arg(from_start, 'from_start');
	IF name !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'consumer name "%" must be 1 to 63 lower-case letters, digits, _ . -',
			left(name, 100) USING ERRCODE = '22023';
	END IF;
	INSERT INTO order_system.consumer (name, last_snapshot, system_identifier, last_mark, owner)
	VALUES (register_consumer.name,
			CASE WHEN from_start THEN '1:1:'::pg_snapshot ELSE order_system_internal.cut_snapshot() END,
			order_system_internal.system_identifier(), order_system_internal.outbox_mark(),
			order_system_internal.caller_role())
	ON CONFLICT ON CONSTRAINT consumer_pkey DO NOTHING;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION order_system.register_consumer(text, boolean)
	IS 'Register an outbox consumer positioned now (or before every retained event), owned by the calling role; true if it was new.';

CREATE OR REPLACE FUNCTION order_system.unregister_consumer(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o regrole;
BEGIN
	PERFORM order_system_internal.require_writable('unregister_consumer');
	PERFORM order_system_internal.require_arg(name, 'name');
	SELECT c.owner INTO o FROM order_system.consumer c WHERE c.name = unregister_consumer.name FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM order_system_internal.require_consumer_owner(name, o);
	DELETE FROM order_system.consumer c WHERE c.name = unregister_consumer.name;
	RETURN true;
END
$$;
COMMENT ON FUNCTION order_system.unregister_consumer(text)
	IS 'Forget a consumer, so pruning no longer waits for it; true if it existed.  42501 for a role that may not use it.';

-- set_consumer_owner(name, owner): hand a consumer (one registered before
-- owners were recorded, or a service's that moved to another role) to
-- owner, keeping its position.  Operators only (90_privileges.sql).
CREATE OR REPLACE FUNCTION order_system.set_consumer_owner(name text, owner regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM order_system_internal.require_arg(name, 'name');
	PERFORM order_system_internal.require_arg(owner, 'owner');
	UPDATE order_system.consumer c SET owner = set_consumer_owner.owner
	 WHERE c.name = set_consumer_owner.name;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION order_system.set_consumer_owner(text, regrole)
	IS 'Hand a consumer, with its position, to another role; true if it exists.';

-- next_batch(consumer, acked_batch): acknowledge acked_batch, then the open
-- batch again if it was not acknowledged, else a new batch cut at the
-- current snapshot (src/api/consumers.c).
CREATE OR REPLACE FUNCTION order_system.next_batch(consumer text, acked_batch bigint DEFAULT NULL)
RETURNS SETOF order_system.batch_event
AS 'MODULE_PATHNAME', 'os_next_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.next_batch(text, bigint)
	IS 'Acknowledge acked_batch (if not NULL), then the consumer''s open batch again, or the next one.';

-- ack_batch(consumer, batch_id): the batch is processed; move past it.
-- True on the first acknowledgement, false for a repeat (harmless).
CREATE OR REPLACE FUNCTION order_system.ack_batch(consumer text, batch_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_ack_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.ack_batch(text, bigint)
	IS 'Move a consumer past its batch; true the first time, false for a repeat.';

-- replay_consumer(consumer, after_event_id): deliver again every event
-- after that id that is still in the outbox (at least those: events of the
-- same transactions may come along).  after_event_id 0 replays everything.
-- Transactions still running stay undelivered.
CREATE OR REPLACE FUNCTION order_system.replay_consumer(consumer text, after_event_id bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	x xid8;
	cur pg_snapshot;
	c order_system.consumer;
BEGIN
	PERFORM order_system_internal.require_writable('replay_consumer');
	PERFORM order_system_internal.require_arg(after_event_id, 'after_event_id');
	-- a position from another cluster is re-based before it is rewound
	PERFORM order_system_internal.rebase_positions();
	c := order_system_internal.lock_consumer(consumer);
	PERFORM order_system_internal.require_consumer_owner(consumer, c.owner);
	cur := order_system_internal.cut_snapshot();
	SELECT min(e.tx_id) INTO x FROM order_system.outbox e WHERE e.id > after_event_id;
	IF x IS NOT NULL AND x < pg_snapshot_xmax(cur) THEN
		cur := (least(x, pg_snapshot_xmin(cur))::text || ':' || x::text || ':' ||
				coalesce((SELECT string_agg(t::text, ',' ORDER BY t)
							FROM pg_snapshot_xip(cur) t WHERE t < x), ''))::pg_snapshot;
	END IF;
	UPDATE order_system.consumer k SET last_snapshot = cur, batch_snapshot = NULL, batch_mark = NULL,
		   last_mark = least(k.last_mark, after_event_id)
	 WHERE k.name = replay_consumer.consumer;
END
$$;
COMMENT ON FUNCTION order_system.replay_consumer(text, bigint)
	IS 'Deliver again to a consumer every retained event after after_event_id.';

-- Consumers and how many events each has yet to acknowledge.
CREATE OR REPLACE FUNCTION order_system.consumer_status()
RETURNS TABLE (name text, batch_id bigint, batch_open boolean, pending_events bigint,
			   acked_at timestamptz, owner regrole)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.name, c.batch_id, c.batch_snapshot IS NOT NULL,
		   (SELECT count(*)
			  FROM order_system_internal.pending_events(c.last_snapshot, c.last_mark,
						order_system_internal.position_trusted(c.system_identifier, c.last_snapshot,
															   c.batch_snapshot, pg_current_snapshot()))),
		   c.acked_at, c.owner
	  FROM order_system.consumer c ORDER BY c.name;
END;
COMMENT ON FUNCTION order_system.consumer_status()
	IS 'Every consumer, whether a batch is open, how many committed events it has yet to acknowledge, and the role it belongs to (NULL: any).';

-- The prune rule, in one place for prune_outbox() and the notifier: delete
-- the events every registered consumer has acknowledged (tx_id below the
-- lowest position's xmin); with no consumer registered, events older than
-- order_system.outbox_retention.  Nothing at all while any position fails
-- position_trusted: a position from another cluster says nothing about
-- this one's xids (the consumers' next call re-bases it).  The test and
-- the delete are one statement, on one snapshot.  Returns how many.
CREATE OR REPLACE FUNCTION order_system_internal.prune_events()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM order_system_internal.require_writable('prune_outbox');
	IF EXISTS (SELECT FROM order_system.consumer) THEN
		DELETE FROM order_system.outbox e
		 WHERE e.tx_id < (SELECT min(pg_snapshot_xmin(c.last_snapshot)) FROM order_system.consumer c)
		   AND NOT EXISTS (SELECT FROM order_system.consumer c
							WHERE NOT order_system_internal.position_trusted(c.system_identifier, c.last_snapshot,
																			 c.batch_snapshot, pg_current_snapshot()));
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
COMMENT ON FUNCTION order_system_internal.prune_events()
	IS 'The prune rule of prune_outbox() and the notifier: delete acknowledged events, never on an untrusted position; returns how many.';

-- prune_outbox(): delete events every registered consumer has acknowledged;
-- with no consumer registered, events older than order_system.outbox_retention.
-- Returns how many were deleted.
CREATE OR REPLACE FUNCTION order_system.prune_outbox()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN order_system_internal.prune_events();
COMMENT ON FUNCTION order_system.prune_outbox()
	IS 'Delete the events every consumer has acknowledged (with none registered, those past outbox_retention); returns how many.';

-- rebase_positions(): make consumer positions that fail position_trusted
-- (cut in another cluster, or ahead of this one's xids: a pg_dump restored
-- elsewhere, a pg_upgrade) mean the same in this cluster, in one
-- transaction.  An event counts as acknowledged by a consumer when its id
-- is at most the position's mark and its tx_id is visible in the
-- position's snapshot: both come from the same dump, and an event written
-- here since has a higher id, so the old snapshot is never asked about this
-- cluster's xids.  Events acknowledged by every consumer get tx_id 2
-- (frozen: visible in every snapshot, pruned next); every other event gets
-- this transaction's xid, and every position becomes a cut taken here with
-- this transaction counted as running: those events are delivered (again)
-- once it commits.  Open batches are dropped, as by a replay.  Does
-- nothing when every position is trusted.
CREATE OR REPLACE FUNCTION order_system_internal.rebase_positions(
	OUT rebased boolean, OUT requeued bigint, OUT settled bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur pg_snapshot;
	mark bigint;
	needed bigint;
BEGIN
	rebased := false;
	requeued := 0;
	settled := 0;
	IF NOT EXISTS (SELECT FROM order_system.consumer c
					WHERE NOT order_system_internal.position_trusted(c.system_identifier, c.last_snapshot,
																	 c.batch_snapshot, pg_current_snapshot())) THEN
		RETURN;
	END IF;
	-- One re-base at a time, no position moves meanwhile; an outbox still
	-- being loaded (a parallel restore) is waited for.
	LOCK TABLE order_system.consumer IN SHARE ROW EXCLUSIVE MODE;
	LOCK TABLE order_system.outbox IN SHARE MODE;
	IF NOT EXISTS (SELECT FROM order_system.consumer c
					WHERE NOT order_system_internal.position_trusted(c.system_identifier, c.last_snapshot,
																	 c.batch_snapshot, pg_current_snapshot())) THEN
		RETURN;
	END IF;
	-- The dump's events are all in only once the sequence is restored past
	-- every mark (pg_dump sets sequences after the tables' data).
	mark := order_system_internal.outbox_mark();
	SELECT max(greatest(c.last_mark, coalesce(c.batch_mark, 0))) INTO needed FROM order_system.consumer c;
	IF mark < needed THEN
		RAISE EXCEPTION 'consumer positions come from another cluster and the outbox is not fully restored'
			USING ERRCODE = 'OS018',
				  DETAIL = format('outbox_id_seq is at %s; the positions were cut at event id %s.', mark, needed),
				  HINT = 'Finish the restore (the outbox and its sequence), then run SELECT * FROM order_system.rebase_consumers().';
	END IF;
	cur := order_system_internal.cut_snapshot();
	WITH r AS (
		UPDATE order_system.outbox e
		   SET tx_id = CASE WHEN NOT EXISTS (
								SELECT FROM order_system.consumer c
								 WHERE NOT (e.id <= c.last_mark
											AND pg_visible_in_snapshot(e.tx_id, c.last_snapshot)))
							THEN '2'::xid8 ELSE pg_current_xact_id() END
		RETURNING e.tx_id = '2'::xid8 AS done)
	SELECT count(*) FILTER (WHERE done), count(*) FILTER (WHERE NOT done) INTO settled, requeued FROM r;
	UPDATE order_system.consumer c
	   SET last_snapshot = cur, batch_snapshot = NULL, batch_mark = NULL,
		   last_mark = order_system_internal.outbox_mark(),
		   system_identifier = order_system_internal.system_identifier();
	rebased := true;
	RAISE LOG 'order_system: consumer positions re-based to this cluster: % events to deliver again, % acknowledged by every consumer',
		requeued, settled;
END
$$;
COMMENT ON FUNCTION order_system_internal.rebase_positions()
	IS 'Re-base consumer positions cut in another cluster (or ahead of this one) onto this cluster; nothing if all are trusted.';

-- rebase_consumers(): the same, for an operator to run right after a
-- restore or pg_upgrade; next_batch, ack_batch and replay_consumer do it
-- on their own when they meet such a position.
CREATE OR REPLACE FUNCTION order_system.rebase_consumers(
	OUT rebased boolean, OUT requeued bigint, OUT settled bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM order_system_internal.rebase_positions();
END;
COMMENT ON FUNCTION order_system.rebase_consumers()
	IS 'Re-base consumer positions restored from another cluster onto this one: whether it did, events to deliver again, events settled.';

-- notifier_status(): is the wake-up worker preloaded and running, and how
-- many event-writing commits and wake-ups it has seen since start.
CREATE OR REPLACE FUNCTION order_system.notifier_status(
	OUT preloaded boolean, OUT running boolean, OUT commits bigint, OUT notifies bigint)
AS 'MODULE_PATHNAME', 'os_notifier_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION order_system.notifier_status()
	IS 'Whether the notifier is preloaded and running, and the event-writing commits and wake-ups it counted.';
