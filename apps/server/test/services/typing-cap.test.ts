// A room shows at most maxPerRoom typists at once, on one node (its own store) and across two nodes (the Redis
// store, the cap counted cluster-wide): a start past the cap is answered 204 and heard by no one; once a typist
// stops, lapses or posts, the next start gets in. The cap is 2 here (the default, 5, is checked in typing.test.ts).
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { listen, openUserStream } from '@chat/testkit'
import type { TypingData } from '@chat/contracts'
import { as, build, freshDatabase, signUp, type TestUser } from '../helper.ts'
import { createRoom, joinRoom, post } from '../rooms-helper.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const typing = { maxPerRoom: 2, ttlMs: 1_500 }

async function capped(t: Test, a: FastifyInstance, b: FastifyInstance) {
  const [watcher, one, two, three] = await Promise.all([signUp(a), signUp(a), signUp(a), signUp(a)])
  const room = await createRoom(a, watcher)
  for (const user of [one, two, three]) await joinRoom(a, user, room.id)
  const stream = await openUserStream(t, await listen(a), { token: watcher.accessToken })
  await stream.waitFor(() => stream.events.some((e) => e.event === 'ready'), 'ready')
  const names = new Map([one, two, three].map((u, i) => [u.id, ['one', 'two', 'three'][i]!]))
  const heard = () =>
    stream.events
      .filter((e) => e.event === 'typing')
      .map((e) => JSON.parse(e.data) as TypingData)
      .map((d) => `${names.get(d.user.id)} ${d.typing}`)
  const say = async (app: FastifyInstance, user: TestUser, value = true) => {
    const res = await as(app, user, {
      method: 'POST',
      url: '/rooms/typing',
      payload: { roomId: room.id, typing: value }
    })
    t.equal(res.statusCode, 204)
  }
  const hears = (count: number, what: string) => stream.waitFor(() => heard().length >= count, what)

  await say(a, one)
  await say(b, two)
  await say(a, three)
  await hears(2, 'two typists')
  await say(b, one, false)
  await hears(3, 'one stopped')
  await say(a, three)
  await hears(4, 'three gets in')
  await say(b, one)
  await post(a, two, room.id, 'a post ends two')
  await hears(5, 'two posted')
  await say(a, one)
  await hears(6, 'one gets in again')
  t.same(heard(), ['one true', 'two true', 'one false', 'three true', 'two false', 'one true'])
  await hears(8, 'the lapses')
  t.same(heard().slice(6).sort(), ['one false', 'three false'], 'both lapse')
}

t.test('one node, its own store', async (t) => {
  const app = await build(t, { typing })
  await capped(t, app, app)
})

t.test('two nodes on Redis: one cap for the cluster', async (t) => {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const node = () => build(t, { database: db.options, config: { redisUrl: REDIS_URL }, typing })
  await capped(t, await node(), await node())
})
