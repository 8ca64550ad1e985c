// MemoryBus stands in for Redis in single-node mode and in tests, so it must behave like a network
// bus: asynchronous, ordered per channel, and deaf once unsubscribed. The envelopes are the
// cluster's wire format, checked here as JSON.
import t from 'tap'
import { Publisher, MemoryBus } from '../src/index.ts'

t.test('MemoryBus delivers asynchronously, in publish order, to every handler', async (t) => {
  const bus = new MemoryBus()
  const a: string[] = []
  const b: string[] = []
  await bus.subscribe('c', (m) => a.push(m))
  await bus.subscribe('c', (m) => b.push(m))
  await bus.subscribe('other', () => t.fail('wrong channel'))
  const sent = Array.from({ length: 100 }, (_, i) => String(i))
  const published = Promise.all(sent.map((m) => bus.publish('c', m)))
  t.same(a, [], 'nothing delivered synchronously')
  await published
  await new Promise(setImmediate)
  t.same(a, sent)
  t.same(b, sent)
})

t.test('MemoryBus stops delivering to an unsubscribed handler, even a message already in flight', async (t) => {
  const bus = new MemoryBus()
  const got: string[] = []
  const handler = (m: string): void => void got.push(m)
  await bus.subscribe('c', handler)
  void bus.publish('c', 'late')
  await bus.unsubscribe('c', handler)
  await new Promise(setImmediate)
  t.same(got, [])
  t.same(bus.channels, [])
  await bus.close()
  t.equal(bus.ready, false)
  await t.rejects(bus.publish('c', 'x'))
})

t.test('the publisher builds the documented envelopes', async (t) => {
  const bus = new MemoryBus()
  const got: Record<string, unknown[]> = { 'room:r1': [], control: [] }
  for (const channel of Object.keys(got)) await bus.subscribe(channel, (m) => got[channel]!.push(JSON.parse(m)))
  const publisher = new Publisher(bus)
  const event = { id: 'e1', roomId: 'r1', seq: 1, type: 'message' as const, user: { id: 'u1' }, text: 'hi' }
  const before = Date.now()
  await publisher.publishEvent(event)
  await publisher.publishRoomDeleted('r1')
  await publisher.endStreams({ sessionIds: ['s1'] }, 'logout')
  await publisher.endStreams({ userId: 'u1', exceptSessionId: 's2' }, 'session_ended')
  await new Promise(setImmediate)
  const [published, deleted] = got['room:r1'] as [{ k: string; t: number; e: unknown }, unknown]
  t.equal(published.k, 'event')
  t.ok(published.t >= before && published.t <= Date.now())
  t.same(published.e, event)
  t.same(deleted, { k: 'room.deleted', roomId: 'r1' })
  t.same(got.control, [
    { k: 'end', reason: 'logout', sessionIds: ['s1'] },
    { k: 'end', reason: 'session_ended', userId: 'u1', exceptSessionId: 's2' }
  ])
})
