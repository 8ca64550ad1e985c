// Rooms and memberships on a fresh database: a new room has its owner as member with role owner; roomAccess
// tells an unknown room, a non-member and a member apart; listRooms (mine or all) is newest first and pages to
// the end with cursors; listMembers pages by username; a cursor this API did not give out is
// CHAT_INVALID_CURSOR; lockRoomsOf returns the user's rooms in id order.
import t from 'tap'
import { fileDatabase, uniqueName } from '../helper.ts'
import { MISSING_ID } from '../rooms-helper.ts'
import { encodeCursor } from '../../src/repositories/page-cursor.ts'
import {
  insertMember,
  insertRoom,
  listMembers,
  listRooms,
  lockRoomsOf,
  roleIn,
  roomAccess
} from '../../src/repositories/rooms.ts'
import { insertUser } from '../../src/repositories/users.ts'

const db = await fileDatabase()

const newUser = (username = uniqueName()) => insertUser(db, { username, displayName: username, passwordHash: 'x' })
const newRoom = (ownerId: string, name = uniqueName('room')) =>
  db.transaction((tx) => insertRoom(tx, ownerId, name, null))
const join = (roomId: string, userId: string) => db.transaction((tx) => insertMember(tx, roomId, userId))

/** Every page of a list, following nextCursor to the end. */
async function walk<T>(list: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const pages: T[][] = []
  let cursor: string | undefined
  do {
    const page = await list(cursor)
    pages.push(page.items)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return pages
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: { code?: string }) => error.code
  )

t.test('insertRoom makes the owner its first member, with role owner', async (t) => {
  const owner = await newUser()
  const room = await db.transaction((tx) => insertRoom(tx, owner.id, 'general', 'a topic'))
  t.match(room, { name: 'general', topic: 'a topic', ownerId: owner.id, memberCount: 1, lastSeq: 0 })
  t.equal(await roleIn(db, room.id, owner.id), 'owner')
  const members = await listMembers(db, room.id, { limit: 10 })
  t.same(
    members.items.map((m) => [m.user.id, m.role]),
    [[owner.id, 'owner']]
  )
  t.equal(members.nextCursor, null)
  const other = await newUser()
  await join(room.id, other.id)
  t.equal(await roleIn(db, room.id, other.id), 'member', 'a joiner is a plain member')
})

t.test('roomAccess: unknown room, non-member, member', async (t) => {
  const [owner, stranger] = [await newUser(), await newUser()]
  const room = await newRoom(owner.id)
  t.same(await roomAccess(db, MISSING_ID, owner.id), { room: false, member: false })
  t.same(await roomAccess(db, room.id, stranger.id), { room: true, member: false })
  t.same(await roomAccess(db, room.id, owner.id), { room: true, member: true })
  await join(room.id, stranger.id)
  t.same(await roomAccess(db, room.id, stranger.id), { room: true, member: true })
})

t.test('listRooms: mine vs all, newest first, pages to the end', async (t) => {
  const [alice, bob] = [await newUser(), await newUser()]
  const owned = [await newRoom(alice.id), await newRoom(alice.id), await newRoom(alice.id)]
  const bobs = [await newRoom(bob.id), await newRoom(bob.id)]
  await join(bobs[0]!.id, alice.id)
  const mineNewestFirst = [owned[0], owned[1], owned[2], bobs[0]].map((r) => r!.id).reverse()

  const minePages = await walk((cursor) => listRooms(db, alice.id, { mine: true, limit: 2, cursor }))
  t.same(
    minePages.map((page) => page.length),
    [2, 2],
    'two full pages, then no cursor'
  )
  t.same(
    minePages.flat().map((r) => r.id),
    mineNewestFirst,
    "alice's rooms (owned and joined), newest first"
  )
  t.notOk(
    minePages.flat().some((r) => r.id === bobs[1]!.id),
    'a room she is not in is not hers'
  )

  const allPages = await walk((cursor) => listRooms(db, alice.id, { mine: false, limit: 2, cursor }))
  const all = allPages.flat().map((r) => r.id)
  t.ok(
    allPages.slice(0, -1).every((page) => page.length === 2),
    'every page but the last is full'
  )
  t.same(all, [...all].sort().reverse(), 'all rooms newest first across pages')
  t.equal(new Set(all).size, all.length, 'no room twice')
  for (const room of [...owned, ...bobs]) t.ok(all.includes(room.id), `room ${room.name} is listed`)
  t.same(
    (await listRooms(db, alice.id, { mine: false, limit: 1000 })).items.map((r) => r.id),
    all,
    'the walk saw what one big page sees'
  )
})

t.test('listMembers: by username, paged with cursors', async (t) => {
  const prefix = uniqueName('m')
  const owner = await newUser(`${prefix}_c`)
  const room = await newRoom(owner.id)
  for (const suffix of ['d', 'a', 'b']) await join(room.id, (await newUser(`${prefix}_${suffix}`)).id)
  const pages = await walk((cursor) => listMembers(db, room.id, { limit: 2, cursor }))
  t.same(
    pages.map((page) => page.map((m) => m.user.username)),
    [
      [`${prefix}_a`, `${prefix}_b`],
      [`${prefix}_c`, `${prefix}_d`]
    ]
  )
  t.same(
    pages.flat().map((m) => m.role),
    ['member', 'member', 'owner', 'member']
  )
})

t.test('a cursor this API did not give out is CHAT_INVALID_CURSOR', async (t) => {
  const owner = await newUser()
  const room = await newRoom(owner.id)
  const rooms = (cursor: string) => codeOf(listRooms(db, owner.id, { mine: false, limit: 2, cursor }))
  const members = (cursor: string) => codeOf(listMembers(db, room.id, { limit: 2, cursor }))
  t.equal(await rooms('not a cursor'), 'CHAT_INVALID_CURSOR', 'not base64url JSON')
  t.equal(await rooms(encodeCursor('not-a-uuid')), 'CHAT_INVALID_CURSOR', 'JSON, but not a room id')
  t.equal(await rooms(encodeCursor({ id: room.id })), 'CHAT_INVALID_CURSOR', 'a key of the wrong shape')
  t.equal(await members(encodeCursor(42)), 'CHAT_INVALID_CURSOR', 'a member cursor is a username')
  t.equal(await members('%%%'), 'CHAT_INVALID_CURSOR')
  t.equal(await rooms(encodeCursor(room.id)), 'resolved', 'a well-formed cursor is read')
})

t.test("lockRoomsOf returns the user's rooms in id order", async (t) => {
  const [alice, bob] = [await newUser(), await newUser()]
  const rooms = [await newRoom(bob.id), await newRoom(alice.id), await newRoom(bob.id), await newRoom(alice.id)]
  await join(rooms[0]!.id, alice.id)
  await join(rooms[2]!.id, alice.id)
  await newRoom(bob.id)
  const locked = await db.transaction((tx) => lockRoomsOf(tx, alice.id))
  t.same(
    locked,
    rooms.map((r) => ({ id: r.id, ownerId: r.ownerId })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    'every room she is in, owned or not, in id order'
  )
  const loner = await newUser()
  t.same(await db.transaction((tx) => lockRoomsOf(tx, loner.id)), [], 'none for a user in no room')
})
