// The bus may reorder (several nodes publish), lose or repeat messages, or go away for a while;
// every subscriber must still see the room's log exactly once, in order.
import t from 'tap'
import { MemoryBus, Publisher } from '../src/index.ts'
import { FlakyBus } from './fixtures/flaky-bus.ts'
import { MemoryDb, openStream, range, sleep, type SseClient, startNode } from './fixtures/harness.ts'

// Deterministic pseudo-random numbers, so a failure can be replayed.
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
}

t.test('250 events published concurrently from several nodes arrive once, in order, everywhere', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const nodes = await Promise.all([1, 2, 3].map(() => startNode(t, { bus, db, pageSize: 20 })))
  const clients: SseClient[] = []
  for (const node of nodes) clients.push(await openStream(node, 'r1'), await openStream(node, 'r1'))
  const publishers = nodes.map(() => new Publisher(bus))
  const rand = random(42)
  // Commits are sequential like the room lock makes them; publishes race with random delays.
  await Promise.all(
    range(1, 250).map(async () => {
      const event = db.commit('r1', 'alice')
      await sleep(Math.floor(rand() * 5))
      await publishers[Math.floor(rand() * publishers.length)]!.publishEvent(event)
    })
  )
  await Promise.all(clients.map((c) => c.waitForSeq(250)))
  for (const client of clients) t.same(client.seqs, range(1, 250))
  t.same(clients[0]!.events, db.rooms.get('r1'), 'payloads intact')
})

async function publishInOrder(db: MemoryDb, publishers: Publisher[], count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await publishers[i % publishers.length]!.publishEvent(db.commit('r1', 'alice'))
    if (i % 10 === 0) await sleep(1)
  }
}

t.test('a bus that loses every tenth message still yields every event', async (t) => {
  const bus = new FlakyBus()
  bus.lose = (index) => index % 10 === 0
  const db = new MemoryDb()
  const nodes = await Promise.all([1, 2].map(() => startNode(t, { bus, db, pageSize: 7 })))
  const clients = await Promise.all(nodes.map((node) => openStream(node, 'r1')))
  const filled: number[] = []
  const metricsNode = await startNode(t, {
    bus,
    db,
    metrics: {
      streamOpened: () => {},
      streamClosed: () => {},
      delivered: () => {},
      deliveryLatency: () => {},
      slowConsumer: () => {},
      gapFilled: (count) => filled.push(count)
    }
  })
  clients.push(await openStream(metricsNode, 'r1'))
  await publishInOrder(
    db,
    nodes.map(() => new Publisher(bus)),
    250
  )
  await Promise.all(clients.map((c) => c.waitForSeq(250)))
  for (const client of clients) t.same(client.seqs, range(1, 250))
  t.equal(
    filled.reduce((a, b) => a + b, 0),
    25,
    'the 25 lost events were read from the database'
  )
})

t.test('repeated messages are delivered once', async (t) => {
  const bus = new FlakyBus()
  bus.duplicate = true
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1')
  await publishInOrder(db, [new Publisher(bus)], 30)
  await client.waitForSeq(30)
  await sleep(10)
  t.same(client.seqs, range(1, 30))
})

t.test('after a bus outage the reconnect brings what was published meanwhile', async (t) => {
  const bus = new FlakyBus()
  const db = new MemoryDb()
  const nodes = await Promise.all([1, 2].map(() => startNode(t, { bus, db, pageSize: 3 })))
  const clients = await Promise.all(nodes.map((node) => openStream(node, 'r1')))
  const publisher = new Publisher(bus)
  await publishInOrder(db, [publisher], 5)
  bus.down = true
  await publishInOrder(db, [publisher], 10)
  await sleep(10)
  t.same(clients[0]!.seqs, range(1, 5), 'nothing arrives while the bus is down')
  bus.reconnect()
  await Promise.all(clients.map((c) => c.waitForSeq(15)))
  await publishInOrder(db, [publisher], 5)
  await Promise.all(clients.map((c) => c.waitForSeq(20)))
  for (const client of clients) t.same(client.seqs, range(1, 20))
})
