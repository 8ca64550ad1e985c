// Presence across nodes on the real Redis: a user's first connection on any node makes them online in their
// rooms' streams and in the member list; closing and reconnecting within 2 s (on the other node) is no change;
// after the last connection closes they go offline; rooms above PRESENCE_MAX_MEMBERS get no `presence` events. A
// node killed with SIGKILL (a real server process) takes its users offline through the other nodes' sweep. The
// timings are the defaults (5 s grace, 6 s node key, 2 s sweep): the contract's 20 s is what the waits allow.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { listen, openUserStream, until, WsClient, type SseClient } from '@chat/testkit'
import type { PresenceData } from '@chat/contracts'
import { as, build, freshDatabase, signUp, TEST_REDIS_PREFIX, TEST_SECRET, type TestUser } from '../helper.ts'
import { createRoom, joinRoom } from '../rooms-helper.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const OFFLINE_WITHIN_MS = 20_000
const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

const ready = (client: SseClient) => client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready')
const presenceOf = (client: SseClient, userId: string, roomId?: string): boolean[] =>
  client.events
    .filter((e) => e.event === 'presence')
    .map((e) => JSON.parse(e.data) as PresenceData)
    .filter((p) => p.userId === userId && (roomId === undefined || p.roomId === roomId))
    .map((p) => p.online)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function onlineInList(app: Awaited<ReturnType<typeof build>>, viewer: TestUser, roomId: string, userId: string) {
  const res = await as(app, viewer, { url: `/rooms/${roomId}/members` })
  return (res.json().items as Array<{ user: { id: string }; online: boolean }>).find((m) => m.user.id === userId)!
    .online
}

t.test('two nodes: online, a quick reconnect is no change, offline; no events above the member cap', async (t) => {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const node = () => build(t, { database: db.options, config: { redisUrl: REDIS_URL, presenceMaxMembers: 2 } })
  const [a, b] = [await node(), await node()]
  const [baseA, baseB] = [await listen(a), await listen(b)]
  t.equal(a.presence.options.graceMs, 5_000, 'the default grace')
  const [observer, subject, third] = await Promise.all([signUp(a), signUp(a), signUp(a)])
  const small = await createRoom(a, observer)
  const big = await createRoom(a, observer)
  await joinRoom(a, subject, small.id)
  for (const user of [subject, third]) await joinRoom(a, user, big.id)
  const watching = await openUserStream(t, baseA, { token: observer.accessToken })
  await ready(watching)
  t.equal(await onlineInList(a, observer, small.id, subject.id), false, 'offline before connecting')

  const first = await openUserStream(t, baseB, { token: subject.accessToken })
  await ready(first)
  await watching.waitFor(() => presenceOf(watching, subject.id).length === 1, 'online')
  const event = watching.events.find((e) => e.event === 'presence')!
  t.equal(event.id, undefined, 'unstored: no id')
  t.same(JSON.parse(event.data), { roomId: small.id, userId: subject.id, online: true })
  t.equal(await onlineInList(a, observer, small.id, subject.id), true, 'online in the member list, on either node')
  t.equal(await onlineInList(b, observer, big.id, subject.id), true)

  first.close()
  await sleep(2_000)
  const again = await WsClient.connect(baseA, { token: subject.accessToken })
  t.teardown(() => again.close())
  await again.waitFor(() => again.messages.some((m) => m.type === 'ready'), 'ready')
  // Past the grace the first node's registration has gone; the second node's holds.
  await sleep(a.presence.options.graceMs + a.presence.options.sweepMs)
  t.same(presenceOf(watching, subject.id), [true], 'a reconnect within 2 s changed nothing')
  t.equal(await onlineInList(b, observer, small.id, subject.id), true)

  const closedAt = Date.now()
  again.close()
  await watching.waitFor(() => presenceOf(watching, subject.id).length === 2, 'offline', OFFLINE_WITHIN_MS + 5_000)
  t.ok(Date.now() - closedAt < OFFLINE_WITHIN_MS + 5_000, 'offline after the last connection closed')
  t.same(presenceOf(watching, subject.id), [true, false])
  t.equal(await onlineInList(a, observer, small.id, subject.id), false)
  t.same(presenceOf(watching, subject.id, big.id), [], 'a room of 3 members (cap 2) got no presence events')
})

t.test('SIGKILL of the node holding the connection: offline through the other nodes', async (t) => {
  // The killed node is a real server process, so the database is PostgreSQL whatever TEST_DB says.
  const db = await freshDatabase('postgres')
  t.teardown(() => db.drop())
  const a = await build(t, { database: db.options, config: { redisUrl: REDIS_URL } })
  const baseA = await listen(a)
  const child = spawn(process.execPath, ['--conditions=@chat/source', '--import', TSX, SERVER], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: TEST_REDIS_PREFIX,
      JWT_SECRET: TEST_SECRET
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  await until(() => /"msg":"Server listening at/.test(output), 'the killed node to listen', 60_000)
  const baseK = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(output)![1]!

  const [observer, subject] = await Promise.all([signUp(a), signUp(a)])
  const room = await createRoom(a, observer)
  await joinRoom(a, subject, room.id)
  const watching = await openUserStream(t, baseA, { token: observer.accessToken })
  await ready(watching)
  const held = await openUserStream(t, baseK, { token: subject.accessToken })
  await ready(held)
  await watching.waitFor(() => presenceOf(watching, subject.id).length === 1, 'online through the other node')

  child.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL', 'the node is gone')
  const killedAt = Date.now()
  await watching.waitFor(
    () => presenceOf(watching, subject.id).length === 2,
    'offline after the kill',
    OFFLINE_WITHIN_MS + 5_000
  )
  t.ok(Date.now() - killedAt < OFFLINE_WITHIN_MS + 5_000)
  t.same(presenceOf(watching, subject.id), [true, false])
  t.equal(await onlineInList(a, observer, room.id, subject.id), false, 'and offline in the member list')
})

t.test('one node: a user in many rooms comes online in paced bursts, every room told once', async (t) => {
  const batch = 40
  const paceMs = 150
  const app = await build(t, { presence: { batch, paceMs } })
  const base = await listen(app)
  const [owner, subject] = await Promise.all([signUp(app), signUp(app)])
  const rooms = []
  for (let i = 0; i < 2 * batch + 10; i++) rooms.push(await createRoom(app, owner))
  for (const room of rooms) await joinRoom(app, subject, room.id)
  const heard: Array<{ roomId: string; at: number }> = []
  const handlers = rooms.map((room) => {
    const handler = (raw: string) => {
      const msg = JSON.parse(raw) as { k: string; userId?: string }
      if (msg.k === 'presence' && msg.userId === subject.id) heard.push({ roomId: room.id, at: performance.now() })
    }
    return [`room:${room.id}`, handler] as const
  })
  for (const [channel, handler] of handlers) await app.realtime.bus.subscribe(channel, handler)
  t.teardown(async () => {
    for (const [channel, handler] of handlers) await app.realtime.bus.unsubscribe(channel, handler)
  })
  const stream = await openUserStream(t, base, { token: subject.accessToken })
  await ready(stream)
  await until(() => heard.length === rooms.length, 'every room told')
  t.same(new Set(heard.map((h) => h.roomId)).size, rooms.length, 'each room once')
  const gaps = heard.slice(1).map((h, i) => h.at - heard[i]!.at)
  t.ok(gaps[batch - 1]! >= paceMs - 20, `a rest after the first ${batch} (${Math.round(gaps[batch - 1]!)} ms)`)
  t.ok(gaps[2 * batch - 1]! >= paceMs - 20, `and after the next ${batch}`)
  t.ok(
    gaps.slice(0, batch - 1).every((g) => g < paceMs - 20),
    'no rest inside a burst'
  )
})
