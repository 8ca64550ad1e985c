// The redis plugin: without a URL there is no connection and the bus is in-process; with one, the node's two
// connections are up while it runs and closed with it. Two app instances on one database and the real Redis
// behave as two nodes: events, stream caps and rate limits are shared through Redis, and /readyz reports the bus.
import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { MemoryBus, RedisBus } from '@chat/realtime'
import { build, freshDatabase, signUp, as } from '../helper.ts'
import { until } from '@chat/testkit'
import { randomBytes } from 'node:crypto'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function twoNodes(t: Parameters<typeof build>[0], config: Parameters<typeof build>[1] = {}) {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  // PGlite is one process's database: the second node shares the first one's client.
  const database = db.options
  const a = await build(t, { ...config, database, config: { redisUrl: REDIS_URL, ...config.config } })
  const b = await build(t, { ...config, database, config: { redisUrl: REDIS_URL, ...config.config } })
  for (const app of [a, b]) await app.listen({ port: 0, host: '127.0.0.1' })
  return [a, b] as const
}

function openStream(app: FastifyInstance, path: string, token: string): Promise<http.IncomingMessage> {
  const { port } = app.server.address() as { port: number }
  const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${token}` } })
  return once(req, 'response').then(([res]) => res as http.IncomingMessage)
}

function readUntil(res: http.IncomingMessage, pattern: RegExp): Promise<string> {
  let text = ''
  return new Promise((resolve, reject) => {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      text += chunk
      if (pattern.test(text)) resolve(text)
    })
    res.on('end', () => reject(new Error(`stream ended before ${pattern}: ${text}`)))
  })
}

t.test('without a URL there is no Redis and the bus is the in-process one', async (t) => {
  const app = await build(t)
  t.equal(app.redis, null)
  t.ok(app.realtime.bus instanceof MemoryBus, 'the in-process bus')
})

t.test("with a URL the node's two connections are up, and both are closed with the app", async (t) => {
  const app = await build(t, { config: { redisUrl: REDIS_URL } })
  const redis = app.redis!
  if (redis.kind !== 'single') throw new Error('a URL makes one Redis, not a cluster')
  t.ok(app.realtime.bus instanceof RedisBus, 'the bus runs on Redis')
  for (const client of [redis.commands, redis.subscriber]) {
    if (client.status !== 'ready') await once(client, 'ready')
  }
  t.same([redis.commands.status, redis.subscriber.status], ['ready', 'ready'])
  t.equal(await redis.commands.ping(), 'PONG', 'the command connection answers')
  await app.close()
  // close() waits for QUIT's answer; the socket itself ends just after.
  await until(() => redis.commands.status === 'end' && redis.subscriber.status === 'end', 'both connections to end')
  t.same([redis.commands.status, redis.subscriber.status], ['end', 'end'], 'both ended')
})

t.test('an event posted on one node reaches a stream on the other', async (t) => {
  const [a, b] = await twoNodes(t)
  t.equal((await a.inject({ url: '/readyz' })).json().checks.bus, 'ok')
  const alice = await signUp(a)
  const room = (await as(a, alice, { method: 'POST', url: '/rooms/create', payload: { name: 'x' } })).json()
  const res = await openStream(a, `/rooms/${room.id}/events`, alice.accessToken)
  t.equal(res.statusCode, 200)
  const received = readUntil(res, /"text":"over redis"/)
  // The stream starts live once its node has subscribed the room: wait for the node to hold it.
  while (a.realtime.hub.streamCount === 0) await new Promise((r) => setTimeout(r, 10))
  const post = await as(b, alice, {
    method: 'POST',
    url: '/rooms/message',
    payload: { roomId: room.id, text: 'over redis' }
  })
  t.equal(post.statusCode, 201)
  t.match(await received, /id: 1\nevent: message\ndata: .*"over redis"/)
  res.destroy()
})

t.test('the per-user stream cap counts streams on every node', async (t) => {
  const [a, b] = await twoNodes(t, { config: { maxStreamsPerUser: 2 } })
  const alice = await signUp(a)
  const room = (await as(a, alice, { method: 'POST', url: '/rooms/create', payload: { name: 'x' } })).json()
  const path = `/rooms/${room.id}/events`
  const first = await openStream(a, path, alice.accessToken)
  const second = await openStream(b, path, alice.accessToken)
  t.equal(first.statusCode, 200)
  t.equal(second.statusCode, 200)
  const third = await openStream(b, path, alice.accessToken)
  t.equal(third.statusCode, 429)
  t.ok(third.headers['retry-after'])
  third.resume()
  first.destroy()
  // The slot is released when the server sees the socket close.
  let fourth: http.IncomingMessage | undefined
  for (let i = 0; i < 50; i++) {
    fourth = await openStream(b, path, alice.accessToken)
    if (fourth.statusCode === 200) break
    fourth.resume()
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(fourth?.statusCode, 200)
  second.destroy()
  fourth?.destroy()
})

t.test('login attempts are counted across nodes', async (t) => {
  const [a, b] = await twoNodes(t, { config: { authRateLimit: 3, trustProxy: true } })
  // Client addresses of their own, so other runs' counters in Redis do not matter.
  const address = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`
  const ip = address()
  const alice = { username: `rl_${randomBytes(4).toString('hex')}` }
  const created = await a.inject({
    method: 'POST',
    url: '/users',
    headers: { 'x-forwarded-for': address() },
    payload: { username: alice.username, password: 'correct horse battery' }
  })
  t.equal(created.statusCode, 201)
  const attempt = (app: FastifyInstance) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-forwarded-for': ip },
      payload: { username: alice.username, password: 'wrong password' }
    })
  t.equal((await attempt(a)).statusCode, 401)
  t.equal((await attempt(b)).statusCode, 401)
  t.equal((await attempt(a)).statusCode, 401)
  const limited = await attempt(b)
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'CHAT_RATE_LIMITED')
  t.ok(limited.headers['retry-after'])
  const refresh = await b.inject({
    method: 'POST',
    url: '/auth/refresh',
    headers: { 'x-forwarded-for': ip },
    payload: { refreshToken: 'x' }
  })
  t.equal(refresh.statusCode, 429, 'refresh draws on the same budget, on the other node')
})

t.test('posts, edits and reactions share one budget per user across nodes', async (t) => {
  const [a, b] = await twoNodes(t, { config: { messageRateLimit: 3 } })
  const user = await signUp(a)
  const room = await as(a, user, { method: 'POST', url: '/rooms/create', payload: { name: 'budget' } })
  const roomId = room.json().id
  const send = (app: FastifyInstance, path: string, payload: object) =>
    as(app, user, { method: 'POST', url: `/rooms/message${path}`, payload: { roomId, ...payload } })
  t.equal((await send(a, '', { text: 'one' })).statusCode, 201)
  t.equal((await send(b, '/edit', { seq: 1, text: 'two' })).statusCode, 201)
  t.equal((await send(a, '/react', { seq: 1, key: '👍' })).statusCode, 201)
  const limited = await send(b, '', { text: 'four' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'CHAT_RATE_LIMITED')
})

t.test('logout on one node ends the stream held by the other', async (t) => {
  const [a, b] = await twoNodes(t)
  const alice = await signUp(a)
  const room = (await as(a, alice, { method: 'POST', url: '/rooms/create', payload: { name: 'x' } })).json()
  const res = await openStream(a, `/rooms/${room.id}/events`, alice.accessToken)
  const closed = readUntil(res, /event: close\ndata: \{"reason":"logout"\}/)
  while (a.realtime.hub.streamCount === 0) await new Promise((r) => setTimeout(r, 10))
  t.equal((await as(b, alice, { method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 204)
  await closed
  t.equal((await as(a, alice, { method: 'GET', url: '/users/me' })).statusCode, 401)
})

t.test('REDIS_PREFIX: every key and channel of a deployment carries it, and deployments share no counts', async (t) => {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const prefix = `deploy-${randomBytes(4).toString('hex')}:`
  const deployment = (redisPrefix: string) =>
    build(t, { database: db.options, config: { redisUrl: REDIS_URL, redisPrefix, maxStreamsPerUser: 1 } })
  const [a, b] = [await deployment(prefix), await deployment(`${prefix}other:`)]
  for (const app of [a, b]) await app.listen({ port: 0, host: '127.0.0.1' })
  const [watcher, scanner] = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
  t.teardown(() => Promise.all([watcher.quit(), scanner.quit()]))
  const channels: string[] = []
  watcher.on('pmessage', (_pattern: string, channel: string) => channels.push(channel))
  await watcher.psubscribe('*')

  const alice = await signUp(a)
  const room = (await as(a, alice, { method: 'POST', url: '/rooms/create', payload: { name: 'x' } })).json()
  const onA = await openStream(a, `/rooms/${room.id}/events`, alice.accessToken)
  const onB = await openStream(b, `/rooms/${room.id}/events`, alice.accessToken)
  t.same([onA.statusCode, onB.statusCode], [200, 200], 'a cap of one stream per deployment, not across them')
  await as(a, alice, { method: 'POST', url: '/rooms/message', payload: { roomId: room.id, text: 'namespaced' } })
  await until(() => channels.some((c) => c.endsWith(room.id)), 'the publish')

  t.ok(
    channels.filter((c) => c.endsWith(room.id)).every((c) => c.startsWith(prefix)),
    'the channel is prefixed'
  )
  const keys: string[] = []
  for await (const batch of scanner.scanStream({ match: `${prefix}*`, count: 1000 })) keys.push(...batch)
  for (const [kind, what] of [
    ['streams:', 'stream slots'],
    ['node:', 'the liveness key'],
    ['rl:', 'rate-limit counters'],
    ['{presence}:online:', 'presence']
  ])
    t.ok(
      keys.some((k) => k.startsWith(prefix + kind)),
      `${what} under the prefix`
    )
  onA.destroy()
  onB.destroy()
})
