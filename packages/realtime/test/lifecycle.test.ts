// Every way a stream ends on purpose, and the hub releasing what it holds once streams are gone.
import t from 'tap'
import { Publisher, MemoryBus } from '../src/index.ts'
import { FakeSink } from './fixtures/fake-sink.ts'
import { MemoryDb, openStream, sleep, startNode } from './fixtures/harness.ts'
import { until } from '@chat/testkit'

t.test('member.left closes the leaver’s streams of that room with left_room, after the event', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const alice = await openStream(node, 'r1', { user: 'alice', session: 'a1' })
  const aliceElsewhere = await openStream(node, 'r2', { user: 'alice', session: 'a1' })
  const bob = await openStream(node, 'r1', { user: 'bob', session: 'b1' })
  const publisher = new Publisher(bus)
  await publisher.publishEvent(db.commit('r1', 'alice', 'member.left'))
  await alice.ended
  t.same(
    alice.frames.map((f) => f.event),
    ['member.left', 'close']
  )
  t.equal(alice.closeReason, 'left_room')
  await publisher.publishEvent(db.commit('r1', 'bob'))
  await bob.waitForSeq(2)
  t.same(bob.seqs, [1, 2], 'other members keep the stream')
  t.equal(node.hub.countForUser('alice'), 1, 'the stream of another room stays')
  aliceElsewhere.destroy()
})

t.test('a member.left already in the log does not close a resumed stream', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  db.commit('r1', 'alice', 'member.left')
  db.commit('r1', 'alice', 'member.joined')
  const node = await startNode(t, { bus, db })
  const alice = await openStream(node, 'r1', { user: 'alice', lastEventId: 0 })
  await new Publisher(bus).publishEvent(db.commit('r1', 'alice', 'message'))
  await alice.waitForSeq(3)
  t.same(alice.seqs, [1, 2, 3])
  t.equal(alice.closeReason, undefined)
  alice.destroy()
})

t.test('the control channel ends streams by session, on every node', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const [n1, n2] = await Promise.all([startNode(t, { bus, db }), startNode(t, { bus, db })])
  const s1a = await openStream(n1, 'r1', { user: 'alice', session: 's1' })
  const s1b = await openStream(n2, 'r2', { user: 'alice', session: 's1' })
  const s2 = await openStream(n2, 'r1', { user: 'alice', session: 's2' })
  await new Publisher(bus).endStreams({ sessionIds: ['s1', 'unknown'] }, 'logout')
  await Promise.all([s1a.ended, s1b.ended])
  t.equal(s1a.closeReason, 'logout')
  t.equal(s1b.closeReason, 'logout')
  t.equal(n2.hub.countForUser('alice'), 1, 'the other session stays')
  s2.destroy()
})

t.test('the control channel ends a user’s streams except one session', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const [n1, n2] = await Promise.all([startNode(t, { bus, db }), startNode(t, { bus, db })])
  const keep = await openStream(n1, 'r1', { user: 'alice', session: 's1' })
  const gone = [
    await openStream(n1, 'r1', { user: 'alice', session: 's2' }),
    await openStream(n2, 'r2', { user: 'alice', session: 's3' })
  ]
  const bob = await openStream(n2, 'r1', { user: 'bob', session: 'b1' })
  await new Publisher(bus).endStreams({ userId: 'alice', exceptSessionId: 's1' }, 'session_ended')
  await Promise.all(gone.map((c) => c.ended))
  for (const client of gone) t.equal(client.closeReason, 'session_ended')
  t.equal(n1.hub.countForUser('alice'), 1)
  t.equal(n2.hub.countForUser('bob'), 1)
  keep.destroy()
  bob.destroy()
})

t.test('a stream closes with token_expired when the token expires', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const started = Date.now()
  const soon = await openStream(node, 'r1', { expiresAt: started + 80 })
  const already = await openStream(node, 'r1', { expiresAt: started - 1 })
  await Promise.all([soon.ended, already.ended])
  t.ok(Date.now() - started >= 75, 'not before its time')
  t.equal(soon.closeReason, 'token_expired')
  t.equal(already.closeReason, 'token_expired')
})

t.test('one heartbeat per hub sends ping comments to every stream', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db, heartbeatMs: 20 })
  const clients = [await openStream(node, 'r1'), await openStream(node, 'r2')]
  await Promise.all(clients.map((c) => c.waitFor(() => c.comments.length >= 3)))
  for (const client of clients) {
    t.ok(client.comments.every((c) => c === 'ping'))
    t.same(client.frames, [], 'comments only')
  }
})

t.test('the room is dropped and its channel released when its last stream leaves', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db })
  const a = await openStream(node, 'r1')
  const b = await openStream(node, 'r1')
  t.same(bus.channels.sort(), ['control', 'room:r1'])
  a.destroy()
  await until(() => node.hub.streamCount === 1, 'one stream')
  t.equal(node.hub.broadcasterCount, 1)
  b.destroy()
  await until(() => node.hub.broadcasterCount === 0, 'the broadcaster to be dropped')
  await until(() => bus.channels.length === 1, 'the room channel to be unsubscribed')
  t.same(bus.channels, ['control'])
  const again = await openStream(node, 'r1')
  await new Publisher(bus).publishEvent(db.commit('r1', 'alice'))
  await again.waitForSeq(1)
  t.pass('the room opens again')
  again.destroy()
})

t.test('hub.close sends shutdown to every stream and releases everything', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const node = await startNode(t, { bus, db, heartbeatMs: 10 })
  const clients = [await openStream(node, 'r1'), await openStream(node, 'r2', { expiresAt: Date.now() + 60_000 })]
  const sink = new FakeSink()
  const stream = await node.hub.attach({ roomId: 'r3', userId: 'u', sessionId: 's', res: sink, lastEventId: null })
  await node.hub.close()
  await Promise.all(clients.map((c) => c.ended))
  for (const client of clients) t.equal(client.closeReason, 'shutdown')
  t.equal(await stream.ended, 'shutdown')
  t.ok(sink.ended && sink.text.endsWith('event: close\ndata: {"reason":"shutdown"}\n\n'))
  t.equal(node.hub.streamCount, 0)
  t.equal(node.hub.broadcasterCount, 0)
  t.same(bus.channels, [], 'every subscription released')
  await t.rejects(
    node.hub.attach({ roomId: 'r1', userId: 'u', sessionId: 's', res: new FakeSink(), lastEventId: null })
  )
  await sleep(30)
  t.equal(sink.chunks.length, 1, 'no heartbeat after close')
})
