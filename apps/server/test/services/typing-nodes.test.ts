// Typing across two nodes (two apps on one database and the real Redis): the other members' room streams, user
// streams and sockets on both nodes hear `typing: true`; a repeat within 2 s (sent to the other node) is not fanned
// out again; `typing: false`, a post and the lapse each end it with `typing: false`; the typer's own connections
// hear none of it; a typer's node that goes away leaves the lapse to the node left; the budget is per user across
// nodes. The lapse is shortened to 1.5 s here (the default, 6 s, is checked in typing.test.ts); the repeat window
// is the default.
import t from 'tap'
import { listen, openStream, openUserStream, WsClient, type SseClient } from '@chat/testkit'
import type { TypingData } from '@chat/contracts'
import { as, assertError, build, freshDatabase, signUp, type TestUser } from '../helper.ts'
import { createRoom, joinRoom, post } from '../rooms-helper.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const TTL_MS = 1_500

const db = await freshDatabase()
t.teardown(() => db.drop())
const node = () =>
  build(t, { database: db.options, config: { redisUrl: REDIS_URL, typingRateLimit: 12 }, typing: { ttlMs: TTL_MS } })
const [a, b] = [await node(), await node()]
const [baseA, baseB] = [await listen(a), await listen(b)]

const typing = (app: typeof a, user: TestUser, roomId: string, value?: boolean) =>
  as(app, user, {
    method: 'POST',
    url: '/rooms/typing',
    payload: value === undefined ? { roomId } : { roomId, typing: value }
  })

const ready = (client: SseClient) => client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready')
const heard = (client: SseClient): boolean[] =>
  client.events.filter((e) => e.event === 'typing').map((e) => (JSON.parse(e.data) as TypingData).typing)
const heardWs = (client: WsClient): boolean[] =>
  client.messages.filter((m) => m.type === 'typing').map((m) => m.typing as boolean)

t.test('start, repeat, stop, post, lapse: what the other members hear on both nodes', async (t) => {
  const [typer, watcher] = await Promise.all([signUp(a), signUp(a)])
  const room = await createRoom(a, typer)
  await joinRoom(a, watcher, room.id)
  const watcherOnB = await openUserStream(t, baseB, { token: watcher.accessToken })
  const roomStreamOnA = await openStream(t, baseA, room.id, { token: watcher.accessToken })
  const typerOwn = await openUserStream(t, baseA, { token: typer.accessToken })
  const typerRoomStream = await openStream(t, baseB, room.id, { token: typer.accessToken })
  const socketOnA = await WsClient.connect(baseA, { token: watcher.accessToken })
  t.teardown(() => socketOnA.close())
  await Promise.all([ready(watcherOnB), ready(typerOwn)])
  await socketOnA.waitFor(() => socketOnA.messages.some((m) => m.type === 'ready'), 'ready')
  await roomStreamOnA.waitFor(() => roomStreamOnA.status === 200, 'the room stream')

  const upTo = async (count: number, what: string) => {
    await watcherOnB.waitFor(() => heard(watcherOnB).length >= count, `${what} on B's user stream`)
    await roomStreamOnA.waitFor(() => heard(roomStreamOnA).length >= count, `${what} on A's room stream`)
    await socketOnA.waitFor(() => heardWs(socketOnA).length >= count, `${what} on A's socket`)
  }

  t.equal((await typing(a, typer, room.id)).statusCode, 204, 'typing on A')
  await upTo(1, 'typing: true')
  const first = watcherOnB.events.find((e) => e.event === 'typing')!
  t.equal(first.id, undefined, 'unstored: no id')
  const data = JSON.parse(first.data) as TypingData
  t.same(Object.keys(data).sort(), ['roomId', 'typing', 'user'])
  t.match(data, { roomId: room.id, user: { id: typer.id, username: typer.username }, typing: true })
  t.match(
    socketOnA.messages.find((m) => m.type === 'typing'),
    { type: 'typing', roomId: room.id, user: { id: typer.id }, typing: true }
  )

  t.equal((await typing(b, typer, room.id, true)).statusCode, 204, 'a repeat within 2 s, on the other node')
  t.equal((await typing(a, typer, room.id, false)).statusCode, 204, 'then typing: false')
  await upTo(2, 'typing: false')
  t.same(heard(watcherOnB), [true, false], 'the repeat was not fanned out again')
  t.equal((await typing(a, typer, room.id, false)).statusCode, 204, 'a second stop…')

  t.equal((await typing(b, typer, room.id)).statusCode, 204)
  await upTo(3, 'typing again')
  await post(b, typer, room.id, 'sent')
  await upTo(4, 'the post ending it')
  t.same(heard(watcherOnB), [true, false, true, false], '…told no one; the post ended it')
  t.ok(watcherOnB.events.findIndex((e) => e.event === 'message') >= 0, 'the message itself arrived too')

  const started = Date.now()
  t.equal((await typing(a, typer, room.id)).statusCode, 204)
  await upTo(5, 'typing once more')
  await upTo(6, 'the lapse')
  t.ok(Date.now() - started >= TTL_MS - 100, 'the lapse came after the typing lasted')
  for (const client of [watcherOnB, roomStreamOnA]) t.same(heard(client), [true, false, true, false, true, false])
  t.same(heardWs(socketOnA), [true, false, true, false, true, false], 'the socket heard the same')

  t.same(heard(typerOwn), [], "the typer's own user stream heard none of it")
  t.same(heard(typerRoomStream), [], "nor the typer's own room stream")
})

t.test('posts of one turn end their authors’ typing together, each once', async (t) => {
  const typers = await Promise.all([signUp(a), signUp(a), signUp(a)])
  const watcher = await signUp(a)
  const room = await createRoom(a, typers[0]!)
  for (const user of [...typers.slice(1), watcher]) await joinRoom(a, user, room.id)
  const watching = await openUserStream(t, baseB, { token: watcher.accessToken })
  await ready(watching)
  for (const typer of typers) t.equal((await typing(a, typer, room.id)).statusCode, 204)
  await watching.waitFor(() => heard(watching).length === 3, 'three typing: true')
  // Two of them post at once on node A (one turn's batch); the third does not.
  await Promise.all(typers.slice(0, 2).map((typer, i) => post(a, typer, room.id, `at once ${i}`)))
  await watching.waitFor(() => heard(watching).length === 5, 'two typing: false')
  const stopped = watching.events
    .filter((e) => e.event === 'typing' && !(JSON.parse(e.data) as TypingData).typing)
    .map((e) => (JSON.parse(e.data) as TypingData).user.id)
    .sort()
  t.same(stopped, [typers[0]!.id, typers[1]!.id].sort(), 'the two posters stopped typing, each once')
  t.equal((await typing(a, typers[2]!, room.id, false)).statusCode, 204, 'the third still typed: its stop…')
  await watching.waitFor(() => heard(watching).length === 6, '…is heard')
})

t.test("the typer's node gone: the lapse is still announced, by the node left", async (t) => {
  const c = await build(t, {
    database: db.options,
    config: { redisUrl: REDIS_URL },
    typing: { ttlMs: TTL_MS }
  })
  const [typer, watcher] = await Promise.all([signUp(a), signUp(a)])
  const room = await createRoom(a, typer)
  await joinRoom(a, watcher, room.id)
  const watching = await openUserStream(t, baseA, { token: watcher.accessToken })
  await ready(watching)
  t.equal((await typing(c, typer, room.id)).statusCode, 204, 'typing on a third node')
  await watching.waitFor(() => heard(watching).length === 1, 'typing: true from the third node')
  await c.close()
  await watching.waitFor(() => heard(watching).length === 2, 'the lapse, announced without the third node')
  t.same(heard(watching), [true, false])
})

t.test('members only; the budget is per user, across nodes', async (t) => {
  const [owner, stranger] = await Promise.all([signUp(a), signUp(a)])
  const room = await createRoom(a, owner)
  assertError(t, await typing(a, stranger, room.id), 403, 'CHAT_NOT_MEMBER')
  assertError(t, await typing(a, owner, '00000000-0000-4000-8000-000000000000'), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(
    t,
    await as(a, owner, { method: 'POST', url: '/rooms/typing', payload: { roomId: room.id, typing: 'yes' } }),
    400,
    'FST_ERR_VALIDATION'
  )
  const statuses: number[] = []
  for (let i = 0; i < 14; i++) statuses.push((await typing(i % 2 ? a : b, owner, room.id)).statusCode)
  t.ok(
    statuses.slice(0, 10).every((s) => s === 204),
    'within the budget'
  )
  t.ok(statuses.includes(429), 'past it: 429')
  const refused = await typing(a, owner, room.id)
  assertError(t, refused, 429, 'CHAT_RATE_LIMITED')
  t.ok(refused.headers['retry-after'], 'with Retry-After')
  const socket = await WsClient.connect(baseB, { token: owner.accessToken })
  t.teardown(() => socket.close())
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'ready'), 'ready')
  t.match(
    await socket.command({ type: 'typing', roomId: room.id }),
    { ok: false, error: { statusCode: 429, code: 'CHAT_RATE_LIMITED' } },
    'the socket command shares the budget'
  )
})
