// Nodes on a Redis Cluster (a local one: 3 masters, 3 replicas, started here): room events, membership changes
// and session ends cross between nodes on sharded pub/sub; the stream cap and the rate limits are counted on the
// cluster, not per node. Then the master serving a room's partition is killed by pid while posts flow: its
// replica takes over, /readyz says so meanwhile, and every subscriber still gets every event once, in order
// (the gap is read from PostgreSQL once the subscribers are back).
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { roomChannel, shardedChannel } from '@chat/realtime'
import { openStream, openUserStream, storedEvents } from '@chat/testkit'
import { startRedisCluster } from '../cluster/redis-cluster.ts'
import {
  Poster,
  assertExactlyOnce,
  createUser,
  lastSeq,
  login,
  post,
  request,
  roomWith,
  sleep,
  subscribe,
  testCluster,
  until
} from './helpers.ts'

const PARTITIONS = 16
const PREFIX = 'chat:' // REDIS_PREFIX's default, which the nodes run with
const redis = await startRedisCluster({
  basePort: Number(process.env.CHAT_TEST_REDIS_CLUSTER_PORT ?? 7100),
  dir: join(tmpdir(), `chat-redis-cluster-${process.pid}`)
})
t.teardown(() => redis.stop())
const onRedisCluster = { redisClusterNodes: redis.seeds }
const partitions = { REDIS_CLUSTER_PARTITIONS: String(PARTITIONS) }

t.test('two nodes on the Redis Cluster', async (t) => {
  const cluster = await testCluster(t, {
    port: 4160,
    basePort: 4161,
    nodes: 2,
    ...onRedisCluster,
    env: { ...partitions, MAX_STREAMS_PER_USER: '3', MESSAGE_RATE_LIMIT: '20' }
  })
  const [n1, n2] = cluster.nodes.map((n) => n.url) as [string, string]
  const ready = await Promise.all([n1, n2].map((url) => request(url, 'GET', '/readyz')))
  t.same(
    ready.map((r) => [r.status, (r.json.checks as Record<string, string>).bus]),
    [
      [200, 'ok'],
      [200, 'ok']
    ],
    'both nodes are ready, their bus on the cluster'
  )

  t.test('room events cross between the nodes', async (t) => {
    const users = [await createUser(n1, 'alice'), await createUser(n2, 'bob'), await createUser(n1, 'carol')]
    const roomId = await roomWith(n1, users)
    const streams = [
      ...(await subscribe(t, 3, { base: n1, roomId, users })),
      ...(await subscribe(t, 3, { base: n2, roomId, users }))
    ]
    const texts = new Map<number, string>()
    for (let i = 0; i < 30; i++) {
      const text = `sharded #${i}`
      texts.set(await post(i % 2 ? n2 : n1, roomId, users[i % 3]!, text), text)
    }
    const last = await lastSeq(n1, roomId, users[0]!.token)
    await Promise.all(streams.map((s) => s.waitForSeq(last, 30_000)))
    assertExactlyOnce(t, streams, last, texts)
  })

  t.test('a join on node 1 makes the room flow on a user stream held by node 2', async (t) => {
    const owner = await createUser(n1, 'owner')
    const dave = await createUser(n1, 'dave')
    const roomId = await roomWith(n1, [owner])
    const stream = await openUserStream(t, n2, { token: dave.token })
    await stream.waitFor(() => stream.events.some((e) => e.event === 'ready'), 'ready on /events')
    const joined = await request(n1, 'POST', '/rooms/join', { roomId }, dave.token)
    t.equal(joined.status, 200, 'dave joins on node 1')
    await post(n1, roomId, owner, 'welcome')
    await stream.waitFor(() => storedEvents(stream.events).some((e) => e.text === 'welcome'), 'the post on node 2')
    const inRoom = storedEvents(stream.events).filter((e) => e.roomId === roomId)
    t.match(inRoom[0], { type: 'member.joined', user: { id: dave.id } }, "the room starts with dave's member.joined")
    t.match(inRoom.at(-1), { type: 'message', text: 'welcome' }, 'then the post')
    const left = await request(n1, 'POST', '/rooms/leave', { roomId }, dave.token)
    t.equal(left.status, 204, 'dave leaves on node 1')
    await stream.waitFor(
      () => storedEvents(stream.events).some((e) => e.roomId === roomId && e.type === 'member.left'),
      'member.left on node 2'
    )
    await post(n1, roomId, owner, 'after dave left')
    await sleep(500)
    t.match(
      storedEvents(stream.events)
        .filter((e) => e.roomId === roomId)
        .at(-1),
      { type: 'member.left' },
      'member.left is the last of the room on his stream'
    )
  })

  t.test('typing (and its lapse) and presence cross the nodes', async (t) => {
    const kim = await createUser(n1, 'kim')
    const lee = await createUser(n1, 'lee')
    const roomId = await roomWith(n1, [kim, lee])
    const stream = await openStream(t, n2, roomId, { token: lee.token })
    t.equal(stream.status, 200, "lee's stream on node 2")
    // kim comes online with a stream of her own on node 1: node 2 hears of it.
    const kims = await openStream(t, n1, roomId, { token: kim.token })
    t.equal(kims.status, 200, "kim's stream on node 1")
    const presence = (online: boolean) => () =>
      stream.events.some(
        (e) => e.event === 'presence' && JSON.parse(e.data).userId === kim.id && JSON.parse(e.data).online === online
      )
    await stream.waitFor(presence(true), "kim's presence on node 2", 10_000)
    t.pass("node 2's stream hears kim come online on node 1")
    t.equal((await request(n1, 'POST', '/rooms/typing', { roomId }, kim.token)).status, 204, 'kim types on node 1')
    const typing = (on: boolean) => () =>
      stream.events.some(
        (e) => e.event === 'typing' && JSON.parse(e.data).user.id === kim.id && JSON.parse(e.data).typing === on
      )
    await stream.waitFor(typing(true), 'typing on node 2', 10_000)
    t.pass('node 2 gets typing: true')
    await stream.waitFor(typing(false), 'the lapse on node 2', 15_000)
    t.pass('and typing: false when it lapses, swept on the cluster')
    kims.close()
    await stream.waitFor(presence(false), "kim's going offline on node 2", 20_000)
    t.pass('and kim going offline once her last stream closed')
  })

  t.test('a logout on node 1 ends the stream node 2 holds', async (t) => {
    const owner = await createUser(n1, 'host')
    await createUser(n1, 'erin')
    const session = await login(n1, 'erin')
    const roomId = await roomWith(n1, [owner])
    await request(n1, 'POST', '/rooms/join', { roomId }, session.token)
    const stream = await openStream(t, n2, roomId, { token: session.token, reconnect: true })
    await stream.waitForSeq(await post(n1, roomId, owner, 'before the logout'), 10_000)
    t.equal((await request(n1, 'POST', '/auth/logout', {}, session.token)).status, 204, 'logout on node 1')
    await stream.waitFor(() => stream.ended, 'the end of the stream on node 2', 5_000)
    t.same(stream.closeReasons, ['logout'], 'node 2 sent close {reason: logout}')
  })

  t.test('the stream cap is counted on the cluster', async (t) => {
    const frank = await createUser(n1, 'frank')
    const roomId = await roomWith(n1, [frank])
    const open = [
      await openStream(t, n1, roomId, { token: frank.token }),
      await openStream(t, n1, roomId, { token: frank.token }),
      await openStream(t, n2, roomId, { token: frank.token })
    ]
    t.same(
      open.map((s) => s.status),
      [200, 200, 200],
      'three streams, the cap, over both nodes'
    )
    const over = await openStream(t, n2, roomId, { token: frank.token })
    t.equal(over.status, 429, "a fourth is refused by node 2, which counts node 1's")
    open[0]!.close()
    await until(
      async () => {
        const again = await openStream(t, n2, roomId, { token: frank.token })
        if (again.status !== 200) again.close()
        return again.status === 200
      },
      'a slot freed on node 1 to be usable on node 2',
      10_000
    )
    t.pass('a stream closed on node 1 frees its slot for node 2')
  })

  t.test('a user’s message budget is shared by the nodes', async (t) => {
    const grace = await createUser(n1, 'grace')
    const roomId = await roomWith(n1, [grace])
    const statuses: number[] = []
    for (let i = 0; i < 21; i++) {
      const res = await request(i % 2 ? n2 : n1, 'POST', '/rooms/message', { roomId, text: `#${i}` }, grace.token)
      statuses.push(res.status)
      if (i === 20) t.equal(res.json.code, 'CHAT_RATE_LIMITED', 'the 21st in the window: the contract’s code')
    }
    t.same(statuses.slice(0, 20), Array(20).fill(201), '20 posts, alternating nodes, within MESSAGE_RATE_LIMIT')
    t.equal(statuses[20], 429, 'the 21st is refused, whichever node takes it')
  })
})

t.test('the master of a room’s partition killed while posts flow', async (t) => {
  const cluster = await testCluster(t, { port: 4170, basePort: 4171, nodes: 2, ...onRedisCluster, env: partitions })
  const urls = cluster.nodes.map((n) => n.url)
  const users = [await createUser(urls[0]!, 'henry'), await createUser(urls[1]!, 'iris')]
  const roomId = await roomWith(urls[0]!, users)
  const streams = [
    ...(await subscribe(t, 10, { base: urls[0]!, roomId, users })),
    ...(await subscribe(t, 10, { base: urls[1]!, roomId, users }))
  ]
  const channel = shardedChannel(roomChannel(roomId), PARTITIONS, PREFIX)
  const master = await redis.masterOf(channel)
  t.comment(`room ${roomId}: channel ${channel} on the master at port ${master.port} (pid ${master.pid})`)

  const poster = new Poster({ bases: urls, roomId, users, label: 'failover', pauseMs: 20 })
  await until(() => poster.count >= 30, '30 posts before the kill')
  const readiness: number[] = []
  let watching = true
  const watch = (async () => {
    while (watching) {
      const answers = await Promise.all(urls.map((url) => request(url, 'GET', '/readyz')))
      readiness.push(...answers.map((a) => a.status))
      await sleep(100)
    }
  })()

  const killedAt = Date.now()
  const atKill = poster.count
  process.kill(master.pid, 'SIGKILL')
  await until(
    () =>
      redis.masterOf(channel).then(
        (m) => m.port !== master.port,
        () => false
      ),
    'a replica to take over the partition',
    30_000
  )
  const promotedAt = Date.now()
  await until(
    async () => (await Promise.all(urls.map((url) => request(url, 'GET', '/readyz')))).every((r) => r.status === 200),
    'both nodes ready again',
    30_000
  )
  const readyAt = Date.now()
  const atReady = poster.count
  await until(() => poster.count >= atReady + 30, '30 posts after the failover', 30_000)
  await poster.stop()
  watching = false
  await watch
  t.comment(
    `replica promoted ${promotedAt - killedAt} ms after SIGKILL, nodes ready ${readyAt - killedAt} ms after it; ` +
      `${atReady - atKill} posts answered meanwhile`
  )

  t.ok(readiness.includes(503), '/readyz answered 503 while the partition had no master')
  t.same(poster.failures, [], `every one of ${poster.count} posts was stored, the failover included`)
  const last = await lastSeq(urls[0]!, roomId, users[0]!.token)
  await Promise.all(streams.map((s) => s.waitForSeq(last, 30_000)))
  assertExactlyOnce(t, streams, last, poster.texts)
  await redis.restart(master.port)
})
