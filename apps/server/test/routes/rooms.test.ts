// Room routes (create, delete, join, leave, one room, members): every success shape and every documented
// error with its exact status and code, and what each write leaves in the room's log. One app for the file;
// each subtest makes its own users and rooms, so they stay independent.
import t from 'tap'
import type { Room } from '@chat/contracts'
import { as, assertError, build, signUp } from '../helper.ts'
import {
  EVENT_KEYS,
  MISSING_ID,
  ROOM_KEYS,
  USER_KEYS,
  UUID_RE,
  createRoom,
  fullHistory,
  getRoom,
  joinRoom
} from '../rooms-helper.ts'

const app = await build(t)
const body = (payload: object) => ({ method: 'POST' as const, payload })

t.test('create: 201 Room owned by its creator, first member, no event stored', async (t) => {
  const owner = await signUp(app)
  const res = await as(app, owner, { url: '/rooms/create', ...body({ name: 'General', topic: 'all things' }) })
  t.equal(res.statusCode, 201)
  const room: Room = res.json()
  t.same(Object.keys(room).sort(), ROOM_KEYS)
  t.match(room, { name: 'General', topic: 'all things', ownerId: owner.id, memberCount: 1, lastSeq: 0 })
  t.match(room.id, UUID_RE)
  t.equal(new Date(room.createdAt).toISOString(), room.createdAt, 'ISO 8601 UTC')
  t.same(await getRoom(app, owner, room.id), room)
  t.same(await fullHistory(app, owner, room.id), [], 'creating stores no event')

  const members = await as(app, owner, { url: `/rooms/${room.id}/members` })
  t.equal(members.statusCode, 200)
  t.match(members.json(), { items: [{ user: { id: owner.id }, role: 'owner' }], nextCursor: null })

  const noTopic = await createRoom(app, owner, { name: 'x' })
  t.equal(noTopic.topic, null, 'absent topic is null')
  t.equal((await createRoom(app, owner, { topic: null })).topic, null)
})

t.test('create: name 1–64 and topic ≤ 256 code points, no control characters', async (t) => {
  const owner = await signUp(app)
  const ok = async (payload: object) => {
    const res = await as(app, owner, { url: '/rooms/create', ...body(payload) })
    t.equal(res.statusCode, 201, JSON.stringify(payload).slice(0, 60))
    return res.json() as Room
  }
  t.equal((await ok({ name: 'a'.repeat(64) })).name, 'a'.repeat(64))
  t.equal((await ok({ name: '🦊'.repeat(64) })).name, '🦊'.repeat(64), '64 emoji are 64 characters')
  t.equal((await ok({ name: ' spaced ' })).name, ' spaced ', 'kept as sent')
  t.equal((await ok({ name: 'r', topic: 't'.repeat(256) })).topic, 't'.repeat(256))

  const bad = [
    {},
    { name: '' },
    { name: 'a'.repeat(65) },
    { name: 'bell\u0007' },
    { name: 'two\nlines' },
    { name: 'nul\u0000' },
    { name: 42 },
    { name: 'r', topic: 't'.repeat(257) },
    { name: 'r', topic: 'tab\there' },
    { name: 'r', topic: 5 }
  ]
  for (const payload of bad) {
    assertError(t, await as(app, owner, { url: '/rooms/create', ...body(payload) }), 400, 'FST_ERR_VALIDATION')
  }
  const mine = await as(app, owner, { url: '/rooms?mine=true&limit=100' })
  t.equal(mine.json().items.length, 4, 'no invalid room was stored')
})

t.test('create: unknown fields are rejected and never stored', async (t) => {
  const owner = await signUp(app)
  const other = await signUp(app)
  for (const extra of [
    { ownerId: other.id },
    { seq: 5 },
    { lastSeq: 9 },
    { memberCount: 100 },
    { createdAt: '2000-01-01T00:00:00.000Z' },
    { id: MISSING_ID }
  ]) {
    const res = await as(app, owner, { url: '/rooms/create', ...body({ name: 'sneaky', ...extra }) })
    assertError(t, res, 400, 'FST_ERR_VALIDATION')
  }
  t.same((await as(app, owner, { url: '/rooms?mine=true' })).json().items, [])
  t.same((await as(app, other, { url: '/rooms?mine=true' })).json().items, [])
  t.equal((await as(app, owner, { url: `/rooms/${MISSING_ID}` })).statusCode, 404)
})

t.test('create and every room route need a valid token', async (t) => {
  const owner = await signUp(app)
  const room = await createRoom(app, owner)
  const calls = [
    { method: 'POST' as const, url: '/rooms/create', payload: { name: 'x' } },
    { method: 'POST' as const, url: '/rooms/delete', payload: { roomId: room.id } },
    { method: 'POST' as const, url: '/rooms/join', payload: { roomId: room.id } },
    { method: 'POST' as const, url: '/rooms/leave', payload: { roomId: room.id } },
    { method: 'GET' as const, url: '/rooms' },
    { method: 'GET' as const, url: `/rooms/${room.id}` },
    { method: 'GET' as const, url: `/rooms/${room.id}/members` }
  ]
  for (const call of calls) {
    assertError(t, await app.inject(call), 401, 'CHAT_UNAUTHORIZED')
    const forged = { authorization: 'Bearer not.a.jwt' }
    assertError(t, await app.inject({ ...call, headers: forged }), 401, 'CHAT_UNAUTHORIZED')
  }
  t.equal((await getRoom(app, owner, room.id)).memberCount, 1, 'nothing changed')
})

t.test('delete: owner only; 204; the room is gone', async (t) => {
  const owner = await signUp(app)
  const member = await signUp(app)
  const stranger = await signUp(app)
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)
  const del = (user: typeof owner, roomId: unknown) => as(app, user, { url: '/rooms/delete', ...body({ roomId }) })

  assertError(t, await del(member, room.id), 403, 'CHAT_NOT_ROOM_OWNER')
  assertError(t, await del(stranger, room.id), 403, 'CHAT_NOT_ROOM_OWNER')
  assertError(t, await del(owner, MISSING_ID), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await del(owner, 'not-a-uuid'), 400, 'FST_ERR_VALIDATION')
  assertError(t, await del(owner, 7), 400, 'FST_ERR_VALIDATION')
  assertError(t, await as(app, owner, { url: '/rooms/delete', ...body({}) }), 400, 'FST_ERR_VALIDATION')
  const extra = await as(app, owner, { url: '/rooms/delete', ...body({ roomId: room.id, force: true }) })
  assertError(t, extra, 400, 'FST_ERR_VALIDATION')
  t.equal((await getRoom(app, stranger, room.id)).memberCount, 2, 'still there after the refusals')

  const res = await del(owner, room.id)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  assertError(t, await as(app, owner, { url: `/rooms/${room.id}` }), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await as(app, member, { url: `/rooms/${room.id}/messages` }), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await as(app, member, { url: `/rooms/${room.id}/members` }), 404, 'CHAT_ROOM_NOT_FOUND')
  const join = await as(app, stranger, { url: '/rooms/join', ...body({ roomId: room.id }) })
  assertError(t, join, 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await del(owner, room.id), 404, 'CHAT_ROOM_NOT_FOUND')
  t.same((await as(app, member, { url: '/rooms?mine=true' })).json().items, [])
})

t.test('join: 200 Room, idempotent, member.joined once', async (t) => {
  const owner = await signUp(app)
  const user = await signUp(app)
  const room = await createRoom(app, owner)
  const join = (u: typeof owner, roomId: unknown) => as(app, u, { url: '/rooms/join', ...body({ roomId }) })

  const first = await join(user, room.id)
  t.equal(first.statusCode, 200)
  t.same(Object.keys(first.json()).sort(), ROOM_KEYS)
  t.match(first.json(), { id: room.id, memberCount: 2, lastSeq: 1, ownerId: owner.id })
  const again = await join(user, room.id)
  t.equal(again.statusCode, 200)
  t.match(again.json(), { memberCount: 2, lastSeq: 1 }, 'a second join changes nothing')
  t.match((await join(owner, room.id)).json(), { memberCount: 2, lastSeq: 1 }, "the owner's join is a no-op")

  const log = await fullHistory(app, owner, room.id)
  t.equal(log.length, 1, 'one member.joined')
  t.same(Object.keys(log[0]!).sort(), EVENT_KEYS)
  t.same(Object.keys(log[0]!.user).sort(), USER_KEYS)
  t.match(log[0], { seq: 1, type: 'member.joined', roomId: room.id, user: { id: user.id }, text: null })
  t.equal(log[0]!.clientMsgId, null)

  const racers = await Promise.all([signUp(app), signUp(app)])
  const results = await Promise.all(racers.flatMap((r) => [join(r, room.id), join(r, room.id), join(r, room.id)]))
  t.same(
    results.map((r) => r.statusCode),
    [200, 200, 200, 200, 200, 200]
  )
  t.match(await getRoom(app, owner, room.id), { memberCount: 4, lastSeq: 3 }, 'concurrent joins: one event each')

  assertError(t, await join(user, MISSING_ID), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await join(user, 'nope'), 400, 'FST_ERR_VALIDATION')
})

t.test('leave: 204 and member.left; owner 409; not a member 204 and no event', async (t) => {
  const owner = await signUp(app)
  const user = await signUp(app)
  const outsider = await signUp(app)
  const room = await createRoom(app, owner)
  await joinRoom(app, user, room.id)
  const leave = (u: typeof owner, roomId: unknown) => as(app, u, { url: '/rooms/leave', ...body({ roomId }) })

  const res = await leave(user, room.id)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.match(await getRoom(app, owner, room.id), { memberCount: 1, lastSeq: 2 })
  t.match((await fullHistory(app, owner, room.id)).at(-1), { seq: 2, type: 'member.left', user: { id: user.id } })
  assertError(t, await as(app, user, { url: `/rooms/${room.id}/messages` }), 403, 'CHAT_NOT_MEMBER')

  t.equal((await leave(user, room.id)).statusCode, 204, 'leaving again is 204')
  t.equal((await leave(outsider, room.id)).statusCode, 204, 'leaving a room one never joined is 204')
  t.match(await getRoom(app, owner, room.id), { memberCount: 1, lastSeq: 2 }, 'and emits nothing')

  assertError(t, await leave(owner, room.id), 409, 'CHAT_OWNER_CANNOT_LEAVE')
  t.match(await getRoom(app, owner, room.id), { memberCount: 1, lastSeq: 2 })
  assertError(t, await leave(user, MISSING_ID), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await leave(user, 'x'), 400, 'FST_ERR_VALIDATION')

  t.match(await joinRoom(app, user, room.id), { memberCount: 2, lastSeq: 3 }, 'rejoining logs a new member.joined')
})

t.test('GET /rooms/:roomId: any signed-in user; unknown 404; malformed 400', async (t) => {
  const owner = await signUp(app)
  const stranger = await signUp(app)
  const room = await createRoom(app, owner, { name: 'findable', topic: 'come in' })
  const res = await as(app, stranger, { url: `/rooms/${room.id}` })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ...room, lastReadSeq: null, unreadCount: null }, 'a non-member reads no read state')
  assertError(t, await as(app, stranger, { url: `/rooms/${MISSING_ID}` }), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await as(app, stranger, { url: '/rooms/not-a-uuid' }), 400, 'FST_ERR_VALIDATION')
})

t.test('members: members only, paged by username', async (t) => {
  const owner = await signUp(app)
  const room = await createRoom(app, owner)
  const joiners = await Promise.all([1, 2, 3, 4].map(() => signUp(app)))
  for (const j of joiners) await joinRoom(app, j, room.id)
  const stranger = await signUp(app)

  assertError(t, await as(app, stranger, { url: `/rooms/${room.id}/members` }), 403, 'CHAT_NOT_MEMBER')
  assertError(t, await as(app, stranger, { url: `/rooms/${MISSING_ID}/members` }), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await as(app, owner, { url: `/rooms/${room.id}/members?limit=0` }), 400, 'FST_ERR_VALIDATION')
  assertError(t, await as(app, owner, { url: `/rooms/${room.id}/members?limit=101` }), 400, 'FST_ERR_VALIDATION')
  const badCursor = await as(app, owner, { url: `/rooms/${room.id}/members?cursor=garbage` })
  assertError(t, badCursor, 400, 'CHAT_INVALID_CURSOR')

  const seen: Array<{ user: { id: string; username: string }; role: string; joinedAt: string }> = []
  let cursor: string | null = null
  let pages = 0
  do {
    const url: string = `/rooms/${room.id}/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`
    const page = (await as(app, joiners[0]!, { url })).json()
    t.ok(page.items.length <= 2)
    seen.push(...page.items)
    cursor = page.nextCursor
    pages++
  } while (cursor)
  t.equal(pages, 3)
  const all = [owner, ...joiners]
  t.same(
    seen.map((m) => m.user.username),
    all.map((u) => u.username).sort(),
    'every member once, by username'
  )
  for (const m of seen) {
    t.same(Object.keys(m).sort(), ['joinedAt', 'lastReadSeq', 'online', 'role', 'user'])
    t.same(Object.keys(m.user).sort(), USER_KEYS, 'a public User only')
    t.equal(m.role, m.user.id === owner.id ? 'owner' : 'member')
  }
})

t.test('GET /rooms: every room once across pages, newest first; ?mine=true', async (t) => {
  const own = await build(t)
  const [a, b] = await Promise.all([signUp(own), signUp(own)])
  const created: Room[] = []
  for (let i = 0; i < 7; i++) created.push(await createRoom(own, i % 2 ? b : a, { name: `room ${i}` }))
  await joinRoom(own, b, created[0]!.id)

  const walk = async (query: string) => {
    const items: Room[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `/rooms?limit=3${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const res = await as(own, a, { url })
      t.equal(res.statusCode, 200)
      t.ok(res.json().items.length <= 3)
      items.push(...res.json().items)
      cursor = res.json().nextCursor
      pages++
    } while (cursor)
    return { items, pages }
  }
  const all = await walk('')
  t.equal(all.pages, 3)
  t.same(
    all.items.map((r) => r.id),
    created.map((r) => r.id).reverse(),
    'all seven, newest first, none twice'
  )
  for (const room of all.items) t.same(Object.keys(room).sort(), ROOM_KEYS)

  const mineB = (await as(own, b, { url: '/rooms?mine=true' })).json()
  t.same(
    mineB.items.map((r: Room) => r.name),
    ['room 5', 'room 3', 'room 1', 'room 0'],
    "b's own rooms and the one it joined"
  )
  t.equal(mineB.nextCursor, null)
  t.equal((await as(own, a, { url: '/rooms?mine=false' })).json().items.length, 7)
  const mineA = (await as(own, a, { url: '/rooms?mine=true&limit=100' })).json()
  t.same(mineA.items.length, 4)

  assertError(t, await as(own, a, { url: '/rooms?limit=0' }), 400, 'FST_ERR_VALIDATION')
  assertError(t, await as(own, a, { url: '/rooms?limit=101' }), 400, 'FST_ERR_VALIDATION')
  assertError(t, await as(own, a, { url: '/rooms?cursor=garbage' }), 400, 'CHAT_INVALID_CURSOR')
  t.equal((await as(own, a, { url: '/rooms?limit=100' })).statusCode, 200)
})
