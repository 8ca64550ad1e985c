// What every cluster test needs: a fresh PostgreSQL database and a cluster of its own (startCluster, the same
// code `pnpm cluster` runs) on ports the file chooses, an HTTP client for the API, and users in a room. All of
// it is released when the test ends; a failed test keeps its state directory (node and nginx logs) to read.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import postgres from 'postgres'
import { openStream, type SseClient, until as poll } from '@chat/testkit'
import { startCluster, type Cluster, type ClusterOptions } from '../cluster/cluster.ts'

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it is true; rejects naming `what` after `ms` (a cluster takes longer to settle). */
export const until = (check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> =>
  poll(check, what, ms)

/** A new empty database on the test server, dropped when the test ends. */
export async function freshDatabase(t: Test): Promise<string> {
  const name = `chat_cluster_test_${randomBytes(5).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database "${name}"`)
  await admin.end()
  t.teardown(async () => {
    const dropper = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    await dropper.unsafe(`drop database if exists "${name}" with (force)`)
    await dropper.end()
  })
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

// A test process killed by a signal (tap's timeout sends SIGTERM) would skip its teardowns and leave its
// cluster running on its ports; exiting instead runs startCluster's exit hook, which signals every child.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping the test cluster's processes\n`)
    process.exit(1)
  })
}

/** A cluster on a fresh database, generous limits so the tests' own load is never rate limited. */
export async function testCluster(
  t: Test,
  opts: Pick<ClusterOptions, 'port' | 'basePort' | 'nodes' | 'env' | 'redisClusterNodes'> & {
    port: number
    basePort: number
  }
): Promise<Cluster> {
  const databaseUrl = await freshDatabase(t)
  const stateDir = await mkdtemp(join(tmpdir(), 'chat-cluster-test-'))
  const cluster = await startCluster({
    ...opts,
    databaseUrl,
    redisUrl: REDIS_URL,
    stateDir,
    output: 'files',
    env: {
      LOG_LEVEL: 'warn',
      AUTH_RATE_LIMIT: '100000',
      MESSAGE_RATE_LIMIT: '1000000',
      MAX_STREAMS_PER_USER: '1000',
      ...opts.env
    }
  })
  // Registered after freshDatabase's, so it runs first: the nodes let go of the database before it is dropped.
  t.teardown(async () => {
    await cluster.stop()
    if (t.passing()) await rm(stateDir, { recursive: true, force: true })
    else t.comment(`cluster logs kept in ${stateDir}`)
  })
  return cluster
}

export interface Response {
  status: number
  json: Record<string, unknown> & { [key: string]: unknown }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })

/** One JSON request; a network failure is status 0 (so outages can be counted, not thrown). */
export function request(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {})
        }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          let json: Response['json'] = {}
          try {
            json = text ? (JSON.parse(text) as Response['json']) : {}
          } catch {
            json = { raw: text }
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
        res.on('error', () => resolve({ status: 0, json: {} }))
      }
    )
    req.on('error', (err) => resolve({ status: 0, json: { error: err.message } }))
    req.end(payload)
  })
}

export interface User {
  id: string
  username: string
  token: string
}

export async function createUser(base: string, username: string): Promise<User> {
  const password = 'cluster test password'
  const created = await request(base, 'POST', '/users', { username, password })
  if (created.status !== 201) throw new Error(`register ${username}: ${created.status} ${JSON.stringify(created.json)}`)
  return { ...(await login(base, username)), username }
}

export async function login(base: string, username: string): Promise<User> {
  const res = await request(base, 'POST', '/auth/login', { username, password: 'cluster test password' })
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.json)}`)
  const user = res.json.user as { id: string }
  return { id: user.id, username, token: String(res.json.accessToken) }
}

/** A room owned by the first user, joined by the others (one member.joined event each). */
export async function roomWith(base: string, users: User[]): Promise<string> {
  const [owner, ...others] = users
  const room = await request(base, 'POST', '/rooms/create', { name: 'cluster test' }, owner!.token)
  if (room.status !== 201) throw new Error(`create room: ${room.status}`)
  const roomId = String(room.json.id)
  for (const user of others) {
    const joined = await request(base, 'POST', '/rooms/join', { roomId }, user.token)
    if (joined.status !== 200) throw new Error(`join: ${joined.status}`)
  }
  return roomId
}

export async function lastSeq(base: string, roomId: string, token: string): Promise<number> {
  const res = await request(base, 'GET', `/rooms/${roomId}`, undefined, token)
  if (res.status !== 200) throw new Error(`GET room: ${res.status}`)
  return Number(res.json.lastSeq)
}

/** Posts one message; returns its seq (throws on anything but 201). */
export async function post(base: string, roomId: string, user: User, text: string): Promise<number> {
  const res = await request(base, 'POST', '/rooms/message', { roomId, text }, user.token)
  if (res.status !== 201) throw new Error(`post via ${base}: ${res.status} ${JSON.stringify(res.json)}`)
  return Number(res.json.seq)
}

/**
 * Posts in a loop until stopped, cycling through `bases` (and users), a pause between posts. Every answer is
 * recorded, so a test can assert that none failed; `texts` maps each stored seq to its text.
 */
export class Poster {
  readonly statuses: number[] = []
  readonly texts = new Map<number, string>()
  /** Highest seq among the answers received so far. */
  maxSeq = 0
  #stopped = false
  #done: Promise<void>

  constructor(opts: { bases: string[]; roomId: string; users: User[]; pauseMs?: number; label: string }) {
    this.#done = (async () => {
      for (let i = 0; !this.#stopped; i++) {
        const base = opts.bases[i % opts.bases.length]!
        const user = opts.users[i % opts.users.length]!
        const text = `${opts.label} #${i}`
        const res = await request(base, 'POST', '/rooms/message', { roomId: opts.roomId, text }, user.token)
        this.statuses.push(res.status)
        if (res.status === 201) {
          const seq = Number(res.json.seq)
          this.texts.set(seq, text)
          this.maxSeq = Math.max(this.maxSeq, seq)
        }
        await sleep(opts.pauseMs ?? 20)
      }
    })()
  }

  get count(): number {
    return this.statuses.length
  }

  get failures(): number[] {
    return this.statuses.filter((s) => s < 200 || s >= 300)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#done
  }
}

/**
 * Opens `count` streams on `base` that reconnect like EventSource, replaying the room from the start, each closed
 * when the test ends; throws unless every one got a 200.
 */
export async function subscribe(
  t: Test,
  count: number,
  opts: { base: string; roomId: string; users: User[] }
): Promise<SseClient[]> {
  const streams = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      openStream(t, opts.base, opts.roomId, {
        token: opts.users[i % opts.users.length]!.token,
        query: { lastEventId: 0 },
        reconnect: true
      })
    )
  )
  const refused = streams.find((s) => s.status !== 200)
  if (refused) throw new Error(`stream of room ${opts.roomId} via ${opts.base}: status ${refused.status}`)
  return streams
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}

/**
 * The outcome every delivery test asserts: each stream holds seq 1..last exactly once, in order, with the
 * text the poster stored under that seq. One failing stream is reported in full, not thousands of lines.
 */
export function assertExactlyOnce(t: Test, streams: SseClient[], last: number, texts: Map<number, string>): void {
  const expected = range(1, last)
  let bad = 0
  for (const [i, stream] of streams.entries()) {
    const seqs = stream.seqs
    const wrongText = stream.stored.find((e) => texts.has(e.seq) && texts.get(e.seq) !== e.text)
    if (seqs.length !== expected.length || seqs.some((s, k) => s !== expected[k]) || wrongText) {
      if (bad++ === 0) {
        t.same(seqs, expected, `stream ${i}: seq 1..${last} exactly once, in order (${stream.describe()})`)
        t.notOk(wrongText, `stream ${i}: every event carries the text stored under its seq`)
      }
    }
  }
  t.equal(bad, 0, `all ${streams.length} streams got seq 1..${last} exactly once, in order, with the right texts`)
}

/** A Prometheus sample from one node's /metrics, summed over the label sets that contain `labels`. */
export async function metric(nodeUrl: string, name: string, labels = ''): Promise<number> {
  const res = await new Promise<string>((resolve, reject) => {
    http
      .get(`${nodeUrl}/metrics`, { agent: false }, (r) => {
        let text = ''
        r.setEncoding('utf8')
        r.on('data', (c: string) => (text += c))
        r.on('end', () => resolve(text))
      })
      .on('error', reject)
  })
  let total = 0
  for (const line of res.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue
    if (line.slice(0, line.lastIndexOf(' ')).includes(labels)) total += Number(line.split(' ').at(-1))
  }
  return total
}
