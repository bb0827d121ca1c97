-- Members and points: create_member, get_member, adjust_points,
-- points_history, deactivate_member; the events they write and the
-- domain errors they raise (NULLs and extreme inputs are in 06_bad_input).
\set VERBOSITY terse
SELECT regress.restart_ids(10000);

-- create_member: name, optional e-mail, optional initial points.
SELECT order_system.create_member('Alice', 'alice@example.com', 1000) AS alice \gset
SELECT order_system.create_member('Bob') AS bob \gset
SELECT order_system.create_member('민지 🐱', 'minji@example.kr') AS minji \gset
SELECT :alice AS alice, :bob AS bob, :minji AS minji;
SELECT id, name, email, active, points_balance, created_at IS NOT NULL AS has_created_at
  FROM order_system.get_member(:alice)
UNION ALL
SELECT id, name, email, active, points_balance, created_at IS NOT NULL
  FROM order_system.get_member(:bob)
UNION ALL
SELECT id, name, email, active, points_balance, created_at IS NOT NULL
  FROM order_system.get_member(:minji)
 ORDER BY id;
-- An unknown member is no row, not an error.
SELECT count(*) FROM order_system.get_member(999999);
-- Initial points are an 'adjust' ledger row, so the balance is its ledger sum.
SELECT kind, delta, order_id, reason FROM order_system.points_history(:alice);
SELECT count(*) FROM order_system.points_history(:bob);
SELECT event_type, aggregate, payload FROM regress.events(10000);

-- Rejected members write nothing.
SELECT regress.counts() AS before \gset
SELECT regress.try($$SELECT order_system.create_member('Alice 2', 'alice@example.com')$$) AS duplicate_email;
SELECT regress.try($$SELECT order_system.create_member('', 'empty@example.com')$$) AS empty_name;
SELECT regress.try($$SELECT order_system.create_member('Carol', 'carol.example.com')$$) AS email_without_at;
SELECT regress.try($$SELECT order_system.create_member('Carol', '@')$$) AS email_too_short;
SELECT regress.try($$SELECT order_system.create_member('Carol', 'carol@example.com', -1)$$) AS negative_points;
SELECT regress.counts() = :'before' AS nothing_written;

-- adjust_points: add, take away, never below zero; returns the new balance.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_system.adjust_points(:alice, 500, 'welcome bonus');
SELECT order_system.adjust_points(:alice, -200, 'correction');
SELECT order_system.adjust_points(:alice, -1300, 'spend it all');
SELECT order_system.adjust_points(:alice, 700, 'goodwill');
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT kind, delta, order_id, reason FROM order_system.points_history(:alice);
SELECT points_balance FROM order_system.get_member(:alice);

SELECT regress.counts() AS before \gset
SELECT regress.try(format('SELECT order_system.adjust_points(%s, -701, %L)', :alice, 'too much')) AS insufficient;
SELECT regress.try(format('SELECT order_system.adjust_points(%s, -1, %L)', :bob, 'nothing to take')) AS insufficient_at_zero;
SELECT regress.try(format('SELECT order_system.adjust_points(%s, 0, %L)', :alice, 'zero')) AS zero_delta;
SELECT regress.try(format('SELECT order_system.adjust_points(%s, 10, %L)', :alice, '')) AS empty_reason;
SELECT regress.try($$SELECT order_system.adjust_points(999999, 10, 'ghost')$$) AS unknown_member;
SELECT regress.counts() = :'before' AS nothing_written;
SELECT points_balance FROM order_system.get_member(:alice);

-- deactivate_member: true the first time, false (and no event) after.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_system.deactivate_member(:bob);
SELECT order_system.deactivate_member(:bob);
SELECT active FROM order_system.get_member(:bob);
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT regress.try($$SELECT order_system.deactivate_member(999999)$$) AS unknown_member;
SELECT count(*) FROM order_system.outbox WHERE id > :ev;

SELECT * FROM order_system.check_invariants();
