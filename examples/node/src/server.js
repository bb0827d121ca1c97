// A small HTTP API on order_system:
//   POST /orders                 {member_id, lines, payment_method, payment_params?}
//                                (Idempotency-Key header: the idempotency key)
//   GET  /orders/:id
//   POST /orders/:id/cancel | /refund | /complete   {reason?}
// A W3C traceparent header is passed on to the transaction, so the order's
// events carry it.  Errors are mapped by src/errors.js.
//
//   PGHOST=... PGDATABASE=... node src/server.js      (PORT, default 3000;
//   CONSUMER=name also prints every event as a JSON line)

import http from 'node:http';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { toHttp } from './errors.js';
import { getOrder, orderStep, placeOrder, traceparentOf } from './orders.js';
import { EventConsumer } from './events.js';

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 1 << 20) throw new SyntaxError('body too large');
  }
  return text === '' ? {} : JSON.parse(text);
}

const STEP_OF = { cancel: 'cancel_order', refund: 'refund_order', complete: 'complete_order' };

async function route(pool, req, res) {
  const url = new URL(req.url, 'http://localhost');
  const traceparent = traceparentOf(req.headers.traceparent);
  let m;
  if (req.method === 'POST' && url.pathname === '/orders') {
    const b = await readJson(req);
    const order = await placeOrder(pool, {
      memberId: b.member_id,
      lines: b.lines,
      paymentMethod: b.payment_method,
      idempotencyKey: req.headers['idempotency-key'] ?? null,
      paymentParams: b.payment_params ?? null,
    }, traceparent);
    return send(res, order.replayed ? 200 : 201, order);
  }
  if (req.method === 'GET' && (m = url.pathname.match(/^\/orders\/(\d{1,18})$/))) {
    const order = await getOrder(pool, m[1]);
    return order ? send(res, 200, order)
      : send(res, 404, { error: 'order_not_found', sqlstate: null, message: `order ${m[1]} not found`,
        detail: null, hint: null });
  }
  if (req.method === 'POST' && (m = url.pathname.match(/^\/orders\/(\d{1,18})\/(cancel|refund|complete)$/))) {
    const b = await readJson(req);
    const status = await orderStep(pool, STEP_OF[m[2]], m[1], b.reason, traceparent);
    return send(res, 200, { order_id: m[1], status });
  }
  return send(res, 404, { error: 'not_found', sqlstate: null, message: 'no such route', detail: null, hint: null });
}

export function createServer(pool) {
  return http.createServer((req, res) => {
    route(pool, req, res).catch((err) => {
      if (err instanceof SyntaxError) {
        return send(res, 400, { error: 'bad_json', sqlstate: null, message: err.message, detail: null, hint: null });
      }
      const mapped = toHttp(err);
      if (!mapped) {
        console.error(err);
        return send(res, 500, { error: 'internal_error', sqlstate: null, message: 'internal error', detail: null, hint: null });
      }
      return send(res, mapped.status, mapped.body, mapped.headers);
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pool = new pg.Pool({ max: 10 });
  pool.on('error', (err) => console.error(`idle database client: ${err.message}`));
  const server = createServer(pool);
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  if (process.env.CONSUMER) {
    const consumer = new EventConsumer({
      name: process.env.CONSUMER,
      onEvent: (e) => { process.stdout.write(`${JSON.stringify(e)}\n`); },
    });
    await consumer.start();
    process.on('SIGTERM', async () => { server.close(); await consumer.stop(); await pool.end(); });
  }
}
