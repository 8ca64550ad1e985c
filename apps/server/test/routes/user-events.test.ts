// The user stream (`GET /events`) on one node, over a real listener and the real SSE client: every room of the
// caller on one connection with `id: <cursor>`, `ready` once live, exact resumption from a cursor across many
// rooms while posts go on, membership followed live (join, create, leave, deletion), the cursor's bound with a
// thousand rooms, malformed and foreign cursors, and the per-user cap counting every kind of stream.
import t from 'tap'
import type { FastifyInstance } from 'fastify'

import { listen, openStream, openUserStream, seqsByRoom, storedEvents, until, type SseClient } from '@chat/testkit'
import { as, assertError, build, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, leaveRoom, pool, post, range } from '../rooms-helper.ts'

const app = await build(t, { config: { maxStreamsPerUser: 3 } })
const base = await listen(app)

const ready = (client: SseClient, ms?: number) =>
  client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready', ms)
const lastCursor = (client: SseClient) => client.lastEventId!

/** Every stored event of each room, from history: what a stream that saw everything must have seen. */
async function historyByRoom(app: FastifyInstance, user: TestUser, roomIds: string[]) {
  const byRoom = new Map<string, number[]>()
  for (const roomId of roomIds)
    byRoom.set(
      roomId,
      (await fullHistory(app, user, roomId)).map((e) => e.seq)
    )
  return byRoom
}

t.test('one stream for 25 rooms while 5 users post into all of them: each event once, in order', async (t) => {
  const [reader, ...posters] = await Promise.all(range(1, 6).map(() => signUp(app)))
  const rooms = await Promise.all(range(1, 25).map(() => createRoom(app, reader!)))
  for (const room of rooms) for (const poster of posters) await joinRoom(app, poster, room.id)
  const client = await openUserStream(t, base, { token: reader!.accessToken })
  t.equal(client.status, 200)
  t.match(client.headers['content-type'], /^text\/event-stream/)
  await ready(client)
  const readyData = JSON.parse(client.events.find((e) => e.event === 'ready')!.data)
  t.equal(readyData.rooms.length, 25, 'ready names every room')

  await pool(25 * 5 * 4, 10, (i) => post(app, posters[i % 5]!, rooms[Math.floor(i / 5) % 25]!.id, `m${i}`))
  const expected = await historyByRoom(
    app,
    reader!,
    rooms.map((r) => r.id)
  )
  const total = [...expected.values()].reduce((n, seqs) => n + seqs.filter((s) => s > 5).length, 0)
  await client.waitFor(() => storedEvents(client.events).length >= total, `${total} events`)
  const got = seqsByRoom(client.events)
  for (const room of rooms) {
    t.same(
      got.get(room.id),
      expected.get(room.id)!.filter((s) => s > 5),
      `room ${room.name}: each seq once, in order`
    )
  }
  for (const e of client.events.filter((e) => e.id !== undefined)) {
    t.ok(/^[A-Za-z0-9._~-]{1,512}$/.test(e.id!), 'every id is a cursor')
  }
})

t.test('resumption: cut, posts go on in several rooms, resume with the last cursor: every event once', async (t) => {
  const [reader, poster] = await Promise.all([signUp(app), signUp(app)])
  const rooms = await Promise.all(range(1, 6).map(() => createRoom(app, poster!)))
  for (const room of rooms) await joinRoom(app, reader!, room.id)
  const first = await openUserStream(t, base, { token: reader!.accessToken })
  await ready(first)
  let posting = true
  let n = 0
  const posts = (async () => {
    while (posting) await post(app, poster!, rooms[n++ % rooms.length]!.id, `p${n}`)
  })()
  await first.waitFor(() => storedEvents(first.events).length >= 20, 'some live events')
  first.close()
  const cursor = lastCursor(first)
  await until(() => n > 40, 'posts to go on while disconnected')
  const second = await openUserStream(t, base, { token: reader!.accessToken, lastEventId: cursor })
  await ready(second)
  await until(() => n > 80, 'posts to go on after the resumption')
  posting = false
  await posts
  const expected = await historyByRoom(
    app,
    reader!,
    rooms.map((r) => r.id)
  )
  // What the client had when it took the cursor: the first connection's events up to the one carrying it.
  const had = seqsByRoom(first.events.slice(0, first.events.findLastIndex((e) => e.id === cursor) + 1))
  await second.waitFor(() => {
    const got = seqsByRoom(second.events)
    return rooms.every((room) => got.get(room.id)?.at(-1) === expected.get(room.id)!.at(-1))
  }, 'every room to reach its head')
  const got = seqsByRoom(second.events)
  for (const room of rooms) {
    const before = had.get(room.id) ?? []
    const want = expected.get(room.id)!.filter((s) => s > 1) // seq 1: the reader's own join, before the stream
    t.same([...before, ...(got.get(room.id) ?? [])], want, `room ${room.name}: no gap, no duplicate at the seam`)
  }
})

t.test(
  'membership live: a join and a created room start flowing, a leave ends the room, a deletion says so',
  async (t) => {
    const [user, owner] = await Promise.all([signUp(app), signUp(app)])
    const joined = await createRoom(app, owner)
    const leaving = await createRoom(app, owner)
    const deleted = await createRoom(app, owner)
    await joinRoom(app, user, leaving.id)
    await joinRoom(app, user, deleted.id)
    await post(app, owner, joined.id, 'before the join')
    const client = await openUserStream(t, base, { token: user.accessToken })
    await ready(client)

    await joinRoom(app, user, joined.id)
    await post(app, owner, joined.id, 'after the join')
    const mine = await createRoom(app, user)
    await post(app, user, mine.id, 'in my new room')
    await leaveRoom(app, user, leaving.id)
    await post(app, owner, leaving.id, 'after the leave')
    await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: deleted.id } })
    await post(app, owner, joined.id, 'last')
    await client.waitFor(
      () =>
        storedEvents(client.events).some((e) => e.text === 'last') &&
        client.events.some((e) => e.event === 'room.deleted'),
      'every change'
    )
    const byRoom = (roomId: string) => storedEvents(client.events).filter((e) => e.roomId === roomId)
    t.same(
      byRoom(joined.id).map((e) => [e.type, e.text]),
      [
        ['member.joined', null],
        ['message', 'after the join'],
        ['message', 'last']
      ],
      "a joined room starts with the caller's member.joined"
    )
    t.match(byRoom(joined.id)[0], { user: { id: user.id } })
    t.same(
      byRoom(mine.id).map((e) => e.text),
      ['in my new room'],
      'a created room flows from its first stored event'
    )
    t.same(
      byRoom(leaving.id).map((e) => e.type),
      ['member.left'],
      "after a leave the caller's member.left is the room's last event"
    )
    const deletion = client.events.find((e) => e.event === 'room.deleted')!
    t.same(JSON.parse(deletion.data), { roomId: deleted.id })
    t.equal(deletion.id, undefined, 'room.deleted is not stored')
    t.ok(client.open, 'the stream itself goes on')
  }
)

t.test('resuming across membership changes: room.left, room.deleted, a room joined since', async (t) => {
  const [user, owner] = await Promise.all([signUp(app), signUp(app)])
  const [left, gone, later, kept] = await Promise.all(range(1, 4).map(() => createRoom(app, owner)))
  for (const room of [left!, gone!, kept!]) await joinRoom(app, user, room.id)
  const first = await openUserStream(t, base, { token: user.accessToken })
  await ready(first)
  const cursor = lastCursor(first)
  first.close()

  await post(app, owner, left!.id, 'before the leave')
  await leaveRoom(app, user, left!.id)
  await post(app, owner, left!.id, 'after the leave')
  await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: gone!.id } })
  await post(app, owner, later!.id, 'before the join')
  await joinRoom(app, user, later!.id)
  await post(app, owner, later!.id, 'after the join')
  await post(app, owner, kept!.id, 'kept')

  const second = await openUserStream(t, base, { token: user.accessToken, query: { cursor } })
  await ready(second)
  const notices = second.events.filter((e) => e.event === 'room.left' || e.event === 'room.deleted')
  t.same(
    notices.map((e) => [e.event, JSON.parse(e.data).roomId]).sort(),
    [
      ['room.deleted', gone!.id],
      ['room.left', left!.id]
    ].sort()
  )
  const stored = storedEvents(second.events)
  t.notOk(
    stored.some((e) => e.roomId === left!.id && e.text === 'after the leave'),
    'nothing of a left room after the leave'
  )
  t.same(
    stored.filter((e) => e.roomId === later!.id).map((e) => e.type),
    ['member.joined', 'message'],
    "a room joined since: from the caller's member.joined"
  )
  t.same(
    stored.filter((e) => e.roomId === kept!.id).map((e) => e.text),
    ['kept']
  )
  const readyAt = second.events.findIndex((e) => e.event === 'ready')
  t.ok(
    second.events.slice(readyAt + 1).every((e) => e.id === undefined || e.event === 'ready'),
    'replays come before ready'
  )
})

t.test('cursors: at most 512 characters for a user in 1,000 rooms; malformed is 400; foreign is a reset', async (t) => {
  const [user, other] = await Promise.all([signUp(app), signUp(app)])
  const rooms: string[] = []
  await pool(1000, 20, async () => rooms.push((await createRoom(app, user)).id))
  const client = await openUserStream(t, base, { token: user.accessToken })
  await ready(client, 60_000)
  await pool(300, 10, (i) => post(app, user, rooms[(i * 7) % rooms.length]!, `m${i}`))
  await client.waitFor(() => storedEvents(client.events).length >= 300, '300 events', 60_000)
  const ids = client.events.filter((e) => e.id !== undefined).map((e) => e.id!)
  const longest = Math.max(...ids.map((id) => id.length))
  t.ok(longest <= 512, `the longest cursor is ${longest} characters`)
  t.ok(new Set(ids.map((id) => id.split('.')[1])).size > 1, 'the stream moved onto newer bases as rooms moved')

  for (const bad of ['nope', '2.abc', '1.', '1.a.zz', '1.a.0~', `1.${'z'.repeat(20)}`, 'x'.repeat(513), '1.a b']) {
    const res = await app.inject({
      url: '/events',
      headers: { authorization: `Bearer ${user.accessToken}`, 'last-event-id': bad }
    })
    assertError(t, res, 400, 'CHAT_INVALID_CURSOR')
  }
  assertError(
    t,
    await app.inject({
      url: `/events?cursor=${encodeURIComponent('bad cursor')}`,
      headers: { authorization: `Bearer ${user.accessToken}` }
    }),
    400,
    'CHAT_INVALID_CURSOR'
  )

  // Another user's cursor names their base: it cannot be read by anyone else, so the stream resets.
  const foreign = await openUserStream(t, base, { token: other.accessToken, lastEventId: ids.at(-1)! })
  await ready(foreign)
  t.same(JSON.parse(foreign.events[0]!.data), { reason: 'cursor_expired' })
  t.equal(foreign.events[0]!.event, 'reset')
  t.same(storedEvents(foreign.events), [], "none of the other user's rooms")
})

t.test('a tampered cursor replays only rooms the caller is in', async (t) => {
  const [user, owner] = await Promise.all([signUp(app), signUp(app)])
  const mine = await createRoom(app, user)
  const theirs = await createRoom(app, owner)
  await post(app, owner, theirs.id, 'private')
  await post(app, user, mine.id, 'mine')
  const client = await openUserStream(t, base, { token: user.accessToken })
  await ready(client)
  const [version, baseId] = lastCursor(client).split('.')
  const hex = theirs.id.replaceAll('-', '').toUpperCase()
  for (const forged of [
    `${version}.${baseId}.R${hex}~0`,
    `${version}.${baseId}.0~0.1~0.2~0`,
    `${version}.${baseId}.zz~0`
  ]) {
    const resumed = await openUserStream(t, base, { token: user.accessToken, lastEventId: forged })
    await ready(resumed)
    const rooms = new Set(storedEvents(resumed.events).map((e) => e.roomId))
    t.notOk(rooms.has(theirs.id), `${forged}: nothing of a room the caller is not in`)
    resumed.close()
  }
})

t.test('MAX_STREAMS_PER_USER counts user streams and room streams together', async (t) => {
  const user = await signUp(app)
  const room = await createRoom(app, user)
  const streams = [
    await openUserStream(t, base, { token: user.accessToken }),
    await openStream(t, base, room.id, { token: user.accessToken }),
    await openUserStream(t, base, { token: user.accessToken })
  ]
  t.same(
    streams.map((s) => s.status),
    [200, 200, 200]
  )
  const over = await openUserStream(t, base, { token: user.accessToken })
  t.equal(over.status, 429)
  t.match(await over.json(), { code: 'CHAT_RATE_LIMITED' })
  streams[0]!.close()
  await until(async () => (await openUserStream(t, base, { token: user.accessToken })).status === 200, 'a slot')
})

t.test('logout ends the user stream with close logout', async (t) => {
  const user = await signUp(app)
  await createRoom(app, user)
  const client = await openUserStream(t, base, { queryToken: user.accessToken })
  await ready(client)
  await as(app, user, { method: 'POST', url: '/auth/logout', payload: {} })
  t.equal(await client.closeReason(), 'logout')
})
