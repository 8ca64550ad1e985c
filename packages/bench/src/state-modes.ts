// What a chat client shows beside the messages, under load. `rooms-mine`: GET /rooms?mine=true for a user in
// many rooms, each with unread messages (their unread counts are part of every item), beside the same request for
// a user in one room: latency and the database's transactions per request, which must not grow with the rooms.
// `typing-storm`: every member of one big room typing every second while messages are posted at a steady rate;
// the messages' delivery latency beside the same run without typing.
import postgres from 'postgres'
import { expect, latencySummary, now, request, round, sleep } from './http.ts'
import type { BenchDatabase, Node } from './nodes.ts'
import { cpuBetween, sample } from './proc.ts'
import { createRooms, createRoomsOf, fanout, joinRooms, signUp, size, withChat, type ModeResult } from './run.ts'
import { userStream } from './subscribers.ts'

// A backend reports its counters once idle, at most once a second.
const COUNTERS_SETTLE_MS = 2000

async function transactions(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<Array<{ n: string }>>`
    select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`
  return Number(row!.n)
}

/** `concurrency` clients sending GET `path` back to back for `seconds`: latencies, failures, CPU, transactions. */
async function getLoop(node: Node, database: BenchDatabase, path: string, token: string, seconds: number) {
  const concurrency = size('GET_CONCURRENCY', 8)
  const sql = postgres(database.url, { max: 1, onnotice: () => {} })
  try {
    await sleep(COUNTERS_SETTLE_MS)
    const before = await transactions(sql)
    const cpuBefore = sample(node.pid)
    const latencies: number[] = []
    let failed = 0
    const end = now() + seconds * 1000
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (now() < end) {
          const t = now()
          const res = await request(node.port, 'GET', path, undefined, token)
          if (res.status === 200) latencies.push(now() - t)
          else failed++
        }
      })
    )
    const cpu = cpuBetween(cpuBefore, sample(node.pid)).total
    await sleep(COUNTERS_SETTLE_MS)
    // The reading queries of this harness (two) are not the server's.
    const spent = (await transactions(sql)) - before - 2
    const requests = latencies.length + failed
    return {
      requests,
      failed,
      requestsPerSecond: Math.round(requests / seconds),
      latencyMs: latencySummary(latencies),
      transactionsPerRequest: round(spent / Math.max(1, requests), 2),
      serverCpuMicrosPerRequest: round((cpu * 1e6) / Math.max(1, requests), 1)
    }
  } finally {
    await sql.end()
  }
}

async function roomsMine(): Promise<ModeResult> {
  const rooms = size('MINE_ROOMS', 100)
  const unread = size('MINE_UNREAD', 5)
  const seconds = size('MINE_SECONDS', 10)
  const chat = await withChat(1, async ([node], database) => {
    const [owner, reader, single] = await signUp(node!.port, 3)
    const roomIds = await createRoomsOf(node!.port, owner!, rooms)
    await joinRooms(node!.port, [reader!, single!], roomIds, [roomIds.map((_, r) => r), [0]])
    // Every room gets `unread` messages from the owner after the reader joined: all unread for the reader.
    for (let m = 0; m < unread; m++) {
      await Promise.all(
        roomIds.map((roomId) =>
          expect(201, request(node!.port, 'POST', '/rooms/message', { roomId, text: `m${m}` }, owner))
        )
      )
    }
    const check = await request(node!.port, 'GET', `/rooms?mine=true&limit=${Math.min(100, rooms)}`, undefined, reader)
    const items = (check.json as { items: Array<{ unreadCount: number }> }).items
    const wrong = items.filter((r) => r.unreadCount !== unread).length
    const path = `/rooms?mine=true&limit=${Math.min(100, rooms)}`
    return {
      roomsListed: items.length,
      wrongUnreadCounts: wrong,
      many: await getLoop(node!, database, path, reader!, seconds),
      one: await getLoop(node!, database, path, single!, seconds)
    }
  })
  return { mode: 'rooms-mine', shape: `GET /rooms?mine=true: ${rooms} rooms × ${unread} unread, vs 1 room`, chat }
}

/** One room of `users` members on user streams; messages paced at `rate`; with `typing`, every member types. */
async function storm(users: number, messages: number, rate: number, typing: boolean) {
  return withChat(1, async ([node]) => {
    const tokens = await signUp(node!.port, users)
    const [roomId] = await createRooms(node!.port, tokens, 1)
    const listeners = tokens.map((token) => ({ stream: userStream(node!.port, token), rooms: 1 }))
    let typingRequests = 0
    let typingFailed = 0
    let storming = typing
    // Each member says "typing" once a second, the members spread evenly over the second.
    const typers = typing
      ? tokens.map(async (token, u) => {
          await sleep((u * 1000) / users)
          while (storming) {
            const next = now() + 1000
            const res = await request(node!.port, 'POST', '/rooms/typing', { roomId }, token)
            typingRequests++
            if (res.status !== 204) typingFailed++
            await sleep(Math.max(0, next - now()))
          }
        })
      : []
    if (typing) await sleep(2000)
    const cpuBefore = sample(node!.pid)
    const result = await fanout(
      {
        streamPort: node!.port,
        postPort: node!.port,
        pids: [node!.pid],
        rooms: [roomId!],
        tokens: [tokens[0]!],
        listeners
      },
      { messagesPerRoom: messages, rate }
    )
    const cpu = cpuBetween(cpuBefore, sample(node!.pid)).total
    storming = false
    await Promise.all(typers)
    // The server's CPU over the whole fan-out run, typing included (fanout's own figure counts the same span).
    return { ...result, typingRequests, typingFailed, serverCpuSecondsOfRun: round(cpu, 2) }
  })
}

async function typingStorm(): Promise<ModeResult> {
  const users = size('STORM_USERS', 1000)
  const rate = size('STORM_RATE', 20)
  const seconds = size('STORM_SECONDS', 10)
  const messages = rate * seconds
  const withTyping = await storm(users, messages, rate, true)
  const withoutTyping = await storm(users, messages, rate, false)
  return {
    mode: 'typing-storm',
    shape: `1 room × ${users} user streams, each member typing every second, ${rate} msg/s for ${seconds} s`,
    chat: {
      withTyping,
      withoutTyping,
      /** message delivery p99 with the storm ÷ without it */
      latencyP99Ratio: round(withTyping.latencyMs.p99 / Math.max(0.001, withoutTyping.latencyMs.p99), 2)
    }
  }
}

export const stateModes: Record<string, () => Promise<ModeResult>> = {
  'rooms-mine': roomsMine,
  'typing-storm': typingStorm
}
