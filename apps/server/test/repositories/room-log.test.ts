// The room log on a fresh database: append numbers events contiguously and keeps the room's last_seq and
// member_count; eventsAfter and history read pages in ascending order with hasMore in the direction read;
// headSeqs reads many rooms' heads at once: 0 for a new room, none for an unknown one.
import t from 'tap'
import { fileDatabase, uniqueName } from '../helper.ts'
import { MISSING_ID, range } from '../rooms-helper.ts'
import { append, eventsAfter, headSeqs, history } from '../../src/repositories/room-log.ts'
import { findRoom, insertRoom } from '../../src/repositories/rooms.ts'
import { insertUser } from '../../src/repositories/users.ts'

const db = await fileDatabase()

async function userAndRoom(name = uniqueName('alice')) {
  const user = await insertUser(db, { username: name, displayName: name, passwordHash: 'x' })
  const room = await db.transaction((tx) => insertRoom(tx, user.id, `${name}'s room`, null))
  return { user, room }
}

/** A room holding messages 1..count. */
async function roomWith(count: number) {
  const { user, room } = await userAndRoom()
  for (const i of range(1, count)) {
    await db.transaction((tx) => append(tx, room.id, { type: 'message', userId: user.id, text: `m${i}` }))
  }
  return { user, room }
}

const seqs = (events: Array<{ seq: number }>) => events.map((e) => e.seq)

t.test('append gives contiguous seqs and keeps last_seq and member_count', async (t) => {
  const { user, room } = await userAndRoom()
  t.equal(room.lastSeq, 0)
  t.equal(room.memberCount, 1)
  const bob = await insertUser(db, { username: uniqueName('bob'), displayName: 'Bob', passwordHash: 'x' })

  const first = await db.transaction((tx) =>
    append(tx, room.id, { type: 'message', userId: user.id, text: 'hello', clientMsgId: 'c1' })
  )
  t.equal(first.event.seq, 1)
  t.match(first.event, { roomId: room.id, type: 'message', text: 'hello', clientMsgId: 'c1' })
  t.match(first.event.user, { id: user.id, username: user.username })
  t.equal(first.room.lastSeq, 1)

  const joined = await db.transaction((tx) => append(tx, room.id, { type: 'member.joined', userId: bob.id }, 1))
  t.equal(joined.event.seq, 2)
  t.equal(joined.event.text, null)
  t.equal(joined.event.clientMsgId, null)
  t.equal(joined.room.memberCount, 2, 'member_count moved by the delta')
  const left = await db.transaction((tx) => append(tx, room.id, { type: 'member.left', userId: bob.id }, -1))
  t.equal(left.event.seq, 3)
  t.equal(left.room.memberCount, 1)

  const stored = await findRoom(db, room.id)
  t.equal(stored?.lastSeq, 3, 'last_seq is stored')
  t.equal(stored?.memberCount, 1)
  t.same(seqs(await eventsAfter(db, room.id, 0, 100)), [1, 2, 3])
  t.same(await headSeqs(db, [room.id]), new Map([[room.id, 3]]))

  const rolledBack = db.transaction(async (tx) => {
    await append(tx, room.id, { type: 'message', userId: user.id, text: 'undone' })
    throw new Error('rolled back')
  })
  await t.rejects(rolledBack, /rolled back/)
  const next = await db.transaction((tx) => append(tx, room.id, { type: 'message', userId: user.id, text: 'x' }))
  t.equal(next.event.seq, 4, 'a rolled-back append uses no seq')
})

t.test('eventsAfter reads ascending after a seq, up to a limit', async (t) => {
  const { room } = await roomWith(7)
  t.same(seqs(await eventsAfter(db, room.id, 0, 3)), [1, 2, 3])
  t.same(seqs(await eventsAfter(db, room.id, 4, 100)), [5, 6, 7])
  t.same(await eventsAfter(db, room.id, 7, 100), [], 'nothing after the head')
  t.same(await eventsAfter(db, MISSING_ID, 0, 100), [], 'nothing in an unknown room')
})

t.test('history: latest page, before, after, hasMore both ways, always ascending', async (t) => {
  const { room } = await roomWith(7)
  const latest = await history(db, room.id, { limit: 3 })
  t.same(seqs(latest.items), [5, 6, 7], 'the latest page, ascending')
  t.equal(latest.hasMore, true, 'older events lie before it')

  const older = await history(db, room.id, { limit: 3, before: 5 })
  t.same(seqs(older.items), [2, 3, 4])
  t.equal(older.hasMore, true)
  const oldest = await history(db, room.id, { limit: 3, before: 2 })
  t.same(seqs(oldest.items), [1])
  t.equal(oldest.hasMore, false, 'nothing before seq 1')
  const exact = await history(db, room.id, { limit: 4, before: 5 })
  t.same(seqs(exact.items), [1, 2, 3, 4])
  t.equal(exact.hasMore, false, 'a page that takes the rest has no more')

  const forward = await history(db, room.id, { limit: 3, after: 0 })
  t.same(seqs(forward.items), [1, 2, 3])
  t.equal(forward.hasMore, true, 'newer events lie after it')
  const end = await history(db, room.id, { limit: 3, after: 4 })
  t.same(seqs(end.items), [5, 6, 7])
  t.equal(end.hasMore, false, 'the page reaches the head')
  const none = await history(db, room.id, { limit: 3, after: 7 })
  t.same(none, { items: [], hasMore: false })

  const all = await history(db, room.id, { limit: 100 })
  t.same(seqs(all.items), range(1, 7))
  t.equal(all.hasMore, false)
  t.same(
    all.items.map((e) => e.text),
    range(1, 7).map((i) => `m${i}`)
  )
})

t.test('headSeqs: 0 for a new room, nothing for an unknown room', async (t) => {
  const { room } = await userAndRoom()
  t.same(await headSeqs(db, [room.id, MISSING_ID]), new Map([[room.id, 0]]), 'a room that is gone has no head')
})
