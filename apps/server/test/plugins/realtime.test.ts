// The realtime plugin over a real listener and a real SSE client: publishEvent of a stored event reaches the
// room's open stream; revoking a session closes that session's streams with `close {"reason":"logout"}` and no
// other; a publish on a bus that has failed does not throw, and the write it follows still stands.
import t from 'tap'
import { listen, openStream, until } from '@chat/testkit'
import { MemoryBus } from '@chat/realtime'
import { build, signUp } from '../helper.ts'
import { createRoom, joinRoom } from '../rooms-helper.ts'
import { append, eventsAfter } from '../../src/repositories/room-log.ts'

t.test('publishEvent of a stored event reaches a stream of its room', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const owner = await signUp(app)
  const room = await createRoom(app, owner)
  const client = await openStream(t, base, room.id, { token: owner.accessToken })
  t.equal(client.status, 200)
  await until(() => app.realtime.hub.countForUser(owner.id) === 1, 'the stream to register')

  // Stored without being published: only publishEvent can bring it to the stream.
  const { event } = await app.db.transaction((tx) =>
    append(tx, room.id, { type: 'message', userId: owner.id, text: 'published by hand' })
  )
  await app.realtime.publishEvent(event)
  await client.waitForSeq(event.seq)
  t.same(client.stored, [event], 'the stream got the event as stored')
})

t.test("a revocation closes that session's stream with close logout, and only that one", async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const owner = await signUp(app)
  const room = await createRoom(app, owner)
  const doomed = await app.sessions.start(owner.id)
  const token = app.accessTokens.issue(owner.id, doomed.sessionId)
  const ending = await openStream(t, base, room.id, { token })
  const staying = await openStream(t, base, room.id, { token: owner.accessToken })
  await until(() => app.realtime.hub.countForUser(owner.id) === 2, 'both streams to register')

  await app.sessions.revoke([doomed.sessionId], 'logout')
  t.equal(await ending.closeReason(), 'logout')
  await ending.waitForEnd()
  t.equal(ending.events.at(-1)?.event, 'close', 'close is the last thing on the stream')
  await until(() => app.realtime.hub.countForUser(owner.id) === 1, 'the hub to drop the ended stream')

  const member = await signUp(app)
  const joined = await joinRoom(app, member, room.id)
  await staying.waitForSeq(joined.lastSeq)
  t.notOk(staying.ended, 'the stream of the other session goes on')
  t.same(staying.closeReasons, [])
})

t.test('a failed publish does not throw', async (t) => {
  const bus = new MemoryBus()
  const app = await build(t, { realtime: { bus } })
  const owner = await signUp(app)
  const member = await signUp(app)
  const room = await createRoom(app, owner)
  const { event } = await app.db.transaction((tx) =>
    append(tx, room.id, { type: 'message', userId: owner.id, text: 'stored' })
  )
  await bus.close()
  await t.rejects(bus.publish('room:x', '{}'), 'the bus refuses to publish')

  await t.resolves(app.realtime.publishEvent(event), 'publishEvent')
  await t.resolves(app.realtime.publishRoomDeleted(room.id), 'publishRoomDeleted')
  await t.resolves(app.realtime.endStreams({ sessionIds: ['x'] }, 'logout'), 'endStreams')

  const joined = await app.rooms.join(member.id, room.id)
  t.equal(joined.lastSeq, 2, 'a write whose publish fails still succeeds')
  t.same(
    (await eventsAfter(app.db, room.id, 0, 10)).map((e) => [e.seq, e.type]),
    [
      [1, 'message'],
      [2, 'member.joined']
    ],
    'and is stored'
  )
})
