-- Event consumers: register_consumer, next_batch, ack_batch,
-- replay_consumer, unregister_consumer, consumer_status, prune_outbox,
-- notifier_status, and the internal order_system_internal.events_between.
-- Batches are cut on transaction snapshots; in this single session a batch
-- is exactly what committed between two cuts.  Ids print relative to the file's base (90000), never
-- timestamps, transaction ids or snapshots.  prune_outbox() deletes the
-- events earlier files wrote, so this file runs last.
\set VERBOSITY terse
SELECT regress.restart_ids(90000);
\set batch 'SELECT batch_id, id - 90000 AS id, event_type, aggregate_type || '' '' || (aggregate_id - 90000) AS aggregate FROM order_system.next_batch'
-- Acknowledge the consumer's open batch, whatever its id.
\set ack 'SELECT order_system.ack_batch(c.name, c.batch_id) FROM order_system.consumer c WHERE c.name = '
\set status 'SELECT name, batch_id, batch_open, pending_events, acked_at IS NOT NULL AS acked FROM order_system.consumer_status()'

-- drain(consumer): next_batch and ack_batch until nothing is left, recording
-- every delivery in regress.delivered; returns how many events came.
CREATE TABLE regress.delivered (consumer text, batch_id bigint, id bigint);
CREATE FUNCTION regress.drain(consumer text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint := 0;
	k bigint;
BEGIN
	LOOP
		INSERT INTO regress.delivered
			SELECT drain.consumer, b.batch_id, b.id FROM order_system.next_batch(drain.consumer) b;
		GET DIAGNOSTICS k = ROW_COUNT;
		EXIT WHEN k = 0;
		PERFORM order_system.ack_batch(drain.consumer,
			(SELECT max(d.batch_id) FROM regress.delivered d WHERE d.consumer = drain.consumer));
		n := n + k;
	END LOOP;
	RETURN n;
END
$$;

----------------------------------------------------------------- register_consumer
SELECT regress.counts() AS before \gset
SELECT order_system.register_consumer('relay') AS new;
-- An existing consumer keeps its position, from_start or not.
SELECT order_system.register_consumer('relay') AS again, order_system.register_consumer('relay', true) AS again_from_start;
SELECT last_snapshot::text AS pos FROM order_system.consumer WHERE name = 'relay' \gset
-- Names: a lower-case letter, then up to 62 of [a-z0-9_.-].
SELECT order_system.register_consumer('payment-gateway.v2_1') AS dotted,
       order_system.register_consumer(repeat('r', 63)) AS longest,
       order_system.register_consumer('a') AS shortest;
SELECT n AS name, regress.try(format('SELECT order_system.register_consumer(%L)', n)) AS result
  FROM (VALUES (''), ('Relay'), ('1relay'), ('_relay'), ('-relay'), ('re lay'), ('relay$'),
               (repeat('r', 64))) v(n);
SELECT regress.try('SELECT order_system.register_consumer(NULL)') AS null_name;
-- A NULL argument is 22004 everywhere (only the SQLSTATE is shown here);
-- a rollback keeps a wrong success from changing what follows.
BEGIN;
SELECT left(regress.try($$SELECT order_system.register_consumer('nullstart', NULL)$$), 5) AS null_from_start;
SELECT count(*) AS nullstart_registered FROM order_system.consumer WHERE name = 'nullstart';
ROLLBACK;
SELECT name FROM order_system.consumer ORDER BY name;
-- Registering writes nothing but the consumer row.
SELECT regress.counts() = :'before' AS nothing_else_written;
SELECT order_system.unregister_consumer('payment-gateway.v2_1'), order_system.unregister_consumer(repeat('r', 63)),
       order_system.unregister_consumer('a');

----------------------------------------------------------------- next_batch, ack_batch
-- Nothing committed since registration: no rows, and the position moves on
-- (other transactions committed meanwhile, without events).
:batch('relay');
SELECT last_snapshot::text <> :'pos' AS moved, batch_id, batch_snapshot IS NULL AS no_open_batch
  FROM order_system.consumer WHERE name = 'relay';

SELECT order_system.create_member('Consumer', 'consumer@example.com', 50000) AS m \gset
SELECT order_system.create_product('CO-A', 'Consumed A', 1000, 'KRW', 100) AS a \gset
SELECT order_system.create_product('CO-B', 'Consumed B', 3000, 'KRW', 10) AS b \gset
SELECT order_id AS o1 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :a)::jsonb, 'card') \gset
-- Batch 1: everything since registration, in outbox id order.
:batch('relay');
-- Not acknowledged: the same batch again.
:batch('relay');
-- Events committed after the cut wait for the next batch.
SELECT order_id AS o2 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'card') \gset
:batch('relay');
:status;
SELECT order_system.ack_batch('relay', 1) AS first_ack, order_system.ack_batch('relay', 1) AS repeat_ack;
SELECT regress.try($$SELECT order_system.ack_batch('relay', 2)$$) AS not_cut_yet,
       regress.try($$SELECT order_system.ack_batch('relay', 0)$$) AS zero,
       regress.try($$SELECT order_system.ack_batch('relay', -1)$$) AS negative;
SELECT regress.try($$SELECT order_system.ack_batch('nobody', 1)$$) AS unknown_consumer;
SELECT left(regress.try($$SELECT order_system.ack_batch('relay', NULL)$$), 5) AS null_batch,
       left(regress.try($$SELECT order_system.ack_batch(NULL, 1)$$), 5) AS null_consumer;
-- Batch 2: what waited.
:batch('relay');
SELECT order_system.ack_batch('relay', 2) AS ack, order_system.ack_batch('relay', 1) AS older_ack;
:batch('relay');
:status;
SELECT regress.try($$SELECT order_system.next_batch('nobody')$$) AS unknown_consumer,
       left(regress.try('SELECT order_system.next_batch(NULL)'), 5) AS null_consumer;

-- A failed call and a rolled-back order deliver nothing.
SELECT regress.try(format($$SELECT order_system.place_order(%s, '[{"product_id": %s, "quantity": 1000}]', 'card')$$,
                          :m, :a)) AS out_of_stock;
BEGIN;
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
ROLLBACK;
:batch('relay');

----------------------------------------------------------------- two consumers
-- (The rolled-back order used order id 3, so o3 to o6 print as orders 4 to 7.)
SELECT order_system.register_consumer('audit') AS new;
SELECT order_id AS o3 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 3}]', :a)::jsonb, 'points') \gset
SELECT order_system.confirm_payment(:o2);
-- Each consumer sees every event, in batches of its own.
:batch('relay');
:batch('audit');
:ack 'relay';
:status;
:ack 'audit';

----------------------------------------------------------------- consumers inside writing transactions
-- A consumer may cut and acknowledge batches in a transaction that writes
-- events itself (a gateway confirming payments as it reads).  Once that
-- transaction commits, each of its events is delivered exactly once, to it
-- and to every other consumer.  The rolled-back subtransaction takes a
-- newer transaction id, as concurrent commits would.
BEGIN;
SELECT order_id AS o4 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
SAVEPOINT burn;
SELECT order_system.restock(:b, 1) IS NOT NULL AS restocked;
ROLLBACK TO burn;
SELECT regress.drain('relay') AS ignored \gset
SELECT order_system.confirm_payment(:o4);
SELECT regress.drain('relay') AS ignored \gset
COMMIT;
SELECT regress.drain('relay') AS ignored \gset
SELECT regress.drain('audit') AS ignored \gset
SELECT e.id - 90000 AS id, e.event_type,
       (SELECT count(*) FROM regress.delivered d WHERE d.consumer = 'relay' AND d.id = e.id) AS to_relay,
       (SELECT count(*) FROM regress.delivered d WHERE d.consumer = 'audit' AND d.id = e.id) AS to_audit
  FROM order_system.outbox e
 WHERE e.aggregate_type = 'order' AND e.aggregate_id = :o4
 ORDER BY e.id;

----------------------------------------------------------------- from_start, events_between
-- from_start: every event still in the outbox, earlier files' included.
SELECT order_system.register_consumer('archive', true) AS new;
SELECT count(*) = (SELECT count(*) FROM order_system.outbox) AS every_retained_event,
       count(DISTINCT batch_id) AS batches, min(batch_id) AS batch_id
  FROM order_system.next_batch('archive');
:ack 'archive';
:batch('archive');

SELECT pg_current_snapshot()::text AS s1 \gset
SELECT order_id AS o5 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'card') \gset
SELECT pg_current_snapshot()::text AS s2 \gset
SELECT id - 90000 AS id, event_type, aggregate_type || ' ' || (aggregate_id - 90000) AS aggregate
  FROM order_system_internal.events_between(:'s1', :'s2');
SELECT (SELECT count(*) FROM order_system_internal.events_between(:'s2', :'s1')) AS backwards,
       (SELECT count(*) FROM order_system_internal.events_between(:'s1', :'s1')) AS same_snapshot,
       (SELECT count(*) FROM order_system_internal.events_between('1:1:', :'s2'))
         = (SELECT count(*) FROM order_system.outbox) AS from_the_start;

----------------------------------------------------------------- replay_consumer
SELECT regress.drain('relay') AS ignored \gset
-- After an id that ends a transaction: exactly the later events.
SELECT order_system.replay_consumer('relay', (SELECT max(id) FROM order_system.outbox
                                              WHERE aggregate_type = 'order' AND aggregate_id = :o3));
:batch('relay');
-- Replaying drops the open batch: acknowledging it is a harmless repeat.
-- After an id inside a transaction: that transaction's earlier events come along.
SELECT batch_id AS dropped FROM order_system.consumer WHERE name = 'relay' \gset
SELECT order_system.replay_consumer('relay', (SELECT min(id) FROM order_system.outbox
                                              WHERE aggregate_type = 'order' AND aggregate_id = :o1));
SELECT order_system.ack_batch('relay', :dropped) AS dropped_batch_ack;
:batch('relay');
:ack 'relay';
-- 0 (the default): everything retained.
SELECT order_system.replay_consumer('relay');
SELECT count(*) = (SELECT count(*) FROM order_system.outbox) AS every_retained_event
  FROM order_system.next_batch('relay');
:ack 'relay';
-- After the last event: nothing.
SELECT order_system.replay_consumer('relay', (SELECT max(id) FROM order_system.outbox));
:batch('relay');
SELECT regress.try($$SELECT order_system.replay_consumer('nobody')$$) AS unknown_consumer;
-- A NULL after_event_id (say, a max(id) over no rows) must not replay everything.
BEGIN;
SELECT left(regress.try('SELECT order_system.replay_consumer(NULL)'), 5) AS null_consumer,
       left(regress.try($$SELECT order_system.replay_consumer('relay', NULL)$$), 5) AS null_after;
ROLLBACK;

----------------------------------------------------------------- consumer_status, prune_outbox
-- relay and archive are up to date; audit has o5 and later to go.
SELECT regress.drain('archive') AS ignored \gset
SELECT order_system.confirm_payment(:o5);
SELECT regress.drain('relay') AS ignored \gset
SELECT regress.drain('archive') AS ignored \gset
:status;
SELECT count(*) AS outbox_before FROM order_system.outbox \gset
SELECT order_system.prune_outbox() AS pruned \gset
-- Deleted: everything every consumer acknowledged, nothing else.
SELECT :pruned > 0 AS pruned_some, :pruned = :outbox_before - (SELECT count(*) FROM order_system.outbox) AS counted;
SELECT id - 90000 AS id, event_type, aggregate_type || ' ' || (aggregate_id - 90000) AS aggregate
  FROM order_system.outbox ORDER BY id;
:status;
:batch('audit');
-- Pruning acknowledged events leaves the domain consistent.
SELECT invariant, count(*) FROM order_system.check_invariants() GROUP BY invariant ORDER BY invariant;
:ack 'audit';
-- A consumer that acknowledged nothing holds back every event.
SELECT order_system.register_consumer('late', true) AS new;
SELECT order_system.prune_outbox() AS pruned_with_late;
SELECT count(*) AS late_pending FROM order_system.next_batch('late');

----------------------------------------------------------------- unregister_consumer
SELECT order_system.unregister_consumer('late') AS existed, order_system.unregister_consumer('late') AS again,
       order_system.unregister_consumer('nobody') AS unknown;
SELECT left(regress.try('SELECT order_system.unregister_consumer(NULL)'), 5) AS null_name;
SELECT regress.try($$SELECT order_system.ack_batch('late', 1)$$) AS ack_after_unregister;
SELECT order_system.unregister_consumer('relay'), order_system.unregister_consumer('audit'),
       order_system.unregister_consumer('archive');
:status;

-- No consumer: prune_outbox keeps events for order_system.outbox_retention
-- (backdated here as superuser).
SHOW order_system.outbox_retention;
SELECT order_id AS o6 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
UPDATE order_system.outbox SET created_at = created_at - interval '2 hours'
 WHERE aggregate_type = 'order' AND aggregate_id = :o5;
SELECT order_system.prune_outbox() AS pruned_under_7d;
SET order_system.outbox_retention = '1h';
SELECT order_system.prune_outbox() AS pruned_over_1h;
SELECT id - 90000 AS id, event_type, aggregate_type || ' ' || (aggregate_id - 90000) AS aggregate
  FROM order_system.outbox ORDER BY id;
SELECT order_system.prune_outbox() AS pruned_again;
RESET order_system.outbox_retention;

----------------------------------------------------------------- next_batch with an acknowledgement
-- next_batch(consumer, acked_batch) first acknowledges acked_batch as
-- ack_batch would, then cuts: a listener's one call per wake-up.
SELECT order_system.register_consumer('folded') AS new;
SELECT order_id AS o7 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card') \gset
-- NULL: nothing to acknowledge, as next_batch('folded').
:batch('folded', NULL);
SELECT order_id AS o8 FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :b)::jsonb, 'card') \gset
-- Batch 1 acknowledged, batch 2 cut, in one call.
:batch('folded', 1);
:status;
-- Batch 1 again (acknowledged before): batch 2, still open, comes again.
:batch('folded', 1);
-- Batch 2 acknowledged and nothing new: no rows, no open batch.
:batch('folded', 2);
:status;
SELECT batch_snapshot IS NULL AS no_open_batch FROM order_system.consumer WHERE name = 'folded';
-- A batch never cut is OS016, as for ack_batch, and changes nothing.
SELECT last_snapshot::text AS folded_pos FROM order_system.consumer WHERE name = 'folded' \gset
SELECT regress.try($$SELECT order_system.next_batch('folded', 3)$$) AS not_cut_yet,
       regress.try($$SELECT order_system.next_batch('folded', 0)$$) AS zero,
       regress.try($$SELECT order_system.next_batch('nobody', 1)$$) AS unknown_consumer;
SELECT last_snapshot::text = :'folded_pos' AS unchanged, batch_id FROM order_system.consumer WHERE name = 'folded';
SELECT order_system.unregister_consumer('folded');

----------------------------------------------------------------- the batch query's plan
-- next_batch finds a consumer's events by the outbox(tx_id) index whatever
-- the statistics say: planned again after the outbox was analysed while
-- empty (emptied here by a TRUNCATE that rolls back), it still does not
-- read the whole table on every call: both calls scan outbox(tx_id), none
-- reads the primary key (pg_stat_user_indexes).
SELECT order_system.register_consumer('scans') AS new;
SELECT count(*) AS warm FROM order_system.next_batch('scans');
SELECT pg_stat_force_next_flush();
SELECT sum(idx_scan) FILTER (WHERE indexrelname = 'outbox_tx_idx') AS tx_before,
       sum(idx_scan) FILTER (WHERE indexrelname = 'outbox_pkey') AS pkey_before
  FROM pg_stat_user_indexes WHERE relid = 'order_system.outbox'::regclass \gset
BEGIN;
TRUNCATE order_system.outbox;
ANALYZE order_system.outbox;
SELECT relpages AS analysed_pages, reltuples AS analysed_rows FROM pg_class WHERE oid = 'order_system.outbox'::regclass;
SELECT order_id IS NOT NULL AS placed FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :a)::jsonb, 'card');
SELECT count(*) AS own_events_not_yet FROM order_system.next_batch('scans');
SELECT count(*) AS own_events_not_yet FROM order_system.next_batch('scans');
ROLLBACK;
SELECT pg_stat_force_next_flush();
SELECT sum(idx_scan) FILTER (WHERE indexrelname = 'outbox_tx_idx') - :tx_before AS tx_id_scans,
       sum(idx_scan) FILTER (WHERE indexrelname = 'outbox_pkey') - :pkey_before AS primary_key_scans
  FROM pg_stat_user_indexes WHERE relid = 'order_system.outbox'::regclass;
SELECT order_system.unregister_consumer('scans');

----------------------------------------------------------------- notifier_status
-- pg_regress does not preload the library: no worker, no counters.
SELECT * FROM order_system.notifier_status();
