// A subscriber that cannot keep up must cost bounded memory and never slow its room down; the
// database still gives it everything once it resumes.
import t from 'tap'
import { Publisher, MemoryBus, type RealtimeMetrics, type StreamEndReason } from '../src/index.ts'
import { FLUSH_AT_BYTES } from '../src/connection.ts'
import { MemoryDb, openStream, range, startNode } from './fixtures/harness.ts'
import { until } from '@chat/testkit'

t.test('a client that stops reading is closed with slow_consumer; the room goes on', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const maxBacklogBytes = 64 * 1024
  const closed: StreamEndReason[] = []
  let slowConsumers = 0
  const metrics: RealtimeMetrics = {
    streamOpened: () => {},
    streamClosed: (reason) => closed.push(reason),
    delivered: () => {},
    deliveryLatency: () => {},
    slowConsumer: () => slowConsumers++,
    gapFilled: () => {}
  }
  const node = await startNode(t, { bus, db, maxBacklogBytes, metrics })
  const fast = await openStream(node, 'r1', { user: 'fast' })
  const slow = await openStream(node, 'r1', { user: 'slow' }, { paused: true })
  const publisher = new Publisher(bus)
  const text = 'x'.repeat(1000)
  const total = 5000
  let maxHeld = 0
  for (let i = 0; i < total; i++) {
    await publisher.publishEvent(db.commit('r1', 'alice', 'message', text))
    if (i % 20 === 0) await new Promise(setImmediate)
    maxHeld = Math.max(maxHeld, node.hub.bufferedBytes)
  }
  await fast.waitForSeq(total, 20_000)
  t.same(fast.seqs, range(1, total), 'the other stream got every event')
  await until(() => closed.includes('slow_consumer'), 'the slow consumer to be closed')
  t.equal(slowConsumers, 1)
  t.equal(node.hub.streamCount, 1, 'only the fast stream is left')
  // The slow stream holds up to its bound; the fast one, frames waiting for a (paced) flush.
  const frameBytes = 1500
  t.ok(maxHeld <= maxBacklogBytes + FLUSH_AT_BYTES + 2 * frameBytes, `hub-held bytes stayed bounded (max ${maxHeld})`)

  slow.resume()
  await slow.ended
  const got = slow.seqs
  t.same(got, range(1, got.length), 'what it got before the cut is in order')
  t.ok(got.length < total, `it was cut off after ${got.length} events`)
  const resumed = await openStream(node, 'r1', { user: 'slow', lastEventId: got.at(-1) ?? 0 })
  await resumed.waitForSeq(total, 20_000)
  t.same([...got, ...resumed.seqs], range(1, total), 'resuming brings the rest from the database')
  fast.destroy()
  resumed.destroy()
})

t.test('live frames held during a replay count toward the bound', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  for (let i = 0; i < 50; i++) db.commit('r1', 'alice')
  const node = await startNode(t, { bus, db, maxBacklogBytes: 16 * 1024, pageSize: 10 })
  await openStream(node, 'r1', { user: 'live' })
  db.readDelayMs = 50
  const resuming = await openStream(node, 'r1', { user: 'resuming', lastEventId: 0 })
  const publisher = new Publisher(bus)
  for (let i = 0; i < 40; i++) await publisher.publishEvent(db.commit('r1', 'bob', 'message', 'y'.repeat(1000)))
  await resuming.ended
  t.equal(resuming.closeReason, 'slow_consumer')
  t.ok(node.hub.bufferedBytes < 16 * 1024)
})
