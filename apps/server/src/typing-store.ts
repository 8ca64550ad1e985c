// Where "who is typing where" lives: an expiry per (room, user) and when it was last fanned out, with the author's
// User so whoever sees it lapse can say `typing: false` for them. With Redis the state is the cluster's, in two
// keys every node reads: the sorted set of expiries and a hash of the last fan-out and author. Every node sweeps
// the lapsed entries each second, and removing an entry is atomic (one script), so exactly one node announces each
// lapse, whichever nodes are alive: a typer's node that dies leaves its entries to the others. Without Redis the
// same state is a map of this node's. Typing is never stored in PostgreSQL.
//
// A room shows at most `maxPerRoom` typists at once: a start beyond that is not recorded and not fanned out (the
// typer's client sends it again within a second or two and gets in once someone stops), so a room where a
// thousand people type costs the fan-out of a few typists, not of a thousand, and messages do not wait behind it.
import type { User } from '@chat/contracts'
import type { RedisClient } from './plugins/redis.ts'

/** A typing entry that lapsed: its room and author. */
export interface Lapsed {
  roomId: string
  user: User
}

/** How long a typing lasts, how soon a repeat is fanned out again, how many typists a room shows. */
export interface TypingLimits {
  ttlMs: number
  repeatMs: number
  maxPerRoom: number
}

export interface TypingStore {
  /**
   * Typing until now + ttlMs; true when it is to be fanned out (new, or last fanned out repeatMs ago or more).
   * A new typist in a room that shows maxPerRoom already is not recorded: false.
   */
  start(roomId: string, user: User, now: number, limits: TypingLimits): Promise<boolean>
  /** Not typing any more; true when it was. */
  stop(roomId: string, userId: string): Promise<boolean>
  /** Several stops at once (a turn's posts); true at each index where that author was typing there. */
  stopMany(entries: readonly { roomId: string; userId: string }[]): Promise<boolean[]>
  /** Takes up to `limit` entries lapsed by `now`. */
  sweep(now: number, limit: number): Promise<Lapsed[]>
}

const member = (roomId: string, userId: string) => `${roomId}:${userId}`

/** One node's typing, in a map. */
export class MemoryTypingStore implements TypingStore {
  readonly #entries = new Map<string, { until: number; sentAt: number; roomId: string; user: User }>()
  /** Typists per room, for the cap. */
  readonly #shown = new Map<string, number>()

  async start(roomId: string, user: User, now: number, { ttlMs, repeatMs, maxPerRoom }: TypingLimits) {
    const key = member(roomId, user.id)
    const entry = this.#entries.get(key)
    if (entry) {
      entry.until = now + ttlMs
      if (now - entry.sentAt < repeatMs) return false
      entry.sentAt = now
      return true
    }
    const shown = this.#shown.get(roomId) ?? 0
    if (shown >= maxPerRoom) return false
    this.#shown.set(roomId, shown + 1)
    this.#entries.set(key, { until: now + ttlMs, sentAt: now, roomId, user })
    return true
  }

  async stop(roomId: string, userId: string): Promise<boolean> {
    return this.#remove(member(roomId, userId), roomId)
  }

  async stopMany(entries: readonly { roomId: string; userId: string }[]): Promise<boolean[]> {
    return entries.map(({ roomId, userId }) => this.#remove(member(roomId, userId), roomId))
  }

  #remove(key: string, roomId: string): boolean {
    if (!this.#entries.delete(key)) return false
    const shown = (this.#shown.get(roomId) ?? 1) - 1
    if (shown > 0) this.#shown.set(roomId, shown)
    else this.#shown.delete(roomId)
    return true
  }

  async sweep(now: number, limit: number): Promise<Lapsed[]> {
    const lapsed: Lapsed[] = []
    for (const [key, entry] of this.#entries) {
      if (lapsed.length >= limit) break
      if (entry.until > now) continue
      this.#remove(key, entry.roomId)
      lapsed.push({ roomId: entry.roomId, user: entry.user })
    }
    return lapsed
  }
}

// One hash slot for every key (the braces), so the scripts also run on a Redis Cluster: the expiries, the last
// fan-out and author of each entry, and per room the set of its typists (`{typing}:room:<roomId>`), which
// lapses by itself should it ever be left behind.
const UNTIL = '{typing}:until'
const INFO = '{typing}:info'
const ROOM = '{typing}:room:'

// KEYS: until, info, the room's typists. ARGV: member, now, ttl, repeat window, the author's JSON, the cap, the
// user. The expiry of a known entry always moves; its fan-out is skipped when the last one is younger than the
// window. A new entry needs room under the cap.
const START = `
local now = tonumber(ARGV[2])
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[7])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]) * 2)
  local sent = tonumber(string.match(prev, '^(%d+)|'))
  if sent and now - sent < tonumber(ARGV[4]) then return 0 end
else
  if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[6]) then return 0 end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[7])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]) * 2)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[5])
return 1`

const STOP = `
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[2])
return redis.call('ZREM', KEYS[1], ARGV[1])`

// KEYS: until, info. ARGV: the prefix of the rooms' sets, then room, user, room, user, … Returns 1 or 0 per pair.
const STOP_MANY = `
local out = {}
for i = 2, #ARGV, 2 do
  local m = ARGV[i] .. ':' .. ARGV[i + 1]
  redis.call('HDEL', KEYS[2], m)
  redis.call('SREM', ARGV[1] .. ARGV[i], ARGV[i + 1])
  out[#out + 1] = redis.call('ZREM', KEYS[1], m)
end
return out`

// ARGV: now, limit, the prefix of the rooms' sets. Returns member, info, member, info, … of the entries it removed.
const SWEEP = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, ':', 1, true)
  redis.call('SREM', ARGV[3] .. string.sub(m, 1, sep - 1), string.sub(m, sep + 1))
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
  readonly #redis: RedisClient
  readonly #until: string
  readonly #info: string
  readonly #room: string

  /** `prefix`: the deployment's (REDIS_PREFIX). */
  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#until = prefix + UNTIL
    this.#info = prefix + INFO
    this.#room = prefix + ROOM
  }

  async start(roomId: string, user: User, now: number, { ttlMs, repeatMs, maxPerRoom }: TypingLimits) {
    const keys = [this.#until, this.#info, this.#room + roomId]
    const args = [member(roomId, user.id), now, ttlMs, repeatMs, JSON.stringify(user), maxPerRoom, user.id]
    return (await this.#redis.eval(START, 3, ...keys, ...args)) === 1
  }

  async stop(roomId: string, userId: string): Promise<boolean> {
    const keys = [this.#until, this.#info, this.#room + roomId]
    return (await this.#redis.eval(STOP, 3, ...keys, member(roomId, userId), userId)) === 1
  }

  async stopMany(entries: readonly { roomId: string; userId: string }[]): Promise<boolean[]> {
    if (entries.length === 0) return []
    const pairs = entries.flatMap(({ roomId, userId }) => [roomId, userId])
    const removed = (await this.#redis.eval(STOP_MANY, 2, this.#until, this.#info, this.#room, ...pairs)) as number[]
    return removed.map((r) => r === 1)
  }

  async sweep(now: number, limit: number): Promise<Lapsed[]> {
    const flat = (await this.#redis.eval(SWEEP, 2, this.#until, this.#info, now, limit, this.#room)) as string[]
    const lapsed: Lapsed[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const info = flat[i + 1]!
      const roomId = flat[i]!.slice(0, flat[i]!.indexOf(':'))
      lapsed.push({ roomId, user: JSON.parse(info.slice(info.indexOf('|') + 1)) as User })
    }
    return lapsed
  }
}
