// Resumption is the seam between the database and the bus: a stream that replays while the room
// keeps talking must come out with every event once, in order.
import t from 'tap'
import { Publisher, MemoryBus } from '../src/index.ts'
import { MemoryDb, openStream, range, sleep, startNode } from './fixtures/harness.ts'

function seed(db: MemoryDb, count: number): void {
  for (let i = 0; i < count; i++) db.commit('r1', 'alice')
}

t.test('events published during a replay arrive once, in order, after it', async (t) => {
  for (const firstInRoom of [true, false]) {
    const bus = new MemoryBus()
    const db = new MemoryDb()
    seed(db, 300)
    const node = await startNode(t, { bus, db, pageSize: 25 })
    const live = firstInRoom ? null : await openStream(node, 'r1')
    db.readDelayMs = 3
    const resumed = await openStream(node, 'r1', { lastEventId: 10 })
    const publisher = new Publisher(bus)
    for (let i = 0; i < 100; i++) {
      await publisher.publishEvent(db.commit('r1', 'bob'))
      await sleep(i % 3)
    }
    await resumed.waitForSeq(400)
    t.same(resumed.seqs, range(11, 400), `resumed stream, first in room: ${firstInRoom}`)
    if (live) {
      await live.waitForSeq(400)
      t.same(live.seqs, range(301, 400), 'live stream unaffected')
    }
  }
})

t.test('resumption from a quiet room replays without any new event', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  seed(db, 42)
  const node = await startNode(t, { bus, db, pageSize: 10 })
  const all = await openStream(node, 'r1', { lastEventId: 0 })
  const tail = await openStream(node, 'r1', { lastEventId: 40 })
  const none = await openStream(node, 'r1', { lastEventId: 42 })
  await all.waitForSeq(42)
  await tail.waitForSeq(42)
  t.same(all.seqs, range(1, 42), 'lastEventId=0 replays the whole room')
  t.same(tail.seqs, [41, 42])
  await new Publisher(bus).publishEvent(db.commit('r1', 'bob'))
  await none.waitForSeq(43)
  t.same(none.seqs, [43], 'a client already at the head goes live')
})

t.test('a lastEventId beyond the head replays nothing and then goes live', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  seed(db, 5)
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1', { lastEventId: 1000 })
  await sleep(20)
  t.same(client.seqs, [])
  await new Publisher(bus).publishEvent(db.commit('r1', 'bob'))
  await client.waitForSeq(6)
  t.same(client.seqs, [6])
})

t.test('a stream without lastEventId starts live with the next event', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  seed(db, 5)
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1')
  const publisher = new Publisher(bus)
  await publisher.publishEvent(db.commit('r1', 'bob'))
  await publisher.publishEvent(db.commit('r1', 'bob'))
  await client.waitForSeq(7)
  t.same(client.seqs, [6, 7])
})
