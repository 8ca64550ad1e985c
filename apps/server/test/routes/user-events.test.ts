// The user stream (`GET /events`) on one node, over a real listener and the real SSE client: every room of the
// caller on one connection with `id: <cursor>`, `ready` once live, exact resumption from a cursor across many
// rooms while posts go on, membership followed live (join, create, leave, deletion), the cursor's bound with a
// thousand rooms, malformed and foreign cursors, and the per-user cap counting every kind of stream.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { RoomEvent } from '@chat/contracts'
import { listen, openStream, openUserStream, seqsByRoom, storedEvents, until, type SseClient } from '@chat/testkit'
import { as, assertError, build, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, leaveRoom, pool, post, range } from '../rooms-helper.ts'

const app = await build(t, { config: { maxStreamsPerUser: 3 } })
const base = await listen(app)

const ready = (client: SseClient) => client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready')
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
