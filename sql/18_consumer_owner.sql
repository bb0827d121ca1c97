-- Consumer owners: a consumer belongs to the role that registered it (the
-- role the session acts as, SET ROLE included).  Another gateway role can
-- neither read, acknowledge, replay nor forget it (42501, its position
-- untouched); the owner's members, order_system_admin and superusers can.
-- A consumer with no owner recorded (registered before 0.8.0) stays open
-- to every role that may call the consumer functions.
\set VERBOSITY terse
SELECT regress.restart_ids(180000);

CREATE ROLE regress_gw_a LOGIN IN ROLE order_system_gateway;
CREATE ROLE regress_gw_b LOGIN IN ROLE order_system_gateway;
CREATE ROLE regress_gw_a_too LOGIN IN ROLE regress_gw_a;
CREATE ROLE regress_ops NOLOGIN IN ROLE order_system_admin;
GRANT USAGE ON SCHEMA regress TO regress_gw_a, regress_gw_b, regress_ops;
-- replay and unregister are the operators'; granted here so that the owner
-- check, not EXECUTE, is what refuses the other gateway
GRANT EXECUTE ON FUNCTION order_system.replay_consumer(text, bigint),
	order_system.unregister_consumer(text) TO regress_gw_a, regress_gw_b;

-- Each gateway registers its own consumer; the owner is the SET ROLE role.
SET ROLE regress_gw_a;
SELECT order_system.register_consumer('owned-a') AS registered_a;
RESET ROLE;
SET ROLE regress_gw_b;
SELECT order_system.register_consumer('owned-b') AS registered_b;
RESET ROLE;
SELECT name, owner FROM order_system.consumer_status() WHERE name LIKE 'owned-%';

-- An event for both: a's open batch holds it.
SELECT order_system.create_member('Owner Test', NULL, 0) AS m \gset
SELECT id - 1 AS before_event FROM order_system.outbox WHERE aggregate_type = 'member' AND aggregate_id = :m \gset
SET ROLE regress_gw_a;
SELECT batch_id, event_type FROM order_system.next_batch('owned-a');
RESET ROLE;
SELECT last_snapshot::text AS position FROM order_system.consumer WHERE name = 'owned-a' \gset before_

-- b may not touch a's consumer: the same 42501 for every function, and
-- nothing of a's position changes.
SET ROLE regress_gw_b;
SELECT f.call, regress.try(f.call) AS result
  FROM (VALUES ($$SELECT count(*) FROM order_system.next_batch('owned-a')$$),
			   ($$SELECT count(*) FROM order_system.next_batch('owned-a', 1)$$),
			   ($$SELECT order_system.ack_batch('owned-a', 1)$$),
			   ($$SELECT order_system.ack_batch('owned-a', 99)$$),
			   ($$SELECT order_system.replay_consumer('owned-a', 0)$$),
			   ($$SELECT order_system.unregister_consumer('owned-a')$$)) f(call);
-- its own consumer works
SELECT batch_id, event_type FROM order_system.next_batch('owned-b');
SELECT order_system.ack_batch('owned-b', 1) AS b_acked;
RESET ROLE;
SELECT :'before_position' = last_snapshot::text AS a_position_kept, batch_id AS a_batch,
	   batch_snapshot IS NOT NULL AS a_batch_open
  FROM order_system.consumer WHERE name = 'owned-a';

-- A member of the owning role may use it; the owner itself acknowledges.
SET ROLE regress_gw_a_too;
SELECT batch_id, event_type FROM order_system.next_batch('owned-a');
RESET ROLE;
SET ROLE regress_gw_a;
SELECT order_system.ack_batch('owned-a', 1) AS a_acked;
SELECT order_system.replay_consumer('owned-a', :before_event);
SELECT batch_id, event_type FROM order_system.next_batch('owned-a', NULL);
RESET ROLE;

-- Operators may use every consumer, and hand one to another role.
SET ROLE regress_ops;
SELECT order_system.ack_batch('owned-a', 2) AS ops_acked;
SELECT order_system.replay_consumer('owned-b', :before_event);
SELECT batch_id, event_type FROM order_system.next_batch('owned-b');
SELECT order_system.set_consumer_owner('owned-b', 'regress_gw_a') AS handed_over;
SELECT order_system.set_consumer_owner('owned-none', 'regress_gw_a') AS handed_missing;
SELECT regress.try($$SELECT order_system.set_consumer_owner('owned-b', NULL)$$) AS null_owner;
RESET ROLE;
SET ROLE regress_gw_b;
SELECT regress.try($$SELECT count(*) FROM order_system.next_batch('owned-b')$$) AS b_after_handover;
-- a gateway may not hand consumers over
SELECT regress.try($$SELECT order_system.set_consumer_owner('owned-b', 'regress_gw_b')$$) AS b_takes_back;
RESET ROLE;
SET ROLE regress_gw_a;
SELECT batch_id, event_type FROM order_system.next_batch('owned-b');
RESET ROLE;

-- No owner recorded (a consumer from before 0.8.0): any gateway role.
UPDATE order_system.consumer SET owner = NULL WHERE name = 'owned-b';
SET ROLE regress_gw_b;
SELECT batch_id, event_type FROM order_system.next_batch('owned-b');
RESET ROLE;

-- Forgetting: b cannot, the owner can; an unknown name is false either way.
SET ROLE regress_gw_b;
SELECT regress.try($$SELECT order_system.unregister_consumer('owned-a')$$) AS b_unregisters_a;
SELECT order_system.unregister_consumer('owned-missing') AS b_unregisters_missing;
RESET ROLE;
SET ROLE regress_gw_a;
SELECT order_system.unregister_consumer('owned-a') AS a_unregisters_a;
RESET ROLE;
SELECT order_system.unregister_consumer('owned-b') AS superuser_unregisters_b;
SELECT count(*) AS left_over FROM order_system.consumer WHERE name LIKE 'owned-%';

REVOKE EXECUTE ON FUNCTION order_system.replay_consumer(text, bigint),
	order_system.unregister_consumer(text) FROM regress_gw_a, regress_gw_b;
REVOKE USAGE ON SCHEMA regress FROM regress_gw_a, regress_gw_b, regress_ops;
DROP ROLE regress_gw_a_too;
DROP ROLE regress_gw_a;
DROP ROLE regress_gw_b;
DROP ROLE regress_ops;
