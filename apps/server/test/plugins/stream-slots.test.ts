// The per-user cap on open streams: on one node, slots are granted up to the cap, refused past it, and a
// release frees exactly one however often it is called; on Redis, two nodes on one database count the cap
// together, and a slot released on one node can be taken on the other.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build, freshDatabase, TEST_REDIS_PREFIX } from '../helper.ts'
import { until } from '@chat/testkit'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const MAX = 2

/** Resolves once the node's command connection is up and everything it sent on connecting has been answered. */
async function redisReady(app: FastifyInstance): Promise<void> {
  const commands = app.redis!.commands
  if (commands.status !== 'ready') await once(commands, 'ready')
  // The node's liveness key was set on this connection before this answer came back.
  await commands.ping()
}

/** Two apps on one database and the real Redis: two nodes. */
async function twoNodes(t: Test): Promise<[FastifyInstance, FastifyInstance]> {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const config = { redisUrl: REDIS_URL, maxStreamsPerUser: MAX }
  const a = await build(t, { database: db.options, config })
  const b = await build(t, { database: db.options, config })
  await Promise.all([redisReady(a), redisReady(b)])
  return [a, b]
}

t.test('local: up to the cap, none past it, a release frees one, a second release nothing', async (t) => {
  const app = await build(t, { config: { maxStreamsPerUser: MAX } })
  t.equal(app.redis, null, 'no Redis: the count is local')
  const user = randomUUID()
  const first = await app.streamSlots.acquire(user)
  const second = await app.streamSlots.acquire(user)
  t.type(first, 'function')
  t.type(second, 'function')
  t.equal(await app.streamSlots.acquire(user), null, 'past the cap')
  t.type(await app.streamSlots.acquire(randomUUID()), 'function', 'another user has slots of their own')

  first!()
  const third = await app.streamSlots.acquire(user)
  t.type(third, 'function', 'the released slot is free again')
  first!()
  t.equal(await app.streamSlots.acquire(user), null, 'a second release of the same slot frees nothing')
  second!()
  third!()
  t.type(await app.streamSlots.acquire(user), 'function')
  t.type(await app.streamSlots.acquire(user), 'function')
  t.equal(await app.streamSlots.acquire(user), null, 'all released: the cap again, not more')
})

t.test('on Redis the cap is counted across two nodes, and a release on one frees a slot for the other', async (t) => {
  const [a, b] = await twoNodes(t)
  const user = randomUUID()

  const onA = await a.streamSlots.acquire(user)
  const onB = await b.streamSlots.acquire(user)
  t.type(onA, 'function')
  t.type(onB, 'function')
  t.equal(await a.streamSlots.acquire(user), null, 'node a is refused: the cap is reached across both')
  t.equal(await b.streamSlots.acquire(user), null, 'so is node b')
  t.equal(await a.redis!.commands.zcard(`${TEST_REDIS_PREFIX}streams:${user}`), MAX, 'Redis holds one lease per slot')

  onA!()
  onA!()
  // The release removes the lease asynchronously; the other node sees it once Redis has it.
  const taken: { release?: (() => void) | null } = {}
  await until(async () => Boolean((taken.release = await b.streamSlots.acquire(user))), 'node b to take the slot')
  t.type(taken.release, 'function', 'node b takes the slot node a released')
  t.equal(await a.streamSlots.acquire(user), null, 'a double release freed only one slot')
  onB!()
  taken.release!()
})

t.test("a lease is never taken for a dead node's: granting one renews the granting node's liveness key", async (t) => {
  const [a, b] = await twoNodes(t)
  const redis = a.redis!.commands
  const user = randomUUID()

  t.type(await b.streamSlots.acquire(user), 'function')
  const [member] = await redis.zrange(`${TEST_REDIS_PREFIX}streams:${user}`, 0, -1)
  const nodeKey = `${TEST_REDIS_PREFIX}node:${member!.split(':')[0]}`
  // As if node b's key had not been written yet (or had lapsed) when it granted its next slot.
  await redis.del(nodeKey)
  t.type(await b.streamSlots.acquire(user), 'function', "node b's second slot")
  t.equal(await redis.exists(nodeKey), 1, "the grant wrote node b's liveness key")
  t.equal(await a.streamSlots.acquire(user), null, "node a at the cap does not take node b's slots for a dead node's")
  t.equal(await redis.zcard(`${TEST_REDIS_PREFIX}streams:${user}`), MAX, "both of node b's leases are still there")
})
