// Each mode measures the chat API and, where the comparison means something, the floor with the same streams
// and messages. Sizes come from the environment so a smoke run and a full run share the code. These are the room
// stream's modes and the request modes; the user stream's (GET /events) are in user-modes.ts.
import { Chatter, postMix } from './chatter.ts'
import { expect, latencySummary, now, request, round, sleep } from './http.ts'
import { closedLoop } from './loop.ts'
import {
  compared,
  createRooms,
  fanout,
  idleMemory,
  signUp,
  size,
  withChat,
  withFloor,
  type FanoutOptions,
  type ModeResult,
  type Target
} from './run.ts'
import { roomStream } from './subscribers.ts'
import { writeFloor } from './write-floor.ts'
import { stateModes } from './state-modes.ts'
import { userModes } from './user-modes.ts'
import { busModes } from './bus-modes.ts'

export type { ModeResult }

/** The bench nodes' MAX_STREAMS_PER_USER (nodes.ts): more idle streams than this need more users. */
const IDLE_STREAMS_PER_USER = 10_000

async function chatFanout(nodes: 1 | 2, rooms: number, users: number, opts: FanoutOptions) {
  return withChat(nodes, async ([streamNode, postNode = streamNode]) => {
    const tokens = await signUp(streamNode!.port, users)
    const roomIds = await createRooms(streamNode!.port, tokens, rooms)
    const target: Target = {
      streamPort: streamNode!.port,
      postPort: postNode!.port,
      pids: [...new Set([streamNode!.pid, postNode!.pid])],
      rooms: roomIds,
      tokens
    }
    return fanout(target, opts)
  })
}

async function fanoutMode(
  mode: string,
  {
    nodes,
    rooms,
    streams,
    messages,
    rate,
    strict,
    floor = true,
    concurrency = 4
  }: {
    nodes: 1 | 2
    rooms: number
    streams: number
    messages: number
    rate?: number
    strict?: boolean
    floor?: boolean
    /** unpaced posters in flight */
    concurrency?: number
  }
): Promise<ModeResult> {
  const opts: FanoutOptions = { streamsPerRoom: streams, messagesPerRoom: messages, rate, strict, concurrency }
  const chat = await chatFanout(nodes, rooms, 1, opts)
  const base = floor ? await withFloor(rooms, (t) => fanout(t, opts)) : undefined
  const pace = rate ? `, ${rate} msg/s` : `, ${concurrency} posters`
  return compared(mode, `${rooms} room × ${streams} streams × ${messages} msgs${pace}`, chat, base)
}

export const modes: Record<string, () => Promise<ModeResult>> = {
  /** 1 room, many streams, posts as fast as four posters go. */
  fanout: () =>
    fanoutMode('fanout', {
      nodes: 1,
      rooms: 1,
      streams: size('FANOUT_STREAMS', 2000),
      messages: size('MESSAGES', 200)
    }),

  /** The same room on one node, for comparison with cross-node at the same size. */
  'fanout-1k': () =>
    fanoutMode('fanout-1k', { nodes: 1, rooms: 1, streams: size('STREAMS', 1000), messages: size('MESSAGES', 200) }),

  /** Streams on one node, posts on another: every event crosses Redis. */
  'cross-node': () =>
    fanoutMode('cross-node', { nodes: 2, rooms: 1, streams: size('STREAMS', 1000), messages: size('MESSAGES', 200) }),

  /** Many small rooms, with as many posters in flight as the post mode (many rooms have many writers). */
  rooms: () =>
    fanoutMode('rooms', {
      nodes: 1,
      rooms: size('ROOMS', 500),
      streams: size('ROOM_STREAMS', 4),
      messages: size('ROOM_MESSAGES', 20),
      concurrency: size('POST_CONCURRENCY', 32)
    }),

  /** Paced posts: the latency a user sees when the server is not saturated. */
  latency: () =>
    fanoutMode('latency', {
      nodes: 1,
      rooms: 1,
      streams: size('STREAMS', 1000),
      messages: size('LATENCY_MESSAGES', 200),
      rate: size('RATE', 20)
    }),

  'latency-cross': () =>
    fanoutMode('latency-cross', {
      nodes: 2,
      rooms: 1,
      streams: size('STREAMS', 1000),
      messages: size('LATENCY_MESSAGES', 200),
      rate: size('RATE', 20),
      floor: false
    }),

  /** CI's smoke: small, every stream parsed; fails on a lost, repeated or reordered event only. */
  smoke: async () => {
    const streams = size('SMOKE_STREAMS', 200)
    const messages = size('SMOKE_MESSAGES', 50)
    const one = await fanoutMode('smoke', { nodes: 1, rooms: 1, streams, messages, strict: true, floor: false })
    const cross = await chatFanout(2, 1, 1, { streamsPerRoom: streams, messagesPerRoom: messages, strict: true })
    return { ...one, chat: { ...one.chat, crossNode: cross } }
  },

  /**
   * Open streams that carry nothing but heartbeats: memory per stream. Streams are spread over as few users as
   * MAX_STREAMS_PER_USER (at most 10,000) allows, each a member of every room.
   */
  idle: async () => {
    const count = size('IDLE_STREAMS', 10_000)
    const rooms = 100
    const perRoom = Math.ceil(count / rooms)
    const users = Math.ceil(count / IDLE_STREAMS_PER_USER)
    const streams = (target: Target) =>
      target.rooms.flatMap((roomId, r) =>
        Array.from({ length: perRoom }, (_, k) =>
          roomStream(target.streamPort, roomId, target.tokens[(r * perRoom + k) % target.tokens.length]!)
        )
      )
    const chat = await withChat(1, async ([node]) => {
      const tokens = await signUp(node!.port, users)
      const roomIds = await createRooms(node!.port, tokens, rooms)
      const target = { streamPort: node!.port, postPort: node!.port, pids: [node!.pid], rooms: roomIds, tokens }
      return idleMemory(node!.pid, streams(target))
    })
    const floor = await withFloor(rooms, (target) => idleMemory(target.pids[0]!, streams(target)))
    return { mode: 'idle', shape: `${count} idle streams over ${rooms} rooms`, chat, floor }
  },

  /**
   * POST /rooms/message with persistence, spread over many rooms, closed loop at a fixed concurrency; then, on
   * the same node, a mix of posts, edits of one's own posts and reactions (`chatMixed`); then the write floor
   * (write-floor.ts) on the same database and rooms at the same concurrency, the node idle; then the same posts
   * to the bare node:http floor (no database).
   */
  post: async () => {
    const rooms = size('POST_ROOMS', 100)
    const concurrency = size('POST_CONCURRENCY', 32)
    const seconds = size('POST_SECONDS', 10)
    const mix = postMix(size('POST_EDIT_SHARE', 0.2), size('POST_REACT_SHARE', 0.2))
    const shape = `${rooms} rooms, ${concurrency} in flight, ${seconds} s`
    return withChat(1, async ([node], database) => {
      const tokens = await signUp(node!.port, 10)
      const roomIds = await createRooms(node!.port, tokens, rooms)
      const chatter = new Chatter(roomIds, tokens, mix)
      // The pure posts also seed what the mixed phase edits and reacts to.
      const { kinds: _, ...chat } = await closedLoop(node!, concurrency, seconds, (i) => chatter.post(i))
      const chatMixed =
        mix.post === 1
          ? undefined
          : { mix, ...(await closedLoop(node!, concurrency, seconds, (i) => chatter.mixed(i))) }
      const floor = await writeFloor(database.url, roomIds, concurrency, seconds)
      // The same posts from the same load to the bare node:http floor, which stores nothing: what HTTP and this
      // load cost by themselves on this machine, the most the node could answer with no database at all.
      const { kinds: __, ...httpFloor } = await withFloor(rooms, (target) =>
        closedLoop({ port: target.postPort, pid: target.pids[0]! }, concurrency, seconds, (i) => chatter.post(i))
      )
      const ratio = (rps: number) => round(rps / floor.requestsPerSecond, 2)
      const writeRatio = {
        post: ratio(chat.requestsPerSecond),
        ...(chatMixed ? { mixed: ratio(chatMixed.requestsPerSecond) } : {}),
        httpFloor: ratio(httpFloor.requestsPerSecond),
        postOfHttpFloor: round(chat.requestsPerSecond / httpFloor.requestsPerSecond, 2)
      }
      const mixed = chatMixed ? { chatMixed } : {}
      return { mode: 'post', shape, chat, ...mixed, floor: { ...floor }, httpFloor: { ...httpFloor }, writeRatio }
    })
  },

  /** Logins cost argon2id: 50 at once, while another client measures how long /healthz waits meanwhile. */
  login: async () => {
    const concurrent = size('CONCURRENT_LOGINS', 50)
    const chat = await withChat(1, async ([node]) => {
      const port = node!.port
      const username = `login_${Date.now().toString(36)}`
      const password = 'bench password 123'
      await expect(201, request(port, 'POST', '/users', { username, password }))
      const login = async () => {
        const t = now()
        await expect(200, request(port, 'POST', '/auth/login', { username, password }))
        return now() - t
      }
      const sequential: number[] = []
      for (let i = 0; i < 20; i++) sequential.push(await login())
      let flooding = true
      const pings: number[] = []
      const pinger = (async () => {
        while (flooding) {
          const t = now()
          await request(port, 'GET', '/healthz')
          pings.push(now() - t)
          await sleep(5)
        }
      })()
      const flood = await Promise.all(Array.from({ length: concurrent }, login))
      flooding = false
      await pinger
      return {
        loginMs: latencySummary(sequential),
        concurrentLoginsMs: latencySummary(flood),
        healthzDuringLoginsMs: latencySummary(pings)
      }
    })
    return { mode: 'login', shape: `${concurrent} concurrent logins`, chat }
  },

  ...userModes,
  ...stateModes
}
Object.assign(modes, busModes(modes['cross-node']!))
