// The example against a real server: the PG* environment names a running
// cluster with order_system installed (test/run's throwaway one); a fresh
// database is made for the run and dropped after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createServer } from '../src/server.js';
import { EventConsumer } from '../src/events.js';
import { HTTP_STATUS, toHttp } from '../src/errors.js';

const db = `order_system_node_${process.pid}`;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

let admin;
let pool;
let server;
let base;
const ids = {};

async function post(path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const line = (product, quantity = 1) => [{ product_id: Number(product), quantity }];

before(async () => {
  admin = new pg.Client({ database: process.env.PGDATABASE ?? 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  // a small burst, so that the rate limit is reached in a test
  await admin.query(`ALTER DATABASE ${db} SET order_system.order_burst = 4`);
  await admin.query(`ALTER DATABASE ${db} SET order_system.order_rate_limit = 1`);
  // the traceparent's check needs the library loaded before the first SET
  // of a session (the recipe in the README: preload it)
  await admin.query(`ALTER DATABASE ${db} SET session_preload_libraries = 'order_system'`);
  pool = new pg.Pool({ database: db, max: 4 });
  // an idle client whose server session ends (the DROP DATABASE below) emits
  // an error: a service logs it, the pool replaces the client
  pool.on('error', () => {});
  await pool.query('CREATE EXTENSION order_system');
  const q = async (sql, args) => (await pool.query(sql, args)).rows[0].id;
  ids.alice = await q("SELECT order_system.create_member('alice', NULL, 500) AS id");
  ids.bob = await q("SELECT order_system.create_member('bob', NULL, 0) AS id");
  ids.carol = await q("SELECT order_system.create_member('carol', NULL, 0) AS id");
  ids.dave = await q("SELECT order_system.create_member('dave', NULL, 0) AS id");
  ids.pen = await q("SELECT order_system.create_product('PEN', 'pen', 1000, 'KRW', 100) AS id");
  ids.ink = await q("SELECT order_system.create_product('INK', 'ink', 700, 'KRW', 1) AS id");
  server = createServer(pool);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await pool.end();
  // the pool's sessions end asynchronously: wait for them, then drop
  for (let i = 0; i < 100; i++) {
    const { rows } = await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [db]);
    if (rows[0].n === '0') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});

describe('placing orders through the pool', () => {
  test('a new order is 201, ids and amounts as strings (bigint)', async () => {
    const r = await post('/orders', { member_id: ids.alice, lines: line(ids.pen, 2), payment_method: 'card' });
    assert.equal(r.status, 201);
    assert.equal(r.body.status, 'pending_payment');
    assert.equal(typeof r.body.order_id, 'string');
    assert.equal(r.body.total_amount, '2000');
    assert.equal(r.body.replayed, false);
  });

  test('a traceparent header reaches every event of the order', async () => {
    const r = await post('/orders', { member_id: ids.bob, lines: line(ids.pen), payment_method: 'card' },
      { traceparent: TRACEPARENT });
    assert.equal(r.status, 201);
    const { rows } = await pool.query(
      "SELECT event_type, trace_context, payload FROM order_system.outbox WHERE aggregate_id = $1 AND aggregate_type = 'order' ORDER BY id",
      [r.body.order_id]);
    assert.deepEqual(rows.map((e) => e.event_type), ['order.placed', 'payment.requested']);
    for (const e of rows) {
      assert.equal(e.trace_context, TRACEPARENT);
      assert.equal(e.payload.trace_context, undefined, 'not mixed into the payload');
    }
  });

  test('a traceparent the server refuses is a 400 (22023), and nothing is placed', async () => {
    const before = (await pool.query('SELECT count(*) AS n FROM order_system.orders')).rows[0].n;
    const r = await post('/orders', { member_id: ids.bob, lines: line(ids.pen), payment_method: 'card' },
      { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
    assert.equal(r.status, 400);
    assert.equal(r.body.sqlstate, '22023');
    assert.equal((await pool.query('SELECT count(*) AS n FROM order_system.orders')).rows[0].n, before);
  });

  test('out of stock: 409 with the numbers in the detail', async () => {
    const r = await post('/orders', { member_id: ids.alice, lines: line(ids.ink, 3), payment_method: 'card' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'out_of_stock');
    assert.deepEqual(r.body.detail, { product_id: Number(ids.ink), requested: 3, available: 1 });
  });

  test('insufficient points: 402 with balance and required', async () => {
    const r = await post('/orders', { member_id: ids.alice, lines: line(ids.pen), payment_method: 'points' });
    assert.equal(r.status, 402);
    assert.deepEqual(r.body.detail, { member_id: Number(ids.alice), balance: 500, required: 1000 });
  });

  test('unknown member: 404', async () => {
    const r = await post('/orders', { member_id: 999999, lines: line(ids.pen), payment_method: 'card' });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'member_not_found');
  });

  test('idempotency: a replay is 200, {} and no params are one request, another request 422', async () => {
    const body = { member_id: ids.carol, lines: line(ids.pen), payment_method: 'card' };
    const key = { 'idempotency-key': 'carol-1' };
    const first = await post('/orders', body, key);
    assert.equal(first.status, 201);
    const again = await post('/orders', { ...body, payment_params: {} }, key);
    assert.equal(again.status, 200);
    assert.equal(again.body.order_id, first.body.order_id);
    assert.equal(again.body.replayed, true);
    const other = await post('/orders', { ...body, lines: line(ids.pen, 2) }, key);
    assert.equal(other.status, 422);
    assert.equal(other.body.error, 'idempotency_conflict');
    assert.deepEqual(other.body.detail, { idempotency_key: 'carol-1', order_id: Number(first.body.order_id) });
    assert.match(other.body.hint, /new key/);
  });

  test('cancelling a paid order: 409 with the allowed events and a hint', async () => {
    const placed = await post('/orders', { member_id: ids.carol, lines: line(ids.pen), payment_method: 'card' });
    await pool.query("SELECT order_system.confirm_payment($1, 'gw-1')", [placed.body.order_id]);
    const r = await post(`/orders/${placed.body.order_id}/cancel`, { reason: 'changed my mind' });
    assert.equal(r.status, 409);
    assert.deepEqual(r.body.detail, {
      order_id: Number(placed.body.order_id), status: 'paid', event: 'cancel', allowed_events: ['complete', 'refund'],
    });
    assert.match(r.body.hint, /refund_order/);
    const refund = await post(`/orders/${placed.body.order_id}/refund`, {});
    assert.equal(refund.status, 200);
    assert.equal(refund.body.status, 'refunded');
  });

  test('rate limited: 429 with Retry-After from the detail', async () => {
    const body = { member_id: ids.dave, lines: line(ids.pen), payment_method: 'card' };
    for (let i = 0; i < 4; i++) assert.equal((await post('/orders', body)).status, 201);
    const r = await post('/orders', body);
    assert.equal(r.status, 429);
    assert.equal(typeof r.body.detail.retry_after_s, 'number');
    assert.ok(r.body.detail.retry_after_s > 0 && r.body.detail.retry_after_s <= 60);
    assert.equal(r.headers.get('retry-after'), String(Math.ceil(r.body.detail.retry_after_s)));
  });

  test('every domain SQLSTATE that error_codes() lists has an HTTP status', async () => {
    const { rows } = await pool.query("SELECT sqlstate FROM order_system.error_codes() WHERE sqlstate LIKE 'OS%'");
    const unmapped = rows.map((r) => r.sqlstate).filter((s) => !HTTP_STATUS[s] && s !== 'OS013'
      && s !== 'OS015' && s !== 'OS016' && s !== 'OS018');
    assert.deepEqual(unmapped, [], 'OS013 (a broken payment handler) and OS015/OS016/OS018 (consumers) stay 500');
    assert.equal(toHttp(new Error('not from the database')), null);
  });
});

describe('consuming events', () => {
  test('next_batch delivers each event with its trace context; LISTEN wakes the consumer', async () => {
    const seen = [];
    const consumer = new EventConsumer({
      connection: { database: db }, name: 'node-example', pollMs: 60000,
      onEvent: (e) => { seen.push(e); },
    });
    await consumer.start();
    try {
      await post('/orders', { member_id: ids.bob, lines: line(ids.pen), payment_method: 'card' },
        { traceparent: TRACEPARENT });
      // without a preloaded notifier nobody sends the wake-up: send it by hand,
      // long before the 60 s poll would come round
      await pool.query('NOTIFY order_system_events');
      const deadline = Date.now() + 10000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen.map((e) => e.eventType), ['order.placed', 'payment.requested']);
      for (const e of seen) {
        assert.equal(e.traceContext, TRACEPARENT);
        assert.equal(typeof e.id, 'string');
        assert.equal(typeof e.payload, 'object');
      }
      assert.equal(seen[0].payload.order_id, Number(seen[0].aggregateId));
    } finally {
      await consumer.stop();
    }
    const { rows } = await pool.query("SELECT pending_events FROM order_system.consumer_status() WHERE name = 'node-example'");
    assert.equal(rows[0].pending_events, '0', 'everything handled was acknowledged');
  });

  test('a handler that throws gets the batch again (at least once)', async () => {
    let failures = 0;
    const seen = [];
    const consumer = new EventConsumer({
      connection: { database: db }, name: 'node-retry', pollMs: 50,
      onEvent: (e) => {
        if (failures++ === 0) throw new Error('transient');
        seen.push(e.id);
      },
    });
    const errors = [];
    const log = console.error;
    console.error = (msg) => errors.push(msg);
    try {
      await consumer.start();
      await post('/orders', { member_id: ids.bob, lines: line(ids.pen), payment_method: 'card' });
      const deadline = Date.now() + 10000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.stop();
    } finally {
      console.error = log;
    }
    assert.equal(seen.length, 2, 'both events of the order, after one failure');
    assert.match(errors.join('\n'), /transient/);
  });
});
