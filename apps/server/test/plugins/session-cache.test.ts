// A session found live is taken as live for a moment without asking the database again, and a revoked one is
// still refused everywhere within a second: at once on the node that revoked it, at once on a node the bus tells,
// and within LIVE_FOR_MS on a node the bus cannot tell (its Redis is down). Two nodes on one database.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import { sql } from '@chat/db'
import { listen, openStream, until } from '@chat/testkit'
import { as, build, freshDatabase, signUp } from '../helper.ts'
import { createRoom } from '../rooms-helper.ts'
import { LIVE_FOR_MS } from '../../src/plugins/sessions.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
// Nothing listens there: a node configured with it runs with its Redis down.
const DOWN_REDIS_URL = 'redis://127.0.0.1:1'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Two nodes on one database and the given Redis, a user signed up, and a `GET /users/me` of theirs. */
async function twoNodes(t: Test, redisUrl: string) {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const node = () => build(t, { database: db.options, config: { redisUrl } })
  const [a, b] = [await node(), await node()]
  const alice = await signUp(a)
  const me = (app: FastifyInstance) => as(app, alice, { method: 'GET', url: '/users/me' })
  return { a, b, alice, me }
}

t.test('the answer is kept for LIVE_FOR_MS, then asked again', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const { sessionId } = await app.sessions.start(alice.id)
  t.ok(await app.sessions.isLive(alice.id, sessionId), 'live')
  // Revoked behind the node's back (no forget): only the lapse can tell it.
  const foundAt = performance.now()
  await app.db.execute(sql`update sessions set revoked_at = now(), revoked_reason = 'logout' where id = ${sessionId}`)
  const kept = await app.sessions.isLive(alice.id, sessionId)
  if (performance.now() - foundAt < LIVE_FOR_MS) t.ok(kept, 'still taken as live within the lapse')
  t.notOk(await app.sessions.isLive(randomUUID(), sessionId), "never live for another user's id")
  await sleep(LIVE_FOR_MS)
  t.notOk(await app.sessions.isLive(alice.id, sessionId), 'asked again after it: refused')
})

t.test('a logout is refused at once on its own node and on a node the bus tells', async (t) => {
  const { a, b, alice, me } = await twoNodes(t, REDIS_URL)
  const room = await createRoom(a, alice)
  const stream = await openStream(t, await listen(b), room.id, { token: alice.accessToken })
  await until(() => b.realtime.hub.countForUser(alice.id) === 1, 'the stream on B')
  t.equal((await me(a)).statusCode, 200)
  const foundAt = performance.now()
  t.equal((await me(b)).statusCode, 200, 'B has just found the session live')
  t.equal((await as(a, alice, { method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 204)
  t.equal((await me(a)).statusCode, 401, 'refused at once where it was revoked')
  // B forgets the session as the bus's end of its streams arrives, before it closes them.
  t.equal(await stream.closeReason(), 'logout')
  const told = performance.now() - foundAt < LIVE_FOR_MS
  t.equal((await me(b)).statusCode, 401, told ? 'refused by B within the lapse: the bus told it' : 'refused by B')
})

t.test('with Redis down, the other node refuses a revoked session within a second', async (t) => {
  const { a, b, alice, me } = await twoNodes(t, DOWN_REDIS_URL)
  t.equal((await me(b)).statusCode, 200, 'B has found the session live')
  const revokedAt = performance.now()
  t.equal((await as(a, alice, { method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 204)
  t.equal((await me(a)).statusCode, 401, 'refused at once where it was revoked')
  await sleep(Math.max(0, revokedAt + 1_000 - performance.now()))
  t.equal((await me(b)).statusCode, 401, 'refused by B one second after the logout, with no bus to tell it')
})
