// Where "who is typing where" lives: an expiry per (room, user) and when it was last fanned out, with the author's
// User so whoever sees it lapse can say `typing: false` for them. With Redis the state is the cluster's, in two
// keys every node reads: the sorted set of expiries and a hash of the last fan-out and author. Every node sweeps
// the lapsed entries each second, and removing an entry is atomic (one script), so exactly one node announces each
// lapse, whichever nodes are alive: a typer's node that dies leaves its entries to the others. Without Redis the
// same state is a map of this node's. Typing is never stored in PostgreSQL.
import type { Redis } from 'ioredis'
import type { User } from '@chat/contracts'

/** A typing entry that lapsed: its room and author. */
export interface Lapsed {
  roomId: string
  user: User
}

export interface TypingStore {
  /** Typing until now + ttlMs; true when it is to be fanned out (new, or last fanned out repeatMs ago or more). */
  start(roomId: string, user: User, now: number, ttlMs: number, repeatMs: number): Promise<boolean>
  /** Not typing any more; true when it was. */
  stop(roomId: string, userId: string): Promise<boolean>
  /** Takes up to `limit` entries lapsed by `now`. */
  sweep(now: number, limit: number): Promise<Lapsed[]>
}

const member = (roomId: string, userId: string) => `${roomId}:${userId}`

/** One node's typing, in a map. */
export class MemoryTypingStore implements TypingStore {
  readonly #entries = new Map<string, { until: number; sentAt: number; roomId: string; user: User }>()

  async start(roomId: string, user: User, now: number, ttlMs: number, repeatMs: number): Promise<boolean> {
    const key = member(roomId, user.id)
    const entry = this.#entries.get(key)
    if (entry && now - entry.sentAt < repeatMs) {
      entry.until = now + ttlMs
      return false
    }
    this.#entries.set(key, { until: now + ttlMs, sentAt: now, roomId, user })
    return true
  }

  async stop(roomId: string, userId: string): Promise<boolean> {
    return this.#entries.delete(member(roomId, userId))
  }

  async sweep(now: number, limit: number): Promise<Lapsed[]> {
    const lapsed: Lapsed[] = []
    for (const [key, entry] of this.#entries) {
      if (lapsed.length >= limit) break
      if (entry.until > now) continue
      this.#entries.delete(key)
      lapsed.push({ roomId: entry.roomId, user: entry.user })
    }
    return lapsed
  }
}

// One hash slot for both keys (the braces), so the scripts also run on a Redis Cluster.
const UNTIL = '{typing}:until'
const INFO = '{typing}:info'

// KEYS: until, info. ARGV: member, now, ttl, repeat window, the author's JSON. The expiry always moves; the
// fan-out is skipped when the last one is younger than the window.
const START = `
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then
  local sent = tonumber(string.match(prev, '^(%d+)|'))
  if sent and tonumber(ARGV[2]) - sent < tonumber(ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[5])
return 1`

const STOP = `
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])`

// ARGV: now, limit. Returns member, info, member, info, … of the entries it removed.
const SWEEP = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local info = redis.call('HGET', KEYS[2], m)
  redis.call('HDEL', KEYS[2], m)
  if info then
    out[#out + 1] = m
    out[#out + 1] = info
  end
end
return out`

/** The cluster's typing, in Redis. */
export class RedisTypingStore implements TypingStore {
  readonly #redis: Redis
  readonly #until: string
  readonly #info: string

  /** `prefix`: the deployment's (REDIS_PREFIX). */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis
    this.#until = prefix + UNTIL
    this.#info = prefix + INFO
  }

  async start(roomId: string, user: User, now: number, ttlMs: number, repeatMs: number): Promise<boolean> {
    const args = [member(roomId, user.id), now, ttlMs, repeatMs, JSON.stringify(user)]
    return (await this.#redis.eval(START, 2, this.#until, this.#info, ...args)) === 1
  }

  async stop(roomId: string, userId: string): Promise<boolean> {
    return (await this.#redis.eval(STOP, 2, this.#until, this.#info, member(roomId, userId))) === 1
  }

  async sweep(now: number, limit: number): Promise<Lapsed[]> {
    const flat = (await this.#redis.eval(SWEEP, 2, this.#until, this.#info, now, limit)) as string[]
    const lapsed: Lapsed[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const info = flat[i + 1]!
      const roomId = flat[i]!.slice(0, flat[i]!.indexOf(':'))
      lapsed.push({ roomId, user: JSON.parse(info.slice(info.indexOf('|') + 1)) as User })
    }
    return lapsed
  }
}
