// The wire format is the contract clients parse: exact bytes, one encoding per room, no injection.
import t from 'tap'
import { Publisher, MemoryBus } from '../src/index.ts'
import { FakeSink } from './fixtures/fake-sink.ts'
import { MemoryDb, openStream, startNode } from './fixtures/harness.ts'
import { until } from '@chat/testkit'

t.test('a stored event is sent as id, event and one data line, byte for byte', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1')
  const event = db.commit('r1', 'alice', 'message', 'hi there')
  await new Publisher(bus).publishEvent(event)
  await client.waitForSeq(1)
  t.equal(client.raw, `id: 1\nevent: message\ndata: ${JSON.stringify(event)}\n\n`)
  t.same(client.events, [event])
  client.destroy()
})

t.test('the frame is encoded once per room and the same Buffer reaches every stream', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const sinks = [new FakeSink(), new FakeSink(), new FakeSink()]
  for (const [i, res] of sinks.entries()) {
    await node.hub.attach({ roomId: 'r1', userId: `u${i}`, sessionId: `s${i}`, res, lastEventId: null })
  }
  await new Publisher(bus).publishEvent(db.commit('r1', 'alice'))
  await until(() => sinks.every((s) => s.chunks.length === 1), 'one chunk on every sink')
  const [first] = sinks[0]!.chunks
  t.ok(first && sinks.every((s) => s.chunks[0] === first), 'one Buffer object shared by all streams')
})

t.test('frames queued in one turn are written with one write per stream', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const res = new FakeSink()
  await node.hub.attach({ roomId: 'r1', userId: 'u1', sessionId: 's1', res, lastEventId: null })
  const publisher = new Publisher(bus)
  const events = Array.from({ length: 50 }, () => db.commit('r1', 'alice'))
  await Promise.all(events.map((e) => publisher.publishEvent(e)))
  await until(() => res.text.includes('id: 50\n'), 'event 50')
  t.equal(res.chunks.length, 1, 'fifty events, one write')
})

t.test('under load a flush waits as long as the last one took, so each write carries more frames', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  // A stream whose writes each cost 5 ms, as a thousand writes to sockets would.
  const res = new (class extends FakeSink {
    override write(chunk: Buffer): boolean {
      const busyUntil = performance.now() + 5
      while (performance.now() < busyUntil);
      return super.write(chunk)
    }
  })()
  await node.hub.attach({ roomId: 'r1', userId: 'u1', sessionId: 's1', res, lastEventId: null })
  const publisher = new Publisher(bus)
  for (let i = 0; i < 40; i++) {
    await publisher.publishEvent(db.commit('r1', 'alice'))
    await new Promise((r) => setTimeout(r, 1))
  }
  await until(() => res.text.includes('id: 40\n'), 'event 40')
  t.ok(res.chunks.length <= 25, `40 events published a turn apart went out in ${res.chunks.length} writes`)
  t.match(res.text, /^(id: \d+\nevent: message\ndata: .*\n\n){40}$/, 'every frame whole, in order')
  const started = performance.now()
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await until(() => res.text.includes('id: 41\n'), 'event 41')
  t.ok(performance.now() - started < 1000, 'a quiet stream is flushed without a long wait')
})

t.test('a text that looks like SSE stays inside its one data line', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1')
  const text = 'hello\n\nevent: admin\ndata: x\r\n\r\nid: 99\n\n'
  await new Publisher(bus).publishEvent(db.commit('r1', 'mallory', 'message', text))
  await client.waitForSeq(1)
  t.equal(client.frames.length, 1, 'exactly one frame')
  t.equal(client.frames[0]?.event, 'message')
  t.equal(client.frames[0]?.id, '1')
  t.equal(client.events[0]?.text, text, 'text arrives exactly as sent')
  client.destroy()
})

t.test('room.deleted is sent without an id, then close room_deleted, then the stream ends', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const client = await openStream(node, 'r1')
  await new Publisher(bus).publishRoomDeleted('r1')
  await client.ended
  t.equal(client.raw, 'event: room.deleted\ndata: {"roomId":"r1"}\n\nevent: close\ndata: {"reason":"room_deleted"}\n\n')
  await until(() => node.hub.streamCount === 0 && node.hub.broadcasterCount === 0, 'the streams and broadcasters to go')
  t.same(bus.channels, ['control'], 'room channel released')
})
