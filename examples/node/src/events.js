// An outbox consumer on one dedicated connection (not the pool: LISTEN
// belongs to a session).  It drains next_batch until a call returns no rows,
// handing each event to onEvent, and acknowledges a batch by passing its id
// to the next next_batch call, so delivery is at-least-once: a batch whose
// handler threw is delivered again.  Between drains it waits for a NOTIFY on
// order_system_events (sent by the notifier when the server preloads
// order_system) or the poll interval, whichever comes first.

import pg from 'pg';

const CHANNEL = 'order_system_events';

// A row of next_batch as the application sees it.  Ids are bigint: strings.
function toEvent(row) {
  return {
    batchId: row.batch_id,
    id: row.id,
    txId: row.tx_id,
    eventType: row.event_type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    payload: row.payload, // json: parsed by node-postgres
    createdAt: row.created_at,
    traceContext: row.trace_context ?? null,
  };
}

export class EventConsumer {
  constructor({ connection = {}, name, onEvent, pollMs = 1000, fromStart = false }) {
    this.connection = connection;
    this.name = name;
    this.onEvent = onEvent;
    this.pollMs = pollMs;
    this.fromStart = fromStart;
    this.client = null;
    this.unacked = null; // a handled batch, acknowledged by the next fetch
    this.stopping = false;
    this.wakeUp = null;
    this.loop = null;
  }

  async start() {
    this.client = new pg.Client(this.connection);
    // a lost connection: the next query fails and the loop reports it
    this.client.on('error', (err) => { console.error(`consumer ${this.name}: ${err.message}`); this.wake(); });
    await this.client.connect();
    await this.client.query('SELECT order_system.register_consumer($1, $2)', [this.name, this.fromStart]);
    this.client.on('notification', (msg) => { if (msg.channel === CHANNEL) this.wake(); });
    await this.client.query(`LISTEN ${CHANNEL}`);
    this.loop = this.run();
  }

  // A wake-up that comes while a drain is running is kept, and the loop
  // drains again instead of waiting: otherwise it would be lost until the
  // next poll.
  wake() {
    this.woken = true;
    if (this.wakeUp) this.wakeUp();
  }

  // Fetch and handle batches until there is nothing new.
  async drain() {
    for (;;) {
      const { rows } = await this.client.query(
        'SELECT * FROM order_system.next_batch($1, $2)', [this.name, this.unacked]);
      this.unacked = null;
      if (rows.length === 0) return;
      for (const row of rows) await this.onEvent(toEvent(row));
      this.unacked = rows[0].batch_id;
    }
  }

  async run() {
    while (!this.stopping) {
      this.woken = false;
      try {
        await this.drain();
      } catch (err) {
        if (this.stopping) break;
        // the batch stays unacknowledged and comes again after the wait
        this.unacked = null;
        console.error(`consumer ${this.name}: ${err.message}`);
      }
      if (this.stopping) break;
      if (this.woken) continue;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wakeUp = () => { clearTimeout(timer); resolve(); };
      });
      this.wakeUp = null;
    }
  }

  async stop() {
    this.stopping = true;
    this.wake();
    await this.loop;
    // the last handled batch, if its ack did not go out with a fetch
    if (this.unacked !== null) {
      await this.client.query('SELECT order_system.ack_batch($1, $2)', [this.name, this.unacked]);
    }
    await this.client.end();
  }
}
