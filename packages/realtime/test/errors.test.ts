// A failing database or a garbled bus message must never crash the node or stall a room for good:
// errors surface through onError, catch-up is retried, and streams close only as a last resort.
import t from 'tap'
import { Publisher, MemoryBus } from '../src/index.ts'
import { FlakyBus } from './fixtures/flaky-bus.ts'
import { MemoryDb, openStream, range, sleep, startNode } from './fixtures/harness.ts'
import { until } from '@chat/testkit'

function lossyAt(...indexes: number[]): (index: number) => boolean {
  return (index) => indexes.includes(index)
}

t.test('a gap fill that fails is retried on the next event', async (t) => {
  const bus = new FlakyBus()
  bus.lose = lossyAt(1)
  const db = new MemoryDb()
  const errors: unknown[] = []
  const node = await startNode(t, { bus, db, onError: (e) => errors.push(e) })
  const client = await openStream(node, 'r1')
  const publisher = new Publisher(bus)
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await publisher.publishEvent(db.commit('r1', 'alice'))
  db.failing = true
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await until(() => errors.length === 1, 'the error to be reported')
  db.failing = false
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await client.waitForSeq(4)
  t.same(client.seqs, [1, 2, 3, 4])
})

t.test('a gap fill that fails is retried by the heartbeat when no event follows', async (t) => {
  const bus = new FlakyBus()
  bus.lose = lossyAt(0)
  const db = new MemoryDb()
  const errors: unknown[] = []
  const node = await startNode(t, { bus, db, heartbeatMs: 20, onError: (e) => errors.push(e) })
  const client = await openStream(node, 'r1')
  const publisher = new Publisher(bus)
  db.failing = true
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await until(() => errors.length >= 2, 'two errors to be reported')
  db.failing = false
  await client.waitForSeq(2)
  t.same(client.seqs, [1, 2])
  t.ok(errors.every((e) => e instanceof Error && e.message === 'database unavailable'))
})

t.test('a room that cannot catch up past the deadline closes its streams with catch_up_failed', async (t) => {
  const bus = new FlakyBus()
  bus.lose = lossyAt(0)
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db, heartbeatMs: 10, catchUpDeadlineMs: 50, onError: () => {} })
  const client = await openStream(node, 'r1')
  db.failing = true
  const publisher = new Publisher(bus)
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await client.ended
  t.equal(client.closeReason, 'catch_up_failed')
  await until(() => node.hub.broadcasterCount === 0, 'the broadcaster to be dropped')
})

t.test('a room that cannot be opened rejects the attach and leaves nothing behind', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  db.failing = true
  const req = openStream(node, 'r1')
  await t.rejects(req, 'the harness destroys the response when attach rejects')
  await until(() => node.hub.broadcasterCount === 0 && bus.channels.length === 1, 'the room to be unsubscribed')
  db.failing = false
  const client = await openStream(node, 'r1')
  await new Publisher(bus).publishEvent(db.commit('r1', 'alice'))
  await client.waitForSeq(1)
  client.destroy()
})

t.test('a replay that fails closes that stream with catch_up_failed', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  for (let i = 0; i < 30; i++) db.commit('r1', 'alice')
  const errors: unknown[] = []
  const node = await startNode(t, { bus, db, pageSize: 10, onError: (e) => errors.push(e) })
  const live = await openStream(node, 'r1')
  db.readDelayMs = 20
  const resumed = await openStream(node, 'r1', { lastEventId: 0 })
  db.failing = true
  await resumed.ended
  t.equal(resumed.closeReason, 'catch_up_failed')
  t.equal(errors.length, 1)
  t.equal(node.hub.streamCount, 1, 'the live stream stays')
  live.destroy()
})

t.test('malformed bus messages are reported and skipped', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const errors: unknown[] = []
  const node = await startNode(t, { bus, db, onError: (e) => errors.push(e) })
  const client = await openStream(node, 'r1')
  const event = db.commit('r1', 'alice')
  await bus.publish('room:r1', 'not json')
  await bus.publish('room:r1', JSON.stringify({ k: 'event', t: 0, e: { ...event, type: 'admin\nevent: x' } }))
  await bus.publish('room:r1', JSON.stringify({ k: 'event', t: 0, e: { ...event, roomId: 'r2' } }))
  await bus.publish('control', JSON.stringify({ k: 'end', reason: 'because' }))
  await bus.publish('control', '[]')
  await new Publisher(bus).publishEvent(event)
  await client.waitForSeq(1)
  await sleep(5)
  t.equal(errors.length, 5)
  t.same(client.seqs, [1])
  t.equal(client.closeReason, undefined)
  client.destroy()
})

t.test('events reach streams after a failed attempt without duplicates', async (t) => {
  const bus = new FlakyBus()
  bus.lose = (index) => index % 3 === 0
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db, heartbeatMs: 15, onError: () => {} })
  const client = await openStream(node, 'r1')
  const publisher = new Publisher(bus)
  for (let i = 0; i < 60; i++) {
    db.failing = i % 7 < 2
    await publisher.publishEvent(db.commit('r1', 'alice'))
    await sleep(1)
  }
  db.failing = false
  await client.waitForSeq(60)
  t.same(client.seqs, range(1, 60))
})
