// The two halves of a measurement shared by every mode: a chat deployment set up through the real API (users,
// rooms, tokens) or the floor standing in for it, and a fan-out run (open streams, post, wait, tally).
import { randomBytes } from 'node:crypto'
import { expect, latencySummary, now, request, round, sleep } from './http.ts'
import { cpuBetween, sample } from './proc.ts'
import { openStreams, type StreamTarget } from './subscribers.ts'

export interface Target {
  /** where streams are opened and where posts go (the same node unless cross-node) */
  streamPort: number
  postPort: number
  /** processes whose CPU and memory count as the server's */
  pids: number[]
  rooms: string[]
  /** a token per poster (the floor ignores them) */
  tokens: string[]
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
  const rooms: string[] = []
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) =>
      expect(201, request(port, 'POST', '/rooms/create', { name: `bench ${i + k}` }, owner)).then((r) => String(r.id))
    )
    rooms.push(...(await Promise.all(batch)))
  }
  for (const token of others)
    for (const roomId of rooms) await expect(200, request(port, 'POST', '/rooms/join', { roomId }, token))
  return rooms
}

export function floorTarget(port: number, pid: number, rooms: number): Target {
  const ids = Array.from({ length: rooms }, (_, i) => `floor-room-${i}`)
  return { streamPort: port, postPort: port, pids: [pid], rooms: ids, tokens: [''] }
}

export interface FanoutOptions {
  streamsPerRoom: number
  messagesPerRoom: number
  /** messages per second across all rooms; unpaced (as fast as `concurrency` posters go) when absent */
  rate?: number
  concurrency?: number
  /** parse every stream (order and duplicate checks on all), not a sample */
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
  wallSeconds: number
  deliveriesPerSecond: number
  latencyMs: ReturnType<typeof latencySummary>
  /** how long POST /rooms/message took, request to response */
  postMs: ReturnType<typeof latencySummary>
  serverCpuSeconds: number
  serverCpuSystemShare: number
  serverCpuMicrosPerDelivery: number
  serverPeakRssMiB: number
}

export async function fanout(target: Target, opts: FanoutOptions): Promise<FanoutResult> {
  const { streamsPerRoom, messagesPerRoom, rate, concurrency = 4, strict = false } = opts
  const streamTargets: StreamTarget[] = target.rooms.flatMap((roomId) =>
    Array.from({ length: streamsPerRoom }, () => ({ port: target.streamPort, roomId, token: target.tokens[0]! }))
  )
  const streams = await openStreams(streamTargets, { parseAll: strict })
  await sleep(500)

  const total = target.rooms.length * messagesPerRoom
  const postTimes: number[] = []
  const post = async (i: number) => {
    const roomId = target.rooms[i % target.rooms.length]!
    const token = target.tokens[i % target.tokens.length]!
    const sent = now()
    const res = await request(target.postPort, 'POST', '/rooms/message', { roomId, text: `t=${sent}` }, token)
    if (res.status !== 201) throw new Error(`post: HTTP ${res.status} ${JSON.stringify(res.json)}`)
    postTimes.push(now() - sent)
  }
  const before = target.pids.map(sample)
  const started = now()
  if (rate) {
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
  const expected = streamTargets.length * messagesPerRoom
  // Done when everything arrived, or when nothing more arrived for five seconds.
  let seen = -1
  let quietSince = now()
  while (streams.delivered < expected && now() - quietSince < 5000) {
    if (streams.delivered !== seen) [seen, quietSince] = [streams.delivered, now()]
    await sleep(20)
  }
  const after = target.pids.map(sample)
  streams.close()

  const cpu = before.map((b, i) => cpuBetween(b, after[i]!))
  const cpuTotal = cpu.reduce((s, c) => s + c.total, 0)
  const cpuSystem = cpu.reduce((s, c) => s + c.system, 0)
  const wall = (streams.lastDelivery - started) / 1000
  const delivered = streams.delivered
  return {
    streams: streamTargets.length,
    messages: total,
    expected,
    delivered,
    lost: streams.counts.reduce((s, c) => s + Math.max(0, messagesPerRoom - c), 0),
    duplicated: streams.counts.reduce((s, c) => s + Math.max(0, c - messagesPerRoom), 0),
    outOfOrderStreams: streams.orderViolations,
    wallSeconds: round(wall, 3),
    deliveriesPerSecond: Math.round(delivered / wall),
    latencyMs: latencySummary(streams.latencies),
    postMs: latencySummary(postTimes),
    serverCpuSeconds: round(cpuTotal, 2),
    serverCpuSystemShare: round(cpuTotal ? cpuSystem / cpuTotal : 0, 2),
    serverCpuMicrosPerDelivery: round((cpuTotal * 1e6) / Math.max(1, delivered), 2),
    serverPeakRssMiB: round(Math.max(...after.map((a) => a.peakRss)) / 2 ** 20, 1)
  }
}
