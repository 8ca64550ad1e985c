// The user stream (`GET /events`: every room of its user on one connection, resumable from a cursor), measured
// as the room-stream modes are: the same fan-out run and idle-memory method, beside the floor given the same
// connections, subscriptions and messages. Every user stream is parsed: each room's events must arrive once and
// in seq order, and `ready` must say where the stream's own frames left each room.
import postgres from 'postgres'
import { latencySummary, now, round, sleep, until } from './http.ts'
import type { BenchDatabase, Node } from './nodes.ts'
import { cpuBetween, sample } from './proc.ts'
import {
  compared,
  createRooms,
  createRoomsOf,
  fanout,
  idleMemory,
  joinRooms,
  memberships,
  postMessages,
  signUp,
  size,
  withChat,
  withFloor,
  type Listener,
  type ModeResult,
  type Target
} from './run.ts'
import { floorSocket, floorUserStream, openStreams, userStream, wsStream, type StreamTarget } from './subscribers.ts'

// As in the room modes, a sample of the streams (one in 20) is parsed for order and duplicates and the rest
// count their events on the raw bytes: parsing all 2,000 saturated the harness's core, which then measured
// itself. BENCH_STRICT=1 parses every stream.
const strict = process.env.BENCH_STRICT === '1'

const deployment = (node: Node, rooms: string[], tokens: string[]): Target => ({
  streamPort: node.port,
  postPort: node.port,
  pids: [node.pid],
  rooms,
  tokens
})

/** A room owner with no stream of its own, and `users` members with rooms `of[u]`; their tokens and the rooms. */
async function members(node: Node, rooms: number, of: number[][]) {
  const [owner, ...tokens] = await signUp(node.port, of.length + 1)
  const roomIds = await createRoomsOf(node.port, owner!, rooms)
  await joinRooms(node.port, tokens, roomIds, of)
  return { owner: owner!, tokens, roomIds }
}

/** The floor's stand-in for each user's stream: one connection on the same rooms (floor.ts, GET /events). */
const floorListeners = (target: Target, of: number[][]): Listener[] =>
  of.map((rooms) => ({
    stream: floorUserStream(
      target.streamPort,
      rooms.map((r) => target.rooms[r]!)
    ),
    rooms: rooms.length
  }))

/** The bench database's transaction and row counters (PostgreSQL's, for every connection to it). */
async function databaseCounters(sql: postgres.Sql) {
  const [row] = await sql<Array<Record<string, string>>>`
    select xact_commit, xact_rollback, tup_returned, tup_fetched
    from pg_stat_database where datname = current_database()`
  return {
    transactions: Number(row!.xact_commit) + Number(row!.xact_rollback),
    rowsReturned: Number(row!.tup_returned),
    rowsFetched: Number(row!.tup_fetched)
  }
}
type Counters = Awaited<ReturnType<typeof databaseCounters>>

// A backend reports its counters once idle, at most once a second: read them only after the load has been idle
// this long.
const COUNTERS_SETTLE_MS = 2000

/** The counters' growth per stream between two readings (which include one reading query of this harness). */
function perStream(before: Counters, after: Counters, streams: number) {
  return {
    transactionsPerStream: round((after.transactions - before.transactions) / streams, 2),
    rowsFetchedPerStream: round((after.rowsFetched - before.rowsFetched) / streams, 1),
    rowsReturnedPerStream: round((after.rowsReturned - before.rowsReturned) / streams, 1)
  }
}

/**
 * Resumption: `streams` user streams open and `ready`, all cut at once, `missed` posts in each room, then every
 * stream reconnected at once with its last cursor as Last-Event-ID. Each must replay exactly its rooms' missed
 * events, in order, then `ready`.
 */
async function resume(node: Node, database: BenchDatabase, rooms: number, of: number[][], missed: number) {
  const port = node.port
  const n = of.length
  const { owner, tokens, roomIds } = await members(node, rooms, of)
  const sql = postgres(database.url, { max: 1, onnotice: () => {} })
  try {
    await sleep(COUNTERS_SETTLE_MS)
    const beforeFresh = await databaseCounters(sql)
    const first = await openStreams(
      tokens.map((token) => userStream(port, token)),
      { parseAll: true }
    )
    if (!(await until(() => first.ready === n, 60_000))) throw new Error(`${n - first.ready} streams never ready`)
    const cursors = [...first.lastIds]
    const from = first.positions.map((seqs) => new Map(seqs))
    const freshViolations = first.orderViolations
    first.close()
    await sleep(COUNTERS_SETTLE_MS)
    const afterFresh = await databaseCounters(sql)

    // Posted by the owner (a member of every room, with no stream) while every stream is away.
    await postMessages({ postPort: port, rooms: roomIds, tokens: [owner] }, rooms * missed, {
      concurrency: size('POST_CONCURRENCY', 32),
      text: (i) => `missed ${i}`
    })
    const expectedOf = of.map((r) => r.length * missed)
    const expected = expectedOf.reduce((s, e) => s + e, 0)
    await sleep(COUNTERS_SETTLE_MS)

    const before = await databaseCounters(sql)
    const cpuBefore = sample(node.pid)
    const harness = process.cpuUsage()
    const started = now()
    const second = await openStreams(
      tokens.map((token, u) => userStream(port, token, cursors[u])),
      { parseAll: true, batch: n, from }
    )
    // Done when every stream is ready with everything, or when nothing more arrived for five seconds.
    let seen = -1
    let quietSince = now()
    while ((second.ready < n || second.delivered < expected) && now() - quietSince < 5000) {
      if (second.delivered + second.ready !== seen) [seen, quietSince] = [second.delivered + second.ready, now()]
      await sleep(20)
    }
    const cpuAfter = sample(node.pid)
    const cpu = cpuBetween(cpuBefore, cpuAfter).total
    const { user, system } = process.cpuUsage(harness)
    const harnessCpuShare = round((user + system) / 1000 / (now() - started), 2)
    await sleep(COUNTERS_SETTLE_MS)
    const after = await databaseCounters(sql)
    second.close()

    const readyMs = second.readyAt.filter((t) => t > 0).map((t) => t - started)
    const allReadyMs = Math.max(0, ...readyMs)
    const replayed = second.delivered
    return {
      streams: n,
      roomsPerStream: round(expected / missed / n, 1),
      missedPerStream: round(expected / n, 1),
      expected,
      delivered: replayed,
      lost: second.counts.reduce((s, c, k) => s + Math.max(0, expectedOf[k]! - c), 0),
      duplicated: second.counts.reduce((s, c, k) => s + Math.max(0, c - expectedOf[k]!), 0),
      outOfOrderStreams: second.orderViolations + freshViolations,
      notReady: n - second.ready,
      /** streams whose `ready` came before all their missed events */
      readyEarly: second.countsAtReady.filter((c, k) => second.readyAt[k]! > 0 && c < expectedOf[k]!).length,
      resets: second.resets + first.resets,
      secondsToAllReady: round(allReadyMs / 1000, 3),
      secondsToLastEvent: round(Math.max(0, second.lastDelivery - started) / 1000, 3),
      readyMs: latencySummary(readyMs),
      /** from the burst's start to each response head */
      connectMs: latencySummary(second.headMs),
      replayedEventsPerSecond: Math.round(replayed / (allReadyMs / 1000)),
      serverCpuSeconds: round(cpu, 2),
      serverCpuMicrosPerReplayedEvent: round((cpu * 1e6) / Math.max(1, replayed), 2),
      serverCpuMsPerResumedStream: round((cpu * 1e3) / n, 2),
      serverPeakRssMiB: round(cpuAfter.peakRss / 2 ** 20, 1),
      /** the share of one core this harness used meanwhile: near 1, reading the replays limited the figures */
      harnessCpuShare,
      database: perStream(before, after, n),
      /** the same counters for the first, fresh (no cursor) opening of the streams, for comparison */
      databaseFresh: perStream(beforeFresh, afterFresh, n)
    }
  } finally {
    await sql.end()
  }
}

/** 1 room, every member on one user connection each, posts as fast as four posters go; the floor: plain fan-out. */
export async function userFanout(mode: string, connection: (port: number, token: string) => StreamTarget) {
  const users = size('USERS', 2000)
  const messages = size('MESSAGES', 200)
  const concurrency = 4
  const opts = { messagesPerRoom: messages, concurrency, strict }
  const chat = await withChat(1, async ([node]) => {
    const tokens = await signUp(node!.port, users)
    const rooms = await createRooms(node!.port, tokens, 1)
    const listeners = tokens.map((token) => ({ stream: connection(node!.port, token), rooms: 1 }))
    return fanout({ ...deployment(node!, rooms, tokens.slice(0, concurrency)), listeners }, opts)
  })
  // The same number of streams on the floor's one room, each parsed as the user connections are.
  const floor = await withFloor(1, (target) => fanout(target, { ...opts, streamsPerRoom: users }))
  const kind = mode === 'ws-fanout' ? 'WebSockets' : 'user streams'
  return compared(mode, `1 room × ${users} ${kind} × ${messages} msgs, ${concurrency} posters`, chat, floor)
}

export const userModes: Record<string, () => Promise<ModeResult>> = {
  /** 1 room, every member on one user stream each, posts as fast as four posters go; the floor: plain fan-out. */
  'user-fanout': async () => userFanout('user-fanout', userStream),

  /** The user-fanout shape over WebSocket (`GET /ws`), the floor measured in the same run. */
  'ws-fanout': async () => userFanout('ws-fanout', wsStream),

  /**
   * Many rooms, each user on one stream for all of theirs: `users` × `perUser` memberships spread evenly over the
   * rooms, `posts` per room from one of its members. The floor holds the same connections on the same rooms
   * (floor.ts, GET /events?rooms=…) and gets the same posts: the same deliveries, one write each.
   */
  'user-rooms': async () => {
    const users = size('USERS', 1000)
    const rooms = size('ROOMS', 200)
    const perUser = size('ROOMS_PER_USER', Math.min(20, Math.max(1, Math.floor(rooms / 2))))
    const posts = size('ROOM_POSTS', 20)
    const concurrency = size('POST_CONCURRENCY', 32)
    const of = memberships(users, rooms, perUser)
    const opts = { messagesPerRoom: posts, concurrency, strict }
    const chat = await withChat(1, async ([node]) => {
      const { owner, tokens, roomIds } = await members(node!, rooms, of)
      const memberOf = roomIds.map(() => owner)
      of.forEach((rs, u) => rs.forEach((r) => (memberOf[r] = tokens[u]!)))
      const listeners = tokens.map((token, u) => ({ stream: userStream(node!.port, token), rooms: of[u]!.length }))
      return fanout({ ...deployment(node!, roomIds, [owner]), posters: memberOf, listeners }, opts)
    })
    const floor = await withFloor(rooms, (target) => fanout({ ...target, listeners: floorListeners(target, of) }, opts))
    const shape = `${users} user streams × ${perUser} of ${rooms} rooms × ${posts} msgs a room, ${concurrency} posters`
    return compared('user-rooms', shape, chat, floor)
  },

  /** Reconnection of every stream at once after a cut, from each one's last cursor. No floor: it cannot resume. */
  resume: async () => {
    const streams = size('STREAMS', 1000)
    const rooms = size('RESUME_ROOMS', 50)
    const perStream = size('RESUME_ROOMS_PER_STREAM', Math.min(5, rooms))
    const missed = size('MISSED', 100)
    const chat = await withChat(1, ([node], database) =>
      resume(node!, database, rooms, memberships(streams, rooms, perStream), missed)
    )
    const shape = `${streams} user streams × ${perStream} of ${rooms} rooms, ${missed} missed msgs a room`
    return { mode: 'resume', shape, chat }
  },

  /** Idle user streams: memory per stream, as `idle` measures room streams; the floor on the same rooms. */
  'idle-user': async () => {
    const { count, users, rooms, perUser, of } = idleShape()
    const chat = await withChat(1, async ([node]) => {
      const { tokens } = await members(node!, rooms, of)
      const streams = Array.from({ length: count }, (_, k) => userStream(node!.port, tokens[k % users]!))
      return idleMemory(node!.pid, streams)
    })
    const floor = await withFloor(rooms, (target) => {
      const listeners = floorListeners(target, of)
      return idleMemory(
        target.pids[0]!,
        Array.from({ length: count }, (_, k) => listeners[k % users]!.stream)
      )
    })
    const shape = `${count} idle user streams (${users} users, each in ${perUser} of ${rooms} rooms)`
    return { mode: 'idle-user', shape, chat, floor }
  },

  /**
   * Idle WebSockets (`GET /ws`), the users and rooms of `idle-user`: memory per socket. The floor is a bare
   * upgraded socket (floor.ts, GET /ws), pinged and nothing more.
   */
  'idle-ws': async () => {
    const { count, users, rooms, perUser, of } = idleShape()
    const chat = await withChat(1, async ([node]) => {
      const { tokens } = await members(node!, rooms, of)
      const sockets = Array.from({ length: count }, (_, k) => wsStream(node!.port, tokens[k % users]!))
      return idleMemory(node!.pid, sockets)
    })
    const floor = await withFloor(rooms, (target) =>
      idleMemory(
        target.pids[0]!,
        Array.from({ length: count }, () => floorSocket(target.streamPort))
      )
    )
    const shape = `${count} idle WebSockets (${users} users, each in ${perUser} of ${rooms} rooms)`
    return { mode: 'idle-ws', shape, chat, floor }
  }
}

/** The idle user modes' size: IDLE_STREAMS connections over IDLE_USERS users in 100 rooms. */
function idleShape() {
  const count = size('IDLE_STREAMS', 10_000)
  const users = Math.min(size('IDLE_USERS', 100), count)
  const rooms = 100
  const perUser = size('IDLE_ROOMS_PER_USER', 10)
  return { count, users, rooms, perUser, of: memberships(users, rooms, perUser) }
}
