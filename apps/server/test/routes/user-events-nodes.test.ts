// The user stream across two nodes (two apps on one database and the real Redis): a join made on node A starts
// the room on the user's stream held by node B, with the caller's member.joined first; a stream cut on one node
// resumes on the other from its cursor with every event once while posts go on; a logout on A ends the stream
// and the WebSocket held by B.
import t from 'tap'
import { openUserStream, seqsByRoom, storedEvents, until, WsClient, type SseClient } from '@chat/testkit'
import { as, build, freshDatabase, signUp } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, post, range } from '../rooms-helper.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const db = await freshDatabase()
t.teardown(() => db.drop())
// PGlite is one process's database: the second node shares the first one's client.
const [a, b] = [
  await build(t, { database: db.options, config: { redisUrl: REDIS_URL } }),
  await build(t, { database: db.options, config: { redisUrl: REDIS_URL } })
]
const [baseA, baseB] = [await a.listen({ port: 0, host: '127.0.0.1' }), await b.listen({ port: 0, host: '127.0.0.1' })]

const ready = (client: SseClient) => client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready')

t.test('a join on node A starts the room on the stream held by node B', async (t) => {
  const [user, owner] = await Promise.all([signUp(a), signUp(a)])
  const room = await createRoom(a, owner)
  await post(a, owner, room.id, 'before')
  const onB = await openUserStream(t, baseB, { token: user.accessToken })
  await ready(onB)
  await joinRoom(a, user, room.id)
  await post(a, owner, room.id, 'after')
  await onB.waitFor(() => storedEvents(onB.events).some((e) => e.text === 'after'), 'the room to flow on B')
  t.same(
    storedEvents(onB.events).map((e) => [e.type, e.user.id]),
    [
      ['member.joined', user.id],
      ['message', owner.id]
    ]
  )
  const mine = await createRoom(a, user)
  await post(a, user, mine.id, 'created on A')
  await onB.waitFor(() => storedEvents(onB.events).some((e) => e.text === 'created on A'), 'a room created on A')
})

t.test('cut on node A, resumed on node B from the cursor while posts go on: every event once', async (t) => {
  const [reader, poster] = await Promise.all([signUp(a), signUp(a)])
  const rooms = await Promise.all(range(1, 4).map(() => createRoom(a, poster)))
  for (const room of rooms) await joinRoom(a, reader, room.id)
  const onA = await openUserStream(t, baseA, { token: reader.accessToken })
  await ready(onA)
  let posting = true
  let n = 0
  const posts = (async () => {
    while (posting) await post(n % 2 ? a : b, poster, rooms[n++ % rooms.length]!.id, `p${n}`)
  })()
  await onA.waitFor(() => storedEvents(onA.events).length >= 20, 'some live events on A')
  onA.close()
  const cursor = onA.lastEventId!
  await until(() => n > 40, 'posts while disconnected')
  const onB = await openUserStream(t, baseB, { token: reader.accessToken, lastEventId: cursor })
  await ready(onB)
  await until(() => n > 80, 'posts after the resumption')
  posting = false
  await posts
  const had = seqsByRoom(onA.events.slice(0, onA.events.findLastIndex((e) => e.id === cursor) + 1))
  const expected = new Map<string, number[]>()
  for (const room of rooms)
    expected.set(
      room.id,
      (await fullHistory(a, reader, room.id)).map((e) => e.seq)
    )
  await onB.waitFor(() => {
    const got = seqsByRoom(onB.events)
    return rooms.every((room) => got.get(room.id)?.at(-1) === expected.get(room.id)!.at(-1))
  }, 'every room to reach its head on B')
  const got = seqsByRoom(onB.events)
  for (const room of rooms) {
    t.same(
      [...(had.get(room.id) ?? []), ...(got.get(room.id) ?? [])],
      expected.get(room.id)!.filter((s) => s > 1),
      `room ${room.name}: no gap, no duplicate across the node switch`
    )
  }
})

t.test('a logout on node A ends the user stream on node B', async (t) => {
  const user = await signUp(a)
  const onB = await openUserStream(t, baseB, { token: user.accessToken })
  await ready(onB)
  await as(a, user, { method: 'POST', url: '/auth/logout', payload: {} })
  t.equal(await onB.closeReason(), 'logout')
})

t.test('a logout on node A closes the WebSocket held by node B with close {logout}', async (t) => {
  const user = await signUp(a)
  const room = await createRoom(a, user)
  const socket = await WsClient.connect(baseB, { token: user.accessToken })
  t.teardown(() => socket.close())
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'ready'), 'ready')
  await post(a, user, room.id, 'seen on B')
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'event'), 'an event posted on A')
  await as(a, user, { method: 'POST', url: '/auth/logout', payload: {} })
  const closed = await socket.waitForClose()
  t.equal(closed.code, 1000)
  t.match(socket.messages.at(-1), { type: 'close', reason: 'logout' })
  await until(() => b.realtime.hub.countForUser(user.id) === 0, 'the socket to leave B')
})
