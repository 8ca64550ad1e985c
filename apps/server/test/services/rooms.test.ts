// The rooms service through a built app: a write that fails publishes nothing; a successful join publishes
// exactly one event, and only after its commit; removeUser, inside the caller's transaction, returns what it
// deleted and left and publishes nothing until announce; closing the app settles the posts it was given.
import t from 'tap'
import { openDb } from '@chat/db'
import { roomChannel } from '@chat/realtime'
import type { RoomEvent } from '@chat/contracts'
import type { FastifyInstance } from 'fastify'
import { build, freshDatabase, signUp, uniqueName } from '../helper.ts'
import { MISSING_ID, range } from '../rooms-helper.ts'
import { until } from '@chat/testkit'
import { eventsAfter } from '../../src/repositories/room-log.ts'

type Message = { k: 'event'; e: RoomEvent } | { k: 'room.deleted'; roomId: string }

/** Every message the app's bus carries on the room's channel, parsed, in order. */
async function listen(t: Parameters<typeof build>[0], app: FastifyInstance, roomId: string) {
  const messages: Message[] = []
  const handler = (raw: string) => void messages.push(JSON.parse(raw) as Message)
  await app.realtime.bus.subscribe(roomChannel(roomId), handler)
  t.teardown(() => app.realtime.bus.unsubscribe(roomChannel(roomId), handler))
  return messages
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: { code?: string }) => error.code
  )

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('a failed write publishes nothing', async (t) => {
  const app = await build(t)
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await app.rooms.create(owner.id, { name: uniqueName('room') })
  const messages = await listen(t, app, room.id)
  const nowhere = await listen(t, app, MISSING_ID)

  t.equal(await codeOf(app.rooms.leave(owner.id, room.id)), 'CHAT_OWNER_CANNOT_LEAVE')
  t.equal(await codeOf(app.rooms.join(member.id, MISSING_ID)), 'CHAT_ROOM_NOT_FOUND')
  t.equal(await codeOf(app.rooms.delete(member.id, room.id)), 'CHAT_NOT_ROOM_OWNER')
  t.equal(await codeOf(app.rooms.post(member.id, { roomId: room.id, text: 'x' })), 'CHAT_NOT_MEMBER')
  await app.rooms.leave(member.id, room.id) // not a member: nothing changes

  // The bus delivers in publish order: once the join's event is in, anything published before it is too.
  const joined = await app.rooms.join(member.id, room.id)
  await until(() => messages.length > 0, 'the join to be published')
  t.same(
    messages.map((m) => (m.k === 'event' ? [m.e.type, m.e.seq] : m.k)),
    [['member.joined', 1]],
    'only the successful join reached the bus'
  )
  t.equal(joined.lastSeq, 1)
  t.same(nowhere, [], 'nothing on the unknown room either')
})

t.test('a successful join publishes exactly one event, readable from the database when it arrives', async (t) => {
  const app = await build(t)
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await app.rooms.create(owner.id, { name: uniqueName('room') })
  const seenInDb: Array<Promise<number[]>> = []
  const messages: Message[] = []
  const handler = (raw: string) => {
    messages.push(JSON.parse(raw) as Message)
    // Asked the moment the event arrives: the commit must already be visible.
    seenInDb.push(eventsAfter(app.db, room.id, 0, 100).then((events) => events.map((e) => e.seq)))
  }
  await app.realtime.bus.subscribe(roomChannel(room.id), handler)
  t.teardown(() => app.realtime.bus.unsubscribe(roomChannel(room.id), handler))

  await app.rooms.join(member.id, room.id)
  await app.rooms.join(member.id, room.id) // already a member: nothing stored, nothing published
  const marker = await app.rooms.post(owner.id, { roomId: room.id, text: 'marker' })
  await until(() => messages.length >= 2, 'the marker post to be published')
  t.same(
    messages.map((m) => (m.k === 'event' ? [m.e.type, m.e.seq] : m.k)),
    [
      ['member.joined', 1],
      ['message', marker.event.seq]
    ],
    'one event for the join, none for the repeated join'
  )
  t.same(await Promise.all(seenInDb), [[1], [1, 2]], 'each event was in the database when its message arrived')
})

t.test(
  'removeUser returns the deleted owned rooms and member.left events, and publishes only on announce',
  async (t) => {
    const app = await build(t)
    const [leaver, other] = await Promise.all([signUp(app), signUp(app)])
    const owned = await app.rooms.create(leaver.id, { name: uniqueName('room') })
    const joined = [
      await app.rooms.create(other.id, { name: uniqueName('room') }),
      await app.rooms.create(other.id, { name: uniqueName('room') })
    ]
    await app.rooms.join(other.id, owned.id)
    for (const room of joined) await app.rooms.join(leaver.id, room.id)
    const untouched = await app.rooms.create(other.id, { name: uniqueName('room') })
    const heard = {
      owned: await listen(t, app, owned.id),
      joined: [await listen(t, app, joined[0]!.id), await listen(t, app, joined[1]!.id)],
      untouched: await listen(t, app, untouched.id)
    }

    const changes = await app.db.transaction((tx) => app.rooms.removeUser(tx, leaver.id))
    t.same(changes.deletedRoomIds, [owned.id], 'the room they owned')
    t.same(
      changes.events.map((e) => [e.type, e.roomId, e.user.id, e.seq]).sort(),
      joined.map((r) => ['member.left', r.id, leaver.id, 2]).sort(),
      'one member.left in each room they were in'
    )
    await nextTurn()
    t.same([heard.owned, ...heard.joined, heard.untouched], [[], [], [], []], 'nothing published before announce')

    t.equal(await codeOf(app.rooms.get(owned.id, leaver.id)), 'CHAT_ROOM_NOT_FOUND', 'the owned room is gone')
    for (const [i, room] of joined.entries()) {
      const stored = await eventsAfter(app.db, room.id, 1, 100)
      t.same(stored, [changes.events.find((e) => e.roomId === room.id)], `room ${i}: the event is stored`)
      t.same(await app.rooms.access(room.id, leaver.id), { room: true, member: false })
    }

    await app.rooms.announce(changes)
    await until(() => heard.owned.length > 0 && heard.joined.every((m) => m.length > 0), 'the announcement')
    t.same(heard.owned, [{ k: 'room.deleted', roomId: owned.id }])
    for (const [i, messages] of heard.joined.entries()) {
      t.same(
        messages.map((m) => (m.k === 'event' ? m.e : m)),
        [changes.events.find((e) => e.roomId === joined[i]!.id)]
      )
    }
    t.same(heard.untouched, [], 'a room they were not in hears nothing')
  }
)

t.test('closing the app settles the posts started with it, and what resolved is stored', async (t) => {
  const fresh = await freshDatabase()
  t.teardown(() => fresh.drop())
  const app = await build(t, { database: fresh.options })
  const owner = await signUp(app)
  const room = await app.rooms.create(owner.id, { name: uniqueName('room') })
  const posts = range(1, 20).map((i) => app.rooms.post(owner.id, { roomId: room.id, text: `post ${i}` }))
  const closing = app.close()
  let timer: NodeJS.Timeout | undefined
  const settled = await Promise.race([
    Promise.allSettled(posts),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('a post never settled')), 10_000)
    })
  ]).finally(() => clearTimeout(timer))
  await closing
  const stored = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.event] : []))
  t.equal(settled.length, 20, 'every post settled')

  const opened = await openDb(fresh.options)
  t.teardown(() => opened.close())
  const inDb = await eventsAfter(opened.db, room.id, 0, 100)
  for (const event of stored)
    t.same(
      inDb.find((e) => e.id === event.id),
      event,
      `seq ${event.seq} is stored`
    )
  t.same(
    inDb.map((e) => e.seq),
    range(1, inDb.length),
    'the log is gapless'
  )
})
