// The two halves of a measurement shared by every mode: a chat deployment set up through the real API (users,
// rooms, tokens) or the floor standing in for it, and a run against it: a fan-out (open streams, post, wait,
// tally) or idle streams' memory.
import { randomBytes } from 'node:crypto'
import { expect, latencySummary, now, request, round, sleep, until } from './http.ts'
import { createDatabase, startFloor, startNode, type BenchDatabase, type Node } from './nodes.ts'
import { collectGarbage, cpuBetween, sample } from './proc.ts'
import { openStreams, roomStream, type StreamTarget } from './subscribers.ts'

export const size = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

export interface ModeResult {
  mode: string
  shape: string
  chat: Record<string, unknown>
  /** post mode: the same node under a mix of posts, edits and reactions, after `chat`'s pure posts */
  chatMixed?: Record<string, unknown>
  /** fan-out modes: the bare node:http floor; post mode: the write floor (write-floor.ts) */
  floor?: Record<string, unknown>
  /** post mode: the same posts answered by the bare node:http floor, which stores nothing */
  httpFloor?: Record<string, unknown>
  /**
   * post mode: each phase's requests per second ÷ the write floor's posts per second, the HTTP floor's too, and
   * the posts' ÷ the HTTP floor's
   */
  writeRatio?: { post: number; mixed?: number; httpFloor?: number; postOfHttpFloor?: number }
  /** chat ÷ floor for deliveries per second, and for server CPU per delivery */
  ratio?: { deliveriesPerSecond: number; cpuPerDelivery: number }
}

/** A stream of a fan-out run, and how many of the run's rooms it hears: it should get each one's messages. */
export interface Listener {
  stream: StreamTarget
  rooms: number
}

export interface Target {
  /** where streams are opened and where posts go (the same node unless cross-node) */
  streamPort: number
  postPort: number
  /** processes whose CPU and memory count as the server's */
  pids: number[]
  rooms: string[]
  /** a token per poster (the floor ignores them) */
  tokens: string[]
  /** per room, the token that posts there (default: `tokens` in turn) */
  posters?: string[]
  /** the streams of a fan-out run (default: `streamsPerRoom` room streams on each room, as the first token) */
  listeners?: Listener[]
}

const PASSWORD = 'bench password 123'

/** Registers `users` users through the API and logs each in; returns their tokens. */
export async function signUp(port: number, users: number): Promise<string[]> {
  const prefix = `b${randomBytes(3).toString('hex')}`
  return Promise.all(
    Array.from({ length: users }, async (_, i) => {
      const username = `${prefix}_${i}`
      await expect(201, request(port, 'POST', '/users', { username, password: PASSWORD }))
      const session = await expect(200, request(port, 'POST', '/auth/login', { username, password: PASSWORD }))
      return String(session.accessToken)
    })
  )
}

/** Creates `count` rooms owned by the first token; every other token joins all of them. */
export async function createRooms(port: number, tokens: string[], count: number): Promise<string[]> {
  const [owner, ...others] = tokens
  const rooms = await createRoomsOf(port, owner!, count)
  await joinRooms(
    port,
    others,
    rooms,
    others.map(() => rooms.map((_, r) => r))
  )
  return rooms
}

/** Creates `count` rooms owned by `owner`, 50 at a time. */
export async function createRoomsOf(port: number, owner: string, count: number): Promise<string[]> {
  const rooms: string[] = []
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) =>
      expect(201, request(port, 'POST', '/rooms/create', { name: `bench ${i + k}` }, owner)).then((r) => String(r.id))
    )
    rooms.push(...(await Promise.all(batch)))
  }
  return rooms
}

/** Token t joins the rooms `of[t]` (indexes into `roomIds`), `concurrency` joins in flight. */
export async function joinRooms(port: number, tokens: string[], roomIds: string[], of: number[][], concurrency = 16) {
  const joins = tokens.flatMap((token, t) => of[t]!.map((r) => ({ token, roomId: roomIds[r]! })))
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let j = next++; j < joins.length; j = next++) {
        const { token, roomId } = joins[j]!
        await expect(200, request(port, 'POST', '/rooms/join', { roomId }, token))
      }
    })
  )
}

/**
 * Deterministic, even memberships: user u is in rooms (u·m + k·⌊rooms/perUser⌋) mod rooms for k < perUser, m the
 * first number from 7 up with no factor in common with `rooms`. Every room then has users·perUser/rooms members
 * when `rooms` divides `users` (and within one of it otherwise).
 */
export function memberships(users: number, rooms: number, perUser: number): number[][] {
  if (!(perUser >= 1 && perUser <= rooms)) throw new Error(`rooms per user (${perUser}) must be 1 to ${rooms}`)
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a)
  let m = 7
  while (gcd(m, rooms) !== 1) m++
  const stride = Math.floor(rooms / perUser)
  return Array.from({ length: users }, (_, u) =>
    Array.from({ length: perUser }, (_, k) => (u * m + k * stride) % rooms)
  )
}

export function floorTarget(port: number, pid: number, rooms: number): Target {
  const ids = Array.from({ length: rooms }, (_, i) => `floor-room-${i}`)
  return { streamPort: port, postPort: port, pids: [pid], rooms: ids, tokens: [''] }
}

/** One chat deployment: `nodes` nodes on one fresh database (Redis between them when more than one). */
export async function withChat<T>(
  nodes: number,
  run: (nodes: Node[], database: BenchDatabase) => Promise<T>
): Promise<T> {
  const database = await createDatabase()
  const started: Node[] = []
  try {
    for (let i = 0; i < nodes; i++) started.push(await startNode(database, { redis: nodes > 1 }))
    return await run(started, database)
  } finally {
    for (const node of started) await node.stop()
    await database.drop()
  }
}

/** A floor process standing in for a deployment with `rooms` rooms, stopped after the run. */
export async function withFloor<T>(rooms: number, run: (target: Target) => Promise<T>): Promise<T> {
  const floor = await startFloor()
  try {
    return await run(floorTarget(floor.port, floor.pid, rooms))
  } finally {
    await floor.stop()
  }
}

/** A fan-out result beside the floor's, and their ratios. */
export function compared(mode: string, shape: string, chat: FanoutResult, floor?: FanoutResult): ModeResult {
  if (!floor) return { mode, shape, chat: { ...chat } }
  return {
    mode,
    shape,
    chat: { ...chat },
    floor: { ...floor },
    ratio: {
      deliveriesPerSecond: round(chat.deliveriesPerSecond / floor.deliveriesPerSecond, 2),
      cpuPerDelivery: round(chat.serverCpuMicrosPerDelivery / floor.serverCpuMicrosPerDelivery, 2)
    }
  }
}

export interface FanoutOptions {
  /** room streams opened on each room when the target names no listeners */
  streamsPerRoom?: number
  messagesPerRoom: number
  /** messages per second across all rooms; unpaced (as fast as `concurrency` posters go) when absent */
  rate?: number
  concurrency?: number
  /** parse every stream (order and duplicate checks on all), not a sample; streams that send `ready` always are */
  strict?: boolean
}

export interface FanoutResult {
  streams: number
  messages: number
  expected: number
  delivered: number
  lost: number
  duplicated: number
  outOfOrderStreams: number
  /** user streams that had not sent `ready` when the posts began (30 s after the last one opened) */
  notReady?: number
  wallSeconds: number
  deliveriesPerSecond: number
  latencyMs: ReturnType<typeof latencySummary>
  /** how long POST /rooms/message took, request to response */
  postMs: ReturnType<typeof latencySummary>
  serverCpuSeconds: number
  serverCpuSystemShare: number
  serverCpuMicrosPerDelivery: number
  serverWritesPerDelivery: number
  serverPeakRssMiB: number
  /** the share of one core this harness used meanwhile: near 1, the streams' reading limited the figures */
  harnessCpuShare: number
}

/**
 * Posts `total` messages, message i to room i mod rooms (as the room's poster, else the next token), paced at
 * `rate` per second or as fast as `concurrency` posters go; resolves with each post's time, request to response.
 */
export async function postMessages(
  target: Pick<Target, 'postPort' | 'rooms' | 'tokens' | 'posters'>,
  total: number,
  {
    rate,
    concurrency = 4,
    text = (_i, sent) => `t=${sent}`
  }: Pick<FanoutOptions, 'rate' | 'concurrency'> & {
    text?: (i: number, sent: number) => string
  } = {}
): Promise<number[]> {
  const postTimes: number[] = []
  const post = async (i: number) => {
    const r = i % target.rooms.length
    const token = target.posters?.[r] ?? target.tokens[i % target.tokens.length]!
    const sent = now()
    const body = { roomId: target.rooms[r], text: text(i, sent) }
    const res = await request(target.postPort, 'POST', '/rooms/message', body, token)
    if (res.status !== 201) throw new Error(`post: HTTP ${res.status} ${JSON.stringify(res.json)}`)
    postTimes.push(now() - sent)
  }
  if (rate) {
    const started = now()
    const sent: Promise<void>[] = []
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate
      if (due > now()) await sleep(due - now())
      sent.push(post(i))
    }
    await Promise.all(sent)
  } else {
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) await post(next++)
      })
    )
  }
  return postTimes
}

export async function fanout(target: Target, opts: FanoutOptions): Promise<FanoutResult> {
  const { streamsPerRoom = 0, messagesPerRoom, rate, concurrency = 4, strict = false } = opts
  const listeners =
    target.listeners ??
    target.rooms.flatMap((roomId) =>
      Array.from({ length: streamsPerRoom }, () => ({
        stream: roomStream(target.streamPort, roomId, target.tokens[0]!),
        rooms: 1
      }))
    )
  const readying = listeners.filter((l) => l.stream.sendsReady).length
  const streams = await openStreams(
    listeners.map((l) => l.stream),
    { parseAll: strict }
  )
  if (readying) await until(() => streams.ready >= readying, 30_000)
  const notReady = readying - streams.ready
  await sleep(500)

  const total = target.rooms.length * messagesPerRoom
  const before = target.pids.map(sample)
  const harness = process.cpuUsage()
  const started = now()
  const postTimes = await postMessages(target, total, { rate, concurrency })
  const expectedOf = listeners.map((l) => l.rooms * messagesPerRoom)
  const expected = expectedOf.reduce((s, e) => s + e, 0)
  // Done when everything arrived, or when nothing more arrived for five seconds.
  let seen = -1
  let quietSince = now()
  while (streams.delivered < expected && now() - quietSince < 5000) {
    if (streams.delivered !== seen) [seen, quietSince] = [streams.delivered, now()]
    await sleep(20)
  }
  const after = target.pids.map(sample)
  const { user, system } = process.cpuUsage(harness)
  const harnessCpuShare = round((user + system) / 1000 / (now() - started), 2)
  streams.close()

  const cpu = before.map((b, i) => cpuBetween(b, after[i]!))
  const cpuTotal = cpu.reduce((s, c) => s + c.total, 0)
  const cpuSystem = cpu.reduce((s, c) => s + c.system, 0)
  const wall = (streams.lastDelivery - started) / 1000
  const delivered = streams.delivered
  return {
    streams: listeners.length,
    messages: total,
    expected,
    delivered,
    lost: streams.counts.reduce((s, c, k) => s + Math.max(0, expectedOf[k]! - c), 0),
    duplicated: streams.counts.reduce((s, c, k) => s + Math.max(0, c - expectedOf[k]!), 0),
    outOfOrderStreams: streams.orderViolations,
    ...(readying ? { notReady } : {}),
    wallSeconds: round(wall, 3),
    deliveriesPerSecond: Math.round(delivered / wall),
    latencyMs: latencySummary(streams.latencies),
    postMs: latencySummary(postTimes),
    serverCpuSeconds: round(cpuTotal, 2),
    serverCpuSystemShare: round(cpuTotal ? cpuSystem / cpuTotal : 0, 2),
    serverCpuMicrosPerDelivery: round((cpuTotal * 1e6) / Math.max(1, delivered), 2),
    // socket writes (and the few to PostgreSQL, Redis and the log) per delivery: how well frames coalesce
    serverWritesPerDelivery: round(
      before.reduce((s, b, i) => s + after[i]!.writes - b.writes, 0) / Math.max(1, delivered),
      3
    ),
    serverPeakRssMiB: round(Math.max(...after.map((a) => a.peakRss)) / 2 ** 20, 1),
    harnessCpuShare
  }
}

/**
 * Open streams that carry nothing but heartbeats: the server's RSS growth per stream 2 s after they are open
 * (and, for user streams, `ready`), and again once the first heartbeat has reached every stream.
 */
export async function idleMemory(pid: number, targets: StreamTarget[]) {
  await collectGarbage(pid)
  const before = sample(pid)
  const readying = targets.filter((t) => t.sendsReady).length
  const streams = await openStreams(targets, readying ? { parseAll: true } : { sampleEvery: Infinity })
  if (readying) await until(() => streams.ready >= readying, 60_000)
  await sleep(2000)
  const open = sample(pid)
  // Heartbeats come every 15 s: wait for one on every stream.
  const deadline = now() + 20_000
  while (streams.pings.some((p) => p === 0) && now() < deadline) await sleep(250)
  const withHeartbeat = streams.pings.filter((p) => p > 0).length
  const settled = sample(pid)
  await collectGarbage(pid)
  const collected = sample(pid)
  streams.close()
  const perStream = (rss: number) => round((rss - before.rss) / 1024 / targets.length, 2)
  return {
    streams: targets.length,
    ...(readying ? { streamsReady: streams.ready } : {}),
    rssBeforeMiB: round(before.rss / 2 ** 20),
    rssOpenMiB: round(open.rss / 2 ** 20),
    kibPerStream: perStream(open.rss),
    // after the first heartbeat has gone to every stream (and the garbage of opening them has had time to go)
    kibPerStreamAfterHeartbeat: perStream(settled.rss),
    // then after full collections, before and after alike: what the streams themselves keep
    kibPerStreamAfterGc: perStream(collected.rss),
    streamsWithHeartbeat: withHeartbeat
  }
}
