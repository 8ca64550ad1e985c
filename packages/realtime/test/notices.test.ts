// Unstored notices on a room's channel (typing, presence): every node's streams of the room get them at once,
// in order with the room's events and never holding them up, except the streams of the user the notice is
// about; malformed notices are refused; the same Notice is encoded once per transport.
import t from 'tap'
import { MemoryBus, Notice, Publisher } from '../src/index.ts'
import { parseRoomMessage, parseUserMessage } from '../src/protocol.ts'
import { sseCodec, wsCodec } from '../src/codec.ts'
import { MemoryDb, openStream, startNode } from './fixtures/harness.ts'

t.test('typing and presence reach the other members on every node, in order with events', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  const [n1, n2] = await Promise.all([startNode(t, { bus, db }), startNode(t, { bus, db })])
  const bob = await openStream(n1, 'r1', { user: 'bob' })
  const carol = await openStream(n2, 'r1', { user: 'carol' })
  const alice = await openStream(n2, 'r1', { user: 'alice' })
  const publisher = new Publisher(bus)
  const user = { id: 'alice', username: 'alice' }
  await publisher.publishNotice({ k: 'typing', roomId: 'r1', user, typing: true })
  await publisher.publishEvent(db.commit('r1', 'alice'))
  await publisher.publishNotice({ k: 'presence', roomId: 'r1', userId: 'alice', online: false })
  await publisher.publishNotice({ k: 'typing', roomId: 'r2', user, typing: true })
  for (const client of [bob, carol]) {
    await client.waitFor(() => client.frames.some((f) => f.event === 'presence'))
    t.same(
      client.frames.map((f) => [f.event, f.id, f.data && JSON.parse(f.data)]),
      [
        ['typing', undefined, { roomId: 'r1', user, typing: true }],
        ['message', '1', JSON.parse(client.frames[1]!.data!)],
        ['presence', undefined, { roomId: 'r1', userId: 'alice', online: false }]
      ],
      'typing, the event, presence; nothing of another room'
    )
  }
  await alice.waitForSeq(1)
  t.same(
    alice.frames.map((f) => f.event),
    ['message'],
    'the subject of the notices hears none of them'
  )
  for (const client of [bob, carol, alice]) client.destroy()
})

t.test('envelopes: malformed notices are refused; read only on user channels', async (t) => {
  const raw = (value: object) => JSON.stringify(value)
  t.equal(parseRoomMessage(raw({ k: 'typing', roomId: 'r1', user: { id: 'u' }, typing: false }), 'r1').k, 'typing')
  t.equal(parseRoomMessage(raw({ k: 'presence', roomId: 'r1', userId: 'u', online: true }), 'r1').k, 'presence')
  for (const bad of [
    { k: 'typing', roomId: 'r2', user: { id: 'u' }, typing: true },
    { k: 'typing', roomId: 'r1', user: { id: 1 }, typing: true },
    { k: 'typing', roomId: 'r1', user: { id: 'u' }, typing: 'yes' },
    { k: 'presence', roomId: 'r1', userId: 'u' },
    { k: 'read', roomId: 'r1', seq: 1 }
  ]) {
    t.throws(() => parseRoomMessage(raw(bad), 'r1'), JSON.stringify(bad))
  }
  t.same(parseUserMessage(raw({ k: 'read', roomId: 'r1', seq: 3 })), { k: 'read', roomId: 'r1', seq: 3 })
  t.throws(() => parseUserMessage(raw({ k: 'read', roomId: 'r1', seq: -1 })))
})

t.test('a notice is encoded once per transport', async (t) => {
  const notice = new Notice('read', { roomId: 'r1', seq: 4 }, null)
  t.equal(sseCodec.notice(notice).toString(), 'event: read\ndata: {"roomId":"r1","seq":4}\n\n')
  t.equal(wsCodec.notice(notice).toString(), '{"type":"read","roomId":"r1","seq":4}')
  t.equal(sseCodec.notice(notice), sseCodec.notice(notice), 'the same bytes for every connection')
  t.equal(wsCodec.notice(notice), wsCodec.notice(notice))
})
