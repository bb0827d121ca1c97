// Orders through a pg.Pool: one transaction per call, with the caller's
// W3C traceparent set for it (SET LOCAL through set_config(..., true)), so
// that every event the call writes carries it.
//
// node-postgres sends a JS array or object as a PostgreSQL array, so the
// jsonb arguments go as JSON text; bigint columns (ids, amounts) come back
// as strings, and stay strings here: JSON numbers lose precision past 2^53.

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

// Run fn(client) in a transaction carrying traceparent (or none).  A
// traceparent the server refuses fails the call with SQLSTATE 22023.
export async function inTransaction(pool, traceparent, fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (traceparent) {
      await client.query("SELECT pg_catalog.set_config('order_system.traceparent', $1, true)",
        [traceparent]);
    }
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

// A traceparent header worth passing on: a well-formed version-00 one (the
// server checks it fully), else none (W3C: ignore what cannot be parsed).
export function traceparentOf(header) {
  return typeof header === 'string' && TRACEPARENT.test(header) ? header : null;
}

export async function placeOrder(pool, order, traceparent) {
  const { memberId, lines, paymentMethod, idempotencyKey = null, paymentParams = null } = order;
  return inTransaction(pool, traceparent, async (client) => {
    const { rows } = await client.query(
      'SELECT * FROM order_system.place_order($1, $2::jsonb, $3, $4, $5::jsonb)',
      [memberId, JSON.stringify(lines), paymentMethod, idempotencyKey,
        paymentParams === null ? null : JSON.stringify(paymentParams)]);
    return rows[0];
  });
}

// A saga step on an order: cancel_order, refund_order, complete_order.
const STEPS = new Set(['cancel_order', 'refund_order', 'complete_order']);

export async function orderStep(pool, step, orderId, reason, traceparent) {
  if (!STEPS.has(step)) throw new Error(`unknown step ${step}`);
  const args = step === 'complete_order' ? [orderId] : [orderId, reason ?? null];
  const params = args.map((_, i) => `$${i + 1}`).join(', ');
  return inTransaction(pool, traceparent, async (client) => {
    const { rows } = await client.query(`SELECT order_system.${step}(${params}) AS status`, args);
    return rows[0].status;
  });
}

export async function getOrder(pool, orderId) {
  const { rows } = await pool.query('SELECT order_system.get_order($1) AS o', [orderId]);
  return rows[0].o;
}
