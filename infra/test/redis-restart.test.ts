// Redis is only the fast path: when the real Redis process dies and comes back while posts keep flowing, nodes
// must report not-ready meanwhile, keep committing posts, and — once their subscriber connection is back —
// read what the bus lost from PostgreSQL, so no subscriber misses an event. The figures printed (time from
// Redis answering PING again to ready nodes and to the last gap filled) are measurements, not assertions.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import t from 'tap'
import {
  Poster,
  REDIS_URL,
  assertExactlyOnce,
  createUser,
  lastSeq,
  metric,
  request,
  roomWith,
  subscribe,
  testCluster,
  until
} from './helpers.ts'

const redis = new URL(REDIS_URL)
const redisHost = redis.hostname || '127.0.0.1'
const redisPort = redis.port || '6379'
// How CI starts Redis (.ci/run): no persistence, loopback only.
const REDIS_START = [
  '--daemonize',
  'yes',
  '--bind',
  '127.0.0.1',
  '-::1',
  '--port',
  redisPort,
  '--save',
  '',
  '--appendonly',
  'no'
]

function redisCli(...args: string[]): string | null {
  const res = spawnSync('redis-cli', ['-h', redisHost, '-p', redisPort, ...args], { encoding: 'utf8', timeout: 2000 })
  return res.status === 0 ? res.stdout : null
}

const pings = () => redisCli('ping')?.trim() === 'PONG'

function redisPid(): number {
  const info = redisCli('info', 'server') ?? ''
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1])
  if (!pid) throw new Error(`no process_id in redis-cli info server: ${info.slice(0, 200)}`)
  return pid
}

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by whoever adopted the daemon) counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

function startRedis(): void {
  spawnSync('redis-server', REDIS_START, { cwd: tmpdir(), stdio: 'ignore', timeout: 5000 })
}

async function ensureRedis(): Promise<void> {
  if (pings()) return
  startRedis()
  await until(pings, 'Redis to answer PING again', 15_000)
}

if (!redisCli('ping')) {
  t.fail(`Redis at ${REDIS_URL} does not answer; this test restarts it, so it must be running first`)
} else {
  // Whatever happens below, Redis runs again at the end (and if this process dies before teardown, too).
  t.teardown(ensureRedis)
  process.on('exit', () => {
    if (!pings()) startRedis()
  })

  t.test('Redis restarted under load: nodes go unready and back, posts commit, nobody misses an event', async (t) => {
    const cluster = await testCluster(t, { port: 4130, basePort: 4131 })
    const urls = cluster.nodes.map((n) => n.url)
    const users = [await createUser(cluster.url, 'frank'), await createUser(cluster.url, 'grace')]
    const roomId = await roomWith(cluster.url, users)
    const streams = [
      ...(await subscribe(t, 15, { base: cluster.url, roomId, users })),
      ...(await subscribe(t, 5, { base: urls[0]!, roomId, users })),
      ...(await subscribe(t, 5, { base: urls[1]!, roomId, users })),
      ...(await subscribe(t, 5, { base: urls[2]!, roomId, users }))
    ]
    const readyz = async (url: string) => (await request(url, 'GET', '/readyz')).status
    const reconnectsBefore = await Promise.all(urls.map((u) => metric(u, 'chat_bus_reconnects_total')))

    const poster = new Poster({ bases: urls, roomId, users, label: 'redis restart', pauseMs: 25 })
    await until(() => poster.count >= 20, '20 posts before the outage')

    const pid = redisPid()
    process.kill(pid, 'SIGTERM')
    const killedAt = Date.now()
    await until(() => !alive(pid) && !pings(), 'Redis to stop after SIGTERM', 10_000).catch(async () => {
      process.kill(pid, 'SIGKILL')
      await until(() => !alive(pid) && !pings(), 'Redis to die after SIGKILL', 10_000)
    })
    t.pass(`Redis (pid ${pid}) stopped`)

    await until(async () => (await readyz(urls[0]!)) === 503, 'node 1 /readyz to answer 503', 20_000)
    const body = (await request(urls[0]!, 'GET', '/readyz')).json
    t.equal((body.checks as Record<string, string>).bus, 'unavailable', '/readyz says the bus is unavailable')
    const atOutage = poster.count
    // Long enough for the nodes' reconnect backoff to grow to its 2 s ceiling, as in a real outage.
    await until(
      () => poster.count >= atOutage + 30 && Date.now() - killedAt >= 6000,
      '30 posts and 6 s of outage',
      30_000
    )
    t.ok((await readyz(urls[0]!)) === 503, 'still 503 while Redis is down')

    startRedis()
    await until(pings, 'Redis to answer PING', 15_000)
    const backAt = Date.now()
    const lastDuringOutage = poster.maxSeq
    t.pass(`Redis restarted after ${backAt - killedAt} ms down`)

    const [readyAfter, filledAfter] = await Promise.all([
      until(
        async () => (await Promise.all(urls.map(readyz))).every((s) => s === 200),
        'every node ready again',
        30_000
      ).then(() => Date.now() - backAt),
      Promise.all(streams.map((s) => s.waitForSeq(lastDuringOutage, 60_000))).then(() => Date.now() - backAt)
    ])
    t.pass('every node is ready again')
    t.comment(`from PING to every node ready: ${readyAfter} ms`)
    t.comment(
      `from PING to every subscriber holding seq ${lastDuringOutage} (last post of the outage): ${filledAfter} ms`
    )

    const atBack = poster.count
    await until(() => poster.count >= atBack + 20, '20 posts after the outage')
    await poster.stop()
    t.same(
      poster.failures,
      [],
      `all ${poster.count} posts committed (2xx), ${atBack - atOutage} of them during the outage`
    )

    const last = await lastSeq(cluster.url, roomId, users[0]!.token)
    await Promise.all(streams.map((s) => s.waitForSeq(last, 60_000)))
    assertExactlyOnce(t, streams, last, poster.texts)
    t.ok(
      streams.every((s) => s.connections === 1),
      'every stream stayed on its connection: the nodes filled the gap, not the clients'
    )
    const reconnects = await Promise.all(urls.map((u) => metric(u, 'chat_bus_reconnects_total')))
    t.ok(
      reconnects.every((n, i) => n > reconnectsBefore[i]!),
      `every node counted a bus reconnect (${reconnects.join(', ')})`
    )
  })
}
